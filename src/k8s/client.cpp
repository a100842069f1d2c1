#include "k8s/client.h"

#include <curl/curl.h>

#include <cctype>
#include <mutex>

namespace podnet::k8s {

// Idle libcurl handles: a handle keeps its connection cache and TLS session across
// curl_easy_reset, so taking one from here reuses a kept-alive connection to the API server.
struct CurlPool {
  std::mutex mutex;
  std::vector<CURL*> idle;

  ~CurlPool() {
    for (CURL* handle : idle) curl_easy_cleanup(handle);
  }
  CURL* take() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }
  void give(CURL* handle) {
    curl_easy_reset(handle);
    std::lock_guard lock(mutex);
    idle.push_back(handle);
  }
};

namespace {

void initCurlOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  auto query = path.find('?');
  if (query != std::string_view::npos) path = path.substr(0, query);
  while (!path.empty()) {
    auto slash = path.find('/');
    auto part = path.substr(0, slash);
    if (!part.empty()) out.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// "AlreadyExists" -> "already exists"
std::string reasonWords(std::string_view reason) {
  std::string out;
  for (char c : reason) {
    if (std::isupper(static_cast<unsigned char>(c)) && !out.empty()) out += ' ';
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

Errc codeFor(long status, std::string_view reason) {
  switch (status) {
    case 400:
    case 422:
      return Errc::kInvalidArgument;
    case 401:
    case 403:
      return Errc::kPermissionDenied;
    case 404:
      return Errc::kNotFound;
    case 409:
      return reason == "AlreadyExists" ? Errc::kAlreadyExists : Errc::kConflict;
    case 410:
      return Errc::kConflict;
    case 415:
      return Errc::kUnsupported;
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return Errc::kUnavailable;
    default:
      return Errc::kInternal;
  }
}

struct Transfer {
  const std::function<bool(std::string_view)>* onData = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  CURL* handle = nullptr;
  std::string body;
  bool endedByCaller = false;
};

size_t onWrite(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(transfer->handle, CURLINFO_RESPONSE_CODE, &status);
  if (transfer->onData != nullptr && *transfer->onData && status >= 200 && status < 300) {
    if (!(*transfer->onData)(std::string_view(data, n))) {
      transfer->endedByCaller = true;
      return 0;  // ends the transfer (CURLE_WRITE_ERROR, not reported)
    }
    return n;
  }
  transfer->body.append(data, n);
  return n;
}

int onProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (transfer->cancel != nullptr && transfer->cancel->load()) {
    transfer->endedByCaller = true;
    return 1;  // CURLE_ABORTED_BY_CALLBACK, not reported
  }
  return 0;
}

void setPem(CURL* handle, const Pem& pem, CURLoption blobOption, CURLoption fileOption) {
  if (!pem.data.empty()) {
    curl_blob blob{const_cast<char*>(pem.data.data()), pem.data.size(), CURL_BLOB_COPY};
    curl_easy_setopt(handle, blobOption, &blob);
  } else if (!pem.file.empty()) {
    curl_easy_setopt(handle, fileOption, pem.file.c_str());
  }
}

std::string listQuery(const ListOptions& opts) {
  std::string query;
  auto add = [&](const char* key, const std::string& value) {
    if (value.empty()) return;
    if (!query.empty()) query += '&';
    query += key;
    query += '=';
    query += escapeQueryValue(value);
  };
  add("labelSelector", opts.labelSelector);
  add("fieldSelector", opts.fieldSelector);
  add("resourceVersion", opts.resourceVersion);
  add("limit", opts.limit > 0 ? std::to_string(opts.limit) : "");
  add("continue", opts.continueToken);
  return query;
}

}  // namespace

std::string escapeQueryValue(const std::string& value) {
  char* escaped = curl_easy_escape(nullptr, value.c_str(), static_cast<int>(value.size()));
  std::string out = escaped != nullptr ? escaped : "";
  curl_free(escaped);
  return out;
}

std::string resourcePath(std::string_view apiVersion, std::string_view resource,
                         std::string_view namespace_, std::string_view name) {
  std::string out = apiVersion.find('/') == std::string_view::npos ? "/api/" : "/apis/";
  out += apiVersion;
  if (!namespace_.empty()) {
    out += "/namespaces/";
    out += namespace_;
  }
  out += '/';
  out += resource;
  if (!name.empty()) {
    out += '/';
    out += name;
  }
  return out;
}

std::string describeRequest(std::string_view verb, std::string_view path) {
  auto parts = segments(path);
  // /api/v1/... or /apis/<group>/<version>/...
  size_t skip = !parts.empty() && parts[0] == "api" ? 2 : 3;
  if (parts.size() <= skip || (parts[0] != "api" && parts[0] != "apis")) {
    return std::string(verb) + " " + std::string(path);
  }
  std::vector<std::string_view> rest(parts.begin() + static_cast<std::ptrdiff_t>(skip),
                                     parts.end());
  std::string namespace_;
  if (rest.size() >= 3 && rest[0] == "namespaces") {
    namespace_ = rest[1];
    rest.erase(rest.begin(), rest.begin() + 2);
  }
  std::string resource(rest[0]);
  if (rest.size() >= 3) resource += "/" + std::string(rest[2]);  // a subresource
  std::string out = std::string(verb) + " " + resource;
  if (rest.size() >= 2) {
    out += " " + (namespace_.empty() ? "" : namespace_ + "/") + std::string(rest[1]);
  } else if (!namespace_.empty()) {
    out += " in namespace " + namespace_;
  } else {
    out += " at cluster scope";
  }
  return out;
}

Client::Client(ClientConfig config)
    : config_(std::move(config)), pool_(std::make_unique<CurlPool>()) {
  initCurlOnce();
}

Client::~Client() = default;

Result<Response> Client::send(const std::string& method, const std::string& path,
                              const std::string& query, const std::string& body,
                              const std::string& contentType,
                              const std::function<bool(std::string_view)>& onData,
                              const std::atomic<bool>* cancel, std::chrono::milliseconds timeout) {
  std::string url = config_.server + path + (query.empty() ? "" : "?" + query);
  CURL* handle = pool_->take();
  if (handle == nullptr) return makeError(Errc::kInternal, "libcurl: no handle");
  Transfer transfer;
  transfer.onData = &onData;
  transfer.cancel = cancel;
  transfer.handle = handle;

  curl_slist* headers = curl_slist_append(nullptr, "Accept: application/json");
  if (!contentType.empty())
    headers = curl_slist_append(headers, ("Content-Type: " + contentType).c_str());
  if (!config_.token.empty()) {
    headers = curl_slist_append(headers, ("Authorization: Bearer " + config_.token).c_str());
  }
  curl_easy_setopt(handle, CURLOPT_URL, url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_USERAGENT, "podnet");
  // HTTP/1.1 (libcurl would offer HTTP/2): a watch is one chunked response on a connection of
  // its own, which a crashed API server closes at once.
  curl_easy_setopt(handle, CURLOPT_HTTP_VERSION, static_cast<long>(CURL_HTTP_VERSION_1_1));
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, onWrite);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  if (cancel != nullptr) {
    curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, onProgress);
    curl_easy_setopt(handle, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(handle, CURLOPT_NOPROGRESS, 0L);
  }
  if (method != "GET") {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, method.c_str());
    if (!body.empty() || method != "DELETE") {
      curl_easy_setopt(handle, CURLOPT_POSTFIELDS, body.c_str());
      curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
    }
  }
  setPem(handle, config_.ca, CURLOPT_CAINFO_BLOB, CURLOPT_CAINFO);
  setPem(handle, config_.clientCert, CURLOPT_SSLCERT_BLOB, CURLOPT_SSLCERT);
  setPem(handle, config_.clientKey, CURLOPT_SSLKEY_BLOB, CURLOPT_SSLKEY);
  if (config_.insecureSkipTlsVerify) {
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  char curlError[CURL_ERROR_SIZE] = "";
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, curlError);

  CURLcode rc = curl_easy_perform(handle);
  Response response;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &response.status);
  curl_slist_free_all(headers);
  pool_->give(handle);
  if (rc != CURLE_OK && !transfer.endedByCaller) {
    std::string detail = curlError[0] != '\0' ? curlError : curl_easy_strerror(rc);
    return makeError(Errc::kUnavailable, method + " " + url + ": " + detail);
  }
  response.body = std::move(transfer.body);
  return response;
}

Error Client::errorFor(const Response& response, std::string_view verb, std::string_view path) {
  std::string reason;
  std::string message;
  json status = json::parse(response.body, nullptr, false);
  if (status.is_object()) {
    if (status.contains("reason") && status["reason"].is_string()) reason = status["reason"];
    if (status.contains("message") && status["message"].is_string()) message = status["message"];
  }
  if (message.empty()) message = response.body.empty() ? "no message" : response.body;
  std::string what =
      reason.empty() ? "HTTP " + std::to_string(response.status) : reasonWords(reason);
  return makeError(codeFor(response.status, reason),
                   what + ": " + describeRequest(verb, path) + ": " + message);
}

Result<json> Client::call(std::string_view verb, const std::string& method, const std::string& path,
                          const std::string& query, const std::string& body,
                          const std::string& contentType) {
  auto response = send(method, path, query, body, contentType);
  if (!response) return std::move(response).takeError().context(describeRequest(verb, path));
  if (response->status < 200 || response->status >= 300) return errorFor(*response, verb, path);
  json out = json::parse(response->body, nullptr, false);
  if (out.is_discarded()) {
    return makeError(Errc::kDecode, describeRequest(verb, path) + ": the answer is not JSON");
  }
  return out;
}

Result<json> Client::get(const std::string& path) {
  return call("get", "GET", path, "", "", "");
}

Result<ObjectList> Client::list(const std::string& path, const ListOptions& opts) {
  json page = PODNET_TRY(call("list", "GET", path, listQuery(opts), "", ""));
  ObjectList out;
  if (page.contains("items") && page["items"].is_array()) {
    out.items = page["items"].get<std::vector<json>>();
  }
  const json& meta = page.value("metadata", json::object());
  out.resourceVersion = meta.value("resourceVersion", "");
  out.continueToken = meta.value("continue", "");
  return out;
}

Result<ObjectList> Client::listAll(const std::string& path, ListOptions opts, int64_t pageSize) {
  opts.limit = pageSize;
  opts.continueToken.clear();
  ObjectList out;
  do {
    ObjectList page = PODNET_TRY(list(path, opts));
    for (auto& item : page.items) out.items.push_back(std::move(item));
    // Later pages are at the first page's resourceVersion, which the continue token carries.
    if (out.resourceVersion.empty()) out.resourceVersion = page.resourceVersion;
    opts.continueToken = page.continueToken;
    opts.resourceVersion.clear();  // the API server refuses both with a continue token
  } while (!opts.continueToken.empty());
  return out;
}

Result<json> Client::create(const std::string& path, const json& object) {
  return call("create", "POST", path, "", object.dump(), "application/json");
}

Result<json> Client::update(const std::string& path, const json& object) {
  return call("update", "PUT", path, "", object.dump(), "application/json");
}

Result<json> Client::patch(const std::string& path, const json& patch, PatchType type) {
  const char* contentType = type == PatchType::kMerge  ? "application/merge-patch+json"
                            : type == PatchType::kJson ? "application/json-patch+json"
                                                       : "application/strategic-merge-patch+json";
  return call("patch", "PATCH", path, "", patch.dump(), contentType);
}

Status Client::remove(const std::string& path) {
  auto out = call("delete", "DELETE", path, "", "", "");
  if (!out) return std::move(out).takeError();
  return okStatus();
}

}  // namespace podnet::k8s
