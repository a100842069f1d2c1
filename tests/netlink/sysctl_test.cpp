#include "netlink/sysctl.h"

#include <gtest/gtest.h>

#include "support/netns_fixture.h"

namespace podnet::netlink {
namespace {

class SysctlTest : public testing::NetnsFixture {};

TEST_F(SysctlTest, WritesTheCallingThreadsNetnsOnly) {
  std::string node = addNetns();
  std::string other = addNetns();
  // A new namespace may start forwarding (this kernel copies the root namespace's value, and a
  // Kubernetes node forwards): both start at 0 here, so only the write can make node's 1.
  for (const auto& ns : {node, other}) {
    ASSERT_EQ(runIn(ns, "sysctl -q -w net.ipv4.ip_forward=0"), 0) << ns;
  }
  enterNetns(node);
  ASSERT_TRUE(writeSysctl("net/ipv4/ip_forward", "1").ok());
  EXPECT_EQ(output("ip netns exec " + node + " cat /proc/sys/net/ipv4/ip_forward"), "1\n");
  EXPECT_EQ(output("ip netns exec " + other + " cat /proc/sys/net/ipv4/ip_forward"), "0\n");
}

TEST_F(SysctlTest, AMissingKeyIsNotFoundAndNamesIt) {
  enterNetns(addNetns());
  auto status = writeSysctl("net/ipv4/conf/pnt-missing/proxy_arp", "1");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kNotFound);
  EXPECT_NE(status.error().message.find("net/ipv4/conf/pnt-missing/proxy_arp"), std::string::npos);
}

}  // namespace
}  // namespace podnet::netlink
