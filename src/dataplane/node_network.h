// The node side of the pod network: a port-less bridge that holds every subnet's gateway address
// (and so the connected route to each subnet), IPv4 forwarding, and the uplink towards the other
// nodes.
#pragma once

#include <string>
#include <vector>

#include "common/ip.h"
#include "common/result.h"

namespace podnet::dataplane {

struct NodeNetwork {
  std::string bridge = "podnet0";
  Ipv4Prefix gateway;  // with the subnet's prefix, e.g. 10.244.0.1/16
};

// Idempotent: bridge, gateway address, up, net.ipv4.ip_forward=1, in the calling thread's netns.
Status ensureNodeNetwork(const NodeNetwork&);

// Makes the bridge hold exactly these gateway addresses (one per subnet), adding the missing ones
// first, then removing the ones of subnets that are gone.
Status syncGateways(const std::string& bridge, const std::vector<Ipv4Prefix>& gateways);

struct Uplink {
  std::string device;
  Ipv4 address;  // its first IPv4 address: the node's underlay address
  int mtu = 0;
};

// The named device, or when name is empty the device of the IPv4 default route. Errors say which
// flag to set.
Result<Uplink> findUplink(const std::string& name);

}  // namespace podnet::dataplane
