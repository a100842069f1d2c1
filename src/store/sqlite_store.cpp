#include "store/sqlite_store.h"

#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "store/key_range.h"

namespace podnet::store {

namespace {

constexpr int kSchemaVersion = 1;
constexpr int kBusyTimeoutMs = 5000;

// Resets a cached statement and drops its bindings when a call is done with it, so the next
// call starts clean and no binding points at a string that no longer exists.
class StatementUse {
 public:
  explicit StatementUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

void bindText(sqlite3_stmt* stmt, int index, const std::string& text) {
  sqlite3_bind_text(stmt, index, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}

std::string columnText(sqlite3_stmt* stmt, int column) {
  const auto* data = static_cast<const char*>(sqlite3_column_blob(stmt, column));
  return std::string(data ? data : "", static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
}

KeyValue readRow(sqlite3_stmt* stmt) {
  return KeyValue{columnText(stmt, 0), columnText(stmt, 1), sqlite3_column_int64(stmt, 2),
                  sqlite3_column_int64(stmt, 3)};
}

Status createParentDirectories(const std::string& path) {
  std::filesystem::path dir;
  for (const auto& part : std::filesystem::path(path).parent_path()) {
    dir /= part;
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return makeError(Errc::kIo, "store " + path + ": create directory " + dir.string() + ": " +
                                      std::strerror(errno));
    }
  }
  return okStatus();
}

}  // namespace

void SqliteCloser::operator()(sqlite3* db) const {
  sqlite3_close_v2(db);
}

void SqliteFinalizer::operator()(sqlite3_stmt* stmt) const {
  sqlite3_finalize(stmt);
}

Result<std::unique_ptr<SqliteStore>> SqliteStore::open(const std::string& path) {
  PODNET_TRY_STATUS(createParentDirectories(path));
  std::unique_ptr<SqliteStore> store(new SqliteStore(path));
  sqlite3* raw = nullptr;
  // NOMUTEX: SQLite's own locking is redundant, mutex_ serializes every use of the connection.
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  store->db_.reset(raw);
  if (rc != SQLITE_OK) {
    if (!raw) return makeError(Errc::kIo, "store " + path + ": open: out of memory");
    return store->sqlError("open");
  }
  PODNET_TRY_STATUS(store->init());
  return store;
}

Status SqliteStore::init() {
  sqlite3_busy_timeout(db_.get(), kBusyTimeoutMs);
  // WAL: readers do not block the writer and a commit appends to the log instead of rewriting
  // pages. synchronous=NORMAL: a commit is in the OS page cache before it returns, so it survives
  // any crash or SIGKILL of the process, and the file is always consistent. Only a power cut or
  // kernel crash can roll back the last commits, and that also destroys every pod network
  // namespace and veth the records describe: the runtime re-ADDs its pods after the reboot and
  // DEL/GC clears what is stale, so no address is held twice. FULL would add an fsync (about a
  // millisecond here) to every ADD and DEL for no gain in that model; the etcd backend is the
  // durable choice for state that must outlive a node.
  PODNET_TRY_STATUS(exec("PRAGMA journal_mode=WAL"));
  PODNET_TRY_STATUS(exec("PRAGMA synchronous=NORMAL"));

  // Several processes may open a fresh file at once: create the schema under the write lock.
  PODNET_TRY_STATUS(exec("BEGIN IMMEDIATE"));
  auto schema = [&]() -> Status {
    auto version = PODNET_TRY(prepare("PRAGMA user_version"));
    if (sqlite3_step(version.get()) != SQLITE_ROW) return sqlError("read schema version");
    int found = sqlite3_column_int(version.get(), 0);
    if (found > kSchemaVersion) {
      return makeError(Errc::kIncompatibleVersion,
                       "store " + path_ + ": schema version " + std::to_string(found) +
                           " was written by a newer podnet (this one knows version " +
                           std::to_string(kSchemaVersion) + "); upgrade podnet");
    }
    if (found == kSchemaVersion) return okStatus();
    PODNET_TRY_STATUS(
        exec("CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
             " create_rev INTEGER NOT NULL, mod_rev INTEGER NOT NULL) WITHOUT ROWID"));
    PODNET_TRY_STATUS(
        exec("CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID"));
    PODNET_TRY_STATUS(exec("INSERT INTO meta (name, value) VALUES ('revision', 0)"));
    return exec("PRAGMA user_version=1");
  }();
  if (!schema) {
    sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return schema;
  }
  PODNET_TRY_STATUS(exec("COMMIT"));

  begin_ = PODNET_TRY(prepare("BEGIN IMMEDIATE"));
  commit_ = PODNET_TRY(prepare("COMMIT"));
  rollback_ = PODNET_TRY(prepare("ROLLBACK"));
  get_ = PODNET_TRY(prepare("SELECT key, value, create_rev, mod_rev FROM kv WHERE key = ?1"));
  listRange_ = PODNET_TRY(
      prepare("SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 AND key < ?2"
              " ORDER BY key"));
  listFrom_ = PODNET_TRY(
      prepare("SELECT key, value, create_rev, mod_rev FROM kv WHERE key >= ?1 ORDER BY key"));
  put_ = PODNET_TRY(
      prepare("INSERT INTO kv (key, value, create_rev, mod_rev) VALUES (?1, ?2, ?3, ?3)"
              " ON CONFLICT (key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev"
              " RETURNING create_rev"));
  delete_ = PODNET_TRY(prepare("DELETE FROM kv WHERE key = ?1"));
  readRevision_ = PODNET_TRY(prepare("SELECT value FROM meta WHERE name = 'revision'"));
  writeRevision_ = PODNET_TRY(prepare("UPDATE meta SET value = ?1 WHERE name = 'revision'"));
  hub_ = std::make_shared<WatchHub>(path_, PODNET_TRY(readRevision()), kWatchHistory);
  return okStatus();
}

Result<SqliteStatement> SqliteStore::prepare(const char* sql) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr) !=
      SQLITE_OK) {
    return sqlError(std::string("prepare \"") + sql + "\"");
  }
  return SqliteStatement(raw);
}

Status SqliteStore::exec(const char* sql) {
  if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) return sqlError(sql);
  return okStatus();
}

Error SqliteStore::sqlError(const std::string& what) const {
  int code = sqlite3_errcode(db_.get()) & 0xff;
  // Busy/locked: another process holds the write lock beyond busy_timeout; retrying may work.
  Errc errc = code == SQLITE_BUSY || code == SQLITE_LOCKED ? Errc::kUnavailable : Errc::kIo;
  return makeError(errc, "store " + path_ + ": " + what + ": " + sqlite3_errmsg(db_.get()));
}

Status SqliteStore::stepDone(sqlite3_stmt* stmt, const char* what) {
  StatementUse use(stmt);
  if (sqlite3_step(stmt) != SQLITE_DONE) return sqlError(what);
  return okStatus();
}

Result<std::optional<KeyValue>> SqliteStore::readKey(const std::string& key) {
  StatementUse use(get_.get());
  bindText(get_.get(), 1, key);
  int rc = sqlite3_step(get_.get());
  if (rc == SQLITE_ROW) return std::optional<KeyValue>(readRow(get_.get()));
  if (rc == SQLITE_DONE) return std::optional<KeyValue>();
  return sqlError("get " + key);
}

Result<int64_t> SqliteStore::readRevision() {
  StatementUse use(readRevision_.get());
  if (sqlite3_step(readRevision_.get()) != SQLITE_ROW) return sqlError("read revision");
  return int64_t{sqlite3_column_int64(readRevision_.get(), 0)};
}

Result<std::optional<KeyValue>> SqliteStore::get(const std::string& key) {
  std::lock_guard lock(mutex_);
  return readKey(key);
}

Result<std::vector<KeyValue>> SqliteStore::list(const std::string& prefix) {
  std::lock_guard lock(mutex_);
  return readPrefix(prefix);
}

Result<Listing> SqliteStore::listWithRevision(const std::string& prefix) {
  std::lock_guard lock(mutex_);
  // Writes by this object hold mutex_; a deferred read transaction keeps other connections'
  // commits out between the two reads.
  PODNET_TRY_STATUS(exec("BEGIN"));
  auto kvs = readPrefix(prefix);
  auto revision = kvs ? readRevision() : Result<int64_t>(kvs.error());
  PODNET_TRY_STATUS(exec("COMMIT"));
  if (!revision) return std::move(revision).takeError();
  return Listing{std::move(kvs).value(), *revision};
}

Result<std::vector<KeyValue>> SqliteStore::readPrefix(const std::string& prefix) {
  // key >= prefix AND key < end selects exactly the prefix (keys compare bytewise, BINARY
  // collation), with no LIKE wildcards to escape.
  std::string end = prefixEnd(prefix);
  sqlite3_stmt* stmt = end.empty() ? listFrom_.get() : listRange_.get();
  StatementUse use(stmt);
  bindText(stmt, 1, prefix);
  if (!end.empty()) bindText(stmt, 2, end);
  std::vector<KeyValue> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) out.push_back(readRow(stmt));
  if (rc != SQLITE_DONE) return sqlError("list " + prefix);
  return out;
}

Result<int64_t> SqliteStore::revision() {
  std::lock_guard lock(mutex_);
  return readRevision();
}

Result<bool> SqliteStore::holds(const Compare& compare) {
  auto kv = PODNET_TRY(readKey(compare.key));
  switch (compare.target) {
    case Compare::Target::kCreateRevision:
      return (kv ? kv->createRevision : 0) == compare.revision;
    case Compare::Target::kModRevision:
      return (kv ? kv->modRevision : 0) == compare.revision;
    case Compare::Target::kValue:
      return kv.has_value() && kv->value == compare.value;
  }
  return false;
}

Result<std::vector<WatchEvent>> SqliteStore::apply(const std::vector<Op>& ops, int64_t revision) {
  std::vector<WatchEvent> written;
  for (const Op& op : ops) {
    if (op.kind == Op::Kind::kPut) {
      StatementUse use(put_.get());
      bindText(put_.get(), 1, op.key);
      bindText(put_.get(), 2, op.value);
      sqlite3_bind_int64(put_.get(), 3, revision);
      if (sqlite3_step(put_.get()) != SQLITE_ROW) return sqlError("put " + op.key);
      int64_t created = sqlite3_column_int64(put_.get(), 0);
      if (sqlite3_step(put_.get()) != SQLITE_DONE) return sqlError("put " + op.key);
      written.push_back({WatchEvent::Type::kPut, {op.key, op.value, created, revision}});
    } else {
      StatementUse use(delete_.get());
      bindText(delete_.get(), 1, op.key);
      if (sqlite3_step(delete_.get()) != SQLITE_DONE) return sqlError("delete " + op.key);
      // Deleting an absent key is not a write (etcd does not bump the revision for it either).
      if (sqlite3_changes(db_.get()) > 0) {
        written.push_back({WatchEvent::Type::kDelete, {op.key, {}, 0, revision}});
      }
    }
  }
  return written;
}

Result<TxnResult> SqliteStore::txn(const std::vector<Compare>& compares,
                                   const std::vector<Op>& onSuccess,
                                   const std::vector<Op>& onFailure) {
  for (const auto* ops : {&onSuccess, &onFailure}) {
    for (const Op& op : *ops) {
      if (op.lease != 0) return leasesUnsupported().context("put " + op.key);
    }
  }
  std::lock_guard lock(mutex_);
  // IMMEDIATE takes the write lock up front, so the compares and the writes see one state even
  // when another process shares the file.
  PODNET_TRY_STATUS(stepDone(begin_.get(), "BEGIN"));
  int64_t current = 0;
  std::vector<WatchEvent> written;
  auto result = [&]() -> Result<TxnResult> {
    current = PODNET_TRY(readRevision());
    bool succeeded = true;
    for (const Compare& compare : compares) {
      if (!PODNET_TRY(holds(compare))) {
        succeeded = false;
        break;
      }
    }
    // Every write of the transaction gets the next revision; it is only kept if one happened.
    written = PODNET_TRY(apply(succeeded ? onSuccess : onFailure, current + 1));
    if (written.empty()) return TxnResult{succeeded, current};
    StatementUse use(writeRevision_.get());
    sqlite3_bind_int64(writeRevision_.get(), 1, current + 1);
    if (sqlite3_step(writeRevision_.get()) != SQLITE_DONE) return sqlError("write revision");
    return TxnResult{succeeded, current + 1};
  }();
  if (result) {
    auto committed = stepDone(commit_.get(), "COMMIT");
    if (committed) {
      // Still under mutex_, so watches see transactions in revision order.
      if (!written.empty()) hub_->publish(current, std::move(written));
      return result;
    }
    result = std::move(committed).takeError();
  }
  // SQLite rolls back by itself after some errors (I/O, full disk); only roll back what is open.
  if (!sqlite3_get_autocommit(db_.get())) {
    StatementUse use(rollback_.get());
    sqlite3_step(rollback_.get());
  }
  return result;
}

Result<std::unique_ptr<Watch>> SqliteStore::watch(
    const std::string& prefix, int64_t afterRevision,
    std::function<void(const std::vector<WatchEvent>&)> onEvents,
    std::function<void(const Error&)> onError) {
  return hub_->watch(prefix, afterRevision, std::move(onEvents), std::move(onError));
}

Error SqliteStore::leasesUnsupported() const {
  return makeError(
      Errc::kUnsupported,
      "store " + path_ + ": leases need the etcd backend (the embedded store serves one node)");
}

Result<int64_t> SqliteStore::grantLease(std::chrono::seconds) {
  return leasesUnsupported();
}

Status SqliteStore::keepAlive(int64_t) {
  return leasesUnsupported();
}

Status SqliteStore::revokeLease(int64_t) {
  return leasesUnsupported();
}

}  // namespace podnet::store
