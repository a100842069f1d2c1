// The pod device program under BPF_PROG_RUN: each case is map contents, then packets run through
// one of the two programs with the verdict and the flow event each must produce.
#include <bpf/bpf.h>
#include <linux/pkt_cls.h>

#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "bpf/policy_entries.h"
#include "bpf_fixture.h"
#include "flows/flow_json.h"
#include "packets.h"

namespace podnet::bpf::testing {
namespace {

// BPF_PROG_RUN runs tc programs on the loopback device of the caller's netns: ifindex 1.
constexpr uint32_t kIfindex = 1;
constexpr uint32_t kEndpointId = 11;

constexpr uint32_t kPodA = 1000;                        // the endpoint under test, 10.244.0.10
constexpr uint32_t kPodB = 2000;                        // a pod on the same node, 10.244.0.20
constexpr uint32_t kPodC = 3000;                        // a pod on another node, 10.244.1.5
constexpr uint32_t kCidr = PN_IDENTITY_LOCAL_CIDR | 1;  // 192.0.2.0/24
constexpr uint32_t kCidrExcept = PN_IDENTITY_LOCAL_CIDR | 2;  // 192.0.2.128/25 (its except)
// pn_ipblocks: an ipBlock over the pods and the node (10.244.0.0/16), and its except (pod B).
constexpr uint32_t kIpBlock = PN_IDENTITY_LOCAL_IPBLOCK | 1;        // 10.244.0.0/16
constexpr uint32_t kIpBlockExcept = PN_IDENTITY_LOCAL_IPBLOCK | 2;  // 10.244.0.20/32

const char* const kA = "10.244.0.10";
const char* const kB = "10.244.0.20";
const char* const kC = "10.244.1.5";
const char* const kNode = "10.244.0.1";

enum class Hook { kFromPod, kToPod };

struct Expect {
  int verdict = TC_ACT_OK;
  pn_match match = PN_MATCH_NONE;
  pn_drop_reason reason = PN_DROP_NONE;
  uint32_t policyId = 0;
  bool event = true;
};

Expect forwarded(pn_match match, uint32_t policyId = 0) {
  return Expect{TC_ACT_OK, match, PN_DROP_NONE, policyId, true};
}
Expect dropped(pn_drop_reason reason, uint32_t policyId = 0) {
  pn_match match = reason == PN_DROP_POLICY_DENY      ? PN_MATCH_POLICY_DENY
                   : reason == PN_DROP_POLICY_DEFAULT ? PN_MATCH_DEFAULT_DENY
                                                      : PN_MATCH_INVALID;
  return Expect{TC_ACT_SHOT, match, reason, policyId, true};
}
Expect silent() {
  return Expect{TC_ACT_OK, PN_MATCH_NONE, PN_DROP_NONE, 0, false};
}

struct Step {
  std::string what;
  Hook hook;
  Packet packet;
  Expect expect;
  std::function<void(PolicyMaps&)> before = {};  // a map change before this packet
};

enum Enforce { kNone = 0, kIngress = 1, kEgress = 2, kBoth = 3 };

struct Case {
  std::string name;
  std::vector<Step> steps;
  Enforce enforce = kNone;
  std::vector<PolicyEntry> policies = {};
  pn_enforcement_mode mode = PN_ENFORCE_DEFAULT;
  bool endpoint = true;
  bool hostDevice = false;  // the device under test is a node device (identity host)
  Enforce host = kNone;     // the host endpoint (PN_HOST_ENDPOINT_KEY) enforces this
  uint16_t tunnelPort = 0;  // pn_config.tunnel_port (host byte order here)
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.name;
}

PolicyEntry rule(pn_policy_action action, pn_direction dir, uint32_t peer,
                 std::optional<uint8_t> proto, uint16_t port, uint32_t id) {
  return PolicyEntry{PolicyKey{kPodA, peer, dir, proto, port, uint8_t(port == 0 ? 0 : 16)}, action,
                     id};
}
PolicyEntry allowIn(uint32_t peer, std::optional<uint8_t> proto, uint16_t port, uint32_t id) {
  return rule(PN_POLICY_ALLOW, PN_DIR_INGRESS, peer, proto, port, id);
}
PolicyEntry allowOut(uint32_t peer, std::optional<uint8_t> proto, uint16_t port, uint32_t id) {
  return rule(PN_POLICY_ALLOW, PN_DIR_EGRESS, peer, proto, port, id);
}
PolicyEntry denyIn(uint32_t peer, std::optional<uint8_t> proto, uint16_t port, uint32_t id) {
  return rule(PN_POLICY_DENY, PN_DIR_INGRESS, peer, proto, port, id);
}
PolicyEntry hostAllowIn(uint32_t peer, uint8_t proto, uint16_t port, uint32_t id) {
  return PolicyEntry{PolicyKey{PN_IDENTITY_HOST, peer, PN_DIR_INGRESS, proto, port, 16},
                     PN_POLICY_ALLOW, id};
}
std::vector<PolicyEntry> rangeIn(uint32_t peer, uint8_t proto, uint16_t lo, uint16_t hi,
                                 uint32_t id) {
  std::vector<PolicyEntry> out;
  auto keys = policyKeys(kPodA, peer, PN_DIR_INGRESS, PortRange{proto, lo, hi});
  for (const auto& key : keys.value()) {
    out.push_back(PolicyEntry{key, PN_POLICY_ALLOW, id});
  }
  return out;
}

// Pod A's endpoint entry (on the device under test) as enforcing `enforce` from now on.
void enforceOnA(PolicyMaps& maps, Enforce enforce) {
  Endpoint ep{kEndpointId,     kPodA, 0, (enforce & kIngress) != 0, (enforce & kEgress) != 0,
              *Ipv4::parse(kA)};
  ASSERT_TRUE(maps.setEndpoint(kIfindex, ep).ok());
}

std::vector<Case> cases() {
  const auto in = Hook::kToPod;     // towards pod A (its ingress)
  const auto out = Hook::kFromPod;  // from pod A (its egress)
  return {
      {"NoPolicyForwardsAndReportsNewFlows",
       {{"B->A syn", in, tcp(kB, kA, 40000, 80), forwarded(PN_MATCH_NONE)},
        {"A->B syn", out, tcp(kA, kB, 40001, 443), forwarded(PN_MATCH_NONE)},
        {"A->world udp", out, udp(kA, "8.8.8.8", 5353, 53), forwarded(PN_MATCH_NONE)}}},

      {"IsolatedIngressWithoutMatchDrops",
       {{"B->A syn", in, tcp(kB, kA, 40000, 80), dropped(PN_DROP_POLICY_DEFAULT)},
        {"egress is not isolated", out, tcp(kA, kB, 40001, 80), forwarded(PN_MATCH_NONE)}},
       kIngress},

      {"AllowByIdentityAndPort",
       {{"B->A:80", in, tcp(kB, kA, 40000, 80), forwarded(PN_MATCH_POLICY_ALLOW, 7)},
        {"B->A:81", in, tcp(kB, kA, 40000, 81), dropped(PN_DROP_POLICY_DEFAULT)},
        {"C->A:80", in, tcp(kC, kA, 40000, 80), dropped(PN_DROP_POLICY_DEFAULT)},
        {"B->A udp:80", in, udp(kB, kA, 40000, 80), dropped(PN_DROP_POLICY_DEFAULT)}},
       kIngress,
       {allowIn(kPodB, kProtoTcp, 80, 7)}},

      {"PortRangeEndPort",
       {{"8000", in, tcp(kB, kA, 1, 8000), forwarded(PN_MATCH_POLICY_ALLOW, 8)},
        {"8042", in, tcp(kB, kA, 2, 8042), forwarded(PN_MATCH_POLICY_ALLOW, 8)},
        {"8080", in, tcp(kB, kA, 3, 8080), forwarded(PN_MATCH_POLICY_ALLOW, 8)},
        {"7999", in, tcp(kB, kA, 4, 7999), dropped(PN_DROP_POLICY_DEFAULT)},
        {"8081", in, tcp(kB, kA, 5, 8081), dropped(PN_DROP_POLICY_DEFAULT)}},
       kIngress,
       rangeIn(kPodB, kProtoTcp, 8000, 8080, 8)},

      {"ProtocolAndPortWildcards",
       {{"B tcp:22", in, tcp(kB, kA, 1, 22), forwarded(PN_MATCH_POLICY_ALLOW, 9)},
        {"B udp:53", in, udp(kB, kA, 2, 53), forwarded(PN_MATCH_POLICY_ALLOW, 9)},
        {"B ping", in, icmpEcho(kB, kA), forwarded(PN_MATCH_POLICY_ALLOW, 9)},
        {"C udp:53 (any udp port)", in, udp(kC, kA, 2, 53), forwarded(PN_MATCH_POLICY_ALLOW, 10)},
        {"C tcp:53", in, tcp(kC, kA, 2, 53), dropped(PN_DROP_POLICY_DEFAULT)},
        {"world sctp:9 (any peer)", in, Packet{"8.8.8.8", kA, kProtoSctp, 3, 9, 0},
         forwarded(PN_MATCH_POLICY_ALLOW, 11)}},
       kIngress,
       {allowIn(kPodB, std::nullopt, 0, 9), allowIn(kPodC, kProtoUdp, 0, 10),
        allowIn(PN_IDENTITY_ANY, kProtoSctp, 9, 11)}},

      {"DenyBeatsAllow",
       {{"B:80 allowed for any peer, denied for B", in, tcp(kB, kA, 1, 80),
         dropped(PN_DROP_POLICY_DENY, 21)},
        {"C:80 allowed", in, tcp(kC, kA, 1, 80), forwarded(PN_MATCH_POLICY_ALLOW, 20)},
        {"C:443 allowed by C's rule, denied for any peer", in, tcp(kC, kA, 1, 443),
         dropped(PN_DROP_POLICY_DENY, 23)},
        {"C:8443 allow inside C's own deny (resolved)", in, tcp(kC, kA, 1, 8443),
         dropped(PN_DROP_POLICY_DENY, 24)}},
       kIngress,
       resolveDenyPrecedence(
           {allowIn(PN_IDENTITY_ANY, kProtoTcp, 80, 20), denyIn(kPodB, kProtoTcp, 0, 21),
            allowIn(kPodC, kProtoTcp, 443, 22), denyIn(PN_IDENTITY_ANY, kProtoTcp, 443, 23),
            allowIn(kPodC, kProtoTcp, 8443, 25),
            PolicyEntry{PolicyKey{kPodA, kPodC, PN_DIR_INGRESS, kProtoTcp, 8192, 3},  // 8192..16383
                        PN_POLICY_DENY, 24}})},

      {"RepliesAndEstablishedFlowsSurviveRemovingTheAllow",
       {{"A->B syn", out, tcp(kA, kB, 40000, 80), forwarded(PN_MATCH_POLICY_ALLOW, 30)},
        {"B->A syn-ack after the allow is gone", in, tcp(kB, kA, 80, 40000, kTcpSyn | kTcpAck),
         forwarded(PN_MATCH_CT_REPLY, 30),
         [](PolicyMaps& m) { ASSERT_TRUE(m.removePolicy(allowOut(kPodB, 6, 80, 30).key).ok()); }},
        {"A->B ack: established, ACK is new in this direction", out,
         tcp(kA, kB, 40000, 80, kTcpAck), forwarded(PN_MATCH_CT_ESTABLISHED, 30)},
        {"A->B ack again: no new flag, no event", out, tcp(kA, kB, 40000, 80, kTcpAck), silent()},
        {"A->B fin: a new flag is reported", out, tcp(kA, kB, 40000, 80, kTcpFin | kTcpAck),
         forwarded(PN_MATCH_CT_ESTABLISHED, 30)},
        {"a new connection is decided afresh", out, tcp(kA, kB, 40001, 80),
         dropped(PN_DROP_POLICY_DEFAULT)},
        {"untracked udp reply", in, udp(kB, kA, 53, 5353), dropped(PN_DROP_POLICY_DEFAULT)}},
       kBoth,
       {allowOut(kPodB, 6, 80, 30)}},

      {"PingRepliesAreTracked",
       {{"A->B echo", out, icmpEcho(kA, kB), forwarded(PN_MATCH_POLICY_ALLOW, 60)},
        {"B->A echo reply", in, icmpEcho(kB, kA, true), forwarded(PN_MATCH_CT_REPLY, 60)},
        {"B->A echo request", in, icmpEcho(kB, kA), dropped(PN_DROP_POLICY_DEFAULT)}},
       kBoth,
       {allowOut(kPodB, std::nullopt, 0, 60)}},

      {"ResetClosesAndASynIsDecidedAgain",
       {{"A->B syn", out, tcp(kA, kB, 40000, 80), forwarded(PN_MATCH_POLICY_ALLOW, 31)},
        {"B->A rst", in, tcp(kB, kA, 80, 40000, kTcpRst | kTcpAck),
         forwarded(PN_MATCH_CT_REPLY, 31)},
        {"same tuple syn after the allow is gone", out, tcp(kA, kB, 40000, 80),
         dropped(PN_DROP_POLICY_DEFAULT),
         [](PolicyMaps& m) { ASSERT_TRUE(m.removePolicy(allowOut(kPodB, 6, 80, 31).key).ok()); }}},
       kEgress,
       {allowOut(kPodB, 6, 80, 31)}},

      // A flow accepted while nothing enforced its direction (match NONE) is judged again once
      // something does: allowed, it takes the rule; denied, it and its replies are dropped.
      {"UnenforcedFlowIsRejudgedWhenItsIngressIsIsolated",
       {{"B->A syn, not enforced", in, tcp(kB, kA, 40000, 80), forwarded(PN_MATCH_NONE)},
        {"A->B syn-ack", out, tcp(kA, kB, 80, 40000, kTcpSyn | kTcpAck),
         forwarded(PN_MATCH_CT_REPLY)},
        {"B->A ack once A's ingress is isolated", in, tcp(kB, kA, 40000, 80, kTcpAck),
         dropped(PN_DROP_POLICY_DEFAULT), [](PolicyMaps& m) { enforceOnA(m, kIngress); }},
        {"A->B data: a reply of the denied flow", out, tcp(kA, kB, 80, 40000, kTcpAck),
         dropped(PN_DROP_POLICY_DEFAULT)},
        {"B->A again", in, tcp(kB, kA, 40000, 80, kTcpAck), dropped(PN_DROP_POLICY_DEFAULT)},
        {"a new connection", in, tcp(kB, kA, 40001, 80), dropped(PN_DROP_POLICY_DEFAULT)}}},

      {"UnenforcedFlowIsRejudgedFromItsReply",
       {{"A->B syn, not enforced", out, tcp(kA, kB, 40000, 80), forwarded(PN_MATCH_NONE)},
        {"B->A syn-ack once A's egress is isolated: a reply of a now denied flow", in,
         tcp(kB, kA, 80, 40000, kTcpSyn | kTcpAck), dropped(PN_DROP_POLICY_DEFAULT),
         [](PolicyMaps& m) { enforceOnA(m, kEgress); }},
        {"A->B ack", out, tcp(kA, kB, 40000, 80, kTcpAck), dropped(PN_DROP_POLICY_DEFAULT)},
        {"the same tuple's new syn is a new flow", out, tcp(kA, kB, 40000, 80),
         dropped(PN_DROP_POLICY_DEFAULT)}}},

      {"UnenforcedFlowAllowedLaterTakesTheRule",
       {{"B->A syn, not enforced", in, tcp(kB, kA, 40000, 80), forwarded(PN_MATCH_NONE)},
        {"B->A ack once an allow isolates A", in, tcp(kB, kA, 40000, 80, kTcpAck),
         forwarded(PN_MATCH_CT_ESTABLISHED, 32),
         [](PolicyMaps& m) {
           ASSERT_TRUE(m.setPolicy(allowIn(kPodB, kProtoTcp, 80, 32)).ok());
           enforceOnA(m, kIngress);
         }},
        {"A->B reply", out, tcp(kA, kB, 80, 40000, kTcpAck | kTcpFin),
         forwarded(PN_MATCH_CT_REPLY, 32)},
        {"it keeps the rule once the allow is gone, as any judged flow", in,
         tcp(kB, kA, 40000, 80, kTcpAck | kTcpFin), forwarded(PN_MATCH_CT_ESTABLISHED, 32),
         [](PolicyMaps& m) {
           ASSERT_TRUE(m.removePolicy(allowIn(kPodB, kProtoTcp, 80, 32).key).ok());
         }}}},

      {"ADeniedUnjudgedFlowPassesAgainOnceAllowed",
       {{"B->A syn, not enforced", in, tcp(kB, kA, 40000, 80), forwarded(PN_MATCH_NONE)},
        {"isolated: dropped", in, tcp(kB, kA, 40000, 80, kTcpAck), dropped(PN_DROP_POLICY_DEFAULT),
         [](PolicyMaps& m) { enforceOnA(m, kIngress); }},
        {"an allow for it: passes with the rule", in, tcp(kB, kA, 40000, 80, kTcpAck | 0x08),
         forwarded(PN_MATCH_CT_ESTABLISHED, 33),
         [](PolicyMaps& m) { ASSERT_TRUE(m.setPolicy(allowIn(kPodB, kProtoTcp, 80, 33)).ok()); }},
        {"its reply", out, tcp(kA, kB, 80, 40000, kTcpAck), forwarded(PN_MATCH_CT_REPLY, 33)}}},

      {"ADeniedUnjudgedFlowPassesAgainOnceNothingIsolates",
       {{"B->A udp, not enforced", in, udp(kB, kA, 5000, 53), forwarded(PN_MATCH_NONE)},
        {"isolated: dropped", in, udp(kB, kA, 5000, 53), dropped(PN_DROP_POLICY_DEFAULT),
         [](PolicyMaps& m) { enforceOnA(m, kIngress); }},
        {"the isolating policy is gone", in, udp(kB, kA, 5000, 53), silent(),
         [](PolicyMaps& m) { enforceOnA(m, kNone); }},
        {"its first reply", out, udp(kA, kB, 53, 5000), forwarded(PN_MATCH_CT_REPLY)}}},

      {"FlowOfADeviceWithoutEndpointIsRejudgedOnceItHasOne",
       {{"A->B ping, no endpoint entry", out, icmpEcho(kA, kB), forwarded(PN_MATCH_NONE)},
        {"B->A echo reply once A is isolated both ways", in, icmpEcho(kB, kA, true),
         dropped(PN_DROP_POLICY_DEFAULT), [](PolicyMaps& m) { enforceOnA(m, kBoth); }},
        {"A->B ping", out, icmpEcho(kA, kB), dropped(PN_DROP_POLICY_DEFAULT)}},
       kNone,
       {},
       PN_ENFORCE_DEFAULT,
       false},

      {"ModeAlwaysEnforcesUnselectedPods",
       {{"B->A", in, tcp(kB, kA, 1, 80), dropped(PN_DROP_POLICY_DEFAULT)},
        {"A->B", out, tcp(kA, kB, 1, 80), dropped(PN_DROP_POLICY_DEFAULT)}},
       kNone,
       {},
       PN_ENFORCE_ALWAYS},

      {"ModeAlwaysDropsForUnknownDevices",
       {{"B->A", in, tcp(kB, kA, 1, 80), dropped(PN_DROP_NO_ENDPOINT)}},
       kNone,
       {},
       PN_ENFORCE_ALWAYS,
       false},

      {"ModeNeverForwardsSelectedPods",
       {{"B->A", in, tcp(kB, kA, 1, 80), forwarded(PN_MATCH_NONE)},
        {"A->world", out, udp(kA, "8.8.8.8", 1, 53), forwarded(PN_MATCH_NONE)}},
       kBoth,
       {denyIn(kPodB, std::nullopt, 0, 40)},
       PN_ENFORCE_NEVER},

      {"FromOwnNodeAlwaysPasses",
       {{"node->A", in, tcp(kNode, kA, 1, 8080), forwarded(PN_MATCH_HOST)},
        {"node ping", in, icmpEcho(kNode, kA), forwarded(PN_MATCH_HOST)},
        {"A->node is egress policy", out, tcp(kA, kNode, 1, 10250),
         dropped(PN_DROP_POLICY_DEFAULT)}},
       kBoth},

      {"CidrWithExceptAndWorld",
       {{"192.0.2.5", out, tcp(kA, "192.0.2.5", 1, 443), forwarded(PN_MATCH_POLICY_ALLOW, 50)},
        {"192.0.2.200 (except)", out, tcp(kA, "192.0.2.200", 1, 443),
         dropped(PN_DROP_POLICY_DEFAULT)},
        {"198.51.100.1 (world)", out, tcp(kA, "198.51.100.1", 1, 443),
         dropped(PN_DROP_POLICY_DEFAULT)},
        {"remote pod C", out, tcp(kA, kC, 1, 443), dropped(PN_DROP_POLICY_DEFAULT)},
        {"world dns", out, udp(kA, "8.8.8.8", 1, 53), forwarded(PN_MATCH_POLICY_ALLOW, 51)}},
       kEgress,
       {allowOut(kCidr, kProtoTcp, 443, 50), allowOut(PN_IDENTITY_WORLD, kProtoUdp, 53, 51)}},

      {"NonIpv4AndBrokenPackets",
       {{"arp passes silently", in, arp(), silent()},
        {"ipv6 dropped while enforcing", in, ipv6(), dropped(PN_DROP_UNSUPPORTED_L3)},
        {"truncated tcp", in, truncated(tcp(kB, kA, 1, 80)), dropped(PN_DROP_MALFORMED)},
        {"later fragment", in, laterFragment(udp(kB, kA, 1, 53)), dropped(PN_DROP_FRAGMENT)},
        {"egress not enforced: ipv6 passes silently", out, ipv6(), silent()}},
       kIngress},

      {"HostFirewallJudgesOnlyTheNodesOwnTraffic",
       {{"remote node -> node: the tunnel", in, udp("172.30.0.2", kNode, 40000, 8472),
         forwarded(PN_MATCH_POLICY_ALLOW, 70)},
        {"remote node -> node ssh", in, tcp("172.30.0.2", kNode, 1, 22),
         dropped(PN_DROP_POLICY_DEFAULT)},
        {"forwarded to a pod: not the host's", in, tcp("172.30.0.2", kA, 1, 22), silent()},
        {"ipv6 passes", in, ipv6(), silent()}},
       kIngress,
       {hostAllowIn(PN_IDENTITY_REMOTE_NODE, kProtoUdp, 8472, 70)},
       PN_ENFORCE_ALWAYS,
       true,
       true},

      {"OverlayTunnelPacketsPassUntrackedAndUnreported",
       {{"remote node -> node: the tunnel", in, udp("172.30.0.2", kNode, 40000, 8472), silent()},
        {"node -> remote node: the tunnel", out, udp(kNode, "172.30.0.2", 40001, 8472), silent()},
        {"remote node -> node, another udp port", in, udp("172.30.0.2", kNode, 40000, 8473),
         dropped(PN_DROP_POLICY_DEFAULT)},
        {"world -> node: the tunnel port is not for it", in, udp("8.8.8.8", kNode, 40000, 8472),
         dropped(PN_DROP_POLICY_DEFAULT)}},
       kBoth,
       {},
       PN_ENFORCE_DEFAULT,
       true,
       true,
       kNone,
       8472},

      {"PodToItsNodeMeetsTheHostFirewall",
       {{"A->node:10250 allowed by the host policy", out, tcp(kA, kNode, 1, 10250),
         forwarded(PN_MATCH_POLICY_ALLOW, 71)},
        {"A->node:22", out, tcp(kA, kNode, 1, 22),
         Expect{TC_ACT_SHOT, PN_MATCH_HOST_DEFAULT_DENY, PN_DROP_POLICY_DEFAULT, 0, true}},
        {"A->B is not the host's", out, tcp(kA, kB, 1, 22), forwarded(PN_MATCH_NONE)}},
       kNone,
       {hostAllowIn(kPodA, kProtoTcp, 10250, 71)},
       PN_ENFORCE_DEFAULT,
       true,
       false,
       kIngress},

      // NetworkPolicy ipBlock: by address, whoever owns it (pn_ipblocks), except carved out.
      {"IpBlockMatchesPodAndNodeAddresses",
       {{"A->C in the block", out, tcp(kA, kC, 1, 80), forwarded(PN_MATCH_POLICY_ALLOW, 81)},
        {"A->node in the block", out, tcp(kA, kNode, 1, 80), forwarded(PN_MATCH_POLICY_ALLOW, 81)},
        {"A->B is excepted", out, tcp(kA, kB, 1, 80), dropped(PN_DROP_POLICY_DEFAULT)},
        {"A->C other port", out, tcp(kA, kC, 1, 81), dropped(PN_DROP_POLICY_DEFAULT)},
        {"A->world outside", out, tcp(kA, "8.8.8.8", 1, 80), dropped(PN_DROP_POLICY_DEFAULT)}},
       kEgress,
       {allowOut(kIpBlock, kProtoTcp, 80, 81)}},

      {"IpBlockIngressFromPods",
       {{"C->A in the block", in, tcp(kC, kA, 1, 80), forwarded(PN_MATCH_POLICY_ALLOW, 83)},
        {"B->A excepted", in, tcp(kB, kA, 1, 80), dropped(PN_DROP_POLICY_DEFAULT)},
        {"world->A outside", in, tcp("8.8.8.8", kA, 1, 80), dropped(PN_DROP_POLICY_DEFAULT)}},
       kIngress,
       {allowIn(kIpBlock, kProtoTcp, 80, 83)}},

      {"AnExceptedAddressAllowedByAnotherRule",
       {{"A->B by the /32 rule", out, tcp(kA, kB, 1, 80), forwarded(PN_MATCH_POLICY_ALLOW, 82)},
        {"A->C by the /16 rule", out, tcp(kA, kC, 1, 80), forwarded(PN_MATCH_POLICY_ALLOW, 81)}},
       kEgress,
       {allowOut(kIpBlock, std::nullopt, 0, 81), allowOut(kIpBlockExcept, kProtoTcp, 80, 82)}},

      {"SelectorAndIpBlockBothAllowOnceNamingTheSelector",
       {{"A->C", out, tcp(kA, kC, 1, 80), forwarded(PN_MATCH_POLICY_ALLOW, 90)}},
       kEgress,
       {allowOut(kPodC, kProtoTcp, 80, 90), allowOut(kIpBlock, kProtoTcp, 80, 91)}},

      {"DenyByIdentityBeatsIpBlockAllow",
       {{"C->A", in, tcp(kC, kA, 1, 80), dropped(PN_DROP_POLICY_DENY, 92)}},
       kIngress,
       {denyIn(kPodC, kProtoTcp, 80, 92), allowIn(kIpBlock, kProtoTcp, 80, 83)}},
  };
}

class PodPolicyProgTest : public ::testing::TestWithParam<Case>, public BpfFixture {
 protected:
  void SetUp() override {
    setUpBpf();
    if (HasFatalFailure()) return;
    const Case& c = GetParam();
    struct Id {
      const char* prefix;
      uint32_t identity;
    };
    for (auto [prefix, id] :
         {Id{"10.244.0.10/32", kPodA}, Id{"10.244.0.20/32", kPodB}, Id{"10.244.1.5/32", kPodC},
          Id{"10.244.0.1/32", PN_IDENTITY_HOST}, Id{"172.30.0.2/32", PN_IDENTITY_REMOTE_NODE},
          Id{"192.0.2.0/24", kCidr}, Id{"192.0.2.128/25", kCidrExcept}}) {
      ASSERT_TRUE(maps_->setIdentity(*Ipv4Prefix::parse(prefix), id).ok());
    }
    ASSERT_TRUE(maps_->setIpBlock(*Ipv4Prefix::parse("10.244.0.0/16"), kIpBlock).ok());
    ASSERT_TRUE(maps_->setIpBlock(*Ipv4Prefix::parse("10.244.0.20/32"), kIpBlockExcept).ok());
    if (c.endpoint) {
      uint32_t self = c.hostDevice ? uint32_t{PN_IDENTITY_HOST} : kPodA;
      Endpoint ep{kEndpointId,
                  self,
                  0,
                  (c.enforce & kIngress) != 0,
                  (c.enforce & kEgress) != 0,
                  *Ipv4::parse(c.hostDevice ? kNode : kA)};
      ASSERT_TRUE(maps_->setEndpoint(kIfindex, ep).ok());
    }
    Endpoint host{0,
                  PN_IDENTITY_HOST,
                  0,
                  (c.host & kIngress) != 0,
                  (c.host & kEgress) != 0,
                  *Ipv4::parse(kNode)};
    ASSERT_TRUE(maps_->setEndpoint(PN_HOST_ENDPOINT_KEY, host).ok());
    for (const auto& p : c.policies) ASSERT_TRUE(maps_->setPolicy(p).ok());
    pn_config config{};
    config.enforcement_mode = c.mode;
    config.tunnel_port = htons(c.tunnelPort);
    config.policy_revision = 5;
    ASSERT_TRUE(maps_->setConfig(config).ok());
  }
  void TearDown() override { tearDownBpf(); }

  int run(Hook hook, const Packet& packet) {
    std::vector<uint8_t> bytes = build(packet);
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = bytes.data();
    opts.data_size_in = static_cast<uint32_t>(bytes.size());
    opts.repeat = 1;
    int fd = hook == Hook::kFromPod ? program_->fromPodFd() : program_->toPodFd();
    int err = bpf_prog_test_run_opts(fd, &opts);
    EXPECT_EQ(err, 0) << "BPF_PROG_RUN: " << std::strerror(errno);
    lastLength_ = static_cast<uint32_t>(bytes.size());
    return static_cast<int>(opts.retval);
  }

  uint32_t lastLength_ = 0;
};

TEST_P(PodPolicyProgTest, VerdictsAndEvents) {
  const Case& c = GetParam();
  DropCounters expectedDrops{};
  for (const Step& step : c.steps) {
    SCOPED_TRACE(step.what);
    if (step.before) step.before(*maps_);
    int verdict = run(step.hook, step.packet);
    EXPECT_EQ(verdict, step.expect.verdict);
    auto events = takeEvents();
    if (!step.expect.event) {
      EXPECT_TRUE(events.empty()) << "unexpected event, match " << events[0].match;
      continue;
    }
    ASSERT_EQ(events.size(), 1u);
    const FlowEvent& ev = events[0];
    EXPECT_EQ(ev.verdict,
              step.expect.verdict == TC_ACT_OK ? PN_VERDICT_FORWARDED : PN_VERDICT_DROPPED);
    EXPECT_EQ(ev.match, step.expect.match);
    EXPECT_EQ(ev.dropReason, step.expect.reason);
    EXPECT_EQ(ev.policyId, step.expect.policyId);
    EXPECT_EQ(ev.direction, step.hook == Hook::kToPod ? PN_DIR_INGRESS : PN_DIR_EGRESS);
    EXPECT_EQ(ev.ifindex, kIfindex);
    auto endpoints = maps_->endpoints();
    ASSERT_TRUE(endpoints.ok()) << endpoints.error().message;
    EXPECT_EQ(ev.endpointId, endpoints->count(kIfindex) ? kEndpointId : 0u);
    EXPECT_EQ(ev.length, lastLength_);
    EXPECT_EQ(ev.policyRevision, 5u);
    if (step.packet.etherType == 0x0800) {
      EXPECT_EQ(ev.src.str(), step.packet.src);
      EXPECT_EQ(ev.dst.str(), step.packet.dst);
      EXPECT_EQ(ev.protocol, step.packet.protocol);
      // The endpoint's identity is on its side of the flow.
      uint32_t self = step.hook == Hook::kToPod ? ev.dstIdentity : ev.srcIdentity;
      EXPECT_EQ(self, c.hostDevice ? uint32_t{PN_IDENTITY_HOST} : kPodA);
    }
    if (step.expect.reason != PN_DROP_NONE) {
      expectedDrops[step.expect.reason].packets += 1;
      expectedDrops[step.expect.reason].bytes += lastLength_;
    }
  }
  auto drops = maps_->dropCounters();
  ASSERT_TRUE(drops.ok()) << drops.error().message;
  for (int reason = 0; reason < PN_DROP__MAX; ++reason) {
    EXPECT_EQ((*drops)[reason].packets, expectedDrops[reason].packets)
        << flows::dropReasonText(static_cast<pn_drop_reason>(reason));
    EXPECT_EQ((*drops)[reason].bytes, expectedDrops[reason].bytes)
        << flows::dropReasonText(static_cast<pn_drop_reason>(reason));
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, PodPolicyProgTest, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           return info.param.name;
                         });

// One event checked field by field, with the identities, addresses and ports of both sides.
class PodPolicyEventTest : public ::testing::Test, public BpfFixture {
 protected:
  void SetUp() override { setUpBpf(); }
  void TearDown() override { tearDownBpf(); }
};

TEST_F(PodPolicyEventTest, DropEventCarriesTheWholeFlow) {
  ASSERT_TRUE(maps_->setIdentity(*Ipv4Prefix::parse("10.244.0.10/32"), kPodA).ok());
  ASSERT_TRUE(maps_->setIdentity(*Ipv4Prefix::parse("10.244.0.20/32"), kPodB).ok());
  ASSERT_TRUE(
      maps_->setEndpoint(kIfindex, {kEndpointId, kPodA, 0, true, false, *Ipv4::parse(kA)}).ok());
  ASSERT_TRUE(maps_->setPolicy(denyIn(kPodB, kProtoTcp, 0, 77)).ok());
  ASSERT_TRUE(
      maps_->setConfig({.enforcement_mode = PN_ENFORCE_DEFAULT, .policy_revision = 123}).ok());

  auto before = std::chrono::system_clock::now();
  std::vector<uint8_t> bytes = build(tcp(kB, kA, 41000, 5432, kTcpSyn));
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = bytes.data();
  opts.data_size_in = static_cast<uint32_t>(bytes.size());
  ASSERT_EQ(bpf_prog_test_run_opts(program_->toPodFd(), &opts), 0);
  EXPECT_EQ(opts.retval, uint32_t{TC_ACT_SHOT});
  auto after = std::chrono::system_clock::now();

  auto events = takeEvents();
  ASSERT_EQ(events.size(), 1u);
  const FlowEvent& ev = events[0];
  EXPECT_EQ(ev.node, "node-1");
  // Wall-clock conversion of the kernel's monotonic stamp (a second of slack for clock steps).
  EXPECT_GE(ev.time, before - std::chrono::seconds(1));
  EXPECT_LE(ev.time, after + std::chrono::seconds(1));
  EXPECT_EQ(ev.src.str(), kB);
  EXPECT_EQ(ev.dst.str(), kA);
  EXPECT_EQ(ev.srcPort, 41000);
  EXPECT_EQ(ev.dstPort, 5432);
  EXPECT_EQ(ev.srcIdentity, kPodB);
  EXPECT_EQ(ev.dstIdentity, kPodA);
  EXPECT_EQ(ev.protocol, kProtoTcp);
  EXPECT_EQ(flows::tcpFlagsText(ev.tcpFlags), "SYN");
  EXPECT_EQ(ev.direction, PN_DIR_INGRESS);
  EXPECT_EQ(ev.verdict, PN_VERDICT_DROPPED);
  EXPECT_EQ(ev.dropReason, PN_DROP_POLICY_DENY);
  EXPECT_EQ(ev.match, PN_MATCH_POLICY_DENY);
  EXPECT_EQ(ev.policyId, 77u);
  EXPECT_EQ(ev.policyRevision, 123u);
  EXPECT_EQ(ev.endpointId, kEndpointId);
  EXPECT_EQ(ev.length, bytes.size());
}

TEST_F(PodPolicyEventTest, EventLevelAllReportsEveryPacketAndDropsOnlyReportsDrops) {
  tearDownBpf();
  for (auto [level, want] : {std::pair{PN_EVENTS_ALL, 3u}, std::pair{PN_EVENTS_DROPS, 1u}}) {
    ProgramOptions options;
    options.eventLevel = level;
    setUpBpf(options);
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_TRUE(maps_->setEndpoint(kIfindex, {kEndpointId, kPodA, 0, true, false, {}}).ok());
    ASSERT_TRUE(maps_->setPolicy(allowIn(PN_IDENTITY_ANY, kProtoTcp, 80, 1)).ok());
    for (const Packet& p : {tcp(kB, kA, 1, 80), tcp(kB, kA, 1, 80, kTcpAck),
                            tcp(kB, kA, 1, 81)}) {  // new, established, dropped
      std::vector<uint8_t> bytes = build(p);
      bpf_test_run_opts opts{};
      opts.sz = sizeof(opts);
      opts.data_in = bytes.data();
      opts.data_size_in = static_cast<uint32_t>(bytes.size());
      ASSERT_EQ(bpf_prog_test_run_opts(program_->toPodFd(), &opts), 0);
    }
    EXPECT_EQ(takeEvents().size(), want) << "level " << level;
    tearDownBpf();
  }
}

TEST_F(PodPolicyEventTest, PinnedMapsOutliveTheProgramAndAreReusedByTheNextLoad) {
  ASSERT_TRUE(maps_->setPolicy(allowIn(kPodB, kProtoTcp, 80, 5)).ok());
  ASSERT_TRUE(maps_->setConfig({.enforcement_mode = PN_ENFORCE_ALWAYS, .policy_revision = 9}).ok());
  program_.reset();  // the agent exits
  ProgramOptions options;
  options.pinDir = pinDir_;
  auto again = PodPolicyProgram::load(options);  // the agent restarts
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto reopened = PolicyMaps::open(pinDir_);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  auto entries = reopened->policies();
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ((*entries)[0], allowIn(kPodB, kProtoTcp, 80, 5));
  auto config = reopened->config();
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->enforcement_mode, uint32_t{PN_ENFORCE_ALWAYS});
  EXPECT_EQ(config->policy_revision, 9u);
}

TEST_F(PodPolicyEventTest, LoadRefusesADirectoryThatIsNotABpfFilesystem) {
  ProgramOptions options;
  options.pinDir = tmp_.path();
  auto program = PodPolicyProgram::load(options);
  ASSERT_FALSE(program.ok());
  EXPECT_NE(program.error().message.find(tmp_.path()), std::string::npos);
  auto maps = PolicyMaps::open(tmp_.path() + "/nothing");
  ASSERT_FALSE(maps.ok());
  EXPECT_EQ(maps.error().code, Errc::kNotFound);
}

}  // namespace
}  // namespace podnet::bpf::testing
