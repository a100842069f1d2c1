// The three policy kinds as podnet models them, decoded from their Kubernetes-shaped JSON:
//
//   networking.k8s.io/v1 NetworkPolicy          exactly Kubernetes' semantics
//   podnet.io/v1 PodnetNetworkPolicy            Cilium's CiliumNetworkPolicy, namespaced
//   podnet.io/v1 PodnetClusterwideNetworkPolicy Cilium's CiliumClusterwideNetworkPolicy, with a
//                                               nodeSelector for the host firewall
//
// Decoding is strict (an unknown field is an error, as kubectl's strict validation), applies
// Kubernetes' defaults (policyTypes, protocol TCP), masks host bits in CIDRs (10.1.2.3/8 is
// 10.0.0.0/8) and validates everything that needs no other object. Errors name the document's
// kind and name and the field: "NetworkPolicy shop/deny-all: spec.ingress[0].from[1].ipBlock.cidr:
// ...". The decoded model is what the compiler (policy/compiler.h) reads; semantics are in
// docs/policy.md.
//
// Store keys:
//   /podnet/policies/NetworkPolicy/<namespace>/<name>
//   /podnet/policies/PodnetNetworkPolicy/<namespace>/<name>
//   /podnet/policies/PodnetClusterwideNetworkPolicy/<name>
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ip.h"
#include "common/result.h"
#include "model/objects.h"
#include "policy/label_selector.h"

namespace podnet::policy {

// Under which every policy kind's storePrefix (model/kinds.h) lies: one watch sees them all.
inline constexpr const char* kPoliciesPrefix = "/podnet/policies/";

// model::ObjectMeta has no comparison; the policies compare by value (tests, change detection).
inline bool operator==(const model::ObjectMeta& a, const model::ObjectMeta& b) {
  return a.name == b.name && a.namespace_ == b.namespace_ && a.labels == b.labels &&
         a.annotations == b.annotations;
}

enum class Protocol : uint8_t { kTcp = 6, kUdp = 17, kSctp = 132 };
const char* protocolName(Protocol p);  // "TCP"

// One port clause. protocol none = every protocol (the podnet kinds' "ANY"; NetworkPolicy always
// has one). port 0 and no name = every port of the protocol. A name is resolved to a number by
// the compiler against a pod's container ports. endPort 0 = just port.
struct PortSelector {
  std::optional<Protocol> protocol = Protocol::kTcp;
  uint16_t port = 0;
  std::string name;
  uint16_t endPort = 0;
  bool operator==(const PortSelector&) const = default;
};

// A CIDR (host bits masked) minus excepted CIDRs, each strictly inside it (also masked).
struct CidrBlock {
  Ipv4Prefix cidr;
  std::vector<Ipv4Prefix> except;
  bool operator==(const CidrBlock&) const = default;
};

// ---- networking.k8s.io/v1 NetworkPolicy ----

// Exactly one of: ipBlock, or podSelector and/or namespaceSelector (both = AND).
struct NetworkPolicyPeer {
  std::optional<LabelSelector> podSelector;
  std::optional<LabelSelector> namespaceSelector;
  std::optional<CidrBlock> ipBlock;
  bool operator==(const NetworkPolicyPeer&) const = default;
};

// An ingress rule (peers = from) or an egress rule (peers = to). Empty peers = every peer; empty
// ports = every port and protocol; so {} allows everything.
struct NetworkPolicyRule {
  std::vector<PortSelector> ports;
  std::vector<NetworkPolicyPeer> peers;
  bool operator==(const NetworkPolicyRule&) const = default;
};

struct NetworkPolicy {
  model::ObjectMeta metadata;  // namespace defaults to "default", as kubectl does
  LabelSelector podSelector;   // {} (or absent) = every pod of the namespace
  std::vector<NetworkPolicyRule> ingress;
  std::vector<NetworkPolicyRule> egress;
  // policyTypes after Kubernetes' defaulting: when omitted, Ingress, plus Egress when spec.egress
  // has at least one rule (SetDefaults_NetworkPolicySpec).
  bool policyIngress = true;
  bool policyEgress = false;

  static constexpr const char* kKind = "NetworkPolicy";
  static constexpr const char* kApiVersion = model::kindInfo(kKind).apiVersion.data();
  std::string key() const;
  bool operator==(const NetworkPolicy&) const = default;
};

// ---- podnet.io/v1 PodnetNetworkPolicy / PodnetClusterwideNetworkPolicy (Cilium-style) ----

enum class Entity { kWorld, kCluster, kHost, kRemoteNode, kAll };
const char* entityName(Entity e);  // "remote-node"

// One rule of ingress, egress, ingressDeny or egressDeny. The peer kinds (endpoints, CIDRs,
// entities) may not be combined in one rule (as in Cilium); a rule with none of them matches
// every peer when it has ports and nothing at all otherwise (Cilium's `{}` rule isolates without
// allowing). ports are toPorts[*].ports flattened (only L4: L7 rules are refused).
struct PodnetRule {
  std::vector<LabelSelector> endpoints;  // fromEndpoints / toEndpoints
  std::vector<CidrBlock> cidrs;          // fromCIDR + fromCIDRSet / toCIDR + toCIDRSet
  std::vector<Entity> entities;          // fromEntities / toEntities
  std::vector<PortSelector> ports;       // protocol none = ANY (Cilium's default)
  bool operator==(const PodnetRule&) const = default;
};

struct PodnetPolicySpec {
  // Namespaced: endpointSelector is required. Clusterwide: exactly one of endpointSelector
  // (pods of every namespace) and nodeSelector (the nodes themselves: the host firewall).
  std::optional<LabelSelector> endpointSelector;
  std::optional<LabelSelector> nodeSelector;
  // Absent vs present matters: a present section (even empty) isolates the selected endpoints in
  // its direction.
  std::optional<std::vector<PodnetRule>> ingress, egress, ingressDeny, egressDeny;
  std::string description;
  bool operator==(const PodnetPolicySpec&) const = default;
};

struct PodnetNetworkPolicy {
  model::ObjectMeta metadata;
  PodnetPolicySpec spec;

  static constexpr const char* kKind = "PodnetNetworkPolicy";
  static constexpr const char* kApiVersion = model::kindInfo(kKind).apiVersion.data();
  std::string key() const;
  bool operator==(const PodnetNetworkPolicy&) const = default;
};

struct PodnetClusterwideNetworkPolicy {
  model::ObjectMeta metadata;  // no namespace
  PodnetPolicySpec spec;

  static constexpr const char* kKind = "PodnetClusterwideNetworkPolicy";
  static constexpr const char* kApiVersion = model::kindInfo(kKind).apiVersion.data();
  std::string key() const;
  bool operator==(const PodnetClusterwideNetworkPolicy&) const = default;
};

using Policy = std::variant<NetworkPolicy, PodnetNetworkPolicy, PodnetClusterwideNetworkPolicy>;

// Decoders: strict, defaulted, validated. The messages start with "<Kind> <ns>/<name>: " (or
// "<Kind> <name>: " for the clusterwide kind).
Result<NetworkPolicy> networkPolicyFromJson(const nlohmann::json& j);
Result<PodnetNetworkPolicy> podnetNetworkPolicyFromJson(const nlohmann::json& j);
Result<PodnetClusterwideNetworkPolicy> podnetClusterwideNetworkPolicyFromJson(
    const nlohmann::json& j);
// Dispatches on apiVersion and kind (the registry's apply path and the agent's store watch call
// this). Errc::kUnsupported for a kind that is not a policy.
Result<Policy> decodePolicy(const nlohmann::json& j);
bool isPolicyKind(const std::string& apiVersion, const std::string& kind);

// Kubernetes-shaped JSON as stored; decoding it gives back an equal object (policyTypes are
// written out, as the API server does after defaulting).
nlohmann::json toJson(const NetworkPolicy&);
nlohmann::json toJson(const PodnetNetworkPolicy&);
nlohmann::json toJson(const PodnetClusterwideNetworkPolicy&);
nlohmann::json toJson(const Policy&);

std::string policyKey(const Policy&);
std::string kindOf(const Policy&);
std::string namespaceOf(const Policy&);  // "" for the clusterwide kind
std::string nameOf(const Policy&);
// "NetworkPolicy shop/deny-all", "PodnetClusterwideNetworkPolicy nodes"
std::string describe(const Policy&);

// A Kubernetes named port (IANA_SVC_NAME): 1-15 characters of [a-z0-9-], at least one letter,
// no '-' at either end and no "--".
bool isPortName(const std::string& name);

}  // namespace podnet::policy
