// podnetd's configuration: working defaults with no flags; every path can be moved so several
// agents can share one machine (the lab runs one per node namespace).
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "ipam/pool.h"

namespace podnet::agent {

struct AgentOptions {
  std::string stateDir = "/var/lib/podnet";
  std::string socketPath = "/run/podnet/podnetd.sock";
  std::string nodeName;  // defaults to the host name
  std::string bridge = "podnet0";
  int mtu = 1500;
  std::string logLevel = "info";
  ipam::PoolConfig pool;  // default 10.244.0.0/16
};

// Parses podnetd's command line. Returns the exit code to use when it should not run (--help,
// a bad flag); the message has already been printed then.
struct ParsedArgs {
  AgentOptions options;
  std::optional<int> exitNow;
};
ParsedArgs parseAgentArgs(int argc, char** argv);

}  // namespace podnet::agent
