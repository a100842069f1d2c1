// The Store contract, run against every backend (instantiated in sqlite_store_test.cpp and
// etcd_store_test.cpp). Revisions are relative: a fresh SQLite file is at 0, a fresh etcd at 1.
#include <gtest/gtest.h>

#include <thread>

#include "store/store_backend.h"

namespace podnet::testing {
namespace {

using store::Compare;
using store::Op;

TEST_P(StoreSemanticsTest, PutThenGet) {
  put("/a", "one");
  auto got = store_->get("/a");
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "one");
  auto missing = store_->get("/b");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StoreSemanticsTest, KeepsArbitraryBytes) {
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

TEST_P(StoreSemanticsTest, RevisionsTrackCreateAndModify) {
  int64_t base = revision();
  int64_t created = put("/a", "1");
  EXPECT_EQ(created, base + 1);
  int64_t modified = put("/a", "2");
  EXPECT_EQ(modified, base + 2);
  auto kv = **store_->get("/a");
  EXPECT_EQ(kv.createRevision, created);
  EXPECT_EQ(kv.modRevision, modified);
  EXPECT_EQ(revision(), base + 2);
}

TEST_P(StoreSemanticsTest, OneRevisionPerWritingTxn) {
  int64_t base = revision();
  auto r = store_->txn({}, {Op::put("/a", "1"), Op::put("/b", "2"), Op::put("/c", "3")});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->revision, base + 1);
  for (const char* key : {"/a", "/b", "/c"}) {
    auto kv = **store_->get(key);
    EXPECT_EQ(kv.createRevision, base + 1) << key;
    EXPECT_EQ(kv.modRevision, base + 1) << key;
  }
  EXPECT_EQ(revision(), base + 1);
}

TEST_P(StoreSemanticsTest, NoOpTxnsDoNotBumpTheRevision) {
  int64_t rev = put("/a", "1");
  // No ops at all.
  auto empty = store_->txn({}, {});
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->succeeded);
  EXPECT_EQ(empty->revision, rev);
  // Deleting an absent key is not a write.
  auto deleted = store_->txn({}, {Op::del("/missing")});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->revision, rev);
  // A failed compare without onFailure ops writes nothing.
  auto failed = store_->txn({Compare::absent("/a")}, {Op::put("/b", "x")});
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->succeeded);
  EXPECT_EQ(failed->revision, rev);
  EXPECT_FALSE(store_->get("/b")->has_value());
  EXPECT_EQ(revision(), rev);
}

TEST_P(StoreSemanticsTest, DeleteThenRecreateStartsANewCreateRevision) {
  int64_t created = put("/a", "1");
  EXPECT_EQ(del("/a"), created + 1);
  EXPECT_FALSE(store_->get("/a")->has_value());
  int64_t again = put("/a", "2");
  EXPECT_EQ((**store_->get("/a")).createRevision, again);
}

TEST_P(StoreSemanticsTest, ComparesOnCreateRevision) {
  int64_t rev = put("/a", "1");
  put("/a", "2");
  EXPECT_TRUE(
      store_->txn({Compare{"/a", Compare::Target::kCreateRevision, rev, {}}}, {})->succeeded);
  EXPECT_FALSE(store_->txn({Compare::absent("/a")}, {})->succeeded);
  EXPECT_TRUE(store_->txn({Compare::absent("/missing")}, {})->succeeded);
  EXPECT_FALSE(
      store_->txn({Compare{"/missing", Compare::Target::kCreateRevision, rev, {}}}, {})->succeeded);
}

TEST_P(StoreSemanticsTest, ComparesOnModRevision) {
  put("/a", "1");
  int64_t rev = put("/a", "2");
  EXPECT_TRUE(store_->txn({Compare::modRevisionIs("/a", rev)}, {})->succeeded);
  EXPECT_FALSE(store_->txn({Compare::modRevisionIs("/a", rev - 1)}, {})->succeeded);
  EXPECT_TRUE(store_->txn({Compare::modRevisionIs("/missing", 0)}, {})->succeeded);
  EXPECT_FALSE(store_->txn({Compare::modRevisionIs("/missing", rev)}, {})->succeeded);
}

TEST_P(StoreSemanticsTest, ComparesOnValue) {
  put("/a", "x");
  put("/empty", "");
  EXPECT_TRUE(store_->txn({Compare::valueIs("/a", "x")}, {})->succeeded);
  EXPECT_FALSE(store_->txn({Compare::valueIs("/a", "y")}, {})->succeeded);
  EXPECT_TRUE(store_->txn({Compare::valueIs("/empty", "")}, {})->succeeded);
  // A missing key never equals, not even the empty value.
  EXPECT_FALSE(store_->txn({Compare::valueIs("/missing", "")}, {})->succeeded);
}

TEST_P(StoreSemanticsTest, AllComparesMustHold) {
  put("/a", "x");
  auto r = store_->txn({Compare::valueIs("/a", "x"), Compare::absent("/a")}, {Op::put("/ok", "1")},
                       {Op::put("/failed", "1")});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_FALSE(store_->get("/ok")->has_value());
  EXPECT_TRUE(store_->get("/failed")->has_value());
}

TEST_P(StoreSemanticsTest, FailedCompareRunsOnFailureOps) {
  int64_t rev = put("/a", "x");
  auto r = store_->txn({Compare::valueIs("/a", "other")}, {Op::put("/won", "1")},
                       {Op::put("/lost", "1"), Op::del("/a")});
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(r->revision, rev + 1);
  EXPECT_FALSE(store_->get("/won")->has_value());
  EXPECT_EQ((**store_->get("/lost")).createRevision, rev + 1);
  EXPECT_FALSE(store_->get("/a")->has_value());
}

TEST_P(StoreSemanticsTest, ListsAPrefixSorted) {
  for (const char* key : {"a/2", "ab", "a/1", "a/10", "a", "b/1", "a/"}) put(key, "v");
  EXPECT_EQ(keys("a/"), (std::vector<std::string>{"a/", "a/1", "a/10", "a/2"}));
  EXPECT_EQ(keys("a"), (std::vector<std::string>{"a", "a/", "a/1", "a/10", "a/2", "ab"}));
  EXPECT_EQ(keys(""), (std::vector<std::string>{"a", "a/", "a/1", "a/10", "a/2", "ab", "b/1"}));
  EXPECT_TRUE(keys("c").empty());
}

TEST_P(StoreSemanticsTest, ListTreatsLikeWildcardsLiterally) {
  for (const char* key : {"p%/1", "px/1", "p_/1", "pa/1"}) put(key, "v");
  EXPECT_EQ(keys("p%/"), (std::vector<std::string>{"p%/1"}));
  EXPECT_EQ(keys("p_/"), (std::vector<std::string>{"p_/1"}));
}

TEST_P(StoreSemanticsTest, ListHandlesHighBytes) {
  std::string high = "k\xff";
  for (const std::string& key : {high, high + "\xff", high + "a", std::string("l")}) put(key, "v");
  EXPECT_EQ(keys(high), (std::vector<std::string>{high, high + "a", high + "\xff"}));
  EXPECT_EQ(keys(high + "\xff"), (std::vector<std::string>{high + "\xff"}));
}

TEST_P(StoreSemanticsTest, TwoConnectionsSeeEachOthersWrites) {
  auto other = backend_->connect();
  ASSERT_NE(other, nullptr);
  int64_t rev = put("/a", "1");
  auto r = other->txn({Compare::valueIs("/a", "1")}, {Op::put("/a", "2")});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, rev + 1);
  EXPECT_EQ((**store_->get("/a")).value, "2");
}

TEST_P(StoreSemanticsTest, ConcurrentCompareAndSwapIncrementsAreNotLost) {
  constexpr int kThreads = 8;
  constexpr int kIncrements = 20;
  put("/counter", "0");
  int64_t start = revision();
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
  EXPECT_EQ(revision(), start + kThreads * kIncrements);
}

}  // namespace
}  // namespace podnet::testing
