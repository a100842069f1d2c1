// podnet-bench-lab: the network between nodes and what network policy costs, in real lab
// clusters (src/lab). Two sections, both by default (--sections):
//
// network: per backend (vxlan, host-gw), on a 3-node lab of its own (name "pnbench", so a user's
// lab is never touched):
//   - TCP throughput (iperf3, a few seconds per run) from pod a on n1 to pod b on n2, against the
//     same from node n1 to node n2 over the underlay (172.30.0.11 -> 172.30.0.12);
//   - TCP request/response round trips (1 byte each way on one connection) on the same two paths;
//   - propagation: the time from `lab pod add` on n1 (CNI ADD and the pod's server included) until
//     both n2 and n3 connect to the new pod, over N pods added one after another.
// Pod and node runs alternate round by round, so machine noise hits both alike; the ratios
// pod/node are what the targets are about.
//
// policy (lab_policy.cpp): throughput and round trips between two pods with no policy, with 100
// and with 10,000 rules selecting them, and the time from `podnetctl apply` until every node
// enforces a 10,000-rule policy.
//
// A benchmark reports and never fails on a miss: the exit status is 0 unless a lab itself could
// not be built or measured. The pieces both sections use are in lab_harness.h.
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "common/ip.h"
#include "lab/lab.h"
#include "lab/processes.h"
#include "lab/state.h"
#include "lab/traffic.h"
#include "lab_harness.h"
#include "lab_policy.h"
#include "netlink/netns.h"

namespace podnet::bench {
namespace {

using namespace std::chrono_literals;

constexpr const char* kNamespace = "bench";
constexpr int kLatencySlices = 10;   // per path and round
constexpr auto kReachTimeout = 10s;  // per pod, in the propagation measurement
constexpr auto kProbeEvery = 2ms;    // and a connect attempt's timeout

// The targets of the issue "several nodes".
constexpr double kHostGwThroughputMin = 0.95;
constexpr double kHostGwLatencyMax = 1.10;
constexpr double kVxlanThroughputMin = 0.80;
constexpr double kPropagationP50MaxMs = 200;

struct Options {
  std::vector<std::string> sections = {"network", "policy"};
  std::string backend;  // empty: both
  int rounds = 10;
  int seconds = 2;
  double latencySeconds = 0.5;
  int pods = 50;
  std::string binDir = PODNET_DEFAULT_BIN_DIR;
  std::string labName = "pnbench";
  bool fastPath = false;   // the network section's agents run with --fast-path
  bool allowIdle = false;  // leave the CPUs' idle states alone (see CpuLatencyHold)
  PolicyOptions policy;
};

// The throughput ratio pod/node: the median of the rounds' ratios. Each round's pod and node runs
// are seconds apart, so pairing them cancels most of the load that comes and goes on a shared
// machine; the medians of the Gbit/s figures alone are printed beside it.
double throughputRatio(const std::vector<double>& pod, const std::vector<double>& node) {
  std::vector<double> ratios;
  for (size_t i = 0; i < std::min(pod.size(), node.size()); ++i) ratios.push_back(pod[i] / node[i]);
  return median(ratios);
}

struct PathFigures {
  std::vector<double> gbps;       // one per round
  std::vector<double> roundTrip;  // µs, every sample of every round
};

// Each from just before addPod, in ms (infinity: not reached within kReachTimeout).
struct PropagationFigures {
  std::vector<double> addMs;    // until addPod returned: CNI ADD done, the pod's server started
  std::vector<double> ownMs;    // until its own node n1 connects: the server is listening
  std::vector<double> totalMs;  // until both n2 and n3 connect: the figure of the target
  int unreached = 0;            // pods some node did not reach within kReachTimeout
};

struct BackendFigures {
  std::string backend;
  PathFigures pod, node;
  PropagationFigures propagation;
};

// Pod a (n1) and pod b (n2); servers in pod b and in node n2; rounds alternate which path goes
// first.
Status measureTraffic(lab::Lab& lab, const Options& options, BackendFigures& figures) {
  const std::string podA = std::string(kNamespace) + "/a", podB = std::string(kNamespace) + "/b";
  PODNET_TRY_STATUS(lab.addPod(PODNET_TRY(lab::parsePodRef(podA)), "n1", {}));
  PODNET_TRY_STATUS(lab.addPod(PODNET_TRY(lab::parsePodRef(podB)), "n2", {}));
  auto state = PODNET_TRY(lab::loadState(lab.layout()));
  if (!state) return makeError(Errc::kNotFound, "lab state vanished");
  const Ipv4 podBIp = PODNET_TRY(Ipv4::parse(state->pods.at(podB).ip));
  const Ipv4 n2Ip = lab::Layout::nodeAddress(2).addr;
  const std::string netnsA = PODNET_TRY(lab.netnsOf(podA)), netnsB = PODNET_TRY(lab.netnsOf(podB));
  const std::string netnsN1 = PODNET_TRY(lab.netnsOf("n1")),
                    netnsN2 = PODNET_TRY(lab.netnsOf("n2"));

  NetnsChild iperfB = PODNET_TRY(startIperfServer(netnsB, options.labName));
  NetnsChild iperfN2 = PODNET_TRY(startIperfServer(netnsN2, options.labName));
  auto pingB = PODNET_TRY(PingPongServer::start(netnsB));
  auto pingN2 = PODNET_TRY(PingPongServer::start(netnsN2));

  struct Path {
    const std::string& from;
    Ipv4 to;
    PathFigures& figures;
  };
  const Path paths[2] = {{netnsA, podBIp, figures.pod}, {netnsN1, n2Ip, figures.node}};
  std::printf("  %-6s %-12s %-12s %-8s %-22s %-22s\n", "round", "pod Gbit/s", "node Gbit/s",
              "ratio", "pod RTT p50/p99 us", "node RTT p50/p99 us");
  for (int round = 0; round < options.rounds; ++round) {
    const int first = round % 2;
    double gbps[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const Path& path = paths[(first + k) % 2];
      PODNET_TRY_STATUS(checkInterrupted());
      const double g = PODNET_TRY(iperfGbps(path.from, path.to, options.seconds, options.labName));
      path.figures.gbps.push_back(g);
      gbps[(first + k) % 2] = g;
    }
    // Round trips in short slices, pod and node alternating, so that a burst of load from
    // elsewhere on the machine hits both paths alike.
    std::vector<double> rtt[2];
    std::optional<PingPongClient> clients[2];
    for (int k = 0; k < 2; ++k) {
      clients[k] = PODNET_TRY(PingPongClient::connect(paths[k].from, paths[k].to));
    }
    for (int slice = 0; slice < 2 * kLatencySlices; ++slice) {
      const int k = (first + slice) % 2;
      PODNET_TRY_STATUS(clients[k]->run(options.latencySeconds / kLatencySlices, rtt[k]));
    }
    for (int k = 0; k < 2; ++k) {
      paths[k].figures.roundTrip.insert(paths[k].figures.roundTrip.end(), rtt[k].begin(),
                                        rtt[k].end());
    }
    char podRtt[32], nodeRtt[32];
    std::snprintf(podRtt, sizeof podRtt, "%.1f / %.1f", percentile(rtt[0], 50),
                  percentile(rtt[0], 99));
    std::snprintf(nodeRtt, sizeof nodeRtt, "%.1f / %.1f", percentile(rtt[1], 50),
                  percentile(rtt[1], 99));
    std::printf("  %-6d %-12.2f %-12.2f %-8.2f %-22s %-22s\n", round + 1, gbps[0], gbps[1],
                gbps[0] / gbps[1], podRtt, nodeRtt);
    std::fflush(stdout);
  }
  return okStatus();
}

// Enters netns once, then tries a TCP connection to destination:80 every kProbeEvery (each attempt
// bounded by the same) until one succeeds; the time it did, or nullopt after the deadline.
std::optional<Clock::time_point> waitReachable(const netlink::Netns& netns, Ipv4 destination,
                                               Clock::time_point deadline) {
  auto scope = netlink::NetnsScope::enter(netns);
  if (!scope) return std::nullopt;
  const lab::ProbeSpec spec{destination, 80, lab::Protocol::kTcp,
                            std::chrono::duration_cast<std::chrono::milliseconds>(kProbeEvery)};
  while (Clock::now() < deadline && !gInterrupted) {
    const auto attempt = Clock::now();
    auto connected = lab::probe(spec);
    if (connected && *connected) return Clock::now();
    std::this_thread::sleep_until(attempt + kProbeEvery);
  }
  return std::nullopt;
}

// Pods p1..pN added on n1 one after another; for each, the clock starts just before addPod (what
// `podnetctl lab pod add` runs) and stops when both n2 and n3 have connected to its server. n1
// probes too: when its own node reaches it, the pod's server listens, so what comes after that is
// the other nodes learning of the pod (etcd watch, route) rather than the pod starting.
Status measurePropagation(lab::Lab& lab, const Options& options, PropagationFigures& figures) {
  std::vector<netlink::Netns> nodes;  // n1 (the pod's), n2, n3
  for (const char* node : {"n1", "n2", "n3"}) {
    nodes.push_back(
        PODNET_TRY(netlink::Netns::open(lab::Layout::netnsPath(PODNET_TRY(lab.netnsOf(node))))));
  }
  for (int i = 1; i <= options.pods; ++i) {
    PODNET_TRY_STATUS(checkInterrupted());
    const std::string key = std::string(kNamespace) + "/p" + std::to_string(i);
    const lab::PodRef ref = PODNET_TRY(lab::parsePodRef(key));
    const auto start = Clock::now();
    PODNET_TRY_STATUS(lab.addPod(ref, "n1", {}));
    const auto added = Clock::now();
    auto state = PODNET_TRY(lab::loadState(lab.layout()));
    if (!state || !state->pods.contains(key))
      return makeError(Errc::kNotFound, key + ": no record");
    const Ipv4 ip = PODNET_TRY(Ipv4::parse(state->pods.at(key).ip));
    const auto deadline = added + kReachTimeout;
    std::optional<Clock::time_point> reached[3];
    std::thread threads[3];
    for (size_t n = 0; n < 3; ++n) {
      threads[n] = std::thread([&, n] { reached[n] = waitReachable(nodes[n], ip, deadline); });
    }
    for (auto& t : threads) t.join();
    PODNET_TRY_STATUS(checkInterrupted());
    constexpr double kNever = std::numeric_limits<double>::infinity();
    figures.addMs.push_back(msSince(start, added));
    figures.ownMs.push_back(reached[0] ? msSince(start, *reached[0]) : kNever);
    if (!reached[0] || !reached[1] || !reached[2]) ++figures.unreached;
    figures.totalMs.push_back(
        reached[1] && reached[2] ? msSince(start, std::max(*reached[1], *reached[2])) : kNever);
  }
  return okStatus();
}

Result<BackendFigures> measureBackend(lab::Lab& lab, const std::string& backend,
                                      const Options& options) {
  BackendFigures figures;
  figures.backend = backend;
  std::printf("== backend %s%s: lab %s, 3 nodes; load average %s\n", backend.c_str(),
              options.fastPath ? " (fast path)" : "", options.labName.c_str(),
              loadAverage().c_str());
  std::fflush(stdout);
  LabSession session(lab);
  const auto upStart = Clock::now();
  PODNET_TRY_STATUS(session.up(backend, 3, options.fastPath));
  std::printf("  lab up in %.1f s\n", msSince(upStart) / 1000);
  PODNET_TRY_STATUS(checkInterrupted());
  PODNET_TRY_STATUS(lab.addNamespace(kNamespace, {}));
  std::printf(
      "  throughput: iperf3 %d s per run; round trips: 1 byte each way on one TCP connection, "
      "%.1f s per run\n",
      options.seconds, options.latencySeconds);
  PODNET_TRY_STATUS(measureTraffic(lab, options, figures));
  std::printf("  propagation: %d pods added on n1, until n2 and n3 both connect\n", options.pods);
  std::fflush(stdout);
  PODNET_TRY_STATUS(measurePropagation(lab, options, figures.propagation));
  return figures;
}

std::string fmtMs(double ms) {
  if (std::isinf(ms)) return ">" + std::to_string(kReachTimeout.count() * 1000) + " ms";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  return buf;
}

void printReport(const std::vector<BackendFigures>& all, const Options& options) {
  std::printf(
      "\n== summary: pod a (n1) -> pod b (n2) against node n1 -> node n2 over the underlay; "
      "%d rounds; Gbit/s: medians, ratio: median of the rounds' ratios; round trips: all "
      "samples\n",
      options.rounds);
  std::printf("%-8s | %-32s | %-30s | %-30s\n", "backend", "throughput pod / node Gbit/s",
              "RTT p50 pod / node us", "RTT p99 pod / node us");
  for (const auto& f : all) {
    char tp[64], p50[64], p99[64];
    const double podG = median(f.pod.gbps), nodeG = median(f.node.gbps);
    std::snprintf(tp, sizeof tp, "%.2f / %.2f (%.2fx)", podG, nodeG,
                  throughputRatio(f.pod.gbps, f.node.gbps));
    const double pod50 = percentile(f.pod.roundTrip, 50), node50 = percentile(f.node.roundTrip, 50);
    const double pod99 = percentile(f.pod.roundTrip, 99), node99 = percentile(f.node.roundTrip, 99);
    std::snprintf(p50, sizeof p50, "%.1f / %.1f (%.2fx)", pod50, node50, pod50 / node50);
    std::snprintf(p99, sizeof p99, "%.1f / %.1f (%.2fx)", pod99, node99, pod99 / node99);
    std::printf("%-8s | %-32s | %-30s | %-30s\n", f.backend.c_str(), tp, p50, p99);
  }
  std::printf(
      "(over vxlan a node reaches a remote pod from its join address 100.64.x.y through the "
      "tunnel; the node baseline is always node to node over the underlay, untunnelled)\n");

  std::printf(
      "\n== propagation: ms from just before `lab pod add` on n1 (CNI ADD included), %d pods, "
      "p50 / p90 / max\n",
      options.pods);
  std::printf("%-8s | %-24s | %-24s | %-24s | %-24s\n", "backend", "addPod returned",
              "n1 (own node) reaches it", "n2 and n3 reach it", "of which after n1 did");
  auto three = [](const std::vector<double>& v) {
    auto one = [](double ms) {
      if (std::isinf(ms)) return ">" + std::to_string(kReachTimeout.count() * 1000);
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.1f", ms);
      return std::string(buf);
    };
    return one(percentile(v, 50)) + " / " + one(percentile(v, 90)) + " / " +
           one(percentile(v, 100));
  };
  for (const auto& f : all) {
    const auto& p = f.propagation;
    std::vector<double> afterOwn;
    for (size_t i = 0; i < p.totalMs.size(); ++i) {
      const bool both = !std::isinf(p.totalMs[i]) && !std::isinf(p.ownMs[i]);
      afterOwn.push_back(both ? p.totalMs[i] - p.ownMs[i]
                              : std::numeric_limits<double>::infinity());
    }
    std::printf("%-8s | %-24s | %-24s | %-24s | %-24s\n", f.backend.c_str(), three(p.addMs).c_str(),
                three(p.ownMs).c_str(), three(p.totalMs).c_str(), three(afterOwn).c_str());
    if (p.unreached > 0) {
      std::printf("         %d pod(s) not reached by every node within %lld s\n", p.unreached,
                  static_cast<long long>(kReachTimeout.count()));
    }
  }

  std::printf("\n== targets (a report, not a test)\n");
  auto line = [](const std::string& what, const std::string& value, bool met) {
    std::printf("%-52s %-12s %s\n", what.c_str(), value.c_str(), met ? "PASS" : "MISS");
  };
  char buf[32];
  for (const auto& f : all) {
    const double tput = throughputRatio(f.pod.gbps, f.node.gbps);
    const double lat = percentile(f.pod.roundTrip, 50) / percentile(f.node.roundTrip, 50);
    std::snprintf(buf, sizeof buf, "%.2fx", tput);
    if (f.backend == "host-gw") {
      line("host-gw throughput pod/node >= 0.95x", buf, tput >= kHostGwThroughputMin);
      std::snprintf(buf, sizeof buf, "%.2fx", lat);
      line("host-gw round-trip p50 pod/node <= 1.10x", buf, lat <= kHostGwLatencyMax);
    } else {
      line("vxlan throughput pod/node >= 0.80x", buf, tput >= kVxlanThroughputMin);
    }
    const double prop = percentile(f.propagation.totalMs, 50);
    line("propagation p50 <= 200 ms (" + f.backend + ")", fmtMs(prop),
         prop <= kPropagationP50MaxMs);
  }
}

Status run(const Options& options) {
  for (const char* tool : {"iperf3"}) {
    if (auto found = lab::findBinary(tool, ""); !found) {
      return found.error().context("install Debian's " + std::string(tool) +
                                   " (scripts/install-deps.sh)");
    }
  }
  lab::Lab lab(PODNET_TRY(lab::Layout::make(options.labName)), options.binDir);
  auto wanted = [&](const char* section) {
    return std::find(options.sections.begin(), options.sections.end(), section) !=
           options.sections.end();
  };
  if (wanted("network")) {
    std::vector<std::string> backends = {"vxlan", "host-gw"};
    if (!options.backend.empty()) backends = {options.backend};
    std::vector<BackendFigures> all;
    for (const auto& backend : backends) {
      all.push_back(PODNET_TRY(measureBackend(lab, backend, options)));
    }
    printReport(all, options);
  }
  if (wanted("policy")) {
    if (wanted("network")) std::printf("\n");
    PODNET_TRY_STATUS(runPolicyBenchmark(lab, options.policy));
  }
  std::printf("(load average at the end: %s, on %u cores)\n", loadAverage().c_str(),
              std::thread::hardware_concurrency());
  return okStatus();
}

}  // namespace
}  // namespace podnet::bench

int main(int argc, char** argv) {
  podnet::bench::Options options;
  CLI::App app{
      "Pods on two nodes against the two nodes themselves (throughput, round trips) and pod "
      "propagation, for each backend; and what network policy costs those pods and how soon it "
      "is enforced; in lab clusters of its own"};
  app.add_option("--sections", options.sections, "What to measure: network, policy or both")
      ->check(CLI::IsMember({"network", "policy"}))
      ->capture_default_str();
  app.add_option("--backend", options.backend, "Measure only this backend (default: both)")
      ->check(CLI::IsMember({"vxlan", "host-gw"}));
  app.add_option("--rounds", options.rounds, "Rounds of pod and node runs, alternating")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--seconds", options.seconds, "Seconds per iperf3 run")
      ->check(CLI::Range(1, 60))
      ->capture_default_str();
  app.add_option("--latency-seconds", options.latencySeconds, "Seconds of round trips per run")
      ->check(CLI::Range(0.1, 60.0))
      ->capture_default_str();
  app.add_option("--pods", options.pods, "Pods added one by one for propagation")
      ->check(CLI::Range(1, 500))
      ->capture_default_str();
  app.add_option("--bin-dir", options.binDir,
                 "Where podnetctl, podnetd, podnet-cni and podnet-controller are")
      ->capture_default_str();
  app.add_flag("--fast-path", options.fastPath,
               "The network section's agents forward from their tc programs (podnetd --fast-path)");
  app.add_flag("--allow-idle", options.allowIdle,
               "Let idle CPUs halt during the run (by default they poll, so that a round trip "
               "never pays a CPU's wake-up)");
  app.add_option("--lab-name", options.labName, "The benchmark's own lab")->capture_default_str();
  app.add_option("--policy-backend", options.policy.backend, "The policy section's backend")
      ->check(CLI::IsMember({"vxlan", "host-gw"}))
      ->capture_default_str();
  app.add_option("--policy-rounds", options.policy.rounds,
                 "Rounds of every policy configuration, in rotating order")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--policy-latency-seconds", options.policy.latencySeconds,
                 "Seconds of round trips per policy configuration and round")
      ->check(CLI::Range(0.1, 60.0))
      ->capture_default_str();
  app.add_option("--policy-rules", options.policy.rules,
                 "Rules of each policy configuration beside no policy; enforcement is timed at "
                 "the largest")
      ->check(CLI::Range(2, 45000))
      ->capture_default_str();
  app.add_option("--policy-repeats", options.policy.repeats, "Repeats of each timed policy change")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  auto& rules = options.policy.rules;
  std::sort(rules.begin(), rules.end());
  rules.erase(std::unique(rules.begin(), rules.end()), rules.end());
  options.policy.seconds = options.seconds;
  options.policy.binDir = options.binDir;
  options.policy.labName = options.labName;

  if (::geteuid() != 0) {
    std::fprintf(stderr, "podnet-bench-lab: needs root (it builds a lab of network namespaces)\n");
    return 1;
  }
  // No SA_RESTART: a blocking read or wait returns EINTR, the flag stops the run between steps,
  // and the lab is taken down on the way out.
  struct sigaction stop {};
  stop.sa_handler = [](int) { podnet::bench::gInterrupted = 1; };
  ::sigaction(SIGINT, &stop, nullptr);
  ::sigaction(SIGTERM, &stop, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines in order with errors on stderr

  std::optional<podnet::bench::CpuLatencyHold> awake;
  if (!options.allowIdle) {
    awake = podnet::bench::CpuLatencyHold::acquire();
    std::printf("CPUs %s\n", awake->held()
                                 ? "kept out of idle states (/dev/cpu_dma_latency 0)"
                                 : "may halt when idle: /dev/cpu_dma_latency unavailable");
  }
  podnet::Status done;
  try {
    done = podnet::bench::run(options);
  } catch (const std::exception& e) {  // after the labs' guards have taken them down
    std::fprintf(stderr, "podnet-bench-lab: %s\n", e.what());
    return 1;
  }
  if (!done.ok()) {
    std::fprintf(stderr, "podnet-bench-lab: %s\n", done.error().message.c_str());
    return 1;
  }
  return 0;
}
