// Collects what a watch delivers, for tests: callbacks append, the test waits for a count.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "store/store.h"

namespace podnet::testing {

class EventLog {
 public:
  std::function<void(const std::vector<store::WatchEvent>&)> onEvents() {
    return [this](const std::vector<store::WatchEvent>& events) {
      std::lock_guard lock(mutex_);
      for (const auto& event : events) events_.push_back(event);
      changed_.notify_all();
    };
  }
  std::function<void(const Error&)> onError() {
    return [this](const Error& error) {
      std::lock_guard lock(mutex_);
      error_ = error;
      changed_.notify_all();
    };
  }

  // Every event so far once there are at least n (or an error came). The bound only keeps a
  // broken watch from hanging the test; the count is what the test asserts.
  std::vector<store::WatchEvent> waitFor(size_t n) {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, kPatience, [&] { return events_.size() >= n || error_; });
    EXPECT_FALSE(error_) << error_->message;
    return events_;
  }

  std::optional<Error> waitForError() {
    std::unique_lock lock(mutex_);
    changed_.wait_for(lock, kPatience, [&] { return error_.has_value(); });
    return error_;
  }

  std::vector<store::WatchEvent> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }

 private:
  static constexpr std::chrono::seconds kPatience{20};
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<store::WatchEvent> events_;
  std::optional<Error> error_;
};

// "put /a=1@5" or "delete /a@6": compact and readable in failure output.
inline std::string describe(const store::WatchEvent& event) {
  if (event.type == store::WatchEvent::Type::kDelete) {
    return "delete " + event.kv.key + "@" + std::to_string(event.kv.modRevision);
  }
  return "put " + event.kv.key + "=" + event.kv.value + "@" + std::to_string(event.kv.modRevision);
}

inline std::vector<std::string> describe(const std::vector<store::WatchEvent>& events) {
  std::vector<std::string> out;
  for (const auto& event : events) out.push_back(describe(event));
  return out;
}

}  // namespace podnet::testing
