// SqliteStore: the embedded default store. One local database file, crash-safe, for a single
// node; the same revision and transaction semantics as etcd, so code written against Store runs
// unchanged on either backend.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "store/store.h"
#include "store/watch_hub.h"

struct sqlite3;
struct sqlite3_stmt;

namespace podnet::store {

// RAII owners of SQLite handles: move-only, closed/finalized on destruction.
struct SqliteCloser {
  void operator()(sqlite3* db) const;
};
struct SqliteFinalizer {
  void operator()(sqlite3_stmt* stmt) const;
};
using SqliteDb = std::unique_ptr<sqlite3, SqliteCloser>;
using SqliteStatement = std::unique_ptr<sqlite3_stmt, SqliteFinalizer>;

// A fresh file is at revision 0; the first write is revision 1.
//
// Watches are served in process: txn() publishes each write to the watches of this object, which
// keeps the last kWatchHistory events so a watch can start from an earlier revision. A watch from
// before that history (or from before this object was opened) gets kConflict, as etcd does after
// a compaction. Writes by another connection to the same file are not seen as events: the next
// write through this object notices the gap and ends every watch with kConflict.
//
// Leases are kUnsupported: the embedded store serves a single node, so there is no other member
// whose registration could expire; use the etcd backend for several nodes.
class SqliteStore final : public Store {
 public:
  static constexpr size_t kWatchHistory = 1000;

  // Creates the file and its missing parent directories (0700). Several processes may open the
  // same file; within one process the store is thread-safe (one connection behind a mutex).
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);

  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<std::vector<KeyValue>> list(const std::string& prefix) override;
  Result<Listing> listWithRevision(const std::string& prefix) override;
  Result<TxnResult> txn(const std::vector<Compare>& compares, const std::vector<Op>& onSuccess,
                        const std::vector<Op>& onFailure = {}) override;
  Result<int64_t> revision() override;
  Result<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t afterRevision,
                                       std::function<void(const std::vector<WatchEvent>&)> onEvents,
                                       std::function<void(const Error&)> onError) override;
  Result<int64_t> grantLease(std::chrono::seconds ttl) override;
  Status keepAlive(int64_t lease) override;
  Status revokeLease(int64_t lease) override;

 private:
  explicit SqliteStore(std::string path) : path_(std::move(path)) {}

  Status init();
  Result<SqliteStatement> prepare(const char* sql);
  Status exec(const char* sql);
  Error sqlError(const std::string& what) const;
  Status stepDone(sqlite3_stmt* stmt, const char* what);
  Result<std::optional<KeyValue>> readKey(const std::string& key);
  Result<std::vector<KeyValue>> readPrefix(const std::string& prefix);
  Result<int64_t> readRevision();
  Result<bool> holds(const Compare& compare);
  // Applies ops inside the open transaction; returns what was written.
  Result<std::vector<WatchEvent>> apply(const std::vector<Op>& ops, int64_t revision);
  Error leasesUnsupported() const;

  std::string path_;
  std::mutex mutex_;
  SqliteDb db_;  // declared before the statements, so they are finalized first
  SqliteStatement begin_, commit_, rollback_;
  SqliteStatement get_, listRange_, listFrom_;
  SqliteStatement put_, delete_, readRevision_, writeRevision_;
  std::shared_ptr<WatchHub> hub_;  // shared with the watches, which may outlive this object
};

}  // namespace podnet::store
