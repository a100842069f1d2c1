#include "k8s/reflector.h"

#include <random>

namespace podnet::k8s {
namespace {

using nlohmann::json;

std::string keyOf(const json& object) {
  const json& meta = object.value("metadata", json::object());
  return meta.value("namespace", "") + "/" + meta.value("name", "");
}

std::string resourceVersionOf(const json& object) {
  return object.value("metadata", json::object()).value("resourceVersion", "");
}

}  // namespace

const char* watchEventTypeName(WatchEvent::Type type) {
  switch (type) {
    case WatchEvent::Type::kAdded:
      return "added";
    case WatchEvent::Type::kModified:
      return "modified";
    case WatchEvent::Type::kDeleted:
      return "deleted";
    case WatchEvent::Type::__MAX:
      break;
  }
  return "unknown";
}

Reflector::Reflector(Client& client, std::string path, WatchHandlers handlers, WatchOptions options)
    : client_(client),
      path_(std::move(path)),
      handlers_(std::move(handlers)),
      options_(options),
      thread_([this] { run(); }) {}

Reflector::~Reflector() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Reflector::report(const Error& error) {
  if (handlers_.onError) handlers_.onError(error);
}

bool Reflector::sleepFor(std::chrono::milliseconds delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void Reflector::run() {
  auto backoff = options_.minBackoff;
  bool listed = false;
  bool needList = true;
  while (!stopping_) {
    if (needList) {
      Status status = relist();
      if (!status) {
        report(status.error());
        if (!sleepFor(backoff)) return;
        backoff = std::min(backoff * 2, options_.maxBackoff);
        continue;
      }
      if (listed) ++relists_;
      listed = true;
      synced_ = true;
      needList = false;
    }
    switch (watchOnce()) {
      case WatchEnd::kEnded:  // the request's timeout, or stopping: watch on from where it was
        backoff = options_.minBackoff;
        break;
      case WatchEnd::kExpired:  // 410: the history since resourceVersion_ is gone
        needList = true;
        backoff = options_.minBackoff;
        break;
      case WatchEnd::kFailed:  // already reported
        if (!sleepFor(backoff)) return;
        backoff = std::min(backoff * 2, options_.maxBackoff);
        break;
    }
  }
}

Status Reflector::relist() {
  ListOptions opts;
  opts.labelSelector = options_.labelSelector;
  opts.fieldSelector = options_.fieldSelector;
  ObjectList listing = PODNET_TRY(client_.listAll(path_, opts, options_.pageSize));
  std::map<std::string, json> current;
  for (auto& item : listing.items) {
    std::string key = keyOf(item);
    current.emplace(std::move(key), std::move(item));
  }
  // Only the difference from what was delivered: after a 410 the watch's history is gone, so
  // whatever changed meanwhile shows only as a different list.
  std::vector<WatchEvent> batch;
  for (const auto& [key, object] : current) {
    auto old = known_.find(key);
    if (old == known_.end()) {
      batch.push_back({WatchEvent::Type::kAdded, object});
    } else if (resourceVersionOf(old->second) != resourceVersionOf(object)) {
      batch.push_back({WatchEvent::Type::kModified, object});
    }
  }
  for (const auto& [key, object] : known_) {
    if (!current.contains(key)) batch.push_back({WatchEvent::Type::kDeleted, object});
  }
  bool first = !synced_;
  known_ = std::move(current);
  resourceVersion_ = listing.resourceVersion;
  if ((first || !batch.empty()) && handlers_.onEvents) handlers_.onEvents(batch);
  return okStatus();
}

bool Reflector::applyLine(const std::string& line, std::vector<WatchEvent>& batch, WatchEnd* end) {
  json event = json::parse(line, nullptr, false);
  if (!event.is_object() || !event.contains("object") || !event["object"].is_object()) {
    report(makeError(Errc::kDecode, describeRequest("watch", path_) +
                                        ": not a watch event: " + line.substr(0, 200)));
    *end = WatchEnd::kFailed;
    return false;
  }
  std::string type = event.value("type", "");
  json& object = event["object"];
  if (type == "ERROR") {
    // A Status: 410 means the resourceVersion is too old (compacted, or out of the cache).
    if (object.value("code", 0) == 410) {
      *end = WatchEnd::kExpired;
    } else {
      report(Client::errorFor({object.value("code", 0L), object.dump()}, "watch", path_));
      *end = WatchEnd::kFailed;
    }
    return false;
  }
  std::string version = resourceVersionOf(object);
  if (!version.empty()) resourceVersion_ = version;
  if (type == "BOOKMARK") {
    if (handlers_.onBookmark) handlers_.onBookmark(version);
    return true;
  }
  std::string key = keyOf(object);
  if (type == "DELETED") {
    known_.erase(key);
    batch.push_back({WatchEvent::Type::kDeleted, std::move(object)});
  } else if (type == "ADDED" || type == "MODIFIED") {
    bool isNew = known_.find(key) == known_.end();
    known_[key] = object;
    batch.push_back(
        {isNew ? WatchEvent::Type::kAdded : WatchEvent::Type::kModified, std::move(object)});
  }
  return true;
}

Reflector::WatchEnd Reflector::watchOnce() {
  auto timeout = options_.watchTimeout;
  if (timeout.count() == 0) {
    std::mt19937 random(std::random_device{}());
    timeout = std::chrono::seconds(300 + random() % 300);
  }
  std::string query =
      "watch=1&allowWatchBookmarks=true&resourceVersion=" + escapeQueryValue(resourceVersion_) +
      "&timeoutSeconds=" + std::to_string(timeout.count());
  if (!options_.labelSelector.empty())
    query += "&labelSelector=" + escapeQueryValue(options_.labelSelector);
  if (!options_.fieldSelector.empty())
    query += "&fieldSelector=" + escapeQueryValue(options_.fieldSelector);

  WatchEnd end = WatchEnd::kEnded;
  std::string pending;  // a line not yet complete
  auto onData = [&](std::string_view data) {
    pending.append(data);
    std::vector<WatchEvent> batch;
    bool more = true;
    size_t start = 0;
    for (size_t newline; more && (newline = pending.find('\n', start)) != std::string::npos;
         start = newline + 1) {
      std::string line = pending.substr(start, newline - start);
      if (!line.empty()) more = applyLine(line, batch, &end);
    }
    pending.erase(0, start);
    if (!batch.empty() && handlers_.onEvents) handlers_.onEvents(batch);
    return more && !stopping_;
  };
  // The request's own limit is above the API server's timeout: the server ends it first.
  auto response = client_.send(
      "GET", path_, query, "", "", onData, &stopping_,
      std::chrono::duration_cast<std::chrono::milliseconds>(timeout) + std::chrono::seconds(30));
  if (!response) {
    report(std::move(response).takeError().context(describeRequest("watch", path_)));
    return WatchEnd::kFailed;
  }
  if (response->status == 410) return WatchEnd::kExpired;
  if (response->status < 200 || response->status >= 300) {
    report(Client::errorFor(*response, "watch", path_));
    return WatchEnd::kFailed;
  }
  return end;
}

}  // namespace podnet::k8s
