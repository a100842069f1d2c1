#include "agent/overlay_sync.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "agent/attachment.h"
#include "model/objects.h"

namespace podnet::agent {

OverlaySync::OverlaySync(store::Store& store, dataplane::Overlay& overlay, std::string localNode,
                         Backend backend, std::chrono::seconds resyncPeriod)
    : store_(store),
      overlay_(overlay),
      localNode_(std::move(localNode)),
      backend_(backend),
      resyncPeriod_(resyncPeriod) {}

Result<std::unique_ptr<OverlaySync>> OverlaySync::start(store::Store& store,
                                                        dataplane::Overlay& overlay,
                                                        std::string localNode, Backend backend,
                                                        std::chrono::seconds resyncPeriod) {
  std::unique_ptr<OverlaySync> sync(
      new OverlaySync(store, overlay, std::move(localNode), backend, resyncPeriod));
  OverlaySync* s = sync.get();
  // Nodes first: the pods' listing then finds their nodes and programs them at once.
  s->nodeFollower_ = PODNET_TRY(store::PrefixFollower::start(
      store, model::Node::kPrefix,
      {[s](const store::Listing& l) { s->onNodes(l); },
       [s](const std::vector<store::WatchEvent>& ev) { s->onNodeEvents(ev); }}));
  s->podFollower_ = PODNET_TRY(store::PrefixFollower::start(
      store, Attachment::kPrefix,
      {[s](const store::Listing& l) { s->onAttachments(l); },
       [s](const std::vector<store::WatchEvent>& ev) { s->onAttachmentEvents(ev); }}));
  s->thread_ = std::thread([s] { s->resyncLoop(); });
  return sync;
}

OverlaySync::~OverlaySync() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Stopped before the state their callbacks use; the kernel keeps what was programmed.
  podFollower_.reset();
  nodeFollower_.reset();
}

void OverlaySync::onNodes(const store::Listing& listing) {
  std::lock_guard guard(mutex_);
  nodes_.clear();
  for (const auto& kv : listing.kvs) learnNode(kv.key, kv.value);
  nodesListed_ = true;
  if (auto st = syncKernel(); !st) spdlog::error("overlay sync: {}", st.error().message);
  spdlog::info("overlay: {} remote node(s)", nodes_.size());
}

void OverlaySync::onAttachments(const store::Listing& listing) {
  std::lock_guard guard(mutex_);
  pods_.clear();
  for (const auto& kv : listing.kvs) learnAttachment(kv.key, kv.value);
  podsListed_ = true;
  if (auto st = syncKernel(); !st) spdlog::error("overlay sync: {}", st.error().message);
  spdlog::info("overlay: {} remote pod(s)", pods_.size());
}

bool OverlaySync::learnNode(const std::string& key, const std::string& value) {
  auto json = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  auto node = model::nodeFromJson(json);
  if (!node) {
    spdlog::warn("overlay: ignoring store key {}: {}", key, node.error().message);
    return false;
  }
  if (node->name == localNode_) return false;
  if (node->backend && *node->backend != backend_) {
    spdlog::error("overlay: node {} uses backend {}, this node {}: its pods are unreachable",
                  node->name, backendName(*node->backend), backendName(backend_));
    return false;
  }
  nodes_[node->name] = {node->name, node->underlayIp, node->vtepMac};
  return true;
}

bool OverlaySync::learnAttachment(const std::string& key, const std::string& value) {
  auto a = attachmentFromJson(value);
  if (!a) {
    spdlog::warn("overlay: ignoring store key {}: {}", key, a.error().message);
    return false;
  }
  // Only a ready pod on another node needs a route; local pods are wired by CniService, and a
  // pending or releasing one holds an address nobody may be sent to yet or any more.
  if (a->node == localNode_ || a->state != Attachment::State::kReady) return false;
  pods_[key] = {a->address.addr, a->node};
  return true;
}

void OverlaySync::forgetPod(const std::string& key) {
  auto it = pods_.find(key);
  if (it == pods_.end()) return;
  Ipv4 ip = it->second.ip;
  pods_.erase(it);
  for (const auto& [k, pod] : pods_) {
    if (pod.ip == ip) return;  // still routed for another record (a pod that moved)
  }
  if (auto st = overlay_.removePod(ip); !st) {
    spdlog::error("overlay: removing pod {}: {}", ip.str(), st.error().message);
  }
}

void OverlaySync::onNodeEvents(const std::vector<store::WatchEvent>& events) {
  std::lock_guard guard(mutex_);
  for (const auto& ev : events) {
    std::string name = ev.kv.key.substr(std::string(model::Node::kPrefix).size());
    if (ev.type == store::WatchEvent::Type::kDelete) {
      if (nodes_.erase(name) == 0) continue;
      spdlog::info("overlay: node {} is gone; removing its routes", name);
      if (auto st = overlay_.removeNode(name); !st) {
        spdlog::error("overlay: removing node {}: {}", name, st.error().message);
      }
      continue;
    }
    if (!learnNode(ev.kv.key, ev.kv.value)) continue;
    if (auto st = overlay_.upsertNode(nodes_[name]); !st) {
      spdlog::error("overlay: node {}: {}", name, st.error().message);
      continue;
    }
    for (const auto& [key, pod] : pods_) {
      if (pod.node != name) continue;
      if (auto st = overlay_.upsertPod(pod); !st) {
        spdlog::error("overlay: pod {}: {}", pod.ip.str(), st.error().message);
      }
    }
  }
}

void OverlaySync::onAttachmentEvents(const std::vector<store::WatchEvent>& events) {
  std::lock_guard guard(mutex_);
  for (const auto& ev : events) {
    if (ev.type == store::WatchEvent::Type::kDelete || !learnAttachment(ev.kv.key, ev.kv.value)) {
      forgetPod(ev.kv.key);
      continue;
    }
    const auto& pod = pods_[ev.kv.key];
    if (nodes_.count(pod.node) == 0) continue;  // programmed when its node registers
    if (auto st = overlay_.upsertPod(pod); !st) {
      spdlog::error("overlay: pod {}: {}", pod.ip.str(), st.error().message);
    }
  }
}

Status OverlaySync::syncKernel() {
  if (!nodesListed_ || !podsListed_) return okStatus();
  std::vector<dataplane::NodeEndpoint> nodes;
  for (const auto& [name, node] : nodes_) nodes.push_back(node);
  std::vector<dataplane::RemotePod> pods;
  for (const auto& [key, pod] : pods_) {
    if (nodes_.count(pod.node)) pods.push_back(pod);
  }
  return overlay_.sync(nodes, pods);
}

void OverlaySync::resyncLoop() {
  std::unique_lock guard(mutex_);
  while (!cv_.wait_for(guard, resyncPeriod_, [&] { return stopping_; })) {
    if (auto st = syncKernel(); !st) spdlog::error("overlay resync: {}", st.error().message);
  }
}

}  // namespace podnet::agent
