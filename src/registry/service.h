// The agent's RPC answers for the registry (podnetctl apply/delete/get subnets|nodes|policies), so
// podnetd only routes the ops here:
//   {"op":"apply","objects":[...]}  -> {"ok":true,"applied":[{"kind","name","action"}...]}
//   {"op":"delete","objects":[...]} -> {"ok":true,"deleted":[...]}
//   {"op":"subnets"}                -> {"ok":true,"subnets":[toJson(SubnetUsage)...]}
//   {"op":"nodes"}                  -> {"ok":true,"nodes":[<Node object>...]} (registered nodes)
//   {"op":"policies"}               -> {"ok":true,"policies":[<policy object>...]} (as stored:
//                                      policy::toJson; sorted by kind, namespace, name)
//   any failure                     -> {"ok":false,"error":{"code":N,"msg":"..."}}
// Codes are the agent's CNI codes (cni/types.h): 6 the request is malformed, 7 an object is
// invalid or refused, 11 a race or an unreachable store (try again), 103 another store failure.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/store.h"

namespace podnet::registry {

// True for "apply", "delete", "subnets", "nodes" and "policies".
bool servesOp(const std::string& op);

// Answers one request whose op servesOp() accepts.
nlohmann::json answer(store::Store& store, const nlohmann::json& request);

// The failure answer for an error.
nlohmann::json errorAnswer(const Error& error);

}  // namespace podnet::registry
