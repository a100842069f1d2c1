// A real etcd for tests: one member on loopback ports, its data in a fresh directory. The server is
// killed and the directory removed on destruction, even when the test failed; if the test process
// itself dies, the kernel kills etcd (PR_SET_PDEATHSIG). restart() keeps the data directory and
// the ports, as an etcd restarted by its supervisor would.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "store/etcd_store.h"
#include "support/child_process.h"
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
    etcd_.kill();
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
    std::string log = dir_.path() + "/etcd.log";
    if (!etcd_.start(args, log)) {
      ADD_FAILURE() << "fork etcd failed";
      return false;
    }
    // etcd needs about half a second to elect itself; wait while it still runs.
    for (int i = 0; i < 60; ++i) {
      if (!etcd_.running()) {
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
  ChildProcess etcd_;
  bool ready_ = false;
};

}  // namespace podnet::testing
