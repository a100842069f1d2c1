#include "registry/apply.h"

#include <algorithm>
#include <cctype>
#include <functional>
#include <map>
#include <variant>

#include "model/kinds.h"
#include "model/manifest.h"
#include "registry/manifest_objects.h"
#include "registry/subnets.h"

namespace podnet::registry {
namespace {

constexpr int kAttempts = 8;
constexpr const char* kNamespaceNameLabel = "kubernetes.io/metadata.name";

// Compares a write must also hold to (read fresh on every attempt), or the refusal.
using Guard = std::function<Result<std::vector<store::Compare>>()>;

// Puts body at key unless the same JSON is already there; retried while other writers win the
// race. who names the object in the error after too many lost races.
Result<ApplyAction> putObject(store::Store& store, const std::string& key,
                              const nlohmann::json& body, const std::string& who,
                              const Guard& guard = {}) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    std::vector<store::Compare> compares;
    if (guard) compares = PODNET_TRY(guard());
    auto kv = PODNET_TRY(store.get(key));
    if (kv && nlohmann::json::parse(kv->value, nullptr, false) == body) {
      return ApplyAction::kUnchanged;
    }
    compares.push_back(kv ? store::Compare::modRevisionIs(key, kv->modRevision)
                          : store::Compare::absent(key));
    auto txn = PODNET_TRY(store.txn(compares, {store::Op::put(key, body.dump())}));
    if (txn.succeeded) return kv ? ApplyAction::kConfigured : ApplyAction::kCreated;
  }
  return makeError(Errc::kConflict, who + ": it kept changing while it was applied; try again");
}

Result<ApplyAction> applyNamespace(store::Store& store, model::Namespace ns) {
  ns.metadata.namespace_.clear();  // cluster-scoped
  ns.metadata.labels[kNamespaceNameLabel] = ns.metadata.name;
  return putObject(store, ns.key(), model::toJson(ns), "Namespace " + ns.metadata.name);
}

// A pod's namespace must exist, as in Kubernetes.
Result<ApplyAction> applyPod(store::Store& store, const model::Pod& pod) {
  const std::string who = "Pod " + pod.metadata.namespace_ + "/" + pod.metadata.name;
  const std::string nsKey = std::string(model::Namespace::kPrefix) + pod.metadata.namespace_;
  auto namespaceExists = [&]() -> Result<std::vector<store::Compare>> {
    auto ns = PODNET_TRY(store.get(nsKey));
    if (!ns) {
      return makeError(Errc::kNotFound, who + ": metadata.namespace: namespace \"" +
                                            pod.metadata.namespace_ + "\" not found");
    }
    return std::vector<store::Compare>{store::Compare::modRevisionIs(nsKey, ns->modRevision)};
  };
  return putObject(store, pod.key(), model::toJson(pod), who, namespaceExists);
}

// A policy is stored in its canonical form (defaults filled in, as the API server stores it), so
// applying the same policy written differently reports it unchanged. Its namespace need not
// exist (unlike a pod's): a policy for a namespace that has no pods yet selects nothing, and a
// file may then list the policy before its namespace.
Result<ApplyAction> applyPolicy(store::Store& store, const policy::Policy& p) {
  return putObject(store, policy::policyKey(p), policy::toJson(p), policy::describe(p));
}

// Removes prefix + name; kNotFound "Pod shop/web: not found" when there is nothing to remove.
Status deleteByPrefix(store::Store& store, const std::string& kind, const std::string& name,
                      const std::string& prefix) {
  const std::string key = prefix + name;
  auto kv = PODNET_TRY(store.get(key));
  if (!kv) return makeError(Errc::kNotFound, kind + " " + name + ": not found");
  PODNET_TRY(store.txn({}, {store::Op::del(key)}));
  return okStatus();
}

// Deletes an object by its kind and qualifiedName() ("ns/name" for the namespaced kinds), where
// the kinds table stores it; a Subnet only when none of its addresses is in use.
Status deleteObject(store::Store& store, const model::KindInfo& kind, const std::string& name) {
  if (kind.kind == "Subnet") return deleteSubnet(store, name);
  return deleteByPrefix(store, std::string(kind.kind), name, std::string(kind.storePrefix));
}

// Applies one decoded object; one overload per model::Object alternative, one for the policies.
struct Applier {
  store::Store& store;
  Result<ApplyAction> operator()(const model::Namespace& ns) const {
    return applyNamespace(store, ns);
  }
  Result<ApplyAction> operator()(const model::Pod& pod) const { return applyPod(store, pod); }
  Result<ApplyAction> operator()(const model::Subnet& subnet) const {
    return applySubnet(store, subnet);
  }
  Result<ApplyAction> operator()(const model::Object& object) const {
    return std::visit(*this, object);
  }
  Result<ApplyAction> operator()(const policy::Policy& p) const { return applyPolicy(store, p); }
};

// Every object in the batch decoded, with its Document for messages.
struct Decoded {
  model::Document doc;
  ManifestObject object;
};

// An object of the batch: its document, kind and name ("shop/web" for the namespaced kinds).
struct Named {
  const model::Document* doc;
  std::string kind, name;
};

Status checkUnique(const std::vector<Named>& objects) {
  std::map<std::pair<std::string, std::string>, const model::Document*> seen;
  for (const auto& o : objects) {
    auto [it, inserted] = seen.emplace(std::make_pair(o.kind, o.name), o.doc);
    if (!inserted) {
      return o.doc->annotate(
          makeError(Errc::kInvalidArgument, "appears twice (also " + it->second->describe() + ")"));
    }
  }
  return okStatus();
}

// The batch's subnets against each other and against the stored ones (a stored subnet the batch
// updates is replaced by its new version), so a bad pair in one file fails before any write.
Status checkSubnets(store::Store& store, const std::vector<Decoded>& batch) {
  std::vector<model::Subnet> merged = PODNET_TRY(listSubnets(store));
  auto subnetOf = [](const Decoded& d) -> const model::Subnet* {
    const auto* object = std::get_if<model::Object>(&d.object);
    return object ? std::get_if<model::Subnet>(object) : nullptr;
  };
  for (const auto& d : batch) {
    const auto* subnet = subnetOf(d);
    if (!subnet) continue;
    std::erase_if(merged, [&](const model::Subnet& s) { return s.name == subnet->name; });
    merged.push_back(*subnet);
  }
  for (const auto& d : batch) {
    const auto* subnet = subnetOf(d);
    if (!subnet) continue;
    if (auto st = model::validateAgainst(*subnet, merged); !st) return d.doc.annotate(st.error());
  }
  return okStatus();
}

std::vector<model::Document> documents(const std::vector<nlohmann::json>& docs) {
  std::vector<model::Document> out;
  for (size_t i = 0; i < docs.size(); ++i) {
    out.push_back(model::documentFor(docs[i], static_cast<int>(i + 1)));
  }
  return out;
}

Error partly(Error error, const std::vector<AppliedObject>& done, const char* verb) {
  if (done.empty()) return error;
  std::string list;
  for (const auto& o : done) list += (list.empty() ? "" : ", ") + describe(o);
  error.message += std::string(" (") + verb + " before this error: " + list + ")";
  return error;
}

}  // namespace

nlohmann::json toJson(const AppliedObject& o) {
  return {{"kind", o.kind}, {"name", o.name}, {"action", o.action}};
}

std::string describe(const AppliedObject& o) {
  std::string kind = o.kind;
  std::transform(kind.begin(), kind.end(), kind.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return kind + "/" + o.name + " " + o.action;
}

Result<std::vector<AppliedObject>> applyObjects(store::Store& store,
                                                const std::vector<nlohmann::json>& docs) {
  auto described = documents(docs);
  std::vector<Decoded> batch;
  for (const auto& doc : described) {
    auto object = PODNET_TRY(decodeManifestObject(doc));
    batch.push_back({doc, std::move(object)});
  }
  std::vector<Named> named;
  for (const auto& d : batch) named.push_back({&d.doc, kindOf(d.object), nameOf(d.object)});
  PODNET_TRY_STATUS(checkUnique(named));
  PODNET_TRY_STATUS(checkSubnets(store, batch));

  std::vector<AppliedObject> applied;
  for (const auto& d : batch) {
    auto action = std::visit(Applier{store}, d.object);
    if (!action) return partly(d.doc.annotate(action.error()), applied, "applied");
    applied.push_back({kindOf(d.object), nameOf(d.object), actionName(*action)});
  }
  return applied;
}

Result<std::vector<AppliedObject>> deleteObjects(store::Store& store,
                                                 const std::vector<nlohmann::json>& docs) {
  auto described = documents(docs);
  std::vector<Named> named;
  for (const auto& doc : described) {
    PODNET_TRY_STATUS(registry::checkKindAndName(doc));
    named.push_back({&doc, doc.kind, qualifiedName(doc)});
  }
  PODNET_TRY_STATUS(checkUnique(named));

  std::vector<AppliedObject> deleted;
  for (const auto& o : named) {
    // checkKindAndName has found the kind in the table.
    Status st = deleteObject(store, *model::findKind(o.doc->apiVersion, o.kind), o.name);
    if (!st) return partly(o.doc->annotate(st.error()), deleted, "deleted");
    deleted.push_back({o.kind, o.name, "deleted"});
  }
  return deleted;
}

}  // namespace podnet::registry
