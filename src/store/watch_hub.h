// WatchHub: watches for a store that sees every write itself (the embedded SqliteStore). The
// store publishes each transaction's events; the hub fans them out to the watches whose prefix
// matches and keeps a bounded history so a new watch can start from an earlier revision.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "store/store.h"

namespace podnet::store {

class WatchHub : public std::enable_shared_from_this<WatchHub> {
 public:
  // revision: the store's revision now; watches can start from it or any later revision.
  // historyLimit: how many past events are kept for watches that start from an earlier one.
  WatchHub(std::string storeName, int64_t revision, size_t historyLimit);

  // One writing transaction: the store moved from revision previous to previous + 1 and events
  // all carry previous + 1. When previous is not the revision last published, another writer
  // (a second connection to the same file) changed the store unseen: the history is dropped and
  // every watch gets kConflict, since it cannot be told what it missed.
  void publish(int64_t previous, std::vector<WatchEvent> events);

  Result<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t afterRevision,
                                       std::function<void(const std::vector<WatchEvent>&)> onEvents,
                                       std::function<void(const Error&)> onError);

 private:
  class Watcher;
  class Handle;
  void remove(const Watcher* watcher);
  Error lost(int64_t afterRevision, const std::string& why) const;

  const std::string storeName_;
  const size_t historyLimit_;
  std::mutex mutex_;
  int64_t revision_;
  int64_t historyStart_;  // history_ holds every event with a revision above this one
  std::deque<WatchEvent> history_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
};

}  // namespace podnet::store
