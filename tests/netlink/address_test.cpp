#include "netlink/address.h"

#include <gtest/gtest.h>

#include "netlink/link.h"
#include "support/netns_fixture.h"

namespace podnet::netlink {
namespace {

class AddressTest : public testing::NetnsFixture {
 protected:
  void SetUp() override {
    enterNetns(addNetns());
    auto sock = Socket::open();
    ASSERT_TRUE(sock.ok()) << sock.error().message;
    sock_.emplace(std::move(sock).value());
    ASSERT_TRUE(createBridge(*sock_, "pnt-br").ok());
  }

  std::optional<Socket> sock_;
};

TEST_F(AddressTest, AddingTwiceLeavesOneAddressWithItsPrefix) {
  auto address = *Ipv4Prefix::parse("10.1.0.7/24");
  ASSERT_TRUE(addAddress(*sock_, "pnt-br", address).ok());
  auto again = addAddress(*sock_, "pnt-br", address);
  ASSERT_TRUE(again.ok()) << again.error().message;

  auto listed = listAddresses(*sock_, "pnt-br");
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_EQ(*listed, std::vector<Ipv4Prefix>{address});
  EXPECT_NE(output("ip -o -4 addr show dev pnt-br").find("inet 10.1.0.7/24"), std::string::npos);

  auto onLo = listAddresses(*sock_, "lo");
  ASSERT_TRUE(onLo.ok());
  EXPECT_EQ(*onLo, std::vector<Ipv4Prefix>{*Ipv4Prefix::parse("127.0.0.1/8")});
}

TEST_F(AddressTest, AddingToAMissingLinkIsNotFoundAndNamesIt) {
  auto status = addAddress(*sock_, "pnt-missing", *Ipv4Prefix::parse("10.1.0.7/24"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, Errc::kNotFound);
  EXPECT_NE(status.error().message.find("pnt-missing"), std::string::npos);
}

}  // namespace
}  // namespace podnet::netlink
