// One flow as podnet shows it: a decoded kernel flow event (bpf/flow_events.h) with the agent's
// sequence number and the text naming the deciding policy, and its JSON, the single shape used by
// the agent's "flows" RPC and by `podnetctl observe -o json`:
//
//   {"seq": 12, "time": "2024-05-01T12:00:00.123456789Z", "node": "n1",
//    "verdict": "dropped", "dropReason": "policy-deny", "match": "policy-deny",
//    "direction": "ingress", "protocol": "TCP", "tcpFlags": "SYN",
//    "source": {"ip": "10.244.1.5", "port": 40000, "identity": 300, "namespace": "x", "pod": "b"},
//    "destination": {"ip": "10.244.0.7", "port": 80, "identity": 256},
//    "policy": "NetworkPolicy x/deny-b ingress[0]", "policyId": 9, "policyRevision": 4,
//    "ifindex": 7, "endpointId": 3, "length": 74}
//
// dropReason only when dropped; tcpFlags only for TCP, icmpType only for ICMP; namespace and pod
// only when the agent knows the address; policy and policyId only when set. protocol is "TCP",
// "UDP", "SCTP", "ICMP" or the IP protocol number in decimal ("47").
//
// Only the FlowEvent struct is used from bpf/flow_events.h (a plain struct over pod_policy.h
// enums), never its functions, so this library needs no libbpf.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "bpf/flow_events.h"
#include "common/result.h"
#include "pod_policy.h"

namespace podnet::flows {

struct FlowRecord {
  uint64_t seq = 0;  // the agent's flow log number, from 1, per agent run
  bpf::FlowEvent event;
  std::string policy;  // "NetworkPolicy x/allow-web ingress[0]", or empty
};

nlohmann::json toJson(const FlowRecord& record);
// The inverse of toJson; kDecode naming the field for anything else.
Result<FlowRecord> flowFromJson(const nlohmann::json& json);

// Names used in the JSON, the RPC filters and the table; parse* accept exactly these (protocol
// names also in lower case, and decimal numbers).
const char* verdictName(pn_verdict verdict);  // "forwarded", "dropped"
std::optional<pn_verdict> parseVerdict(std::string_view name);
// A value a newer program sent, which this build does not know, is decoded as <enum>__MAX and
// named "unknown" (matchName, dropReasonText), and "unknown" parses back to it.
const char* matchName(pn_match match);  // "policy-allow", ..., "host-default-deny"
std::optional<pn_match> parseMatch(std::string_view name);
const char* directionName(pn_direction direction);  // "ingress", "egress"
std::optional<pn_direction> parseDirection(std::string_view name);
// The name of each drop reason, everywhere (flows, drop counters): "policy-deny", ...
const char* dropReasonText(pn_drop_reason reason);
std::optional<pn_drop_reason> parseDropReason(std::string_view name);
std::string protocolName(uint8_t protocol);  // "TCP", "UDP", "SCTP", "ICMP", else "47"
std::optional<uint8_t> parseProtocol(std::string_view name);
// True for TCP, UDP and SCTP: the protocols whose flows have ports.
bool hasPorts(uint8_t protocol);
// "SYN|ACK"; "" for none.
std::string tcpFlagsText(uint8_t flags);
std::optional<uint8_t> parseTcpFlags(std::string_view text);

// RFC 3339 in UTC with nanoseconds: "2024-05-01T12:00:00.123456789Z".
std::string formatTime(std::chrono::system_clock::time_point time);
// Accepts what formatTime writes, with 0 to 9 fraction digits.
std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text);

}  // namespace podnet::flows
