// A real etcd for tests: one member on loopback ports, its data in a fresh directory. The server is
// killed and the directory removed on destruction, even when the test failed; if the test process
// itself dies, the kernel kills etcd (PR_SET_PDEATHSIG). restart() keeps the data directory and
// the ports, as an etcd restarted by its supervisor would.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "store/etcd_store.h"
#include "support/free_port.h"
#include "support/temp_dir.h"

namespace podnet::testing {

class EtcdServer {
 public:
  static constexpr const char* kBinary = "/usr/bin/etcd";

  EtcdServer() : clientPort_(freeLoopbackPort()), peerPort_(freeLoopbackPort()) { start(); }
  ~EtcdServer() { stop(); }
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // "127.0.0.1:<port>"; empty when etcd did not come up (the failure is already recorded).
  std::string endpoint() const { return ready_ ? address(clientPort_) : std::string(); }

  // SIGKILL, as a crash: nothing is flushed beyond what etcd already committed.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    ready_ = false;
  }

  // Starts etcd on the same data directory and ports; waits until it serves.
  bool start() {
    std::string client = "http://" + address(clientPort_);
    std::string peer = "http://" + address(peerPort_);
    std::vector<std::string> args{kBinary,
                                  "--name=default",
                                  "--data-dir=" + dir_.path() + "/data",
                                  "--listen-client-urls=" + client,
                                  "--advertise-client-urls=" + client,
                                  "--listen-peer-urls=" + peer,
                                  "--initial-advertise-peer-urls=" + peer,
                                  "--initial-cluster=default=" + peer};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    std::string log = dir_.path() + "/etcd.log";
    pid_t child = ::fork();
    if (child == 0) {
      // Only async-signal-safe calls between fork and exec (the test process has threads).
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
      if (fd >= 0) {
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
      }
      ::execv(kBinary, argv.data());
      ::_exit(127);
    }
    pid_ = child;
    if (pid_ < 0) {
      ADD_FAILURE() << "fork etcd failed";
      return false;
    }
    // etcd needs about half a second to elect itself; wait while it still runs.
    for (int i = 0; i < 60; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        ADD_FAILURE() << "etcd exited at start; see " << log;
        return false;
      }
      if (store::EtcdStore::connect({address(clientPort_)}, std::chrono::milliseconds(500))) {
        ready_ = true;
        return true;
      }
    }
    ADD_FAILURE() << "etcd did not serve within 30 s; see " << log;
    return false;
  }

 private:
  static std::string address(int port) { return "127.0.0.1:" + std::to_string(port); }

  TempDir dir_;  // first member: removed after the server is stopped
  int clientPort_;
  int peerPort_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

}  // namespace podnet::testing
