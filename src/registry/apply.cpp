#include "registry/apply.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <variant>

#include "model/manifest.h"
#include "registry/subnets.h"

namespace podnet::registry {
namespace {

constexpr int kAttempts = 8;
constexpr const char* kNamespaceNameLabel = "kubernetes.io/metadata.name";

Result<ApplyAction> applyNamespace(store::Store& store, model::Namespace ns) {
  ns.metadata.namespace_.clear();  // cluster-scoped
  ns.metadata.labels[kNamespaceNameLabel] = ns.metadata.name;
  const nlohmann::json body = model::toJson(ns);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto kv = PODNET_TRY(store.get(ns.key()));
    if (kv && nlohmann::json::parse(kv->value, nullptr, false) == body) {
      return ApplyAction::kUnchanged;
    }
    auto compare = kv ? store::Compare::modRevisionIs(ns.key(), kv->modRevision)
                      : store::Compare::absent(ns.key());
    auto txn = PODNET_TRY(store.txn({compare}, {store::Op::put(ns.key(), body.dump())}));
    if (txn.succeeded) return kv ? ApplyAction::kConfigured : ApplyAction::kCreated;
  }
  return makeError(Errc::kConflict, "Namespace " + ns.metadata.name +
                                        ": it kept changing while it was applied; try again");
}

// A pod's namespace must exist, as in Kubernetes.
Result<ApplyAction> applyPod(store::Store& store, const model::Pod& pod) {
  const std::string who = "Pod " + pod.metadata.namespace_ + "/" + pod.metadata.name;
  const std::string nsKey = std::string(model::Namespace::kPrefix) + pod.metadata.namespace_;
  const nlohmann::json body = model::toJson(pod);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto ns = PODNET_TRY(store.get(nsKey));
    if (!ns) {
      return makeError(Errc::kNotFound, who + ": metadata.namespace: namespace \"" +
                                            pod.metadata.namespace_ + "\" not found");
    }
    auto kv = PODNET_TRY(store.get(pod.key()));
    if (kv && nlohmann::json::parse(kv->value, nullptr, false) == body) {
      return ApplyAction::kUnchanged;
    }
    auto compare = kv ? store::Compare::modRevisionIs(pod.key(), kv->modRevision)
                      : store::Compare::absent(pod.key());
    auto txn =
        PODNET_TRY(store.txn({compare, store::Compare::modRevisionIs(nsKey, ns->modRevision)},
                             {store::Op::put(pod.key(), body.dump())}));
    if (txn.succeeded) return kv ? ApplyAction::kConfigured : ApplyAction::kCreated;
  }
  return makeError(Errc::kConflict, who + ": it kept changing while it was applied; try again");
}

// name is "namespace/name".
Status deletePod(store::Store& store, const std::string& name) {
  const std::string key = std::string(model::Pod::kPrefix) + name;
  auto kv = PODNET_TRY(store.get(key));
  if (!kv) return makeError(Errc::kNotFound, "Pod " + name + ": not found");
  PODNET_TRY(store.txn({}, {store::Op::del(key)}));
  return okStatus();
}

Status deleteNamespace(store::Store& store, const std::string& name) {
  const std::string key = std::string(model::Namespace::kPrefix) + name;
  auto kv = PODNET_TRY(store.get(key));
  if (!kv) return makeError(Errc::kNotFound, "Namespace " + name + ": not found");
  PODNET_TRY(store.txn({}, {store::Op::del(key)}));
  return okStatus();
}

// Deletes an object by name; one entry per kind of model::Object.
using Deleter = Status (*)(store::Store&, const std::string& name);
const std::map<std::string, Deleter>& deleters() {
  static const std::map<std::string, Deleter> kDeleters = {
      {"Namespace", deleteNamespace}, {"Pod", deletePod}, {"Subnet", deleteSubnet}};
  return kDeleters;
}

// Applies one decoded object; one overload per model::Object alternative.
struct Applier {
  store::Store& store;
  Result<ApplyAction> operator()(const model::Namespace& ns) const {
    return applyNamespace(store, ns);
  }
  Result<ApplyAction> operator()(const model::Pod& pod) const { return applyPod(store, pod); }
  Result<ApplyAction> operator()(const model::Subnet& subnet) const {
    return applySubnet(store, subnet);
  }
};

// Every object in the batch decoded, with its Document for messages.
struct Decoded {
  model::Document doc;
  model::Object object;
};

Status checkUnique(const std::vector<model::Document>& docs) {
  std::map<std::pair<std::string, std::string>, const model::Document*> seen;
  for (const auto& doc : docs) {
    auto [it, inserted] = seen.emplace(std::make_pair(doc.kind, doc.name), &doc);
    if (!inserted) {
      return doc.annotate(
          makeError(Errc::kInvalidArgument, "appears twice (also " + it->second->describe() + ")"));
    }
  }
  return okStatus();
}

// The batch's subnets against each other and against the stored ones (a stored subnet the batch
// updates is replaced by its new version), so a bad pair in one file fails before any write.
Status checkSubnets(store::Store& store, const std::vector<Decoded>& batch) {
  std::vector<model::Subnet> merged = PODNET_TRY(listSubnets(store));
  for (const auto& d : batch) {
    const auto* subnet = std::get_if<model::Subnet>(&d.object);
    if (!subnet) continue;
    std::erase_if(merged, [&](const model::Subnet& s) { return s.name == subnet->name; });
    merged.push_back(*subnet);
  }
  for (const auto& d : batch) {
    const auto* subnet = std::get_if<model::Subnet>(&d.object);
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
    auto object = PODNET_TRY(model::decodeObject(doc));
    batch.push_back({doc, std::move(object)});
  }
  PODNET_TRY_STATUS(checkUnique(described));
  PODNET_TRY_STATUS(checkSubnets(store, batch));

  std::vector<AppliedObject> applied;
  for (const auto& d : batch) {
    auto action = std::visit(Applier{store}, d.object);
    if (!action) return partly(d.doc.annotate(action.error()), applied, "applied");
    applied.push_back({model::kindOf(d.object), model::nameOf(d.object), actionName(*action)});
  }
  return applied;
}

Result<std::vector<AppliedObject>> deleteObjects(store::Store& store,
                                                 const std::vector<nlohmann::json>& docs) {
  auto described = documents(docs);
  for (const auto& doc : described) PODNET_TRY_STATUS(model::checkKindAndName(doc));
  PODNET_TRY_STATUS(checkUnique(described));

  std::vector<AppliedObject> deleted;
  for (const auto& doc : described) {
    auto deleter = deleters().find(doc.kind);
    // Namespaced kinds are deleted by "namespace/name" (Kubernetes' default namespace if unset).
    std::string name = doc.name;
    if (doc.kind == "Pod") {
      const auto& meta = doc.body.value("metadata", nlohmann::json::object());
      const auto& ns = meta.is_object() ? meta.value("namespace", nlohmann::json("default"))
                                        : nlohmann::json("default");
      name = (ns.is_string() ? ns.get<std::string>() : std::string("default")) + "/" + doc.name;
    }
    Status st = deleter != deleters().end()
                    ? deleter->second(store, name)
                    : Status(makeError(Errc::kUnsupported, "podnet cannot delete this kind"));
    if (!st) return partly(doc.annotate(st.error()), deleted, "deleted");
    deleted.push_back({doc.kind, name, "deleted"});
  }
  return deleted;
}

}  // namespace podnet::registry
