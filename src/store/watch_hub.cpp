#include "store/watch_hub.h"

#include <algorithm>
#include <condition_variable>
#include <thread>
#include <variant>

namespace podnet::store {

// Delivers one watch's batches on its own thread, so a slow or re-entrant callback (one that
// calls the store) never blocks the writer that published.
class WatchHub::Watcher {
 public:
  Watcher(std::string prefix, std::function<void(const std::vector<WatchEvent>&)> onEvents,
          std::function<void(const Error&)> onError)
      : prefix_(std::move(prefix)), onEvents_(std::move(onEvents)), onError_(std::move(onError)) {
    thread_ = std::thread([this] { run(); });
  }
  ~Watcher() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  bool matches(const std::string& key) const { return key.starts_with(prefix_); }

  // Queues the events under prefix (all of one transaction, or a replay in revision order).
  void push(const std::vector<WatchEvent>& events) {
    std::vector<WatchEvent> mine;
    for (const WatchEvent& event : events) {
      if (matches(event.kv.key)) mine.push_back(event);
    }
    if (mine.empty()) return;
    enqueue(std::move(mine));
  }
  void fail(Error error) { enqueue(std::move(error)); }

 private:
  using Item = std::variant<std::vector<WatchEvent>, Error>;

  void enqueue(Item item) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(item));
    }
    wake_.notify_one();
  }

  void run() {
    std::unique_lock lock(mutex_);
    while (true) {
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      Item item = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      if (auto* events = std::get_if<std::vector<WatchEvent>>(&item)) {
        onEvents_(*events);
        lock.lock();
        continue;
      }
      onError_(std::get<Error>(item));
      return;  // an error ends the watch
    }
  }

  const std::string prefix_;
  const std::function<void(const std::vector<WatchEvent>&)> onEvents_;
  const std::function<void(const Error&)> onError_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// What the caller holds: unregisters the watcher, then stops its thread.
class WatchHub::Handle final : public Watch {
 public:
  Handle(std::shared_ptr<WatchHub> hub, std::shared_ptr<Watcher> watcher)
      : hub_(std::move(hub)), watcher_(std::move(watcher)) {}
  ~Handle() override { hub_->remove(watcher_.get()); }

 private:
  std::shared_ptr<WatchHub> hub_;
  std::shared_ptr<Watcher> watcher_;
};

WatchHub::WatchHub(std::string storeName, int64_t revision, size_t historyLimit)
    : storeName_(std::move(storeName)),
      historyLimit_(historyLimit),
      revision_(revision),
      historyStart_(revision) {}

Error WatchHub::lost(int64_t afterRevision, const std::string& why) const {
  return makeError(Errc::kConflict, "store " + storeName_ + ": watch after revision " +
                                        std::to_string(afterRevision) + ": " + why +
                                        "; list again and watch from the listing's revision");
}

void WatchHub::publish(int64_t previous, std::vector<WatchEvent> events) {
  std::lock_guard lock(mutex_);
  if (previous != revision_) {
    for (const auto& watcher : watchers_) {
      watcher->fail(lost(revision_, "revisions " + std::to_string(revision_ + 1) + " to " +
                                        std::to_string(previous) +
                                        " were written by another connection to the file"));
    }
    watchers_.clear();
    history_.clear();
    historyStart_ = previous;
  }
  revision_ = previous + 1;
  for (const auto& watcher : watchers_) watcher->push(events);
  for (WatchEvent& event : events) history_.push_back(std::move(event));
  while (history_.size() > historyLimit_) {
    // Once part of a revision is gone, that whole revision can no longer be replayed.
    historyStart_ = std::max(historyStart_, history_.front().kv.modRevision);
    history_.pop_front();
  }
}

Result<std::unique_ptr<Watch>> WatchHub::watch(
    const std::string& prefix, int64_t afterRevision,
    std::function<void(const std::vector<WatchEvent>&)> onEvents,
    std::function<void(const Error&)> onError) {
  auto watcher = std::make_shared<Watcher>(prefix, std::move(onEvents), std::move(onError));
  std::lock_guard lock(mutex_);
  if (afterRevision < historyStart_) {
    watcher->fail(lost(afterRevision, "this process keeps events after revision " +
                                          std::to_string(historyStart_) + " only"));
  } else {
    std::vector<WatchEvent> replay;
    for (const WatchEvent& event : history_) {
      if (event.kv.modRevision > afterRevision) replay.push_back(event);
    }
    watcher->push(replay);
    watchers_.push_back(watcher);
  }
  return std::unique_ptr<Watch>(new Handle(shared_from_this(), std::move(watcher)));
}

void WatchHub::remove(const Watcher* watcher) {
  std::lock_guard lock(mutex_);
  std::erase_if(watchers_, [&](const auto& w) { return w.get() == watcher; });
}

}  // namespace podnet::store
