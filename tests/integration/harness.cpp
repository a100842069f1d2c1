#include "harness.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "runtime/exec.h"

namespace podnet::testing {
namespace {

std::atomic<int> counter{0};

bool socketAnswers(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

Shell sh(const std::string& command) {
  Shell result;
  FILE* pipe = ::popen((command + " 2>/dev/null").c_str(), "r");
  if (!pipe) return result;
  std::array<char, 4096> buf{};
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) result.out.append(buf.data(), n);
  int status = ::pclose(pipe);
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TestNetns::TestNetns(const std::string& role)
    : name_("pnt-" + std::to_string(::getpid()) + "-" + role + "-" + std::to_string(counter++)) {
  if (sh("ip netns add " + name_).status != 0) {
    throw std::runtime_error("ip netns add " + name_ + " failed");
  }
  exec("ip link set lo up");
}

TestNetns::~TestNetns() {
  sh("ip netns del " + name_);
}

Shell TestNetns::exec(const std::string& command) const {
  return sh("ip netns exec " + name_ + " " + command);
}

bool TestNetns::ping(const std::string& ip) const {
  return exec("ping -c1 -W2 " + ip).status == 0;
}

std::string buildPath(const std::string& relative) {
  return std::string(PODNET_BUILD_DIR) + "/" + relative;
}
std::string pluginBinary() {
  return buildPath("bin/podnet-cni");
}
std::string podnetctlBinary() {
  return buildPath("bin/podnetctl");
}

AgentProcess::AgentProcess(const TestNetns& node, const std::string& dir,
                           std::vector<std::string> extraArgs)
    : node_(node),
      socket_(dir + "/podnetd.sock"),
      stateDir_(dir + "/state"),
      logPath_(dir + "/podnetd.log"),
      pinDir_("/sys/fs/bpf/" + node.name()),
      extraArgs_(std::move(extraArgs)) {
  start();
}

AgentProcess::~AgentProcess() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(pinDir_, ec);
}

void AgentProcess::start() {
  std::vector<std::string> args = {
      "ip",          "netns",         "exec",     node_.name(), buildPath("bin/podnetd"),
      "--state-dir", stateDir_,       "--socket", socket_,      "--node-name",
      nodeName_,     "--bpf-pin-dir", pinDir_};
  args.insert(args.end(), extraArgs_.begin(), extraArgs_.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    FILE* log = ::fopen(logPath_.c_str(), "a");
    if (log) {
      ::dup2(fileno(log), 1);
      ::dup2(fileno(log), 2);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  for (int i = 0; i < 500; ++i) {
    if (socketAnswers(socket_)) return;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      throw std::runtime_error("podnetd exited at start; log: " + sh("cat " + logPath_).out);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  throw std::runtime_error("podnetd did not open " + socket_);
}

void AgentProcess::stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGTERM);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

void AgentProcess::kill9() {
  if (pid_ <= 0) return;
  // "ip netns exec" execs podnetd in place, so the pid is podnetd itself.
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

CniCall runCni(const std::map<std::string, std::string>& env, const std::string& stdinText) {
  CniCall call;
  auto r = runtime::execPlugin(pluginBinary(), env, stdinText, std::chrono::seconds(60));
  if (!r) throw std::runtime_error("exec podnet-cni: " + r.error().message);
  call.exitCode = r->exitCode;
  call.out = r->out;
  call.json = nlohmann::json::parse(r->out, nullptr, false);
  if (call.json.is_discarded()) call.json = nullptr;
  return call;
}

std::map<std::string, std::string> cniEnv(const std::string& command,
                                          const std::string& containerId,
                                          const std::string& netnsPath, const std::string& ifname,
                                          const std::string& args) {
  std::map<std::string, std::string> env = {{"CNI_COMMAND", command}, {"CNI_PATH", "/usr/lib/cni"}};
  if (!containerId.empty()) env["CNI_CONTAINERID"] = containerId;
  if (!netnsPath.empty()) env["CNI_NETNS"] = netnsPath;
  if (!ifname.empty()) env["CNI_IFNAME"] = ifname;
  if (!args.empty()) env["CNI_ARGS"] = args;
  return env;
}

std::string netconf(const std::string& socket, const std::string& version,
                    const nlohmann::json& extra) {
  nlohmann::json conf = {
      {"cniVersion", version}, {"name", "podnet"}, {"type", "podnet-cni"}, {"socket", socket}};
  conf.update(extra);
  return conf.dump();
}

std::vector<std::string> podnetVeths(const TestNetns& node) {
  std::vector<std::string> out;
  // A listing that failed fails the test: an empty list must mean no veth, not no answer.
  auto shown = node.exec("ip -j link show type veth");
  auto links = nlohmann::json::parse(shown.out, nullptr, false);
  if (shown.status != 0 || !links.is_array()) {
    ADD_FAILURE() << "ip -j link show type veth: status " << shown.status << ": " << shown.out;
    return out;
  }
  for (const auto& l : links) {
    std::string name = l.value("ifname", "");
    if (name.rfind("pn", 0) == 0) out.push_back(name);
  }
  return out;
}

}  // namespace podnet::testing
