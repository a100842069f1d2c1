// IPv4 interface addresses.
#pragma once

#include <string>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "netlink/rtnl_socket.h"

namespace podnet::netlink {

// Adds address (with its prefix length, e.g. 10.244.0.5/16) to ifname; success when present.
Status addAddress(Socket&, const std::string& ifname, Ipv4Prefix address);
// The same for a caller that already knows ifname's index (saves the lookup round trip).
Status addAddress(Socket&, const std::string& ifname, Ipv4Prefix address, int ifindex);
// Success when the address is not there.
Status deleteAddress(Socket&, const std::string& ifname, Ipv4Prefix address);
Result<std::vector<Ipv4Prefix>> listAddresses(Socket&, const std::string& ifname);

}  // namespace podnet::netlink
