#include "bpf/pod_policy_program.h"

#include <bpf/libbpf.h>

#include <cerrno>

#include "bpf/libbpf_log.h"
#include "pod_policy.skel.h"

namespace podnet::bpf {
namespace {

uint64_t nanos(std::chrono::seconds s) {
  return static_cast<uint64_t>(std::chrono::nanoseconds(s).count());
}

}  // namespace

void PodPolicyProgram::Destroy::operator()(pod_policy* skel) const {
  pod_policy__destroy(skel);
}

PodPolicyProgram::PodPolicyProgram(std::unique_ptr<pod_policy, Destroy> skel, std::string pinDir)
    : skel_(std::move(skel)), pinDir_(std::move(pinDir)) {}
PodPolicyProgram::PodPolicyProgram(PodPolicyProgram&&) noexcept = default;
PodPolicyProgram& PodPolicyProgram::operator=(PodPolicyProgram&&) noexcept = default;
PodPolicyProgram::~PodPolicyProgram() = default;

Result<PodPolicyProgram> PodPolicyProgram::load(const ProgramOptions& options) {
  captureLibbpfLog();
  clearLibbpfLog();
  if (!isBpffs(options.pinDir)) {
    return makeError(Errc::kInvalidArgument,
                     "pod policy program: pin directory " + options.pinDir +
                         " is not on a BPF filesystem (mount one with ensureBpffs)");
  }

  bpf_object_open_opts open{};
  open.sz = sizeof(open);
  open.pin_root_path = options.pinDir.c_str();
  std::unique_ptr<pod_policy, Destroy> skel(pod_policy__open_opts(&open));
  if (!skel) return libbpfError("pod policy program: open", errno);

  skel->rodata->ct_lifetime_tcp_ns = nanos(options.ctTcpLifetime);
  skel->rodata->ct_lifetime_syn_ns = nanos(options.ctSynLifetime);
  skel->rodata->ct_lifetime_close_ns = nanos(options.ctCloseLifetime);
  skel->rodata->ct_lifetime_other_ns = nanos(options.ctOtherLifetime);
  skel->rodata->event_level = options.eventLevel;

  if (int err = pod_policy__load(skel.get()); err != 0) {
    return libbpfError("pod policy program: load (maps pinned in " + options.pinDir + ")", err);
  }
  return PodPolicyProgram(std::move(skel), options.pinDir);
}

int PodPolicyProgram::fromPodFd() const {
  return bpf_program__fd(skel_->progs.from_pod);
}
int PodPolicyProgram::toPodFd() const {
  return bpf_program__fd(skel_->progs.to_pod);
}

}  // namespace podnet::bpf
