// A Subnet (podnet.io/v1): an address range that spans every node and is bound to namespaces, the
// Kube-OVN model. A pod takes its address from its namespace's subnet on whichever node it runs;
// the subnet named "default" serves every namespace no other subnet lists. Each subnet is one
// address pool (ipam/pool.h) of the same name, so its reservations live under
// "/podnet/ipam/<subnet name>/".
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/ip.h"
#include "common/result.h"
#include "ipam/pool.h"
#include "model/kinds.h"

namespace podnet::model {

inline constexpr const char* kDefaultSubnet = "default";

struct Subnet {
  std::string name;
  Ipv4Prefix cidrBlock;
  std::optional<Ipv4> gateway;  // unset: the first address after the network
  std::vector<ipam::IpRange> excludeIps;
  std::vector<std::string> namespaces;

  static constexpr const char* kPrefix = kindInfo("Subnet").storePrefix.data();
  std::string key() const { return kPrefix + name; }
  bool operator==(const Subnet&) const = default;
};

// Kubernetes-shaped JSON:
//   {"apiVersion": "podnet.io/v1", "kind": "Subnet", "metadata": {"name": "blue"},
//    "spec": {"cidrBlock": "10.1.0.0/16", "gateway": "10.1.0.1",
//             "excludeIps": ["10.1.0.2..10.1.0.9", "10.1.255.0/24"], "namespaces": ["shop"]}}
// gateway, excludeIps and namespaces are optional. The decoder refuses unknown spec fields (as
// kubectl's strict validation does), so a typo like "cidrblock" is an error, not a silent default.
// Errors name the subnet and the field: "Subnet blue: spec.excludeIps[1]: ...".
nlohmann::json toJson(const Subnet&);
Result<Subnet> subnetFromJson(const nlohmann::json&);

// The subnet's address pool: the pool is named after the subnet.
ipam::PoolConfig toPoolConfig(const Subnet&);

// The checks that need no other object: the name is a DNS subdomain, cidrBlock has no host bits
// and a prefix length of at most 30, the gateway is a host address inside cidrBlock, every
// exclude range lies inside cidrBlock, namespaces are DNS labels listed once; then the pool is
// built exactly as the allocator will build it. Errors name the field:
// "Subnet blue: spec.gateway: 10.2.0.1 is outside spec.cidrBlock 10.1.0.0/16".
Status validate(const Subnet&);

// The checks against the cluster's other subnets (a subnet of the same name in others is skipped,
// so callers may pass every stored subnet): cidrBlock must not overlap another subnet's, and a
// namespace may be bound by one subnet only. Errors name the field and the other subnet.
Status validateAgainst(const Subnet&, const std::vector<Subnet>& others);

// The subnet a pod of namespace ns takes its address from: the subnet that lists ns, else the one
// named kDefaultSubnet, else nullptr (no subnet serves ns). Points into subnets.
const Subnet* subnetForNamespace(const std::vector<Subnet>& subnets, const std::string& ns);

// Object names as Kubernetes accepts them (lowercase RFC 1123): a DNS subdomain (at most 253
// characters) and a DNS label (at most 63, no dots).
bool isDnsSubdomain(const std::string&);
bool isDnsLabel(const std::string&);

}  // namespace podnet::model
