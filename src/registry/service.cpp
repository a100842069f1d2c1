#include "registry/service.h"

#include "cni/types.h"
#include "model/objects.h"
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

nlohmann::json listAnswer(const char* field, const std::vector<AppliedObject>& objects) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& o : objects) list.push_back(toJson(o));
  return {{"ok", true}, {field, list}};
}

}  // namespace

bool servesOp(const std::string& op) {
  return op == "apply" || op == "delete" || op == "subnets" || op == "nodes";
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
  if (op == "nodes") {
    auto kvs = store.list(model::Node::kPrefix);
    if (!kvs) return errorAnswer(kvs.error());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& kv : *kvs) {
      auto node = nlohmann::json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
      if (node.is_object()) list.push_back(std::move(node));
    }
    return {{"ok", true}, {"nodes", list}};
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
