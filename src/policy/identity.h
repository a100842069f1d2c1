// Security identities: one number per distinct (namespace, namespace labels, pod labels), the
// same on every node, so that a packet's source address (via pn_ipcache) names what the policy
// is about. The numbers are allocated in the store, not computed:
//
//   /podnet/identities/<id>                     -> IdentityLabels as JSON
//   /podnet/identity-labels/<encoded labels>    -> "<id>"
//   /podnet/identity-next                       -> "<id>": where the next search starts
//
// Why the store and not a hash every node computes: pod identities live in 24 bits (below
// PN_IDENTITY_LOCAL_CIDR), and a hash into 2^24 values collides with 3% probability at 1000 label
// sets and 50% at about 4800; a collision silently merges two label sets, i.e. one pod gets
// another's permissions. The store's compare-and-put makes every number unique, every node reads
// the same keys, and a label set keeps its number while its keys exist. The reverse key is the
// label set itself (percent-encoded), not a hash of it, so it cannot collide either.
//
// Numbers are handed out upwards from PN_IDENTITY_FIRST_POD, wrapping to the lowest free one at
// the top, so a released number is reused as late as possible (a node that still caches the old
// meaning for a moment does less harm).
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/objects.h"
#include "pod_policy.h"
#include "policy/network_policy.h"
#include "store/store.h"

namespace podnet::policy {

// Number ranges. Pod identities: [PN_IDENTITY_FIRST_POD, kPodIdentityEnd), cluster-wide.
// The rest are node-local and chosen by the compiler: CIDR identities PN_IDENTITY_LOCAL_CIDR | n,
// ipBlock identities PN_IDENTITY_LOCAL_IPBLOCK | n (pn_ipblocks, a pn_policy peer only),
// peer aliases (a pod identity split by named ports, see compiler.h) kPeerAliasBase | n, and
// per-endpoint subjects kEndpointSubjectBase | n (a subject, never a packet's identity).
inline constexpr uint32_t kPodIdentityEnd = PN_IDENTITY_LOCAL_CIDR;
inline constexpr uint32_t kEndpointSubjectBase = 1u << 25;
inline constexpr uint32_t kPeerAliasBase = 1u << 26;
inline constexpr uint32_t kLocalIdentityMask = (1u << 24) - 1;  // n in the node-local ranges

// Cilium's names, so that Cilium-style selectors port over unchanged.
inline constexpr const char* kPodNamespaceLabel = "io.kubernetes.pod.namespace";
inline constexpr const char* kNamespaceLabelsPrefix = "io.cilium.k8s.namespace.labels.";
// The label Kubernetes puts on every namespace.
inline constexpr const char* kNamespaceNameLabel = "kubernetes.io/metadata.name";

// What a pod identity stands for.
struct IdentityLabels {
  std::string namespace_;
  model::Labels namespaceLabels;
  model::Labels podLabels;

  // The namespace's labels as a NetworkPolicy namespaceSelector sees them: its labels plus
  // kubernetes.io/metadata.name=<namespace>.
  model::Labels namespaceView() const;
  // The labels a podnet-kind selector (endpointSelector, fromEndpoints) sees: the pod's labels,
  // io.kubernetes.pod.namespace=<namespace>, and io.cilium.k8s.namespace.labels.<k>=<v> for
  // each namespace label.
  model::Labels endpointView() const;

  nlohmann::json toJson() const;
  static Result<IdentityLabels> fromJson(const nlohmann::json&);
  // A stable text form (sorted, unambiguous): the reverse key's payload.
  std::string canonical() const;
  auto operator<=>(const IdentityLabels&) const = default;
};

IdentityLabels identityLabelsOf(const model::Namespace& ns, const model::Pod& pod);
// When the namespace object is not at hand (labels unknown).
IdentityLabels identityLabelsOf(const model::Pod& pod);

// The reserved identities an entity stands for, per pod_policy.h. world and cluster also take
// node-local numbers (CIDR identities, pod identities); the compiler adds those. all is the
// wildcard PN_IDENTITY_ANY.
std::set<uint32_t> reservedIdentities(Entity e);

class IdentityAllocator {
 public:
  static constexpr const char* kPrefix = "/podnet/identities/";
  static constexpr const char* kLabelsPrefix = "/podnet/identity-labels/";
  static constexpr const char* kNextKey = "/podnet/identity-next";

  // first/end bound the numbers handed out (tests shrink them to exercise wrapping).
  explicit IdentityAllocator(store::Store& store, uint32_t first = PN_IDENTITY_FIRST_POD,
                             uint32_t end = kPodIdentityEnd)
      : store_(store), first_(first), end_(end) {}

  // The identity of labels: the existing one, else a new number written in one transaction
  // (both keys and the cursor, each compared first). Safe to call from every node at once: the
  // losers of a race re-read and get the winner's number. kExhausted when every number is taken.
  Result<uint32_t> allocate(const IdentityLabels& labels);
  Result<std::optional<uint32_t>> find(const IdentityLabels& labels);
  Result<std::optional<IdentityLabels>> labelsOf(uint32_t id);
  Result<std::map<uint32_t, IdentityLabels>> list();

  // Removes the identity (both keys) if id still stands for labels. Only the controller's
  // garbage collection calls this, for identities no pod uses. A user of an identity that must
  // not race with that (an agent publishing a pod's endpoint) puts stillAllocated() into its own
  // transaction and re-allocates when it fails.
  Status release(uint32_t id, const IdentityLabels& labels);
  // Releases every identity whose labels are not in inUse; returns the released numbers.
  Result<std::set<uint32_t>> releaseUnused(const std::set<IdentityLabels>& inUse);

  static store::Compare stillAllocated(uint32_t id, const IdentityLabels& labels);
  static std::string idKey(uint32_t id);
  static std::string labelsKey(const IdentityLabels& labels);

 private:
  store::Store& store_;
  uint32_t first_;
  uint32_t end_;
};

}  // namespace podnet::policy
