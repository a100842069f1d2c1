#include "netlink/nl_objects.h"

#include <arpa/inet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/link.h>
#include <netlink/route/nexthop.h>
#include <netlink/route/route.h>
#include <sys/socket.h>

#include <cstring>

#include "netlink/link.h"

namespace podnet::netlink::detail {

NlAddrPtr toNlAddr(Ipv4 ip, int prefixLen) {
  uint32_t be = htonl(ip.value);
  NlAddrPtr addr(nl_addr_build(AF_INET, &be, sizeof(be)));
  if (addr) nl_addr_set_prefixlen(addr.get(), prefixLen);
  return addr;
}

NlAddrPtr toNlAddr(const Ipv4Prefix& prefix) {
  return toNlAddr(prefix.addr, prefix.len);
}

Ipv4 fromNlAddr(const nl_addr* addr) {
  uint32_t be = 0;
  if (addr != nullptr && nl_addr_get_len(addr) == sizeof(be)) {
    std::memcpy(&be, nl_addr_get_binary_addr(addr), sizeof(be));
  }
  return Ipv4{ntohl(be)};
}

Result<int> linkIndex(Socket& sock, const std::string& ifname) {
  auto link = PODNET_TRY(findLink(sock, ifname));
  if (!link) return makeError(Errc::kNotFound, "link " + ifname + ": no such link");
  return link->index;
}

Nexthop firstNexthop(rtnl_route* route, nl_cache* links) {
  Nexthop out;
  if (rtnl_route_get_nnexthops(route) == 0) return out;
  rtnl_nexthop* nh = rtnl_route_nexthop_n(route, 0);
  if (nl_addr* gw = rtnl_route_nh_get_gateway(nh); gw != nullptr) out.gateway = fromNlAddr(gw);
  out.onlink = (rtnl_route_nh_get_flags(nh) & RTNH_F_ONLINK) != 0;
  char name[IFNAMSIZ] = {};
  if (rtnl_link_i2name(links, rtnl_route_nh_get_ifindex(nh), name, sizeof(name))) out.dev = name;
  return out;
}

}  // namespace podnet::netlink::detail
