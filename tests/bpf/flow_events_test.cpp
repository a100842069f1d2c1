#include "bpf/flow_events.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>

#include "bpf/policy_maps.h"
#include "flows/flow_json.h"

namespace podnet::bpf {
namespace {

TEST(FlowEventTest, DecodesEveryFieldToHostOrderAndWallClock) {
  pn_flow_event raw{};
  raw.time_ns = 5'000'000'000;
  raw.policy_revision = 42;
  raw.ifindex = 7;
  raw.endpoint_id = 11;
  raw.src_identity = 2000;
  raw.dst_identity = 1000;
  raw.saddr = htonl(Ipv4::parse("10.244.0.20")->value);
  raw.daddr = htonl(Ipv4::parse("10.244.0.10")->value);
  raw.sport = htons(40000);
  raw.dport = htons(80);
  raw.policy_id = 9;
  raw.pkt_len = 70;
  raw.protocol = 6;
  raw.tcp_flags = 0x12;
  raw.direction = PN_DIR_INGRESS;
  raw.verdict = PN_VERDICT_DROPPED;
  raw.drop_reason = PN_DROP_POLICY_DENY;
  raw.match = PN_MATCH_POLICY_DENY;

  auto resolver = [](Ipv4 ip) -> std::optional<PodRef> {
    if (ip.str() == "10.244.0.10") return PodRef{"shop", "cart-1"};
    return std::nullopt;
  };
  FlowEvent ev = decodeFlowEvent(raw, "node-a", 1'000'000'000, resolver);
  EXPECT_EQ(ev.time.time_since_epoch(), std::chrono::seconds(6));
  EXPECT_EQ(ev.node, "node-a");
  EXPECT_EQ(ev.src.str(), "10.244.0.20");
  EXPECT_EQ(ev.dst.str(), "10.244.0.10");
  EXPECT_EQ(ev.srcPort, 40000);
  EXPECT_EQ(ev.dstPort, 80);
  EXPECT_EQ(ev.srcIdentity, 2000u);
  EXPECT_EQ(ev.dstIdentity, 1000u);
  EXPECT_FALSE(ev.srcPod.has_value());
  EXPECT_EQ(ev.dstPod, (PodRef{"shop", "cart-1"}));
  EXPECT_EQ(ev.verdict, PN_VERDICT_DROPPED);
  EXPECT_EQ(ev.dropReason, PN_DROP_POLICY_DENY);
  EXPECT_EQ(ev.policyId, 9u);
  EXPECT_EQ(ev.policyRevision, 42u);
  EXPECT_EQ(flows::tcpFlagsText(ev.tcpFlags), "SYN|ACK");
  EXPECT_STREQ(flows::dropReasonText(ev.dropReason), "policy-deny");
}

// Every match and drop reason the program can send decodes as itself; one this build does not
// know (a newer program's) as __MAX, named "unknown", never as another value.
TEST(FlowEventTest, DecodesEveryMatchAndDropReasonAndNoOther) {
  pn_flow_event raw{};
  for (int v = 0; v < PN_MATCH__MAX; ++v) {
    raw.match = static_cast<__u8>(v);
    EXPECT_EQ(decodeFlowEvent(raw, "n", 0, {}).match, v);
  }
  for (int v = 0; v < PN_DROP__MAX; ++v) {
    raw.drop_reason = static_cast<__u8>(v);
    EXPECT_EQ(decodeFlowEvent(raw, "n", 0, {}).dropReason, v);
  }
  raw.match = PN_MATCH__MAX + 1;
  raw.drop_reason = PN_DROP__MAX + 1;
  FlowEvent ev = decodeFlowEvent(raw, "n", 0, {});
  EXPECT_EQ(ev.match, PN_MATCH__MAX);
  EXPECT_EQ(ev.dropReason, PN_DROP__MAX);
  EXPECT_STREQ(flows::matchName(ev.match), "unknown");
  EXPECT_STREQ(flows::dropReasonText(ev.dropReason), "unknown");
}

}  // namespace
}  // namespace podnet::bpf
