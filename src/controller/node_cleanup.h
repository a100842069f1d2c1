// podnet-controller's cluster-wide cleanup: when a node's lease expires, etcd deletes its Node
// object (agent/node_registration.h); the controller then releases every address that node's
// pods held and deletes their attachment records, so the addresses go back to their subnets and
// every other agent drops its routes to those pods (agent/overlay_sync.h).
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "store/prefix_follower.h"

namespace podnet::controller {

// Releases the address and deletes the record of every attachment on node, one transaction each
// (the address is released only if the attachment still holds it). Returns how many.
Result<size_t> releaseNodeAttachments(store::Store&, const std::string& node);

class NodeCleanup {
 public:
  struct Options {
    // Before the first sweep: agents restarting together with the controller register again.
    std::chrono::seconds startupGrace{10};
    // Also sweeps every period: attachments of any node that is not registered are released,
    // which catches a node that expired while no controller ran.
    std::chrono::seconds sweepPeriod{10};
  };

  // Watches /podnet/nodes/ and releases a node's attachments as soon as its object is deleted.
  static Result<std::unique_ptr<NodeCleanup>> start(store::Store&, Options);
  ~NodeCleanup();
  NodeCleanup(const NodeCleanup&) = delete;
  NodeCleanup& operator=(const NodeCleanup&) = delete;

  // One sweep now; returns how many attachments it released.
  Result<size_t> sweep();

 private:
  NodeCleanup(store::Store&, Options);
  void loop();

  store::Store& store_;
  Options options_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::set<std::string> gone_;  // nodes deleted since the loop last ran
  bool stopping_ = false;
  std::unique_ptr<store::PrefixFollower> nodes_;
  std::thread thread_;
};

}  // namespace podnet::controller
