// The pod device program (bpf/pod_policy.bpf.c) loaded into the kernel: its two tc programs and
// its maps, pinned by name under a directory so that every load (an agent restart, a second
// tool) shares one set of maps. Attaching to devices is in tc_attach.h.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "bpf/bpffs.h"
#include "common/result.h"
#include "pod_policy.h"

struct pod_policy;  // the bpftool skeleton (generated pod_policy.skel.h)

namespace podnet::bpf {

// Read-only data fixed at load (see bpf/lib/conntrack.h and bpf/lib/verdict.h).
struct ProgramOptions {
  std::string pinDir = kDefaultPinDir;  // must lie on a BPF filesystem (ensureBpffs)
  std::chrono::seconds ctTcpLifetime{21600};
  std::chrono::seconds ctSynLifetime{60};
  std::chrono::seconds ctCloseLifetime{10};
  std::chrono::seconds ctOtherLifetime{60};
  pn_event_level eventLevel = PN_EVENTS_FLOWS;
};

class PodPolicyProgram {
 public:
  // Opens the embedded object, sets the read-only data, reuses maps pinned under pinDir (or
  // creates and pins them) and loads both programs. Errc::kKernel with libbpf's reason (the
  // verifier's last lines, or which pinned map has another shape) when the kernel refuses.
  static Result<PodPolicyProgram> load(const ProgramOptions& options);

  PodPolicyProgram(PodPolicyProgram&&) noexcept;
  PodPolicyProgram& operator=(PodPolicyProgram&&) noexcept;
  PodPolicyProgram(const PodPolicyProgram&) = delete;
  PodPolicyProgram& operator=(const PodPolicyProgram&) = delete;
  // Closes the object. Attached programs stay in the kernel (tc holds them), pinned maps stay.
  ~PodPolicyProgram();

  int fromPodFd() const;  // for the host veth's tc ingress hook (the pod's egress)
  int toPodFd() const;    // for the host veth's tc egress hook (the pod's ingress)
  const std::string& pinDir() const { return pinDir_; }

 private:
  struct Destroy {
    void operator()(pod_policy* skel) const;
  };
  PodPolicyProgram(std::unique_ptr<pod_policy, Destroy> skel, std::string pinDir);

  std::unique_ptr<pod_policy, Destroy> skel_;
  std::string pinDir_;
};

}  // namespace podnet::bpf
