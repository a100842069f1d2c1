// Follows the cluster in the store and keeps this node's overlay (dataplane/overlay.h) matching
// it: every other registered node, and every ready pod on another node.
//
// Sources: Node objects under /podnet/nodes/ (model/objects.h) and attachment records under
// /podnet/attachments/ (agent/attachment.h; an attachment is a pod's published endpoint: address
// and node), each followed by a store::PrefixFollower: a listing syncs the kernel to the whole
// known state, an event changes just its node's or pod's entries. A full sync from the known
// state also runs every resyncPeriod, which repairs kernel entries removed by hand and anything
// an earlier error left undone. No full sync runs before both prefixes have been listed once: a
// restarted agent that knew the nodes but not yet the pods would remove every remote pod's route
// and break established traffic until the pods' listing put them back.
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "dataplane/overlay.h"
#include "store/prefix_follower.h"

namespace podnet::agent {

class OverlaySync {
 public:
  static Result<std::unique_ptr<OverlaySync>> start(
      store::Store&, dataplane::Overlay&, std::string localNode, Backend backend,
      std::chrono::seconds resyncPeriod = std::chrono::seconds(30));
  ~OverlaySync();
  OverlaySync(const OverlaySync&) = delete;
  OverlaySync& operator=(const OverlaySync&) = delete;

 private:
  OverlaySync(store::Store&, dataplane::Overlay&, std::string localNode, Backend backend,
              std::chrono::seconds resyncPeriod);

  void onNodes(const store::Listing&);
  void onNodeEvents(const std::vector<store::WatchEvent>&);
  void onAttachments(const store::Listing&);
  void onAttachmentEvents(const std::vector<store::WatchEvent>&);
  void resyncLoop();
  Status syncKernel();  // callers hold mutex_; does nothing until both prefixes were listed

  // Updates the known state from one store value; both return whether it is in the overlay.
  bool learnNode(const std::string& key, const std::string& value);
  bool learnAttachment(const std::string& key, const std::string& value);
  void forgetPod(const std::string& key);  // callers hold mutex_

  store::Store& store_;
  dataplane::Overlay& overlay_;
  std::string localNode_;
  Backend backend_;
  std::chrono::seconds resyncPeriod_;

  std::mutex mutex_;  // guards the state below and every overlay call
  std::map<std::string, dataplane::NodeEndpoint> nodes_;  // by node name, other nodes only
  std::map<std::string, dataplane::RemotePod> pods_;      // by attachment key, ready, remote
  bool nodesListed_ = false, podsListed_ = false;
  bool stopping_ = false;
  std::condition_variable cv_;

  std::unique_ptr<store::PrefixFollower> nodeFollower_;
  std::unique_ptr<store::PrefixFollower> podFollower_;
  std::thread thread_;  // the periodic resync
};

}  // namespace podnet::agent
