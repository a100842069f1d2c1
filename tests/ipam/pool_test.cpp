#include "ipam/pool.h"

#include <gtest/gtest.h>

namespace podnet::ipam {
namespace {

Ipv4 ip(const char* text) {
  return *Ipv4::parse(text);
}

PoolConfig config(const char* cidr) {
  PoolConfig c;
  c.cidr = *Ipv4Prefix::parse(cidr);
  return c;
}

void expectInvalid(const PoolConfig& c, const std::string& fragment) {
  auto pool = Pool::create(c);
  ASSERT_FALSE(pool.ok()) << fragment;
  EXPECT_EQ(pool.error().code, Errc::kInvalidArgument);
  EXPECT_NE(pool.error().message.find(fragment), std::string::npos) << pool.error().message;
}

TEST(IpRangeTest, ParsesTheThreeForms) {
  auto single = IpRange::parse("10.244.0.10");
  ASSERT_TRUE(single.ok());
  EXPECT_EQ(*single, (IpRange{ip("10.244.0.10"), ip("10.244.0.10")}));
  auto span = IpRange::parse("10.244.0.10..10.244.0.20");
  ASSERT_TRUE(span.ok());
  EXPECT_EQ(*span, (IpRange{ip("10.244.0.10"), ip("10.244.0.20")}));
  EXPECT_TRUE(span->contains(ip("10.244.0.20")));
  EXPECT_FALSE(span->contains(ip("10.244.0.21")));
  auto cidr = IpRange::parse("10.244.1.7/24");
  ASSERT_TRUE(cidr.ok());
  EXPECT_EQ(*cidr, (IpRange{ip("10.244.1.0"), ip("10.244.1.255")}));
  EXPECT_EQ(span->str(), "10.244.0.10..10.244.0.20");
  EXPECT_EQ(single->str(), "10.244.0.10");
}

TEST(IpRangeTest, RejectsJunkNamingTheText) {
  for (const char* bad : {"", "10.0.0.1..", "..10.0.0.1", "10.0.0.9..10.0.0.1", "10.0.0.0/33",
                          "10.0.0.1...10.0.0.2", "x"}) {
    auto range = IpRange::parse(bad);
    ASSERT_FALSE(range.ok()) << bad;
    EXPECT_EQ(range.error().code, Errc::kInvalidArgument);
    EXPECT_NE(range.error().message.find(std::string("range \"") + bad + "\""), std::string::npos)
        << range.error().message;
  }
}

TEST(PoolTest, MasksHostBitsAndDefaultsTheGateway) {
  auto pool = Pool::create(config("10.244.3.7/16"));
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  EXPECT_EQ(pool->config().cidr.str(), "10.244.0.0/16");
  EXPECT_EQ(pool->gateway(), ip("10.244.0.1"));
  EXPECT_EQ(pool->config().gateway, ip("10.244.0.1"));
  EXPECT_EQ(pool->capacity(), 65536u - 3);
  EXPECT_EQ(pool->interfaceAddress(ip("10.244.9.9")).str(), "10.244.9.9/16");
}

TEST(PoolTest, UsableExcludesNetworkBroadcastGatewayAndExcludes) {
  PoolConfig c = config("10.0.0.0/24");
  c.gateway = ip("10.0.0.254");
  c.exclude = {*IpRange::parse("10.0.0.10..10.0.0.19"), *IpRange::parse("10.0.0.100")};
  auto pool = Pool::create(c);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  for (const char* no : {"10.0.0.0", "10.0.0.255", "10.0.0.254", "10.0.0.10", "10.0.0.15",
                         "10.0.0.19", "10.0.0.100", "10.0.1.1", "9.255.255.255"}) {
    EXPECT_FALSE(pool->usable(ip(no))) << no;
  }
  for (const char* yes :
       {"10.0.0.1", "10.0.0.9", "10.0.0.20", "10.0.0.99", "10.0.0.101", "10.0.0.253"}) {
    EXPECT_TRUE(pool->usable(ip(yes))) << yes;
  }
  EXPECT_EQ(pool->capacity(), 256u - 3 - 10 - 1);
}

TEST(PoolTest, CapacityCountsOverlappingExcludesOnce) {
  PoolConfig c = config("10.0.0.0/24");
  // Overlapping and adjacent ranges, one covering the network address, one the gateway.
  c.exclude = {*IpRange::parse("10.0.0.0..10.0.0.9"), *IpRange::parse("10.0.0.5..10.0.0.14"),
               *IpRange::parse("10.0.0.15..10.0.0.16"), *IpRange::parse("10.0.0.16")};
  auto pool = Pool::create(c);
  ASSERT_TRUE(pool.ok()) << pool.error().message;
  // 10.0.0.0..16 are gone (17 addresses incl. network and gateway), plus the broadcast.
  EXPECT_EQ(pool->capacity(), 256u - 17 - 1);
  uint64_t counted = 0;
  for (uint32_t v = ip("10.0.0.0").value; v <= ip("10.0.0.255").value; ++v) {
    counted += pool->usable(Ipv4{v});
  }
  EXPECT_EQ(counted, pool->capacity());
}

TEST(PoolTest, SmallestPoolIsASlash30) {
  auto pool = Pool::create(config("192.168.7.4/30"));
  ASSERT_TRUE(pool.ok());
  EXPECT_EQ(pool->capacity(), 1u);
  EXPECT_TRUE(pool->usable(ip("192.168.7.6")));
  expectInvalid(config("192.168.7.4/31"), "pool default: cidr 192.168.7.4/31 is too small");
}

TEST(PoolTest, ValidationErrorsNameThePoolAndTheField) {
  PoolConfig c = config("10.244.0.0/16");
  c.gateway = ip("10.0.0.1");
  expectInvalid(c, "pool default: gateway 10.0.0.1 is outside cidr 10.244.0.0/16");

  c.gateway = ip("10.244.0.0");
  expectInvalid(c, "pool default: gateway 10.244.0.0 is the network address");
  c.gateway = ip("10.244.255.255");
  expectInvalid(c, "pool default: gateway 10.244.255.255 is the broadcast address");

  c = config("10.244.0.0/16");
  c.name = "blue";
  c.exclude = {*IpRange::parse("10.244.255.250..10.245.0.5")};
  expectInvalid(c, "pool blue: exclude 10.244.255.250..10.245.0.5 is outside cidr 10.244.0.0/16");

  c.exclude = {IpRange{ip("10.244.0.9"), ip("10.244.0.5")}};
  expectInvalid(c, "pool blue: exclude 10.244.0.9..10.244.0.5: first address is after last");

  c = config("10.244.0.0/16");
  c.name = "a/b";
  expectInvalid(c, "pool a/b: name");
  c.name = "";
  expectInvalid(c, "name must be non-empty");
}

}  // namespace
}  // namespace podnet::ipam
