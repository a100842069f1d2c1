// Running a CNI plugin binary the way a container runtime does: a clean environment, the network
// configuration on stdin, the result (or a CNI error) on stdout, bounded by a timeout.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/subprocess.h"

namespace podnet::runtime {

using ExecResult = Completed;

// Runs `binary` (argv = {binary}) with exactly `env` as its environment (plus
// PATH=/usr/sbin:/usr/bin:/sbin:/bin unless `env` sets PATH), `stdinText` on stdin, and collects
// stdout and stderr. A non-zero exit is not an error here: callers read exitCode.
// On timeout the child's process group is killed and reaped: Errc::kUnavailable.
// If hostNetns is non-empty (a netns file such as /run/netns/node1), the child enters that network
// namespace before exec, so the plugin runs "on" a node that is itself a network namespace.
// Thread-safe: it touches no process-wide state besides the fds and the child it creates.
Result<ExecResult> execPlugin(const std::string& binary,
                              const std::map<std::string, std::string>& env,
                              std::string_view stdinText, std::chrono::milliseconds timeout,
                              const std::string& hostNetns = "");

}  // namespace podnet::runtime
