// A CNI runtime: what kubelet/containerd (through libcni) do with a network configuration list.
// It runs each plugin binary with the CNI environment, injects name/cniVersion/prevResult/
// runtimeConfig into the plugin's configuration, and caches ADD results for DEL/CHECK/GC, following
// the behaviour libcni documents (SPEC.md "Execution of Network Configurations", CONVENTIONS.md).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace podnet::runtime {

struct NetworkConfigList {
  std::string cniVersion;
  std::string name;
  bool disableCheck = false;
  bool disableGC = false;
  std::vector<nlohmann::json> plugins;  // each an object with a "type"

  // Accepts a .conflist (with "plugins") or a single .conf (wrapped into a one-plugin list).
  // Errors (kDecode, kInvalidArgument) name the field, e.g. `plugins[1].type`.
  static Result<NetworkConfigList> parse(std::string_view json);
};

struct RuntimeConf {
  std::string containerId, netns, ifname = "eth0";
  // CNI_ARGS, e.g. IgnoreUnknown=1, K8S_POD_NAMESPACE, K8S_POD_NAME.
  std::vector<std::pair<std::string, std::string>> args;
  // e.g. {"portMappings": [...]}: becomes runtimeConfig of the plugins that declare the capability.
  nlohmann::json capabilityArgs = nlohmann::json::object();
};

// A CNI error a plugin printed, kept structured so callers can act on the code.
struct PluginError {
  std::string plugin;  // the plugin's "type"
  int code = 0;        // the CNI error code; 0 when the plugin failed without printing a CNI error
  std::string msg, details;
};

// Not thread-safe (lastError() is per instance): use one CniRuntime per thread. Instances are
// cheap and may share plugin and cache directories, as every attachment has its own cache file.
class CniRuntime {
 public:
  struct Options {
    std::vector<std::string> pluginDirs;  // searched in order; joined with ':' into CNI_PATH
    std::string cacheDir;                 // empty means /var/lib/cni, as libcni
    std::string hostNetns;  // plugins run inside this netns (a node of the lab); empty: ours
    std::chrono::milliseconds timeout{30000};  // per plugin invocation
  };

  explicit CniRuntime(Options options);

  // Runs each plugin in order, the 2nd one on with prevResult = the previous plugin's result, and
  // caches the final result under cacheDir keyed by (network name, containerId, ifname). On a
  // plugin error it stops (without undoing earlier plugins: the caller issues DEL, as kubelet does)
  // and returns the error; lastError() then holds the plugin's CNI error.
  Result<nlohmann::json> add(const NetworkConfigList& list, const RuntimeConf& rt);
  // Reverse order, prevResult = the cached result (cniVersion >= 0.4.0); removes the cache entry on
  // success. A missing cache entry is fine (DEL must be idempotent).
  Status del(const NetworkConfigList& list, const RuntimeConf& rt);
  // In order, prevResult = the cached result (required). A no-op when disableCheck is set.
  Status check(const NetworkConfigList& list, const RuntimeConf& rt);
  // As libcni: first DELs the cached attachments of this network missing from validAttachments
  // (containerId, ifname), then, for cniVersion >= 1.1.0, sends GC to every plugin with
  // "cni.dev/valid-attachments" (and the older "cni.dev/attachments") injected. Runs everything it
  // can and reports all failures. A no-op when disableGC is set.
  Status gc(const NetworkConfigList& list,
            const std::vector<std::pair<std::string, std::string>>& validAttachments);
  // STATUS to each plugin in order, stopping at the first error (CNI codes 50/51 mean "not
  // ready"). As libcni, a no-op for cniVersion < 1.1.0, which has no STATUS.
  Status status(const NetworkConfigList& list);

  // The CNI error a plugin printed during the most recent call, if that call failed because of it.
  std::optional<PluginError> lastError() const { return lastError_; }

 private:
  Result<nlohmann::json> invoke(const std::string& command, const nlohmann::json& plugin,
                                nlohmann::json conf, const NetworkConfigList& list,
                                const RuntimeConf* rt);
  Status deleteAttachment(const NetworkConfigList& list, const RuntimeConf& rt);
  std::string cachePath(const std::string& network, const RuntimeConf& rt) const;
  Result<std::optional<nlohmann::json>> readCachedResult(const NetworkConfigList& list,
                                                         const RuntimeConf& rt) const;

  Options options_;
  std::optional<PluginError> lastError_;
};

}  // namespace podnet::runtime
