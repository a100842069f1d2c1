// A Kubernetes API client on libcurl and nlohmann-json, knowing nothing of podnet's objects: verbs
// on resource paths, lists with resourceVersion and pagination, and watches that behave as
// client-go's reflector (k8s/reflector.h). No HTTP or TLS of its own: libcurl speaks both.
//
// Errors are values that name the verb, the resource and the API server's message:
//   forbidden: list networkpolicies at cluster scope: networkpolicies.networking.k8s.io is
//   forbidden: User "nobody" cannot list resource "networkpolicies" ...
// with the code the HTTP status stands for: 401/403 kPermissionDenied, 404 kNotFound, 409
// AlreadyExists kAlreadyExists (a create of a name that exists: the building block of lock-free
// allocation), other 409s kConflict (a stale resourceVersion), 410 kConflict, 400/422
// kInvalidArgument, 429/5xx and transport failures kUnavailable.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "k8s/config.h"

namespace podnet::k8s {

using nlohmann::json;

// The path of a resource: resourcePath("v1", "pods", "shop", "web") is
// "/api/v1/namespaces/shop/pods/web"; resourcePath("networking.k8s.io/v1", "networkpolicies") is
// "/apis/networking.k8s.io/v1/networkpolicies" (every namespace). Empty namespace: cluster scope
// (or all namespaces); empty name: the collection.
std::string resourcePath(std::string_view apiVersion, std::string_view resource,
                         std::string_view namespace_ = "", std::string_view name = "");

// What a request is about, as errors say it: "list networkpolicies at cluster scope",
// "list configmaps in namespace shop", "get pods shop/web", "update pods/status shop/web",
// "delete nodes n1".
std::string describeRequest(std::string_view verb, std::string_view path);

// A value for a URL query ("a=b,c" -> "a%3Db%2Cc").
std::string escapeQueryValue(const std::string& value);

struct ListOptions {
  std::string labelSelector;
  std::string fieldSelector;
  // "": the latest, read from etcd (a consistent read); "0": whatever the API server's cache has.
  std::string resourceVersion;
  int64_t limit = 0;  // a page size; 0: no pagination
  std::string continueToken;
};

struct ObjectList {
  std::vector<json> items;
  std::string resourceVersion;  // the list's: a watch from it misses nothing
  std::string continueToken;    // non-empty: more pages follow
};

enum class PatchType {
  kMerge,           // application/merge-patch+json (RFC 7386)
  kJson,            // application/json-patch+json (RFC 6902)
  kStrategicMerge,  // application/strategic-merge-patch+json (built-in kinds only)
};

// An HTTP response as received; the watch reads the status itself.
struct Response {
  long status = 0;
  std::string body;
};

struct CurlPool;

// Thread-safe: every call takes its own libcurl handle (handles and their connections are reused
// from a pool, so keep-alive connections and TLS sessions are kept between calls).
class Client {
 public:
  explicit Client(ClientConfig config);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ClientConfig& config() const { return config_; }

  Result<json> get(const std::string& path);
  // One page (opts.limit, opts.continueToken) or the whole collection when limit is 0.
  Result<ObjectList> list(const std::string& path, const ListOptions& opts = {});
  // Every page of a paginated list, pageSize objects at a time, at one resourceVersion.
  Result<ObjectList> listAll(const std::string& path, ListOptions opts = {},
                             int64_t pageSize = 500);
  // POST to a collection path; the stored object comes back.
  Result<json> create(const std::string& path, const json& object);
  // PUT to an object's path: refused with kConflict when metadata.resourceVersion is stale.
  Result<json> update(const std::string& path, const json& object);
  Result<json> patch(const std::string& path, const json& patch,
                     PatchType type = PatchType::kMerge);
  // DELETE; the API server's answer (the object, or a Status) is not kept.
  Status remove(const std::string& path);

  // One request, for the watch and for paths that are not resources. query is appended as is
  // ("watch=1&..."). A transport failure (no connection, TLS refused) is kUnavailable naming what
  // and where; any HTTP status is a Response. onData, when set, receives the body of a 2xx
  // response as it arrives instead of Response::body, and returns false to end the transfer.
  // A transfer also ends, within about a second, once *cancel is true. Neither end is an error.
  Result<Response> send(const std::string& method, const std::string& path,
                        const std::string& query = "", const std::string& body = "",
                        const std::string& contentType = "",
                        const std::function<bool(std::string_view)>& onData = nullptr,
                        const std::atomic<bool>* cancel = nullptr,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // The error for a response that is not 2xx: reason, what (describeRequest), and the message
  // of the Status the API server sent.
  static Error errorFor(const Response& response, std::string_view verb, std::string_view path);

 private:
  Result<json> call(std::string_view verb, const std::string& method, const std::string& path,
                    const std::string& query, const std::string& body,
                    const std::string& contentType);

  ClientConfig config_;
  std::unique_ptr<CurlPool> pool_;
};

}  // namespace podnet::k8s
