// The podnet-cni plugin's logic, apart from the process: read the environment and config, ask the
// agent, print the answer in the config's spec version.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cni/env.h"
#include "common/result.h"

namespace podnet::cni {

struct PluginOutput {
  int exitCode = 0;
  std::string stdoutText;
};

// How the plugin reaches podnetd. A transport failure with Errc::kUnavailable means the agent could
// not be reached (not listening, timed out).
class AgentTransport {
 public:
  virtual ~AgentTransport() = default;
  virtual podnet::Result<nlohmann::json> call(const std::string& socketPath,
                                              const nlohmann::json& request) = 0;
};

inline constexpr const char* kDefaultSocket = "/run/podnet/podnetd.sock";

// VERSION is answered locally. Every other command is sent to the agent as
//   {"op": "cni", "env": envToJson(env), "config": netconf.raw}
// which answers {"ok": true, "result": <1.1.0 result or null>} or
// {"ok": false, "error": {"code": N, "msg": "...", "details": "..."}}.
// Errors become the spec's error JSON with exit code 1; ADD's result is printed in the config's
// version; DEL, CHECK, GC and STATUS print nothing on success.
PluginOutput runPlugin(const EnvLookup& env, std::string_view stdinText, AgentTransport& agent);

}  // namespace podnet::cni
