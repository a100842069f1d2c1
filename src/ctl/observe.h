// podnetctl observe: the agents' recent flows, hubble-style, and `get drops`, their drop counters.
//
//   podnetctl observe [--namespace NS] [--pod NS/NAME] [--verdict forwarded|dropped] [--port P]
//                     [--protocol TCP|UDP|SCTP|ICMP] [--since 5m] [--last N] [--follow]
//                     [-o table|json] [--socket PATH]...
//   podnetctl get drops [-o table|json] [--socket PATH]...
//
// Which agents: findAgents (agent_call.h), every node of a running lab rather than one. An agent
// that does not answer is a warning naming it; the command fails (exit 1) only when none answers.
// Flows from every agent are merged by time. The agent side is agent/flow_log.h; docs/observe.md
// has the whole picture.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "ctl/agent_call.h"
#include "flows/flow_json.h"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace podnet::ctl {

// "500ms", "30s", "5m", "1h", "1h30m" (units ns, us, ms, s, m, h). kInvalidArgument otherwise.
Result<std::chrono::nanoseconds> parseDuration(std::string_view text);

struct ObserveOptions {
  std::optional<std::string> ns;
  std::optional<std::string> pod;       // NAMESPACE/NAME
  std::optional<std::string> verdict;   // forwarded, dropped
  std::optional<std::string> protocol;  // TCP, UDP, SCTP, ICMP
  std::optional<uint16_t> port;
  std::optional<std::chrono::nanoseconds> since;  // flows no older than this
  std::optional<uint64_t> last;                   // the newest N flows (over every agent)
  bool follow = false;
  bool json = false;  // one flow JSON object per line, else the table
  std::chrono::milliseconds pollInterval{200};
  std::chrono::milliseconds callTimeout{5000};
};

// Without --last and --since, observe shows this many of the newest flows (as hubble does), and
// --follow starts at the newest flow.
inline constexpr uint64_t kDefaultLast = 20;

// The RPC's "filter" object for the options (absent fields are not sent).
nlohmann::json flowFilter(const ObserveOptions& options);

// The table: a header, then one line per flow,
//   TIME  NODE  SOURCE -> DESTINATION  PROTO  FLAGS  VERDICT  (REASON: policy)
// with fixed minimum widths (so lines printed while following line up), time in local time,
// pods as ns/name:port and other ends as ip:port. REASON is the drop reason of a drop and the
// match of a forwarded flow ("established", "policy-allow", ...).
std::string flowTableHeader();
std::string formatFlowRow(const flows::FlowRecord& flow);

// observe end to end: flows on out, warnings on err. While following, stopRequested is checked
// between polls (and during the wait); the run ends when it returns true. Returns the exit code.
int runObserve(const ObserveOptions& options, const std::vector<AgentTarget>& agents,
               std::ostream& out, std::ostream& err, const std::function<bool()>& stopRequested);

// get drops: NODE REASON PACKETS BYTES, or a JSON array of {"node","reason","packets","bytes"}.
int runGetDrops(const std::vector<AgentTarget>& agents, bool json, std::ostream& out,
                std::ostream& err);

// The CLI11 wiring of observe and `get drops`; run() after parsing returns the chosen command's
// exit code, or nullopt when neither was chosen.
class ObserveCommands {
 public:
  // app must already have the global --socket option (it is read in run()).
  static std::unique_ptr<ObserveCommands> add(CLI::App& app, CLI::App& get);
  std::optional<int> run() const;

 private:
  ObserveCommands() = default;
  std::vector<std::string> sockets() const;

  CLI::Option* globalSocket_ = nullptr;
  CLI::App* observe_ = nullptr;
  CLI::App* drops_ = nullptr;
  CLI::Option* portOption_ = nullptr;
  CLI::Option* lastOption_ = nullptr;
  std::vector<std::string> sockets_;
  std::string ns_, pod_, verdict_, protocol_, since_, output_ = "table";
  int port_ = 0;
  uint64_t last_ = 0;
  bool follow_ = false;
};

}  // namespace podnet::ctl
