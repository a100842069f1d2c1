// Reflector: follows one collection of the API server as client-go's reflector does. It lists
// (paginated), delivers the objects as adds, then watches from the list's resourceVersion with
// bookmarks. When the watch ends it resumes from the last resourceVersion it saw (an event's or a
// bookmark's); when the API server answers `410 Gone` (the HTTP status, or an ERROR event with
// code 410: that revision is compacted or out of the watch cache), it lists again and delivers
// only the difference from what it had delivered: adds, updates (a new resourceVersion) and
// deletes (with the last object it knew). A failed list or watch (the API server down, a
// refusal) is reported and retried with backoff, 100 ms doubling to 5 s.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "k8s/client.h"

namespace podnet::k8s {

struct WatchEvent {
  enum class Type { kAdded, kModified, kDeleted, __MAX };
  Type type = Type::kAdded;
  nlohmann::json object;
};

const char* watchEventTypeName(WatchEvent::Type type);

struct WatchHandlers {
  // The objects of the first list as adds (an empty batch when there are none), then each change;
  // after a relist, only the difference. Called on the reflector's thread, one batch at a time.
  std::function<void(const std::vector<WatchEvent>&)> onEvents;
  // A bookmark: every object up to this resourceVersion has been delivered. Optional.
  std::function<void(const std::string& resourceVersion)> onBookmark;
  // A list or watch that failed and will be retried (the error names verb and resource). Optional.
  std::function<void(const Error&)> onError;
};

struct WatchOptions {
  std::string labelSelector;
  std::string fieldSelector;
  int64_t pageSize = 500;
  // How long the API server keeps one watch request open; the reflector then watches again
  // from where it was. Zero: a random time between 5 and 10 minutes, as client-go does.
  std::chrono::seconds watchTimeout{0};
  std::chrono::milliseconds minBackoff{100};
  std::chrono::milliseconds maxBackoff{5000};
};

class Reflector {
 public:
  // Starts following `path` (a collection: resourcePath("v1", "configmaps", "shop")) on a thread
  // of its own. client must outlive the reflector.
  Reflector(Client& client, std::string path, WatchHandlers handlers, WatchOptions options = {});
  // Stops and joins the thread: within about a second while watching, after the request in
  // flight while listing. No handler runs after it returns.
  ~Reflector();
  Reflector(const Reflector&) = delete;
  Reflector& operator=(const Reflector&) = delete;

  bool synced() const { return synced_.load(); }       // the first list has been delivered
  int64_t relists() const { return relists_.load(); }  // lists after the first one

 private:
  enum class WatchEnd { kEnded, kExpired, kFailed };

  void run();
  Status relist();
  WatchEnd watchOnce();
  // Applies one line of the watch stream; false ends the watch with *end set.
  bool applyLine(const std::string& line, std::vector<WatchEvent>& batch, WatchEnd* end);
  bool sleepFor(std::chrono::milliseconds delay);  // false once stopping
  void report(const Error& error);

  Client& client_;
  const std::string path_;
  const WatchHandlers handlers_;
  const WatchOptions options_;

  // Touched only by the reflector's thread.
  std::map<std::string, nlohmann::json> known_;  // "namespace/name" -> the last object delivered
  std::string resourceVersion_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> synced_{false};
  std::atomic<int64_t> relists_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace podnet::k8s
