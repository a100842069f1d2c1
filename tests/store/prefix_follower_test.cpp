// PrefixFollower: a listing, then the changes after it, and a new listing when etcd compacted the
// revision the watch needed.
#include "store/prefix_follower.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "store/etcd_server.h"
#include "store/etcd_store.h"
#include "store/sqlite_store.h"
#include "support/eventually.h"
#include "support/temp_dir.h"

namespace podnet::store {
namespace {

// What a follower's user sees: the prefix's keys and values, and how many listings it got.
struct Mirror {
  std::mutex mu;
  std::map<std::string, std::string> kvs;
  int listings = 0;

  PrefixFollower::Handlers handlers() {
    return {[this](const Listing& l) {
              std::lock_guard g(mu);
              kvs.clear();
              for (const auto& kv : l.kvs) kvs[kv.key] = kv.value;
              ++listings;
            },
            [this](const std::vector<WatchEvent>& events) {
              std::lock_guard g(mu);
              for (const auto& ev : events) {
                if (ev.type == WatchEvent::Type::kDelete) {
                  kvs.erase(ev.kv.key);
                } else {
                  kvs[ev.kv.key] = ev.kv.value;
                }
              }
            }};
  }
  std::map<std::string, std::string> snapshot() {
    std::lock_guard g(mu);
    return kvs;
  }
};

void put(Store& s, const std::string& k, const std::string& v) {
  ASSERT_TRUE(s.txn({}, {Op::put(k, v)}).ok());
}

TEST(PrefixFollowerTest, ListsThenFollowsOnlyItsPrefix) {
  testing::TempDir dir;
  auto store = SqliteStore::open(dir.path() + "/db");
  ASSERT_TRUE(store.ok());
  put(**store, "/a/1", "one");
  put(**store, "/b/1", "other prefix");
  Mirror m;
  auto f = PrefixFollower::start(**store, "/a/", m.handlers());
  ASSERT_TRUE(f.ok()) << f.error().message;
  EXPECT_EQ(m.snapshot(), (std::map<std::string, std::string>{{"/a/1", "one"}}));
  put(**store, "/a/2", "two");
  put(**store, "/b/2", "ignored");
  ASSERT_TRUE((*store)->txn({}, {Op::del("/a/1")}).ok());
  std::map<std::string, std::string> want{{"/a/2", "two"}};
  EXPECT_TRUE(testing::eventually([&] { return m.snapshot() == want; }));
}

TEST(PrefixFollowerTest, ListsAgainWhenEtcdCompactedWhatTheWatchNeeded) {
  testing::EtcdServer etcd;
  ASSERT_FALSE(etcd.endpoint().empty());
  auto store = EtcdStore::connect({etcd.endpoint()}, std::chrono::seconds(5));
  ASSERT_TRUE(store.ok()) << store.error().message;
  put(**store, "/a/1", "one");
  Mirror m;
  auto f = PrefixFollower::start(**store, "/a/", m.handlers());
  ASSERT_TRUE(f.ok()) << f.error().message;

  // etcd goes away; meanwhile (from the follower's view) /a/ changes and history is compacted.
  etcd.stop();
  ASSERT_TRUE(etcd.start());
  put(**store, "/a/2", "two");
  ASSERT_TRUE((*store)->txn({}, {Op::del("/a/1")}).ok());
  put(**store, "/x", "bump");
  auto rev = (*store)->revision();
  ASSERT_TRUE(rev.ok());
  ASSERT_TRUE((*store)->compact(*rev).ok());
  put(**store, "/a/3", "three");
  std::map<std::string, std::string> want{{"/a/2", "two"}, {"/a/3", "three"}};
  EXPECT_TRUE(testing::eventually([&] { return m.snapshot() == want; }));
}

}  // namespace
}  // namespace podnet::store
