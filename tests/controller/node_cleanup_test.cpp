// podnet-controller's node cleanup on a real store: a node that is gone loses its attachments and
// their addresses go back to the subnet; a registered node keeps everything.
#include "controller/node_cleanup.h"

#include <gtest/gtest.h>

#include <thread>

#include "agent/attachment.h"
#include "ipam/allocator.h"
#include "model/objects.h"
#include "store/etcd_server.h"
#include "store/etcd_store.h"
#include "store/sqlite_store.h"
#include "support/eventually.h"
#include "support/temp_dir.h"

namespace podnet::controller {
namespace {

// Registers nodes and reserves addresses for their pods exactly as the agents do.
class Cluster {
 public:
  explicit Cluster(store::Store& store)
      : store_(store),
        allocator_(store, *ipam::Pool::create(
                              {"default", *Ipv4Prefix::parse("10.244.0.0/24"), std::nullopt, {}})) {
  }

  void node(const std::string& name, int64_t lease = 0) {
    model::Node n{name, *Ipv4::parse("172.30.0.11"), "", Backend::kVxlan, {}};
    ASSERT_TRUE(store_.txn({}, {store::Op::put(n.key(), toJson(n).dump(), lease)}).ok());
  }

  Ipv4 pod(const std::string& cid, const std::string& node) {
    agent::Attachment a;
    a.network = "podnet";
    a.containerId = cid;
    a.ifname = "eth0";
    a.pool = "default";
    a.gateway = *Ipv4::parse("10.244.0.1");
    a.node = node;
    a.state = agent::Attachment::State::kReady;
    auto ip = allocator_.allocate(a.owner(), {}, [&](Ipv4 chosen) {
      agent::Attachment held = a;
      held.address = Ipv4Prefix{chosen, 24};
      return std::vector<store::Op>{store::Op::put(a.key(), toJson(held).dump())};
    });
    EXPECT_TRUE(ip.ok()) << ip.error().message;
    return ip.ok() ? *ip : Ipv4{};
  }

  // The owners of the pool's reservations.
  std::set<std::string> owners() {
    std::set<std::string> out;
    auto held = allocator_.reservations();
    EXPECT_TRUE(held.ok());
    if (held.ok()) {
      for (const auto& [ip, owner] : *held) out.insert(owner);
    }
    return out;
  }
  size_t attachments() { return store_.list(agent::Attachment::kPrefix)->size(); }

 private:
  store::Store& store_;
  ipam::Allocator allocator_;
};

TEST(NodeCleanupTest, ReleasingANodeFreesExactlyItsPodsAddressesAndRecords) {
  testing::TempDir dir;
  auto store = store::SqliteStore::open(dir.path() + "/podnet.db");
  ASSERT_TRUE(store.ok());
  Cluster c(**store);
  c.node("n1");
  c.pod("a", "n1");
  c.pod("b", "n2");
  c.pod("c", "n2");
  auto released = releaseNodeAttachments(**store, "n2");
  ASSERT_TRUE(released.ok()) << released.error().message;
  EXPECT_EQ(*released, 2u);
  EXPECT_EQ(c.owners(), std::set<std::string>{"podnet/a/eth0"});
  EXPECT_EQ(c.attachments(), 1u);
}

TEST(NodeCleanupTest, ADeletedNodeIsCleanedUpAndTheSweepCatchesNodesThatExpiredEarlier) {
  testing::TempDir dir;
  auto store = store::SqliteStore::open(dir.path() + "/podnet.db");
  ASSERT_TRUE(store.ok());
  Cluster c(**store);
  c.node("n1");
  c.node("n2");
  c.pod("a", "n1");
  c.pod("b", "n2");
  c.pod("old", "n9");  // its node expired while no controller ran

  auto cleanup = NodeCleanup::start(**store, {std::chrono::seconds(0), std::chrono::seconds(1)});
  ASSERT_TRUE(cleanup.ok()) << cleanup.error().message;
  EXPECT_TRUE(testing::eventually([&] { return !c.owners().count("podnet/old/eth0"); }));
  EXPECT_TRUE(c.owners().count("podnet/b/eth0"));

  ASSERT_TRUE((*store)->txn({}, {store::Op::del(std::string(model::Node::kPrefix) + "n2")}).ok());
  EXPECT_TRUE(
      testing::eventually([&] { return c.owners() == std::set<std::string>{"podnet/a/eth0"}; }));
  EXPECT_EQ(c.attachments(), 1u);
}

TEST(NodeCleanupTest, ANodeWhoseEtcdLeaseExpiresIsReleased) {
  testing::EtcdServer etcd;
  ASSERT_FALSE(etcd.endpoint().empty());
  auto store = store::EtcdStore::connect({etcd.endpoint()}, std::chrono::seconds(5));
  ASSERT_TRUE(store.ok()) << store.error().message;
  Cluster c(**store);
  auto lease = (*store)->grantLease(std::chrono::seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  c.node("n1");
  c.node("n2", *lease);
  c.pod("a", "n1");
  c.pod("b", "n2");
  auto cleanup = NodeCleanup::start(**store, {std::chrono::seconds(60), std::chrono::seconds(60)});
  ASSERT_TRUE(cleanup.ok()) << cleanup.error().message;
  // Nobody keeps the lease alive: etcd deletes n2's object, the controller releases its pod.
  EXPECT_TRUE(
      testing::eventually([&] { return c.owners() == std::set<std::string>{"podnet/a/eth0"}; }));
}

}  // namespace
}  // namespace podnet::controller
