// Every kind `podnetctl apply -f` and `delete -f` accept (model/kinds.h): model's (Namespace, Pod,
// Subnet) and the three policy kinds (policy/network_policy.h). model cannot decode the policy
// kinds, since the policy library depends on model, so the two decoders meet here; podnetctl checks
// files with these functions before it sends them, and podnetd again before it writes them.
#pragma once

#include <string>
#include <variant>

#include "common/result.h"
#include "model/manifest.h"
#include "policy/network_policy.h"

namespace podnet::registry {

using ManifestObject = std::variant<model::Object, policy::Policy>;

// Decodes and validates one object of any accepted kind. Errors name the document and the field:
// "p.yaml document 2 (NetworkPolicy shop/deny-all): spec.ingress[0].from[0].ipBlock.cidr: ...";
// an unknown kind is named with every kind podnet accepts.
Result<ManifestObject> decodeManifestObject(const model::Document& doc);

// A delete's check: an accepted kind and a name (nothing else is read).
Status checkKindAndName(const model::Document& doc);

// How a delete names doc's object, as applyObjects reports it: "blue", or "shop/web" for the
// namespaced kinds (namespace "default" when metadata has none, as kubectl).
std::string qualifiedName(const model::Document& doc);

std::string kindOf(const ManifestObject& object);  // "Subnet", "NetworkPolicy"
std::string nameOf(const ManifestObject& object);  // "blue", "shop/deny-all"

}  // namespace podnet::registry
