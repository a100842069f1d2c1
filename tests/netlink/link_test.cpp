#include "netlink/link.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "support/netns_fixture.h"

namespace podnet::netlink {
namespace {

class LinkTest : public testing::NetnsFixture {
 protected:
  void SetUp() override {
    node_ = addNetns();
    pod_ = addNetns();
    enterNetns(node_);
    auto sock = Socket::open();
    ASSERT_TRUE(sock.ok()) << sock.error().message;
    sock_.emplace(std::move(sock).value());
    auto pod = Netns::open(netnsPath(pod_));
    ASSERT_TRUE(pod.ok()) << pod.error().message;
    podNs_.emplace(std::move(pod).value());
    auto podSock = Socket::openIn(*podNs_);
    ASSERT_TRUE(podSock.ok()) << podSock.error().message;
    podSock_.emplace(std::move(podSock).value());
  }

  std::optional<LinkInfo> find(Socket& sock, const std::string& name) {
    auto link = findLink(sock, name);
    EXPECT_TRUE(link.ok()) << link.error().message;
    return link.ok() ? *link : std::nullopt;
  }

  std::string node_, pod_;
  std::optional<Socket> sock_, podSock_;
  std::optional<Netns> podNs_;
};

TEST_F(LinkTest, VethPeerIsCreatedInTheOtherNetnsWithItsFinalName) {
  {
    auto created = createVethPair(*sock_, "pnt-host", "eth0", *podNs_, 1400);
    ASSERT_TRUE(created.ok()) << created.error().message;
  }

  auto host = find(*sock_, "pnt-host");
  ASSERT_TRUE(host);
  EXPECT_EQ(host->kind, "veth");
  EXPECT_EQ(host->mtu, 1400);
  EXPECT_TRUE(host->up);
  EXPECT_EQ(host->mac.size(), 17u);
  auto peer = find(*podSock_, "eth0");
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->kind, "veth");
  EXPECT_EQ(peer->mtu, 1400);
  EXPECT_FALSE(peer->up);
  EXPECT_FALSE(find(*sock_, "eth0"));
  EXPECT_FALSE(find(*podSock_, "pnt-host"));
  ASSERT_TRUE(setLinkUp(*podSock_, "eth0").ok());
  EXPECT_TRUE(find(*podSock_, "eth0")->up);
  // Setting UP must not clear the link's other flags.
  EXPECT_NE(output("ip -n " + pod_ + " -o link show eth0").find("MULTICAST"), std::string::npos);
  EXPECT_NE(output("ip -n " + pod_ + " -o link show eth0").find(peer->mac), std::string::npos);
}

TEST_F(LinkTest, VethWhosePeerNameIsTakenIsAlreadyExistsAndNamesTheVeth) {
  ASSERT_EQ(run("ip -n " + pod_ + " link add eth0 type veth peer name pnt-other"), 0);
  auto status = createVethPair(*sock_, "pnt-host", "eth0", *podNs_, 1500);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kAlreadyExists);
  EXPECT_NE(status.error().message.find("veth pnt-host: RTM_NEWLINK: File exists"),
            std::string::npos)
      << status.error().message;
  EXPECT_FALSE(find(*sock_, "pnt-host"));
}

TEST_F(LinkTest, DeletingOneEndRemovesBothAndDeletingAgainSucceeds) {
  {
    auto created = createVethPair(*sock_, "pnt-host", "eth0", *podNs_, 1500);
    ASSERT_TRUE(created.ok()) << created.error().message;
  }
  ASSERT_TRUE(deleteLink(*sock_, "pnt-host").ok());
  EXPECT_FALSE(find(*sock_, "pnt-host"));
  EXPECT_FALSE(find(*podSock_, "eth0"));
  auto again = deleteLink(*sock_, "pnt-host");
  EXPECT_TRUE(again.ok()) << again.error().message;
}

TEST_F(LinkTest, BridgeCreationIsIdempotentAndUpAndMtuStick) {
  ASSERT_TRUE(createBridge(*sock_, "pnt-br").ok());
  auto again = createBridge(*sock_, "pnt-br");
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto bridge = find(*sock_, "pnt-br");
  ASSERT_TRUE(bridge);
  EXPECT_EQ(bridge->kind, "bridge");
  EXPECT_FALSE(bridge->up);

  ASSERT_TRUE(setLinkUp(*sock_, "pnt-br").ok());
  ASSERT_TRUE(setLinkMtu(*sock_, "pnt-br", 1450).ok());
  bridge = find(*sock_, "pnt-br");
  ASSERT_TRUE(bridge);
  EXPECT_TRUE(bridge->up);
  EXPECT_EQ(bridge->mtu, 1450);
  EXPECT_NE(output("ip -o link show pnt-br").find("MULTICAST"), std::string::npos);

  auto links = listLinks(*sock_);
  ASSERT_TRUE(links.ok()) << links.error().message;
  std::vector<std::string> names;
  for (const auto& link : *links) names.push_back(link.name);
  EXPECT_NE(std::find(names.begin(), names.end(), "lo"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "pnt-br"), names.end());
}

TEST_F(LinkTest, ChangingAMissingLinkIsNotFoundAndNamesIt) {
  auto status = setLinkUp(*sock_, "pnt-missing");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kNotFound);
  EXPECT_NE(status.error().message.find("pnt-missing"), std::string::npos);
}

TEST_F(LinkTest, ProxyArpIsSetOnThatLinkOnly) {
  {
    auto created = createVethPair(*sock_, "pnt-host", "eth0", *podNs_, 1500);
    ASSERT_TRUE(created.ok()) << created.error().message;
  }
  ASSERT_TRUE(setProxyArp(*sock_, "pnt-host", true).ok());
  EXPECT_EQ(output("cat /proc/sys/net/ipv4/conf/pnt-host/proxy_arp"), "1\n");
  EXPECT_EQ(output("ip netns exec " + pod_ + " cat /proc/sys/net/ipv4/conf/eth0/proxy_arp"), "0\n");
  auto host = find(*sock_, "pnt-host");
  ASSERT_TRUE(host);
  auto delayed = setProxyArpDelay(*sock_, "pnt-host", host->index, 0);
  ASSERT_TRUE(delayed.ok()) << delayed.error().message;
  EXPECT_EQ(output("cat /proc/sys/net/ipv4/neigh/pnt-host/proxy_delay"), "0\n");
  EXPECT_NE(output("cat /proc/sys/net/ipv4/neigh/lo/proxy_delay"), "0\n");
  ASSERT_TRUE(setProxyArp(*sock_, "pnt-host", false).ok());
  EXPECT_EQ(output("cat /proc/sys/net/ipv4/conf/pnt-host/proxy_arp"), "0\n");
}

}  // namespace
}  // namespace podnet::netlink
