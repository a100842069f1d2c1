// podnet-bench-lab's policy section, on a 3-node lab of its own. Pods, all in namespace "bench":
//
//   client     n1  role=client   sends the measured flow (iperf3, round trips)
//   server     n2  role=server   receives it
//   target-n1  n1  role=server   with the server, one selected pod per node
//   target-n3  n3  role=server
//   prober-nX  nX  role=prober   probes that no rule allows (but the 1-rule update's)
//
// The policy of N rules: NetworkPolicies bench/bench-server-<k> selecting role=server, ingress
// only, 5,000 rules each (podnetctl refuses a larger document), so 10,000 rules are two policies.
// Rules 0..N-2 each allow role=client on a port of their own (TCP 20000+i); rule N-1 allows
// role=client on the benchmark's ports (iperf3 5201, round trips 7001, new flows 7002, where
// nothing listens). So the server is isolated and the measured flow is allowed by one rule
// among N.
//
// Cost: "no policy" (the program attached to every pod, as always, but nothing isolated) and each
// N, measured round after round in rotating order (A B C, B C A, C A B, ...) so that load that
// comes and goes hits all alike. Before each measurement the configuration is confirmed in force
// by probes that only it passes and blocks, and the cluster's processes are idle again. Then one
// iperf3 run, client -> server, one connection of 1-byte round trips, and new flows (SYN, RST
// back: the packet policy decides; conntrack passes every later one). Ratios to "no policy": the
// median of the rounds' ratios (Gbit/s, per-round p50s), beside the quietest rounds' (highest
// Gbit/s, lowest p50); round-trip p99 over all samples.
//
// Enforcement at the largest N: the time from `podnetctl apply` (or delete) being issued until
// the change is in force on every node, as probes see it. For each node, a prober on another node
// opens a TCP connection to that node's selected pod's port 80 every 2 ms, each given 50 ms
// (a refusal counts as passing, a timeout as blocked); the change is in force on the node at the
// start of the first of 10 probes in a row with the new verdict. Four changes per repeat: apply N
// rules (blocks the probers), update 1 rule to allow them (passes), update it back (blocks),
// delete (passes). The agents' own log lines ("policy: revision ...") are read back for the time
// each logged its last revision and for their compile and write times.
#include "lab_policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <thread>

#include "lab/processes.h"
#include "lab/state.h"
#include "lab_harness.h"
#include "netlink/netns.h"

namespace podnet::bench {
namespace {

using namespace std::chrono_literals;
using WallClock = std::chrono::system_clock;

constexpr const char* kNamespace = "bench";
constexpr const char* kPolicyName = "bench-server";
constexpr int kFirstRulePort = 20000;
constexpr uint16_t kLabPort = 80;  // every pod's lab server
constexpr auto kProbeEvery = 2ms;
constexpr auto kProbeTimeout = 50ms;
constexpr int kConfirmProbes = 10;  // in a row with the new verdict
constexpr auto kChangeTimeout = 60s;
constexpr auto kIdleWindow = 300ms;
constexpr double kIdleShare = 0.10;  // of one core, over kIdleWindow
constexpr auto kIdleTimeout = 60s;
constexpr int kNewFlows = 300;           // per configuration and round
constexpr uint16_t kNewFlowPort = 7002;  // allowed by the last rule; nothing listens

// The targets of the issue "network policy benchmark", at the largest N.
constexpr double kThroughputMin = 0.97;
constexpr double kLatencyMax = 1.03;
constexpr double kEnforceMaxMs = 1000;

enum class Verdict { kPasses, kBlocked };

const char* verdictName(Verdict v) {
  return v == Verdict::kPasses ? "passes" : "blocked";
}

// The rules in one policy at most: podnetctl refuses a document of more than 100,000 YAML nodes
// (a guard against alias bombs), and a rule here is about 10 of them.
constexpr int kRulesPerPolicy = 5000;

int policiesFor(int rules) {
  return (rules + kRulesPerPolicy - 1) / kRulesPerPolicy;
}

std::string policyName(int index) {
  return std::string(kPolicyName) + "-" + std::to_string(index);
}

// The NetworkPolicies of `rules` rules in all described above, kRulesPerPolicy per document;
// probersAllowed: the 1-rule update, rule 0 allowing role=prober on port 80 instead of
// role=client on port 20000.
std::string policyYaml(int rules, bool probersAllowed) {
  std::string y;
  y.reserve(static_cast<size_t>(rules) * 100 + 512);
  for (int first = 0; first < rules; first += kRulesPerPolicy) {
    y += first == 0 ? "" : "---\n";
    y += "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: " +
         policyName(first / kRulesPerPolicy) + "\n  namespace: " + kNamespace +
         "\nspec:\n  podSelector:\n    matchLabels: {role: server}\n  policyTypes: [Ingress]\n"
         "  ingress:\n";
    for (int i = first; i < std::min(rules, first + kRulesPerPolicy); ++i) {
      if (i == rules - 1) {
        y += "  - from: [{podSelector: {matchLabels: {role: client}}}]\n    ports: [";
        for (uint16_t port : {kIperfPort, kPingPongPort, kNewFlowPort}) {
          y += "{protocol: TCP, port: " + std::to_string(port) + "}";
          y += port == kNewFlowPort ? "]\n" : ", ";
        }
      } else if (i == 0 && probersAllowed) {
        y += "  - from: [{podSelector: {matchLabels: {role: prober}}}]\n"
             "    ports: [{protocol: TCP, port: " +
             std::to_string(kLabPort) + "}]\n";
      } else {
        y += "  - from: [{podSelector: {matchLabels: {role: client}}}]\n"
             "    ports: [{protocol: TCP, port: " +
             std::to_string(kFirstRulePort + i) + "}]\n";
      }
    }
  }
  return y;
}

// The policies first..last-1 by name, for `podnetctl delete -f`.
std::string policyNamesYaml(int first, int last) {
  std::string y;
  for (int p = first; p < last; ++p) {
    y += "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " +
         policyName(p) + ", namespace: " + kNamespace + "}\n";
  }
  return y;
}

// The port only a policy of at least `rules` rules opens to the client.
uint16_t markerPort(int rules) {
  return static_cast<uint16_t>(kFirstRulePort + rules - 2);
}

// In the calling thread, moved into ns: a new TCP connection to to:port every kProbeEvery, each
// given kProbeTimeout (several in flight), until kConfirmProbes in a row give `want`. Returns
// when the first of them started; nullopt at the deadline or when cancelled.
Result<std::optional<Clock::time_point>> awaitVerdict(const netlink::Netns& ns, Ipv4 to,
                                                      uint16_t port, Verdict want,
                                                      Clock::time_point deadline,
                                                      const std::atomic<bool>& cancel) {
  auto scope = PODNET_TRY(netlink::NetnsScope::enter(ns));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(to.value);
  struct InFlight {
    UniqueFd fd;
    size_t seq;
  };
  std::vector<InFlight> inFlight;  // oldest first
  std::vector<Clock::time_point> starts;
  std::vector<int8_t> outcome;  // per probe: -1 unsettled, 0 blocked, 1 passes
  size_t scan = 0, runStart = 0;
  int run = 0;
  auto next = Clock::now();
  while (!gInterrupted && !cancel) {
    auto now = Clock::now();
    if (now >= deadline) return std::optional<Clock::time_point>{};
    if (now >= next) {
      const size_t seq = starts.size();
      starts.push_back(now);
      outcome.push_back(-1);
      UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
      if (!fd.valid()) return sysError("probe: socket");
      const linger reset{1, 0};  // close with a RST: no TIME_WAIT, no port shortage
      ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
          errno == ECONNREFUSED) {
        outcome[seq] = 1;
      } else if (errno == EINPROGRESS) {
        inFlight.push_back({std::move(fd), seq});
      } else if (errno == EADDRNOTAVAIL) {
        return sysError("probe " + to.str() + ":" + std::to_string(port) + ": connect");
      } else {
        outcome[seq] = 0;  // unreachable: not through
      }
      next = std::max(next + kProbeEvery, now);
    }
    // Until the next launch, the oldest probe's timeout or a connection settles.
    auto wake = next;
    if (!inFlight.empty()) wake = std::min(wake, starts[inFlight.front().seq] + kProbeTimeout);
    std::vector<pollfd> fds;
    for (const auto& p : inFlight) fds.push_back({p.fd.get(), POLLOUT, 0});
    const auto wait = std::max(wake - Clock::now(), Clock::duration::zero());
    const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count();
    const timespec ts{static_cast<time_t>(nanos / 1'000'000'000),
                      static_cast<long>(nanos % 1'000'000'000)};
    if (::ppoll(fds.data(), fds.size(), &ts, nullptr) < 0 && errno != EINTR) {
      return sysError("probe: ppoll");
    }
    now = Clock::now();
    std::vector<InFlight> still;
    for (size_t i = 0; i < inFlight.size(); ++i) {
      auto& p = inFlight[i];
      if (fds[i].revents != 0) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(p.fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        outcome[p.seq] = err == 0 || err == ECONNREFUSED ? 1 : 0;
      } else if (now >= starts[p.seq] + kProbeTimeout) {
        outcome[p.seq] = 0;
      } else {
        still.push_back(std::move(p));
      }
    }
    inFlight = std::move(still);
    for (; scan < outcome.size() && outcome[scan] >= 0; ++scan) {
      if ((outcome[scan] == 1) != (want == Verdict::kPasses)) {
        run = 0;
        continue;
      }
      if (run++ == 0) runStart = scan;
      if (run >= kConfirmProbes) return std::optional<Clock::time_point>{starts[runStart]};
    }
  }
  return std::optional<Clock::time_point>{};
}

// `count` TCP connection attempts, one after another, from the namespace at netnsPath to to:port,
// where nothing listens: the µs from connect() until the refusal. That is the SYN's round trip,
// the one packet of a flow that policy decides (every later packet is conntrack's), without an
// accept queue in the way.
Result<std::vector<double>> newFlowTimes(const std::string& netnsPath, Ipv4 to, uint16_t port,
                                         int count) {
  auto ns = PODNET_TRY(netlink::Netns::open(netnsPath));
  std::optional<Result<std::vector<double>>> result;
  std::thread worker([&] {
    auto scope = netlink::NetnsScope::enter(ns);
    if (!scope) {
      result = scope.error();
      return;
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(to.value);
    std::vector<double> times;
    for (int i = 0; i < count && !gInterrupted; ++i) {
      UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!fd.valid()) {
        result = sysError("new flows: socket");
        return;
      }
      const timeval timeout{1, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);  // bounds it
      const auto start = Clock::now();
      if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
          errno != ECONNREFUSED) {
        result = sysError("new flows to " + to.str() + ":" + std::to_string(port) +
                          ": expected a refusal");
        return;
      }
      times.push_back(std::chrono::duration<double, std::micro>(Clock::now() - start).count());
    }
    result = std::move(times);
  });
  worker.join();
  return std::move(*result);
}

struct ProbeTask {
  std::string what;  // "prober-n1 -> server:80"
  std::string fromNetns;
  Ipv4 to;
  uint16_t port = 0;
  Verdict want = Verdict::kPasses;
};

// Each task in a thread of its own until all see their verdict: when each did (nullopt: not
// within the deadline). `during` runs meanwhile in the calling thread; when it fails, the probes
// are cancelled and its error returned.
Result<std::vector<std::optional<Clock::time_point>>> awaitVerdicts(
    const std::vector<ProbeTask>& tasks, Clock::time_point deadline,
    const std::function<Status()>& during = [] { return okStatus(); }) {
  std::vector<netlink::Netns> namespaces;
  for (const auto& t : tasks) {
    namespaces.push_back(PODNET_TRY(netlink::Netns::open(lab::Layout::netnsPath(t.fromNetns))));
  }
  std::atomic<bool> cancel{false};
  std::vector<std::optional<Result<std::optional<Clock::time_point>>>> results(tasks.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < tasks.size(); ++i) {
    threads.emplace_back([&, i] {
      results[i] =
          awaitVerdict(namespaces[i], tasks[i].to, tasks[i].port, tasks[i].want, deadline, cancel);
    });
  }
  Status st = during();
  if (!st) cancel = true;
  for (auto& t : threads) t.join();
  PODNET_TRY_STATUS(std::move(st));
  PODNET_TRY_STATUS(checkInterrupted());
  std::vector<std::optional<Clock::time_point>> out;
  for (size_t i = 0; i < tasks.size(); ++i) {
    if (!*results[i]) return results[i]->error().context(tasks[i].what);
    out.push_back(**results[i]);
  }
  return out;
}

// CPU time (utime + stime, in clock ticks) of the processes still running.
uint64_t cpuTicks(const std::vector<pid_t>& pids) {
  uint64_t total = 0;
  for (pid_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto paren = text.rfind(')');
    if (paren == std::string::npos) continue;
    std::istringstream fields(text.substr(paren + 1));
    std::string field;
    uint64_t utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {  // fields 14 and 15 of proc_pid_stat(5)
      if (i == 14) utime = std::stoull(field);
      if (i == 15) stime = std::stoull(field);
    }
    total += utime + stime;
  }
  return total;
}

// A line "policy: revision N: ..." of an agent's log.
struct RevisionLine {
  WallClock::time_point at;
  uint64_t revision = 0;
  uint64_t entries = 0;
  double compiledMs = 0, writtenMs = 0;
};

// spdlog's default pattern: "[2025-01-31 08:38:41.123] [info] policy: revision 7: 10003 map
// writes (10001 entries, 3 endpoints); compiled in 95 ms, written in 41 ms" (local time).
std::vector<RevisionLine> readRevisionLines(const std::string& logFile) {
  static const std::regex kLine(
      R"(^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)\.(\d{3})\] .*policy: revision (\d+): \d+ map writes )"
      R"(\((\d+) entries, \d+ endpoints\); compiled in (\d+) ms, written in (\d+) ms)");
  std::vector<RevisionLine> out;
  std::ifstream in(logFile);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("policy: revision") == std::string::npos) continue;
    std::smatch m;
    if (!std::regex_search(line, m, kLine)) continue;
    std::tm tm{};
    std::istringstream when(m[1].str());
    when >> std::get_time(&tm, "%Y-%m-%d %H:%M:%S");
    if (when.fail()) continue;
    tm.tm_isdst = -1;
    RevisionLine r;
    r.at = WallClock::from_time_t(std::mktime(&tm)) + std::chrono::milliseconds(std::stoi(m[2]));
    r.revision = std::stoull(m[3]);
    r.entries = std::stoull(m[4]);
    r.compiledMs = std::stod(m[5]);
    r.writtenMs = std::stod(m[6]);
    out.push_back(r);
  }
  return out;
}

struct ConfigFigures {
  int rules = 0;                   // 0: no policy
  std::vector<double> gbps;        // per round
  std::vector<double> roundP50;    // µs, per round
  std::vector<double> rtt;         // µs, every sample of every round
  std::vector<double> newFlowP50;  // µs, per round
};

// The median of the rounds' ratios a[r] / b[r]: each round measures every configuration seconds
// apart, so pairing them cancels most of the load that comes and goes on a shared machine.
double pairedRatio(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ratios;
  for (size_t r = 0; r < std::min(a.size(), b.size()); ++r) ratios.push_back(a[r] / b[r]);
  return median(ratios);
}

// One kind of change timed at the largest N.
struct ChangeFigures {
  std::string what;
  Verdict want = Verdict::kPasses;
  std::vector<std::vector<double>> nodeMs;  // [repeat][node]: until that node enforces
  std::vector<double> ctlMs;                // until podnetctl returned
  std::vector<std::pair<WallClock::time_point, WallClock::time_point>> windows;  // per repeat
  std::vector<double> loggedMs;  // per repeat: until the last agent logged its last revision
};

std::string configName(int rules) {
  return rules == 0 ? std::string("no policy") : std::to_string(rules) + " rules";
}

class PolicyBench {
 public:
  PolicyBench(lab::Lab& lab, const PolicyOptions& options) : lab_(lab), options_(options) {}

  Status setUp();
  Status measureCost();
  Status measureEnforcement();
  void readAgentLogs();
  void printReport() const;

 private:
  struct Enforcer {
    std::string node;    // enforces
    std::string target;  // its selected pod
    std::string prober;  // a pod on another node that probes it
    Ipv4 targetIp;
  };

  Status podnetctl(const std::string& op, const std::string& file);
  Result<std::string> writeFile(const std::string& name, const std::string& text);
  Status switchTo(size_t config);
  std::vector<ProbeTask> configProbes(size_t config) const;
  Status waitIdle();
  Status timeChange(ChangeFigures& figures, const std::string& op, const std::string& file);

  lab::Lab& lab_;
  const PolicyOptions& options_;
  std::string podnetctl_;
  std::string clientNetns_, serverNetns_;
  Ipv4 serverIp_;
  std::vector<Enforcer> enforcers_;
  std::vector<pid_t> clusterPids_;  // agents, etcd, controller: idle before each measurement
  std::vector<std::string> files_;  // per configuration (none for 0)
  std::string updateFile_;          // the largest N with rule 0 allowing the probers
  size_t current_ = 0;              // the configuration in force
  std::vector<ConfigFigures> configs_;
  std::vector<ChangeFigures> changes_;
  std::map<std::string, std::vector<RevisionLine>> revisions_;  // by node
  std::vector<std::string> idleWarnings_;
};

Status PolicyBench::setUp() {
  podnetctl_ = PODNET_TRY(lab::findBinary("podnetctl", options_.binDir));
  PODNET_TRY_STATUS(lab_.addNamespace(kNamespace, {}));
  struct PodSpec {
    const char *name, *node, *role;
  };
  const PodSpec pods[] = {{"client", "n1", "client"},    {"server", "n2", "server"},
                          {"target-n1", "n1", "server"}, {"target-n3", "n3", "server"},
                          {"prober-n1", "n1", "prober"}, {"prober-n2", "n2", "prober"},
                          {"prober-n3", "n3", "prober"}};
  for (const auto& p : pods) {
    PODNET_TRY_STATUS(checkInterrupted());
    const auto ref = PODNET_TRY(lab::parsePodRef(std::string(kNamespace) + "/" + p.name));
    PODNET_TRY_STATUS(lab_.addPod(ref, p.node, {{"role", p.role}}));
  }
  auto state = PODNET_TRY(lab::loadState(lab_.layout()));
  if (!state) return makeError(Errc::kNotFound, "lab state vanished");
  auto netnsOf = [&](const std::string& pod) {
    return lab_.netnsOf(std::string(kNamespace) + "/" + pod);
  };
  auto ipOf = [&](const std::string& pod) {
    return Ipv4::parse(state->pods.at(std::string(kNamespace) + "/" + pod).ip);
  };
  clientNetns_ = PODNET_TRY(netnsOf("client"));
  serverNetns_ = PODNET_TRY(netnsOf("server"));
  serverIp_ = PODNET_TRY(ipOf("server"));
  // Each node's selected pod, probed from the next node's prober.
  const std::pair<const char*, const char*> targets[] = {
      {"n1", "target-n1"}, {"n2", "server"}, {"n3", "target-n3"}};
  for (size_t i = 0; i < 3; ++i) {
    Enforcer e;
    e.node = targets[i].first;
    e.target = targets[i].second;
    e.prober = "prober-n" + std::to_string((i + 1) % 3 + 1);
    e.targetIp = PODNET_TRY(ipOf(e.target));
    enforcers_.push_back(e);
  }
  for (const auto& p : state->processes) {
    if (p.role.starts_with("podnetd ") || p.role == "etcd" || p.role == "controller") {
      clusterPids_.push_back(p.pid);
    }
  }

  configs_.push_back({});
  files_.emplace_back();
  for (int rules : options_.rules) {
    configs_.push_back({rules, {}, {}, {}, {}});
    files_.push_back(
        PODNET_TRY(writeFile(std::to_string(rules) + ".yaml", policyYaml(rules, false))));
  }
  updateFile_ = PODNET_TRY(writeFile(std::to_string(options_.rules.back()) + "-probers.yaml",
                                     policyYaml(options_.rules.back(), true)));
  return okStatus();
}

// A file in the lab's run directory, which goes with the lab.
Result<std::string> PolicyBench::writeFile(const std::string& name, const std::string& text) {
  const std::string dir = lab_.layout().runDir() + "/bench-policy";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return makeError(Errc::kIo, "create " + dir + ": " + ec.message());
  const std::string path = dir + "/" + name;
  std::ofstream out(path);
  out << text;
  if (!out.flush()) return makeError(Errc::kIo, "write " + path);
  return path;
}

Status PolicyBench::podnetctl(const std::string& op, const std::string& file) {
  std::string out;
  const int rc = PODNET_TRY(lab::runCommand(
      {podnetctl_, "--socket", lab_.layout().agentSocket("n1"), op, "-f", file}, &out));
  if (rc != 0) {
    return makeError(
        Errc::kIo, "podnetctl " + op + " -f " + file + ": exit " + std::to_string(rc) + ": " + out);
  }
  return okStatus();
}

// What only `config` passes and blocks: every policy blocks the probers; with a policy, the
// client reaches the marker port of each N up to config's, and not the next one's.
std::vector<ProbeTask> PolicyBench::configProbes(size_t config) const {
  std::vector<ProbeTask> tasks;
  const std::string prober = lab_.layout().podNetns(kNamespace, "prober-n1");
  tasks.push_back({"prober-n1 -> server:80", prober, serverIp_, kLabPort,
                   config == 0 ? Verdict::kPasses : Verdict::kBlocked});
  if (config > 0) {
    const uint16_t port = markerPort(configs_[config].rules);
    tasks.push_back({"client -> server:" + std::to_string(port), clientNetns_, serverIp_, port,
                     Verdict::kPasses});
  }
  if (config > 0 && config + 1 < configs_.size()) {
    const uint16_t port = markerPort(configs_[config + 1].rules);
    tasks.push_back({"client -> server:" + std::to_string(port), clientNetns_, serverIp_, port,
                     Verdict::kBlocked});
  }
  return tasks;
}

// Until the cluster's processes (agents, etcd, controller) used under kIdleShare of a core over
// the last kIdleWindow: the change is written everywhere and nothing competes for the CPU.
Status PolicyBench::waitIdle() {
  const double ticksPerSecond = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const auto budget =
      kIdleShare * ticksPerSecond * std::chrono::duration<double>(kIdleWindow).count();
  std::deque<std::pair<Clock::time_point, uint64_t>> samples;
  const auto start = Clock::now();
  while (Clock::now() - start < kIdleTimeout) {
    PODNET_TRY_STATUS(checkInterrupted());
    const auto now = Clock::now();
    samples.emplace_back(now, cpuTicks(clusterPids_));
    while (samples.size() > 1 && now - samples[1].first >= kIdleWindow) samples.pop_front();
    if (now - samples.front().first >= kIdleWindow &&
        static_cast<double>(samples.back().second - samples.front().second) <= budget) {
      return okStatus();
    }
    std::this_thread::sleep_for(50ms);
  }
  idleWarnings_.push_back("the cluster was not idle within 60 s (load average " + loadAverage() +
                          ")");
  return okStatus();
}

Status PolicyBench::switchTo(size_t config) {
  if (config == current_) return okStatus();
  if (config == 0) {
    PODNET_TRY_STATUS(podnetctl("delete", files_[current_]));
  } else {
    PODNET_TRY_STATUS(podnetctl("apply", files_[config]));
    const int had = policiesFor(configs_[current_].rules),
              has = policiesFor(configs_[config].rules);
    if (had > has) {
      const std::string surplus = PODNET_TRY(
          writeFile("delete-" + std::to_string(has) + "-" + std::to_string(had) + ".yaml",
                    policyNamesYaml(has, had)));
      PODNET_TRY_STATUS(podnetctl("delete", surplus));
    }
  }
  current_ = config;
  auto seen = PODNET_TRY(awaitVerdicts(configProbes(config), Clock::now() + kChangeTimeout));
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) {
      return makeError(Errc::kUnavailable,
                       configName(configs_[config].rules) +
                           ": not in force after 60 s: " + configProbes(config)[i].what +
                           " is not " + verdictName(configProbes(config)[i].want));
    }
  }
  return waitIdle();
}

Status PolicyBench::measureCost() {
  NetnsChild iperf = PODNET_TRY(startIperfServer(serverNetns_, options_.labName));
  auto pingPong = PODNET_TRY(PingPongServer::start(serverNetns_));
  const size_t n = configs_.size();
  (void)PODNET_TRY(iperfGbps(clientNetns_, serverIp_, 1, options_.labName));  // warm-up
  std::printf("  %-6s %-12s %-10s %-10s %-20s %-10s\n", "round", "config", "Gbit/s", "change s",
              "RTT p50 / p99 us", "new flow p50 us");
  for (int round = 0; round < options_.rounds; ++round) {
    for (size_t k = 0; k < n; ++k) {
      PODNET_TRY_STATUS(checkInterrupted());
      const size_t config = (static_cast<size_t>(round) + k) % n;
      ConfigFigures& figures = configs_[config];
      const auto changeStart = Clock::now();
      PODNET_TRY_STATUS(switchTo(config));
      const double changeMs = msSince(changeStart);
      const double gbps =
          PODNET_TRY(iperfGbps(clientNetns_, serverIp_, options_.seconds, options_.labName));
      figures.gbps.push_back(gbps);
      std::vector<double> rtt;
      auto client = PODNET_TRY(PingPongClient::connect(clientNetns_, serverIp_));
      PODNET_TRY_STATUS(client.run(options_.latencySeconds, rtt));
      figures.roundP50.push_back(percentile(rtt, 50));
      figures.rtt.insert(figures.rtt.end(), rtt.begin(), rtt.end());
      const auto newFlows = PODNET_TRY(
          newFlowTimes(lab::Layout::netnsPath(clientNetns_), serverIp_, kNewFlowPort, kNewFlows));
      figures.newFlowP50.push_back(percentile(newFlows, 50));
      char rttText[32];
      std::snprintf(rttText, sizeof rttText, "%.1f / %.1f", percentile(rtt, 50),
                    percentile(rtt, 99));
      std::printf("  %-6d %-12s %-10.2f %-10.1f %-20s %-10.1f\n", round + 1,
                  configName(figures.rules).c_str(), gbps, changeMs / 1000, rttText,
                  figures.newFlowP50.back());
    }
  }
  return okStatus();
}

Status PolicyBench::timeChange(ChangeFigures& figures, const std::string& op,
                               const std::string& file) {
  std::vector<ProbeTask> tasks;
  for (const auto& e : enforcers_) {
    tasks.push_back({e.prober + " -> " + e.target + ":80",
                     lab_.layout().podNetns(kNamespace, e.prober), e.targetIp, kLabPort,
                     figures.want});
  }
  const auto wallStart = WallClock::now();
  const auto start = Clock::now();
  Clock::time_point returned;
  auto seen = PODNET_TRY(awaitVerdicts(tasks, start + kChangeTimeout, [&]() -> Status {
    PODNET_TRY_STATUS(podnetctl(op, file));
    returned = Clock::now();
    return okStatus();
  }));
  std::vector<double> nodeMs;
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) {
      return makeError(Errc::kUnavailable, figures.what + ": node " + enforcers_[i].node +
                                               " does not enforce it after 60 s (" + tasks[i].what +
                                               " not " + verdictName(figures.want) + ")");
    }
    nodeMs.push_back(msSince(start, *seen[i]));
  }
  figures.nodeMs.push_back(nodeMs);
  figures.ctlMs.push_back(msSince(start, returned));
  PODNET_TRY_STATUS(waitIdle());
  figures.windows.emplace_back(wallStart, WallClock::now());
  return okStatus();
}

Status PolicyBench::measureEnforcement() {
  const int n = options_.rules.back();
  PODNET_TRY_STATUS(switchTo(0));
  const std::string full = files_.back();
  changes_ = {
      {"apply " + std::to_string(n) + " rules (blocks)", Verdict::kBlocked, {}, {}, {}, {}},
      {"update 1 rule (unblocks)", Verdict::kPasses, {}, {}, {}, {}},
      {"update 1 rule back (blocks)", Verdict::kBlocked, {}, {}, {}, {}},
      {"delete the policy (unblocks)", Verdict::kPasses, {}, {}, {}, {}},
  };
  const std::pair<const char*, const std::string*> steps[] = {
      {"apply", &full}, {"apply", &updateFile_}, {"apply", &full}, {"delete", &full}};
  std::printf("  %-8s %-30s %-30s %-12s\n", "repeat", "change", "n1 / n2 / n3 ms", "podnetctl ms");
  for (int repeat = 0; repeat < options_.repeats; ++repeat) {
    for (size_t s = 0; s < changes_.size(); ++s) {
      PODNET_TRY_STATUS(checkInterrupted());
      ChangeFigures& c = changes_[s];
      PODNET_TRY_STATUS(timeChange(c, steps[s].first, *steps[s].second));
      const auto& ms = c.nodeMs.back();
      char nodes[64];
      std::snprintf(nodes, sizeof nodes, "%.1f / %.1f / %.1f", ms[0], ms[1], ms[2]);
      std::printf("  %-8d %-30s %-30s %-12.1f\n", repeat + 1, c.what.c_str(), nodes,
                  c.ctlMs.back());
    }
  }
  current_ = 0;
  return okStatus();
}

void PolicyBench::readAgentLogs() {
  for (const auto& e : enforcers_) {
    revisions_[e.node] = readRevisionLines(lab_.layout().logFile(e.node));
  }
  for (auto& c : changes_) {
    for (const auto& [from, to] : c.windows) {
      std::optional<WallClock::time_point> last;  // over nodes, of each node's last revision
      bool everyNode = true;
      for (const auto& [node, lines] : revisions_) {
        std::optional<WallClock::time_point> nodeLast;
        for (const auto& r : lines) {
          // Log times have ms resolution: a line of the same ms as the start counts.
          if (r.at + 1ms >= from && r.at <= to) nodeLast = r.at;
        }
        if (!nodeLast) everyNode = false;
        if (nodeLast && (!last || *nodeLast > *last)) last = nodeLast;
      }
      c.loggedMs.push_back(last && everyNode
                               ? std::chrono::duration<double, std::milli>(*last - from).count()
                               : std::nan(""));
    }
  }
}

std::string ratioText(double value, double base) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3fx", value / base);
  return buf;
}

void PolicyBench::printReport() const {
  const int n = options_.rules.back();
  const ConfigFigures& none = configs_[0];
  std::printf(
      "\n== policy cost: pod client (n1) -> pod server (n2), %s, %d rounds. Ratios to no policy: "
      "the median of the rounds' ratios [the quietest rounds': highest Gbit/s, lowest p50]; "
      "RTT p99 over all samples. New flow: a SYN to an allowed port nobody listens on, until "
      "the RST, %d per round (the packet policy decides)\n",
      options_.backend.c_str(), options_.rounds, kNewFlows);
  std::printf("%-12s | %-17s | %-17s | %-9s | %-17s | %-13s | %-13s | %-7s | %-13s\n", "config",
              "Gbit/s x", "RTT p50 x", "RTT p99 x", "new flow p50 x", "Gbit/s med/max",
              "p50 us med/min", "p99 us", "flow us med/min");
  auto pair = [](double a, double b) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.3fx [%.3fx]", a, b);
    return std::string(buf);
  };
  auto both = [](double a, double b, int decimals = 1) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.*f / %.*f", decimals, a, decimals, b);
    return std::string(buf);
  };
  auto maxOf = [](const std::vector<double>& v) { return percentile(v, 100); };
  auto minOf = [](const std::vector<double>& v) { return percentile(v, 0); };
  for (const ConfigFigures& c : configs_) {
    std::printf(
        "%-12s | %-17s | %-17s | %-9s | %-17s | %-13s | %-13s | %-7.1f | %-13s\n",
        configName(c.rules).c_str(),
        pair(pairedRatio(c.gbps, none.gbps), maxOf(c.gbps) / maxOf(none.gbps)).c_str(),
        pair(pairedRatio(c.roundP50, none.roundP50), minOf(c.roundP50) / minOf(none.roundP50))
            .c_str(),
        ratioText(percentile(c.rtt, 99), percentile(none.rtt, 99)).c_str(),
        pair(pairedRatio(c.newFlowP50, none.newFlowP50),
             minOf(c.newFlowP50) / minOf(none.newFlowP50))
            .c_str(),
        both(median(c.gbps), maxOf(c.gbps), 2).c_str(),
        both(median(c.roundP50), minOf(c.roundP50)).c_str(), percentile(c.rtt, 99),
        both(median(c.newFlowP50), minOf(c.newFlowP50)).c_str());
  }

  std::printf(
      "\n== enforcement at %d rules: ms from `podnetctl` issued until every node enforces the "
      "change (probes every 2 ms, 50 ms each, 10 in a row), %d repeats, p50 / max\n",
      n, options_.repeats);
  std::printf("%-30s | %-18s | %-18s | %-18s | %-18s | %-18s | %-18s\n", "change", "every node",
              "n1", "n2", "n3", "podnetctl returned", "agents logged");
  auto two = [](const std::vector<double>& v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%.1f / %.1f", percentile(v, 50), percentile(v, 100));
    return std::string(buf);
  };
  for (const auto& c : changes_) {
    std::vector<double> every, perNode[3];
    for (const auto& ms : c.nodeMs) {
      every.push_back(*std::max_element(ms.begin(), ms.end()));
      for (size_t i = 0; i < 3; ++i) perNode[i].push_back(ms[i]);
    }
    std::vector<double> logged;
    for (double ms : c.loggedMs) {
      if (!std::isnan(ms)) logged.push_back(ms);
    }
    std::printf("%-30s | %-18s | %-18s | %-18s | %-18s | %-18s | %-18s\n", c.what.c_str(),
                two(every).c_str(), two(perNode[0]).c_str(), two(perNode[1]).c_str(),
                two(perNode[2]).c_str(), two(c.ctlMs).c_str(),
                logged.size() == c.loggedMs.size() ? two(logged).c_str() : "(not every node)");
  }

  std::printf("\n== agents' policy revisions with >= %d entries during the run (their log)\n", n);
  for (const auto& [node, lines] : revisions_) {
    std::vector<double> compiled, written;
    for (const auto& r : lines) {
      if (r.entries < static_cast<uint64_t>(n)) continue;
      compiled.push_back(r.compiledMs);
      written.push_back(r.writtenMs);
    }
    std::printf(
        "%-4s %3zu revisions: compiled in p50 %.0f / max %.0f ms, written in p50 %.0f / "
        "max %.0f ms\n",
        node.c_str(), compiled.size(), percentile(compiled, 50), percentile(compiled, 100),
        percentile(written, 50), percentile(written, 100));
  }
  for (const auto& w : idleWarnings_) std::printf("warning: %s\n", w.c_str());

  std::printf("\n== targets at %d rules (a report, not a test)\n", n);
  auto line = [](const std::string& what, const std::string& value, bool met) {
    std::printf("%-52s %-12s %s\n", what.c_str(), value.c_str(), met ? "PASS" : "MISS");
  };
  char buf[32];
  const ConfigFigures& largest = configs_.back();
  const double tput = pairedRatio(largest.gbps, none.gbps);
  std::snprintf(buf, sizeof buf, "%.3fx", tput);
  line("throughput vs no policy >= 0.97x", buf, tput >= kThroughputMin);
  const double lat50 = pairedRatio(largest.roundP50, none.roundP50);
  std::snprintf(buf, sizeof buf, "%.3fx", lat50);
  line("round-trip p50 vs no policy <= 1.03x", buf, lat50 <= kLatencyMax);
  const double lat99 = percentile(largest.rtt, 99) / percentile(none.rtt, 99);
  std::snprintf(buf, sizeof buf, "%.3fx", lat99);
  line("round-trip p99 vs no policy <= 1.03x", buf, lat99 <= kLatencyMax);
  for (const auto& c : changes_) {
    std::vector<double> every;
    for (const auto& ms : c.nodeMs) every.push_back(*std::max_element(ms.begin(), ms.end()));
    const double worst = percentile(every, 100);
    std::snprintf(buf, sizeof buf, "%.0f ms", worst);
    line(c.what + ": every node, max <= 1 s", buf, worst <= kEnforceMaxMs);
  }
}

}  // namespace

Status runPolicyBenchmark(lab::Lab& lab, const PolicyOptions& options) {
  if (options.rules.empty()) return makeError(Errc::kInvalidArgument, "no rule counts given");
  std::printf("== policy: lab %s, 3 nodes, %s; load average %s\n", options.labName.c_str(),
              options.backend.c_str(), loadAverage().c_str());
  LabSession session(lab);
  const auto upStart = Clock::now();
  PODNET_TRY_STATUS(session.up(options.backend, 3));
  std::printf("  lab up in %.1f s\n", msSince(upStart) / 1000);
  PolicyBench bench(lab, options);
  PODNET_TRY_STATUS(bench.setUp());
  std::printf(
      "  cost: configurations in rotating order; each confirmed in force and the cluster idle, "
      "then iperf3 %d s and %.1f s of round trips\n",
      options.seconds, options.latencySeconds);
  PODNET_TRY_STATUS(bench.measureCost());
  std::printf("  enforcement at %d rules: ms until each node enforces, load average %s\n",
              options.rules.back(), loadAverage().c_str());
  PODNET_TRY_STATUS(bench.measureEnforcement());
  bench.readAgentLogs();  // before the lab, and its logs, go
  bench.printReport();
  return okStatus();
}

}  // namespace podnet::bench
