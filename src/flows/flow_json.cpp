#include "flows/flow_json.h"

#include <netinet/in.h>

#include <cstdio>
#include <ctime>
#include <limits>

namespace podnet::flows {
namespace {

using nlohmann::json;

constexpr const char* kTcpFlagNames[] = {"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"};

// Reads the fields of one JSON object, naming "flow: <prefix><field>" in errors.
class Fields {
 public:
  Fields(const json& object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

  Error error(const char* field, const std::string& want) const {
    return makeError(Errc::kDecode, "flow: " + prefix_ + field + ": " + want);
  }
  const json* find(const char* field) const {
    auto it = object_.find(field);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }
  Result<std::string> string(const char* field, bool required = true) const {
    const json* v = find(field);
    if (v == nullptr) {
      if (required) return error(field, "required");
      return std::string();
    }
    if (!v->is_string()) return error(field, "want a string");
    return v->get<std::string>();
  }
  Result<uint64_t> number(const char* field, uint64_t max, bool required = true) const {
    const json* v = find(field);
    if (v == nullptr) {
      if (required) return error(field, "required");
      return uint64_t{0};
    }
    std::optional<uint64_t> n;
    if (v->is_number_unsigned()) n = v->get<uint64_t>();
    if (v->is_number_integer() && !v->is_number_unsigned() && v->get<int64_t>() >= 0) {
      n = static_cast<uint64_t>(v->get<int64_t>());
    }
    if (!n || *n > max) return error(field, "want an integer from 0 to " + std::to_string(max));
    return *n;
  }

 private:
  const json& object_;
  std::string prefix_;
};

json endpointJson(Ipv4 ip, uint8_t protocol, uint16_t port, uint32_t identity,
                  const std::optional<bpf::PodRef>& pod) {
  json j = {{"ip", ip.str()}};
  if (hasPorts(protocol)) j["port"] = port;
  j["identity"] = identity;
  if (pod) {
    j["namespace"] = pod->ns;
    j["pod"] = pod->name;
  }
  return j;
}

struct EndpointFields {
  Ipv4 ip;
  uint16_t port = 0;
  uint32_t identity = 0;
  std::optional<bpf::PodRef> pod;
};

Result<EndpointFields> endpointFromJson(const json& parent, const char* field) {
  auto it = parent.find(field);
  if (it == parent.end() || !it->is_object()) {
    return makeError(Errc::kDecode, std::string("flow: ") + field + ": want an object");
  }
  Fields f(*it, std::string(field) + ".");
  EndpointFields out;
  auto ipText = PODNET_TRY(f.string("ip"));
  auto ip = Ipv4::parse(ipText);
  if (!ip) return f.error("ip", "want an IPv4 address, not \"" + ipText + "\"");
  out.ip = *ip;
  out.port = static_cast<uint16_t>(PODNET_TRY(f.number("port", 65535, false)));
  out.identity =
      static_cast<uint32_t>(PODNET_TRY(f.number("identity", std::numeric_limits<uint32_t>::max())));
  auto ns = PODNET_TRY(f.string("namespace", false));
  auto pod = PODNET_TRY(f.string("pod", false));
  if (ns.empty() != pod.empty()) return f.error("pod", "namespace and pod go together");
  if (!pod.empty()) out.pod = bpf::PodRef{ns, pod};
  return out;
}

}  // namespace

const char* verdictName(pn_verdict verdict) {
  return verdict == PN_VERDICT_DROPPED ? "dropped" : "forwarded";
}

std::optional<pn_verdict> parseVerdict(std::string_view name) {
  if (name == "forwarded") return PN_VERDICT_FORWARDED;
  if (name == "dropped") return PN_VERDICT_DROPPED;
  return std::nullopt;
}

const char* matchName(pn_match match) {
  switch (match) {
    case PN_MATCH_NONE:
      return "none";
    case PN_MATCH_POLICY_ALLOW:
      return "policy-allow";
    case PN_MATCH_POLICY_DENY:
      return "policy-deny";
    case PN_MATCH_DEFAULT_DENY:
      return "default-deny";
    case PN_MATCH_CT_ESTABLISHED:
      return "established";
    case PN_MATCH_CT_REPLY:
      return "reply";
    case PN_MATCH_HOST:
      return "host";
    case PN_MATCH_INVALID:
      return "invalid";
    case PN_MATCH_HOST_DEFAULT_DENY:
      return "host-default-deny";
    case PN_MATCH__MAX:
      break;
  }
  return "unknown";
}

std::optional<pn_match> parseMatch(std::string_view name) {
  for (int m = PN_MATCH_NONE; m <= PN_MATCH__MAX; ++m) {
    if (name == matchName(static_cast<pn_match>(m))) return static_cast<pn_match>(m);
  }
  return std::nullopt;
}

const char* directionName(pn_direction direction) {
  return direction == PN_DIR_EGRESS ? "egress" : "ingress";
}

std::optional<pn_direction> parseDirection(std::string_view name) {
  if (name == "ingress") return PN_DIR_INGRESS;
  if (name == "egress") return PN_DIR_EGRESS;
  return std::nullopt;
}

const char* dropReasonText(pn_drop_reason reason) {
  switch (reason) {
    case PN_DROP_NONE:
      return "none";
    case PN_DROP_POLICY_DENY:
      return "policy-deny";
    case PN_DROP_POLICY_DEFAULT:
      return "policy-default-deny";
    case PN_DROP_MALFORMED:
      return "malformed";
    case PN_DROP_UNSUPPORTED_L3:
      return "unsupported-l3";
    case PN_DROP_FRAGMENT:
      return "fragment";
    case PN_DROP_NO_ENDPOINT:
      return "no-endpoint";
    case PN_DROP__MAX:
      break;
  }
  return "unknown";
}

std::optional<pn_drop_reason> parseDropReason(std::string_view name) {
  for (int r = PN_DROP_NONE; r <= PN_DROP__MAX; ++r) {
    if (name == dropReasonText(static_cast<pn_drop_reason>(r))) {
      return static_cast<pn_drop_reason>(r);
    }
  }
  return std::nullopt;
}

std::string protocolName(uint8_t protocol) {
  switch (protocol) {
    case IPPROTO_TCP:
      return "TCP";
    case IPPROTO_UDP:
      return "UDP";
    case IPPROTO_SCTP:
      return "SCTP";
    case IPPROTO_ICMP:
      return "ICMP";
    default:
      return std::to_string(protocol);
  }
}

std::optional<uint8_t> parseProtocol(std::string_view name) {
  for (uint8_t p : {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP}) {
    std::string upper = protocolName(p);
    std::string lower = upper;
    for (auto& c : lower) c = static_cast<char>(c - 'A' + 'a');
    if (name == upper || name == lower) return p;
  }
  if (name.empty() || name.size() > 3) return std::nullopt;
  unsigned value = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value > 255) return std::nullopt;
  return static_cast<uint8_t>(value);
}

bool hasPorts(uint8_t protocol) {
  return protocol == IPPROTO_TCP || protocol == IPPROTO_UDP || protocol == IPPROTO_SCTP;
}

std::string tcpFlagsText(uint8_t flags) {
  std::string out;
  for (int bit = 0; bit < 8; ++bit) {
    if ((flags & (1u << bit)) == 0) continue;
    if (!out.empty()) out += "|";
    out += kTcpFlagNames[bit];
  }
  return out;
}

std::optional<uint8_t> parseTcpFlags(std::string_view text) {
  uint8_t flags = 0;
  while (!text.empty()) {
    auto bar = text.find('|');
    std::string_view name = text.substr(0, bar);
    bool known = false;
    for (int bit = 0; bit < 8; ++bit) {
      if (name == kTcpFlagNames[bit]) {
        flags |= static_cast<uint8_t>(1u << bit);
        known = true;
      }
    }
    if (!known) return std::nullopt;
    if (bar == std::string_view::npos) break;
    text.remove_prefix(bar + 1);
    if (text.empty()) return std::nullopt;  // a trailing '|'
  }
  return flags;
}

std::string formatTime(std::chrono::system_clock::time_point time) {
  using std::chrono::nanoseconds;
  int64_t ns = std::chrono::duration_cast<nanoseconds>(time.time_since_epoch()).count();
  int64_t secs = ns / 1'000'000'000;
  int64_t frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  tm parts{};
  ::gmtime_r(&t, &parts);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%09lldZ", parts.tm_year + 1900,
                parts.tm_mon + 1, parts.tm_mday, parts.tm_hour, parts.tm_min, parts.tm_sec,
                static_cast<long long>(frac));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> parseTime(std::string_view text) {
  // YYYY-MM-DDTHH:MM:SS[.fraction]Z, by position: "2024-05-01T12:00:00Z" is 20 characters.
  auto digits = [&](size_t pos, size_t n) -> std::optional<int> {
    if (pos + n > text.size()) return std::nullopt;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return std::nullopt;
      v = v * 10 + (text[i] - '0');
    }
    return v;
  };
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z') {
    return std::nullopt;
  }
  auto year = digits(0, 4), month = digits(5, 2), day = digits(8, 2);
  auto hour = digits(11, 2), minute = digits(14, 2), second = digits(17, 2);
  if (!year || !month || !day || !hour || !minute || !second || *month < 1 || *month > 12 ||
      *day < 1 || *day > 31 || *hour > 23 || *minute > 59 || *second > 60) {
    return std::nullopt;
  }
  int64_t frac = 0;
  size_t pos = 19;
  if (text[pos] == '.') {
    size_t n = text.size() - 1 - (pos + 1);
    if (n == 0 || n > 9) return std::nullopt;
    auto f = digits(pos + 1, n);
    if (!f) return std::nullopt;
    frac = *f;
    for (size_t i = n; i < 9; ++i) frac *= 10;
    pos += 1 + n;
  }
  if (pos != text.size() - 1) return std::nullopt;
  tm parts{};
  parts.tm_year = *year - 1900;
  parts.tm_mon = *month - 1;
  parts.tm_mday = *day;
  parts.tm_hour = *hour;
  parts.tm_min = *minute;
  parts.tm_sec = *second;
  int64_t secs = ::timegm(&parts);
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(secs * 1'000'000'000 + frac)));
}

nlohmann::json toJson(const FlowRecord& record) {
  const bpf::FlowEvent& ev = record.event;
  json j = {{"seq", record.seq},
            {"time", formatTime(ev.time)},
            {"node", ev.node},
            {"verdict", verdictName(ev.verdict)}};
  if (ev.verdict == PN_VERDICT_DROPPED) j["dropReason"] = dropReasonText(ev.dropReason);
  j["match"] = matchName(ev.match);
  j["direction"] = directionName(ev.direction);
  j["protocol"] = protocolName(ev.protocol);
  if (ev.protocol == IPPROTO_TCP) j["tcpFlags"] = tcpFlagsText(ev.tcpFlags);
  if (ev.protocol == IPPROTO_ICMP) j["icmpType"] = ev.icmpType;
  j["source"] = endpointJson(ev.src, ev.protocol, ev.srcPort, ev.srcIdentity, ev.srcPod);
  j["destination"] = endpointJson(ev.dst, ev.protocol, ev.dstPort, ev.dstIdentity, ev.dstPod);
  if (!record.policy.empty()) j["policy"] = record.policy;
  if (ev.policyId != 0) j["policyId"] = ev.policyId;
  j["policyRevision"] = ev.policyRevision;
  j["ifindex"] = ev.ifindex;
  j["endpointId"] = ev.endpointId;
  j["length"] = ev.length;
  return j;
}

Result<FlowRecord> flowFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return makeError(Errc::kDecode, "flow: want a JSON object");
  constexpr uint64_t kU32 = std::numeric_limits<uint32_t>::max();
  constexpr uint64_t kU64 = std::numeric_limits<uint64_t>::max();
  Fields f(j, "");
  FlowRecord r;
  bpf::FlowEvent& ev = r.event;
  r.seq = PODNET_TRY(f.number("seq", kU64));

  auto timeText = PODNET_TRY(f.string("time"));
  auto time = parseTime(timeText);
  if (!time) return f.error("time", "want RFC 3339 UTC (2024-05-01T12:00:00.5Z), not " + timeText);
  ev.time = *time;
  ev.node = PODNET_TRY(f.string("node"));

  auto verdictText = PODNET_TRY(f.string("verdict"));
  auto verdict = parseVerdict(verdictText);
  if (!verdict) return f.error("verdict", "want forwarded or dropped, not \"" + verdictText + "\"");
  ev.verdict = *verdict;
  if (ev.verdict == PN_VERDICT_DROPPED) {
    auto reasonText = PODNET_TRY(f.string("dropReason"));
    auto reason = parseDropReason(reasonText);
    if (!reason) return f.error("dropReason", "unknown drop reason \"" + reasonText + "\"");
    ev.dropReason = *reason;
  }
  auto matchText = PODNET_TRY(f.string("match"));
  auto match = parseMatch(matchText);
  if (!match) return f.error("match", "unknown match \"" + matchText + "\"");
  ev.match = *match;
  auto directionText = PODNET_TRY(f.string("direction"));
  auto direction = parseDirection(directionText);
  if (!direction) {
    return f.error("direction", "want ingress or egress, not \"" + directionText + "\"");
  }
  ev.direction = *direction;
  auto protocolText = PODNET_TRY(f.string("protocol"));
  auto protocol = parseProtocol(protocolText);
  if (!protocol) {
    return f.error("protocol",
                   "want TCP, UDP, SCTP, ICMP or a number, not \"" + protocolText + "\"");
  }
  ev.protocol = *protocol;
  auto flagsText = PODNET_TRY(f.string("tcpFlags", false));
  auto flags = parseTcpFlags(flagsText);
  if (!flags) return f.error("tcpFlags", "want flags like SYN|ACK, not \"" + flagsText + "\"");
  ev.tcpFlags = *flags;
  ev.icmpType = static_cast<uint8_t>(PODNET_TRY(f.number("icmpType", 255, false)));

  auto src = PODNET_TRY(endpointFromJson(j, "source"));
  auto dst = PODNET_TRY(endpointFromJson(j, "destination"));
  ev.src = src.ip;
  ev.srcPort = src.port;
  ev.srcIdentity = src.identity;
  ev.srcPod = std::move(src.pod);
  ev.dst = dst.ip;
  ev.dstPort = dst.port;
  ev.dstIdentity = dst.identity;
  ev.dstPod = std::move(dst.pod);

  r.policy = PODNET_TRY(f.string("policy", false));
  ev.policyId = static_cast<uint32_t>(PODNET_TRY(f.number("policyId", kU32, false)));
  ev.policyRevision = PODNET_TRY(f.number("policyRevision", kU64));
  ev.ifindex = static_cast<uint32_t>(PODNET_TRY(f.number("ifindex", kU32)));
  ev.endpointId = static_cast<uint32_t>(PODNET_TRY(f.number("endpointId", kU32)));
  ev.length = static_cast<uint32_t>(PODNET_TRY(f.number("length", kU32)));
  return r;
}

}  // namespace podnet::flows
