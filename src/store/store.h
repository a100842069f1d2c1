// The store: one key/value interface with etcd's semantics (revisions, compare-and-swap
// transactions), so the embedded backend and the etcd backend are interchangeable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"

namespace podnet::store {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t createRevision = 0;  // revision of the transaction that created the key
  int64_t modRevision = 0;     // revision of the transaction that last wrote the key
};

// A condition of a transaction. A missing key has createRevision == modRevision == 0.
struct Compare {
  enum class Target { kCreateRevision, kModRevision, kValue };
  std::string key;
  Target target = Target::kCreateRevision;
  int64_t revision = 0;  // for the revision targets: must be equal
  std::string value;     // for kValue: must be equal (a missing key never equals)

  static Compare absent(std::string key) {
    return {std::move(key), Target::kCreateRevision, 0, {}};
  }
  static Compare modRevisionIs(std::string key, int64_t rev) {
    return {std::move(key), Target::kModRevision, rev, {}};
  }
  static Compare valueIs(std::string key, std::string value) {
    return {std::move(key), Target::kValue, 0, std::move(value)};
  }
};

struct Op {
  enum class Kind { kPut, kDelete };
  Kind kind = Kind::kPut;
  std::string key;
  std::string value;
  int64_t lease = 0;  // for kPut: the key is deleted when this lease expires; 0 = no lease

  static Op put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease};
  }
  static Op del(std::string key) { return {Kind::kDelete, std::move(key), {}, 0}; }
};

// A prefix's keys together with the revision they were read at.
struct Listing {
  std::vector<KeyValue> kvs;  // sorted by key
  int64_t revision = 0;
};

struct TxnResult {
  bool succeeded = false;  // every compare held, so onSuccess ran; else onFailure ran
  int64_t revision = 0;    // the store's revision after the transaction
};

// One change seen by a watch. For kDelete, kv.key and kv.modRevision (the revision of the
// deletion) are set, the rest is empty.
struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;
};

// A running watch: it delivers until it is destroyed. The destructor waits for a callback in
// progress to return, so it must not run inside the watch's own callback.
class Watch {
 public:
  virtual ~Watch() = default;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::optional<KeyValue>> get(const std::string& key) = 0;
  // Every key that starts with prefix, sorted by key.
  virtual Result<std::vector<KeyValue>> list(const std::string& prefix) = 0;
  // The same, with the store's revision at the moment of the read: watch(prefix, revision) from
  // there continues the listing with nothing missed and nothing repeated.
  virtual Result<Listing> listWithRevision(const std::string& prefix) = 0;
  // Atomically: if every compare holds, apply onSuccess, else apply onFailure. A transaction
  // that writes anything bumps the revision by one; each written key gets that revision.
  virtual Result<TxnResult> txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& onSuccess,
                                const std::vector<Op>& onFailure = {}) = 0;
  virtual Result<int64_t> revision() = 0;

  // Delivers, in revision order, every change to keys under prefix with a revision greater than
  // afterRevision, then keeps following until the Watch is destroyed. The callbacks run on a
  // thread of the watch, one at a time; a batch never splits one transaction. If the backend can
  // no longer deliver from afterRevision (its history was compacted), onError gets
  // Errc::kConflict and the watch stops: listWithRevision() again and watch from its revision.
  // A lost connection is not an error: the watch reconnects by itself and resumes after the last
  // delivered revision, so no event is lost or repeated.
  virtual Result<std::unique_ptr<Watch>> watch(
      const std::string& prefix, int64_t afterRevision,
      std::function<void(const std::vector<WatchEvent>&)> onEvents,
      std::function<void(const Error&)> onError) = 0;

  // Leases: keys put with Op::put(key, value, lease) are deleted (a delete event) when the lease
  // expires, ttl after it was granted or last kept alive, or when it is revoked.
  virtual Result<int64_t> grantLease(std::chrono::seconds ttl) = 0;
  // One refresh: the lease lives ttl from now. kNotFound when it has already expired.
  virtual Status keepAlive(int64_t lease) = 0;
  virtual Status revokeLease(int64_t lease) = 0;
};

}  // namespace podnet::store
