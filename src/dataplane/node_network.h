// The node side of the pod network: a port-less bridge that holds the pool gateway address (and
// so the connected route to the pool), and IPv4 forwarding.
#pragma once

#include <string>

#include "common/ip.h"
#include "common/result.h"

namespace podnet::dataplane {

struct NodeNetwork {
  std::string bridge = "podnet0";
  Ipv4Prefix gateway;  // with the pool prefix, e.g. 10.244.0.1/16
};

// Idempotent: bridge, gateway address, up, net.ipv4.ip_forward=1, in the calling thread's netns.
Status ensureNodeNetwork(const NodeNetwork&);

}  // namespace podnet::dataplane
