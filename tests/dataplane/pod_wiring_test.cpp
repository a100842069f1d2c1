#include "dataplane/pod_wiring.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <thread>

#include "dataplane/node_network.h"
#include "netlink/link.h"
#include "netlink/route.h"
#include "support/netns_fixture.h"

namespace podnet::dataplane {
namespace {

TEST(HostVethNameTest, IsPnAndTwelveHexDigitsOfFnv1a) {
  EXPECT_EQ(hostVethName("abc123", "eth0"), "pn2b5118d26ad5");
  EXPECT_EQ(hostVethName("abc123", "eth0"), hostVethName("abc123", "eth0"));
  EXPECT_NE(hostVethName("abc123", "eth1"), hostVethName("abc123", "eth0"));
  EXPECT_EQ(hostVethName(std::string(200, 'f'), "eth0").size(), 14u);
}

class PodWiringTest : public testing::NetnsFixture {
 protected:
  void SetUp() override {
    node_ = addNetns();
    enterNetns(node_);
    auto ensured = ensureNodeNetwork({"podnet0", *Ipv4Prefix::parse("10.244.0.1/16")});
    ASSERT_TRUE(ensured.ok()) << ensured.error().message;
    auto wiring = PodWiring::create();
    ASSERT_TRUE(wiring.ok()) << wiring.error().message;
    wiring_.emplace(std::move(wiring).value());
  }

  PodNetwork podNetwork(const std::string& ns, const std::string& id, int host) {
    std::string ip = "10.244.0." + std::to_string(host);
    return PodNetwork{
        id,  "eth0", netnsPath(ns), *Ipv4Prefix::parse(ip + "/16"), *Ipv4::parse("10.244.0.1"),
        1500};
  }

  WiredPod attach(const PodNetwork& pod) {
    auto wired = wiring_->attach(pod);
    EXPECT_TRUE(wired.ok()) << wired.error().message;
    return wired.ok() ? *wired : WiredPod{};
  }

  std::vector<std::string> hostVeths() {
    auto veths = wiring_->listHostVeths();
    EXPECT_TRUE(veths.ok()) << veths.error().message;
    return veths.ok() ? *veths : std::vector<std::string>{};
  }

  // Node routes to exactly this /32.
  std::vector<netlink::RouteSpec> nodeRoutesTo(const PodNetwork& pod) {
    auto sock = netlink::Socket::open();
    EXPECT_TRUE(sock.ok());
    auto routes = netlink::listRoutes(*sock);
    EXPECT_TRUE(routes.ok()) << routes.error().message;
    std::vector<netlink::RouteSpec> out;
    if (!routes.ok()) return out;
    for (const auto& r : *routes) {
      if (r.dst == Ipv4Prefix{pod.address.addr, 32}) out.push_back(r);
    }
    return out;
  }

  static std::string macOf(const std::string& ns, const std::string& dev) {
    std::string shown = output("ip -n " + ns + " -o link show " + dev);
    auto at = shown.find("link/ether ");
    return at == std::string::npos ? "" : shown.substr(at + 11, 17);
  }

  bool ping(const std::string& from, const std::string& to) {
    return runIn(from, "ping -c1 -W1 -q " + to + " >/dev/null") == 0;
  }

  std::string node_;
  std::optional<PodWiring> wiring_;
};

TEST_F(PodWiringTest, TwoPodsReachTheGatewayEachOtherAndTheNode) {
  std::string a = addNetns(), b = addNetns();
  PodNetwork podA = podNetwork(a, "ctr-a", 5), podB = podNetwork(b, "ctr-b", 6);
  WiredPod wiredA = attach(podA), wiredB = attach(podB);

  EXPECT_EQ(wiredA.hostVeth, hostVethName("ctr-a", "eth0"));
  EXPECT_EQ(wiredA.mtu, 1500);
  EXPECT_EQ(wiredA.podMac.str(), macOf(a, "eth0"));
  EXPECT_EQ(wiredA.hostMac.str(), macOf(node_, wiredA.hostVeth));
  EXPECT_EQ(wiredB.podMac.str(), macOf(b, "eth0"));
  EXPECT_NE(wiredA.podMac, wiredB.podMac);
  EXPECT_NE(output("ip -n " + a + " -o -4 addr show dev eth0").find("10.244.0.5/16"),
            std::string::npos);

  // The node answers the pods' ARP at once (no proxy_delay), so the first packet is not held.
  EXPECT_EQ(output("cat /proc/sys/net/ipv4/conf/" + wiredA.hostVeth + "/proxy_arp"), "1\n");
  EXPECT_EQ(output("cat /proc/sys/net/ipv4/neigh/" + wiredA.hostVeth + "/proxy_delay"), "0\n");
  EXPECT_TRUE(ping(a, "10.244.0.1"));
  EXPECT_TRUE(ping(a, "10.244.0.6"));
  EXPECT_TRUE(ping(b, "10.244.0.5"));
  EXPECT_TRUE(ping(node_, "10.244.0.5"));
  EXPECT_TRUE(ping(node_, "10.244.0.6"));

  auto checked = wiring_->check(podA, wiredA);
  EXPECT_TRUE(checked.ok()) << checked.error().message;
  std::vector<std::string> veths = hostVeths();
  std::sort(veths.begin(), veths.end());
  std::vector<std::string> want{wiredA.hostVeth, wiredB.hostVeth};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(veths, want);
}

TEST_F(PodWiringTest, CheckNamesTheMissingDefaultRoute) {
  std::string a = addNetns();
  PodNetwork pod = podNetwork(a, "ctr-a", 5);
  WiredPod wired = attach(pod);
  ASSERT_TRUE(wiring_->check(pod, wired).ok());

  ASSERT_EQ(run("ip -n " + a + " route del default"), 0);
  auto checked = wiring_->check(pod, wired);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().code, Errc::kNotFound);
  EXPECT_NE(checked.error().message.find("default via 10.244.0.1"), std::string::npos)
      << checked.error().message;
}

TEST_F(PodWiringTest, CheckNamesTheMissingNodeRoute) {
  std::string a = addNetns();
  PodNetwork pod = podNetwork(a, "ctr-a", 5);
  WiredPod wired = attach(pod);
  ASSERT_EQ(run("ip route del 10.244.0.5/32"), 0);
  auto checked = wiring_->check(pod, wired);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("10.244.0.5/32"), std::string::npos)
      << checked.error().message;
}

TEST_F(PodWiringTest, DetachRemovesTheVethAndRouteAndIsIdempotent) {
  std::string a = addNetns();
  PodNetwork pod = podNetwork(a, "ctr-a", 5);
  WiredPod wired = attach(pod);
  ASSERT_EQ(nodeRoutesTo(pod).size(), 1u);

  ASSERT_TRUE(wiring_->detach("ctr-a", "eth0").ok());
  EXPECT_TRUE(hostVeths().empty());
  EXPECT_TRUE(nodeRoutesTo(pod).empty());
  EXPECT_EQ(output("ip -n " + a + " -o link show eth0 2>/dev/null"), "");
  auto again = wiring_->detach("ctr-a", "eth0");
  EXPECT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(wiring_->check(pod, wired).ok());
}

TEST_F(PodWiringTest, DetachAfterThePodNetnsIsGoneSucceeds) {
  std::string a = addNetns();
  PodNetwork pod = podNetwork(a, "ctr-a", 5);
  attach(pod);
  deleteNetns(a);
  auto detached = wiring_->detach("ctr-a", "eth0");
  EXPECT_TRUE(detached.ok()) << detached.error().message;
  EXPECT_TRUE(hostVeths().empty());
  EXPECT_TRUE(nodeRoutesTo(pod).empty());
}

TEST_F(PodWiringTest, AnExistingPodInterfaceFailsTheAttachAndIsLeftAlone) {
  std::string a = addNetns();
  ASSERT_EQ(run("ip -n " + a + " link add eth0 mtu 1400 type veth peer name pnt-other"), 0);
  std::string mac = macOf(a, "eth0");
  ASSERT_FALSE(mac.empty());

  auto wired = wiring_->attach(podNetwork(a, "ctr-a", 5));
  ASSERT_FALSE(wired.ok());
  EXPECT_EQ(wired.error().code, Errc::kAlreadyExists);
  EXPECT_NE(wired.error().message.find("eth0"), std::string::npos) << wired.error().message;
  EXPECT_TRUE(hostVeths().empty());
  EXPECT_TRUE(nodeRoutesTo(podNetwork(a, "ctr-a", 5)).empty());
  EXPECT_EQ(macOf(a, "eth0"), mac);
  EXPECT_NE(output("ip -n " + a + " -o link show eth0").find("mtu 1400"), std::string::npos);
  EXPECT_EQ(output("ip -n " + a + " -o -4 addr show dev eth0"), "");
}

TEST_F(PodWiringTest, AMissingNetnsIsNotFoundAndLeavesNothing) {
  PodNetwork pod = podNetwork("pnt-does-not-exist", "ctr-a", 5);
  auto wired = wiring_->attach(pod);
  ASSERT_FALSE(wired.ok());
  EXPECT_EQ(wired.error().code, Errc::kNotFound);
  EXPECT_NE(wired.error().message.find(pod.netnsPath), std::string::npos);
  EXPECT_TRUE(hostVeths().empty());
  EXPECT_TRUE(nodeRoutesTo(pod).empty());
}

TEST_F(PodWiringTest, AFailureAfterTheVethExistsRollsItBack) {
  // A gateway outside the pod's prefix makes the default route the failing step.
  std::string a = addNetns();
  PodNetwork pod = podNetwork(a, "ctr-a", 5);
  pod.gateway = *Ipv4::parse("192.0.2.1");
  auto wired = wiring_->attach(pod);
  ASSERT_FALSE(wired.ok());
  EXPECT_NE(wired.error().message.find("RTM_NEWROUTE"), std::string::npos) << wired.error().message;
  EXPECT_NE(wired.error().message.find(pod.netnsPath), std::string::npos);
  EXPECT_TRUE(hostVeths().empty());
  EXPECT_EQ(output("ip -n " + a + " -o link show eth0 2>/dev/null"), "");
}

TEST_F(PodWiringTest, SixteenConcurrentAttachesAllSucceedAndAreDistinct) {
  constexpr int kPods = 16;
  std::vector<PodNetwork> pods;
  for (int i = 0; i < kPods; ++i) {
    pods.push_back(podNetwork(addNetns(), "ctr-" + std::to_string(i), 10 + i));
  }
  std::vector<Result<WiredPod>> results(kPods, Error{});
  std::vector<std::thread> threads;
  for (int i = 0; i < kPods; ++i) {
    threads.emplace_back([&, i] { results[i] = wiring_->attach(pods[i]); });
  }
  for (auto& t : threads) t.join();

  std::set<std::string> veths, macs;
  for (int i = 0; i < kPods; ++i) {
    ASSERT_TRUE(results[i].ok()) << results[i].error().message;
    veths.insert(results[i]->hostVeth);
    macs.insert(results[i]->podMac.str());
    auto checked = wiring_->check(pods[i], *results[i]);
    EXPECT_TRUE(checked.ok()) << checked.error().message;
  }
  EXPECT_EQ(veths.size(), size_t{kPods});
  EXPECT_EQ(macs.size(), size_t{kPods});
  EXPECT_EQ(hostVeths().size(), size_t{kPods});
  EXPECT_TRUE(ping(node_, "10.244.0.25"));
}

}  // namespace
}  // namespace podnet::dataplane
