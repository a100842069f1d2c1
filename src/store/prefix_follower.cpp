#include "store/prefix_follower.h"

namespace podnet::store {

PrefixFollower::PrefixFollower(Store& store, std::string prefix, Handlers handlers)
    : store_(store), prefix_(std::move(prefix)), handlers_(std::move(handlers)) {}

Result<std::unique_ptr<PrefixFollower>> PrefixFollower::start(Store& store, std::string prefix,
                                                              Handlers handlers) {
  std::unique_ptr<PrefixFollower> f(
      new PrefixFollower(store, std::move(prefix), std::move(handlers)));
  PODNET_TRY_STATUS(f->listAndWatch());
  f->thread_ = std::thread([p = f.get()] { p->relistLoop(); });
  return f;
}

PrefixFollower::~PrefixFollower() {
  {
    std::lock_guard guard(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  watch_.reset();
}

Status PrefixFollower::listAndWatch() {
  watch_.reset();  // its destructor waits for a running callback: never call this from one
  auto listing = store_.listWithRevision(prefix_);
  if (!listing) return listing.error().context("listing " + prefix_);
  {
    std::lock_guard guard(callbackMutex_);
    handlers_.onListing(*listing);
  }
  auto watch = store_.watch(
      prefix_, listing->revision,
      [this](const std::vector<WatchEvent>& events) {
        std::lock_guard guard(callbackMutex_);
        handlers_.onEvents(events);
      },
      [this](const Error&) {
        std::lock_guard guard(mutex_);
        relistNeeded_ = true;
        cv_.notify_all();
      });
  if (!watch) return watch.error().context("watching " + prefix_);
  watch_ = std::move(*watch);
  return okStatus();
}

void PrefixFollower::relistLoop() {
  std::unique_lock guard(mutex_);
  while (true) {
    cv_.wait(guard, [&] { return stopping_ || relistNeeded_; });
    if (stopping_) return;
    relistNeeded_ = false;
    guard.unlock();
    Status st = listAndWatch();
    guard.lock();
    if (!st) {
      relistNeeded_ = true;  // etcd is down: try again shortly
      cv_.wait_for(guard, std::chrono::seconds(1), [&] { return stopping_; });
    }
  }
}

}  // namespace podnet::store
