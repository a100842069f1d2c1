#include "ipam/allocator.h"

#include <algorithm>

namespace podnet::ipam {

namespace {

// Each attempt costs one transaction; a lost race means another allocator made progress, so a
// few attempts suffice even with dozens of concurrent allocators thanks to the spread in pick().
constexpr int kMaxAttempts = 16;

std::string poolPrefix(const Pool& pool) {
  return reservationPrefix(pool.config().name);
}

}  // namespace

std::string reservationPrefix(const std::string& poolName) {
  return "/podnet/ipam/" + poolName + "/";
}

std::string reservationKey(const Pool& pool, Ipv4 ip) {
  return poolPrefix(pool) + ip.str();
}

Status releaseReservation(store::Store& store, const std::string& poolName, Ipv4 ip,
                          const std::string& owner, const std::vector<store::Op>& alsoOps) {
  std::string key = reservationPrefix(poolName) + ip.str();
  std::vector<store::Op> ops{store::Op::del(key)};
  ops.insert(ops.end(), alsoOps.begin(), alsoOps.end());
  auto txn = store.txn({store::Compare::valueIs(key, owner)}, ops, alsoOps);
  if (!txn) return txn.error().context("pool " + poolName + ": release " + ip.str());
  return okStatus();
}

struct Allocator::Held {
  std::vector<std::pair<Ipv4, std::string>> owners;  // sorted by ip
  uint64_t usable = 0;                               // how many held addresses are usable
  std::optional<Ipv4> newest;                        // the most recently reserved address
  int64_t newestRevision = 0;

  bool contains(Ipv4 ip) const {
    return std::binary_search(owners.begin(), owners.end(), std::pair<Ipv4, std::string>{ip, ""},
                              [](const auto& a, const auto& b) { return a.first < b.first; });
  }
};

Allocator::Allocator(store::Store& store, Pool pool)
    : store_(store),
      pool_(std::move(pool)),
      prefix_(poolPrefix(pool_)),
      rng_(std::random_device{}()) {}

Result<Allocator::Held> Allocator::readHeld() {
  auto listed = store_.list(prefix_);
  if (!listed) return listed.error().context("pool " + pool_.config().name);
  Held held;
  for (store::KeyValue& kv : *listed) {
    auto ip = Ipv4::parse(std::string_view(kv.key).substr(prefix_.size()));
    if (!ip) continue;  // not a reservation
    held.owners.emplace_back(*ip, std::move(kv.value));
    if (pool_.usable(*ip)) ++held.usable;
    if (kv.createRevision > held.newestRevision) {
      held.newest = *ip;
      held.newestRevision = kv.createRevision;
    }
  }
  // Keys sort as text ("10.0.0.10" < "10.0.0.9"); lookups need numeric order.
  std::sort(held.owners.begin(), held.owners.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return held;
}

std::optional<Ipv4> Allocator::pick(const Held& held, int attempt) {
  uint64_t free = pool_.capacity() - std::min(held.usable, pool_.capacity());
  if (free == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (held.newestRevision > cursorRevision_) {
    cursor_ = held.newest;
    cursorRevision_ = held.newestRevision;
  }
  // After a lost race, skip a random number of free addresses (growing with each attempt) so
  // allocators that read the same state stop choosing the same next address.
  uint64_t skip = 0;
  if (attempt > 0) {
    skip = std::uniform_int_distribution<uint64_t>(
               0, (uint64_t{1} << std::min(attempt, 10)) - 1)(rng_) %
           free;
  }
  const Ipv4Prefix& cidr = pool_.config().cidr;
  uint32_t hostMask = ~cidr.mask();
  uint32_t network = cidr.network().value;
  uint32_t start = cursor_ ? (cursor_->value + 1 - network) & hostMask : 0;
  for (uint64_t i = 0; i < cidr.size(); ++i) {
    Ipv4 candidate{network | ((start + static_cast<uint32_t>(i)) & hostMask)};
    if (!pool_.usable(candidate) || held.contains(candidate)) continue;
    if (skip-- > 0) continue;
    // Advance now, not after the commit: concurrent callers of this allocator then pick
    // different addresses instead of racing for the same one.
    cursor_ = candidate;
    return candidate;
  }
  return std::nullopt;
}

Error Allocator::exhausted(const Held& held) const {
  return makeError(Errc::kExhausted, "pool " + pool_.config().name + " (" +
                                         pool_.config().cidr.str() + "): no free address (" +
                                         std::to_string(held.usable) + " in use)");
}

Result<Ipv4> Allocator::allocate(const std::string& owner,
                                 const std::vector<store::Compare>& alsoCompares,
                                 const std::function<std::vector<store::Op>(Ipv4)>& alsoOps) {
  const std::string& name = pool_.config().name;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    auto held = PODNET_TRY(readHeld());
    std::optional<Ipv4> ip = pick(held, attempt);
    if (!ip) return exhausted(held);

    std::string key = reservationKey(pool_, *ip);
    std::vector<store::Compare> compares = alsoCompares;
    compares.push_back(store::Compare::absent(key));
    std::vector<store::Op> ops{store::Op::put(key, owner)};
    for (store::Op& op : alsoOps(*ip)) ops.push_back(std::move(op));
    auto txn = store_.txn(compares, ops);
    if (!txn) return txn.error().context("pool " + name + ": reserve " + ip->str());
    if (txn->succeeded) {
      std::lock_guard lock(mutex_);
      cursorRevision_ = std::max(cursorRevision_, txn->revision);
      return *ip;
    }
    // The transaction does not say which compare failed: check the caller's alone (a read-only
    // transaction, no commit cost). If they hold, the address was taken concurrently: retry.
    if (!alsoCompares.empty()) {
      auto check = store_.txn(alsoCompares, {});
      if (!check) return check.error().context("pool " + name + ": check preconditions");
      if (!check->succeeded) return makeError(Errc::kAlreadyExists, "precondition failed");
    }
  }
  return makeError(Errc::kConflict, "pool " + name + ": every candidate address was taken by " +
                                        "concurrent allocations (" + std::to_string(kMaxAttempts) +
                                        " attempts); retry");
}

Status Allocator::release(Ipv4 ip, const std::string& owner,
                          const std::vector<store::Op>& alsoOps) {
  return releaseReservation(store_, pool_.config().name, ip, owner, alsoOps);
}

Result<std::vector<std::pair<Ipv4, std::string>>> Allocator::reservations() {
  auto held = PODNET_TRY(readHeld());
  return std::move(held.owners);
}

}  // namespace podnet::ipam
