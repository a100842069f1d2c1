#include "policy/identity.h"

#include <gtest/gtest.h>

#include <thread>

#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace podnet::policy {
namespace {

IdentityLabels labels(const std::string& ns, model::Labels pod, model::Labels nsLabels = {}) {
  return {ns, std::move(nsLabels), std::move(pod)};
}

class IdentityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open(dir.path() + "/store.db");
    ASSERT_TRUE(s.ok()) << s.error().message;
    store = std::move(*s);
  }

  podnet::testing::TempDir dir;
  std::unique_ptr<store::SqliteStore> store;
};

TEST_F(IdentityTest, OneStableNumberPerLabelSetFromTheFirstPodIdentity) {
  IdentityAllocator a(*store);
  auto web = a.allocate(labels("shop", {{"app", "web"}}));
  ASSERT_TRUE(web.ok()) << web.error().message;
  EXPECT_EQ(*web, uint32_t{PN_IDENTITY_FIRST_POD});
  auto db = a.allocate(labels("shop", {{"app", "db"}}));
  ASSERT_TRUE(db.ok());
  EXPECT_EQ(*db, *web + 1);
  // The same labels again, in another namespace, with other namespace labels.
  EXPECT_EQ(*a.allocate(labels("shop", {{"app", "web"}})), *web);
  EXPECT_NE(*a.allocate(labels("other", {{"app", "web"}})), *web);
  EXPECT_NE(*a.allocate(labels("shop", {{"app", "web"}}, {{"team", "a"}})), *web);
  // Another allocator (another node) on the same store agrees.
  IdentityAllocator b(*store);
  EXPECT_EQ(*b.allocate(labels("shop", {{"app", "web"}})), *web);
  EXPECT_EQ(**b.find(labels("shop", {{"app", "db"}})), *db);
  EXPECT_FALSE(b.find(labels("shop", {{"app", "nope"}}))->has_value());
  EXPECT_EQ(**b.labelsOf(*db), labels("shop", {{"app", "db"}}));
  auto all = b.list();
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 4u);
}

TEST_F(IdentityTest, ReleasedNumbersAreReusedLastAndWrapping) {
  IdentityAllocator a(*store, 256, 260);
  std::vector<uint32_t> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(*a.allocate(labels("ns", {{"i", std::to_string(i)}})));
  }
  EXPECT_EQ(ids, (std::vector<uint32_t>{256, 257, 258, 259}));
  auto full = a.allocate(labels("ns", {{"i", "4"}}));
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::kExhausted);
  // Release 257: the next label set wraps around to it.
  ASSERT_TRUE(a.release(257, labels("ns", {{"i", "1"}})).ok());
  EXPECT_FALSE(a.find(labels("ns", {{"i", "1"}}))->has_value());
  EXPECT_EQ(*a.allocate(labels("ns", {{"i", "5"}})), 257u);
  // A release with stale labels does nothing.
  ASSERT_TRUE(a.release(257, labels("ns", {{"i", "1"}})).ok());
  EXPECT_EQ(**a.labelsOf(257), labels("ns", {{"i", "5"}}));
}

TEST_F(IdentityTest, ReleaseUnusedKeepsWhatIsInUse) {
  IdentityAllocator a(*store);
  uint32_t web = *a.allocate(labels("shop", {{"app", "web"}}));
  uint32_t db = *a.allocate(labels("shop", {{"app", "db"}}));
  auto released = a.releaseUnused({labels("shop", {{"app", "web"}})});
  ASSERT_TRUE(released.ok());
  EXPECT_EQ(*released, (std::set<uint32_t>{db}));
  EXPECT_EQ(**a.find(labels("shop", {{"app", "web"}})), web);
  // A publisher guarding on the identity fails once it is gone.
  auto txn = store->txn({IdentityAllocator::stillAllocated(db, labels("shop", {{"app", "db"}}))},
                        {store::Op::put("/podnet/x", "y")});
  ASSERT_TRUE(txn.ok());
  EXPECT_FALSE(txn->succeeded);
}

TEST_F(IdentityTest, ConcurrentAllocatorsAgree) {
  std::vector<std::thread> threads;
  std::vector<std::vector<uint32_t>> got(4);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      IdentityAllocator a(*store);
      for (int i = 0; i < 20; ++i) {
        auto id = a.allocate(labels("ns", {{"i", std::to_string(i)}}));
        got[t].push_back(id.ok() ? *id : 0);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 1; t < 4; ++t) EXPECT_EQ(got[t], got[0]);
  std::set<uint32_t> distinct(got[0].begin(), got[0].end());
  EXPECT_EQ(distinct.size(), 20u);
  EXPECT_FALSE(distinct.count(0));
}

TEST(IdentityLabelsTest, ViewsForSelectors) {
  IdentityLabels l = labels("shop", {{"app", "web"}}, {{"team", "a"}});
  EXPECT_EQ(l.namespaceView(),
            (model::Labels{{"team", "a"}, {"kubernetes.io/metadata.name", "shop"}}));
  EXPECT_EQ(l.endpointView(), (model::Labels{{"app", "web"},
                                             {"io.kubernetes.pod.namespace", "shop"},
                                             {"io.cilium.k8s.namespace.labels.team", "a"}}));
  auto back = IdentityLabels::fromJson(l.toJson());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, l);
  // The reverse key is one store key segment.
  EXPECT_EQ(IdentityAllocator::labelsKey(l).find(
                '/', std::string(IdentityAllocator::kLabelsPrefix).size()),
            std::string::npos);
}

TEST(IdentityLabelsTest, EntitiesAreTheContractsReservedIdentities) {
  EXPECT_EQ(reservedIdentities(Entity::kHost), (std::set<uint32_t>{PN_IDENTITY_HOST}));
  EXPECT_EQ(reservedIdentities(Entity::kRemoteNode), (std::set<uint32_t>{PN_IDENTITY_REMOTE_NODE}));
  EXPECT_EQ(reservedIdentities(Entity::kWorld), (std::set<uint32_t>{PN_IDENTITY_WORLD}));
  EXPECT_EQ(reservedIdentities(Entity::kCluster),
            (std::set<uint32_t>{PN_IDENTITY_HOST, PN_IDENTITY_REMOTE_NODE}));
  EXPECT_EQ(reservedIdentities(Entity::kAll), (std::set<uint32_t>{PN_IDENTITY_ANY}));
}

}  // namespace
}  // namespace podnet::policy
