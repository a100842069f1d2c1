// podnetd's configuration: working defaults with no flags; every path can be moved so several
// agents can share one machine (the lab runs one per node namespace).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "common/backend.h"
#include "common/result.h"
#include "ipam/pool.h"
#include "pod_policy.h"

namespace podnet::agent {

// Where cluster state lives.
enum class StoreKind { kSqlite, kEtcd };
inline constexpr EnumNames<StoreKind, 2> kStoreNames{
    {{StoreKind::kSqlite, "sqlite"}, {StoreKind::kEtcd, "etcd"}}};

// --policy-enforcement, named as Cilium names it (see docs/policy.md).
inline constexpr EnumNames<pn_enforcement_mode, 3> kEnforcementNames{
    {{PN_ENFORCE_DEFAULT, "default"}, {PN_ENFORCE_ALWAYS, "always"}, {PN_ENFORCE_NEVER, "never"}}};

struct AgentOptions {
  std::string stateDir = "/var/lib/podnet";
  std::string socketPath = "/run/podnet/podnetd.sock";
  std::string nodeName;  // defaults to the host name
  std::string bridge = "podnet0";
  int mtu = 0;  // 0: the overlay's (uplink MTU - 50 for vxlan), or 1500 on a single node
  std::string logLevel = "info";
  // The default subnet, created in the store from these flags when the store has none; it serves
  // every namespace that no Subnet binds. Default 10.244.0.0/16.
  ipam::PoolConfig pool;

  // Where cluster state lives: sqlite (embedded, one node) or etcd (several nodes).
  StoreKind store = StoreKind::kSqlite;
  std::vector<std::string> etcdEndpoints;
  // Several nodes (etcd only): the underlay device, how pods on other nodes are reached, and
  // the lease that keeps this node registered while the agent runs.
  std::string uplink;
  Backend backend = Backend::kVxlan;
  std::chrono::seconds leaseTtl{10};
  // Network policy: the enforcement mode (default, always, never; see docs/policy.md) and where
  // the policy program's maps are pinned (one directory per agent on a machine).
  pn_enforcement_mode policyEnforcement = PN_ENFORCE_DEFAULT;
  std::string bpfPinDir = "/sys/fs/bpf/podnet";
  // Pod traffic that podnet forwards skips the node's IP stack (and so netfilter): off by
  // default, since kube-proxy's iptables NAT would be bypassed.
  bool fastPath = false;
};

// Parses podnetd's command line. Returns the exit code to use when it should not run (--help,
// a bad flag); the message has already been printed then.
struct ParsedArgs {
  AgentOptions options;
  std::optional<int> exitNow;
};
ParsedArgs parseAgentArgs(int argc, char** argv);

}  // namespace podnet::agent
