// The lab's processes: started detached inside a network namespace (their own session, stdio to a
// log, tagged with PODNET_LAB=<lab name> in their environment), recorded with their start time so
// that a recycled pid is never mistaken for one of them, and found again by `lab down` even when
// the record is lost (by their network namespace or by their tag).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace podnet::lab {

struct ProcessRecord {
  std::string role;  // "etcd", "controller", "podnetd n1", "server n1", "server default/web"
  pid_t pid = -1;
  uint64_t startTime = 0;  // /proc/<pid>/stat field 22, in clock ticks since boot
};

struct SpawnSpec {
  std::string role;
  std::vector<std::string> argv;  // argv[0]: an absolute path
  std::string netnsPath;          // the network namespace to run in
  std::string logFile;            // stdout and stderr, appended
  std::string labName;            // the value of the PODNET_LAB tag
};

// Starts spec's program in its own session inside spec.netnsPath. Fails (naming the role) when the
// namespace cannot be entered or the program cannot be executed. The process stays our child
// until we exit, then init reaps it.
Result<ProcessRecord> spawnDetached(const SpawnSpec& spec);

// A process's start time; nullopt when there is no such process.
std::optional<uint64_t> startTimeOf(pid_t pid);
// The recorded process still runs (same pid and start time, not a zombie).
bool isAlive(const ProcessRecord& process);

// Every process (but the caller) that is in one of the network namespaces with these inode
// numbers or carries PODNET_LAB=<labName>.
std::vector<pid_t> findLabProcesses(const std::set<ino_t>& netnsInodes, const std::string& labName);

// SIGTERM, up to `grace` for them to exit, then SIGKILL; returns once none of them runs. pids
// whose start time differs from the one recorded with them are left alone.
void terminate(const std::vector<ProcessRecord>& processes, std::chrono::milliseconds grace);

// An executable: in dir first (podnet's programs sit side by side in <build>/bin or the install
// directory), then on PATH. kNotFound names both places.
Result<std::string> findBinary(const std::string& name, const std::string& dir);
// The directory of the running program.
std::string selfDirectory();

// Runs argv[0] (looked up on PATH) to completion; the exit status, or kNotFound when it could not
// be executed. stdout and stderr are collected into `output` when given, else discarded.
Result<int> runCommand(const std::vector<std::string>& argv, std::string* output = nullptr);

}  // namespace podnet::lab
