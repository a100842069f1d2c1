#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "store/event_log.h"
#include "store/store_backend.h"
#include "support/temp_dir.h"

namespace podnet::store {
namespace {

using podnet::testing::describe;
using podnet::testing::EventLog;
using podnet::testing::StoreSemanticsTest;
using podnet::testing::WatchSemanticsTest;
using Strings = std::vector<std::string>;

class SqliteBackend final : public podnet::testing::StoreBackend {
 public:
  std::unique_ptr<Store> connect() override {
    auto opened = SqliteStore::open(dir_.path() + "/podnet.db");
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened ? std::move(opened).value() : nullptr;
  }

 private:
  testing::TempDir dir_;
};

const podnet::testing::BackendParam kSqlite{"sqlite",
                                            [] { return std::make_unique<SqliteBackend>(); }};
INSTANTIATE_TEST_SUITE_P(Sqlite, StoreSemanticsTest, ::testing::Values(kSqlite),
                         podnet::testing::backendName);
INSTANTIATE_TEST_SUITE_P(Sqlite, WatchSemanticsTest, ::testing::Values(kSqlite),
                         podnet::testing::backendName);

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { store_ = openStore(); }

  std::unique_ptr<SqliteStore> openStore() {
    auto opened = SqliteStore::open(path_);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened ? std::move(opened).value() : nullptr;
  }

  int64_t put(const std::string& key, const std::string& value) {
    auto r = store_->txn({}, {Op::put(key, value)});
    EXPECT_TRUE(r.ok() && r->succeeded);
    return r ? r->revision : -1;
  }

  testing::TempDir dir_;
  std::string path_ = dir_.path() + "/state/podnet/podnet.db";
  std::unique_ptr<SqliteStore> store_;
};

TEST_F(SqliteStoreTest, CreatesPrivateParentDirectories) {
  struct stat st {};
  ASSERT_EQ(::stat((dir_.path() + "/state/podnet").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
}

TEST_F(SqliteStoreTest, DataSurvivesReopen) {
  put("/a", "1");
  put("/b", "2");
  ASSERT_TRUE(store_->txn({}, {Op::del("/b")}).ok());
  store_.reset();
  store_ = openStore();
  ASSERT_NE(store_, nullptr);
  EXPECT_EQ(*store_->revision(), 3);
  auto kv = **store_->get("/a");
  EXPECT_EQ(kv.value, "1");
  EXPECT_EQ(kv.createRevision, 1);
  EXPECT_FALSE(store_->get("/b")->has_value());
  EXPECT_EQ(put("/c", "3"), 4);
}

TEST_F(SqliteStoreTest, AFreshFileStartsAtRevisionZero) {
  EXPECT_EQ(*store_->revision(), 0);
  EXPECT_EQ(put("/a", "1"), 1);
}

TEST_F(SqliteStoreTest, WatchFromBeforeThisProcessOpenedTheFileIsAConflict) {
  put("/n/a", "1");
  put("/n/a", "2");
  store_ = openStore();  // the history lives in memory: a reopened store has none
  EventLog log;
  auto w = store_->watch("/n/", 1, log.onEvents(), log.onError());
  ASSERT_TRUE(w.ok());
  auto error = log.waitForError();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, Errc::kConflict);
  EXPECT_NE(error->message.find("list again"), std::string::npos) << error->message;
  // From the current revision it works.
  EventLog fresh;
  auto w2 = store_->watch("/n/", *store_->revision(), fresh.onEvents(), fresh.onError());
  ASSERT_TRUE(w2.ok());
  int64_t rev = put("/n/b", "3");
  EXPECT_EQ(describe(fresh.waitFor(1)), (Strings{"put /n/b=3@" + std::to_string(rev)}));
}

TEST_F(SqliteStoreTest, HistoryIsBoundedAndOlderRevisionsAreAConflict) {
  int64_t before = put("/n/first", "x");
  std::vector<Op> many;
  for (size_t i = 0; i < SqliteStore::kWatchHistory; ++i) {
    many.push_back(Op::put("/n/" + std::to_string(i), "v"));
  }
  ASSERT_TRUE(store_->txn({}, many).ok());
  int64_t last = put("/n/last", "y");
  // The history holds only the last kWatchHistory events: "/n/first" and part of the big
  // transaction are gone, so only a watch from the big transaction on can be served.
  EventLog old;
  auto w = store_->watch("/n/", before, old.onEvents(), old.onError());
  ASSERT_TRUE(w.ok());
  auto error = old.waitForError();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, Errc::kConflict);
  EventLog recent;
  auto w2 = store_->watch("/n/", last - 1, recent.onEvents(), recent.onError());
  ASSERT_TRUE(w2.ok());
  EXPECT_EQ(describe(recent.waitFor(1)), (Strings{"put /n/last=y@" + std::to_string(last)}));
}

TEST_F(SqliteStoreTest, WritesByAnotherConnectionEndWatchesWithAConflict) {
  EventLog log;
  auto w = store_->watch("/n/", *store_->revision(), log.onEvents(), log.onError());
  ASSERT_TRUE(w.ok());
  auto other = openStore();
  ASSERT_TRUE(other->txn({}, {Op::put("/n/unseen", "x")}).ok());
  put("/n/seen", "y");  // this write notices the gap
  auto error = log.waitForError();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, Errc::kConflict);
  EXPECT_NE(error->message.find("another connection"), std::string::npos) << error->message;
}

TEST_F(SqliteStoreTest, LeasesAreUnsupported) {
  auto lease = store_->grantLease(std::chrono::seconds(10));
  ASSERT_FALSE(lease.ok());
  EXPECT_EQ(lease.error().code, Errc::kUnsupported);
  EXPECT_NE(lease.error().message.find("etcd"), std::string::npos);
  auto put = store_->txn({}, {Op::put("/a", "1", 42)});
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.error().code, Errc::kUnsupported);
  EXPECT_FALSE(store_->get("/a")->has_value());
  EXPECT_EQ(store_->keepAlive(42).error().code, Errc::kUnsupported);
  EXPECT_EQ(store_->revokeLease(42).error().code, Errc::kUnsupported);
}

TEST(SqliteStoreOpenTest, ErrorsNameTheFileAndTheStep) {
  testing::TempDir dir;
  std::string blocker = dir.path() + "/file";
  ASSERT_TRUE(SqliteStore::open(blocker).ok());  // a file where a directory is needed below
  auto opened = SqliteStore::open(blocker + "/sub/podnet.db");
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, Errc::kIo);
  EXPECT_NE(opened.error().message.find("store " + blocker + "/sub/podnet.db: create directory"),
            std::string::npos)
      << opened.error().message;
}

TEST(SqliteStoreOpenTest, RejectsAFileThatIsNotADatabase) {
  testing::TempDir dir;
  std::string path = dir.path() + "/junk.db";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("this is not an sqlite database, it is a text file of some length............\n", f);
  std::fclose(f);
  auto opened = SqliteStore::open(path);
  ASSERT_FALSE(opened.ok());
  EXPECT_NE(opened.error().message.find("store " + path + ": "), std::string::npos)
      << opened.error().message;
}

}  // namespace
}  // namespace podnet::store
