// Keeps this node registered in the store: its Node object (model/objects.h) under a lease that
// the agent refreshes. When the agent is gone for longer than the lease's TTL, etcd deletes the
// object, the other agents drop their routes to the node, and podnet-controller releases its
// pods' addresses.
#pragma once

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "model/objects.h"
#include "store/store.h"

namespace podnet::agent {

class NodeRegistration {
 public:
  // Grants a lease and puts the Node object with it, replacing the object of an earlier run of
  // this agent (whose lease then expires unnoticed: the key already belongs to the new lease).
  // Then refreshes the lease every ttl/3 on its own thread. If the lease is lost anyway (etcd
  // unreachable for longer than the TTL) it registers again as soon as etcd answers.
  static Result<std::unique_ptr<NodeRegistration>> start(store::Store&, model::Node,
                                                         std::chrono::seconds ttl);
  // Stops refreshing but does not revoke: an agent that stops for an upgrade keeps its node, and
  // its pods keep their addresses, as long as it is back within the TTL.
  ~NodeRegistration();
  NodeRegistration(const NodeRegistration&) = delete;
  NodeRegistration& operator=(const NodeRegistration&) = delete;

 private:
  NodeRegistration(store::Store&, model::Node, std::chrono::seconds ttl);
  Status registerNode();
  void refreshLoop();

  store::Store& store_;
  model::Node node_;
  std::chrono::seconds ttl_;
  int64_t lease_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace podnet::agent
