// `podnetctl apply -f` and `delete -f` on the agent's side: a manifest's objects (model/manifest.h)
// checked as a whole, then written to the store one by one.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/store.h"

namespace podnet::registry {

struct AppliedObject {
  std::string kind;    // "Subnet", "NetworkPolicy"
  std::string name;    // "blue"; the namespaced kinds "shop/deny-all"
  std::string action;  // "created", "configured", "unchanged" or "deleted"
};

// {"kind":"Subnet","name":"blue","action":"created"}
nlohmann::json toJson(const AppliedObject&);
// kubectl's line for it: "subnet/blue created", "networkpolicy/shop/deny-all configured" (kubectl
// would print "networkpolicy.networking.k8s.io/deny-all"; podnet names every kind the same way,
// without the API group and with the namespace).
std::string describe(const AppliedObject&);

// Applies docs in order. First every document is decoded and validated (decodeManifestObject), no
// kind/name may appear twice, and the subnets are checked against each other and the stored ones;
// if anything is wrong nothing is written. Then each object is applied: a Subnet through
// applySubnet, a Namespace put at its key with the label kubernetes.io/metadata.name=<name> added
// (as Kubernetes does), a Pod once its namespace exists, a policy (any of the three kinds) as
// policy::toJson writes it (defaults filled in) at policy::policyKey, whether or not its namespace
// exists. Errors name the object ("object 2 (Subnet blue): spec.cidrBlock: ..."); an error while
// applying also lists the objects applied before it, which stay applied.
Result<std::vector<AppliedObject>> applyObjects(store::Store& store,
                                                const std::vector<nlohmann::json>& docs);

// Deletes docs' objects in order (only kind, metadata.name and, for the namespaced kinds,
// metadata.namespace are read, so a file that no longer validates can still be deleted). A missing
// object is kNotFound; a subnet with addresses in use is refused (deleteSubnet). Errors are named
// and list what was deleted before them, as above.
Result<std::vector<AppliedObject>> deleteObjects(store::Store& store,
                                                 const std::vector<nlohmann::json>& docs);

}  // namespace podnet::registry
