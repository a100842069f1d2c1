#include "netlink/rtnl_socket.h"

#include <linux/netlink.h>
#include <netlink/attr.h>
#include <netlink/errno.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace podnet::netlink {

namespace {

Errc errcFromNlError(int rc) {
  switch (-rc) {
    case NLE_EXIST:
      return Errc::kAlreadyExists;
    case NLE_NODEV:
    case NLE_OBJ_NOTFOUND:  // ENOENT, ESRCH
    case NLE_NOADDR:        // EADDRNOTAVAIL: no such address
      return Errc::kNotFound;
    default:
      return Errc::kKernel;
  }
}

}  // namespace

struct Socket::State {
  nl_sock* sock = nullptr;
  int kernelErrno = 0;       // from the last NLMSG_ERROR, positive
  std::string kernelReason;  // the kernel's extended ack message, if any

  ~State() {
    if (sock != nullptr) nl_socket_free(sock);
  }
};

int Socket::onKernelError(sockaddr_nl*, nlmsgerr* err, void* arg) {
  auto* state = static_cast<Socket::State*>(arg);
  state->kernelErrno = -err->error;
  state->kernelReason.clear();
  auto* hdr = reinterpret_cast<nlmsghdr*>(reinterpret_cast<char*>(err) - NLMSG_HDRLEN);
  // With NETLINK_CAP_ACK only the request's header is echoed, so the TLVs follow nlmsgerr.
  if ((hdr->nlmsg_flags & NLM_F_ACK_TLVS) && (hdr->nlmsg_flags & NLM_F_CAPPED)) {
    int len = static_cast<int>(hdr->nlmsg_len) - NLMSG_HDRLEN - static_cast<int>(sizeof(*err));
    nlattr* tb[NLMSGERR_ATTR_MAX + 1];
    if (len > 0 &&
        nla_parse(tb, NLMSGERR_ATTR_MAX, reinterpret_cast<nlattr*>(err + 1), len, nullptr) == 0 &&
        tb[NLMSGERR_ATTR_MSG] != nullptr) {
      state->kernelReason = nla_get_string(tb[NLMSGERR_ATTR_MSG]);
    }
  }
  return NL_STOP;
}

Socket::Socket(std::unique_ptr<State> state) : state_(std::move(state)) {}
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&&) noexcept = default;
Socket::~Socket() = default;

nl_sock* Socket::get() const {
  return state_->sock;
}

Result<Socket> Socket::open() {
  auto state = std::make_unique<State>();
  state->sock = nl_socket_alloc();
  if (state->sock == nullptr) return makeError(Errc::kInternal, "netlink socket: out of memory");
  int rc = nl_connect(state->sock, NETLINK_ROUTE);
  if (rc < 0) return makeError(Errc::kKernel, std::string("netlink socket: ") + nl_geterror(rc));
  int one = 1;
  int fd = nl_socket_get_fd(state->sock);
  // Best effort: older kernels simply give plain errno without the explanation.
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
  (void)setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
  nl_socket_modify_err_cb(state->sock, NL_CB_CUSTOM, onKernelError, state.get());
  return Socket(std::move(state));
}

Result<Socket> Socket::openIn(const Netns& ns) {
  auto scope = PODNET_TRY(NetnsScope::enter(ns));
  auto sock = open();
  if (!sock.ok()) return std::move(sock).takeError().context("netns " + ns.path());
  return sock;
}

Status Socket::check(int rc, const std::string& what, const char* op) {
  // The callback's errno belongs to this failure only if libnl derived rc from it; an earlier
  // failure that the caller handled itself (e.g. "no such link") may have left it behind.
  int err = std::exchange(state_->kernelErrno, 0);
  std::string kernelReason = std::move(state_->kernelReason);
  state_->kernelReason.clear();
  if (rc >= 0) return okStatus();
  if (err != 0 && nl_syserr2nlerr(err) != -rc) err = 0;
  std::string reason = err != 0 ? std::strerror(err) : nl_geterror(rc);
  if (err != 0 && !kernelReason.empty()) reason += " (" + kernelReason + ")";
  return makeError(errcFromNlError(rc), what + ": " + op + ": " + reason);
}

}  // namespace podnet::netlink
