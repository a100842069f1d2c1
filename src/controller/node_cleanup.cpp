#include "controller/node_cleanup.h"

#include <spdlog/spdlog.h>

#include "agent/attachment.h"
#include "ipam/allocator.h"
#include "model/objects.h"

namespace podnet::controller {

Result<size_t> releaseNodeAttachments(store::Store& store, const std::string& node) {
  size_t released = 0;
  for (const auto& kv : PODNET_TRY(store.list(agent::Attachment::kPrefix))) {
    auto a = agent::attachmentFromJson(kv.value);
    if (!a) {
      spdlog::warn("store key {}: {}", kv.key, a.error().message);
      continue;
    }
    if (a->node != node) continue;
    PODNET_TRY_STATUS(ipam::releaseReservation(store, a->pool, a->address.addr, a->owner(),
                                               {store::Op::del(kv.key)}));
    spdlog::info("node {} is gone: released {} of {}", node, a->address.addr.str(), a->owner());
    ++released;
  }
  return released;
}

NodeCleanup::NodeCleanup(store::Store& store, Options options) : store_(store), options_(options) {}

Result<std::unique_ptr<NodeCleanup>> NodeCleanup::start(store::Store& store, Options options) {
  std::unique_ptr<NodeCleanup> c(new NodeCleanup(store, options));
  NodeCleanup* p = c.get();
  // A listing needs nothing here: the sweeps compare it with the attachments anyway.
  p->nodes_ = PODNET_TRY(store::PrefixFollower::start(
      store, model::Node::kPrefix,
      {[](const store::Listing&) {},
       [p](const std::vector<store::WatchEvent>& events) {
         std::lock_guard guard(p->mutex_);
         for (const auto& ev : events) {
           if (ev.type != store::WatchEvent::Type::kDelete) continue;
           p->gone_.insert(ev.kv.key.substr(std::string(model::Node::kPrefix).size()));
         }
         p->cv_.notify_all();
       }}));
  p->thread_ = std::thread([p] { p->loop(); });
  return c;
}

NodeCleanup::~NodeCleanup() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  nodes_.reset();
}

Result<size_t> NodeCleanup::sweep() {
  std::set<std::string> registered;
  for (const auto& kv : PODNET_TRY(store_.list(model::Node::kPrefix))) {
    registered.insert(kv.key.substr(std::string(model::Node::kPrefix).size()));
  }
  std::set<std::string> orphaned;
  for (const auto& kv : PODNET_TRY(store_.list(agent::Attachment::kPrefix))) {
    auto a = agent::attachmentFromJson(kv.value);
    if (a && !registered.count(a->node)) orphaned.insert(a->node);
  }
  size_t released = 0;
  for (const auto& node : orphaned) released += PODNET_TRY(releaseNodeAttachments(store_, node));
  return released;
}

void NodeCleanup::loop() {
  auto nextSweep = std::chrono::steady_clock::now() + options_.startupGrace;
  std::unique_lock guard(mutex_);
  while (!stopping_) {
    cv_.wait_until(guard, nextSweep, [&] { return stopping_ || !gone_.empty(); });
    if (stopping_) return;
    std::set<std::string> gone = std::move(gone_);
    gone_.clear();
    guard.unlock();
    for (const auto& node : gone) {
      // Deleted, but maybe registered again since (an agent that came back): check first.
      auto back = store_.get(std::string(model::Node::kPrefix) + node);
      if (back && *back) continue;
      spdlog::info("node {} is gone (its lease expired)", node);
      if (auto n = releaseNodeAttachments(store_, node); !n) {
        spdlog::error("releasing node {}: {}", node, n.error().message);  // the sweep retries
      }
    }
    if (std::chrono::steady_clock::now() >= nextSweep) {
      if (auto n = sweep(); !n) spdlog::warn("sweep: {}", n.error().message);
      nextSweep = std::chrono::steady_clock::now() + options_.sweepPeriod;
    }
    guard.lock();
  }
}

}  // namespace podnet::controller
