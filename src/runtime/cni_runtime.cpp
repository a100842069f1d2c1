#include "runtime/cni_runtime.h"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "common/json_fields.h"
#include "runtime/exec.h"

namespace podnet::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A network configuration list is what an operator writes: a wrong field is an invalid argument,
// named as libcni's users know it (`field "plugins[0].type"`).
constexpr json_fields::FieldReader kRead{Errc::kInvalidArgument};

Error fieldError(const std::string& field, const std::string& problem) {
  return makeError(Errc::kInvalidArgument,
                   "network configuration: field \"" + field + "\": " + problem);
}

// Parses "X.Y.Z"; nullopt if the text is not such a version.
std::optional<std::array<int, 3>> parseVersion(const std::string& text) {
  std::array<int, 3> v{};
  char end = 0;
  if (std::sscanf(text.c_str(), "%d.%d.%d%c", &v[0], &v[1], &v[2], &end) != 3) return std::nullopt;
  return v;
}

// Both sides were validated by NetworkConfigList::parse, or are constants.
bool versionAtLeast(const std::string& version, const std::string& minimum) {
  return parseVersion(version).value_or(std::array<int, 3>{}) >= *parseVersion(minimum);
}

// The spec's rule for network names and container ids: they end up in cache file names.
bool isSafeIdentifier(const std::string& s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '.' || c == '-';
  });
}

Status validateAttachment(const RuntimeConf& rt) {
  if (!isSafeIdentifier(rt.containerId)) {
    return makeError(Errc::kInvalidArgument,
                     "container id \"" + rt.containerId +
                         "\": must be non-empty letters, digits, '_', '.' or '-'");
  }
  const bool badIfname =
      rt.ifname.empty() || rt.ifname.size() > 15 || rt.ifname == "." || rt.ifname == ".." ||
      std::any_of(rt.ifname.begin(), rt.ifname.end(),
                  [](unsigned char c) { return c == '/' || c == ':' || std::isspace(c); });
  if (badIfname) {
    return makeError(Errc::kInvalidArgument, "interface name \"" + rt.ifname +
                                                 "\": must be 1-15 characters without '/', ':' "
                                                 "or spaces");
  }
  if (!rt.capabilityArgs.is_object()) {
    return makeError(Errc::kInvalidArgument, "capabilityArgs: must be a JSON object");
  }
  return okStatus();
}

Errc errcForCniCode(int code) {
  switch (code) {
    case 1:
      return Errc::kIncompatibleVersion;
    case 2:
      return Errc::kUnsupported;
    case 3:
      return Errc::kNotFound;
    case 4:
    case 7:
      return Errc::kInvalidArgument;
    case 5:
      return Errc::kIo;
    case 6:
      return Errc::kDecode;
    case 11:
    case 50:
    case 51:
      return Errc::kUnavailable;
    case 100:
      return Errc::kAlreadyExists;
    case 101:
      return Errc::kExhausted;
    default:
      return Errc::kInternal;
  }
}

std::string trim(std::string s) {
  s.erase(s.find_last_not_of(" \t\r\n") + 1);
  s.erase(0, s.find_first_not_of(" \t\r\n"));
  return s;
}

PluginError pluginErrorOf(const std::string& type, const ExecResult& r) {
  PluginError pe{type, 0, "", ""};
  json j = json::parse(r.out, nullptr, false);
  if (j.is_object() && j.contains("code") && j["code"].is_number_integer()) {
    pe.code = j["code"].get<int>();
    if (j.contains("msg") && j["msg"].is_string()) pe.msg = j["msg"].get<std::string>();
    if (j.contains("details") && j["details"].is_string()) {
      pe.details = j["details"].get<std::string>();
    }
  } else {
    // Not a CNI error: the plugin crashed or printed plain text.
    pe.msg = trim(r.err.empty() ? r.out : r.err);
    if (pe.msg.empty()) pe.msg = "exited with status " + std::to_string(r.exitCode);
  }
  return pe;
}

std::string joinArgs(const std::vector<std::pair<std::string, std::string>>& args) {
  std::string out;
  for (const auto& [key, value] : args) out += (out.empty() ? "" : ";") + key + "=" + value;
  return out;
}

Status writeFileAtomically(const fs::path& path, const std::string& content) {
  std::error_code ec;
  fs::create_directories(path.parent_path(), ec);
  if (ec)
    return makeError(Errc::kIo, "cache dir " + path.parent_path().string() + ": " + ec.message());
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream file(tmp, std::ios::trunc);
    file << content;
    file.close();
    if (!file) return makeError(Errc::kIo, "cache file " + tmp.string() + ": write failed");
  }
  fs::rename(tmp, path, ec);
  if (ec) return makeError(Errc::kIo, "cache file " + path.string() + ": " + ec.message());
  return okStatus();
}

Result<json> readJsonFile(const fs::path& path) {
  std::ifstream file(path);
  if (!file) return makeError(Errc::kNotFound, "cache file " + path.string() + ": cannot open");
  std::stringstream buf;
  buf << file.rdbuf();
  json j = json::parse(buf.str(), nullptr, false);
  if (!j.is_object()) return makeError(Errc::kDecode, "cache file " + path.string() + ": not JSON");
  return j;
}

constexpr const char* kCacheKind = "podnet-cni-cache-v1";

// Joins several failures into one error that keeps the first one's code.
Status joinErrors(const std::vector<Error>& errors) {
  if (errors.empty()) return okStatus();
  Error joined = errors.front();
  for (size_t i = 1; i < errors.size(); ++i) joined.message += "; " + errors[i].message;
  return joined;
}

}  // namespace

Result<NetworkConfigList> NetworkConfigList::parse(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return makeError(Errc::kDecode, "network configuration: not valid JSON");
  if (!j.is_object()) return makeError(Errc::kDecode, "network configuration: not a JSON object");

  auto requireString = [](const json& o, const std::string& key,
                          const std::string& field) -> Result<std::string> {
    const json* value = json_fields::member(o, key);
    if (value == nullptr) return fieldError(field, "missing");
    auto text = kRead.string(*value, field);
    if (!text) return fieldError(field, "must be a string");
    return text;
  };
  auto optionalBool = [](const json& o, const std::string& key) -> Result<bool> {
    const json* value = json_fields::member(o, key);
    if (value == nullptr) return false;
    auto flag = kRead.boolean(*value, key);
    if (!flag) return fieldError(key, "must be true or false");
    return flag;
  };

  NetworkConfigList list;
  list.cniVersion = PODNET_TRY(requireString(j, "cniVersion", "cniVersion"));
  if (!parseVersion(list.cniVersion)) {
    return fieldError("cniVersion", "\"" + list.cniVersion + "\" is not a version like 1.0.0");
  }
  list.name = PODNET_TRY(requireString(j, "name", "name"));
  if (!isSafeIdentifier(list.name)) {
    return fieldError("name", "\"" + list.name + "\" must be letters, digits, '_', '.' or '-'");
  }
  if (j.contains("plugins")) {
    if (!j["plugins"].is_array() || j["plugins"].empty()) {
      return fieldError("plugins", "must be a non-empty array");
    }
    list.disableCheck = PODNET_TRY(optionalBool(j, "disableCheck"));
    list.disableGC = PODNET_TRY(optionalBool(j, "disableGC"));
    list.plugins = j["plugins"].get<std::vector<json>>();
  } else {
    list.plugins.push_back(j);  // a single .conf is a one-plugin list
  }

  for (size_t i = 0; i < list.plugins.size(); ++i) {
    const json& plugin = list.plugins[i];
    const std::string at = j.contains("plugins") ? "plugins[" + std::to_string(i) + "]." : "";
    if (!plugin.is_object()) return fieldError(json_fields::at("plugins", i), "must be an object");
    std::string type = PODNET_TRY(requireString(plugin, "type", at + "type"));
    if (type.empty() || type.find('/') != std::string::npos || type == "." || type == "..") {
      return fieldError(at + "type", "\"" + type + "\" is not a plugin name");
    }
    if (plugin.contains("capabilities") && !plugin["capabilities"].is_object()) {
      return fieldError(at + "capabilities", "must be an object");
    }
  }
  return list;
}

CniRuntime::CniRuntime(Options options) : options_(std::move(options)) {
  if (options_.cacheDir.empty()) options_.cacheDir = "/var/lib/cni";
}

std::string CniRuntime::cachePath(const std::string& network, const RuntimeConf& rt) const {
  return options_.cacheDir + "/results/" + network + "-" + rt.containerId + "-" + rt.ifname;
}

Result<std::optional<json>> CniRuntime::readCachedResult(const NetworkConfigList& list,
                                                         const RuntimeConf& rt) const {
  const std::string path = cachePath(list.name, rt);
  if (!fs::exists(path)) return std::optional<json>{};
  json entry = PODNET_TRY(readJsonFile(path));
  if (!entry.contains("result") || !entry["result"].is_object()) {
    return makeError(Errc::kDecode, "cache file " + path + ": no result");
  }
  return std::optional<json>{entry["result"]};
}

Result<json> CniRuntime::invoke(const std::string& command, const json& plugin, json conf,
                                const NetworkConfigList& list, const RuntimeConf* rt) {
  const std::string type = plugin["type"].get<std::string>();
  const std::string what = "network " + list.name + ": plugin " + type + " " + command;

  std::string binary;
  std::string cniPath;
  for (const auto& dir : options_.pluginDirs) {
    cniPath += (cniPath.empty() ? "" : ":") + dir;
    const std::string candidate = dir + "/" + type;
    if (binary.empty() && ::access(candidate.c_str(), X_OK) == 0) binary = candidate;
  }
  if (binary.empty()) {
    return makeError(Errc::kNotFound, what + ": no executable \"" + type + "\" in " +
                                          (cniPath.empty() ? "(no plugin dirs)" : cniPath));
  }

  conf["name"] = list.name;
  conf["cniVersion"] = list.cniVersion;
  std::map<std::string, std::string> env{{"CNI_COMMAND", command}, {"CNI_PATH", cniPath}};
  if (rt != nullptr) {
    env["CNI_CONTAINERID"] = rt->containerId;
    env["CNI_NETNS"] = rt->netns;
    env["CNI_IFNAME"] = rt->ifname;
    env["CNI_ARGS"] = joinArgs(rt->args);
    // runtimeConfig carries only what the plugin declared it can take (CONVENTIONS.md).
    json runtimeConfig = json::object();
    const json capabilities = plugin.value("capabilities", json::object());
    for (const auto& [capability, enabled] : capabilities.items()) {
      if (enabled == true && rt->capabilityArgs.contains(capability)) {
        runtimeConfig[capability] = rt->capabilityArgs[capability];
      }
    }
    if (!runtimeConfig.empty()) conf["runtimeConfig"] = runtimeConfig;
  }

  auto run = execPlugin(binary, env, conf.dump(), options_.timeout, options_.hostNetns);
  if (!run.ok()) return run.error().context("network " + list.name);
  if (run->exitCode != 0) {
    PluginError pe = pluginErrorOf(type, *run);
    std::string message = what + " failed: ";
    if (pe.code != 0) message += "CNI error " + std::to_string(pe.code) + ": ";
    message += pe.msg + (pe.details.empty() ? "" : " (" + pe.details + ")");
    lastError_ = std::move(pe);
    return makeError(errcForCniCode(lastError_->code), message);
  }
  if (command != "ADD") return json();
  json result = json::parse(run->out, nullptr, false);
  if (!result.is_object()) {
    return makeError(Errc::kDecode, what + ": result is not a JSON object: " + trim(run->out));
  }
  return result;
}

Result<json> CniRuntime::add(const NetworkConfigList& list, const RuntimeConf& rt) {
  lastError_.reset();
  PODNET_TRY_STATUS(validateAttachment(rt));
  json prevResult;
  for (const json& plugin : list.plugins) {
    json conf = plugin;
    if (!prevResult.is_null()) conf["prevResult"] = prevResult;
    prevResult = PODNET_TRY(invoke("ADD", plugin, std::move(conf), list, &rt));
  }
  json entry = {{"kind", kCacheKind},
                {"containerId", rt.containerId},
                {"ifName", rt.ifname},
                {"networkName", list.name},
                {"netns", rt.netns},
                {"cniArgs", rt.args},
                {"capabilityArgs", rt.capabilityArgs},
                {"result", prevResult}};
  Status cached = writeFileAtomically(cachePath(list.name, rt), entry.dump());
  if (!cached.ok()) return cached.error().context("network " + list.name + ": ADD");
  return prevResult;
}

Status CniRuntime::del(const NetworkConfigList& list, const RuntimeConf& rt) {
  lastError_.reset();
  return deleteAttachment(list, rt);
}

Status CniRuntime::deleteAttachment(const NetworkConfigList& list, const RuntimeConf& rt) {
  PODNET_TRY_STATUS(validateAttachment(rt));
  std::optional<json> cached;
  if (versionAtLeast(list.cniVersion, "0.4.0")) cached = PODNET_TRY(readCachedResult(list, rt));
  for (auto plugin = list.plugins.rbegin(); plugin != list.plugins.rend(); ++plugin) {
    json conf = *plugin;
    if (cached) conf["prevResult"] = *cached;
    PODNET_TRY_STATUS(invoke("DEL", *plugin, std::move(conf), list, &rt));
  }
  std::error_code ec;
  fs::remove(cachePath(list.name, rt), ec);
  if (ec)
    return makeError(Errc::kIo, "cache file " + cachePath(list.name, rt) + ": " + ec.message());
  return okStatus();
}

Status CniRuntime::check(const NetworkConfigList& list, const RuntimeConf& rt) {
  lastError_.reset();
  if (list.disableCheck) return okStatus();
  if (!versionAtLeast(list.cniVersion, "0.4.0")) {
    return makeError(Errc::kIncompatibleVersion,
                     "network " + list.name + ": cniVersion " + list.cniVersion + " has no CHECK");
  }
  PODNET_TRY_STATUS(validateAttachment(rt));
  std::optional<json> cached = PODNET_TRY(readCachedResult(list, rt));
  if (!cached) {
    return makeError(Errc::kNotFound, "network " + list.name + ": CHECK: no cached result for " +
                                          rt.containerId + "/" + rt.ifname + " (was it added?)");
  }
  for (const json& plugin : list.plugins) {
    json conf = plugin;
    conf["prevResult"] = *cached;
    PODNET_TRY_STATUS(invoke("CHECK", plugin, std::move(conf), list, &rt));
  }
  return okStatus();
}

Status CniRuntime::gc(const NetworkConfigList& list,
                      const std::vector<std::pair<std::string, std::string>>& validAttachments) {
  lastError_.reset();
  if (list.disableGC) return okStatus();
  std::vector<Error> errors;

  const std::set<std::pair<std::string, std::string>> valid(validAttachments.begin(),
                                                            validAttachments.end());
  std::error_code ec;
  for (const auto& file : fs::directory_iterator(options_.cacheDir + "/results", ec)) {
    auto entry = readJsonFile(file.path());
    if (!entry.ok() || entry->value("kind", "") != kCacheKind ||
        entry->value("networkName", "") != list.name) {
      continue;  // not ours to judge
    }
    RuntimeConf rt;
    rt.containerId = entry->value("containerId", "");
    rt.ifname = entry->value("ifName", "");
    if (valid.contains({rt.containerId, rt.ifname})) continue;
    rt.netns = entry->value("netns", "");
    rt.args = entry->value("cniArgs", rt.args);
    rt.capabilityArgs = entry->value("capabilityArgs", json::object());
    Status deleted = deleteAttachment(list, rt);
    if (!deleted.ok())
      errors.push_back(
          deleted.error().context("GC: stale attachment " + rt.containerId + "/" + rt.ifname));
  }

  if (versionAtLeast(list.cniVersion, "1.1.0")) {
    json attachments = json::array();
    for (const auto& [containerId, ifname] : validAttachments) {
      attachments.push_back({{"containerID", containerId}, {"ifname", ifname}});
    }
    for (const json& plugin : list.plugins) {
      json conf = plugin;
      conf["cni.dev/valid-attachments"] = attachments;
      conf["cni.dev/attachments"] = attachments;  // the name an earlier spec text used
      auto collected = invoke("GC", plugin, std::move(conf), list, nullptr);
      if (!collected.ok()) errors.push_back(collected.error());
    }
  }
  return joinErrors(errors);
}

Status CniRuntime::status(const NetworkConfigList& list) {
  lastError_.reset();
  if (!versionAtLeast(list.cniVersion, "1.1.0")) return okStatus();
  for (const json& plugin : list.plugins) {
    PODNET_TRY_STATUS(invoke("STATUS", plugin, plugin, list, nullptr));
  }
  return okStatus();
}

}  // namespace podnet::runtime
