#include "controller/identity_gc.h"

#include <gtest/gtest.h>

#include "agent/attachment.h"
#include "model/objects.h"
#include "policy/identity.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace podnet::controller {
namespace {

class IdentityCollectorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::open(dir_.path() + "/podnet.db");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(*opened);
  }

  void put(const std::string& key, const std::string& value) {
    ASSERT_TRUE(store_->txn({}, {store::Op::put(key, value)}).ok());
  }

  // A pod with an attachment record (state ready unless given), its object and its namespace.
  model::Pod addPod(const std::string& ns, const std::string& name, model::Labels labels,
                    agent::Attachment::State state = agent::Attachment::State::kReady) {
    model::Namespace n;
    n.metadata.name = ns;
    n.metadata.labels = {{"team", ns}};
    put(n.key(), model::toJson(n).dump());
    model::Pod pod;
    pod.metadata.namespace_ = ns;
    pod.metadata.name = name;
    pod.metadata.labels = std::move(labels);
    pod.nodeName = "n1";
    put(pod.key(), model::toJson(pod).dump());
    agent::Attachment a;
    a.network = "podnet";
    a.containerId = ns + "-" + name;
    a.ifname = "eth0";
    a.podNamespace = ns;
    a.podName = name;
    a.node = "n1";
    a.state = state;
    put(a.key(), agent::toJson(a).dump());
    return pod;
  }

  policy::IdentityLabels labelsOf(const model::Pod& pod) {
    model::Namespace n;
    n.metadata.name = pod.metadata.namespace_;
    n.metadata.labels = {{"team", pod.metadata.namespace_}};
    return policy::identityLabelsOf(n, pod);
  }

  testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
};

TEST_F(IdentityCollectorTest, ReleasesOnlyWhatNoPodUsedAtTwoSweepsInARow) {
  policy::IdentityAllocator identities(*store_);
  auto web = addPod("shop", "web", {{"app", "web"}});
  auto leaving = addPod("shop", "old", {{"app", "old"}}, agent::Attachment::State::kReleasing);
  auto webId = identities.allocate(labelsOf(web));
  auto oldId = identities.allocate(labelsOf(leaving));
  model::Pod relabelled = web;
  relabelled.metadata.labels = {{"app", "web"}, {"tier", "front"}};
  auto staleId = identities.allocate(labelsOf(relabelled));
  ASSERT_TRUE(webId.ok() && oldId.ok() && staleId.ok());

  IdentityCollector collector(*store_);
  auto first = collector.sweep();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->empty()) << "the first sight of an unused identity releases nothing";

  // Between the sweeps a pod starts using the relabelled set: it must survive.
  addPod("shop", "web2", {{"app", "web"}, {"tier", "front"}});
  auto second = collector.sweep();
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(*second, (std::set<uint32_t>{*oldId}));

  auto left = identities.list();
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->size(), 2u);
  EXPECT_TRUE(left->count(*webId));
  EXPECT_TRUE(left->count(*staleId));
  auto again = collector.sweep();
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->empty());
}

}  // namespace
}  // namespace podnet::controller
