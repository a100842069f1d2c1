#include "agent/node_registration.h"

#include <spdlog/spdlog.h>

namespace podnet::agent {

NodeRegistration::NodeRegistration(store::Store& store, model::Node node, std::chrono::seconds ttl)
    : store_(store), node_(std::move(node)), ttl_(ttl) {}

Result<std::unique_ptr<NodeRegistration>> NodeRegistration::start(store::Store& store,
                                                                  model::Node node,
                                                                  std::chrono::seconds ttl) {
  std::unique_ptr<NodeRegistration> reg(new NodeRegistration(store, std::move(node), ttl));
  PODNET_TRY_STATUS(reg->registerNode());
  reg->thread_ = std::thread([r = reg.get()] { r->refreshLoop(); });
  return reg;
}

NodeRegistration::~NodeRegistration() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status NodeRegistration::registerNode() {
  int64_t lease = PODNET_TRY(store_.grantLease(ttl_));
  auto put = store_.txn({}, {store::Op::put(node_.key(), model::toJson(node_).dump(), lease)});
  if (!put) return put.error().context("registering node " + node_.name);
  lease_ = lease;
  spdlog::info("node {} registered (underlay {}, lease {:x}, ttl {}s)", node_.name,
               node_.underlayIp.str(), lease, ttl_.count());
  return okStatus();
}

void NodeRegistration::refreshLoop() {
  const auto period = std::max<std::chrono::milliseconds>(ttl_ / 3, std::chrono::seconds(1));
  std::unique_lock guard(mutex_);
  auto next = std::chrono::steady_clock::now() + period;
  while (!cv_.wait_until(guard, next, [&] { return stopping_; })) {
    guard.unlock();
    Status st = store_.keepAlive(lease_);
    if (!st && st.error().code == Errc::kNotFound) {
      spdlog::warn("node {}: lease expired; registering again", node_.name);
      st = registerNode();
    }
    guard.lock();
    if (!st) {
      spdlog::warn("node {}: refreshing the lease: {}", node_.name, st.error().message);
      next = std::chrono::steady_clock::now() + std::chrono::seconds(1);  // etcd is back soon
    } else {
      next = std::chrono::steady_clock::now() + period;
    }
  }
}

}  // namespace podnet::agent
