#include "common/mac.h"

#include <gtest/gtest.h>

namespace podnet {
namespace {

TEST(MacAddressTest, ParsesEitherCaseAndFormatsLowerCase) {
  auto mac = MacAddress::parse("0A:1b:2C:3d:4E:ff");
  ASSERT_TRUE(mac.ok()) << mac.error().message;
  EXPECT_EQ(mac->bytes, (std::array<uint8_t, 6>{0x0a, 0x1b, 0x2c, 0x3d, 0x4e, 0xff}));
  EXPECT_EQ(mac->str(), "0a:1b:2c:3d:4e:ff");
  EXPECT_EQ(MacAddress::parse(mac->str())->bytes, mac->bytes);
}

TEST(MacAddressTest, RefusesAnythingButSixColonSeparatedOctets) {
  for (const char* bad : {"", "0a:1b:2c:3d:4e", "0a:1b:2c:3d:4e:5f:", "0a-1b-2c-3d-4e-5f",
                          "0a:1b:2c:3d:4e:5g", "a:1b:2c:3d:4e:5f0", "0a:1b:2c:3d:4e:5 "}) {
    auto mac = MacAddress::parse(bad);
    ASSERT_FALSE(mac.ok()) << bad;
    EXPECT_NE(mac.error().message.find(bad), std::string::npos) << mac.error().message;
  }
}

}  // namespace
}  // namespace podnet
