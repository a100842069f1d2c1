// One request to a podnetd over its socket, as every podnetctl command makes it.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace podnet::ctl {

// The agent's answer when it says ok. Otherwise an error to print: "cannot reach podnetd: ..."
// (the rpc error's code) or "podnetd: <the agent's message>" (kInvalidArgument).
Result<nlohmann::json> askAgent(const std::string& socket, const nlohmann::json& request,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace podnet::ctl
