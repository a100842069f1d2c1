#include "bpf/policy_entries.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <set>

namespace podnet::bpf {
namespace {

// Every port a set of keys matches, by brute force over the 16-bit space.
std::set<uint32_t> portsOf(const std::vector<PolicyKey>& keys) {
  std::set<uint32_t> out;
  for (uint32_t port = 0; port <= 0xffff; ++port) {
    PolicyKey probe;
    probe.subject = 100;
    probe.peer = 200;
    probe.protocol = 6;
    probe.port = static_cast<uint16_t>(port);
    probe.portBits = 16;
    for (const auto& k : keys) {
      if (probe.within(k)) out.insert(port);
    }
  }
  return out;
}

TEST(PolicyKeysTest, PortRangeBecomesAlignedBlocksCoveringExactlyTheRange) {
  struct Range {
    uint16_t lo, hi;
  };
  for (Range r : {Range{80, 80}, Range{8000, 8080}, Range{1, 65535}, Range{1024, 2047},
                  Range{32768, 60999}, Range{65535, 65535}}) {
    auto keys = policyKeys(100, 200, PN_DIR_INGRESS, PortRange{6, r.lo, r.hi});
    ASSERT_TRUE(keys.ok()) << keys.error().message;
    EXPECT_LE(keys->size(), 30u) << r.lo << "-" << r.hi;
    std::set<uint32_t> want;
    for (uint32_t p = r.lo; p <= r.hi; ++p) want.insert(p);
    EXPECT_EQ(portsOf(*keys), want) << r.lo << "-" << r.hi;
  }
}

TEST(PolicyKeysTest, NoPortOrNoProtocolIsOneWildcardKey) {
  auto anyPort = policyKeys(1, 2, PN_DIR_EGRESS, PortRange{17, 0, 0});
  ASSERT_TRUE(anyPort.ok());
  ASSERT_EQ(anyPort->size(), 1u);
  EXPECT_EQ((*anyPort)[0].raw().prefixlen, uint32_t{PN_POLICY_PREFIX_PORT});
  auto anyProto = policyKeys(1, 2, PN_DIR_EGRESS, PortRange{});
  ASSERT_TRUE(anyProto.ok());
  ASSERT_EQ(anyProto->size(), 1u);
  EXPECT_EQ((*anyProto)[0].raw().prefixlen, uint32_t{PN_POLICY_PREFIX_PROTO});
}

TEST(PolicyKeysTest, EndPortBelowPortIsRejected) {
  auto keys = policyKeys(1, 2, PN_DIR_EGRESS, PortRange{6, 90, 80});
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.error().code, Errc::kInvalidArgument);
}

TEST(PolicyKeyTest, RawRoundTripsAndPortIsNetworkOrder) {
  PolicyKey key{300, 400, PN_DIR_EGRESS, uint8_t{6}, 8080, 16};
  pn_policy_key raw = key.raw();
  EXPECT_EQ(raw.prefixlen, uint32_t{PN_POLICY_PREFIX_FULL});
  EXPECT_EQ(raw.dport, htons(8080));
  EXPECT_EQ(PolicyKey::fromRaw(raw), key);
}

PolicyEntry entry(uint32_t peer, std::optional<uint8_t> proto, uint16_t port, uint8_t bits,
                  pn_policy_action action, uint32_t id) {
  return PolicyEntry{PolicyKey{1000, peer, PN_DIR_INGRESS, proto, port, bits}, action, id};
}

TEST(ResolveDenyPrecedenceTest, AllowInsideADenyOfTheSamePeerBecomesThatDeny) {
  auto out = resolveDenyPrecedence({
      entry(2000, 6, 80, 16, PN_POLICY_ALLOW, 1),          // inside the deny below
      entry(2000, 6, 0, 0, PN_POLICY_DENY, 2),             // TCP, any port
      entry(2000, 17, 53, 16, PN_POLICY_ALLOW, 3),         // UDP: untouched
      entry(3000, 6, 80, 16, PN_POLICY_ALLOW, 4),          // other peer: untouched
      entry(2000, std::nullopt, 0, 0, PN_POLICY_ALLOW, 5)  // broader than the deny: untouched
  });
  ASSERT_EQ(out.size(), 5u);
  for (const auto& e : out) {
    if (e.key.peer == 2000 && e.key.protocol == 6) {
      EXPECT_EQ(e.action, PN_POLICY_DENY);
      EXPECT_EQ(e.policyId, 2u);
    } else {
      EXPECT_EQ(e.action, PN_POLICY_ALLOW);
    }
  }
}

TEST(ResolveDenyPrecedenceTest, DuplicateKeysKeepTheDenyThenTheLowestPolicyId) {
  auto out = resolveDenyPrecedence(
      {entry(2000, 6, 80, 16, PN_POLICY_ALLOW, 7), entry(2000, 6, 80, 16, PN_POLICY_ALLOW, 3),
       entry(2000, 6, 443, 16, PN_POLICY_ALLOW, 1), entry(2000, 6, 443, 16, PN_POLICY_DENY, 9)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].key.port, 80);
  EXPECT_EQ(out[0].policyId, 3u);
  EXPECT_EQ(out[1].key.port, 443);
  EXPECT_EQ(out[1].action, PN_POLICY_DENY);
  EXPECT_EQ(out[1].policyId, 9u);
}

}  // namespace
}  // namespace podnet::bpf
