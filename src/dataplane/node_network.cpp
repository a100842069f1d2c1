#include "dataplane/node_network.h"

#include <algorithm>

#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/route.h"
#include "netlink/sysctl.h"

namespace podnet::dataplane {

Status ensureNodeNetwork(const NodeNetwork& node) {
  auto sock = PODNET_TRY(netlink::Socket::open());
  PODNET_TRY_STATUS(netlink::createBridge(sock, node.bridge));
  PODNET_TRY_STATUS(netlink::addAddress(sock, node.bridge, node.gateway));
  PODNET_TRY_STATUS(netlink::setLinkUp(sock, node.bridge));
  return netlink::writeSysctl("net/ipv4/ip_forward", "1");
}

Status syncGateways(const std::string& bridge, const std::vector<Ipv4Prefix>& gateways) {
  auto sock = PODNET_TRY(netlink::Socket::open());
  for (const auto& gw : gateways) PODNET_TRY_STATUS(netlink::addAddress(sock, bridge, gw));
  for (const auto& held : PODNET_TRY(netlink::listAddresses(sock, bridge))) {
    if (std::find(gateways.begin(), gateways.end(), held) == gateways.end()) {
      PODNET_TRY_STATUS(netlink::deleteAddress(sock, bridge, held));
    }
  }
  return okStatus();
}

Result<Uplink> findUplink(const std::string& name) {
  auto sock = PODNET_TRY(netlink::Socket::open());
  Uplink up;
  up.device = name;
  if (up.device.empty()) {
    for (const auto& r : PODNET_TRY(netlink::listRoutes(sock))) {
      if (r.dst.len == 0 && !r.dev.empty()) up.device = r.dev;
    }
    if (up.device.empty()) {
      return makeError(Errc::kNotFound,
                       "no IPv4 default route to take the uplink from: name it with --uplink");
    }
  }
  auto link = PODNET_TRY(netlink::findLink(sock, up.device));
  if (!link) return makeError(Errc::kNotFound, "uplink " + up.device + ": no such device");
  up.mtu = link->mtu;
  auto addresses = PODNET_TRY(netlink::listAddresses(sock, up.device));
  if (addresses.empty()) {
    return makeError(Errc::kNotFound, "uplink " + up.device + " has no IPv4 address");
  }
  up.address = addresses.front().addr;
  return up;
}

}  // namespace podnet::dataplane
