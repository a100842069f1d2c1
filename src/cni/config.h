// podnet's CNI network configuration from the plugin's stdin: a single plugin config, or a
// configuration list from which podnet's entry is picked.
#pragma once

#include <string>
#include <string_view>

#include "cni/types.h"
#include "common/result.h"

namespace podnet::cni {

inline constexpr std::string_view kPluginType = "podnet-cni";

// Parses and validates the config for `command`. Errors, by Errc:
//   kDecode              not JSON, not an object, a known field of the wrong JSON type
//   kIncompatibleVersion cniVersion missing or unsupported, or the command needs a newer version
//   kUnsupported         a non-empty "ipam" (podnet allocates addresses itself), "ipMasq": true
//   kInvalidArgument     bad name, type, mtu, socket or dns
// Unknown keys are ignored, as the spec asks. A configuration list ({"plugins": [...]}) yields its
// first "podnet-cni" entry with the list's name and cniVersion injected; with "cniVersions" the
// highest supported one wins. NetConf::raw is that resolved plugin object.
podnet::Result<NetConf> parseNetConf(std::string_view stdinText, Command command);

// The CNI error code for an error from parseNetConf (1, 2, 6 or 7).
int cniCodeForConfigError(const Error& error);

// The version to answer in when the config cannot be used: its (resolved) cniVersion when present
// and supported, else kLatestVersion. Tolerates any input, including empty stdin.
std::string reportVersion(std::string_view stdinText);

}  // namespace podnet::cni
