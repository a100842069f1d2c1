#include "registry/manifest_objects.h"

namespace podnet::registry {

Result<ManifestObject> decodeManifestObject(const model::Document& doc) {
  PODNET_TRY_STATUS(model::checkKind(doc));
  if (policy::isPolicyKind(doc.apiVersion, doc.kind)) {
    auto decoded = policy::decodePolicy(doc.body);
    if (!decoded) return doc.annotate(decoded.error());
    return ManifestObject(std::move(decoded).value());
  }
  return ManifestObject(PODNET_TRY(model::decodeObject(doc)));
}

Status checkKindAndName(const model::Document& doc) {
  return model::checkKindAndName(doc);
}

std::string qualifiedName(const model::Document& doc) {
  const model::KindInfo* kind = model::findKind(doc.apiVersion, doc.kind);
  if (kind == nullptr || !kind->namespaced) return doc.name;
  return (doc.namespace_.empty() ? std::string("default") : doc.namespace_) + "/" + doc.name;
}

std::string kindOf(const ManifestObject& object) {
  if (const auto* o = std::get_if<model::Object>(&object)) return model::kindOf(*o);
  return policy::kindOf(std::get<policy::Policy>(object));
}

std::string nameOf(const ManifestObject& object) {
  if (const auto* o = std::get_if<model::Object>(&object)) return model::nameOf(*o);
  const auto& p = std::get<policy::Policy>(object);
  const std::string ns = policy::namespaceOf(p);
  return (ns.empty() ? "" : ns + "/") + policy::nameOf(p);
}

}  // namespace podnet::registry
