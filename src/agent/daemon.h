#pragma once

#include "agent/options.h"

namespace podnet::agent {

// Runs podnetd until SIGTERM or SIGINT; returns the process exit code.
int runDaemon(const AgentOptions&);

}  // namespace podnet::agent
