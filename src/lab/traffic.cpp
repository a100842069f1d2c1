#include "lab/traffic.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "common/fd.h"
#include "netlink/netns.h"

namespace podnet::lab {
namespace {

using Clock = std::chrono::steady_clock;

#ifndef IPPROTO_SCTP
constexpr int IPPROTO_SCTP = 132;
#endif

Error sysError(const std::string& what) {
  return makeError(Errc::kIo, what + ": " + std::strerror(errno));
}

sockaddr_in socketAddress(Ipv4 ip, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(ip.value);
  return addr;
}

std::pair<int, int> socketType(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp:
      return {SOCK_STREAM, IPPROTO_TCP};
    case Protocol::kUdp:
      return {SOCK_DGRAM, IPPROTO_UDP};
    case Protocol::kSctp:
      return {SOCK_STREAM, IPPROTO_SCTP};
  }
  return {SOCK_STREAM, 0};
}

struct Listener {
  UniqueFd fd;
  Protocol protocol;
  uint16_t port;
};

Result<Listener> listenOn(Protocol protocol, uint16_t port) {
  auto [type, proto] = socketType(protocol);
  const std::string what = "listen " + std::to_string(port) + "/" + protocolName(protocol);
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, proto));
  if (!fd.valid()) return sysError(what + ": socket");
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr = socketAddress(Ipv4{INADDR_ANY}, port);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return sysError(what + ": bind");
  }
  if (type == SOCK_STREAM && ::listen(fd.get(), 128) != 0) return sysError(what + ": listen");
  // UDP answers from the address the request was sent to (answerDatagram).
  if (type == SOCK_DGRAM) ::setsockopt(fd.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof one);
  return Listener{std::move(fd), protocol, port};
}

// Replies to one datagram from the very address it was sent to. A socket bound to 0.0.0.0 would
// otherwise pick the source by route: a node answering a pod on another node over vxlan would
// answer from its join address, and the asker would drop a reply from an address it never asked.
void answerDatagram(int fd, const std::string& line) {
  char buf[2048];
  sockaddr_in peer{};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(in_pktinfo))];
  iovec in{buf, sizeof buf};
  msghdr msg{};
  msg.msg_name = &peer;
  msg.msg_namelen = sizeof peer;
  msg.msg_iov = &in;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  if (::recvmsg(fd, &msg, 0) < 0) return;
  std::optional<in_addr> local;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo info;
      std::memcpy(&info, CMSG_DATA(c), sizeof info);
      local = info.ipi_addr;
    }
  }
  iovec out{const_cast<char*>(line.data()), line.size()};
  msghdr reply{};
  reply.msg_name = &peer;
  reply.msg_namelen = sizeof peer;
  reply.msg_iov = &out;
  reply.msg_iovlen = 1;
  alignas(cmsghdr) char replyControl[CMSG_SPACE(sizeof(in_pktinfo))] = {};
  if (local) {
    reply.msg_control = replyControl;
    reply.msg_controllen = sizeof replyControl;
    cmsghdr* c = CMSG_FIRSTHDR(&reply);
    c->cmsg_level = IPPROTO_IP;
    c->cmsg_type = IP_PKTINFO;
    c->cmsg_len = CMSG_LEN(sizeof(in_pktinfo));
    in_pktinfo info{};
    info.ipi_spec_dst = *local;
    std::memcpy(CMSG_DATA(c), &info, sizeof info);
  }
  (void)::sendmsg(fd, &reply, 0);
}

// Waits until fd has `events` or the deadline passes; false on timeout.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    // Rounded up: rounding down would spin (and resend) through the last millisecond.
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, static_cast<int>(left.count()));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// Non-blocking connect bounded by the deadline; true once established.
bool connectBefore(int fd, Ipv4 ip, uint16_t port, Clock::time_point deadline) {
  sockaddr_in addr = socketAddress(ip, port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return true;
  if (errno != EINPROGRESS) return false;
  if (!waitFor(fd, POLLOUT, deadline)) return false;
  int err = 0;
  socklen_t len = sizeof err;
  return ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0;
}

// Binds fd to spec.source when the probe names one.
Status bindSource(int fd, const ProbeSpec& spec) {
  if (!spec.source) return okStatus();
  sockaddr_in local = socketAddress(*spec.source, 0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
    return sysError("probe: bind " + spec.source->str());
  }
  return okStatus();
}

Result<bool> probeStream(const ProbeSpec& spec, bool needReply) {
  auto [type, proto] = socketType(spec.protocol);
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC | SOCK_NONBLOCK, proto));
  if (!fd.valid()) return sysError("probe: socket");
  PODNET_TRY_STATUS(bindSource(fd.get(), spec));
  auto deadline = Clock::now() + spec.timeout;
  if (!connectBefore(fd.get(), spec.destination, spec.port, deadline)) return false;
  if (!needReply) return true;
  if (!waitFor(fd.get(), POLLIN, deadline)) return false;
  char buf[256];
  return ::recv(fd.get(), buf, sizeof buf, 0) > 0;
}

Result<bool> probeUdp(const ProbeSpec& spec) {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) return sysError("probe: socket");
  PODNET_TRY_STATUS(bindSource(fd.get(), spec));
  sockaddr_in addr = socketAddress(spec.destination, spec.port);
  // Connected, so only the destination's answer is accepted and an ICMP "port unreachable" ends
  // the probe at once (ECONNREFUSED).
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return false;
  auto deadline = Clock::now() + spec.timeout;
  // Resent every 250 ms within the timeout: one datagram may be lost while neighbours resolve.
  while (Clock::now() < deadline) {
    static constexpr char kProbe[] = "podnet-lab probe\n";
    if (::send(fd.get(), kProbe, sizeof kProbe - 1, 0) < 0 && errno != EAGAIN) return false;
    auto next = std::min(deadline, Clock::now() + std::chrono::milliseconds(250));
    while (waitFor(fd.get(), POLLIN, next)) {
      char buf[512];
      ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n >= 0) return true;
      if (errno != EAGAIN && errno != EINTR) return false;
    }
  }
  return false;
}

}  // namespace

Result<Protocol> parseProtocol(const std::string& text) {
  if (text == "tcp" || text == "TCP") return Protocol::kTcp;
  if (text == "udp" || text == "UDP") return Protocol::kUdp;
  if (text == "sctp" || text == "SCTP") return Protocol::kSctp;
  return makeError(Errc::kInvalidArgument, "protocol \"" + text + "\": use tcp, udp or sctp");
}

std::string protocolName(Protocol protocol) {
  switch (protocol) {
    case Protocol::kTcp:
      return "tcp";
    case Protocol::kUdp:
      return "udp";
    case Protocol::kSctp:
      return "sctp";
  }
  return "?";
}

bool sctpAvailable() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_SCTP));
  return fd.valid();
}

std::vector<Protocol> serverProtocols() {
  std::vector<Protocol> out = {Protocol::kTcp, Protocol::kUdp};
  if (sctpAvailable()) out.push_back(Protocol::kSctp);
  return out;
}

Status serve(const std::string& who, const std::string& readyFile) {
  std::vector<Listener> listeners;
  for (Protocol protocol : serverProtocols()) {
    for (uint16_t port : kServerPorts) {
      auto listener = listenOn(protocol, port);
      if (!listener) return listener.error().context("lab server " + who);
      listeners.push_back(std::move(*listener));
    }
  }
  if (!readyFile.empty()) {
    UniqueFd ready(::open(readyFile.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    if (!ready.valid()) return sysError("lab server " + who + ": " + readyFile);
  }
  std::vector<pollfd> fds;
  for (const auto& l : listeners) fds.push_back({l.fd.get(), POLLIN, 0});
  for (;;) {
    if (::poll(fds.data(), fds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      return sysError("lab server " + who + ": poll");
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if ((fds[i].revents & POLLIN) == 0) continue;
      const Listener& l = listeners[i];
      const std::string line =
          who + " " + std::to_string(l.port) + "/" + protocolName(l.protocol) + "\n";
      if (l.protocol == Protocol::kUdp) {
        answerDatagram(l.fd.get(), line);
        continue;
      }
      UniqueFd conn(::accept4(l.fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
      if (conn.valid()) (void)!::send(conn.get(), line.data(), line.size(), MSG_NOSIGNAL);
    }
  }
}

Result<bool> probe(const ProbeSpec& spec) {
  switch (spec.protocol) {
    case Protocol::kTcp:
      return probeStream(spec, false);
    case Protocol::kUdp:
      return probeUdp(spec);
    case Protocol::kSctp:
      if (!sctpAvailable()) {
        return makeError(Errc::kUnsupported, "probe over sctp: this kernel has no SCTP");
      }
      return probeStream(spec, true);
  }
  return makeError(Errc::kInvalidArgument, "probe: unknown protocol");
}

Result<bool> probeFrom(const std::string& netnsPath, const ProbeSpec& spec) {
  auto ns = netlink::Netns::open(netnsPath);
  if (!ns) return ns.error();
  std::optional<Result<bool>> result;
  std::thread worker([&] {
    auto scope = netlink::NetnsScope::enter(*ns);
    if (!scope) {
      result = scope.error();
      return;
    }
    result = probe(spec);
  });
  worker.join();
  return std::move(*result);
}

}  // namespace podnet::lab
