// The one table of the object kinds a user writes: how a manifest names each kind (apiVersion,
// kind), how a command line names it (plural), whether it lives in a namespace, and where the
// store keeps it. model decodes the core kinds and Subnet, policy/ the three policy kinds; both,
// the registry and podnetctl read this table rather than their own lists.
#pragma once

#include <string>
#include <string_view>

namespace podnet::model {

struct KindInfo {
  std::string_view apiVersion;
  std::string_view kind;
  std::string_view plural;
  bool namespaced;
  // Objects of the kind are stored at storePrefix + name, or + "namespace/name" if namespaced.
  std::string_view storePrefix;
};

// In the order error messages list them.
inline constexpr KindInfo kKinds[] = {
    {"v1", "Namespace", "namespaces", false, "/podnet/namespaces/"},
    {"v1", "Pod", "pods", true, "/podnet/pods/"},
    {"podnet.io/v1", "Subnet", "subnets", false, "/podnet/subnets/"},
    {"networking.k8s.io/v1", "NetworkPolicy", "networkpolicies", true,
     "/podnet/policies/NetworkPolicy/"},
    {"podnet.io/v1", "PodnetNetworkPolicy", "podnetnetworkpolicies", true,
     "/podnet/policies/PodnetNetworkPolicy/"},
    {"podnet.io/v1", "PodnetClusterwideNetworkPolicy", "podnetclusterwidenetworkpolicies", false,
     "/podnet/policies/PodnetClusterwideNetworkPolicy/"},
};

// The row of apiVersion and kind, or nullptr when podnet does not know the pair.
constexpr const KindInfo* findKind(std::string_view apiVersion, std::string_view kind) {
  for (const KindInfo& k : kKinds) {
    if (k.apiVersion == apiVersion && k.kind == kind) return &k;
  }
  return nullptr;
}

// The row of a kind by its name alone ("Subnet"); kinds are unique across apiVersions.
constexpr const KindInfo& kindInfo(std::string_view kind) {
  for (const KindInfo& k : kKinds) {
    if (k.kind == kind) return k;
  }
  throw "model::kindInfo: not a kind of model::kKinds";  // a compile error in constant evaluation
}

// "v1 Namespace, v1 Pod, ...": every kind, for messages.
inline std::string knownKinds() {
  std::string out;
  for (const KindInfo& k : kKinds) {
    out += (out.empty() ? "" : ", ") + std::string(k.apiVersion) + " " + std::string(k.kind);
  }
  return out;
}

}  // namespace podnet::model
