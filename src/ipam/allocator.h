// Address allocation: a reservation is the store key "/podnet/ipam/<pool>/<ip>" whose value names
// the owner. Reserving is one compare-and-put transaction, so any number of allocators (threads,
// processes, nodes sharing etcd) can hand out addresses from one pool without a lock.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "ipam/pool.h"
#include "store/store.h"

namespace podnet::ipam {

// "/podnet/ipam/<pool>/<ip>"
std::string reservationKey(const Pool& pool, Ipv4 ip);
// "/podnet/ipam/<pool>/": every reservation of the pool.
std::string reservationPrefix(const std::string& poolName);

// Allocator::release for a pool known only by name (the controller, an attachment whose subnet
// this agent no longer serves): deletes the reservation if owner holds it, and applies alsoOps
// in the same transaction either way.
Status releaseReservation(store::Store&, const std::string& poolName, Ipv4 ip,
                          const std::string& owner, const std::vector<store::Op>& alsoOps = {});

class Allocator {
 public:
  Allocator(store::Store& store, Pool pool);

  // Reserves a free usable address for owner (an opaque string such as "net/cid/eth0") in one
  // store transaction together with alsoCompares and the ops alsoOps(ip) returns (the caller's
  // attachment record). Addresses go round-robin from just past the last one handed out, so a
  // just-released address is not reused at once. Errors: kAlreadyExists "precondition failed"
  // when one of alsoCompares fails (nothing written); kExhausted when no address is free;
  // kConflict when concurrent allocators kept winning every candidate.
  Result<Ipv4> allocate(const std::string& owner, const std::vector<store::Compare>& alsoCompares,
                        const std::function<std::vector<store::Op>(Ipv4)>& alsoOps);

  // Releases ip if and only if owner holds it, and applies alsoOps in the same transaction either
  // way, so the caller's record goes even when the reservation is already gone or was taken over.
  // A missing reservation is success.
  Status release(Ipv4 ip, const std::string& owner, const std::vector<store::Op>& alsoOps = {});

  // This pool's reservations, (ip, owner) sorted by ip.
  Result<std::vector<std::pair<Ipv4, std::string>>> reservations();

  const Pool& pool() const { return pool_; }

 private:
  struct Held;  // the pool's reservations as read from the store
  Result<Held> readHeld();
  // Chooses the next candidate and advances the cursor; nullopt when the pool is full.
  std::optional<Ipv4> pick(const Held& held, int attempt);
  Error exhausted(const Held& held) const;

  store::Store& store_;
  Pool pool_;
  std::string prefix_;  // "/podnet/ipam/<pool>/"

  std::mutex mutex_;  // guards the cursor and rng_
  // The last address handed out, and the store revision that is known to be at least as new.
  // A reservation created at a later revision (by another allocator) moves the cursor to it.
  // Kept in memory, not in the store (no extra write per allocation): after a restart the cursor
  // resumes from the newest reservation, so an address released just before may come first.
  std::optional<Ipv4> cursor_;
  int64_t cursorRevision_ = 0;
  std::minstd_rand rng_;
};

}  // namespace podnet::ipam
