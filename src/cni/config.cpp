#include "cni/config.h"

#include <arpa/inet.h>

#include "cni/env.h"
#include "cni/result_codec.h"
#include "cni/version.h"

namespace podnet::cni {

namespace jf = podnet::json_fields;

namespace {

struct Resolved {
  nlohmann::json plugin;  // the plugin's own object, with name/cniVersion injected from a list
  std::string cniVersion;
};

// A configuration list has "plugins" and no "type" of its own. Deciding by both keeps a resolved
// entry (which the agent parses again) a plugin config even when it carries a "plugins" key.
bool isConfigList(const nlohmann::json& top) {
  return jf::member(top, "plugins") && !top.contains("type");
}

// For a list, the highest supported entry of "cniVersions" (1.1.0) if any; else "cniVersion".
podnet::Result<std::string> resolveVersion(const nlohmann::json& top) {
  auto* versionList = isConfigList(top) ? jf::member(top, "cniVersions") : nullptr;
  if (auto* f = versionList) {
    auto versions = PODNET_TRY(kCniFields.stringList(*f, "cniVersions"));
    std::string best;
    for (const auto& v : versions) {
      if (isSupportedVersion(v) && (best.empty() || compareVersions(v, best) > 0)) best = v;
    }
    if (!best.empty()) return best;
    if (!jf::member(top, "cniVersion")) {
      return makeError(Errc::kIncompatibleVersion,
                       "cniVersions " + jf::dump(*f) + " names no supported version (supported: " +
                           jf::dump(versionJson(kLatestVersion)["supportedVersions"]) + ")");
    }
  }
  auto* f = jf::member(top, "cniVersion");
  if (!f) return makeError(Errc::kIncompatibleVersion, "cniVersion is missing");
  return kCniFields.string(*f, "cniVersion");
}

podnet::Result<Resolved> resolve(std::string_view stdinText) {
  auto top = PODNET_TRY(jf::parse(stdinText, "network configuration"));
  PODNET_TRY_STATUS(kCniFields.expectObject(top, "network configuration"));
  Resolved r;
  r.cniVersion = PODNET_TRY(resolveVersion(top));
  if (!isConfigList(top)) {
    r.plugin = std::move(top);
    return r;
  }
  auto* plugins = jf::member(top, "plugins");
  PODNET_TRY_STATUS(kCniFields.expectArray(*plugins, "plugins"));
  for (const auto& entry : *plugins) {
    auto type = entry.is_object() ? entry.find("type") : entry.end();
    if (type != entry.end() && type->is_string() &&
        type->get_ref<const std::string&>() == kPluginType) {
      r.plugin = entry;
      break;
    }
  }
  if (r.plugin.is_null()) {
    return makeError(Errc::kInvalidArgument,
                     "plugins has no entry of type \"" + std::string(kPluginType) + "\"");
  }
  r.plugin["cniVersion"] = r.cniVersion;
  if (auto* name = jf::member(top, "name")) r.plugin["name"] = *name;
  return r;
}

Status checkCommandAllowed(const std::string& version, Command command) {
  std::string_view needs = command == Command::kCheck                               ? "0.4.0"
                           : command == Command::kGc || command == Command::kStatus ? "1.1.0"
                                                                                    : "0.0.0";
  if (compareVersions(version, needs) < 0) {
    return makeError(Errc::kIncompatibleVersion, "config version " + version + " does not allow " +
                                                     std::string(commandName(command)) +
                                                     " (it needs " + std::string(needs) + ")");
  }
  return okStatus();
}

bool isIpAddress(const std::string& text) {
  unsigned char buf[16];
  return inet_pton(AF_INET, text.c_str(), buf) == 1 || inet_pton(AF_INET6, text.c_str(), buf) == 1;
}

podnet::Result<Dns> parseDns(const nlohmann::json& v, const std::string& path) {
  auto dns = PODNET_TRY(dnsFromJson(v, path));
  for (const auto& ns : dns.nameservers) {
    if (!isIpAddress(ns)) {
      return makeError(Errc::kInvalidArgument,
                       path + ".nameservers: \"" + ns + "\" is not an IP address");
    }
  }
  return dns;
}

podnet::Result<std::vector<Attachment>> parseAttachments(const nlohmann::json& v,
                                                         const std::string& path) {
  PODNET_TRY_STATUS(kCniFields.expectArray(v, path));
  std::vector<Attachment> out;
  for (size_t i = 0; i < v.size(); ++i) {
    std::string at = path + "[" + std::to_string(i) + "]";
    PODNET_TRY_STATUS(kCniFields.expectObject(v[i], at));
    Attachment a;
    if (auto* f = jf::member(v[i], "containerID")) {
      a.containerId = PODNET_TRY(kCniFields.string(*f, at + ".containerID"));
    }
    if (auto* f = jf::member(v[i], "ifname"))
      a.ifname = PODNET_TRY(kCniFields.string(*f, at + ".ifname"));
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace

podnet::Result<NetConf> parseNetConf(std::string_view stdinText, Command command) {
  auto resolved = PODNET_TRY(resolve(stdinText));
  const nlohmann::json& raw = resolved.plugin;
  NetConf conf;
  conf.cniVersion = std::move(resolved.cniVersion);
  if (!isSupportedVersion(conf.cniVersion)) {
    return makeError(Errc::kIncompatibleVersion,
                     "cniVersion \"" + conf.cniVersion + "\" is not supported (supported: " +
                         jf::dump(versionJson(kLatestVersion)["supportedVersions"]) + ")");
  }
  PODNET_TRY_STATUS(checkCommandAllowed(conf.cniVersion, command));

  auto* name = jf::member(raw, "name");
  if (!name) return makeError(Errc::kInvalidArgument, "name is missing");
  conf.name = PODNET_TRY(kCniFields.string(*name, "name"));
  if (!isValidCniName(conf.name)) {
    return makeError(
        Errc::kInvalidArgument,
        "name \"" + conf.name + "\" is invalid: must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$");
  }
  auto* type = jf::member(raw, "type");
  if (!type) return makeError(Errc::kInvalidArgument, "type is missing");
  conf.type = PODNET_TRY(kCniFields.string(*type, "type"));
  if (conf.type != kPluginType) {
    return makeError(Errc::kInvalidArgument,
                     "type \"" + conf.type + "\" is not \"" + std::string(kPluginType) + "\"");
  }

  if (auto* f = jf::member(raw, "mtu")) {
    conf.mtu = PODNET_TRY(kCniFields.integer(*f, "mtu"));
    if (*conf.mtu < 68 || *conf.mtu > 65535) {
      return makeError(Errc::kInvalidArgument,
                       "mtu " + std::to_string(*conf.mtu) + " is outside 68..65535");
    }
  }
  if (auto* f = jf::member(raw, "socket")) {
    conf.socket = PODNET_TRY(kCniFields.string(*f, "socket"));
    if (conf.socket.empty() || conf.socket[0] != '/') {
      return makeError(Errc::kInvalidArgument,
                       "socket \"" + conf.socket + "\" is not an absolute path");
    }
  }
  if (auto* f = jf::member(raw, "ipam")) {
    PODNET_TRY_STATUS(kCniFields.expectObject(*f, "ipam"));
    if (!f->empty()) {
      return makeError(Errc::kUnsupported, "ipam " + jf::dump(*f) +
                                               " is not supported: podnet allocates pod "
                                               "addresses itself; remove the ipam section");
    }
  }
  if (auto* f = jf::member(raw, "ipMasq")) {
    if (PODNET_TRY(kCniFields.boolean(*f, "ipMasq"))) {
      return makeError(Errc::kUnsupported,
                       "ipMasq true is not supported: egress NAT is set per Subnet (natOutgoing)");
    }
  }
  if (auto* f = jf::member(raw, "dns")) conf.dns = PODNET_TRY(parseDns(*f, "dns"));
  if (auto* rc = jf::member(raw, "runtimeConfig")) {
    PODNET_TRY_STATUS(kCniFields.expectObject(*rc, "runtimeConfig"));
    if (auto* f = jf::member(*rc, "dns")) conf.dns = PODNET_TRY(parseDns(*f, "runtimeConfig.dns"));
  }
  if (auto* f = jf::member(raw, "prevResult")) {
    auto prev = decodeResult(*f);
    if (!prev) return makeError(Errc::kDecode, "prevResult: " + prev.error().message);
    conf.prevResult = std::move(*prev);
  }
  if (auto* f = jf::member(raw, "cni.dev/valid-attachments")) {
    conf.validAttachments = PODNET_TRY(parseAttachments(*f, "cni.dev/valid-attachments"));
  } else if (auto* f = jf::member(raw, "cni.dev/attachments")) {
    conf.validAttachments = PODNET_TRY(parseAttachments(*f, "cni.dev/attachments"));
  }
  conf.raw = std::move(resolved.plugin);
  return conf;
}

int cniCodeForConfigError(const Error& error) {
  switch (error.code) {
    case Errc::kDecode:
      return kDecodeFailure;
    case Errc::kIncompatibleVersion:
      return kIncompatibleVersion;
    case Errc::kUnsupported:
      return kUnsupportedField;
    default:
      return kInvalidNetworkConfig;
  }
}

std::string reportVersion(std::string_view stdinText) {
  auto top = jf::parse(stdinText, "network configuration");
  if (!top || !top->is_object()) return std::string(kLatestVersion);
  auto version = resolveVersion(*top);
  if (version && isSupportedVersion(*version)) return *version;
  return std::string(kLatestVersion);
}

}  // namespace podnet::cni
