// The CNI environment (CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH):
// parsed and validated once, with errors that name the variable.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "cni/types.h"
#include "common/result.h"

namespace podnet::cni {

// Looks up one environment variable; std::nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Validates the variables the spec requires for the command (an empty value counts as unset).
// Errors are Errc::kInvalidArgument and name the variable. CNI_PATH is never required: podnet
// delegates to no other plugin.
podnet::Result<Env> parseEnv(const EnvLookup& lookup);

// The environment as the agent RPC carries it: an object keyed by the CNI variable names, so the
// agent validates it with the same parseEnv.
nlohmann::json envToJson(const Env& env);
podnet::Result<Env> envFromJson(const nlohmann::json& json);

// "ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION".
std::string_view commandName(Command command);

// True for names matching ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$ (container ids and network names).
bool isValidCniName(std::string_view name);

}  // namespace podnet::cni
