#include "store/sqlite_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <thread>

#include "store/temp_dir.h"

namespace podnet::store {
namespace {

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

  std::vector<std::string> keys(const std::string& prefix) {
    auto listed = store_->list(prefix);
    EXPECT_TRUE(listed.ok());
    std::vector<std::string> out;
    for (const KeyValue& kv : *listed) out.push_back(kv.key);
    return out;
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

TEST_F(SqliteStoreTest, PutThenGet) {
  put("/a", "one");
  auto got = store_->get("/a");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "one");
  auto missing = store_->get("/b");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(SqliteStoreTest, KeepsArbitraryBytes) {
  std::string value("\0\xff\x01 binary", 10);
  put("/bin", value);
  auto got = store_->get("/bin");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, value);
  put("/empty", "");
  got = store_->get("/empty");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->value, "");
}

TEST_F(SqliteStoreTest, RevisionsTrackCreateAndModify) {
  EXPECT_EQ(*store_->revision(), 0);
  int64_t created = put("/a", "1");
  EXPECT_EQ(created, 1);
  int64_t modified = put("/a", "2");
  EXPECT_EQ(modified, 2);
  auto kv = **store_->get("/a");
  EXPECT_EQ(kv.createRevision, created);
  EXPECT_EQ(kv.modRevision, modified);
  EXPECT_EQ(*store_->revision(), 2);
}

TEST_F(SqliteStoreTest, OneRevisionPerWritingTxn) {
  auto r = store_->txn({}, {Op::put("/a", "1"), Op::put("/b", "2"), Op::put("/c", "3")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revision, 1);
  for (const char* key : {"/a", "/b", "/c"}) {
    auto kv = **store_->get(key);
    EXPECT_EQ(kv.createRevision, 1) << key;
    EXPECT_EQ(kv.modRevision, 1) << key;
  }
  EXPECT_EQ(*store_->revision(), 1);
}

TEST_F(SqliteStoreTest, NoOpTxnsDoNotBumpTheRevision) {
  put("/a", "1");
  // No ops at all.
  auto empty = store_->txn({}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->succeeded);
  EXPECT_EQ(empty->revision, 1);
  // Deleting an absent key is not a write.
  auto del = store_->txn({}, {Op::del("/missing")});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->revision, 1);
  // A failed compare without onFailure ops writes nothing.
  auto failed = store_->txn({Compare::absent("/a")}, {Op::put("/b", "x")});
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->succeeded);
  EXPECT_EQ(failed->revision, 1);
  EXPECT_FALSE(store_->get("/b")->has_value());
  EXPECT_EQ(*store_->revision(), 1);
}

TEST_F(SqliteStoreTest, DeleteThenRecreateStartsANewCreateRevision) {
  put("/a", "1");
  auto del = store_->txn({}, {Op::del("/a")});
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->revision, 2);
  EXPECT_FALSE(store_->get("/a")->has_value());
  int64_t again = put("/a", "2");
  EXPECT_EQ((**store_->get("/a")).createRevision, again);
}

TEST_F(SqliteStoreTest, ComparesOnCreateRevision) {
  int64_t rev = put("/a", "1");
  put("/a", "2");
  EXPECT_TRUE(
      store_->txn({Compare{"/a", Compare::Target::kCreateRevision, rev, {}}}, {})->succeeded);
  EXPECT_FALSE(store_->txn({Compare::absent("/a")}, {})->succeeded);
  EXPECT_TRUE(store_->txn({Compare::absent("/missing")}, {})->succeeded);
  EXPECT_FALSE(
      store_->txn({Compare{"/missing", Compare::Target::kCreateRevision, rev, {}}}, {})->succeeded);
}

TEST_F(SqliteStoreTest, ComparesOnModRevision) {
  put("/a", "1");
  int64_t rev = put("/a", "2");
  EXPECT_TRUE(store_->txn({Compare::modRevisionIs("/a", rev)}, {})->succeeded);
  EXPECT_FALSE(store_->txn({Compare::modRevisionIs("/a", rev - 1)}, {})->succeeded);
  EXPECT_TRUE(store_->txn({Compare::modRevisionIs("/missing", 0)}, {})->succeeded);
  EXPECT_FALSE(store_->txn({Compare::modRevisionIs("/missing", rev)}, {})->succeeded);
}

TEST_F(SqliteStoreTest, ComparesOnValue) {
  put("/a", "x");
  put("/empty", "");
  EXPECT_TRUE(store_->txn({Compare::valueIs("/a", "x")}, {})->succeeded);
  EXPECT_FALSE(store_->txn({Compare::valueIs("/a", "y")}, {})->succeeded);
  EXPECT_TRUE(store_->txn({Compare::valueIs("/empty", "")}, {})->succeeded);
  // A missing key never equals, not even the empty value.
  EXPECT_FALSE(store_->txn({Compare::valueIs("/missing", "")}, {})->succeeded);
}

TEST_F(SqliteStoreTest, AllComparesMustHold) {
  put("/a", "x");
  auto r = store_->txn({Compare::valueIs("/a", "x"), Compare::absent("/a")}, {Op::put("/ok", "1")},
                       {Op::put("/failed", "1")});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_FALSE(store_->get("/ok")->has_value());
  EXPECT_TRUE(store_->get("/failed")->has_value());
}

TEST_F(SqliteStoreTest, FailedCompareRunsOnFailureOps) {
  put("/a", "x");
  auto r = store_->txn({Compare::valueIs("/a", "other")}, {Op::put("/won", "1")},
                       {Op::put("/lost", "1"), Op::del("/a")});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(r->revision, 2);
  EXPECT_FALSE(store_->get("/won")->has_value());
  EXPECT_EQ((**store_->get("/lost")).createRevision, 2);
  EXPECT_FALSE(store_->get("/a")->has_value());
}

TEST_F(SqliteStoreTest, ListsAPrefixSorted) {
  for (const char* key : {"a/2", "ab", "a/1", "a/10", "a", "b/1", "a/"}) put(key, "v");
  EXPECT_EQ(keys("a/"), (std::vector<std::string>{"a/", "a/1", "a/10", "a/2"}));
  EXPECT_EQ(keys("a"), (std::vector<std::string>{"a", "a/", "a/1", "a/10", "a/2", "ab"}));
  EXPECT_EQ(keys(""), (std::vector<std::string>{"a", "a/", "a/1", "a/10", "a/2", "ab", "b/1"}));
  EXPECT_TRUE(keys("c").empty());
}

TEST_F(SqliteStoreTest, ListTreatsLikeWildcardsLiterally) {
  for (const char* key : {"p%/1", "px/1", "p_/1", "pa/1"}) put(key, "v");
  EXPECT_EQ(keys("p%/"), (std::vector<std::string>{"p%/1"}));
  EXPECT_EQ(keys("p_/"), (std::vector<std::string>{"p_/1"}));
}

TEST_F(SqliteStoreTest, ListHandlesHighBytes) {
  std::string high = "k\xff";
  for (const std::string& key : {high, high + "\xff", high + "a", std::string("l")}) put(key, "v");
  EXPECT_EQ(keys(high), (std::vector<std::string>{high, high + "a", high + "\xff"}));
  EXPECT_EQ(keys(high + "\xff"), (std::vector<std::string>{high + "\xff"}));
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

TEST_F(SqliteStoreTest, TwoConnectionsSeeEachOthersWrites) {
  auto other = openStore();
  ASSERT_NE(other, nullptr);
  put("/a", "1");
  auto r = other->txn({Compare::valueIs("/a", "1")}, {Op::put("/a", "2")});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, 2);
  EXPECT_EQ((**store_->get("/a")).value, "2");
}

TEST_F(SqliteStoreTest, ConcurrentCompareAndSwapIncrementsAreNotLost) {
  constexpr int kThreads = 16;
  constexpr int kIncrements = 25;
  put("/counter", "0");
  int64_t start = *store_->revision();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements;) {
        auto kv = store_->get("/counter");
        ASSERT_TRUE(kv.ok() && kv->has_value());
        int next = std::stoi((*kv)->value) + 1;
        auto r = store_->txn({Compare::modRevisionIs("/counter", (*kv)->modRevision)},
                             {Op::put("/counter", std::to_string(next))});
        ASSERT_TRUE(r.ok());
        if (r->succeeded) ++i;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ((**store_->get("/counter")).value, std::to_string(kThreads * kIncrements));
  // Only the successful swaps wrote, one revision each.
  EXPECT_EQ(*store_->revision(), start + kThreads * kIncrements);
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
