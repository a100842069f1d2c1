#include "netlink/route.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "netlink/address.h"
#include "netlink/link.h"
#include "support/netns_fixture.h"

namespace podnet::netlink {
namespace {

Ipv4Prefix prefix(const char* text) {
  return *Ipv4Prefix::parse(text);
}
Ipv4 ip(const char* text) {
  return *Ipv4::parse(text);
}

class RouteTest : public testing::NetnsFixture {
 protected:
  void SetUp() override {
    enterNetns(addNetns());
    auto sock = Socket::open();
    ASSERT_TRUE(sock.ok()) << sock.error().message;
    sock_.emplace(std::move(sock).value());
    ASSERT_TRUE(createBridge(*sock_, "pnt-br").ok());
    ASSERT_TRUE(addAddress(*sock_, "pnt-br", prefix("10.1.0.1/24")).ok());
    ASSERT_TRUE(setLinkUp(*sock_, "pnt-br").ok());
  }

  std::vector<RouteSpec> routesTo(const Ipv4Prefix& dst) {
    auto routes = listRoutes(*sock_);
    EXPECT_TRUE(routes.ok()) << routes.error().message;
    std::vector<RouteSpec> out;
    if (!routes.ok()) return out;
    std::copy_if(routes->begin(), routes->end(), std::back_inserter(out),
                 [&](const RouteSpec& r) { return r.dst == dst; });
    return out;
  }

  std::optional<Socket> sock_;
};

TEST_F(RouteTest, ReplaceAddsThenReplacesInPlace) {
  RouteSpec viaTwo{prefix("10.2.0.0/16"), ip("10.1.0.2"), "pnt-br", false};
  ASSERT_TRUE(replaceRoute(*sock_, viaTwo).ok());
  EXPECT_EQ(routesTo(viaTwo.dst), std::vector<RouteSpec>{viaTwo});

  RouteSpec viaThree{prefix("10.2.0.0/16"), ip("10.1.0.3"), "", false};
  auto replaced = replaceRoute(*sock_, viaThree);
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  viaThree.dev = "pnt-br";  // the kernel found the link from the gateway
  EXPECT_EQ(routesTo(viaThree.dst), std::vector<RouteSpec>{viaThree});
  EXPECT_NE(output("ip route show 10.2.0.0/16").find("via 10.1.0.3 dev pnt-br"), std::string::npos);
}

TEST_F(RouteTest, LinkScopeHostRouteIsListedAsSuch) {
  RouteSpec host{prefix("10.3.0.5/32"), std::nullopt, "pnt-br", true};
  ASSERT_TRUE(replaceRoute(*sock_, host).ok());
  EXPECT_EQ(routesTo(host.dst), std::vector<RouteSpec>{host});
  std::string shown = output("ip route show 10.3.0.5");
  EXPECT_NE(shown.find("10.3.0.5 dev pnt-br"), std::string::npos) << shown;
  EXPECT_NE(shown.find("scope link"), std::string::npos) << shown;
  // The connected route the kernel made for the address is there too.
  EXPECT_EQ(routesTo(prefix("10.1.0.0/24")),
            (std::vector<RouteSpec>{{prefix("10.1.0.0/24"), std::nullopt, "pnt-br", true}}));
}

TEST_F(RouteTest, DeleteRemovesAndDeletingAbsentRoutesSucceeds) {
  RouteSpec route{prefix("10.2.0.0/16"), ip("10.1.0.2"), "pnt-br", false};
  ASSERT_TRUE(replaceRoute(*sock_, route).ok());
  ASSERT_TRUE(deleteRoute(*sock_, route).ok());
  EXPECT_TRUE(routesTo(route.dst).empty());

  auto again = deleteRoute(*sock_, route);
  EXPECT_TRUE(again.ok()) << again.error().message;
  auto missingDev = deleteRoute(*sock_, {prefix("10.9.0.0/16"), std::nullopt, "pnt-gone", true});
  EXPECT_TRUE(missingDev.ok()) << missingDev.error().message;
}

TEST_F(RouteTest, AnUnreachableGatewayIsAKernelErrorNamingTheRoute) {
  auto status = replaceRoute(*sock_, {prefix("10.2.0.0/16"), ip("192.0.2.1"), "pnt-br", false});
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kKernel) << status.error().message;
  EXPECT_NE(status.error().message.find("route 10.2.0.0/16 via 192.0.2.1 dev pnt-br: RTM_NEWROUTE"),
            std::string::npos)
      << status.error().message;
}

}  // namespace
}  // namespace podnet::netlink
