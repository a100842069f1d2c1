// Real sockets through the service load balancer. A private BPF filesystem (unmounted in TearDown
// even when the test failed), a throwaway cgroup v2 with the programs attached, a client network
// namespace joined by a veth to each of two backend namespaces, and processes:
//   - one client process, started in SetUp inside the cgroup and the client namespace, which runs
//     one socket call sequence per command line it reads and answers with one line;
//   - servers (startServer), each answering every TCP connection and every UDP datagram on its
//     address and port with "<name> seen <client address>:<port>", and every line a TCP client
//     sends afterwards with "<name> <line>".
// Every process is forked from the single-threaded test process and killed by its pid in TearDown
// (or by the kernel when the test process dies first).
//
//   client 10.210.1.1 (c1) <-> b1 10.210.1.2      client 10.210.2.1 (c2) <-> b2 10.210.2.2
//
// No namespace has a route to the service addresses (10.96.0.0/12): a call reaches a backend only
// when the programs translate it.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "bpf/bpffs.h"
#include "common/fd.h"
#include "services/service_maps.h"
#include "services/service_program.h"
#include "support/netns_fixture.h"
#include "support/temp_dir.h"

namespace podnet::services::testing {

inline const Ipv4 kVip = *Ipv4::parse("10.96.0.10");
inline const Ipv4 kClient1 = *Ipv4::parse("10.210.1.1");  // the client, towards b1
inline const Ipv4 kB1 = *Ipv4::parse("10.210.1.2");
inline const Ipv4 kB2 = *Ipv4::parse("10.210.2.2");

inline sockaddr_in socketAddress(Ipv4 ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(ip.value);
  return sa;
}

inline std::string str(const sockaddr_in& sa) {
  return Ipv4{ntohl(sa.sin_addr.s_addr)}.str() + ":" + std::to_string(ntohs(sa.sin_port));
}

// One line from fd (without its newline) within timeoutMs; nullopt on timeout, error or EOF.
inline std::optional<std::string> readLine(int fd, int timeoutMs) {
  std::string line;
  char c;
  while (true) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeoutMs) != 1) return std::nullopt;
    ssize_t n = ::read(fd, &c, 1);
    if (n != 1) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
}

inline void writeAll(int fd, const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return;
    done += static_cast<size_t>(n);
  }
}

// ---- the processes (each runs in a forked child and never returns) ----

[[noreturn]] inline void serve(int ready, Ipv4 ip, uint16_t port, const std::string& name) {
  UniqueFd tcp(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  UniqueFd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(tcp.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in at = socketAddress(ip, port);
  if (::bind(tcp.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0 ||
      ::listen(tcp.get(), 128) != 0 ||
      ::bind(udp.get(), reinterpret_cast<sockaddr*>(&at), sizeof(at)) != 0) {
    writeAll(ready, std::string("bind failed: ") + std::strerror(errno) + "\n");
    ::_exit(1);
  }
  writeAll(ready, "ready\n");
  std::vector<pollfd> fds = {{tcp.get(), POLLIN, 0}, {udp.get(), POLLIN, 0}};
  while (true) {
    if (::poll(fds.data(), fds.size(), -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      sockaddr_in peer{};
      socklen_t len = sizeof(peer);
      int conn = ::accept4(tcp.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC);
      if (conn >= 0) {
        writeAll(conn, name + " seen " + str(peer) + "\n");
        fds.push_back({conn, POLLIN, 0});
      }
    }
    if (fds[1].revents & POLLIN) {
      char buf[512];
      sockaddr_in peer{};
      socklen_t len = sizeof(peer);
      if (::recvfrom(udp.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&peer), &len) >=
          0) {
        std::string answer = name + " seen " + str(peer) + "\n";
        ::sendto(udp.get(), answer.data(), answer.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                 len);
      }
    }
    for (size_t i = 2; i < fds.size();) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
        char buf[512];
        ssize_t n = ::read(fds[i].fd, buf, sizeof(buf));
        if (n <= 0) {
          ::close(fds[i].fd);
          fds.erase(fds.begin() + static_cast<long>(i));
          continue;
        }
        writeAll(fds[i].fd, name + " " + std::string(buf, static_cast<size_t>(n)));
      }
      ++i;
    }
  }
}

// A TCP connection to ip:port within 3 s, or the errno that stopped it.
inline int connectTcp(Ipv4 ip, uint16_t port, UniqueFd& out) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in to = socketAddress(ip, port);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&to), sizeof(to)) != 0) {
    if (errno != EINPROGRESS) return errno;
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, 3000) != 1) return ETIMEDOUT;
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return err;
  }
  out = std::move(fd);
  return 0;
}

inline std::string str(const sockaddr_in6& sa) {
  char text[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(AF_INET6, &sa.sin6_addr, text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(sa.sin6_port));
}

inline std::string str(const sockaddr_storage& sa) {
  if (sa.ss_family == AF_INET6) return str(reinterpret_cast<const sockaddr_in6&>(sa));
  return str(reinterpret_cast<const sockaddr_in&>(sa));
}

inline std::string peerOf(int fd) {
  sockaddr_storage peer{};
  socklen_t len = sizeof(peer);
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return "none";
  return str(peer);
}

// One exchange from an IPv6 socket with ::ffff:ip, port; the answer as clientCommand gives it.
inline std::string exchangeV4Mapped(bool tcp, const std::string& ip, uint16_t port) {
  sockaddr_in6 to{};
  to.sin6_family = AF_INET6;
  to.sin6_port = htons(port);
  if (::inet_pton(AF_INET6, ("::ffff:" + ip).c_str(), &to.sin6_addr) != 1) return "err address";
  UniqueFd fd(::socket(AF_INET6, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0));
  timeval wait{3, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &wait, sizeof(wait));
  auto* sa = reinterpret_cast<sockaddr*>(&to);
  if (tcp) {
    if (::connect(fd.get(), sa, sizeof(to)) != 0) return "err " + std::to_string(errno);
    auto greeting = readLine(fd.get(), 3000);
    if (!greeting) return "err nogreeting";
    return "ok " + *greeting + " peer=" + peerOf(fd.get());
  }
  if (::sendto(fd.get(), "hi", 2, 0, sa, sizeof(to)) != 2) return "err " + std::to_string(errno);
  pollfd p{fd.get(), POLLIN, 0};
  if (::poll(&p, 1, 3000) != 1) return "err timeout";
  char buf[512];
  sockaddr_storage from{};
  socklen_t len = sizeof(from);
  ssize_t n = ::recvfrom(fd.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
  if (n <= 0) return "err " + std::to_string(errno);
  std::string answer(buf, static_cast<size_t>(n));
  if (!answer.empty() && answer.back() == '\n') answer.pop_back();
  return "ok " + answer + " from=" + str(from);
}

// One command of the client process; the answer line starts with "ok " or "err ".
//   tcp IP PORT       connect, read the greeting: "ok <greeting> peer=<getpeername>"
//   udp IP PORT       sendto from an unconnected socket: "ok <answer> from=<recvfrom's source>"
//   udpc IP PORT      connect a UDP socket, send: "ok <answer> peer=<getpeername>"
//   usock IP PORT     like udp, from the one unconnected UDP socket the client keeps
//   tcp6, udp6 IP PORT  tcp and udp from an IPv6 socket to the v4-mapped ::ffff:IP; addresses
//                     shown as [::ffff:a.b.c.d]:port
//   open IP PORT      like tcp, and keep the connection
//   talk              send "again" on the kept connection: "ok <answer>"
//   loop IP PORT N    N tcp in a row: "ok <failures> <errno of the last failure or 0>"
// A failed call answers "err <errno>".
struct ClientSockets {  // kept between commands
  UniqueFd tcp;
  UniqueFd udp;
};

inline std::string clientCommand(const std::string& line, ClientSockets& kept) {
  std::istringstream in(line);
  std::string verb, ip;
  int port = 0;
  in >> verb;
  if (verb == "talk") {
    writeAll(kept.tcp.get(), "again\n");
    auto answer = readLine(kept.tcp.get(), 3000);
    return answer ? "ok " + *answer : "err eof";
  }
  in >> ip >> port;
  Ipv4 address = *Ipv4::parse(ip);
  auto to = static_cast<uint16_t>(port);
  if (verb == "tcp6" || verb == "udp6") return exchangeV4Mapped(verb == "tcp6", ip, to);
  if (verb == "tcp" || verb == "open") {
    UniqueFd fd;
    if (int err = connectTcp(address, to, fd); err != 0) return "err " + std::to_string(err);
    auto greeting = readLine(fd.get(), 3000);
    if (!greeting) return "err nogreeting";
    std::string answer = "ok " + *greeting + " peer=" + peerOf(fd.get());
    if (verb == "open") kept.tcp = std::move(fd);
    return answer;
  }
  if (verb == "loop") {
    int count = 0;
    in >> count;
    int failures = 0, last = 0;
    for (int i = 0; i < count; ++i) {
      UniqueFd fd;
      int err = connectTcp(address, to, fd);
      if (err == 0 && !readLine(fd.get(), 3000)) err = ETIMEDOUT;
      if (err != 0) {
        ++failures;
        last = err;
      }
    }
    return "ok " + std::to_string(failures) + " " + std::to_string(last);
  }
  if (verb == "udp" || verb == "udpc" || verb == "usock") {
    if (verb == "usock" && !kept.udp.valid()) {
      kept.udp.reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    }
    UniqueFd fresh(verb == "usock" ? -1 : ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    const UniqueFd& fd = verb == "usock" ? kept.udp : fresh;
    sockaddr_in dest = socketAddress(address, to);
    auto* sa = reinterpret_cast<sockaddr*>(&dest);
    if (verb == "udpc") {
      if (::connect(fd.get(), sa, sizeof(dest)) != 0) return "err " + std::to_string(errno);
      if (::send(fd.get(), "hi", 2, 0) != 2) return "err " + std::to_string(errno);
    } else if (::sendto(fd.get(), "hi", 2, 0, sa, sizeof(dest)) != 2) {
      return "err " + std::to_string(errno);
    }
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, 3000) != 1) return "err timeout";
    char buf[512];
    sockaddr_in from{};
    socklen_t len = sizeof(from);
    ssize_t n = ::recvfrom(fd.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n <= 0) return "err " + std::to_string(errno);
    std::string answer(buf, static_cast<size_t>(n));
    if (!answer.empty() && answer.back() == '\n') answer.pop_back();
    if (verb == "udpc") return "ok " + answer + " peer=" + peerOf(fd.get());
    return "ok " + answer + " from=" + str(from);
  }
  return "err unknown command";
}

[[noreturn]] inline void runClient(int channel) {
  ClientSockets kept;
  while (auto line = readLine(channel, -1)) writeAll(channel, clientCommand(*line, kept) + "\n");
  ::_exit(0);
}

// The first cgroup v2 mount ("cgroup2" in /proc/self/mounts), empty when there is none.
inline std::string cgroup2Root() {
  std::ifstream mounts("/proc/self/mounts");
  std::string device, dir, type, rest;
  while (mounts >> device >> dir >> type && std::getline(mounts, rest)) {
    if (type == "cgroup2") return dir;
  }
  return {};
}

class ServiceFixture : public podnet::testing::NetnsFixture {
 protected:
  void SetUp() override {
    client_ = addNetns();
    b1_ = addNetns();
    b2_ = addNetns();
    link(b1_, "c1", "10.210.1");
    link(b2_, "c2", "10.210.2");
    if (HasFatalFailure()) return;

    std::string root = cgroup2Root();
    ASSERT_FALSE(root.empty()) << "no cgroup v2 mounted";
    static int counter = 0;
    cgroup_ = root + "/podnet-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    ASSERT_EQ(::mkdir(cgroup_.c_str(), 0755), 0) << cgroup_ << ": " << std::strerror(errno);

    pinDir_ = tmp_.path() + "/bpffs";
    auto mounted = bpf::ensureBpffs(pinDir_);
    ASSERT_TRUE(mounted.ok()) << mounted.error().message;
    mounted_ = true;
    auto program = ServiceProgram::load(pinDir_);
    ASSERT_TRUE(program.ok()) << program.error().message;
    program_.emplace(std::move(program).value());
    auto attached = program_->attach(cgroup_);
    ASSERT_TRUE(attached.ok()) << attached.error().message;
    auto maps = ServiceMaps::open(pinDir_);
    ASSERT_TRUE(maps.ok()) << maps.error().message;
    maps_.emplace(std::move(maps).value());

    startClient();
  }

  void TearDown() override {
    for (pid_t pid : children_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    children_.clear();
    channel_.reset();
    NetnsFixture::TearDown();
    maps_.reset();
    program_.reset();
    if (mounted_) ::umount2(pinDir_.c_str(), MNT_DETACH);  // the pinned links go with it
    mounted_ = false;
    if (!cgroup_.empty()) {
      EXPECT_EQ(::rmdir(cgroup_.c_str()), 0) << cgroup_;
    }
  }

  // A veth from the client namespace (clientSide, <net>.1/24) to `peer`'s eth0 (<net>.2/24).
  void link(const std::string& peer, const std::string& clientSide, const std::string& net) {
    ASSERT_EQ(run("ip -n " + client_ + " link add " + clientSide +
                  " type veth peer name eth0 netns " + peer),
              0);
    ASSERT_EQ(runIn(client_, "ip addr add " + net + ".1/24 dev " + clientSide), 0);
    ASSERT_EQ(runIn(client_, "ip link set " + clientSide + " up"), 0);
    ASSERT_EQ(runIn(peer, "ip addr add " + net + ".2/24 dev eth0"), 0);
    ASSERT_EQ(runIn(peer, "ip link set eth0 up"), 0);
  }

  // Forks `body` into namespace `ns` (and into the test cgroup when inCgroup).
  template <class Body>
  pid_t forkInto(const std::string& ns, bool inCgroup, Body body) {
    UniqueFd netns(::open(netnsPath(ns).c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_TRUE(netns.valid()) << ns;
    pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // gone with the test, even when it crashes
      if (inCgroup) {
        std::ofstream procs(cgroup_ + "/cgroup.procs");
        procs << ::getpid() << std::flush;
        if (!procs) ::_exit(3);
      }
      if (::setns(netns.get(), CLONE_NEWNET) != 0) ::_exit(4);
      body();
      ::_exit(0);
    }
    EXPECT_GT(pid, 0);
    if (pid > 0) children_.push_back(pid);
    return pid;
  }

  void startClient() {
    int pair[2];
    ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    UniqueFd mine(pair[0]), theirs(pair[1]);
    forkInto(client_, true, [&] {
      mine.reset();
      runClient(theirs.get());
    });
    channel_ = std::move(mine);
  }

  // A server in namespace ns on ip:port (TCP and UDP), answering as `name`.
  void startServer(const std::string& ns, Ipv4 ip, uint16_t port, const std::string& name) {
    int pipe[2];
    ASSERT_EQ(::pipe2(pipe, O_CLOEXEC), 0);
    UniqueFd readEnd(pipe[0]), writeEnd(pipe[1]);
    forkInto(ns, false, [&] {
      readEnd.reset();
      serve(writeEnd.get(), ip, port, name);
    });
    writeEnd.reset();
    auto ready = readLine(readEnd.get(), 10000);
    ASSERT_TRUE(ready.has_value()) << "server " << name << " did not start";
    ASSERT_EQ(*ready, "ready") << name;
  }

  void send(const std::string& command) { writeAll(channel_.get(), command + "\n"); }
  std::string answer(int timeoutMs = 60000) {
    auto line = readLine(channel_.get(), timeoutMs);
    EXPECT_TRUE(line.has_value()) << "the client process did not answer";
    return line.value_or("err noanswer");
  }
  // Runs one client command and returns its answer line.
  std::string ask(const std::string& command) {
    send(command);
    return answer();
  }
  static std::string at(Ipv4 ip, uint16_t port) { return ip.str() + " " + std::to_string(port); }

  void sync(const std::vector<Frontend>& frontends) {
    auto synced = maps_->sync(frontends);
    ASSERT_TRUE(synced.ok()) << synced.error().message;
  }

  podnet::testing::TempDir tmp_;
  std::string client_, b1_, b2_;
  std::string cgroup_;
  std::string pinDir_;
  bool mounted_ = false;
  std::optional<ServiceProgram> program_;
  std::optional<ServiceMaps> maps_;
  UniqueFd channel_;
  std::vector<pid_t> children_;
};

// The name of the server that answered ("b1 seen ..." -> "b1").
inline std::string serverOf(const std::string& answer) {
  if (answer.rfind("ok ", 0) != 0) return answer;
  return answer.substr(3, answer.find(' ', 3) - 3);
}

}  // namespace podnet::services::testing
