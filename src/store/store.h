// The store: one key/value interface with etcd's semantics (revisions, compare-and-swap
// transactions), so the embedded backend and the etcd backend are interchangeable.
#pragma once

#include <cstdint>
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

  static Op put(std::string key, std::string value) {
    return {Kind::kPut, std::move(key), std::move(value)};
  }
  static Op del(std::string key) { return {Kind::kDelete, std::move(key), {}}; }
};

struct TxnResult {
  bool succeeded = false;  // every compare held, so onSuccess ran; else onFailure ran
  int64_t revision = 0;    // the store's revision after the transaction
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::optional<KeyValue>> get(const std::string& key) = 0;
  // Every key that starts with prefix, sorted by key.
  virtual Result<std::vector<KeyValue>> list(const std::string& prefix) = 0;
  // Atomically: if every compare holds, apply onSuccess, else apply onFailure. A transaction
  // that writes anything bumps the revision by one; each written key gets that revision.
  virtual Result<TxnResult> txn(const std::vector<Compare>& compares,
                                const std::vector<Op>& onSuccess,
                                const std::vector<Op>& onFailure = {}) = 0;
  virtual Result<int64_t> revision() = 0;
};

}  // namespace podnet::store
