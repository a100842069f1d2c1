#include "netlink/sysctl.h"

#include <gtest/gtest.h>

#include "support/netns_fixture.h"

namespace podnet::netlink {
namespace {

class SysctlTest : public testing::NetnsFixture {};

TEST_F(SysctlTest, WritesTheCallingThreadsNetnsOnly) {
  std::string node = addNetns();
  std::string other = addNetns();
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
