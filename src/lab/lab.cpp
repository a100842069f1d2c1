#include "lab/lab.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "common/fd.h"
#include "lab/processes.h"
#include "lab/underlay.h"
#include "netlink/netns.h"
#include "rpc/unix_socket.h"
#include "runtime/cni_runtime.h"

namespace podnet::lab {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr auto kAgentStartTimeout = std::chrono::seconds(60);
constexpr auto kEtcdStartTimeout = std::chrono::seconds(30);
constexpr auto kStopGrace = std::chrono::milliseconds(5000);
constexpr auto kServerStartTimeout = std::chrono::seconds(10);

// A Kubernetes namespace or (lab) pod name: a DNS label.
Status validateName(const std::string& kind, const std::string& name) {
  bool ok = !name.empty() && name.size() <= 63 &&
            std::isalnum(static_cast<unsigned char>(name[0])) &&
            std::isalnum(static_cast<unsigned char>(name.back()));
  for (char c : name) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '-')) {
      ok = false;
    }
  }
  if (ok) return okStatus();
  return makeError(Errc::kInvalidArgument,
                   kind + " \"" + name +
                       "\": use at most 63 lowercase letters, digits and '-', alphanumeric at both "
                       "ends");
}

std::string lastLines(const std::string& path, size_t count) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > count) lines.pop_front();
  }
  std::string out;
  for (const auto& l : lines) out += "\n  | " + l;
  return out;
}

std::string randomUid() {
  std::random_device rd;
  std::uniform_int_distribution<int> nibble(0, 15);
  std::string uid;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) uid += '-';
    int v = nibble(rd);
    if (i == 12) v = 4;            // version 4
    if (i == 16) v = 8 | (v & 3);  // variant 10xx
    uid += "0123456789abcdef"[v];
  }
  return uid;
}

// What kubelet would pass as the sandbox id: unique per pod incarnation, stable for its life.
std::string containerIdFor(const std::string& ns, const std::string& name, const std::string& uid) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a-64
  for (char c : ns + "/" + name + "/" + uid) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ULL;
  }
  std::ostringstream out;
  out << "lab" << std::hex << std::setw(16) << std::setfill('0') << h;
  return out.str();
}

std::optional<ino_t> netnsInode(const std::string& netns) {
  struct stat st {};
  if (::stat(Layout::netnsPath(netns).c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

// Processes in one namespace, as records carrying their current start time.
std::vector<ProcessRecord> processesIn(const std::set<ino_t>& inodes, const std::string& tag) {
  std::vector<ProcessRecord> out;
  for (pid_t pid : findLabProcesses(inodes, tag)) {
    if (auto start = startTimeOf(pid)) out.push_back({"found", pid, *start});
  }
  return out;
}

bool agentAnswers(const std::string& socket) {
  auto reply = rpc::call(socket, {{"op", "pods"}}, std::chrono::seconds(2));
  return reply && reply->value("ok", false);
}

// One GET /health to etcd's client URL from inside the infra namespace. (A whole HTTP or etcd
// client library for one request at start-up would be more code to carry than these lines.)
bool etcdHealthy(const Layout& layout) {
  auto ns = netlink::Netns::open(Layout::netnsPath(layout.infraNetns()));
  if (!ns) return false;
  bool healthy = false;
  std::thread worker([&] {
    auto scope = netlink::NetnsScope::enter(*ns);
    if (!scope) return;
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{2, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(kEtcdClientPort);
    addr.sin_addr.s_addr = htonl(Layout::bridgeAddress().addr.value);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    const std::string request = "GET /health HTTP/1.0\r\nHost: etcd\r\n\r\n";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return;
    std::string reply;
    char buf[1024];
    ssize_t n;
    while ((n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0) reply.append(buf, n);
    healthy = reply.find("\"health\":\"true\"") != std::string::npos;
  });
  worker.join();
  return healthy;
}

runtime::NetworkConfigList cniConfig(const Layout& layout, const std::string& node) {
  json conf = {
      {"cniVersion", "1.1.0"},
      {"name", "podnet"},
      {"plugins", json::array({{{"type", "podnet-cni"}, {"socket", layout.agentSocket(node)}}})}};
  return runtime::NetworkConfigList::parse(conf.dump()).value();
}

runtime::RuntimeConf runtimeConf(const PodRecord& pod) {
  runtime::RuntimeConf rt;
  rt.containerId = pod.containerId;
  rt.netns = Layout::netnsPath(pod.netns);
  rt.ifname = "eth0";
  rt.args = {{"IgnoreUnknown", "1"},
             {"K8S_POD_NAMESPACE", pod.namespace_},
             {"K8S_POD_NAME", pod.name},
             {"K8S_POD_INFRA_CONTAINER_ID", pod.containerId},
             {"K8S_POD_UID", pod.uid}};
  return rt;
}

model::Pod podObject(const PodRecord& pod) {
  model::Pod object;
  object.metadata.name = pod.name;
  object.metadata.namespace_ = pod.namespace_;
  object.metadata.labels = pod.labels;
  object.nodeName = pod.node;
  object.ports = pod.ports;
  return object;
}

model::Namespace namespaceObject(const std::string& name, const model::Labels& labels) {
  model::Namespace object;
  object.metadata.name = name;
  object.metadata.labels = labels;
  object.metadata.labels["kubernetes.io/metadata.name"] = name;
  return object;
}

std::optional<int> nodeIndex(const LabState& state, const std::string& node) {
  if (!state.hasNode(node)) return std::nullopt;
  return std::stoi(node.substr(1));
}

}  // namespace

Result<model::Labels> parseLabels(const std::string& text) {
  model::Labels labels;
  std::istringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item.empty()) continue;
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return makeError(Errc::kInvalidArgument, "label \"" + item + "\": write it as key=value");
    }
    labels[item.substr(0, eq)] = item.substr(eq + 1);
  }
  PODNET_TRY_STATUS(model::validateLabels(labels));
  return labels;
}

Result<PodRef> parsePodRef(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos) {
    return makeError(Errc::kInvalidArgument, "pod \"" + text + "\": write it as NAMESPACE/NAME");
  }
  PodRef ref{text.substr(0, slash), text.substr(slash + 1)};
  PODNET_TRY_STATUS(validateName("namespace", ref.namespace_));
  PODNET_TRY_STATUS(validateName("pod name", ref.name));
  return ref;
}

std::vector<model::ContainerPort> serverPorts(const std::vector<Protocol>& protocols) {
  std::vector<model::ContainerPort> ports;
  for (Protocol protocol : protocols) {
    std::string upper = protocolName(protocol);
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    for (uint16_t port : kServerPorts) {
      ports.push_back(
          {"serve-" + std::to_string(port) + "-" + protocolName(protocol), port, upper});
    }
  }
  return ports;
}

bool Lab::anythingExists() const {
  std::error_code ec;
  if (fs::exists(layout_.stateFile(), ec)) return true;
  for (const auto& netns : listNetns()) {
    if (layout_.ownsNetns(netns)) return true;
  }
  return false;
}

Result<LabState> Lab::requireState() {
  auto state = PODNET_TRY(loadState(layout_));
  if (!state) {
    return makeError(Errc::kNotFound, "lab " + layout_.name() +
                                          ": not running (start it with `podnetctl lab up "
                                          "--nodes N`)");
  }
  return std::move(*state);
}

Result<ProcessRecord> Lab::start(const std::string& role, const std::vector<std::string>& argv,
                                 const std::string& netns, const std::string& logName) {
  SpawnSpec spec{role, argv, Layout::netnsPath(netns), layout_.logFile(logName), layout_.name()};
  return spawnDetached(spec);
}

Result<ProcessRecord> Lab::startServer(const std::string& who, const std::string& netns,
                                       const std::string& logName) {
  const std::string podnetctl = PODNET_TRY(binary("podnetctl"));
  const std::string ready = layout_.serverReadyFile(logName);
  std::error_code ec;
  fs::remove(ready, ec);
  ProcessRecord process = PODNET_TRY(
      start("server " + who, {podnetctl, "lab", "serve", "--who", who, "--ready-file", ready},
            netns, logName));
  const auto deadline = Clock::now() + kServerStartTimeout;
  while (!fs::exists(ready, ec)) {
    if (!isAlive(process) || Clock::now() >= deadline) {
      terminate({process}, kStopGrace);
      return makeError(Errc::kUnavailable,
                       "the server of " + who + " did not start listening; its log " +
                           layout_.logFile(logName) + ":" + lastLines(layout_.logFile(logName), 5));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  fs::remove(ready, ec);  // read once: nothing stays behind for a pod deleted later
  return process;
}

Status Lab::createNetwork(LabState& state, int nodes) {
  state.nodes = nodes;
  PODNET_TRY_STATUS(saveState(layout_, state));
  return buildUnderlay(layout_, nodes);
}

Status Lab::startEtcd(LabState& state) {
  const std::string etcd = PODNET_TRY(binary("etcd"));
  const std::string client = "http://" + Layout::etcdEndpoint();
  const std::string peer =
      "http://" + Layout::bridgeAddress().addr.str() + ":" + std::to_string(kEtcdPeerPort);
  std::error_code ec;
  fs::create_directories(layout_.etcdDataDir(), ec);
  ::chmod(layout_.etcdDataDir().c_str(), 0700);
  auto process = start("etcd",
                       {etcd, "--name=lab", "--data-dir=" + layout_.etcdDataDir(),
                        "--listen-client-urls=" + client, "--advertise-client-urls=" + client,
                        "--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
                        "--initial-cluster=lab=" + peer, "--initial-cluster-state=new"},
                       layout_.infraNetns(), "etcd");
  if (!process) return process.error();
  state.processes.push_back(*process);
  PODNET_TRY_STATUS(saveState(layout_, state));
  auto deadline = Clock::now() + kEtcdStartTimeout;
  while (Clock::now() < deadline) {
    if (!isAlive(*process)) {
      return makeError(Errc::kUnavailable, "etcd exited at start; its log " +
                                               layout_.logFile("etcd") + ":" +
                                               lastLines(layout_.logFile("etcd"), 15));
    }
    if (etcdHealthy(layout_)) return okStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return makeError(Errc::kUnavailable,
                   "etcd did not become healthy at " + Layout::etcdEndpoint() +
                       " within 30 s; its log:" + lastLines(layout_.logFile("etcd"), 15));
}

Status Lab::startAgents(LabState& state) {
  for (const auto& node : state.nodeNames()) PODNET_TRY_STATUS(startAgent(state, node));
  for (const auto& node : state.nodeNames()) PODNET_TRY_STATUS(awaitAgent(state, node));
  return okStatus();
}

Status Lab::startAgent(LabState& state, const std::string& node) {
  const std::string podnetd = PODNET_TRY(binary("podnetd"));
  std::error_code ec;
  fs::create_directories(layout_.agentStateDir(node), ec);
  fs::create_directories(fs::path(layout_.agentSocket(node)).parent_path(), ec);
  std::vector<std::string> args = {podnetd,
                                   "--store",
                                   "etcd",
                                   "--etcd-endpoints",
                                   Layout::etcdEndpoint(),
                                   "--node-name",
                                   node,
                                   "--uplink",
                                   kNodeUplink,
                                   "--backend",
                                   std::string(backendName(state.backend)),
                                   "--state-dir",
                                   layout_.agentStateDir(node),
                                   "--socket",
                                   layout_.agentSocket(node),
                                   "--lease-ttl",
                                   "10",
                                   "--bpf-pin-dir",
                                   layout_.agentPinDir(node)};
  if (state.fastPath) args.push_back("--fast-path");
  auto process = start("podnetd " + node, args, layout_.nodeNetns(node), node);
  if (!process) return process.error().context("node " + node);
  state.processes.push_back(*process);
  return saveState(layout_, state);
}

Status Lab::awaitAgent(const LabState& state, const std::string& node) {
  const ProcessRecord* process = state.process("podnetd " + node);
  if (process == nullptr) return makeError(Errc::kNotFound, "node " + node + ": no podnetd");
  auto deadline = Clock::now() + kAgentStartTimeout;
  for (;;) {
    if (!isAlive(*process)) {
      return makeError(Errc::kUnavailable, "node " + node + ": podnetd exited at start; its log " +
                                               layout_.logFile(node) + ":" +
                                               lastLines(layout_.logFile(node), 15));
    }
    if (agentAnswers(layout_.agentSocket(node))) return okStatus();
    if (Clock::now() > deadline) {
      return makeError(Errc::kUnavailable,
                       "node " + node + ": podnetd did not answer on " + layout_.agentSocket(node) +
                           " within 60 s; its log:" + lastLines(layout_.logFile(node), 15));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// "etcd", "controller" or a node name (its podnetd) -> the role its process is recorded under.
Result<std::string> Lab::componentRole(const LabState& state, const std::string& component) {
  if (component == "etcd" || component == "controller") return component;
  if (state.hasNode(component)) return "podnetd " + component;
  return makeError(Errc::kNotFound, "no component \"" + component +
                                        "\": name etcd, controller or a node (n1..n" +
                                        std::to_string(state.nodes) + ")");
}

Status Lab::stopComponent(const std::string& component, bool kill) {
  auto lock = PODNET_TRY(StateLock::acquire(layout_));
  auto state = PODNET_TRY(requireState());
  const std::string role = PODNET_TRY(componentRole(state, component));
  const ProcessRecord* process = state.process(role);
  if (process == nullptr || !isAlive(*process)) {
    return makeError(Errc::kNotFound, role + " is not running");
  }
  if (kill) ::kill(process->pid, SIGKILL);  // a crash: nothing gets to clean up
  terminate({*process}, std::chrono::seconds(10));
  std::erase_if(state.processes, [&](const ProcessRecord& p) { return p.role == role; });
  return saveState(layout_, state);
}

Status Lab::startComponent(const std::string& component, std::ostream& out) {
  auto lock = PODNET_TRY(StateLock::acquire(layout_));
  auto state = PODNET_TRY(requireState());
  const std::string role = PODNET_TRY(componentRole(state, component));
  if (const ProcessRecord* process = state.process(role); process && isAlive(*process)) {
    return makeError(Errc::kAlreadyExists,
                     role + " is already running (pid " + std::to_string(process->pid) + ")");
  }
  std::erase_if(state.processes, [&](const ProcessRecord& p) { return p.role == role; });
  if (role == "etcd") return startEtcd(state);
  if (role == "controller") return startController(state, out);
  PODNET_TRY_STATUS(startAgent(state, component));
  return awaitAgent(state, component);
}

Status Lab::startController(LabState& state, std::ostream& out) {
  auto controller = binary("podnet-controller");
  if (!controller) {
    out << "warning: " << controller.error().message << "; the lab runs without a controller\n";
    return okStatus();
  }
  auto process = start("controller", {*controller, "--etcd-endpoints", Layout::etcdEndpoint()},
                       layout_.infraNetns(), "controller");
  if (!process) return process.error();
  state.processes.push_back(*process);
  PODNET_TRY_STATUS(saveState(layout_, state));
  // The controller has no socket to ask; give it a moment to fail on a bad start.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (!isAlive(*process)) {
    return makeError(Errc::kUnavailable, "podnet-controller exited at start; its log:" +
                                             lastLines(layout_.logFile("controller"), 15));
  }
  return okStatus();
}

Status Lab::startNodeServers(LabState& state) {
  for (const auto& node : state.nodeNames()) {
    auto process = startServer(node, layout_.nodeNetns(node), "server-" + node);
    if (!process) return process.error().context("node " + node);
    state.processes.push_back(*process);
    PODNET_TRY_STATUS(saveState(layout_, state));
  }
  return okStatus();
}

Status Lab::up(const UpOptions& options, std::ostream& out) {
  if (options.nodes < 1 || options.nodes > kMaxNodes) {
    return makeError(Errc::kInvalidArgument, "--nodes " + std::to_string(options.nodes) +
                                                 ": use 1 to " + std::to_string(kMaxNodes));
  }
  bool refused = false;
  Status result = [&]() -> Status {
    auto lock = PODNET_TRY(StateLock::acquire(layout_));
    if (anythingExists()) {
      refused = true;
      return makeError(Errc::kAlreadyExists, "lab " + layout_.name() +
                                                 " already exists: see `podnetctl lab status`, "
                                                 "or remove it with `podnetctl lab down`");
    }
    std::error_code stale;
    fs::remove_all(layout_.bpfDir(), stale);  // pins a failed `down` left behind
    for (const auto& dir : {layout_.libDir(), layout_.logDir()}) {
      std::error_code ec;
      fs::create_directories(dir, ec);
      if (ec) return makeError(Errc::kIo, "lab directory " + dir + ": " + ec.message());
    }
    LabState state;
    state.backend = options.backend;
    state.fastPath = options.fastPath;
    PODNET_TRY_STATUS(createNetwork(state, options.nodes));
    out << "underlay " << Layout::underlay().str() << " on bridge " << kBridge << " (netns "
        << layout_.infraNetns() << ")\n";
    PODNET_TRY_STATUS(startEtcd(state));
    out << "etcd      ready at " << Layout::etcdEndpoint() << "\n";
    PODNET_TRY_STATUS(startAgents(state));
    for (const auto& node : state.nodeNames()) {
      out << "node " << node << "   " << Layout::nodeAddress(*nodeIndex(state, node)).addr.str()
          << "  podnetd ready (netns " << layout_.nodeNetns(node) << ")\n";
    }
    PODNET_TRY_STATUS(startController(state, out));
    PODNET_TRY_STATUS(startNodeServers(state));
    return okStatus();
  }();
  if (!result && refused) return result;
  if (!result) {
    out << "lab up failed; removing what it made\n";
    std::ostringstream ignored;
    (void)down(ignored);
    return result;
  }
  out << "lab " << layout_.name() << " is up: " << options.nodes << " node(s), backend "
      << backendName(options.backend) << ". Next: podnetctl lab status\n";
  return okStatus();
}

Status Lab::down(std::ostream& out) {
  std::error_code ec;
  std::optional<StateLock> lock;
  if (fs::exists(layout_.runDir(), ec)) {
    auto held = StateLock::acquire(layout_);
    if (held) lock.emplace(std::move(*held));
  }
  std::vector<ProcessRecord> processes;
  if (auto state = loadState(layout_); state && *state) processes = (*state)->allProcesses();

  std::vector<std::string> namespaces;
  std::set<ino_t> inodes;
  for (const auto& netns : listNetns()) {
    if (!layout_.ownsNetns(netns)) continue;
    namespaces.push_back(netns);
    if (auto inode = netnsInode(netns)) inodes.insert(*inode);
  }
  // Processes first: one that is still running keeps its namespace alive after its name is gone.
  for (const auto& p : processesIn(inodes, layout_.name())) processes.push_back(p);
  std::set<pid_t> running;
  for (const auto& p : processes) {
    if (isAlive(p)) running.insert(p.pid);
  }
  terminate(processes, kStopGrace);

  std::vector<std::string> failures;
  // The infra namespace (with the bridge) last.
  std::stable_partition(namespaces.begin(), namespaces.end(),
                        [&](const std::string& n) { return n != layout_.infraNetns(); });
  for (const auto& netns : namespaces) {
    if (auto st = deleteNetns(netns); !st) failures.push_back(st.error().message);
  }
  size_t files = 0;
  for (const auto& dir : {layout_.libDir(), layout_.logDir(), layout_.bpfDir(), layout_.runDir()}) {
    if (!fs::exists(dir, ec)) continue;
    ++files;
    fs::remove_all(dir, ec);
    if (ec) failures.push_back(dir + ": " + ec.message());
  }
  if (!failures.empty()) {
    std::string all;
    for (const auto& f : failures) all += "\n  " + f;
    return makeError(Errc::kIo, "lab " + layout_.name() + ": could not remove everything:" + all);
  }
  if (namespaces.empty() && running.empty() && files == 0) {
    out << "lab " << layout_.name() << ": nothing to remove\n";
  } else {
    out << "lab " << layout_.name() << " removed: " << namespaces.size()
        << " network namespace(s), " << running.size() << " process(es), " << files
        << " directory(ies)\n";
  }
  return okStatus();
}

Status Lab::status(std::ostream& out) {
  LabState state = PODNET_TRY(requireState());
  out << "lab " << layout_.name() << ": " << state.nodes << " node(s), backend "
      << backendName(state.backend) << ", underlay " << Layout::underlay().str() << " on "
      << kBridge << " (netns " << layout_.infraNetns() << ")\n\n";
  auto processState = [](const ProcessRecord* p) -> std::string {
    if (p == nullptr) return "not started";
    return (isAlive(*p) ? "pid " + std::to_string(p->pid)
                        : "dead (was pid " + std::to_string(p->pid) + ")");
  };
  out << std::left;
  out << std::setw(12) << "PROCESS" << std::setw(22) << "ADDRESS" << std::setw(24) << "PID"
      << "HEALTH\n";
  const ProcessRecord* etcd = state.process("etcd");
  out << std::setw(12) << "etcd" << std::setw(22) << Layout::etcdEndpoint() << std::setw(24)
      << processState(etcd) << (etcdHealthy(layout_) ? "healthy" : "unhealthy") << "\n";
  const ProcessRecord* controller = state.process("controller");
  out << std::setw(12) << "controller" << std::setw(22) << "-" << std::setw(24)
      << processState(controller)
      << (controller == nullptr  ? "not installed"
          : isAlive(*controller) ? "running"
                                 : "down")
      << "\n\n";

  std::map<std::string, std::set<std::string>> known;  // node -> "ns/name" its agent reports
  out << std::setw(8) << "NODE" << std::setw(16) << "UNDERLAY" << std::setw(24) << "PODNETD"
      << std::setw(10) << "HEALTH"
      << "SERVER\n";
  for (const auto& node : state.nodeNames()) {
    const ProcessRecord* agent = state.process("podnetd " + node);
    auto reply = rpc::call(layout_.agentSocket(node), {{"op", "pods"}}, std::chrono::seconds(2));
    bool ready = reply && reply->value("ok", false);
    if (ready) {
      for (const auto& p : (*reply).value("pods", json::array())) {
        known[node].insert(p.value("podNamespace", "") + "/" + p.value("podName", ""));
      }
    }
    const ProcessRecord* server = state.process("server " + node);
    out << std::setw(8) << node << std::setw(16)
        << Layout::nodeAddress(*nodeIndex(state, node)).addr.str() << std::setw(24)
        << processState(agent) << std::setw(10) << (ready ? "ready" : "unreachable")
        << (server != nullptr && isAlive(*server) ? "running" : "down") << "\n";
  }
  if (!state.namespaces.empty()) {
    out << "\n"
        << std::setw(24) << "NAMESPACE"
        << "LABELS\n";
    for (const auto& [name, labels] : state.namespaces) {
      std::string text;
      for (const auto& [k, v] : labels) text += (text.empty() ? "" : ",") + k + "=" + v;
      out << std::setw(24) << name << text << "\n";
    }
  }
  if (!state.pods.empty()) {
    out << "\n"
        << std::setw(28) << "POD" << std::setw(8) << "NODE" << std::setw(16) << "IP"
        << std::setw(10) << "AGENT" << std::setw(10) << "SERVER"
        << "LABELS\n";
    for (const auto& [key, pod] : state.pods) {
      std::string text;
      for (const auto& [k, v] : pod.labels) text += (text.empty() ? "" : ",") + k + "=" + v;
      out << std::setw(28) << key << std::setw(8) << pod.node << std::setw(16)
          << (pod.ip.empty() ? "-" : pod.ip) << std::setw(10)
          << (known[pod.node].contains(key) ? "wired" : "unknown") << std::setw(10)
          << (pod.server && isAlive(*pod.server) ? "running" : "down") << text << "\n";
    }
  }
  return okStatus();
}

Status Lab::applyObjects(const LabState& state, const json& objects, const std::string& op) {
  std::string unreachable;
  for (const auto& node : state.nodeNames()) {
    auto reply = rpc::call(layout_.agentSocket(node), {{"op", op}, {"objects", objects}},
                           std::chrono::seconds(10));
    if (!reply) {
      unreachable += "\n  " + reply.error().message;
      continue;
    }
    if (!reply->value("ok", false)) {
      return makeError(Errc::kInvalidArgument,
                       "podnetd on " + node + ": " + op + ": " +
                           (*reply).value("error", json::object()).value("msg", "refused"));
    }
    return okStatus();
  }
  return makeError(Errc::kUnavailable, op + ": no podnetd of lab " + layout_.name() +
                                           " answers (see `podnetctl lab "
                                           "status`):" +
                                           unreachable);
}

Status Lab::addNamespace(const std::string& name, const model::Labels& labels) {
  PODNET_TRY_STATUS(validateName("namespace", name));
  auto lock = PODNET_TRY(StateLock::acquire(layout_));
  LabState state = PODNET_TRY(requireState());
  auto object = namespaceObject(name, labels);
  if (auto st = applyObjects(state, json::array({model::toJson(object)})); !st) {
    return st.error().context("namespace " + name);
  }
  state.namespaces[name] = object.metadata.labels;
  return saveState(layout_, state);
}

Status Lab::addPod(const PodRef& ref, const std::string& node, const model::Labels& labels) {
  const std::string key = ref.str();
  const std::string what = "pod " + key;
  auto lock = PODNET_TRY(StateLock::acquire(layout_));
  LabState state = PODNET_TRY(requireState());
  if (!state.hasNode(node)) {
    return makeError(Errc::kNotFound, what + ": node " + node + " is not in lab " + layout_.name() +
                                          " (nodes n1..n" + std::to_string(state.nodes) + ")");
  }
  if (!state.namespaces.contains(ref.namespace_)) {
    return makeError(Errc::kNotFound, what + ": namespace " + ref.namespace_ +
                                          " does not exist (create it with `podnetctl lab ns "
                                          "add " +
                                          ref.namespace_ + "`)");
  }
  if (state.pods.contains(key)) {
    return makeError(Errc::kAlreadyExists,
                     what + ": already exists (on node " + state.pods[key].node + ")");
  }
  PodRecord pod;
  pod.namespace_ = ref.namespace_;
  pod.name = ref.name;
  pod.node = node;
  pod.uid = randomUid();
  pod.containerId = containerIdFor(pod.namespace_, pod.name, pod.uid);
  pod.netns = layout_.podNetns(pod.namespace_, pod.name);
  pod.labels = labels;
  pod.ports = serverPorts(serverProtocols());
  const json object = json::array({model::toJson(podObject(pod))});
  if (auto st = applyObjects(state, object); !st) return st.error().context(what);
  if (auto st = addNetns(pod.netns); !st) {
    (void)applyObjects(state, object, "delete");
    if (st.error().code == Errc::kAlreadyExists) {
      return makeError(Errc::kAlreadyExists,
                       what + ": network namespace " + pod.netns +
                           " is taken (by a pod whose namespace and name join to the same "
                           "name); pick another name");
    }
    return st.error().context(what);
  }
  // Recorded before ADD, so that `pod del` and `down` can undo a crash in the middle.
  state.pods[key] = pod;
  PODNET_TRY_STATUS(saveState(layout_, state));

  auto undo = [&](Error error) -> Status {
    auto plugin = binary("podnet-cni");
    if (plugin) {
      runtime::CniRuntime cni({{fs::path(*plugin).parent_path().string()},
                               layout_.cniCacheDir(),
                               Layout::netnsPath(layout_.nodeNetns(node))});
      (void)cni.del(cniConfig(layout_, node), runtimeConf(pod));
    }
    if (state.pods[key].server) terminate({*state.pods[key].server}, kStopGrace);
    (void)deleteNetns(pod.netns);
    (void)applyObjects(state, object, "delete");
    state.pods.erase(key);
    (void)saveState(layout_, state);
    return error;
  };
  auto plugin = binary("podnet-cni");
  if (!plugin) return undo(plugin.error().context(what));
  runtime::CniRuntime cni({{fs::path(*plugin).parent_path().string()},
                           layout_.cniCacheDir(),
                           Layout::netnsPath(layout_.nodeNetns(node))});
  auto result = cni.add(cniConfig(layout_, node), runtimeConf(pod));
  if (!result) return undo(result.error().context(what + ": CNI ADD on node " + node));
  const auto& ips = result->value("ips", json::array());
  if (ips.empty() || !ips[0].contains("address")) {
    return undo(
        makeError(Errc::kDecode, what + ": CNI ADD result has no address: " + result->dump()));
  }
  std::string address = ips[0]["address"].get<std::string>();
  pod.ip = address.substr(0, address.find('/'));
  state.pods[key].ip = pod.ip;
  auto server = startServer(key, pod.netns, "pod-" + pod.namespace_ + "-" + pod.name);
  if (!server) return undo(server.error().context(what));
  state.pods[key].server = *server;
  return saveState(layout_, state);
}

Status Lab::labelPod(const PodRef& ref, const std::vector<std::string>& changes) {
  const std::string key = ref.str();
  auto lock = PODNET_TRY(StateLock::acquire(layout_));
  LabState state = PODNET_TRY(requireState());
  auto it = state.pods.find(key);
  if (it == state.pods.end()) return makeError(Errc::kNotFound, "pod " + key + ": not found");
  model::Labels labels = it->second.labels;
  for (const auto& change : changes) {
    if (change.size() > 1 && change.back() == '-' && change.find('=') == std::string::npos) {
      labels.erase(change.substr(0, change.size() - 1));
      continue;
    }
    auto parsed = parseLabels(change);
    if (!parsed) return parsed.error().context("pod " + key);
    for (const auto& [k, v] : *parsed) labels[k] = v;
  }
  PODNET_TRY_STATUS(model::validateLabels(labels));
  PodRecord updated = it->second;
  updated.labels = labels;
  if (auto st = applyObjects(state, json::array({model::toJson(podObject(updated))})); !st) {
    return st.error().context("pod " + key);
  }
  it->second = updated;
  return saveState(layout_, state);
}

Status Lab::deletePod(const PodRef& ref) {
  const std::string key = ref.str();
  auto lock = PODNET_TRY(StateLock::acquire(layout_));
  LabState state = PODNET_TRY(requireState());
  auto it = state.pods.find(key);
  if (it == state.pods.end()) return makeError(Errc::kNotFound, "pod " + key + ": not found");
  const PodRecord pod = it->second;
  // The runtime's order: stop the containers, CNI DEL while the namespace exists, remove it.
  std::vector<ProcessRecord> processes;
  if (pod.server) processes.push_back(*pod.server);
  if (auto inode = netnsInode(pod.netns)) {
    for (const auto& p : processesIn({*inode}, "")) processes.push_back(p);
  }
  terminate(processes, kStopGrace);
  auto plugin = PODNET_TRY(binary("podnet-cni"));
  runtime::CniRuntime cni({{fs::path(plugin).parent_path().string()},
                           layout_.cniCacheDir(),
                           Layout::netnsPath(layout_.nodeNetns(pod.node))});
  if (auto st = cni.del(cniConfig(layout_, pod.node), runtimeConf(pod)); !st) {
    return st.error().context("pod " + key + ": CNI DEL on node " + pod.node);
  }
  PODNET_TRY_STATUS(deleteNetns(pod.netns));
  if (auto st = applyObjects(state, json::array({model::toJson(podObject(pod))}), "delete"); !st) {
    return st.error().context("pod " + key);
  }
  state.pods.erase(key);
  return saveState(layout_, state);
}

Result<std::string> Lab::netnsOf(const std::string& target) {
  LabState state = PODNET_TRY(requireState());
  if (target.find('/') != std::string::npos) {
    auto it = state.pods.find(target);
    if (it == state.pods.end()) return makeError(Errc::kNotFound, "pod " + target + ": not found");
    return it->second.netns;
  }
  if (state.hasNode(target)) return layout_.nodeNetns(target);
  return makeError(Errc::kNotFound, "\"" + target +
                                        "\": neither a pod (NS/NAME) nor a node (n1..n" +
                                        std::to_string(state.nodes) + ")");
}

Result<Ipv4> Lab::addressOf(const LabState& state, const std::string& target) {
  if (target.find('/') != std::string::npos) {
    auto it = state.pods.find(target);
    if (it == state.pods.end()) return makeError(Errc::kNotFound, "pod " + target + ": not found");
    if (it->second.ip.empty()) {
      return makeError(Errc::kNotFound, "pod " + target + ": has no address");
    }
    return Ipv4::parse(it->second.ip);
  }
  if (auto index = nodeIndex(state, target)) return Layout::nodeAddress(*index).addr;
  auto ip = Ipv4::parse(target);
  if (!ip) {
    return makeError(Errc::kNotFound, "\"" + target + "\": neither a pod (NS/NAME), a node (n1..n" +
                                          std::to_string(state.nodes) + ") nor an IPv4 address");
  }
  return *ip;
}

Error Lab::exec(const std::string& target, const std::vector<std::string>& argv) {
  if (argv.empty()) return makeError(Errc::kInvalidArgument, "exec: no command given");
  auto netns = netnsOf(target);
  if (!netns) return netns.error();
  auto ns = netlink::Netns::open(Layout::netnsPath(*netns));
  if (!ns) return ns.error();
  if (::setns(ns->fd(), CLONE_NEWNET) != 0) {
    return makeError(Errc::kKernel, "netns " + *netns + ": setns: " + std::strerror(errno));
  }
  // As `ip netns exec`: a private mount namespace where /sys is this network namespace's, so tools
  // reading /sys/class/net see its devices. Best effort: commands over netlink work without it.
  if (::unshare(CLONE_NEWNS) == 0 && ::mount("", "/", nullptr, MS_SLAVE | MS_REC, nullptr) == 0 &&
      ::umount2("/sys", MNT_DETACH) == 0) {
    ::mount(netns->c_str(), "/sys", "sysfs", 0, nullptr);
  }
  std::vector<std::string> args = argv;
  std::vector<char*> ptrs;
  for (auto& a : args) ptrs.push_back(a.data());
  ptrs.push_back(nullptr);
  ::execvp(ptrs[0], ptrs.data());
  return makeError(Errc::kNotFound,
                   "exec " + argv[0] + " in " + target + ": " + std::strerror(errno));
}

Result<bool> Lab::probe(const std::string& from, const std::string& to, uint16_t port,
                        Protocol protocol, std::chrono::milliseconds timeout) {
  LabState state = PODNET_TRY(requireState());
  std::string netns = PODNET_TRY(netnsOf(from));
  Ipv4 destination = PODNET_TRY(addressOf(state, to));
  return probeFrom(Layout::netnsPath(netns), {destination, port, protocol, timeout});
}

}  // namespace podnet::lab
