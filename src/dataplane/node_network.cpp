#include "dataplane/node_network.h"

#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/sysctl.h"

namespace podnet::dataplane {

Status ensureNodeNetwork(const NodeNetwork& node) {
  auto sock = PODNET_TRY(netlink::Socket::open());
  PODNET_TRY_STATUS(netlink::createBridge(sock, node.bridge));
  PODNET_TRY_STATUS(netlink::addAddress(sock, node.bridge, node.gateway));
  PODNET_TRY_STATUS(netlink::setLinkUp(sock, node.bridge));
  return netlink::writeSysctl("net/ipv4/ip_forward", "1");
}

}  // namespace podnet::dataplane
