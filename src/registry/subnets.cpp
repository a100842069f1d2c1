#include "registry/subnets.h"

#include <algorithm>
#include <map>
#include <optional>

#include "ipam/allocator.h"
#include "ipam/pool.h"

namespace podnet::registry {
namespace {

// Lost races are retried this many times; each retry reads everything again.
constexpr int kAttempts = 8;

struct StoredSubnet {
  model::Subnet subnet;
  int64_t modRevision = 0;
};

Result<std::vector<StoredSubnet>> readSubnets(store::Store& store) {
  auto kvs = PODNET_TRY(store.list(model::Subnet::kPrefix));
  std::vector<StoredSubnet> out;
  for (const auto& kv : kvs) {
    auto j = nlohmann::json::parse(kv.value, nullptr, false);
    if (j.is_discarded()) {
      return makeError(Errc::kDecode, "store key " + kv.key + ": not JSON");
    }
    auto subnet = model::subnetFromJson(j);
    if (!subnet) return subnet.error().context("store key " + kv.key);
    // A subnet written without its gateway (by another writer) means the default one: compare
    // and show it as such, so re-applying the same file is "unchanged", not a gateway change.
    if (!subnet->gateway) {
      if (auto pool = ipam::Pool::create(model::toPoolConfig(*subnet))) {
        subnet->gateway = pool->gateway();
      }
    }
    out.push_back({std::move(*subnet), kv.modRevision});
  }
  return out;
}

struct Reservation {
  Ipv4 ip;
  std::string owner;
};

// The reservations under prefix; keys whose last segment is not an address are not the
// allocator's and are skipped.
std::vector<Reservation> reservationsOf(const std::vector<store::KeyValue>& kvs,
                                        const std::string& prefix) {
  std::vector<Reservation> out;
  for (const auto& kv : kvs) {
    if (kv.key.rfind(prefix, 0) != 0) continue;
    auto ip = Ipv4::parse(std::string_view(kv.key).substr(prefix.size()));
    if (ip) out.push_back({*ip, kv.value});
  }
  return out;
}

std::string addresses(size_t n) {
  return std::to_string(n) + (n == 1 ? " address" : " addresses");
}

// Why a reserved address would not be usable in pool, naming the field that makes it so.
Error unusable(const std::string& who, const model::Subnet& subnet, const ipam::Pool& pool,
               const Reservation& r) {
  const std::string held = r.ip.str() + ", which is in use by " + r.owner;
  for (size_t i = 0; i < subnet.excludeIps.size(); ++i) {
    if (subnet.excludeIps[i].contains(r.ip)) {
      return makeError(Errc::kInvalidArgument, who + ": spec.excludeIps[" + std::to_string(i) +
                                                   "]: " + subnet.excludeIps[i].str() + " covers " +
                                                   held + " (remove that pod first)");
    }
  }
  if (r.ip == pool.gateway()) {
    return makeError(Errc::kInvalidArgument,
                     who + ": spec.gateway: " + held + " (remove that pod first)");
  }
  return makeError(Errc::kInvalidArgument, who + ": spec.cidrBlock: " + subnet.cidrBlock.str() +
                                               " would not hold " + held +
                                               " (remove that pod first)");
}

std::vector<store::Compare> unchangedSince(const std::vector<StoredSubnet>& subnets,
                                           const std::optional<store::KeyValue>& version) {
  std::vector<store::Compare> compares;
  for (const auto& s : subnets) {
    compares.push_back(store::Compare::modRevisionIs(s.subnet.key(), s.modRevision));
  }
  compares.push_back(
      store::Compare::modRevisionIs(kSubnetsVersionKey, version ? version->modRevision : 0));
  return compares;
}

store::Op bumpVersion(const std::optional<store::KeyValue>& version) {
  int64_t n = 0;
  if (version) n = std::strtoll(version->value.c_str(), nullptr, 10);
  return store::Op::put(kSubnetsVersionKey, std::to_string(n + 1));
}

Error lostRaces(const std::string& who) {
  return makeError(Errc::kConflict,
                   who + ": the subnets kept changing while this change was checked; try again");
}

}  // namespace

const char* actionName(ApplyAction action) {
  switch (action) {
    case ApplyAction::kCreated:
      return "created";
    case ApplyAction::kConfigured:
      return "configured";
    case ApplyAction::kUnchanged:
      return "unchanged";
  }
  return "unknown";
}

Result<ApplyAction> applySubnet(store::Store& store, const model::Subnet& input, ApplyMode mode) {
  PODNET_TRY_STATUS(model::validate(input));
  const std::string who = "Subnet " + input.name;
  auto pool = ipam::Pool::create(model::toPoolConfig(input));
  if (!pool) return pool.error().context(who);
  model::Subnet subnet = input;
  subnet.gateway = pool->gateway();

  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    // The version first: a write that lands after it and before the transaction changes it, so
    // the subnets read below can be stale only if the transaction then fails.
    auto version = PODNET_TRY(store.get(kSubnetsVersionKey));
    auto stored = PODNET_TRY(readSubnets(store));
    std::optional<model::Subnet> existing;
    std::vector<model::Subnet> others;
    for (const auto& s : stored) {
      if (s.subnet.name == subnet.name) {
        existing = s.subnet;
      } else {
        others.push_back(s.subnet);
      }
    }
    if (existing && (*existing == subnet || mode == ApplyMode::kCreateOnly)) {
      return ApplyAction::kUnchanged;
    }
    PODNET_TRY_STATUS(model::validateAgainst(subnet, others));

    auto kvs = PODNET_TRY(store.list(ipam::reservationPrefix(subnet.name)));
    auto reserved = reservationsOf(kvs, ipam::reservationPrefix(subnet.name));
    if (existing && !reserved.empty()) {
      const std::string busy = " while " + addresses(reserved.size()) + " of the subnet " +
                               (reserved.size() == 1 ? "is" : "are") +
                               " in use (remove the pods that hold them first)";
      if (existing->cidrBlock != subnet.cidrBlock) {
        return makeError(Errc::kInvalidArgument, who + ": spec.cidrBlock: cannot change " +
                                                     existing->cidrBlock.str() + " to " +
                                                     subnet.cidrBlock.str() + busy);
      }
      if (existing->gateway != subnet.gateway) {
        return makeError(Errc::kInvalidArgument,
                         who + ": spec.gateway: cannot change " +
                             (existing->gateway ? existing->gateway->str() : "(default)") + " to " +
                             subnet.gateway->str() + busy);
      }
    }
    for (const auto& r : reserved) {
      if (!pool->usable(r.ip)) return unusable(who, subnet, *pool, r);
    }

    auto compares = unchangedSince(stored, version);
    if (!existing) compares.push_back(store::Compare::absent(subnet.key()));
    auto txn =
        PODNET_TRY(store.txn(compares, {store::Op::put(subnet.key(), model::toJson(subnet).dump()),
                                        bumpVersion(version)}));
    if (txn.succeeded) return existing ? ApplyAction::kConfigured : ApplyAction::kCreated;
  }
  return lostRaces(who);
}

Status deleteSubnet(store::Store& store, const std::string& name) {
  const std::string who = "Subnet " + name;
  const std::string key = model::Subnet::kPrefix + name;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto version = PODNET_TRY(store.get(kSubnetsVersionKey));
    auto kv = PODNET_TRY(store.get(key));
    if (!kv) return makeError(Errc::kNotFound, who + ": not found");
    auto kvs = PODNET_TRY(store.list(ipam::reservationPrefix(name)));
    auto reserved = reservationsOf(kvs, ipam::reservationPrefix(name));
    if (!reserved.empty()) {
      return makeError(Errc::kInvalidArgument,
                       who + ": " + addresses(reserved.size()) + " of the subnet " +
                           (reserved.size() == 1 ? "is" : "are") +
                           " still in use (remove the pods that hold them first)");
    }
    auto txn = PODNET_TRY(store.txn(
        {store::Compare::modRevisionIs(key, kv->modRevision),
         store::Compare::modRevisionIs(kSubnetsVersionKey, version ? version->modRevision : 0)},
        {store::Op::del(key), bumpVersion(version)}));
    if (txn.succeeded) return okStatus();
  }
  return lostRaces(who);
}

Result<std::vector<model::Subnet>> listSubnets(store::Store& store) {
  auto stored = PODNET_TRY(readSubnets(store));
  std::vector<model::Subnet> out;
  for (auto& s : stored) out.push_back(std::move(s.subnet));
  std::sort(out.begin(), out.end(),
            [](const model::Subnet& a, const model::Subnet& b) { return a.name < b.name; });
  return out;
}

Result<std::vector<SubnetUsage>> subnetUsage(store::Store& store) {
  auto subnets = PODNET_TRY(listSubnets(store));
  // One read for every pool: a listing per subnet would cost a round trip each over etcd.
  auto kvs = PODNET_TRY(store.list("/podnet/ipam/"));
  std::vector<SubnetUsage> out;
  for (auto& subnet : subnets) {
    auto pool = ipam::Pool::create(model::toPoolConfig(subnet));
    if (!pool) return pool.error().context("store key " + subnet.key());
    auto reserved = reservationsOf(kvs, ipam::reservationPrefix(subnet.name));
    uint64_t usableHeld = std::count_if(reserved.begin(), reserved.end(),
                                        [&](const Reservation& r) { return pool->usable(r.ip); });
    SubnetUsage usage;
    usage.used = reserved.size();
    usage.free = pool->capacity() - std::min(usableHeld, pool->capacity());
    usage.subnet = std::move(subnet);
    usage.subnet.gateway = pool->gateway();
    out.push_back(std::move(usage));
  }
  return out;
}

nlohmann::json toJson(const SubnetUsage& usage) {
  const model::Subnet& s = usage.subnet;
  nlohmann::json exclude = nlohmann::json::array();
  for (const auto& range : s.excludeIps) exclude.push_back(range.str());
  return {{"name", s.name},
          {"cidrBlock", s.cidrBlock.str()},
          {"gateway", s.gateway ? s.gateway->str() : ""},
          {"namespaces", s.namespaces},
          {"excludeIps", exclude},
          {"used", usage.used},
          {"free", usage.free}};
}

}  // namespace podnet::registry
