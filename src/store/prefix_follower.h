// Follows everything under one prefix, the way a Kubernetes informer does: a full listing, then
// every change from the listing's revision on, and a new full listing whenever the watch cannot
// resume (etcd compacted the revision it needed). A lost connection needs nothing: the store's
// watch reconnects and resumes by itself.
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"

namespace podnet::store {

class PrefixFollower {
 public:
  struct Handlers {
    std::function<void(const Listing&)> onListing;  // replaces everything known before
    std::function<void(const std::vector<WatchEvent>&)> onEvents;
  };

  // Delivers the first listing before returning (an error if it cannot be read). Later listings
  // and events arrive on the follower's threads, one callback at a time.
  static Result<std::unique_ptr<PrefixFollower>> start(Store&, std::string prefix, Handlers);
  ~PrefixFollower();
  PrefixFollower(const PrefixFollower&) = delete;
  PrefixFollower& operator=(const PrefixFollower&) = delete;

 private:
  PrefixFollower(Store&, std::string prefix, Handlers);
  Status listAndWatch();
  void relistLoop();

  Store& store_;
  std::string prefix_;
  Handlers handlers_;
  std::mutex callbackMutex_;  // one callback at a time, across watches and relists
  std::mutex mutex_;
  std::condition_variable cv_;
  bool relistNeeded_ = false;
  bool stopping_ = false;
  std::unique_ptr<Watch> watch_;  // only touched by start() and relistLoop()
  std::thread thread_;
};

}  // namespace podnet::store
