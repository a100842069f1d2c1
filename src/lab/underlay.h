// The lab's wires: named network namespaces (as `ip netns add` makes them, so `ip netns exec`
// and every other tool see them) and the underlay, a bridge in the infra namespace with one veth
// per node. Links and addresses go through src/netlink.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "lab/layout.h"

namespace podnet::lab {

// Creates a named network namespace with lo up. kAlreadyExists when the name is taken.
Status addNetns(const std::string& name);
// Removes a named network namespace; success when there is none.
Status deleteNetns(const std::string& name);
// The names under /run/netns.
std::vector<std::string> listNetns();

// The infra namespace with bridge lab0 (172.30.0.1/24), and nodes n1..nN, each a namespace whose
// eth0 (172.30.0.(10+i)/24) is a veth whose peer, named like the node, is a port of lab0.
Status buildUnderlay(const Layout&, int nodes);

}  // namespace podnet::lab
