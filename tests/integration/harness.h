// The integration harness: a throwaway node network namespace running a real podnetd, pod
// namespaces, and the real podnet-cni binary invoked exactly as a runtime does (environment plus
// stdin). Everything is removed in destructors, so a failing test leaves nothing behind.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/eventually.h"
#include "support/temp_dir.h"

namespace podnet::testing {

// Runs a shell command; returns its exit status and stdout.
struct Shell {
  int status = -1;
  std::string out;
};
Shell sh(const std::string& command);

// A named network namespace ("ip netns add"), deleted on destruction.
class TestNetns {
 public:
  explicit TestNetns(const std::string& role);
  ~TestNetns();
  TestNetns(const TestNetns&) = delete;
  TestNetns& operator=(const TestNetns&) = delete;
  const std::string& name() const { return name_; }
  std::string path() const { return "/var/run/netns/" + name_; }
  // Runs a command inside this namespace.
  Shell exec(const std::string& command) const;
  bool ping(const std::string& ip) const;

 private:
  std::string name_;
};

// podnetd running inside a node namespace with its own state dir, socket and BPF pin directory
// (removed with the object).
class AgentProcess {
 public:
  AgentProcess(const TestNetns& node, const std::string& dir,
               std::vector<std::string> extraArgs = {});
  ~AgentProcess();
  AgentProcess(const AgentProcess&) = delete;
  AgentProcess& operator=(const AgentProcess&) = delete;

  void start();  // returns once the socket answers
  // The --node-name of the next start() ("test-node" until set).
  void setNodeName(std::string name) { nodeName_ = std::move(name); }
  void stop();   // SIGTERM and wait
  void kill9();  // SIGKILL and wait: a crash
  const std::string& socket() const { return socket_; }
  const std::string& stateDir() const { return stateDir_; }
  // Its BPF pin directory as this process opens it: "ip netns exec" gave the agent its own mount
  // namespace (and /sys), so through /proc/<pid>/root.
  std::string pinDir() const { return "/proc/" + std::to_string(pid_) + "/root" + pinDir_; }

 private:
  const TestNetns& node_;
  std::string socket_;
  std::string stateDir_;
  std::string logPath_;
  std::string pinDir_;
  std::string nodeName_ = "test-node";
  std::vector<std::string> extraArgs_;
  pid_t pid_ = -1;
};

std::string buildPath(const std::string& relative);
std::string pluginBinary();
std::string podnetctlBinary();

// One invocation of the real plugin binary.
struct CniCall {
  int exitCode = -1;
  std::string out;
  nlohmann::json json;  // stdout parsed, or null
};
CniCall runCni(const std::map<std::string, std::string>& env, const std::string& stdinText);

// The usual environment for a command on one attachment.
std::map<std::string, std::string> cniEnv(const std::string& command,
                                          const std::string& containerId,
                                          const std::string& netnsPath,
                                          const std::string& ifname = "eth0",
                                          const std::string& args = "");
std::string netconf(const std::string& socket, const std::string& version = "1.1.0",
                    const nlohmann::json& extra = nlohmann::json::object());

// Host-side podnet veths in a node namespace.
std::vector<std::string> podnetVeths(const TestNetns& node);

}  // namespace podnet::testing
