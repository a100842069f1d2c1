#include "agent/options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <iostream>

namespace podnet::agent {

ParsedArgs parseAgentArgs(int argc, char** argv) {
  ParsedArgs parsed;
  AgentOptions& o = parsed.options;
  std::string cidr = "10.244.0.0/16";
  std::string gateway;
  std::vector<std::string> excludes;
  // Closed sets are read as text and parsed below, so a bad value names its flag and the choices.
  std::string store(enumName(kStoreNames, o.store));
  std::string backend(backendName(o.backend));
  std::string enforcement(enumName(kEnforcementNames, o.policyEnforcement));

  CLI::App app{
      "podnetd: the podnet node agent. Serves CNI requests from podnet-cni, allocates pod "
      "addresses and wires pods into the node's network."};
  app.add_option("--state-dir", o.stateDir, "Directory for the embedded store")
      ->capture_default_str();
  app.add_option("--socket", o.socketPath, "Unix socket podnet-cni talks to (mode 0600)")
      ->capture_default_str();
  app.add_option("--node-name", o.nodeName, "This node's name (default: the host name)");
  app.add_option("--pod-cidr", cidr, "Pod address pool")->capture_default_str();
  app.add_option("--gateway", gateway, "Pool gateway (default: first address of the pool)");
  app.add_option("--exclude", excludes,
                 "Addresses never handed out: IP, FIRST..LAST or CIDR (repeatable)");
  app.add_option("--mtu", o.mtu,
                 "Pod interface MTU (default: derived from the uplink, or 1500 on one node)")
      ->check(CLI::Range(68, 65535));
  app.add_option("--bridge", o.bridge, "Node device that holds the pool gateway")
      ->capture_default_str();
  app.add_option("--store", store, "sqlite (embedded, one node) or etcd (several nodes)")
      ->capture_default_str();
  app.add_option("--etcd-endpoints", o.etcdEndpoints, "etcd client endpoints, host:port")
      ->delimiter(',');
  app.add_option("--uplink", o.uplink,
                 "Underlay device towards the other nodes (etcd only; default: the device of "
                 "the default route)");
  app.add_option("--backend", backend,
                 "How pods on other nodes are reached: " + enumChoices(kBackendNames))
      ->capture_default_str();
  int leaseSeconds = static_cast<int>(o.leaseTtl.count());
  app.add_option("--lease-ttl", leaseSeconds,
                 "Seconds without the agent before this node counts as gone (etcd only)")
      ->check(CLI::Range(2, 3600))
      ->capture_default_str();
  app.add_option("--policy-enforcement", enforcement,
                 "default: a pod is isolated in a direction once a policy selects it for it; "
                 "always: every pod is isolated; never: nothing is dropped for policy")
      ->capture_default_str();
  app.add_option("--bpf-pin-dir", o.bpfPinDir,
                 "Where the policy program's maps are pinned (on the BPF filesystem)")
      ->capture_default_str();
  app.add_flag("--fast-path", o.fastPath,
               "Forward pod traffic from the tc programs straight to the next device, skipping "
               "the node's IP stack and netfilter (not with kube-proxy's iptables mode)");
  app.add_option("--log-level", o.logLevel, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    parsed.exitNow = app.exit(e);
    return parsed;
  }

  auto fail = [&](const std::string& msg) {
    std::cerr << "podnetd: " << msg << "\n";
    parsed.exitNow = 2;
    return parsed;
  };
  auto storeKind = parseEnum(kStoreNames, store, "--store");
  if (!storeKind) return fail(storeKind.error().message);
  o.store = *storeKind;
  auto backendKind = parseEnum(kBackendNames, backend, "--backend");
  if (!backendKind) return fail(backendKind.error().message);
  o.backend = *backendKind;
  auto mode = parseEnum(kEnforcementNames, enforcement, "--policy-enforcement");
  if (!mode) return fail(mode.error().message);
  o.policyEnforcement = *mode;
  o.leaseTtl = std::chrono::seconds(leaseSeconds);
  if (o.store == StoreKind::kEtcd && o.etcdEndpoints.empty()) {
    return fail("--store etcd needs --etcd-endpoints (host:port,...)");
  }
  if (o.store == StoreKind::kSqlite && !o.etcdEndpoints.empty()) {
    return fail("--etcd-endpoints is only used with --store etcd");
  }
  auto prefix = Ipv4Prefix::parse(cidr);
  if (!prefix) return fail("--pod-cidr: " + prefix.error().message);
  o.pool.cidr = *prefix;
  if (!gateway.empty()) {
    auto gw = Ipv4::parse(gateway);
    if (!gw) return fail("--gateway: " + gw.error().message);
    o.pool.gateway = *gw;
  }
  for (const auto& text : excludes) {
    auto range = ipam::IpRange::parse(text);
    if (!range) return fail("--exclude: " + range.error().message);
    o.pool.exclude.push_back(*range);
  }
  if (o.nodeName.empty()) {
    char host[256] = {};
    gethostname(host, sizeof(host) - 1);
    o.nodeName = host;
  }
  return parsed;
}

}  // namespace podnet::agent
