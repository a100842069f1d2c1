// OverlaySync against a real store and a real kernel: what other nodes publish (Node objects and
// attachment records) becomes routes in this node's namespace, and goes away with them.
#include "agent/overlay_sync.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <vector>

#include "agent/attachment.h"
#include "common/fd.h"
#include "model/objects.h"
#include "store/sqlite_store.h"
#include "support/eventually.h"
#include "support/netns_fixture.h"
#include "support/temp_dir.h"

namespace podnet::agent {
namespace {

class OverlaySyncTest : public testing::NetnsFixture {
 protected:
  void SetUp() override {
    peer_ = addNetns();
    node_ = addNetns();
    ASSERT_EQ(run("ip -n " + peer_ + " link add eth0 type veth peer name eth0 netns " + node_), 0);
    ASSERT_EQ(run("ip -n " + node_ + " addr add 172.30.0.11/24 dev eth0"), 0);
    ASSERT_EQ(run("ip -n " + node_ + " link set eth0 up"), 0);
    enterNetns(node_);
    auto store = store::SqliteStore::open(dir_.path() + "/podnet.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    auto overlay =
        dataplane::Overlay::create({Backend::kVxlan, "eth0", *Ipv4::parse("172.30.0.11")});
    ASSERT_TRUE(overlay.ok()) << overlay.error().message;
    overlay_.emplace(std::move(*overlay));
  }

  void TearDown() override {
    sync_.reset();
    NetnsFixture::TearDown();
  }

  void start() {
    auto sync = OverlaySync::start(*store_, *overlay_, "n1", Backend::kVxlan);
    ASSERT_TRUE(sync.ok()) << sync.error().message;
    sync_ = std::move(*sync);
  }

  void putNode(const std::string& name, const std::string& underlay) {
    model::Node node{name, *Ipv4::parse(underlay), "0e:70:00:00:00:01", Backend::kVxlan, {}};
    ASSERT_TRUE(store_->txn({}, {store::Op::put(node.key(), toJson(node).dump())}).ok());
  }

  void putPod(const std::string& cid, const std::string& ip, const std::string& node,
              Attachment::State state = Attachment::State::kReady) {
    Attachment a;
    a.network = "podnet";
    a.containerId = cid;
    a.ifname = "eth0";
    a.pool = "default";
    a.address = *Ipv4Prefix::parse(ip + "/16");
    a.gateway = *Ipv4::parse("10.244.0.1");
    a.node = node;
    a.state = state;
    ASSERT_TRUE(store_->txn({}, {store::Op::put(a.key(), toJson(a).dump())}).ok());
  }

  void del(const std::string& key) { ASSERT_TRUE(store_->txn({}, {store::Op::del(key)}).ok()); }

  std::string routes() { return checkedOutput("ip -n " + node_ + " route show proto 112"); }
  bool routed(const std::string& ip) { return routes().find(ip + " via") != std::string::npos; }

  testing::TempDir dir_;
  std::string peer_, node_;
  std::unique_ptr<store::SqliteStore> store_;
  std::optional<dataplane::Overlay> overlay_;
  std::unique_ptr<OverlaySync> sync_;
};

TEST_F(OverlaySyncTest, StartProgramsWhatTheStoreAlreadyHoldsAndSkipsLocalAndUnreadyPods) {
  putNode("n1", "172.30.0.11");  // this node: never a route to itself
  putNode("n2", "172.30.0.12");
  putPod("a", "10.244.0.5", "n2");
  putPod("b", "10.244.0.6", "n1");  // local: wired by CNI, not by the overlay
  putPod("c", "10.244.0.7", "n2", Attachment::State::kPending);
  putPod("d", "10.244.0.8", "n2", Attachment::State::kReleasing);
  start();
  std::string r = routes();
  EXPECT_NE(r.find("10.244.0.5 via 100.64.0.12 dev podnet.vxlan"), std::string::npos) << r;
  EXPECT_NE(r.find("100.64.0.12 dev podnet.vxlan"), std::string::npos) << r;
  EXPECT_EQ(r.find("100.64.0.11"), std::string::npos) << r;
  EXPECT_FALSE(routed("10.244.0.6")) << r;
  EXPECT_FALSE(routed("10.244.0.7")) << r;
  EXPECT_FALSE(routed("10.244.0.8")) << r;
}

TEST_F(OverlaySyncTest, FollowsPodsAndNodesAsTheyComeAndGo) {
  start();
  putPod("a", "10.244.0.5", "n3");  // before its node: programmed once the node registers
  EXPECT_FALSE(routed("10.244.0.5"));
  putNode("n3", "172.30.0.13");
  EXPECT_TRUE(testing::eventually([&] { return routed("10.244.0.5"); })) << routes();

  putPod("b", "10.244.0.9", "n3", Attachment::State::kPending);
  putPod("b", "10.244.0.9", "n3");  // the ADD finished
  EXPECT_TRUE(testing::eventually([&] { return routed("10.244.0.9"); })) << routes();
  putPod("b", "10.244.0.9", "n3", Attachment::State::kReleasing);  // DEL answered
  EXPECT_TRUE(testing::eventually([&] { return !routed("10.244.0.9"); })) << routes();

  // The node's lease expired: every route to it and its pods goes.
  del(std::string(model::Node::kPrefix) + "n3");
  EXPECT_TRUE(testing::eventually([&] {
    return routes().find("100.64.0.13") == std::string::npos;
  })) << routes();
  EXPECT_FALSE(routed("10.244.0.5"));
}

TEST_F(OverlaySyncTest, AResyncRepairsARouteRemovedByHand) {
  putNode("n2", "172.30.0.12");
  putPod("a", "10.244.0.5", "n2");
  sync_.reset();
  auto sync =
      OverlaySync::start(*store_, *overlay_, "n1", Backend::kVxlan, std::chrono::seconds(1));
  ASSERT_TRUE(sync.ok()) << sync.error().message;
  sync_ = std::move(*sync);
  ASSERT_TRUE(routed("10.244.0.5"));
  ASSERT_EQ(run("ip -n " + node_ + " route del 10.244.0.5/32"), 0);
  EXPECT_TRUE(testing::eventually([&] { return routed("10.244.0.5"); })) << routes();
}

// An agent restart: the new sync learns the nodes before the pods. It must not take the pods'
// routes away meanwhile (established traffic would stall until they came back).
TEST_F(OverlaySyncTest, ARestartedSyncRemovesNoRouteTheStoreStillHolds) {
  putNode("n2", "172.30.0.12");
  putPod("a", "10.244.0.5", "n2");
  start();
  ASSERT_TRUE(routed("10.244.0.5")) << routes();
  sync_.reset();  // the agent stops; the kernel keeps its routes

  // Every route change in the node's namespace from here on (this thread is in it).
  UniqueFd monitor(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE));
  ASSERT_TRUE(monitor.valid());
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  local.nl_groups = RTMGRP_IPV4_ROUTE;
  ASSERT_EQ(::bind(monitor.get(), reinterpret_cast<sockaddr*>(&local), sizeof(local)), 0);

  start();                          // lists nodes, then pods, before returning
  putPod("b", "10.244.0.6", "n2");  // a change after both listings: its route is added
  ASSERT_TRUE(testing::eventually([&] { return routed("10.244.0.6"); })) << routes();
  std::vector<char> buf(1 << 16);
  int removed = 0;
  for (;;) {
    ssize_t n = ::recv(monitor.get(), buf.data(), buf.size(), 0);
    if (n <= 0) break;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == RTM_DELROUTE) ++removed;
    }
  }
  EXPECT_EQ(removed, 0) << routes();
  EXPECT_TRUE(routed("10.244.0.5")) << routes();
}

}  // namespace
}  // namespace podnet::agent
