#include "dataplane/node_network.h"

#include <gtest/gtest.h>

#include "netlink/address.h"
#include "netlink/link.h"
#include "support/netns_fixture.h"

namespace podnet::dataplane {
namespace {

class NodeNetworkTest : public testing::NetnsFixture {};

TEST_F(NodeNetworkTest, EnsuringTwiceGivesOneUpBridgeWithTheGatewayAndForwarding) {
  std::string node = addNetns();
  enterNetns(node);
  NodeNetwork network{"podnet0", *Ipv4Prefix::parse("10.244.0.1/16")};
  ASSERT_TRUE(ensureNodeNetwork(network).ok());
  auto again = ensureNodeNetwork(network);
  ASSERT_TRUE(again.ok()) << again.error().message;

  auto sock = netlink::Socket::open();
  ASSERT_TRUE(sock.ok());
  auto bridge = netlink::findLink(*sock, "podnet0");
  ASSERT_TRUE(bridge.ok() && bridge->has_value());
  EXPECT_EQ((*bridge)->kind, "bridge");
  EXPECT_TRUE((*bridge)->up);
  auto addresses = netlink::listAddresses(*sock, "podnet0");
  ASSERT_TRUE(addresses.ok());
  EXPECT_EQ(*addresses, std::vector<Ipv4Prefix>{network.gateway});
  EXPECT_EQ(output("cat /proc/sys/net/ipv4/ip_forward"), "1\n");
  // The pool is reachable through the bridge: the connected route exists.
  EXPECT_NE(output("ip route show 10.244.0.0/16").find("dev podnet0"), std::string::npos);
}

}  // namespace
}  // namespace podnet::dataplane
