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
  app.add_option("--mtu", o.mtu, "Pod interface MTU")
      ->check(CLI::Range(68, 65535))
      ->capture_default_str();
  app.add_option("--bridge", o.bridge, "Node device that holds the pool gateway")
      ->capture_default_str();
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
