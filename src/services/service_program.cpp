#include "services/service_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "bpf/libbpf_log.h"
#include "common/fd.h"
#include "service_lb.skel.h"

namespace podnet::services {
namespace {

constexpr std::array<const char*, 8> kHooks = {"connect4", "sendmsg4", "recvmsg4", "getpeername4",
                                               "connect6", "sendmsg6", "recvmsg6", "getpeername6"};

std::string linkPin(const std::string& pinDir, const char* hook) {
  return pinDir + "/pn_svc_link_" + hook;
}

// The id of the cgroup a pinned link is attached to; 0 when it cannot be read.
uint64_t linkCgroup(bpf_link* link) {
  bpf_link_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(bpf_link__fd(link), &info, &length) != 0) return 0;
  return info.type == BPF_LINK_TYPE_CGROUP ? info.cgroup.cgroup_id : 0;
}

// Detaches the link pinned at `pin` and removes the pin. Detached explicitly: removing the pin
// alone frees the link only some time later, and the hooks would run on until then.
Status removeLink(const std::string& pin) {
  UniqueFd fd(bpf_obj_get(pin.c_str()));
  if (!fd.valid()) {
    if (errno == ENOENT) return okStatus();
    return makeError(Errc::kKernel,
                     "service program: open the link " + pin + ": " + std::strerror(errno));
  }
  if (bpf_link_detach(fd.get()) != 0) {
    return makeError(Errc::kKernel,
                     "service program: detach the link " + pin + ": " + std::strerror(errno));
  }
  if (::unlink(pin.c_str()) != 0 && errno != ENOENT) {
    return makeError(Errc::kKernel,
                     "service program: remove the link " + pin + ": " + std::strerror(errno));
  }
  return okStatus();
}

}  // namespace

void ServiceProgram::Destroy::operator()(service_lb* skel) const {
  service_lb__destroy(skel);
}

ServiceProgram::ServiceProgram(std::unique_ptr<service_lb, Destroy> skel, std::string pinDir)
    : skel_(std::move(skel)), pinDir_(std::move(pinDir)) {}
ServiceProgram::ServiceProgram(ServiceProgram&&) noexcept = default;
ServiceProgram& ServiceProgram::operator=(ServiceProgram&&) noexcept = default;
ServiceProgram::~ServiceProgram() = default;

Result<ServiceProgram> ServiceProgram::load(const std::string& pinDir) {
  bpf::captureLibbpfLog();
  bpf::clearLibbpfLog();
  if (!bpf::isBpffs(pinDir)) {
    return makeError(Errc::kInvalidArgument, "service program: pin directory " + pinDir +
                                                 " is not on a BPF filesystem (mount one with "
                                                 "ensureBpffs)");
  }
  bpf_object_open_opts open{};
  open.sz = sizeof(open);
  open.pin_root_path = pinDir.c_str();
  std::unique_ptr<service_lb, Destroy> skel(service_lb__open_opts(&open));
  if (!skel) return bpf::libbpfError("service program: open", errno);
  if (int err = service_lb__load(skel.get()); err != 0) {
    return bpf::libbpfError("service program: load (maps pinned in " + pinDir + ")", err);
  }
  return ServiceProgram(std::move(skel), pinDir);
}

Status ServiceProgram::attach(const std::string& cgroup) {
  bpf::clearLibbpfLog();
  UniqueFd dir(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    int err = errno;
    return makeError(err == ENOENT ? Errc::kNotFound : Errc::kKernel,
                     "service program: cgroup " + cgroup + ": " + std::strerror(err));
  }
  // A cgroup v2 directory's inode number is its cgroup id (kernfs).
  struct stat st {};
  if (::fstat(dir.get(), &st) != 0) {
    return makeError(Errc::kKernel,
                     "service program: cgroup " + cgroup + ": stat: " + std::strerror(errno));
  }
  const std::array<bpf_program*, kHooks.size()> programs = {
      skel_->progs.svc_connect4,     skel_->progs.svc_sendmsg4,    skel_->progs.svc_recvmsg4,
      skel_->progs.svc_getpeername4, skel_->progs.svc_connect6,    skel_->progs.svc_sendmsg6,
      skel_->progs.svc_recvmsg6,     skel_->progs.svc_getpeername6};
  for (size_t i = 0; i < kHooks.size(); ++i) {
    std::string what = "service program: " + std::string(kHooks[i]) + " on cgroup " + cgroup;
    std::string pin = linkPin(pinDir_, kHooks[i]);
    if (bpf_link* pinned = bpf_link__open(pin.c_str())) {
      bool same = linkCgroup(pinned) == st.st_ino;
      int err = same ? bpf_link__update_program(pinned, programs[i]) : 0;
      bpf_link__destroy(pinned);  // closes this process's reference; the pin keeps the link
      if (same && err != 0) return bpf::libbpfError(what + ": replace the program", err);
      if (same) continue;
      PODNET_TRY_STATUS(removeLink(pin));  // it is on another cgroup
    }
    bpf_link* link = bpf_program__attach_cgroup(programs[i], dir.get());
    if (link == nullptr) return bpf::libbpfError(what + ": attach", errno);
    int err = bpf_link__pin(link, pin.c_str());
    bpf_link__destroy(link);
    if (err != 0) return bpf::libbpfError(what + ": pin the link as " + pin, err);
  }
  return okStatus();
}

Status ServiceProgram::detach(const std::string& pinDir) {
  for (const char* hook : kHooks) PODNET_TRY_STATUS(removeLink(linkPin(pinDir, hook)));
  return okStatus();
}

}  // namespace podnet::services
