#include "bpf/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace podnet::bpf {

bool isBpffs(const std::string& path) {
  struct statfs st {};
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == static_cast<long>(BPF_FS_MAGIC);
}

Status ensureBpffs(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return makeError(Errc::kKernel, "bpffs " + dir + ": mkdir: " + ec.message());
  if (isBpffs(dir)) return okStatus();
  if (::mount("bpf", dir.c_str(), "bpf", 0, "mode=0700") != 0) {
    return makeError(Errc::kKernel, "bpffs " + dir + ": mount: " + std::strerror(errno) +
                                        " (podnet needs root to mount the BPF filesystem)");
  }
  return okStatus();
}

}  // namespace podnet::bpf
