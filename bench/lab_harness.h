// What podnet-bench-lab's sections share: the lab brought up and always taken down, programs run
// inside a lab namespace, iperf3 throughput, 1-byte TCP round trips, percentiles and the machine's
// load.
//
// Round trips use a client and server of our own, not sockperf: the issues ask for 1-byte
// request/response (sockperf's smallest message is 14 bytes), we keep every sample so p50/p99 pool
// all rounds (sockperf prints per-run percentiles in coloured text to parse), and sockperf's
// 400 ms warm-up leaves a 1 s run without observations. iperf3 measures throughput: a bulk TCP
// stream with the kernel's defaults is exactly its job.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "common/ip.h"
#include "common/result.h"
#include "lab/lab.h"

namespace podnet::bench {

using Clock = std::chrono::steady_clock;

// Set by SIGINT/SIGTERM: every loop stops at its next step and the lab is taken down on the way
// out.
extern volatile sig_atomic_t gInterrupted;

inline constexpr uint16_t kIperfPort = 5201;
inline constexpr uint16_t kPingPongPort = 7001;

Error sysError(const std::string& what);
// kUnavailable "interrupted" once a stop was asked for.
Status checkInterrupted();
double msSince(Clock::time_point start, Clock::time_point end = Clock::now());
// Nearest-rank percentile; NaN for no samples.
double percentile(std::vector<double> samples, double p);
// The middle value; the mean of the two middle ones for an even count; NaN for no samples.
double median(std::vector<double> samples);
// The machine's load averages (1, 5, 15 min): how shared it was while the figures were taken.
std::string loadAverage();

// The lab, brought up for one backend and always taken down: when the benchmark ends, fails,
// throws or is interrupted (SIGINT/SIGTERM stop it between two steps).
class LabSession {
 public:
  explicit LabSession(lab::Lab& lab) : lab_(lab) {}
  LabSession(const LabSession&) = delete;
  LabSession& operator=(const LabSession&) = delete;
  ~LabSession();

  // Removes a stale lab of the same name first (an earlier run that died).
  Status up(const std::string& backend, int nodes, bool fastPath = false);

 private:
  lab::Lab& lab_;
};

// A program run inside a network namespace (fork, setns, exec), tagged PODNET_LAB=<lab> so that
// `lab down` finds it even if the benchmark dies. Terminated when the object goes.
class NetnsChild {
 public:
  NetnsChild(const NetnsChild&) = delete;
  NetnsChild& operator=(const NetnsChild&) = delete;
  NetnsChild(NetnsChild&& other) noexcept
      : pid_(std::exchange(other.pid_, -1)), out_(std::move(other.out_)) {}
  ~NetnsChild();

  // captureOutput: stdout and stderr into a pipe for output(); else both go to /dev/null.
  static Result<NetnsChild> start(const std::string& netns, const std::vector<std::string>& argv,
                                  const std::string& labName, bool captureOutput);

  pid_t pid() const { return pid_; }

  // Everything the program wrote, once it has exited; kIo with that text when it failed.
  Result<std::string> output();

 private:
  explicit NetnsChild(pid_t pid) : pid_(pid) {}

  pid_t pid_ = -1;
  UniqueFd out_;
};

// Keeps the CPUs out of idle states that take long to leave while it lives (a PM QoS request of
// 0 us on /dev/cpu_dma_latency; idle CPUs poll instead). A round trip that finds its CPU halted
// pays the wake-up, ~90 us on the CI machine against ~35 us for the trip itself, and whether it
// does depends on how busy the machine is, not on the path: without this, p50s flip between the
// two from run to run, for pods and nodes alike. An unavailable device is not an error (the
// benchmark then says so).
class CpuLatencyHold {
 public:
  static CpuLatencyHold acquire();
  bool held() const { return fd_.valid(); }

 private:
  explicit CpuLatencyHold(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// An iperf3 server on kIperfPort in netns, once it listens.
Result<NetnsChild> startIperfServer(const std::string& netns, const std::string& labName);
// One iperf3 run from netns to destination: the receiver's throughput in Gbit/s.
Result<double> iperfGbps(const std::string& netns, Ipv4 destination, int seconds,
                         const std::string& labName);

// A TCP socket that lives in the network namespace at path (made by a thread that enters it, so
// the caller never changes namespace; the socket stays in that namespace).
Result<UniqueFd> tcpSocketIn(const std::string& path);

// Answers each 1-byte request with 1 byte on kPingPongPort, one connection at a time, in a thread
// of its own.
class PingPongServer {
 public:
  PingPongServer(const PingPongServer&) = delete;
  PingPongServer& operator=(const PingPongServer&) = delete;
  ~PingPongServer();

  static Result<std::unique_ptr<PingPongServer>> start(const std::string& netns);

 private:
  explicit PingPongServer(UniqueFd listen);
  void run();

  UniqueFd listen_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> conn_{-1};
  std::thread thread_;
};

// Round trips of 1 byte each way on one TCP connection (TCP_NODELAY), from a namespace to a
// PingPongServer.
class PingPongClient {
 public:
  // Connects and runs a warm-up (neighbours resolved, caches warm).
  static Result<PingPongClient> connect(const std::string& netns, Ipv4 destination);

  // Round trips for `seconds`, each one's time in µs appended to samples.
  Status run(double seconds, std::vector<double>& samples);

 private:
  PingPongClient(UniqueFd fd, std::string what) : fd_(std::move(fd)), what_(std::move(what)) {}
  bool roundTrip();

  UniqueFd fd_;
  std::string what_;
};

}  // namespace podnet::bench
