#include "lab_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lab/processes.h"
#include "netlink/netns.h"

extern char** environ;

namespace podnet::bench {

using nlohmann::json;
using namespace std::chrono_literals;

volatile sig_atomic_t gInterrupted = 0;

namespace {

constexpr int kWarmupRoundTrips = 200;

// Whether a process's network namespace has a TCP socket listening on port (its
// /proc/<pid>/net/tcp{,6} show that namespace's sockets).
bool listening(pid_t pid, uint16_t port) {
  char portHex[8];
  std::snprintf(portHex, sizeof portHex, ":%04X", port);
  for (const char* file : {"tcp", "tcp6"}) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/net/" + file);
    std::string line;
    std::getline(in, line);  // header
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      fields >> slot >> local >> remote >> state;
      if (local.ends_with(portHex) && state == "0A") return true;
    }
  }
  return false;
}

}  // namespace

Error sysError(const std::string& what) {
  return makeError(Errc::kIo, what + ": " + std::strerror(errno));
}

Status checkInterrupted() {
  if (gInterrupted) return makeError(Errc::kUnavailable, "interrupted");
  return okStatus();
}

double msSince(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return std::nan("");
  std::sort(samples.begin(), samples.end());
  const auto rank = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(samples.size())));
  return samples[std::max<size_t>(rank, 1) - 1];
}

double median(std::vector<double> samples) {
  if (samples.empty()) return std::nan("");
  std::sort(samples.begin(), samples.end());
  const size_t mid = samples.size() / 2;
  return samples.size() % 2 == 1 ? samples[mid] : (samples[mid - 1] + samples[mid]) / 2;
}

std::string loadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  in >> one >> five >> fifteen;
  return one + " " + five + " " + fifteen;
}

LabSession::~LabSession() {
  std::ostringstream out;
  if (auto st = lab_.down(out); !st) {
    std::fprintf(stderr, "podnet-bench-lab: lab down: %s\n", st.error().message.c_str());
  }
}

Status LabSession::up(const std::string& backend, int nodes, bool fastPath) {
  const Backend kind = PODNET_TRY(parseEnum(kBackendNames, backend, "--backend"));
  std::ostringstream stale;
  PODNET_TRY_STATUS(lab_.down(stale));  // a lab of an earlier run that died
  if (stale.str().find("nothing to remove") == std::string::npos) {
    std::printf("removed a stale lab: %s", stale.str().c_str());
  }
  std::ostringstream out;
  if (auto st = lab_.up({nodes, kind, fastPath}, out); !st) {
    return st.error().context("lab up --backend " + backend + " (" + out.str() + ")");
  }
  return okStatus();
}

NetnsChild::~NetnsChild() {
  if (pid_ < 0) return;
  ::kill(pid_, SIGTERM);
  for (auto waited = 0ms; waited < 3s; waited += 10ms) {
    if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
    std::this_thread::sleep_for(10ms);
  }
  ::kill(pid_, SIGKILL);
  ::waitpid(pid_, nullptr, 0);
}

Result<NetnsChild> NetnsChild::start(const std::string& netns, const std::vector<std::string>& argv,
                                     const std::string& labName, bool captureOutput) {
  const std::string program = PODNET_TRY(lab::findBinary(argv.at(0), ""));
  auto ns = PODNET_TRY(netlink::Netns::open(lab::Layout::netnsPath(netns)));
  // Everything the child needs is prepared here: between fork and exec it only makes system
  // calls (the benchmark has threads running).
  std::vector<std::string> args = argv, env;
  args[0] = program;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "PODNET_LAB=", 11) != 0) env.emplace_back(*e);
  }
  env.push_back(std::string(lab::kProcessTag) + "=" + labName);
  std::vector<char*> argp, envp;
  for (auto& a : args) argp.push_back(a.data());
  argp.push_back(nullptr);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  int pipeFds[2] = {-1, -1};
  if (captureOutput && ::pipe2(pipeFds, O_CLOEXEC) != 0) return sysError("pipe");
  UniqueFd readEnd(pipeFds[0]), writeEnd(pipeFds[1]);
  UniqueFd devNull(::open("/dev/null", O_RDWR | O_CLOEXEC));
  const int outFd = captureOutput ? writeEnd.get() : devNull.get();

  pid_t pid = ::fork();
  if (pid < 0) return sysError("fork " + argv[0]);
  if (pid == 0) {
    ::signal(SIGINT, SIG_DFL);
    ::signal(SIGTERM, SIG_DFL);
    ::signal(SIGPIPE, SIG_DFL);
    if (::setns(ns.fd(), CLONE_NEWNET) != 0) ::_exit(126);
    ::dup2(devNull.get(), STDIN_FILENO);
    ::dup2(outFd, STDOUT_FILENO);
    ::dup2(outFd, STDERR_FILENO);
    ::execve(argp[0], argp.data(), envp.data());
    ::_exit(127);
  }
  NetnsChild child(pid);
  child.out_ = std::move(readEnd);
  return child;
}

Result<std::string> NetnsChild::output() {
  std::string text;
  char buf[4096];
  while (out_.valid()) {
    ssize_t n = ::read(out_.get(), buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else if (errno == EINTR) {
      if (gInterrupted) ::kill(pid_, SIGTERM);
    } else {
      return sysError("read from child");
    }
  }
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return makeError(Errc::kIo, "exit status " + std::to_string(status) + ": " + text);
  }
  return text;
}

CpuLatencyHold CpuLatencyHold::acquire() {
  UniqueFd fd(::open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC));
  const int32_t zero = 0;
  if (fd.valid() && ::write(fd.get(), &zero, sizeof(zero)) != sizeof(zero)) fd.reset();
  return CpuLatencyHold(std::move(fd));
}

Result<NetnsChild> startIperfServer(const std::string& netns, const std::string& labName) {
  auto server = PODNET_TRY(NetnsChild::start(
      netns, {"iperf3", "--server", "--port", std::to_string(kIperfPort)}, labName, false));
  for (auto waited = 0ms; waited < 5s; waited += 10ms) {
    if (listening(server.pid(), kIperfPort)) return server;
    std::this_thread::sleep_for(10ms);
  }
  return makeError(Errc::kUnavailable, "iperf3 server in " + netns +
                                           " is not listening after 5 s (is iperf3 installed?)");
}

Result<double> iperfGbps(const std::string& netns, Ipv4 destination, int seconds,
                         const std::string& labName) {
  std::vector<std::string> args{"iperf3",
                                "--client",
                                destination.str(),
                                "--port",
                                std::to_string(kIperfPort),
                                "--time",
                                std::to_string(seconds),
                                "--json"};
  // Client on CPU 0, server on CPU 1, for pods and nodes alike: left to the scheduler, the two
  // (and the softirqs) land together or apart from run to run, and the run moves with it.
  if (std::thread::hardware_concurrency() >= 2) {
    args.insert(args.end(), {"--affinity", "0,1"});
  }
  auto client = PODNET_TRY(NetnsChild::start(netns, args, labName, true));
  auto text = client.output();
  const std::string what = "iperf3 " + netns + " -> " + destination.str();
  if (!text) return text.error().context(what);
  try {
    const json report = json::parse(*text);
    if (report.contains("error")) {
      return makeError(Errc::kIo, what + ": " + report["error"].get<std::string>());
    }
    return report.at("end").at("sum_received").at("bits_per_second").get<double>() / 1e9;
  } catch (const json::exception& e) {
    return makeError(Errc::kDecode, what + ": unexpected output (" + e.what() + "): " + *text);
  }
}

Result<UniqueFd> tcpSocketIn(const std::string& path) {
  auto ns = PODNET_TRY(netlink::Netns::open(path));
  std::optional<Result<UniqueFd>> result;
  std::thread worker([&] {
    auto scope = netlink::NetnsScope::enter(ns);
    if (!scope) {
      result = scope.error();
      return;
    }
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd.valid()) {
      result = sysError("socket in " + path);
      return;
    }
    result = std::move(fd);
  });
  worker.join();
  return std::move(*result);
}

PingPongServer::~PingPongServer() {
  stopping_ = true;
  ::shutdown(listen_.get(), SHUT_RDWR);  // wakes accept()
  if (int conn = conn_.load(); conn >= 0) ::shutdown(conn, SHUT_RDWR);
  thread_.join();
}

Result<std::unique_ptr<PingPongServer>> PingPongServer::start(const std::string& netns) {
  UniqueFd fd = PODNET_TRY(tcpSocketIn(lab::Layout::netnsPath(netns)));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(kPingPongPort);
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(fd.get(), 8) != 0) {
    return sysError("ping-pong server in " + netns + ": listen on " +
                    std::to_string(kPingPongPort));
  }
  return std::unique_ptr<PingPongServer>(new PingPongServer(std::move(fd)));
}

PingPongServer::PingPongServer(UniqueFd listen) : listen_(std::move(listen)) {
  thread_ = std::thread([this] { run(); });
}

void PingPongServer::run() {
  while (!stopping_) {
    UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // shut down
    }
    conn_ = conn.get();
    if (stopping_) break;
    int one = 1;
    ::setsockopt(conn.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char byte;
    for (;;) {
      ssize_t n = ::recv(conn.get(), &byte, 1, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || ::send(conn.get(), &byte, 1, MSG_NOSIGNAL) != 1) break;
    }
    conn_ = -1;
  }
  conn_ = -1;
}

Result<PingPongClient> PingPongClient::connect(const std::string& netns, Ipv4 destination) {
  const std::string what = "round trips " + netns + " -> " + destination.str();
  UniqueFd fd = PODNET_TRY(tcpSocketIn(lab::Layout::netnsPath(netns)));
  timeval timeout{3, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);  // bounds connect
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  int one = 1;
  ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(kPingPongPort);
  addr.sin_addr.s_addr = htonl(destination.value);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return sysError(what + ": connect");
  }
  PingPongClient client(std::move(fd), what);
  for (int i = 0; i < kWarmupRoundTrips; ++i) {
    if (!client.roundTrip()) return sysError(what + ": warm-up");
  }
  return client;
}

Status PingPongClient::run(double seconds, std::vector<double>& samples) {
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  for (auto now = Clock::now(); now < end && !gInterrupted;) {
    if (!roundTrip()) return sysError(what_);
    const auto after = Clock::now();
    samples.push_back(std::chrono::duration<double, std::micro>(after - now).count());
    now = after;
  }
  return checkInterrupted();
}

bool PingPongClient::roundTrip() {
  char byte = 'x';
  if (::send(fd_.get(), &byte, 1, MSG_NOSIGNAL) != 1) return false;
  for (;;) {
    ssize_t n = ::recv(fd_.get(), &byte, 1, 0);
    if (n == 1) return true;
    if (n < 0 && errno == EINTR && !gInterrupted) continue;
    return false;
  }
}

}  // namespace podnet::bench
