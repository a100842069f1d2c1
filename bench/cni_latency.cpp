// podnet-bench-cni: CNI ADD and DEL latency, podnet (podnet-cni + podnetd) against Debian's
// reference bridge + host-local, both driven through the same CniRuntime in one run.
//
// Each side gets a node netns and N pod netns, created up front (not timed). The sides are
// interleaved pod by pod (ADD ref i, ADD podnet i, ...) so machine noise hits both alike. A latency
// is the wall time of CniRuntime::add/del, i.e. what a container runtime waits for.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "common/subprocess.h"
#include "runtime/cni_runtime.h"
#include "runtime/exec.h"

extern char** environ;

namespace podnet::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using runtime::CniRuntime;
using runtime::NetworkConfigList;
using namespace std::chrono_literals;

volatile sig_atomic_t gInterrupted = 0;

struct Options {
  int pods = 200;
  bool referenceOnly = false;
  std::string podnetd = PODNET_DEFAULT_PODNETD;
  std::string pluginDir = PODNET_DEFAULT_PLUGIN_DIR;
  std::string referencePluginDir = "/usr/lib/cni";
  std::string results = PODNET_DEFAULT_RESULTS;  // markdown; "" writes none
  std::string command;                           // as invoked, for the results file
};

std::string netnsPath(const std::string& name) {
  return "/run/netns/" + name;
}

// Everything the benchmark creates; the destructor removes it, also after an error.
class Testbed {
 public:
  Testbed() = default;
  Testbed(const Testbed&) = delete;
  Testbed& operator=(const Testbed&) = delete;
  ~Testbed() {
    stopPodnetd();
    if (!netns_.empty()) {
      std::string batch;
      for (const auto& name : netns_) batch += "netns del " + name + "\n";
      (void)runIpBatch(batch);
    }
    if (!dir_.empty()) fs::remove_all(dir_);
    if (!pinDir_.empty()) fs::remove_all(pinDir_);
  }

  Status makeDir() {
    std::string tmpl = (fs::temp_directory_path() / "podnet-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) return makeError(Errc::kIo, "mkdtemp " + tmpl);
    dir_ = tmpl;
    return okStatus();
  }
  const fs::path& dir() const { return dir_; }

  // Creates all the namespaces with one `ip -batch`: a few hundred `ip netns add` otherwise take
  // longer than the benchmark.
  Status addNetns(const std::vector<std::string>& names) {
    std::string batch;
    for (const auto& name : names) batch += "netns add " + name + "\n";
    netns_.insert(netns_.end(), names.begin(), names.end());  // cleanup tolerates missing ones
    return runIpBatch(batch);
  }

  // podnetd runs inside the node netns, as it would on a node.
  Status startPodnetd(const std::string& binary, const std::string& node) {
    pinDir_ = "/sys/fs/bpf/" + node;
    const std::string socket = (dir_ / "podnetd.sock").string();
    const std::string log = (dir_ / "podnetd.log").string();
    std::vector<std::string> args = {"ip",
                                     "netns",
                                     "exec",
                                     node,
                                     binary,
                                     "--state-dir",
                                     (dir_ / "state").string(),
                                     "--socket",
                                     socket,
                                     "--pod-cidr",
                                     "10.244.0.0/16",
                                     "--bpf-pin-dir",
                                     pinDir_};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
    int rc = ::posix_spawnp(&podnetd_, "ip", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      podnetd_ = -1;
      return makeError(Errc::kIo, "start podnetd: " + std::string(std::strerror(rc)));
    }
    for (auto waited = 0ms; waited < 10s; waited += 20ms) {
      if (fs::exists(socket)) return okStatus();
      if (::waitpid(podnetd_, nullptr, WNOHANG) == podnetd_) {
        podnetd_ = -1;
        return makeError(Errc::kUnavailable, "podnetd exited at start-up; its log:\n" + readLog());
      }
      std::this_thread::sleep_for(20ms);
    }
    return makeError(Errc::kUnavailable,
                     "podnetd did not create " + socket + " within 10 s; its log:\n" + readLog());
  }

  std::string readLog() const {
    std::ifstream file(dir_ / "podnetd.log");
    std::stringstream buf;
    buf << file.rdbuf();
    return buf.str();
  }

 private:
  // execPlugin runs a binary without arguments, so the batch goes through a shell's here-document.
  static Status runIpBatch(const std::string& batch) {
    auto r =
        runtime::execPlugin("/bin/sh", {}, "ip -force -batch - <<'EOF'\n" + batch + "EOF\n", 300s);
    if (!r.ok()) return r.error();
    if (r->exitCode != 0) return makeError(Errc::kKernel, "ip -batch: " + r->err);
    return okStatus();
  }

  void stopPodnetd() {
    if (podnetd_ < 0) return;
    ::kill(podnetd_, SIGTERM);
    for (auto waited = 0ms; waited < 5s; waited += 20ms) {
      if (::waitpid(podnetd_, nullptr, WNOHANG) == podnetd_) {
        podnetd_ = -1;
        return;
      }
      std::this_thread::sleep_for(20ms);
    }
    ::kill(podnetd_, SIGKILL);
    ::waitpid(podnetd_, nullptr, 0);
    podnetd_ = -1;
  }

  fs::path dir_;
  std::string pinDir_;  // podnetd's BPF pins
  std::vector<std::string> netns_;
  pid_t podnetd_ = -1;
};

struct Side {
  std::string label;
  std::string node;
  NetworkConfigList list;
  std::unique_ptr<CniRuntime> runtime;
  std::vector<std::string> pods;
  std::vector<double> addMs, delMs;
};

Result<Side> makeSide(Testbed& bed, const std::string& label, const std::string& tag,
                      const json& conflist, const std::string& pluginDir, int pods) {
  Side side;
  side.label = label;
  side.node = "pnb" + std::to_string(::getpid()) + tag + "node";
  for (int i = 0; i < pods; ++i) {
    side.pods.push_back("pnb" + std::to_string(::getpid()) + tag + std::to_string(i));
  }
  std::vector<std::string> all = side.pods;
  all.push_back(side.node);
  Status created = bed.addNetns(all);
  if (!created.ok()) return created.error().context(label + ": create netns");
  auto node = runtime::execPlugin("/bin/sh", {},
                                  "ip link set lo up && echo 1 > /proc/sys/net/ipv4/ip_forward",
                                  10s, netnsPath(side.node));
  if (!node.ok()) return node.error().context(label + ": set up node " + side.node);
  if (node->exitCode != 0) {
    return makeError(Errc::kKernel, label + ": set up node " + side.node + ": " + node->err);
  }
  side.list = PODNET_TRY(NetworkConfigList::parse(conflist.dump()));
  side.runtime = std::make_unique<CniRuntime>(CniRuntime::Options{
      {pluginDir}, (bed.dir() / ("cache-" + tag)).string(), netnsPath(side.node), 30s});
  return side;
}

runtime::RuntimeConf podConf(const Side& side, size_t i) {
  runtime::RuntimeConf rt;
  rt.containerId = side.pods[i];
  rt.netns = netnsPath(side.pods[i]);
  rt.args = {{"IgnoreUnknown", "1"},
             {"K8S_POD_NAMESPACE", "bench"},
             {"K8S_POD_NAME", "pod-" + std::to_string(i)}};
  return rt;
}

Status statusOf(const Result<json>& r) {
  return r.ok() ? okStatus() : Status(r.error());
}

// Runs ADD for every pod, then DEL for every pod, alternating the sides at each pod.
Status measure(std::vector<Side>& sides) {
  using Clock = std::chrono::steady_clock;
  for (const std::string phase : {"ADD", "DEL"}) {
    for (size_t i = 0; i < sides.front().pods.size(); ++i) {
      for (Side& side : sides) {
        if (gInterrupted) return makeError(Errc::kUnavailable, "interrupted");
        const runtime::RuntimeConf rt = podConf(side, i);
        const auto start = Clock::now();
        Status done = phase == "ADD" ? statusOf(side.runtime->add(side.list, rt))
                                     : side.runtime->del(side.list, rt);
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
        if (!done.ok()) {
          return makeError(done.error().code, side.label + ": " + phase + " " + rt.containerId +
                                                  ": " + done.error().message);
        }
        (phase == "ADD" ? side.addMs : side.delMs).push_back(ms);
      }
    }
  }
  return okStatus();
}

// Nearest-rank percentile.
double percentile(std::vector<double> samples, double p) {
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  return samples[std::max<size_t>(rank, 1) - 1];
}

// The figures of one run: p50 and p99 of ADD and DEL per side, and podnet's over the reference's.
struct Table {
  struct Row {
    std::string label;
    std::array<double, 4> ms;  // ADD p50, ADD p99, DEL p50, DEL p99
  };
  std::vector<Row> rows;
  std::optional<std::array<double, 4>> ratio;  // when both sides ran
};

Table tableOf(const std::vector<Side>& sides) {
  Table t;
  for (const Side& side : sides) {
    t.rows.push_back({side.label,
                      {percentile(side.addMs, 50), percentile(side.addMs, 99),
                       percentile(side.delMs, 50), percentile(side.delMs, 99)}});
  }
  if (t.rows.size() == 2) {
    std::array<double, 4> r{};
    for (size_t k = 0; k < 4; ++k) r[k] = t.rows[1].ms[k] / t.rows[0].ms[k];
    t.ratio = r;
  }
  return t;
}

void printTable(const Table& t, int pods) {
  std::printf("CNI latency over %d pods per side, milliseconds as the runtime waits for them\n",
              pods);
  std::printf("%-36s %9s %9s %9s %9s\n", "side", "ADD p50", "ADD p99", "DEL p50", "DEL p99");
  for (const auto& row : t.rows) {
    std::printf("%-36s %9.2f %9.2f %9.2f %9.2f\n", row.label.c_str(), row.ms[0], row.ms[1],
                row.ms[2], row.ms[3]);
  }
  if (t.ratio) {
    std::printf("%-36s", "ratio podnet / reference");
    for (double r : *t.ratio) std::printf(" %8.2fx", r);
    std::printf("\n");
  }
}

// The first line a command (argv; the program looked up on PATH) prints, or "" when it fails.
std::string firstLineOf(std::vector<std::string> argv) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.searchPath = true;
  spec.err = ProcessSpec::Output::kNull;
  auto child = Subprocess::spawn(spec);
  if (!child) return "";
  auto done = child->communicate({}, 10s);
  if (!done || done->exitCode != 0) return "";
  return done->out.substr(0, done->out.find('\n'));
}

// The source tree's commit, "-dirty" when tracked files other than the results differ from it.
std::string sourceCommit() {
  std::string commit =
      firstLineOf({"git", "-C", PODNET_SOURCE_DIR, "rev-parse", "--short=12", "HEAD"});
  if (commit.empty()) return "unknown";
  if (!firstLineOf({"git", "-C", PODNET_SOURCE_DIR, "status", "--porcelain", "--untracked-files=no",
                    "--", ".", ":(exclude)bench/results"})
           .empty())
    commit += "-dirty";
  return commit;
}

std::string loadAverage() {
  std::array<double, 3> load{};
  if (::getloadavg(load.data(), 3) != 3) return "unknown";
  char text[64];
  std::snprintf(text, sizeof(text), "%.2f %.2f %.2f", load[0], load[1], load[2]);
  return text;
}

// Appends the run to the markdown results file: when, which commit, the command, the load average
// before and after (1, 5, 15 minutes; the machines are shared), and the table.
Status appendResults(const std::string& path, const Table& t, const std::string& command,
                     const std::string& loadBefore) {
  std::error_code ec;
  fs::create_directories(fs::path(path).parent_path(), ec);
  const bool fresh = !fs::exists(path);
  std::ofstream out(path, std::ios::app);
  if (!out) return makeError(Errc::kIo, "results file " + path + ": cannot open for appending");
  if (fresh) {
    out << "# podnet-bench-cni results\n\nEach run appended by the benchmark itself: CNI ADD and "
           "DEL latency in milliseconds, as the runtime waits for them; reference = Debian's "
           "`bridge` + `host-local` (cniVersion 1.0.0), podnet = `podnet-cni` + `podnetd` "
           "(cniVersion 1.1.0).\n";
  }
  std::time_t now = std::time(nullptr);
  char when[32];
  std::strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  char line[256];
  out << "\n## " << when << ", commit " << sourceCommit() << "\n\n"
      << "Command: `" << command << "`; load average (1/5/15 min) before " << loadBefore
      << ", after " << loadAverage() << "; " << std::thread::hardware_concurrency() << " CPUs.\n\n"
      << "| side | ADD p50 | ADD p99 | DEL p50 | DEL p99 |\n| --- | --- | --- | --- | --- |\n";
  for (const auto& row : t.rows) {
    std::snprintf(line, sizeof(line), "| %s | %.2f ms | %.2f ms | %.2f ms | %.2f ms |\n",
                  row.label.c_str(), row.ms[0], row.ms[1], row.ms[2], row.ms[3]);
    out << line;
  }
  if (t.ratio) {
    const auto& r = *t.ratio;
    std::snprintf(line, sizeof(line),
                  "| ratio podnet / reference | **%.2fx** | %.2fx | **%.2fx** "
                  "| %.2fx |\n",
                  r[0], r[1], r[2], r[3]);
    out << line;
  }
  out.flush();
  if (!out) return makeError(Errc::kIo, "results file " + path + ": write failed");
  return okStatus();
}

Status requireExecutable(const std::string& path, const std::string& hint) {
  if (::access(path.c_str(), X_OK) == 0) return okStatus();
  return makeError(Errc::kNotFound, path + " not found or not executable: " + hint);
}

Status run(const Options& options) {
  PODNET_TRY_STATUS(requireExecutable(options.referencePluginDir + "/bridge",
                                      "install containernetworking-plugins or pass "
                                      "--reference-plugin-dir"));
  if (!options.referenceOnly) {
    const std::string hint =
        "build podnetd and podnet-cni (cmake --build <build> --target podnetd podnet-cni), pass "
        "--podnetd / --plugin-dir, or measure the reference alone with --reference-only";
    PODNET_TRY_STATUS(requireExecutable(options.podnetd, hint));
    PODNET_TRY_STATUS(requireExecutable(options.pluginDir + "/podnet-cni", hint));
  }

  Testbed bed;
  PODNET_TRY_STATUS(bed.makeDir());
  std::vector<Side> sides;
  const json reference = {{"cniVersion", "1.0.0"},
                          {"name", "bench-reference"},
                          {"plugins",
                           {{{"type", "bridge"},
                             {"bridge", "cni0"},
                             {"isGateway", true},
                             {"ipam",
                              {{"type", "host-local"},
                               {"subnet", "10.22.0.0/16"},
                               {"dataDir", (bed.dir() / "host-local").string()}}}}}}};
  sides.push_back(PODNET_TRY(makeSide(bed, "reference (bridge + host-local)", "r", reference,
                                      options.referencePluginDir, options.pods)));
  if (!options.referenceOnly) {
    const json podnet = {
        {"cniVersion", "1.1.0"},
        {"name", "podnet"},
        {"plugins", {{{"type", "podnet-cni"}, {"socket", (bed.dir() / "podnetd.sock").string()}}}}};
    sides.push_back(PODNET_TRY(makeSide(bed, "podnet (podnet-cni + podnetd)", "p", podnet,
                                        options.pluginDir, options.pods)));
    PODNET_TRY_STATUS(bed.startPodnetd(options.podnetd, sides.back().node));
  }
  const std::string loadBefore = loadAverage();
  PODNET_TRY_STATUS(measure(sides));
  const Table table = tableOf(sides);
  printTable(table, options.pods);
  if (options.results.empty()) return okStatus();
  PODNET_TRY_STATUS(appendResults(options.results, table, options.command, loadBefore));
  std::printf("appended to %s\n", options.results.c_str());
  return okStatus();
}

}  // namespace
}  // namespace podnet::bench

int main(int argc, char** argv) {
  podnet::bench::Options options;
  CLI::App app{"CNI ADD/DEL latency: podnet against the reference bridge + host-local plugins"};
  app.add_option("--pods", options.pods, "pods per side")->check(CLI::Range(1, 5000));
  app.add_flag("--reference-only", options.referenceOnly, "measure only the reference plugins");
  app.add_option("--podnetd", options.podnetd, "the podnetd binary")->capture_default_str();
  app.add_option("--plugin-dir", options.pluginDir, "the directory holding podnet-cni")
      ->capture_default_str();
  app.add_option("--reference-plugin-dir", options.referencePluginDir,
                 "the directory holding bridge and host-local")
      ->capture_default_str();
  app.add_option("--results", options.results,
                 "append the table to this markdown file (\"\": none)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  for (int i = 0; i < argc; ++i) options.command += (i ? " " : "") + std::string(argv[i]);

  if (::geteuid() != 0) {
    std::fprintf(stderr, "podnet-bench-cni: needs root (it creates network namespaces)\n");
    return 1;
  }
  // Stop between two plugin calls and tear down, rather than dying with namespaces left behind.
  struct sigaction stop {};
  stop.sa_handler = [](int) { podnet::bench::gInterrupted = 1; };
  ::sigaction(SIGINT, &stop, nullptr);
  ::sigaction(SIGTERM, &stop, nullptr);

  podnet::Status done = podnet::bench::run(options);
  if (!done.ok()) {
    std::fprintf(stderr, "podnet-bench-cni: %s\n", done.error().message.c_str());
    return 1;
  }
  return 0;
}
