#include "ctl/observe.h"

#include <netinet/in.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <limits>
#include <thread>

#include "cni/plugin.h"
#include "ctl/agent_call.h"
#include "ctl/pods_view.h"

namespace podnet::ctl {
namespace {

using nlohmann::json;

// Flows asked for in one answer; the agent pages on with "next".
constexpr uint64_t kPageSize = 10000;

// One flow as received: decoded for sorting and the table, and as sent, for -o json (so fields
// of a newer agent survive).
struct Flow {
  flows::FlowRecord record;
  json raw;
};

void sortByTime(std::vector<Flow>& flows) {
  std::stable_sort(flows.begin(), flows.end(), [](const Flow& a, const Flow& b) {
    const auto& x = a.record;
    const auto& y = b.record;
    if (x.event.time != y.event.time) return x.event.time < y.event.time;
    if (x.event.node != y.event.node) return x.event.node < y.event.node;
    return x.seq < y.seq;
  });
}

// The answer of one agent, or the reason to warn about it.
Result<json> ask(const AgentTarget& agent, const json& request, std::chrono::milliseconds timeout) {
  return askAgent(agent.socket, request, timeout);
}

void warn(std::ostream& err, const AgentTarget& agent, const std::string& what) {
  err << "podnetctl: warning: " << agent.label() << ": " << what << "\n";
}

int noneAnswered(std::ostream& err, size_t asked) {
  err << "podnetctl: " << (asked == 1 ? "podnetd did not answer" : "no podnetd answered") << " "
      << kNoAgentHint << "\n";
  return 1;
}

// An agent being read: where the next request starts and whether the last one was answered.
struct Cursor {
  AgentTarget agent;
  uint64_t after = 0;
  bool reachable = true;
  bool decodeWarned = false;
  std::optional<uint64_t> sinceNs;  // the run's --since cutoff (sinceCutoff)
};

// --since as a point in time (unix ns), fixed once per run: every agent and every page answers
// for the same window, however long the run takes.
std::optional<uint64_t> sinceCutoff(const ObserveOptions& options) {
  if (!options.since) return std::nullopt;
  auto since = std::chrono::system_clock::now() - *options.since;
  return static_cast<uint64_t>(std::max<int64_t>(
      0, std::chrono::duration_cast<std::chrono::nanoseconds>(since.time_since_epoch()).count()));
}

// Reads every flow the agent has after the cursor (paging on), adding them to out. The first
// request carries `last` when set. On failure nothing is added and the cursor stays.
Status readFlows(Cursor& cursor, const ObserveOptions& options, const json& filter,
                 std::optional<uint64_t> last, std::vector<Flow>& out, std::ostream& err) {
  std::vector<Flow> got;
  uint64_t after = cursor.after;
  uint64_t missed = 0;
  while (true) {
    json request = {{"op", "flows"}, {"after", after}, {"limit", kPageSize}};
    if (!filter.empty()) request["filter"] = filter;
    if (last) request["last"] = *last;
    last.reset();
    if (cursor.sinceNs) request["since_ns"] = *cursor.sinceNs;
    auto reply = PODNET_TRY(ask(cursor.agent, request, options.callTimeout));
    const json& list =
        reply.contains("flows") && reply["flows"].is_array() ? reply["flows"] : json::array();
    for (const auto& raw : list) {
      auto record = flows::flowFromJson(raw);
      if (!record) {
        if (!cursor.decodeWarned)
          warn(err, cursor.agent, "skipping a flow: " + record.error().message);
        cursor.decodeWarned = true;
        continue;
      }
      got.push_back(Flow{std::move(*record), raw});
    }
    if (reply.contains("missed") && reply["missed"].is_number_unsigned()) {
      missed += reply["missed"].get<uint64_t>();
    }
    uint64_t next = reply.contains("next") && reply["next"].is_number_unsigned()
                        ? reply["next"].get<uint64_t>()
                        : after;
    bool more = list.size() >= kPageSize && next > after;
    after = next;
    if (!more) break;
  }
  cursor.after = after;
  if (missed > 0) {
    warn(err, cursor.agent,
         std::to_string(missed) +
             " flows were overwritten in the agent's log before they were read");
  }
  out.insert(out.end(), std::make_move_iterator(got.begin()), std::make_move_iterator(got.end()));
  return okStatus();
}

void print(const std::vector<Flow>& flows, const ObserveOptions& options, std::ostream& out) {
  for (const auto& f : flows) {
    if (options.json) {
      out << f.raw.dump() << "\n";
    } else {
      out << formatFlowRow(f.record);
    }
  }
  out.flush();
}

std::string pad(std::string text, size_t width) {
  if (text.size() < width) text.append(width - text.size(), ' ');
  return text;
}

std::string rtrim(std::string text) {
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

constexpr size_t kTimeWidth = 19, kNodeWidth = 4, kEndWidth = 24, kProtoWidth = 5, kFlagsWidth = 7,
                 kVerdictWidth = 9;

std::string tableLine(const std::string& time, const std::string& node, const std::string& src,
                      const std::string& arrow, const std::string& dst, const std::string& proto,
                      const std::string& flags, const std::string& verdict,
                      const std::string& reason) {
  std::string line = pad(time, kTimeWidth) + "  " + pad(node, kNodeWidth) + "  " +
                     pad(src, kEndWidth) + arrow + pad(dst, kEndWidth) + "  " +
                     pad(proto, kProtoWidth) + "  " + pad(flags, kFlagsWidth) + "  " +
                     pad(verdict, kVerdictWidth);
  if (!reason.empty()) line += "  " + reason;
  return rtrim(line) + "\n";
}

std::string localTime(std::chrono::system_clock::time_point time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    secs -= 1;
  }
  tm parts{};
  ::localtime_r(&secs, &parts);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%b %e %H:%M:%S", &parts);
  char out[40];
  std::snprintf(out, sizeof(out), "%s.%03d", buf, millis);
  return out;
}

std::string endpointText(Ipv4 ip, const std::optional<bpf::PodRef>& pod, uint8_t protocol,
                         uint16_t port) {
  std::string text = pod ? pod->ns + "/" + pod->name : ip.str();
  if (flows::hasPorts(protocol)) text += ":" + std::to_string(port);
  return text;
}

std::string icmpTypeName(uint8_t type) {
  switch (type) {
    case 0:
      return "echo-reply";
    case 3:
      return "unreachable";
    case 8:
      return "echo-request";
    case 11:
      return "time-exceeded";
    default:
      return "type " + std::to_string(type);
  }
}

volatile std::sig_atomic_t gStop = 0;

void onStopSignal(int) {
  gStop = 1;
}

// SIGINT and SIGTERM set gStop while this lives; the previous handlers come back after.
class StopSignals {
 public:
  StopSignals() {
    gStop = 0;
    struct sigaction sa {};
    sa.sa_handler = onStopSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    ::sigaction(SIGINT, &sa, &oldInt_);
    ::sigaction(SIGTERM, &sa, &oldTerm_);
  }
  ~StopSignals() {
    ::sigaction(SIGINT, &oldInt_, nullptr);
    ::sigaction(SIGTERM, &oldTerm_, nullptr);
  }
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct sigaction oldInt_ {};
  struct sigaction oldTerm_ {};
};

}  // namespace

Result<std::chrono::nanoseconds> parseDuration(std::string_view text) {
  using std::chrono::nanoseconds;
  auto bad = [&] {
    return makeError(Errc::kInvalidArgument,
                     "\"" + std::string(text) +
                         "\": not a duration (want a number and a unit: 500ms, 30s, 5m, 1h)");
  };
  struct Unit {
    std::string_view name;
    int64_t ns;
  };
  // Longest names first, so "ms" is not read as "m".
  static constexpr Unit kUnits[] = {{"ns", 1},
                                    {"us", 1'000},
                                    {"ms", 1'000'000},
                                    {"s", 1'000'000'000},
                                    {"m", 60'000'000'000},
                                    {"h", 3'600'000'000'000}};
  if (text.empty()) return bad();
  int64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    int64_t value = 0;
    size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') {
      if (value > (std::numeric_limits<int64_t>::max() - 9) / 10) return bad();
      value = value * 10 + (rest[digits] - '0');
      ++digits;
    }
    if (digits == 0) return bad();
    rest.remove_prefix(digits);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (rest.substr(0, u.name.size()) == u.name) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr) return bad();
    rest.remove_prefix(unit->name.size());
    if (value > (std::numeric_limits<int64_t>::max() - total) / unit->ns) return bad();
    total += value * unit->ns;
  }
  return nanoseconds(total);
}

json flowFilter(const ObserveOptions& options) {
  json filter = json::object();
  if (options.ns) filter["namespace"] = *options.ns;
  if (options.pod) filter["pod"] = *options.pod;
  if (options.verdict) filter["verdict"] = *options.verdict;
  if (options.port) filter["port"] = *options.port;
  if (options.protocol) {
    std::string upper = *options.protocol;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    filter["protocol"] = upper;
  }
  return filter;
}

std::string flowTableHeader() {
  return tableLine("TIME", "NODE", "SOURCE", "    ", "DESTINATION", "PROTO", "FLAGS", "VERDICT",
                   "");
}

std::string formatFlowRow(const flows::FlowRecord& flow) {
  const bpf::FlowEvent& ev = flow.event;
  std::string flags = "-";
  if (ev.protocol == IPPROTO_TCP && ev.tcpFlags != 0) flags = flows::tcpFlagsText(ev.tcpFlags);
  if (ev.protocol == IPPROTO_ICMP) flags = icmpTypeName(ev.icmpType);
  std::string reason;
  if (ev.verdict == PN_VERDICT_DROPPED) {
    reason = flows::dropReasonText(ev.dropReason);
  } else if (ev.match != PN_MATCH_NONE || !flow.policy.empty()) {
    reason = flows::matchName(ev.match);
  }
  if (!flow.policy.empty()) reason += ": " + flow.policy;
  if (!reason.empty()) reason = "(" + reason + ")";
  std::string verdict = ev.verdict == PN_VERDICT_DROPPED ? "DROPPED" : "FORWARDED";
  return tableLine(localTime(ev.time), ev.node,
                   endpointText(ev.src, ev.srcPod, ev.protocol, ev.srcPort), " -> ",
                   endpointText(ev.dst, ev.dstPod, ev.protocol, ev.dstPort),
                   flows::protocolName(ev.protocol), flags, verdict, reason);
}

int runObserve(const ObserveOptions& options, const std::vector<AgentTarget>& agents,
               std::ostream& out, std::ostream& err, const std::function<bool()>& stopRequested) {
  const json filter = flowFilter(options);
  std::optional<uint64_t> last = options.last;
  if (!last && !options.since) {
    if (options.follow) {
      last = 0;  // start at the newest flow
    } else {
      last = kDefaultLast;
    }
  }
  auto stopped = [&] { return stopRequested && stopRequested(); };

  std::vector<Cursor> cursors;
  const auto cutoff = sinceCutoff(options);
  for (const auto& a : agents) cursors.push_back(Cursor{a, 0, true, false, cutoff});
  std::vector<Flow> batch;
  size_t answered = 0;
  for (auto& c : cursors) {
    auto read = readFlows(c, options, filter, last, batch, err);
    if (!read) {
      c.reachable = false;
      if (!stopped()) warn(err, c.agent, read.error().message);
      continue;
    }
    ++answered;
  }
  if (answered == 0 && !stopped()) return noneAnswered(err, agents.size());
  sortByTime(batch);
  if (last && batch.size() > *last) {  // each agent sent its newest N: keep the newest N of all
    batch.erase(batch.begin(), batch.end() - static_cast<std::ptrdiff_t>(*last));
  }
  if (!options.json) out << flowTableHeader();
  print(batch, options, out);
  if (!options.follow) return 0;

  // An agent that did not answer the first time is read from its newest flow once it does.
  std::vector<bool> started(cursors.size());
  for (size_t i = 0; i < cursors.size(); ++i) started[i] = cursors[i].reachable;
  const auto tick = std::chrono::milliseconds(20);
  while (!stopped()) {
    for (auto waited = std::chrono::milliseconds(0); waited < options.pollInterval && !stopped();
         waited += tick) {
      std::this_thread::sleep_for(std::min(tick, options.pollInterval - waited));
    }
    if (stopped()) break;
    batch.clear();
    for (size_t i = 0; i < cursors.size(); ++i) {
      Cursor& c = cursors[i];
      auto read = readFlows(c, options, filter,
                            started[i] ? std::nullopt : std::optional<uint64_t>(0), batch, err);
      if (stopped()) break;
      if (!read) {
        if (c.reachable) warn(err, c.agent, read.error().message);
        c.reachable = false;
        continue;
      }
      if (!c.reachable) warn(err, c.agent, "answering again");
      c.reachable = true;
      started[i] = true;
    }
    sortByTime(batch);
    print(batch, options, out);
  }
  return 0;
}

int runGetDrops(const std::vector<AgentTarget>& agents, bool asJson, std::ostream& out,
                std::ostream& err) {
  std::vector<std::vector<std::string>> rows = {{"NODE", "REASON", "PACKETS", "BYTES"}};
  json list = json::array();
  size_t answered = 0;
  for (const auto& agent : agents) {
    auto reply = ask(agent, {{"op", "drops"}}, std::chrono::seconds(5));
    if (!reply) {
      warn(err, agent, reply.error().message);
      continue;
    }
    ++answered;
    std::string node = reply->contains("node") && (*reply)["node"].is_string()
                           ? (*reply)["node"].get<std::string>()
                           : "";
    if (node.empty()) node = agent.node.empty() ? agent.socket : agent.node;
    const json& drops = reply->contains("drops") && (*reply)["drops"].is_array() ? (*reply)["drops"]
                                                                                 : json::array();
    for (const auto& d : drops) {
      if (!d.is_object() || !d.contains("reason") || !d["reason"].is_string()) continue;
      uint64_t packets = d.value("packets", uint64_t{0});
      uint64_t bytes = d.value("bytes", uint64_t{0});
      rows.push_back(
          {node, d["reason"].get<std::string>(), std::to_string(packets), std::to_string(bytes)});
      list.push_back(
          {{"node", node}, {"reason", d["reason"]}, {"packets", packets}, {"bytes", bytes}});
    }
  }
  if (answered == 0) return noneAnswered(err, agents.size());
  out << (asJson ? list.dump(2) + "\n" : renderTable(rows));
  return 0;
}

std::unique_ptr<ObserveCommands> ObserveCommands::add(CLI::App& app, CLI::App& get) {
  std::unique_ptr<ObserveCommands> c(new ObserveCommands());
  c->globalSocket_ = app.get_option_no_throw("--socket");
  const std::string socketHelp =
      "an agent's unix socket; repeat for several (default: the local podnetd, else every node "
      "of a running lab)";

  auto* o = app.add_subcommand("observe", "Recent flows from the agents, and new ones (--follow)");
  c->observe_ = o;
  o->add_option("--namespace", c->ns_, "flows from or to pods of this namespace");
  o->add_option("--pod", c->pod_, "flows from or to this pod (NAMESPACE/NAME)");
  o->add_option("--verdict", c->verdict_, "forwarded or dropped")
      ->check(CLI::IsMember({"forwarded", "dropped"}));
  c->portOption_ =
      o->add_option("--port", c->port_, "source or destination port")->check(CLI::Range(0, 65535));
  o->add_option("--protocol", c->protocol_, "TCP, UDP, SCTP or ICMP")
      ->check(CLI::IsMember({"TCP", "UDP", "SCTP", "ICMP"}, CLI::ignore_case));
  o->add_option("--since", c->since_, "flows no older than this: 500ms, 30s, 5m, 1h");
  c->lastOption_ =
      o->add_option("--last", c->last_,
                    "the newest N flows (default without --since: 20, or none with --follow)");
  o->add_flag("-f,--follow", c->follow_, "keep printing new flows until interrupted");
  o->add_option("-o,--output", c->output_, "table or json (one flow per line)")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  o->add_option("--socket", c->sockets_, socketHelp);

  c->drops_ = get.add_subcommand("drops", "Dropped packets and bytes per node and drop reason");
  c->drops_->add_option("-o,--output", c->output_, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  c->drops_->add_option("--socket", c->sockets_, socketHelp);
  return c;
}

std::vector<std::string> ObserveCommands::sockets() const {
  std::vector<std::string> out = sockets_;
  if (globalSocket_ != nullptr && globalSocket_->count() > 0) {
    out.insert(out.begin(), globalSocket_->as<std::string>());
  }
  return out;
}

std::optional<int> ObserveCommands::run() const {
  if (*drops_) {
    return runGetDrops(findAgents(sockets(), std::cerr), output_ == "json", std::cout, std::cerr);
  }
  if (!*observe_) return std::nullopt;
  ObserveOptions options;
  if (!ns_.empty()) options.ns = ns_;
  if (!pod_.empty()) {
    auto slash = pod_.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == pod_.size() ||
        pod_.find('/', slash + 1) != std::string::npos) {
      std::cerr << "podnetctl: observe: --pod \"" << pod_ << "\": want NAMESPACE/NAME\n";
      return 2;
    }
    options.pod = pod_;
  }
  if (!verdict_.empty()) options.verdict = verdict_;
  if (!protocol_.empty()) options.protocol = protocol_;
  if (portOption_->count() > 0) options.port = static_cast<uint16_t>(port_);
  if (!since_.empty()) {
    auto since = parseDuration(since_);
    if (!since) {
      std::cerr << "podnetctl: observe: --since " << since.error().message << "\n";
      return 2;
    }
    options.since = *since;
  }
  if (lastOption_->count() > 0) options.last = last_;
  options.follow = follow_;
  options.json = output_ == "json";
  auto agents = findAgents(sockets(), std::cerr);
  if (!options.follow) return runObserve(options, agents, std::cout, std::cerr, {});
  StopSignals signals;
  return runObserve(options, agents, std::cout, std::cerr, [] { return gStop != 0; });
}

}  // namespace podnet::ctl
