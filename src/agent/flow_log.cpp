#include "agent/flow_log.h"

#include <netinet/in.h>

#include <algorithm>
#include <limits>
#include <optional>

#include "cni/types.h"

namespace podnet::agent {
namespace {

using nlohmann::json;

// The most flows in one answer, whatever the request's limit: keeps an answer well under the RPC's
// 16 MiB frame (a flow is about 450 bytes of JSON). Callers page on with "next".
constexpr uint64_t kMaxLimit = 20000;

struct Filter {
  std::optional<std::string> ns;
  std::optional<bpf::PodRef> pod;
  std::optional<pn_verdict> verdict;
  std::optional<uint16_t> port;
  std::optional<uint8_t> protocol;

  bool matches(const bpf::FlowEvent& ev) const {
    if (ns && !((ev.srcPod && ev.srcPod->ns == *ns) || (ev.dstPod && ev.dstPod->ns == *ns))) {
      return false;
    }
    if (pod && ev.srcPod != pod && ev.dstPod != pod) return false;
    if (verdict && ev.verdict != *verdict) return false;
    if (port && !(flows::hasPorts(ev.protocol) && (ev.srcPort == *port || ev.dstPort == *port))) {
      return false;
    }
    if (protocol && ev.protocol != *protocol) return false;
    return true;
  }
};

struct Query {
  uint64_t after = 0;
  std::optional<std::chrono::system_clock::time_point> since;
  uint64_t limit = FlowLog::kDefaultLimit;
  std::optional<uint64_t> last;
  Filter filter;

  bool matches(const flows::FlowRecord& r) const {
    return (!since || r.event.time >= *since) && filter.matches(r.event);
  }
};

// A non-negative JSON integer (nlohmann keeps integers written in C++ as signed).
std::optional<uint64_t> natural(const json& value) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer() && value.get<int64_t>() >= 0) {
    return static_cast<uint64_t>(value.get<int64_t>());
  }
  return std::nullopt;
}

Error badField(const std::string& field, const json& value, const std::string& want) {
  return makeError(Errc::kInvalidArgument,
                   "flows: " + field + ": " + value.dump() + " (" + want + ")");
}

Result<uint64_t> count(const json& request, const char* field, uint64_t fallback,
                       const char* want) {
  auto it = request.find(field);
  if (it == request.end() || it->is_null()) return fallback;
  auto n = natural(*it);
  if (!n) return badField(field, *it, want);
  return *n;
}

Result<std::string> text(const json& value, const std::string& field, const char* want) {
  if (!value.is_string() || value.get<std::string>().empty()) return badField(field, value, want);
  return value.get<std::string>();
}

Result<Filter> parseFilter(const json& request) {
  Filter f;
  auto it = request.find("filter");
  if (it == request.end() || it->is_null()) return f;
  if (!it->is_object()) return badField("filter", *it, "want an object");
  for (const auto& [key, value] : it->items()) {
    const std::string field = "filter." + key;
    if (value.is_null()) continue;
    if (key == "namespace") {
      f.ns = PODNET_TRY(text(value, field, "want a namespace name"));
    } else if (key == "pod") {
      auto pod = PODNET_TRY(text(value, field, "want NAMESPACE/NAME"));
      auto slash = pod.find('/');
      if (slash == std::string::npos || slash == 0 || slash + 1 == pod.size() ||
          pod.find('/', slash + 1) != std::string::npos) {
        return badField(field, value, "want NAMESPACE/NAME");
      }
      f.pod = bpf::PodRef{pod.substr(0, slash), pod.substr(slash + 1)};
    } else if (key == "verdict") {
      auto verdict =
          value.is_string() ? flows::parseVerdict(value.get<std::string>()) : std::nullopt;
      if (!verdict) return badField(field, value, "want forwarded or dropped");
      f.verdict = verdict;
    } else if (key == "port") {
      auto port = natural(value);
      if (!port || *port > 65535) return badField(field, value, "want a port from 0 to 65535");
      f.port = static_cast<uint16_t>(*port);
    } else if (key == "protocol") {
      auto protocol =
          value.is_string() ? flows::parseProtocol(value.get<std::string>()) : std::nullopt;
      if (!protocol || !(flows::hasPorts(*protocol) || *protocol == IPPROTO_ICMP)) {
        return badField(field, value, "want TCP, UDP, SCTP or ICMP");
      }
      f.protocol = protocol;
    } else {
      return badField(field, value,
                      "unknown filter; want namespace, pod, verdict, port or protocol");
    }
  }
  return f;
}

Result<Query> parseQuery(const json& request) {
  if (!request.is_object()) return makeError(Errc::kInvalidArgument, "flows: want a JSON object");
  Query q;
  q.after = PODNET_TRY(count(request, "after", 0, "want a sequence number"));
  constexpr const char* kSinceWant = "want unix time in nanoseconds";
  if (request.contains("since_ns") && !request["since_ns"].is_null()) {
    auto ns = PODNET_TRY(count(request, "since_ns", 0, kSinceWant));
    if (ns > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      return badField("since_ns", request["since_ns"], kSinceWant);
    q.since = std::chrono::system_clock::time_point(
        std::chrono::duration_cast<std::chrono::system_clock::duration>(
            std::chrono::nanoseconds(static_cast<int64_t>(ns))));
  }
  q.limit = PODNET_TRY(count(request, "limit", FlowLog::kDefaultLimit, "want a positive count"));
  if (q.limit == 0) return badField("limit", request["limit"], "want a positive count");
  q.limit = std::min(q.limit, kMaxLimit);
  if (request.contains("last") && !request["last"].is_null()) {
    q.last = PODNET_TRY(count(request, "last", 0, "want a count"));
  }
  q.filter = PODNET_TRY(parseFilter(request));
  return q;
}

json errorAnswer(const Error& error) {
  return {{"ok", false}, {"error", {{"code", cni::kDecodeFailure}, {"msg", error.message}}}};
}

}  // namespace

FlowLog::FlowLog(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {
  ring_.reserve(std::min<size_t>(capacity_, 4096));
}

void FlowLog::record(const bpf::FlowEvent& event, std::string policy) {
  std::lock_guard lock(mu_);
  flows::FlowRecord r{++newest_, event, std::move(policy)};
  if (ring_.size() < capacity_) {
    ring_.push_back(std::move(r));
  } else {
    ring_[(r.seq - 1) % capacity_] = std::move(r);
  }
}

nlohmann::json FlowLog::answer(const nlohmann::json& request) const {
  auto query = parseQuery(request);
  if (!query) return errorAnswer(query.error());
  const Query& q = *query;

  std::vector<flows::FlowRecord> found;
  uint64_t next = 0;
  uint64_t missed = 0;
  {
    std::lock_guard lock(mu_);
    auto at = [&](uint64_t seq) -> const flows::FlowRecord& {
      return ring_[(seq - 1) % capacity_];
    };
    const uint64_t oldest = newest_ - ring_.size() + 1;  // newest_ + 1 when empty
    const uint64_t after = q.after > newest_ ? 0 : q.after;
    uint64_t start = std::max(after + 1, oldest);
    if (!q.last && after + 1 < oldest) missed = oldest - (after + 1);
    if (q.last) {
      if (*q.last == 0) start = newest_ + 1;
      uint64_t seen = 0;
      for (uint64_t s = newest_; s >= start && seen < *q.last; --s) {
        if (q.matches(at(s)) && ++seen == *q.last) start = s;
      }
    }
    next = std::max(after, newest_);
    for (uint64_t s = start; s <= newest_; ++s) {
      if (!q.matches(at(s))) continue;
      found.push_back(at(s));
      if (found.size() == q.limit) {
        next = s;
        break;
      }
    }
  }
  json list = json::array();
  for (const auto& r : found) list.push_back(flows::toJson(r));
  return {{"ok", true}, {"flows", std::move(list)}, {"next", next}, {"missed", missed}};
}

nlohmann::json dropsAnswer(const std::string& node, const bpf::DropCounters& counters) {
  json drops = json::array();
  for (int r = PN_DROP_NONE + 1; r < PN_DROP__MAX; ++r) {
    const pn_counter& c = counters[static_cast<size_t>(r)];
    drops.push_back({{"reason", flows::dropReasonText(static_cast<pn_drop_reason>(r))},
                     {"packets", c.packets},
                     {"bytes", c.bytes}});
  }
  return {{"ok", true}, {"node", node}, {"drops", std::move(drops)}};
}

}  // namespace podnet::agent
