// The CNI data model, version-neutral. The codec (result_codec.h) turns it into the JSON of any
// supported spec version; the plugin and the agent both speak these types.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ip.h"

namespace podnet::cni {

enum class Command { kAdd, kDel, kCheck, kStatus, kGc, kVersion };

// Error codes: 1-99 are the spec's well-known codes, 100+ are podnet's own (docs/cni.md).
enum ErrorCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidNetworkConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,
  kPluginNotAvailableLimited = 51,
  kAttachmentExists = 100,
  kPoolExhausted = 101,
  kDataplaneFailure = 102,
  kStoreFailure = 103,
  kAttachmentInvalid = 104,  // CHECK found the attachment missing or different
};

struct CniError {
  int code = kInvalidNetworkConfig;
  std::string msg;
  std::string details;
};

struct Interface {
  std::string name;
  std::string mac;
  std::optional<int> mtu;  // 1.1.0+
  std::string sandbox;     // netns path for the pod side; empty for the host side
};

struct IpConfig {
  Ipv4Prefix address;  // the interface address with its prefix length, e.g. 10.244.0.5/16
  std::optional<Ipv4> gateway;
  std::optional<int> interface;  // index into Result::interfaces
};

struct Route {
  Ipv4Prefix dst;
  std::optional<Ipv4> gw;
  std::optional<int> mtu;       // 1.1.0+
  std::optional<int> advmss;    // 1.1.0+
  std::optional<int> priority;  // 1.1.0+
  std::optional<int> table;     // 1.1.0+
  std::optional<int> scope;     // 1.1.0+
};

struct Dns {
  std::vector<std::string> nameservers;
  std::string domain;
  std::vector<std::string> search;
  std::vector<std::string> options;
  bool empty() const {
    return nameservers.empty() && domain.empty() && search.empty() && options.empty();
  }
};

struct Result {
  std::vector<Interface> interfaces;
  std::vector<IpConfig> ips;
  std::vector<Route> routes;
  Dns dns;
};

struct Attachment {
  std::string containerId;
  std::string ifname;
  auto operator<=>(const Attachment&) const = default;
};

// The CNI environment of one invocation (CNI_COMMAND, CNI_CONTAINERID, ...).
struct Env {
  Command command = Command::kVersion;
  std::string containerId;
  std::string netns;
  std::string ifname;
  std::string path;
  std::string rawArgs;                      // CNI_ARGS as given
  std::map<std::string, std::string> args;  // CNI_ARGS parsed; unknown keys kept, ignored
};

// podnet's network configuration after the runtime injected name/cniVersion (or after picking
// podnet's entry out of a configuration list).
struct NetConf {
  std::string cniVersion;
  std::string name;
  std::string type;
  std::optional<int> mtu;
  std::string socket;  // the agent's unix socket; empty means the default
  Dns dns;             // from "dns" or runtimeConfig.dns
  std::optional<Result> prevResult;
  std::vector<Attachment>
      validAttachments;  // GC: cni.dev/valid-attachments (or cni.dev/attachments)
  nlohmann::json raw;    // the whole object as received
};

}  // namespace podnet::cni
