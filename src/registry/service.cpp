#include "registry/service.h"

#include <algorithm>
#include <tuple>

#include "cni/types.h"
#include "model/objects.h"
#include "policy/network_policy.h"
#include "registry/apply.h"
#include "registry/subnets.h"

namespace podnet::registry {
namespace {

int codeFor(Errc code) {
  switch (code) {
    case Errc::kDecode:
      return cni::kDecodeFailure;
    case Errc::kInvalidArgument:
    case Errc::kUnsupported:
    case Errc::kNotFound:
    case Errc::kAlreadyExists:
    case Errc::kIncompatibleVersion:
      return cni::kInvalidNetworkConfig;
    case Errc::kConflict:
    case Errc::kUnavailable:
      return cni::kTryAgainLater;
    default:
      return cni::kStoreFailure;
  }
}

Result<std::vector<nlohmann::json>> objectsOf(const nlohmann::json& request) {
  auto it = request.find("objects");
  if (it == request.end() || !it->is_array()) {
    return makeError(Errc::kDecode, "request: objects: required, a list of objects");
  }
  return it->get<std::vector<nlohmann::json>>();
}

// Every stored object under prefix that parses as a JSON object (an unreadable value is skipped).
Result<std::vector<nlohmann::json>> storedObjects(store::Store& store, const std::string& prefix) {
  auto kvs = PODNET_TRY(store.list(prefix));
  std::vector<nlohmann::json> out;
  for (const auto& kv : kvs) {
    auto object = nlohmann::json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
    if (object.is_object()) out.push_back(std::move(object));
  }
  return out;
}

// A string field of object, or of its metadata when meta; "" when missing or not a string.
std::string textOf(const nlohmann::json& object, const char* field, bool meta = false) {
  const nlohmann::json* from = &object;
  if (meta) {
    auto it = object.find("metadata");
    if (it == object.end() || !it->is_object()) return "";
    from = &*it;
  }
  auto it = from->find(field);
  return it != from->end() && it->is_string() ? it->get<std::string>() : "";
}

// The stored policies of every kind, sorted by kind, namespace and name (the store's key order
// differs: "shop-2/" sorts before "shop/").
Result<std::vector<nlohmann::json>> storedPolicies(store::Store& store) {
  auto policies = PODNET_TRY(storedObjects(store, policy::kPoliciesPrefix));
  auto sortKey = [](const nlohmann::json& p) {
    return std::tuple(textOf(p, "kind"), textOf(p, "namespace", true), textOf(p, "name", true));
  };
  std::sort(
      policies.begin(), policies.end(),
      [&](const nlohmann::json& a, const nlohmann::json& b) { return sortKey(a) < sortKey(b); });
  return policies;
}

nlohmann::json listAnswer(const char* field, const std::vector<AppliedObject>& objects) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& o : objects) list.push_back(toJson(o));
  return {{"ok", true}, {field, list}};
}

}  // namespace

bool servesOp(const std::string& op) {
  return op == "apply" || op == "delete" || op == "subnets" || op == "nodes" || op == "policies";
}

nlohmann::json errorAnswer(const Error& error) {
  return {{"ok", false}, {"error", {{"code", codeFor(error.code)}, {"msg", error.message}}}};
}

nlohmann::json answer(store::Store& store, const nlohmann::json& request) {
  const std::string op = request.is_object() ? request.value("op", "") : "";
  if (op == "subnets") {
    auto usage = subnetUsage(store);
    if (!usage) return errorAnswer(usage.error());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& u : *usage) list.push_back(toJson(u));
    return {{"ok", true}, {"subnets", list}};
  }
  if (op == "nodes" || op == "policies") {
    auto objects =
        op == "nodes" ? storedObjects(store, model::Node::kPrefix) : storedPolicies(store);
    if (!objects) return errorAnswer(objects.error());
    return {{"ok", true}, {op, *objects}};
  }
  if (op != "apply" && op != "delete") {
    return errorAnswer(makeError(Errc::kDecode, "unknown request op \"" + op + "\""));
  }
  auto objects = objectsOf(request);
  if (!objects) return errorAnswer(objects.error());
  auto done = op == "apply" ? applyObjects(store, *objects) : deleteObjects(store, *objects);
  if (!done) return errorAnswer(done.error());
  return listAnswer(op == "apply" ? "applied" : "deleted", *done);
}

}  // namespace podnet::registry
