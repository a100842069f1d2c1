// The socket-level service load balancer (bpf/service_lb.bpf.c) loaded into the kernel, its maps
// pinned by name under a directory (shared with every later load), and attached to a cgroup v2
// with links pinned there too, so that translation goes on while the agent restarts.
#pragma once

#include <memory>
#include <string>

#include "bpf/bpffs.h"
#include "common/result.h"

struct service_lb;  // the bpftool skeleton (generated service_lb.skel.h)

namespace podnet::services {

class ServiceProgram {
 public:
  // Opens the embedded object, reuses maps pinned under pinDir (or creates and pins them) and
  // loads the programs. Errc::kInvalidArgument when pinDir is not on a BPF filesystem;
  // Errc::kKernel with libbpf's reason (the verifier's last lines, or which pinned map has
  // another shape) when the kernel refuses.
  static Result<ServiceProgram> load(const std::string& pinDir = bpf::kDefaultPinDir);

  ServiceProgram(ServiceProgram&&) noexcept;
  ServiceProgram& operator=(ServiceProgram&&) noexcept;
  ServiceProgram(const ServiceProgram&) = delete;
  ServiceProgram& operator=(const ServiceProgram&) = delete;
  ~ServiceProgram();  // attached programs stay (the pinned links hold them), pinned maps stay

  // Attaches connect4, sendmsg4, recvmsg4 and getpeername4, and their IPv6 twins (for v4-mapped
  // addresses), to the cgroup v2 directory `cgroup` (every process below it is translated)
  // through links pinned as <pinDir>/pn_svc_link_<hook>.
  // A pinned link already on that cgroup gets this load's program, atomically (an agent restart
  // never leaves a socket call untranslated); one on another cgroup is replaced. Errc::kNotFound
  // naming the cgroup when it does not exist; Errc::kKernel naming the hook otherwise.
  Status attach(const std::string& cgroup);

  // Removes the pinned links under pinDir: the hooks leave their cgroup. No error when none.
  static Status detach(const std::string& pinDir = bpf::kDefaultPinDir);

  const std::string& pinDir() const { return pinDir_; }

 private:
  struct Destroy {
    void operator()(service_lb* skel) const;
  };
  ServiceProgram(std::unique_ptr<service_lb, Destroy> skel, std::string pinDir);

  std::unique_ptr<service_lb, Destroy> skel_;
  std::string pinDir_;
};

}  // namespace podnet::services
