#include "common/ip.h"

#include <gtest/gtest.h>

namespace podnet {
namespace {

TEST(Ipv4Test, ParsesAndFormats) {
  auto ip = Ipv4::parse("10.244.0.5");
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(ip->value, 0x0AF40005u);
  EXPECT_EQ(ip->str(), "10.244.0.5");
}

TEST(Ipv4Test, RejectsJunkWithTheTextInTheMessage) {
  for (const char* bad : {"", "10.244.0", "10.244.0.256", "10.244.0.5 ", "a.b.c.d", "1.2.3.4.5"}) {
    auto ip = Ipv4::parse(bad);
    ASSERT_FALSE(ip.ok()) << bad;
    EXPECT_EQ(ip.error().code, Errc::kInvalidArgument);
    EXPECT_NE(ip.error().message.find(bad), std::string::npos) << ip.error().message;
  }
}

TEST(Ipv4PrefixTest, KeepsHostBitsButKnowsTheNetwork) {
  auto p = Ipv4Prefix::parse("10.244.3.7/16");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->str(), "10.244.3.7/16");
  EXPECT_EQ(p->network().str(), "10.244.0.0");
  EXPECT_EQ(p->broadcast().str(), "10.244.255.255");
  EXPECT_EQ(p->size(), 65536u);
  EXPECT_TRUE(p->contains(*Ipv4::parse("10.244.200.1")));
  EXPECT_FALSE(p->contains(*Ipv4::parse("10.245.0.1")));
}

TEST(Ipv4PrefixTest, ZeroAndFullLengths) {
  auto all = Ipv4Prefix::parse("0.0.0.0/0");
  ASSERT_TRUE(all.ok());
  EXPECT_TRUE(all->contains(*Ipv4::parse("192.0.2.1")));
  auto host = Ipv4Prefix::parse("192.0.2.1/32");
  ASSERT_TRUE(host.ok());
  EXPECT_EQ(host->size(), 1u);
}

TEST(Ipv4PrefixTest, RejectsBadLengths) {
  for (const char* bad : {"10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/8x"}) {
    EXPECT_FALSE(Ipv4Prefix::parse(bad).ok()) << bad;
  }
}

TEST(Ipv4PrefixTest, Overlaps) {
  auto a = *Ipv4Prefix::parse("10.244.0.0/16");
  EXPECT_TRUE(a.overlaps(*Ipv4Prefix::parse("10.244.8.0/24")));
  EXPECT_TRUE(a.overlaps(*Ipv4Prefix::parse("10.0.0.0/8")));
  EXPECT_FALSE(a.overlaps(*Ipv4Prefix::parse("10.245.0.0/16")));
}

}  // namespace
}  // namespace podnet
