// The policy compiler: the cluster's state and this node's context in, the exact contents of the
// pod policy program's maps out (pn_policy, pn_ipcache, pn_endpoints; see bpf/include/
// pod_policy.h). Pure: no store, no kernel, so the agent calls it on every change and the tests
// check what the kernel would decide. diff() and applyDiff() then move the maps from one compiled
// state to the next without a moment in which a flow allowed before and after is dropped.
//
// Subjects: endpoints with the same identity share one subject (the identity) and so one set of
// entries. A NetworkPolicy ingress rule with a named port resolves against the destination pod,
// i.e. the subject; when local pods of one identity disagree on a named port that ingress rules
// use, each of them gets its own subject (kEndpointSubjectBase | n), so entries stay exact.
//
// Peers: an egress rule's named port resolves against the destination pod, i.e. the peer. When
// the pods of one identity disagree on a named port that egress rules use, the identity is split
// on this node into peer classes: the pods resolving like the identity's first pod keep the
// identity, the others get node-local aliases (kPeerAliasBase | n) in pn_ipcache. Every rule that
// names the identity names its aliases too, so only the named port's resolution differs.
//
// The host firewall: a PodnetClusterwideNetworkPolicy with a nodeSelector that matches this node
// compiles into entries for the subject PN_IDENTITY_HOST, and endpoints[kHostEndpoint] says which
// directions are enforced (see docs/policy.md for how the agent attaches it).
//
// ipBlocks: a NetworkPolicy ipBlock matches an address whoever owns it (pod, node, world), so it
// does not go through pn_ipcache (where a pod's /32 carries the pod's identity) but through
// pn_ipblocks: one ipBlock identity per distinct prefix NetworkPolicy ipBlocks name (cidr and
// except), and a rule's entries name every such identity inside its cidr and outside its excepts.
// PodnetNetworkPolicy CIDR sets keep Cilium's meaning (outside the cluster only): pn_ipcache.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bpf/policy_maps.h"
#include "common/ip.h"
#include "common/result.h"
#include "model/objects.h"
#include "pod_policy.h"
#include "policy/identity.h"
#include "policy/network_policy.h"

namespace podnet::policy {

// A pod as the compiler needs it: its object (labels, node, container ports), its address and its
// identity. A pod without an address or identity (0) is not a peer and not an endpoint yet.
struct PodState {
  model::Pod pod;
  std::optional<Ipv4> address;
  uint32_t identity = 0;
};

struct ClusterState {
  std::vector<model::Namespace> namespaces;
  std::vector<PodState> pods;
  std::vector<model::Node> nodes;  // underlayIp of each: the node itself, or remote-node
  // Further addresses of other nodes (their vxlan join addresses), by node name: remote-node.
  std::map<std::string, std::vector<Ipv4>> nodeAddresses;
  // What each identity stands for (IdentityAllocator::list()). An identity missing here is
  // described by its pods and their namespace (identityLabelsOf).
  std::map<uint32_t, IdentityLabels> identities;
  std::vector<Policy> policies;
};

struct NodeContext {
  std::string name;
  model::Labels labels;             // what a nodeSelector sees
  std::vector<Ipv4> hostAddresses;  // besides its underlayIp: the pod gateway, the join address
  pn_enforcement_mode mode = PN_ENFORCE_DEFAULT;
  // The overlay's UDP port (vxlan): when a host policy isolates the node, the tunnel to and from
  // the other nodes stays allowed (an implicit rule, named kTunnelRule in flow events).
  std::optional<uint16_t> tunnelPort = std::nullopt;
};

// The key of the host endpoint in CompiledPolicy::endpoints (pods are "<namespace>/<name>").
inline constexpr const char* kHostEndpoint = "host";

// Which rule an entry's policy id stands for: flow events name the deciding policy with it.
struct PolicyRef {
  std::string kind;
  std::string namespace_;  // "" for the clusterwide kind
  std::string name;
  std::string section;      // "ingress", "egress", "ingressDeny", "egressDeny"
  int rule = 0;             // index within the section
  std::string str() const;  // "NetworkPolicy shop/web ingress[0]"
  auto operator<=>(const PolicyRef&) const = default;
};

// The implicit host rule that keeps the overlay's tunnel open (NodeContext::tunnelPort).
inline const PolicyRef kTunnelRule{"podnet", "", "overlay-tunnel", "implicit", 0};

struct CompiledPolicy {
  // pn_endpoints, by "<namespace>/<name>" of each local pod with an address and an identity, and
  // kHostEndpoint when a host policy selects this node. endpointId is 0: the agent sets its own
  // attachment id and writes the value under the pod's host-side ifindex.
  std::map<std::string, bpf::Endpoint> endpoints;
  // Why each endpoint is isolated, by direction: the policies that select it ("NetworkPolicy
  // x/deny-all"), sorted. A flow dropped by default deny names these (there is no rule to name).
  struct Isolation {
    std::vector<std::string> ingress, egress;
  };
  std::map<std::string, Isolation> isolatedBy;
  // pn_policy, deny precedence resolved (bpf::resolveDenyPrecedence), sorted by key.
  std::vector<bpf::PolicyEntry> entries;
  // pn_ipcache: pods (/32 -> identity or alias), nodes (/32 -> host or remote-node), and one
  // prefix per CIDR identity.
  std::map<Ipv4Prefix, uint32_t> ipcache;
  // pn_ipblocks: every prefix a NetworkPolicy ipBlock names -> its ipBlock identity
  // (PN_IDENTITY_LOCAL_IPBLOCK | n), numbered stably like the CIDR identities.
  std::map<Ipv4Prefix, uint32_t> ipBlocks;
  // Policy ids (1..) -> the rule; pn_policy values and flow events carry the id.
  std::map<uint32_t, PolicyRef> policyIds;

  // Node-local numbering, kept stable across compilations by passing the previous result back
  // to compile(): CIDR identities by prefix, peer aliases (alias -> the identity it splits, and
  // the named-port resolution it stands for), per-endpoint subjects by pod.
  std::map<Ipv4Prefix, uint32_t> cidrIdentities;
  std::map<uint32_t, std::pair<uint32_t, std::string>> peerAliases;
  std::map<std::string, uint32_t> endpointSubjects;

  // Inputs that were skipped (a pod whose identity disagrees with its labels, ...), for logs.
  std::vector<std::string> warnings;

  // The identity a flow event's identity number stands for (aliases to their identity).
  uint32_t identityOf(uint32_t peer) const;
};

// Compiles the cluster's policies for one node. previous (the last result applied) keeps
// node-local numbers and policy ids stable, so that an unrelated change rewrites nothing.
// Errors: Errc::kExhausted when the entries or prefixes exceed the maps' capacities; the agent
// then keeps what is enforced.
Result<CompiledPolicy> compile(const ClusterState& state, const NodeContext& node,
                               const CompiledPolicy* previous = nullptr);

// The writes that move the maps from one compiled state to the next, in the order applyDiff()
// performs them:
//   1. upsert pn_policy entries (new keys and changed values): a subject, peer or prefix that
//      is about to be used already has its entries, and new denies take effect at once;
//   2. upsert pn_ipcache and pn_ipblocks prefixes (new ones and changed identities);
//   3. upsert endpoints whose identity, subject or flags changed (new subjects are complete);
//   4. remove endpoints that are gone (normally the agent's CNI DEL did it already);
//   5. remove pn_ipcache and pn_ipblocks prefixes no longer present;
//   6. remove pn_policy keys no longer present (an allow disappears last, so a flow allowed in
//      both states is never dropped in between; open flows are carried by conntrack anyway).
struct PolicyMapDiff {
  std::vector<bpf::PolicyEntry> upsertEntries;
  std::vector<std::pair<Ipv4Prefix, uint32_t>> upsertIpcache;
  std::vector<std::pair<Ipv4Prefix, uint32_t>> upsertIpBlocks;
  std::vector<std::pair<std::string, bpf::Endpoint>> upsertEndpoints;
  std::vector<std::string> removeEndpoints;
  std::vector<Ipv4Prefix> removeIpcache;
  std::vector<Ipv4Prefix> removeIpBlocks;
  std::vector<bpf::PolicyKey> removeEntries;

  bool empty() const;
  size_t size() const;
};

PolicyMapDiff diff(const CompiledPolicy& from, const CompiledPolicy& to);

// Where applyDiff() writes: the agent implements it over bpf::PolicyMaps, mapping endpoint keys
// to host-side ifindexes (and kHostEndpoint to the host devices).
class PolicyMapWriter {
 public:
  virtual ~PolicyMapWriter() = default;
  virtual Status setPolicy(const bpf::PolicyEntry& entry) = 0;
  virtual Status removePolicy(const bpf::PolicyKey& key) = 0;
  virtual Status setIdentity(const Ipv4Prefix& prefix, uint32_t identity) = 0;
  virtual Status removeIdentity(const Ipv4Prefix& prefix) = 0;
  virtual Status setIpBlock(const Ipv4Prefix& prefix, uint32_t identity) = 0;
  virtual Status removeIpBlock(const Ipv4Prefix& prefix) = 0;
  virtual Status setEndpoint(const std::string& key, const bpf::Endpoint& endpoint) = 0;
  virtual Status removeEndpoint(const std::string& key) = 0;
};

// Performs diff in the documented order, stopping at the first error (the caller recompiles and
// diffs against what the maps hold, bpf::PolicyMaps::policies() and friends, to recover).
Status applyDiff(const PolicyMapDiff& diff, PolicyMapWriter& writer);

}  // namespace podnet::policy
