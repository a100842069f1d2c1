// The BPF filesystem: where podnet pins its maps so that they outlive the agent.
#pragma once

#include <string>

#include "common/result.h"

namespace podnet::bpf {

// The default pin directory of the pod device program's maps.
inline constexpr const char* kDefaultPinDir = "/sys/fs/bpf/podnet";

// True when path is on a mounted BPF filesystem.
bool isBpffs(const std::string& path);

// Makes dir (and its parents) and, unless it already lies on a BPF filesystem, mounts one on it.
// The agent calls this with /sys/fs/bpf (systemd mounts it on most distributions; some minimal
// systems do not). Errc::kKernel naming the directory when mkdir or mount fails.
Status ensureBpffs(const std::string& dir);

}  // namespace podnet::bpf
