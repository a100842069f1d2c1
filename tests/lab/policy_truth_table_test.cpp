// The network-policy conformance truth table, in a real 3-node lab (vxlan).
//
// One lab for the whole suite: namespaces x, y, z (labels ns=<name>; Kubernetes adds
// kubernetes.io/metadata.name), pods a, b, c in each (label pod=<name>, container ports
// serve-80-tcp ... serve-81-udp), spread round-robin over n1, n2, n3 (x/a n1, x/b n2, x/c n3,
// y/a n1, ...) so every case mixes same-node and cross-node pairs. Each case applies policies with
// `podnetctl apply -f` (and relabels pods and namespaces), then probes every pod from every other
// pod on ports 80 and 81 over TCP and UDP (plus node->pod, pod->node, world->pod and pod->world
// where the case says so) and compares with an expectation written by hand from docs/policy.md
// (Kubernetes' and Cilium's semantics), deliberately not derived from podnet's compiler. Every
// blocked probe of a check must also appear in `podnetctl observe` as a drop naming the deciding
// policy (see checkDropsObserved).
//
// - "The world": addresses 172.30.0.240 (w1) and .241 (w2) on the infra namespace's bridge, with a
//   /32 route to each pod via its node and a lab server listening there. They are outside the
//   cluster, so ipBlock/CIDR/world rules can be seen at work. A NetworkPolicy ipBlock matches pod
//   and node addresses too (the upstream e2e cases); a Cilium-style CIDR set never does.
// - Convergence: a policy change takes up to ~1 s to reach every node, so after each change the
//   table is probed until it matches or 3 s pass; a probe that still differs is probed once more,
//   with a longer timeout, before it is reported. Nothing asserts on timing.
// - Each case starts from the baseline (pod to pod all connected, checked in SetUp) and TearDown
//   deletes its policies and restores the labels it changed, even when it failed.
// - One lab per process: the suite runs as one ctest test (CMakeLists.txt), not one per case.
//   --gtest_filter=PolicyTruthTableTest.<Case> runs one case (and still builds the lab).
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <nlohmann/json.hpp>

#include "lab/layout.h"
#include "lab/processes.h"
#include "lab/state.h"
#include "lab/underlay.h"
#include "lab_fixture.h"
#include "model/manifest.h"
#include "policy_reachability.h"

namespace podnet::testing {
namespace {

using namespace std::chrono_literals;
using lab::Protocol;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using WallClock = std::chrono::system_clock;

constexpr auto kBlockedAfter = 300ms;  // no connection or reply by then: blocked
constexpr auto kRetryTimeout = 1000ms;
constexpr auto kConvergence = 3s;
constexpr auto kDropsVisibleWithin = 3s;
constexpr auto kDropWindowMargin = 200ms;
constexpr auto kObserveWindowSlack = 2s;
constexpr size_t kProbeWorkers = 96;
constexpr size_t kMissingListed = 20;
constexpr Protocol kTcp = Protocol::kTcp;
constexpr Protocol kUdp = Protocol::kUdp;
const char* const kNamespaces[] = {"x", "y", "z"};
const char* const kPods[] = {"a", "b", "c"};
constexpr int kNodes = 3;
const Ipv4 kWorld1{0xac1e00f0};  // 172.30.0.240: outside the node range 172.30.0.11..210
const Ipv4 kWorld2{0xac1e00f1};  // 172.30.0.241

// A node's join address, the address of its VXLAN device: 100.64.0.0/16 plus the low 16 bits of
// its underlay address (dataplane::joinAddress, src/dataplane/overlay.h; repeated here because this
// test links only the lab library).
Ipv4 joinAddress(Ipv4 underlay) {
  return Ipv4{0x64400000 | (underlay.value & 0xffff)};
}

std::string joinLines(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  " + l + "\n";
  return out;
}

// The suite's lab and its endpoints. Endpoints are never added after construction, so pointers
// to them (in Probe) stay valid.
struct Cluster {
  std::string name;
  std::optional<lab::Layout> layout;
  std::filesystem::path dir;  // the manifests applied
  std::vector<Endpoint> pods, nodes, world;
};

// Which probes a table holds besides pod -> pod.
struct Scope {
  bool fromNodes = false, fromWorld = false, toNodes = false, toWorld = false;
};

class PolicyTruthTableTest : public LabFixture {
 protected:
  static void SetUpTestSuite() {
    auto made = makeCluster();
    if (!made) setupError_ = made.error().message;
  }

  static void TearDownTestSuite() {
    if (!suiteLab_) return;
    const std::string name = *suiteLab_;
    auto down = labNamed(name, "down");
    EXPECT_EQ(down.status, 0) << down.out;
    auto layout = lab::Layout::make(name).value();
    std::vector<std::string> left;
    for (const auto& ns : lab::listNetns()) {
      if (layout.ownsNetns(ns)) left.push_back("netns " + ns);
    }
    for (pid_t pid : lab::findLabProcesses({}, name)) left.push_back("pid " + std::to_string(pid));
    for (const auto& dir : {layout.runDir(), layout.libDir(), layout.logDir()}) {
      if (std::filesystem::exists(dir)) left.push_back("dir " + dir);
    }
    EXPECT_TRUE(left.empty()) << "lab " << name << " left behind:\n" << joinLines(left);
    cluster_.reset();
    suiteLab_.reset();
  }

  // The lab is the suite's: no LabFixture::SetUp (it would take this process's lab down).
  void SetUp() override {
    ASSERT_TRUE(cluster_) << "the suite's lab could not be built: " << setupError_;
    name_ = cluster_->name;
    layout_ = cluster_->layout;
    Reachability baseline = table();
    ASSERT_TRUE(matches(baseline, /*checkDrops=*/false))
        << "not the baseline (every pod reaches every pod) before the case: an earlier case "
           "left a policy or label behind";
  }

  void TearDown() override {
    if (!cluster_) return;
    for (auto it = live_.rbegin(); it != live_.rend(); ++it) {
      auto del = ctl({"delete", "-f", it->file});
      EXPECT_EQ(del.status, 0) << "cleanup: delete -f " << it->file << ":\n" << del.out;
    }
    live_.clear();
    for (const auto& [pod, keys] : podLabelsSet_) {
      if (keys.empty()) continue;
      std::string changes;
      for (const auto& k : keys) {  // pod=<name> is every pod's own label: set it back
        changes += k == "pod" ? " pod=" + pod.substr(pod.find('/') + 1) : " " + k + "-";
      }
      auto run = lab("pod label " + pod + changes);
      EXPECT_EQ(run.status, 0) << "cleanup: relabel " << pod << ": " << run.out;
    }
    podLabelsSet_.clear();
    for (const auto& ns : namespacesRelabelled_) labelNamespace(ns, "");
    namespacesRelabelled_.clear();
  }

  // pod -> pod, plus what scope adds.
  static Reachability table(Scope scope = {}) {
    auto all = [](const std::vector<Endpoint>& list) {
      std::vector<const Endpoint*> out;
      for (const auto& e : list) out.push_back(&e);
      return out;
    };
    const auto pods = all(cluster_->pods), nodes = all(cluster_->nodes),
               world = all(cluster_->world);
    std::vector<Reachability::Block> blocks{{pods, pods}};
    if (scope.fromNodes) blocks.push_back({nodes, pods});
    if (scope.fromWorld) blocks.push_back({world, pods});
    if (scope.toNodes) blocks.push_back({pods, nodes});
    if (scope.toWorld) blocks.push_back({pods, world});
    return Reachability(blocks);
  }

  // "10.244.x.y/32" of a pod of the lab (its address is only known once the lab runs).
  static std::string hostCidr(const std::string& pod) {
    for (const auto& e : cluster_->pods) {
      if (e.name == pod) return e.ip.str() + "/32";
    }
    ADD_FAILURE() << "no pod " << pod;
    return "";
  }

  // Applies a manifest (one or more documents) through n1's agent; its policies count as live
  // (deleted in TearDown, named by the drop check) until remove().
  void apply(const std::string& yaml) {
    const std::string file = writeFile(yaml);
    auto run = ctl({"apply", "-f", file});
    EXPECT_EQ(run.status, 0) << "podnetctl apply -f " << file << ":\n" << run.out << yaml;
    if (run.status != 0) return;
    auto refs = policyRefs(yaml);
    std::erase_if(live_, [&](const LivePolicies& l) { return l.refs == refs; });
    live_.push_back({file, refs});
  }
  void remove(const std::string& yaml) {
    const std::string file = writeFile(yaml);
    auto run = ctl({"delete", "-f", file});
    EXPECT_EQ(run.status, 0) << "podnetctl delete -f " << file << ":\n" << run.out;
    auto refs = policyRefs(yaml);
    std::erase_if(live_, [&](const LivePolicies& l) { return l.refs == refs; });
  }

  // `lab pod label NS/NAME k=v` (or k-); TearDown removes what was set.
  void labelPod(const std::string& pod, const std::string& change) {
    auto run = lab("pod label " + pod + " " + change);
    EXPECT_EQ(run.status, 0) << "lab pod label " << pod << " " << change << ": " << run.out;
    const auto eq = change.find('=');
    if (eq != std::string::npos) {
      podLabelsSet_[pod].insert(change.substr(0, eq));
    } else if (change.ends_with("-")) {
      podLabelsSet_[pod].erase(change.substr(0, change.size() - 1));
    }
  }

  // Gives namespace ns the labels ns=<ns> plus extra ("team: blue"), by applying the Namespace
  // object (the registry adds kubernetes.io/metadata.name). TearDown restores ns=<ns> alone.
  void labelNamespace(const std::string& ns, const std::string& extra) {
    const std::string yaml = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns +
                             "\n  labels: {ns: " + ns + (extra.empty() ? "" : ", " + extra) + "}\n";
    auto run = ctl({"apply", "-f", writeFile(yaml)});
    EXPECT_EQ(run.status, 0) << "apply Namespace " << ns << ":\n" << run.out;
    if (!extra.empty()) namespacesRelabelled_.insert(ns);
  }

  // Probes until the table matches or the convergence time passes, then reports the differences;
  // then the drops of the blocked probes. decidedBy: the policies a drop may name
  // ("ns/name", or the name of a clusterwide one); by default every live policy of the case.
  void check(const Reachability& expected, std::vector<std::string> decidedBy = {}) {
    if (decidedBy.empty()) {
      for (const auto& l : live_) decidedBy.insert(decidedBy.end(), l.refs.begin(), l.refs.end());
    }
    matches(expected, /*checkDrops=*/true, decidedBy);
  }

 private:
  struct LivePolicies {
    std::string file;
    std::vector<std::string> refs;  // "x/deny-all", "host-fw"
  };

  bool matches(const Reachability& r, bool checkDrops,
               const std::vector<std::string>& decidedBy = {}) {
    const auto& probes = r.probes();
    std::vector<bool> observed(probes.size());
    std::vector<size_t> all(probes.size()), differing;
    std::iota(all.begin(), all.end(), 0);
    std::vector<std::string> errors;
    auto differences = [&] {
      differing.clear();
      for (size_t i = 0; i < probes.size(); ++i) {
        if (observed[i] != r.expected()[i]) differing.push_back(i);
      }
    };
    const auto deadline = Clock::now() + kConvergence;
    WallClock::time_point finalRound;  // when the last round of every probe started
    for (;;) {
      errors.clear();
      finalRound = WallClock::now();
      runProbes(probes, all, kBlockedAfter, kProbeWorkers, observed, errors);
      differences();
      if (differing.empty() || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(200ms);
    }
    if (!differing.empty()) {  // once more, with time to spare, before it counts
      runProbes(probes, differing, kRetryTimeout, kProbeWorkers, observed, errors);
      differences();
    }
    EXPECT_TRUE(errors.empty()) << "probes that could not run:\n" << joinLines(errors);
    EXPECT_TRUE(differing.empty())
        << differing.size() << " of " << probes.size() << " probes differ from the expectation:\n"
        << r.describeDifferences(observed);
    if (checkDrops) checkDropsObserved(r, observed, decidedBy, finalRound);
    return differing.empty() && errors.empty();
  }

  // Every blocked probe of the table's final round must show up in `podnetctl observe` on some
  // node as a dropped flow naming the deciding policy: TCP and UDP, from pods, nodes and the world.
  // Only the flows of that round count (from kDropWindowMargin before it started, for the kernel-
  // to-wall-clock conversion): a drop of an earlier round, case or step may have dropped the same
  // pairs for the same policy.
  //
  // None is excluded: every blocked probe of this suite is dropped by a podnet program (a pod's
  // device, or a node's uplink or VXLAN device for the host firewall), which emits a flow for
  // every drop. A probe blocked elsewhere (say, by a destination that does not listen) would leave
  // no flow and would have to be left out here; the suite has none (its baseline connects all).
  void checkDropsObserved(const Reachability& r, const std::vector<bool>& observed,
                          const std::vector<std::string>& decidedBy, WallClock::time_point round) {
    std::vector<const Probe*> blocked;
    for (size_t i = 0; i < r.probes().size(); ++i) {
      if (!r.expected()[i] && !observed[i]) blocked.push_back(&r.probes()[i]);
    }
    if (blocked.empty()) return;
    std::vector<const Probe*> missing;
    DroppedFlows flows(round - kDropWindowMargin);
    const auto deadline = Clock::now() + kDropsVisibleWithin;  // events reach the reader late
    for (;;) {
      auto got = droppedFlows(round - kDropWindowMargin);
      if (!got) {
        ADD_FAILURE() << "cannot read dropped flows: " << got.error().message;
        return;
      }
      flows = std::move(*got);
      missing.clear();
      for (const Probe* p : blocked) {
        if (!flows.hasDropOf(*p, decidedBy)) missing.push_back(p);
      }
      if (missing.empty() || Clock::now() >= deadline) break;
      std::this_thread::sleep_for(300ms);
    }
    if (missing.empty()) return;
    std::string names, listed;
    for (const auto& n : decidedBy) names += " " + n;
    for (size_t k = 0; k < missing.size() && k < kMissingListed; ++k) {
      const auto policies = flows.policiesOf(*missing[k]);
      listed += "  " + missing[k]->str();
      if (policies.empty()) {
        listed += ": no dropped flow\n";
      } else {
        listed += ": dropped flows name only";
        for (const auto& p : policies) listed += " \"" + p + "\"";
        listed += "\n";
      }
    }
    ADD_FAILURE() << missing.size() << " of " << blocked.size()
                  << " blocked probes without a dropped flow naming one of {" << names
                  << " } in `podnetctl observe` (" << flows.count()
                  << " dropped flows of the final round received, " << flows.older()
                  << " older ones ignored; first " << std::min(missing.size(), kMissingListed)
                  << " listed):\n"
                  << listed << "podnetctl's warnings:\n"
                  << (flows.warnings().empty() ? "  none\n" : joinLines(flows.warnings()));
  }

  // The dropped flows since a time, by (source ip, destination ip, destination port, protocol),
  // each with the policies its flows name. A flow is {"time": "2024-05-01T12:00:00.123456789Z",
  // "verdict": "dropped", "protocol": "TCP", "policy": "<Kind> <ns>/<name> <section>[<i>]",
  // "source": {"ip", "port", ...}, "destination": {"ip", "port", ...}, ...} (flows/flow_json.h).
  class DroppedFlows {
   public:
    explicit DroppedFlows(WallClock::time_point since) : since_(since) {}

    void add(const json& flow) {
      auto time = flowTime(flow);
      if (!time || *time < since_) {
        ++older_;
        return;
      }
      auto text = [](const json& object, const char* key) {
        if (!object.is_object() || !object.contains(key) || !object[key].is_string()) {
          return std::string();
        }
        std::string s = object[key].get<std::string>();
        std::transform(s.begin(), s.end(), s.begin(), ::tolower);
        return s;
      };
      auto port = [](const json& object) -> int64_t {
        if (!object.is_object() || !object.contains("port")) return -1;
        const json& v = object["port"];
        if (v.is_number_integer()) return v.get<int64_t>();
        if (v.is_string()) return std::atoll(v.get<std::string>().c_str());
        return -1;
      };
      if (text(flow, "verdict") != "dropped") return;
      ++count_;
      const json none = json::object();
      const json& source = flow.contains("source") ? flow["source"] : none;
      const json& destination = flow.contains("destination") ? flow["destination"] : none;
      std::string policy;
      if (flow.contains("policy") && flow["policy"].is_string()) {
        policy = flow["policy"].get<std::string>();
      }
      policies_[{text(source, "ip"), text(destination, "ip"), port(destination),
                 text(flow, "protocol")}]
          .insert(policy);
    }

    // A dropped flow of the probe names one of the deciding policies (decidedBy: "ns/name", or
    // the name of a clusterwide one).
    bool hasDropOf(const Probe& p, const std::vector<std::string>& decidedBy) const {
      for (const auto& policy : policiesOf(p)) {
        if (!policy.empty() && std::any_of(decidedBy.begin(), decidedBy.end(), [&](auto& name) {
              return policy.find(name) != std::string::npos;
            })) {
          return true;
        }
      }
      return false;
    }

    // What the dropped flows of the probe name. A UDP probe's flows carry its ports as TCP's do.
    // A node's probe to a pod on another node leaves from its join address (over VXLAN) or its
    // underlay address; every other probe from its source's own address.
    std::set<std::string> policiesOf(const Probe& p) const {
      std::vector<Ipv4> sources{p.from->ip};
      if (p.from->kind == EndpointKind::kNode) sources.push_back(p.from->joinIp);
      std::set<std::string> out;
      for (Ipv4 source : sources) {
        auto it = policies_.find(
            {source.str(), p.to->ip.str(), p.port, p.protocol == kTcp ? "tcp" : "udp"});
        if (it != policies_.end()) out.insert(it->second.begin(), it->second.end());
      }
      return out;
    }

    size_t count() const { return count_; }
    size_t older() const { return older_; }
    void warn(const std::string& line) { warnings_.push_back(line); }
    const std::vector<std::string>& warnings() const { return warnings_; }

   private:
    // "2024-05-01T12:00:00.123456789Z" (RFC 3339 UTC, up to nanoseconds), as flow_json.h writes it.
    static std::optional<WallClock::time_point> flowTime(const json& flow) {
      if (!flow.contains("time") || !flow["time"].is_string()) return std::nullopt;
      const std::string text = flow["time"].get<std::string>();
      std::tm tm{};
      int consumed = 0;
      if (std::sscanf(text.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon,
                      &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed) != 6) {
        return std::nullopt;
      }
      tm.tm_year -= 1900;
      tm.tm_mon -= 1;
      int64_t nanos = 0, scale = 1000000000;
      size_t i = static_cast<size_t>(consumed);
      if (i < text.size() && text[i] == '.') {
        for (++i; i < text.size() && std::isdigit(static_cast<unsigned char>(text[i])); ++i) {
          scale /= 10;
          nanos += (text[i] - '0') * scale;
        }
      }
      if (i >= text.size() || text[i] != 'Z') return std::nullopt;
      return WallClock::time_point(std::chrono::duration_cast<WallClock::duration>(
          std::chrono::seconds(::timegm(&tm)) + std::chrono::nanoseconds(nanos)));
    }

    // Source ip, destination ip, destination port, protocol ("tcp", "udp").
    using Key = std::tuple<std::string, std::string, int64_t, std::string>;
    WallClock::time_point since_;
    std::map<Key, std::set<std::string>> policies_;
    size_t count_ = 0, older_ = 0;       // flows kept; flows older than since_ (or undated)
    std::vector<std::string> warnings_;  // podnetctl's, e.g. flows overwritten before being read
  };

  // The dropped flows on every node since `from`, as `podnetctl observe --socket <each agent> -o
  // json --verdict dropped --since <ms>ms` prints them: one JSON object per line (also accepted:
  // one array, or {"flows": [...]}). With --since and no --last, observe prints every flow of the
  // window (it pages through each agent's log), so no limit is asked for.
  //
  // The window asked for is kObserveWindowSlack wider and the flows are then kept by their own
  // time: podnetctl counts --since back from when it asks each agent, not from when it started,
  // so the window of the agents asked last starts later (by some 150 ms, seen under load) and
  // would lose the first drops of the round.
  static Result<DroppedFlows> droppedFlows(WallClock::time_point from) {
    DroppedFlows flows(from);
    const auto since =
        std::chrono::duration_cast<std::chrono::milliseconds>(WallClock::now() - from) +
        kObserveWindowSlack;
    std::vector<std::string> argv{"timeout", "10", podnetctl(), "observe"};
    for (const auto& node : cluster_->nodes) {
      argv.insert(argv.end(), {"--socket", cluster_->layout->agentSocket(node.name)});
    }
    argv.insert(argv.end(), {"-o", "json", "--verdict", "dropped", "--since",
                             std::to_string(since.count()) + "ms"});
    std::string out;  // stdout and stderr
    auto rc = lab::runCommand(argv, &out);
    if (!rc || *rc != 0) {
      return makeError(Errc::kUnavailable, "podnetctl observe (exit " +
                                               (rc ? std::to_string(*rc) : rc.error().message) +
                                               "): " + out);
    }
    auto whole = json::parse(out, nullptr, false);
    if (!whole.is_discarded()) {
      if (whole.is_object() && whole.contains("flows")) whole = whole["flows"];
      if (whole.is_array()) {
        for (auto& f : whole) flows.add(f);
      } else if (whole.is_object()) {
        flows.add(whole);
      }
      return flows;
    }
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      if (line.starts_with("podnetctl: ")) {  // a warning, e.g. one agent not answering
        flows.warn(line);
        continue;
      }
      auto f = json::parse(line, nullptr, false);
      if (f.is_discarded()) {
        return makeError(Errc::kInvalidArgument, "podnetctl observe: not JSON: " + line);
      }
      flows.add(f);
    }
    return flows;
  }
  // "ns/name" of each namespaced policy in the manifest, the name of each clusterwide one.
  static std::vector<std::string> policyRefs(const std::string& yaml) {
    std::vector<std::string> refs;
    auto docs = model::parseManifest(yaml, "case");
    if (!docs) return refs;
    for (const auto& doc : *docs) {
      const json meta = doc.value("metadata", json::object());
      const std::string kind = doc.value("kind", "");
      if (kind == "PodnetClusterwideNetworkPolicy") {
        refs.push_back(meta.value("name", ""));
      } else if (kind.ends_with("NetworkPolicy")) {
        refs.push_back(meta.value("namespace", "default") + "/" + meta.value("name", ""));
      }
    }
    std::sort(refs.begin(), refs.end());
    return refs;
  }

  static std::string writeFile(const std::string& text) {
    static int counter = 0;
    const auto path = cluster_->dir / ("manifest-" + std::to_string(++counter) + ".yaml");
    std::ofstream(path) << text;
    return path.string();
  }

  // podnetctl against n1's agent (which stores for the whole cluster).
  static CtlRun ctl(const std::vector<std::string>& args) {
    std::vector<std::string> argv{podnetctl(), "--socket", cluster_->layout->agentSocket("n1")};
    argv.insert(argv.end(), args.begin(), args.end());
    CtlRun run;
    auto rc = lab::runCommand(argv, &run.out);
    run.status = rc ? *rc : -1;
    if (!rc) run.out += rc.error().message;
    return run;
  }

  static Status makeCluster() {
    removeLabsOfDeadProcesses();
    auto cluster = std::make_unique<Cluster>();
    cluster->name = "pnlt" + std::to_string(::getpid());
    cluster->layout = lab::Layout::make(cluster->name).value();
    suiteLab_ = cluster->name;
    auto step = [&](const std::string& args) -> Status {
      auto run = labNamed(cluster->name, args);
      if (run.status != 0) {
        return makeError(Errc::kUnavailable, "lab " + args + ": " + run.out);
      }
      return okStatus();
    };
    PODNET_TRY_STATUS(step("down"));
    // PODNET_TRUTH_TABLE_UP: more `lab up` flags (ctest runs the table once more with --fast-path).
    const char* extra = std::getenv("PODNET_TRUTH_TABLE_UP");
    PODNET_TRY_STATUS(step("up --nodes " + std::to_string(kNodes) + " --backend vxlan" +
                           (extra != nullptr ? std::string(" ") + extra : std::string())));
    for (const char* ns : kNamespaces) {
      PODNET_TRY_STATUS(step(std::string("ns add ") + ns + " --labels ns=" + ns));
    }
    int index = 0;
    for (const char* ns : kNamespaces) {
      for (const char* pod : kPods) {
        const std::string node = lab::Layout::nodeName(index++ % kNodes + 1);
        PODNET_TRY_STATUS(step(std::string("pod add ") + ns + "/" + pod + " --node " + node +
                               " --labels pod=" + pod));
        cluster->pods.push_back({std::string(ns) + "/" + pod, EndpointKind::kPod, ns, pod, node,
                                 lab::Layout::netnsPath(cluster->layout->podNetns(ns, pod)), Ipv4{},
                                 Ipv4{}});
      }
    }
    auto state = lab::loadState(*cluster->layout);
    if (!state || !*state) return makeError(Errc::kNotFound, "lab.json of " + cluster->name);
    for (auto& pod : cluster->pods) {
      auto it = (*state)->pods.find(pod.name);
      if (it == (*state)->pods.end()) return makeError(Errc::kNotFound, "pod " + pod.name);
      pod.ip = PODNET_TRY(Ipv4::parse(it->second.ip));
    }
    for (int i = 1; i <= kNodes; ++i) {
      const std::string node = lab::Layout::nodeName(i);
      const Ipv4 underlay = lab::Layout::nodeAddress(i).addr;
      cluster->nodes.push_back({node, EndpointKind::kNode, "", "", node,
                                lab::Layout::netnsPath(cluster->layout->nodeNetns(node)), underlay,
                                joinAddress(underlay)});
    }
    const std::string infra = cluster->layout->infraNetns();
    for (auto [name, ip] : {std::pair{"w1", kWorld1}, {"w2", kWorld2}}) {
      cluster->world.push_back(
          {name, EndpointKind::kWorld, "", "", "", lab::Layout::netnsPath(infra), ip, Ipv4{}});
    }
    PODNET_TRY_STATUS(connectTheWorld(*cluster));
    // In the lab's run directory, so `lab down` removes them even after a crash.
    cluster->dir = std::filesystem::path(cluster->layout->runDir()) / "truth-table";
    std::filesystem::create_directories(cluster->dir);
    cluster_ = std::move(cluster);
    return okStatus();
  }

  // The world's two addresses on the infra namespace's bridge, a route to each pod via its node
  // (nodes route their pods already; the infra namespace knows only the underlay) and a lab server
  // there, tagged as the lab's so `lab down` stops it.
  static Status connectTheWorld(const Cluster& cluster) {
    const std::string infra = cluster.layout->infraNetns();
    auto ip = [&](std::vector<std::string> args) -> Status {
      args.insert(args.begin(), {"ip", "-n", infra});
      std::string out;
      auto rc = lab::runCommand(args, &out);
      if (!rc || *rc != 0) return makeError(Errc::kIo, "ip -n " + infra + ": " + out);
      return okStatus();
    };
    for (const auto& w : cluster.world) {
      PODNET_TRY_STATUS(ip({"addr", "add", w.ip.str() + "/32", "dev", lab::kBridge}));
    }
    for (const auto& pod : cluster.pods) {
      const Endpoint* node = nullptr;
      for (const auto& n : cluster.nodes) {
        if (n.name == pod.node) node = &n;
      }
      PODNET_TRY_STATUS(ip({"route", "replace", pod.ip.str() + "/32", "via", node->ip.str()}));
    }
    auto server = lab::spawnDetached({"server world",
                                      {podnetctl(), "lab", "serve", "--who", "world"},
                                      lab::Layout::netnsPath(infra),
                                      cluster.layout->logFile("server-world"),
                                      cluster.name});
    if (!server) return server.error();
    return okStatus();
  }

  // As LabFixture does for its own tests: labs of test processes that died before tearing down.
  static void removeLabsOfDeadProcesses() {
    for (const auto& ns : lab::listNetns()) {
      if (!ns.starts_with("pnlt")) continue;
      const std::string digits =
          ns.substr(4, ns.find('-') == std::string::npos ? std::string::npos : ns.find('-') - 4);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      const pid_t pid = std::stoi(digits);
      if (pid != ::getpid() && !running(pid)) labNamed("pnlt" + digits, "down");
    }
  }

  // A zombie counts as gone: a killed test process may wait a while for its reaper.
  static bool running(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat;
    if (!std::getline(in, stat)) return false;
    const auto paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z' &&
           stat[paren + 2] != 'X';
  }

  static inline std::unique_ptr<Cluster> cluster_;
  static inline std::optional<std::string> suiteLab_;
  static inline std::string setupError_;

  std::vector<LivePolicies> live_;
  std::map<std::string, std::set<std::string>> podLabelsSet_;
  std::set<std::string> namespacesRelabelled_;
};

// ---- The cases. Expectations follow docs/policy.md; each says why in a line or two. ----------

TEST_F(PolicyTruthTableTest, NoPolicyEverythingConnects) {
  check(table({.fromNodes = true, .fromWorld = true, .toNodes = true, .toWorld = true}));
}

// -- Default deny in each direction

TEST_F(PolicyTruthTableTest, DefaultDenyIngressIsolatesANamespace) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Ingress]
)");
  // Nothing gets into x, not the world nor remote nodes; a pod's own node always passes.
  check(table({.fromNodes = true, .fromWorld = true}).set("*", "x/*", false).ownNodeConnects());
}

TEST_F(PolicyTruthTableTest, DefaultDenyEgressIsolatesANamespace) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: y}
spec:
  podSelector: {}
  policyTypes: [Egress]
)");
  // Nothing leaves y, to pods, nodes (its own included: egress to the node is ordinary policy) or
  // the world; traffic into y is not isolated.
  check(table({.toNodes = true, .toWorld = true}).expectAllEgress("y/*", false));
}

TEST_F(PolicyTruthTableTest, DefaultDenyBothDirections) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-both, namespace: z}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
)");
  check(table().expectAllIngress("z/*", false).expectAllEgress("z/*", false));
}

TEST_F(PolicyTruthTableTest, DefaultDenyIngressEverywhereButTheOwnNodePasses) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: y}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: z}
spec: {podSelector: {}, policyTypes: [Ingress]}
)");
  // Only each node's probes to its own pods connect; other nodes are remote-node, and blocked.
  check(table({.fromNodes = true, .fromWorld = true}).expectAll(false).ownNodeConnects());
}

TEST_F(PolicyTruthTableTest, EmptyIngressRuleAllowsEveryPeer) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]
)");
  // A rule without peers or ports admits everything: pods, every node and the world.
  check(table({.fromNodes = true, .fromWorld = true}));
}

TEST_F(PolicyTruthTableTest, EmptyEgressListWithoutPolicyTypesIsolatesIngressOnly) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-empty, namespace: y}
spec:
  podSelector: {}
  egress: []
)");
  // policyTypes defaults to [Ingress]: `egress: []` does not add Egress. So y is closed to
  // ingress (no rules) and its egress stays open.
  check(table().expectAllIngress("y/*", false));
}

// -- Each kind of selector

TEST_F(PolicyTruthTableTest, PodSelectorPeerStaysInThePolicysNamespace) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-b, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: b}}}]
)");
  // Only x/b: y/b and z/b carry pod=b too, but a podSelector alone means the policy's namespace.
  check(table().expectAllIngress("x/a", false).set("x/b", "x/a", true));
}

TEST_F(PolicyTruthTableTest, NamespaceSelectorAdmitsWholeNamespaces) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
)");
  check(table().expectAllIngress("x/a", false).set("y/*", "x/a", true));
}

TEST_F(PolicyTruthTableTest, EmptyNamespaceSelectorMeansEveryNamespaceButNoNode) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-from-all-pods-80, namespace: y}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress:
  - from: [{namespaceSelector: {}}]
    ports: [{port: 80, protocol: TCP}]
)");
  // Every pod of every namespace on 80/TCP; remote nodes and the world are not pods.
  check(table({.fromNodes = true, .fromWorld = true})
            .expectAllIngress("y/b", false)
            .set("*/*", "y/b", true, 80, kTcp)
            .ownNodeConnects());
}

TEST_F(PolicyTruthTableTest, MatchExpressionsInAndNotIn) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: expressions, namespace: z}
spec:
  podSelector:
    matchExpressions: [{key: pod, operator: In, values: [a, b]}]
  ingress:
  - from:
    - podSelector:
        matchExpressions: [{key: pod, operator: NotIn, values: [a]}]
      namespaceSelector:
        matchExpressions: [{key: ns, operator: NotIn, values: [y]}]
)");
  // z/a and z/b admit pods other than */a from namespaces other than y: x/b x/c z/b z/c.
  check(table()
            .expectAllIngress("z/[ab]", false)
            .where(
                [](const Probe& p) {
                  return (p.to->name == "z/a" || p.to->name == "z/b") && p.from->ns != "y" &&
                         p.from->pod != "a";
                },
                true));
}

TEST_F(PolicyTruthTableTest, MatchExpressionsExistsAndDoesNotExist) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: exists, namespace: x}
spec:
  podSelector:
    matchExpressions: [{key: pod, operator: Exists}]
  ingress:
  - from:
    - namespaceSelector:
        matchExpressions: [{key: team, operator: DoesNotExist}]
      podSelector:
        matchExpressions: [{key: pod, operator: In, values: [c]}]
)");
  // Every x pod has `pod`; no namespace has `team`: the c pods of all namespaces get in.
  check(table().expectAllIngress("x/*", false).set("*/c", "x/*", true));
}

TEST_F(PolicyTruthTableTest, NamespaceSelectorOnTheMetadataNameLabel) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-z, namespace: y}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: z}}}]
)");
  check(table().expectAllIngress("y/*", false).set("z/*", "y/*", true));
}

// -- AND versus OR peers

TEST_F(PolicyTruthTableTest, NamespaceAndPodSelectorInOnePeerAreAnded) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: and-peer, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns: y}}
      podSelector: {matchLabels: {pod: b}}
)");
  check(table().expectAllIngress("x/a", false).set("y/b", "x/a", true));
}

TEST_F(PolicyTruthTableTest, SeparatePeersAreOred) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: or-peers, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {ns: y}}
    - podSelector: {matchLabels: {pod: b}}
)");
  check(table().expectAllIngress("x/a", false).set("y/*", "x/a", true).set("x/b", "x/a", true));
}

// -- ipBlock / CIDR with except (the world is w1 = 172.30.0.240 and w2 = .241)

TEST_F(PolicyTruthTableTest, IpBlockWithExceptAdmitsItsAddressesOnly) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-underlay, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 172.30.0.0/24, except: [172.30.0.241/32]}}]
)");
  // w1 gets in, w2 is excepted. A node reaches a pod on another node from its join address
  // (100.64.0.0/16, vxlan), outside the cidr: remote nodes stay out; pods are outside too.
  check(table({.fromNodes = true, .fromWorld = true})
            .expectAllIngress("x/*", false)
            .set("w1", "x/*", true)
            .ownNodeConnects());
}

TEST_F(PolicyTruthTableTest, IpBlockOfThePodCidrMatchesEveryPod) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-pod-cidr, namespace: y}
spec:
  podSelector: {}
  ingress:
  - from: [{ipBlock: {cidr: 10.244.0.0/16}}]
)");
  // ipBlock matches by address, pods included (Kubernetes' e2e); the world is outside it.
  check(table({.fromWorld = true}).expectAllIngress("y/*", false).set("*/*", "y/*", true));
}

// e2e "should allow egress access to server in CIDR block": egress to the server's /32 only.
TEST_F(PolicyTruthTableTest, EgressIpBlockOfAServerPod) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-server, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: )" +
        hostCidr("y/b") + R"(}}]
)");
  // Only y/b: z/b and x/b carry its labels but not its address.
  check(table({.toNodes = true, .toWorld = true})
            .expectAllEgress("x/a", false)
            .set("x/a", "y/b", true));
}

// e2e "should enforce except clause while egress access to server in CIDR block".
TEST_F(PolicyTruthTableTest, EgressIpBlockOfThePodRangeExceptTheServer) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-all-but-server, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.244.0.0/16, except: [)" +
        hostCidr("y/b") + R"(]}}]
)");
  check(table({.toNodes = true, .toWorld = true})
            .expectAllEgress("x/a", false)
            .set("x/a", "*/*", true)
            .set("x/a", "y/b", false));
}

// e2e "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed", and the
// same over ingress with a node range: one rule excepts y/b, another admits it (on 81 only).
TEST_F(PolicyTruthTableTest, IpBlockExceptedByOneRuleAdmittedByAnother) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: overlap-egress, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.244.0.0/16, except: [)" +
        hostCidr("y/b") + R"(]}}]
  - to: [{ipBlock: {cidr: )" +
        hostCidr("y/b") + R"(}}]
)");
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: overlap-ingress, namespace: z}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress:
  - from: [{ipBlock: {cidr: 10.244.0.0/16, except: [)" +
        hostCidr("y/b") + R"(]}},
           {ipBlock: {cidr: 100.64.0.0/16}}]
  - from: [{ipBlock: {cidr: )" +
        hostCidr("y/b") + R"(}}]
    ports: [{port: 81}, {port: 81, protocol: UDP}]
)");
  // x/a reaches every pod (y/b by the second rule). z/c admits every pod and every node (their
  // join addresses; the own node always passes), y/b on port 81 only.
  check(table({.fromNodes = true, .toNodes = true, .toWorld = true})
            .expectAllEgress("x/a", false)
            .set("x/a", "*/*", true)
            .set("y/b", "z/c", false)
            .set("y/b", "z/c", true, 81));
}

TEST_F(PolicyTruthTableTest, EgressIpBlockWithExcept) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-w1, namespace: z}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 172.30.0.240/30, except: [172.30.0.241/32]}}]
)");
  check(table({.toNodes = true, .toWorld = true})
            .expectAllEgress("z/*", false)
            .set("z/*", "w1", true));
}

TEST_F(PolicyTruthTableTest, CiliumCidrSetWithExcept) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: from-w2, namespace: x}
spec:
  endpointSelector: {}
  ingress:
  - fromCIDRSet: [{cidr: 172.30.0.240/31, except: [172.30.0.240/32]}]
)");
  check(table({.fromNodes = true, .fromWorld = true})
            .expectAllIngress("x/*", false)
            .set("w2", "x/*", true)
            .ownNodeConnects());
}

// -- Named ports

TEST_F(PolicyTruthTableTest, NamedPortInAnIngressRule) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: serve-81-tcp-only, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: serve-81-tcp}]
)");
  check(table().expectAllIngress("x/*", false).set("*", "x/*", true, 81, kTcp));
}

TEST_F(PolicyTruthTableTest, NamedPortInAnEgressRuleResolvesAgainstThePeer) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-serve-80-udp, namespace: y}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: serve-80-udp, protocol: UDP}]
)");
  // Every pod declares serve-80-udp; nodes and the world have no container ports: nothing there.
  check(table({.toNodes = true, .toWorld = true})
            .expectAllEgress("y/*", false)
            .set("y/*", "*/*", true, 80, kUdp));
}

TEST_F(PolicyTruthTableTest, NamedPortNeedsItsProtocol) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp-name-over-tcp, namespace: z}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: serve-80-udp}]
)");
  // protocol defaults to TCP, and no pod has a TCP port named serve-80-udp: nothing gets in.
  check(table().expectAllIngress("z/*", false));
}

// -- endPort

TEST_F(PolicyTruthTableTest, EndPortCoversARange) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: tcp-80-81, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports: [{port: 80, endPort: 81, protocol: TCP}]
)");
  check(table().expectAllIngress("x/*", false).set("*", "x/*", true, 0, kTcp));
}

TEST_F(PolicyTruthTableTest, EndPortRangeEndingAtItsLastPort) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp-1-80, namespace: y}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - ports: [{port: 1, endPort: 80, protocol: UDP}]
)");
  check(table().expectAllEgress("y/*", false).set("y/*", "*", true, 80, kUdp));
}

TEST_F(PolicyTruthTableTest, CiliumEndPortWithProtocolAny) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: ports-81-90, namespace: z}
spec:
  endpointSelector: {}
  ingress:
  - toPorts: [{ports: [{port: "81", endPort: 90}]}]
)");
  // No protocol = ANY: 81 over TCP and UDP, from every peer (a ports-only Cilium rule).
  check(table().expectAllIngress("z/*", false).set("*", "z/*", true, 81));
}

// -- Protocol-only rules

TEST_F(PolicyTruthTableTest, ProtocolOnlyRuleAllowsEveryPortOfIt) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: udp-only, namespace: x}
spec:
  podSelector: {}
  ingress:
  - ports: [{protocol: UDP}]
)");
  check(table().expectAllIngress("x/*", false).set("*", "x/*", true, 0, kUdp));
}

TEST_F(PolicyTruthTableTest, CiliumPortsOnlyRuleAdmitsEveryPeer) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: c-tcp-80, namespace: y}
spec:
  endpointSelector: {matchLabels: {pod: c}}
  ingress:
  - toPorts: [{ports: [{port: "80", protocol: TCP}]}]
)");
  // No peers: pods, remote nodes and the world alike, on 80/TCP only.
  check(table({.fromNodes = true, .fromWorld = true})
            .expectAllIngress("y/c", false)
            .set("*", "y/c", true, 80, kTcp)
            .ownNodeConnects());
}

// -- Stacked policies

TEST_F(PolicyTruthTableTest, StackedPoliciesAddUp) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-a, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{podSelector: {matchLabels: {pod: a}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c-from-y, namespace: x}
spec:
  podSelector: {matchLabels: {pod: c}}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
)");
  // x/c is selected by both: the union of their rules.
  check(table().expectAllIngress("x/*", false).set("x/a", "x/*", true).set("y/*", "x/c", true));
}

TEST_F(PolicyTruthTableTest, AllowAllNextToDefaultDeny) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-ingress, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b-open, namespace: x}
spec:
  podSelector: {matchLabels: {pod: b}}
  ingress: [{}]
)");
  check(table().expectAllIngress("x/*", false).set("*", "x/b", true));
}

TEST_F(PolicyTruthTableTest, EgressOfOneAndIngressOfTheOtherMustBothAllow) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: egress-to-y, namespace: x}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{namespaceSelector: {matchLabels: {ns: y}}}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ingress-from-a-pods, namespace: y}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {pod: a}}}]
)");
  // x may only send to y; y only takes */a. So x/a -> y connects, x/b -> y does not.
  check(table()
            .expectAllEgress("x/*", false)
            .set("x/*", "y/*", true)
            .where([](const Probe& p) { return p.to->ns == "y" && p.from->pod != "a"; }, false));
}

// -- Deny rules

TEST_F(PolicyTruthTableTest, DenyBeatsANetworkPolicyAllow) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: x}
spec:
  podSelector: {}
  ingress: [{}]
---
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: no-b-on-80, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [all]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {pod: b}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
)");
  // Only x/b (fromEndpoints in a namespaced policy stays in x), only 80/TCP.
  check(table().set("x/b", "x/*", false, 80, kTcp), {"x/no-b-on-80"});
}

TEST_F(PolicyTruthTableTest, DenyOnlyPolicyIsolates) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: deny-world, namespace: y}
spec:
  endpointSelector: {matchLabels: {pod: a}}
  ingressDeny: [{fromEntities: [world]}]
)");
  // A present ingressDeny isolates y/a's ingress, as in Cilium; no allow rule: nothing gets in but
  // the own node.
  check(table({.fromNodes = true, .fromWorld = true})
            .expectAllIngress("y/a", false)
            .ownNodeConnects());
}

TEST_F(PolicyTruthTableTest, EgressDenyToANamespace) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: not-to-x, namespace: z}
spec:
  endpointSelector: {}
  egress: [{toEntities: [all]}]
  egressDeny:
  - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: x}}]
)");
  check(table().set("z/*", "x/*", false));
}

TEST_F(PolicyTruthTableTest, ClusterwideDenyAcrossNamespaces) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: no-a-to-c-81-udp}
spec:
  endpointSelector: {matchLabels: {pod: c}}
  ingress: [{fromEntities: [all]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {pod: a}}]
    toPorts: [{ports: [{port: "81", protocol: UDP}]}]
)");
  // Clusterwide selectors span namespaces: every */a to every */c on 81/UDP.
  check(table().set("*/a", "*/c", false, 81, kUdp));
}

// -- Entities

TEST_F(PolicyTruthTableTest, EntityClusterAdmitsPodsAndNodes) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: from-cluster, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [cluster]}]
)");
  check(table({.fromNodes = true, .fromWorld = true}).set("w*", "x/*", false));
}

TEST_F(PolicyTruthTableTest, EntityWorldAdmitsOnlyOutsideAddresses) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: from-world, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [world]}]
)");
  check(table({.fromNodes = true, .fromWorld = true})
            .expectAllIngress("x/*", false)
            .set("w*", "x/*", true)
            .ownNodeConnects());
}

TEST_F(PolicyTruthTableTest, EntityRemoteNodeAdmitsTheOtherNodes) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: from-remote-nodes, namespace: y}
spec:
  endpointSelector: {}
  ingress: [{fromEntities: [remote-node]}]
)");
  // Remote nodes by the entity, the own node because it always passes: every node, no pod.
  check(table({.fromNodes = true, .fromWorld = true})
            .expectAllIngress("y/*", false)
            .set("n*", "y/*", true));
}

TEST_F(PolicyTruthTableTest, EntityHostInEgressIsTheOwnNodeOnly) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: to-host, namespace: z}
spec:
  endpointSelector: {}
  egress: [{toEntities: [host]}]
)");
  check(table({.toNodes = true, .toWorld = true})
            .expectAllEgress("z/*", false)
            .where(
                [](const Probe& p) {
                  return p.from->ns == "z" && p.to->kind == EndpointKind::kNode &&
                         p.to->name == p.from->node;
                },
                true));
}

// -- Cilium's own rules

TEST_F(PolicyTruthTableTest, CiliumEmptyRuleAllowsNothing) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: isolate, namespace: x}
spec:
  endpointSelector: {}
  ingress: [{}]
)");
  // Unlike NetworkPolicy's `ingress: [{}]` (EmptyIngressRuleAllowsEveryPeer).
  check(table({.fromWorld = true}).expectAllIngress("x/*", false));
}

TEST_F(PolicyTruthTableTest, CiliumEndpointSelectorStaysInItsNamespace) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: from-own-namespace, namespace: y}
spec:
  endpointSelector: {}
  ingress: [{fromEndpoints: [{}]}]
)");
  check(table().expectAllIngress("y/*", false).set("y/*", "y/*", true));
}

TEST_F(PolicyTruthTableTest, CiliumNamespaceScopingAndAPolicyUpdatedInPlace) {
  // Namespace labels alone do not lift the own-namespace restriction: this matches no pod of x.
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: from-y, namespace: x}
spec:
  endpointSelector: {}
  ingress:
  - fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.ns: y}}]
)");
  check(table().expectAllIngress("x/*", false));
  // Constraining io.kubernetes.pod.namespace does.
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: from-y, namespace: x}
spec:
  endpointSelector: {}
  ingress:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y}}]
)");
  check(table().expectAllIngress("x/*", false).set("y/*", "x/*", true));
}

// -- The host firewall (probes from pods to the nodes' underlay addresses)
//
// ASSUMPTION for the lead: nodeSelector sees kubernetes.io/hostname=<node name> on every node (the
// policy agent adds it today; model::Node carries no labels). The expectations follow Cilium: a
// host policy covers all traffic into the node, from its own pods and from pods on other nodes
// (arriving through the tunnel) alike.

TEST_F(PolicyTruthTableTest, HostFirewallDeniesOneNamespaceOnPort80) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: host-no-x-on-80}
spec:
  nodeSelector: {}
  ingress: [{fromEntities: [all]}]
  ingressDeny:
  - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: x}}]
    toPorts: [{ports: [{port: "80", protocol: TCP}]}]
)");
  // Every node refuses x's pods on 80/TCP; pod-to-pod traffic is untouched.
  check(table({.toNodes = true}).set("x/*", "n*", false, 80, kTcp));
}

TEST_F(PolicyTruthTableTest, HostFirewallSelectsNodesByLabel) {
  apply(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: host-n2-no-81}
spec:
  nodeSelector: {matchLabels: {kubernetes.io/hostname: n2}}
  ingress: [{fromEntities: [all]}]
  ingressDeny:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: "81"}]}]
)");
  // Only n2, port 81 over TCP and UDP (ANY), from every pod.
  check(table({.toNodes = true}).set("*/*", "n2", false, 81));
}

// -- Updates: pod labels, namespace labels, deletion

TEST_F(PolicyTruthTableTest, PodLabelChangeStartsAndStopsSelection) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: isolate-locked, namespace: x}
spec:
  podSelector: {matchLabels: {role: locked}}
  policyTypes: [Ingress]
)");
  check(table());  // selects nobody yet
  labelPod("x/b", "role=locked");
  check(table().expectAllIngress("x/b", false));
  labelPod("x/b", "role-");
  check(table());
}

TEST_F(PolicyTruthTableTest, PodLabelChangeMakesAPeer) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a-from-friends, namespace: x}
spec:
  podSelector: {matchLabels: {pod: a}}
  ingress:
  - from: [{namespaceSelector: {}, podSelector: {matchLabels: {role: friend}}}]
)");
  check(table().expectAllIngress("x/a", false));
  labelPod("z/c", "role=friend");
  check(table().expectAllIngress("x/a", false).set("z/c", "x/a", true));
  labelPod("z/c", "role-");
  check(table().expectAllIngress("x/a", false));
}

TEST_F(PolicyTruthTableTest, NamespaceLabelChangeMakesPeers) {
  apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-team-blue, namespace: y}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {team: blue}}}]
)");
  check(table().expectAllIngress("y/*", false));
  labelNamespace("z", "team: blue");
  check(table().expectAllIngress("y/*", false).set("z/*", "y/*", true));
  labelNamespace("z", "");
  check(table().expectAllIngress("y/*", false));
}

TEST_F(PolicyTruthTableTest, NetworkPolicyUpdatedInPlace) {
  const char* kFromY = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-one-namespace, namespace: x}
spec:
  podSelector: {}
  ingress:
  - from: [{namespaceSelector: {matchLabels: {ns: y}}}]
)";
  apply(kFromY);
  check(table().expectAllIngress("x/*", false).set("y/*", "x/*", true));
  std::string fromZ = kFromY;
  fromZ.replace(fromZ.find("ns: y"), 5, "ns: z");
  apply(fromZ);
  check(table().expectAllIngress("x/*", false).set("z/*", "x/*", true));
}

TEST_F(PolicyTruthTableTest, DeletingPoliciesRestoresTraffic) {
  const char* kEverythingClosed = R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: x}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
---
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: isolate, namespace: y}
spec:
  endpointSelector: {}
  ingress: [{}]
  egress: [{}]
---
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: deny-z}
spec:
  endpointSelector: {matchLabels: {k8s:io.kubernetes.pod.namespace: z}}
  ingress: [{fromEntities: [all]}]
  egress: [{toEntities: [all]}]
  ingressDeny: [{fromEntities: [all]}]
  egressDeny: [{toEntities: [all]}]
)";
  apply(kEverythingClosed);
  check(table({.toWorld = true}).expectAll(false));
  remove(kEverythingClosed);
  check(table({.toWorld = true}));
}

}  // namespace
}  // namespace podnet::testing
