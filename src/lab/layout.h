// Where a lab lives: the names of its network namespaces, its directories and its address plan,
// all derived from the lab's name. The default name is "podnet-lab"; another name gives a second
// lab that shares nothing with the first (the tests use one of their own, so running them never
// touches a developer's lab).
//
//   <name>                 infra netns: bridge lab0 172.30.0.1/24, etcd, podnet-controller
//   <name>-n<i>            node i: eth0 172.30.0.(10+i)/24, podnetd, a lab server
//   <name>-<ns>-<pod>      a pod: eth0 from podnet-cni, a lab server
//   /run/<name>            lab.json (state), lab.lock, <node>/podnetd.sock
//   /var/lib/<name>        etcd data, agents' state dirs, the CNI result cache
//   /var/log/<name>        one log per process
//
// Nothing is created in the root network namespace, so nothing the lab does can route or NAT
// traffic off the machine.
#pragma once

#include <string>

#include "common/ip.h"
#include "common/result.h"

namespace podnet::lab {

inline constexpr const char* kDefaultLabName = "podnet-lab";
// The environment variable every process the lab starts carries (value: the lab's name), so
// `lab down` finds them even when their namespace is already gone.
inline constexpr const char* kProcessTag = "PODNET_LAB";
inline constexpr int kMaxNodes = 200;  // 172.30.0.11 .. 172.30.0.210
inline constexpr uint16_t kEtcdClientPort = 2379;
inline constexpr uint16_t kEtcdPeerPort = 2380;
inline constexpr const char* kBridge = "lab0";
inline constexpr const char* kNodeUplink = "eth0";
inline constexpr int kUnderlayMtu = 1500;

class Layout {
 public:
  // name: lowercase letters, digits and '-', at most 24 characters, starting with a letter.
  static Result<Layout> make(const std::string& name);

  const std::string& name() const { return name_; }

  // Network namespaces (names under /run/netns) and their files.
  std::string infraNetns() const { return name_; }
  static std::string nodeName(int index) { return "n" + std::to_string(index); }
  std::string nodeNetns(const std::string& node) const { return name_ + "-" + node; }
  std::string podNetns(const std::string& ns, const std::string& pod) const {
    return name_ + "-" + ns + "-" + pod;
  }
  static std::string netnsPath(const std::string& netns) { return "/run/netns/" + netns; }
  // Whether a namespace called netns belongs to this lab: "<name>" or "<name>-...".
  bool ownsNetns(const std::string& netns) const;

  // Addresses.
  static Ipv4Prefix underlay() { return {Ipv4{0xac1e0000}, 24}; }       // 172.30.0.0/24
  static Ipv4Prefix bridgeAddress() { return {Ipv4{0xac1e0001}, 24}; }  // 172.30.0.1/24
  static Ipv4Prefix nodeAddress(int index) { return {Ipv4{0xac1e000aU + index}, 24}; }
  static std::string etcdEndpoint() {
    return bridgeAddress().addr.str() + ":" + std::to_string(kEtcdClientPort);
  }

  // Files and directories.
  std::string runDir() const { return "/run/" + name_; }
  std::string libDir() const { return "/var/lib/" + name_; }
  std::string logDir() const { return "/var/log/" + name_; }
  std::string stateFile() const { return runDir() + "/lab.json"; }
  // Created by a lab server once it listens (named like its log); removed once seen.
  std::string serverReadyFile(const std::string& process) const {
    return runDir() + "/" + process + ".ready";
  }
  std::string lockFile() const { return runDir() + "/lab.lock"; }
  std::string agentSocket(const std::string& node) const {
    return runDir() + "/" + node + "/podnetd.sock";
  }
  std::string agentStateDir(const std::string& node) const { return libDir() + "/" + node; }
  // Each agent pins its own policy maps: they describe one node.
  std::string bpfDir() const { return "/sys/fs/bpf/" + name_; }
  std::string agentPinDir(const std::string& node) const { return bpfDir() + "/" + node; }
  std::string etcdDataDir() const { return libDir() + "/etcd"; }
  std::string cniCacheDir() const { return libDir() + "/cni"; }
  std::string logFile(const std::string& process) const {
    return logDir() + "/" + process + ".log";
  }

 private:
  explicit Layout(std::string name) : name_(std::move(name)) {}
  std::string name_;
};

}  // namespace podnet::lab
