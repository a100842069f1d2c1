// A TCP port on loopback for a test's own server (etcd, kube-apiserver, a proxy).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

namespace podnet::testing {

// A port free on loopback just now, drawn at random below the kernel's ephemeral range
// (net.ipv4.ip_local_port_range starts at 32768): a port the kernel hands out itself may be
// taken a moment later as the local port of any process's outgoing connection (an API server
// talking to its etcd, in a test running beside this one), before this test's server binds it.
inline int freeLoopbackPort() {
  static std::mt19937 random(std::random_device{}());
  std::uniform_int_distribution<int> draw(20000, 32000);
  for (int attempt = 0; attempt < 100; ++attempt) {
    int port = draw(random);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<uint16_t>(port));
    bool free = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  return 0;
}

}  // namespace podnet::testing
