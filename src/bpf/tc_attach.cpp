#include "bpf/tc_attach.h"

#include <bpf/libbpf.h>
#include <net/if.h>

#include <cerrno>

#include "bpf/libbpf_log.h"

namespace podnet::bpf {
namespace {

Error tcError(const std::string& device, const std::string& what, int err) {
  return libbpfError("tc " + device + ": " + what, err);
}

Result<int> ifindexOf(const std::string& device) {
  unsigned index = ::if_nametoindex(device.c_str());
  if (index == 0) return makeError(Errc::kNotFound, "tc " + device + ": no such device");
  return static_cast<int>(index);
}

bpf_tc_hook hookOf(int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook{};
  hook.sz = sizeof(hook);
  hook.ifindex = ifindex;
  hook.attach_point = point;
  return hook;
}

bpf_tc_opts podnetFilter() {
  bpf_tc_opts opts{};
  opts.sz = sizeof(opts);
  opts.handle = kTcHandle;
  opts.priority = kTcPriority;
  return opts;
}

const char* hookName(bpf_tc_attach_point point) {
  return point == BPF_TC_INGRESS ? "ingress" : "egress";
}

// The clsact qdisc that holds both hooks; it may already be there.
Status createClsact(const std::string& device, int ifindex) {
  bpf_tc_hook hook =
      hookOf(ifindex, static_cast<bpf_tc_attach_point>(BPF_TC_INGRESS | BPF_TC_EGRESS));
  if (int err = bpf_tc_hook_create(&hook); err != 0 && err != -EEXIST) {
    return tcError(device, "add clsact qdisc", err);
  }
  return okStatus();
}

// Attaches to a hook of the device's clsact qdisc (createClsact).
Status attachHook(const std::string& device, int ifindex, bpf_tc_attach_point point, int progFd) {
  bpf_tc_hook hook = hookOf(ifindex, point);
  bpf_tc_opts opts = podnetFilter();
  opts.prog_fd = progFd;
  opts.flags = BPF_TC_F_REPLACE;
  if (int err = bpf_tc_attach(&hook, &opts); err != 0) {
    return tcError(device, std::string("attach ") + hookName(point) + " filter", err);
  }
  return okStatus();
}

Status detachHook(const std::string& device, int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook = hookOf(ifindex, point);
  bpf_tc_opts opts = podnetFilter();
  int err = bpf_tc_detach(&hook, &opts);
  // ENOENT: no such filter; EINVAL: no clsact qdisc at all. Either way nothing is attached.
  if (err != 0 && err != -ENOENT && err != -EINVAL) {
    return tcError(device, std::string("detach ") + hookName(point) + " filter", err);
  }
  return okStatus();
}

Result<bool> hasFilter(const std::string& device, int ifindex, bpf_tc_attach_point point) {
  bpf_tc_hook hook = hookOf(ifindex, point);
  bpf_tc_opts opts = podnetFilter();
  int err = bpf_tc_query(&hook, &opts);
  if (err == 0) return true;
  if (err == -ENOENT || err == -EINVAL) return false;
  return tcError(device, std::string("query ") + hookName(point) + " filter", err);
}

}  // namespace

Status attachPodDevice(const std::string& device, const PodPolicyProgram& program) {
  captureLibbpfLog();
  clearLibbpfLog();
  int ifindex = PODNET_TRY(ifindexOf(device));
  PODNET_TRY_STATUS(createClsact(device, ifindex));
  // Egress first: while only one hook is attached, a pod's new flows are seen on one side only,
  // which is no worse than before.
  PODNET_TRY_STATUS(attachHook(device, ifindex, BPF_TC_EGRESS, program.toPodFd()));
  PODNET_TRY_STATUS(attachHook(device, ifindex, BPF_TC_INGRESS, program.fromPodFd()));
  return okStatus();
}

Status attachHostDevice(const std::string& device, const PodPolicyProgram& program) {
  captureLibbpfLog();
  clearLibbpfLog();
  int ifindex = PODNET_TRY(ifindexOf(device));
  PODNET_TRY_STATUS(createClsact(device, ifindex));
  PODNET_TRY_STATUS(attachHook(device, ifindex, BPF_TC_INGRESS, program.toPodFd()));
  PODNET_TRY_STATUS(attachHook(device, ifindex, BPF_TC_EGRESS, program.fromPodFd()));
  return okStatus();
}

Status detachPodDevice(const std::string& device) {
  captureLibbpfLog();
  clearLibbpfLog();
  auto ifindex = ifindexOf(device);
  if (!ifindex.ok()) return okStatus();
  PODNET_TRY_STATUS(detachHook(device, *ifindex, BPF_TC_INGRESS));
  PODNET_TRY_STATUS(detachHook(device, *ifindex, BPF_TC_EGRESS));
  return okStatus();
}

Result<TcHooks> podDeviceHooks(const std::string& device) {
  captureLibbpfLog();
  clearLibbpfLog();
  int ifindex = PODNET_TRY(ifindexOf(device));
  TcHooks hooks;
  hooks.ingress = PODNET_TRY(hasFilter(device, ifindex, BPF_TC_INGRESS));
  hooks.egress = PODNET_TRY(hasFilter(device, ifindex, BPF_TC_EGRESS));
  return hooks;
}

}  // namespace podnet::bpf
