#include "netlink/owned_route.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "netlink/nl_objects.h"

namespace podnet::netlink {
namespace {

using detail::NlObjectPtr;

// The key podnet's routes share: family, main table, protocol, destination.
Result<NlObjectPtr<rtnl_route>> ownedRoute(Ipv4Prefix dst, const std::string& what) {
  NlObjectPtr<rtnl_route> route(rtnl_route_alloc());
  auto addr = detail::toNlAddr(dst);
  if (!route || !addr) return makeError(Errc::kInternal, "route " + what + ": out of memory");
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_protocol(route.get(), kOwnedRouteProtocol);
  rtnl_route_set_dst(route.get(), addr.get());
  return route;
}

}  // namespace

std::string describe(const OwnedRoute& route) {
  std::string text = route.dst.str();
  if (route.gateway) text += " via " + route.gateway->str();
  text += " dev " + route.dev;
  if (route.onlink) text += " onlink";
  return text;
}

Status replaceOwnedRoute(Socket& sock, const OwnedRoute& spec, int devIndex) {
  std::string what = describe(spec);
  auto route = PODNET_TRY(ownedRoute(spec.dst, what));
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_scope(route.get(), spec.gateway ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK);
  rtnl_route_set_priority(route.get(), kOwnedRouteMetric);
  rtnl_nexthop* nh = rtnl_route_nh_alloc();
  if (nh == nullptr) return makeError(Errc::kInternal, "route " + what + ": out of memory");
  rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here
  rtnl_route_nh_set_ifindex(nh, devIndex);
  if (spec.onlink) rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
  if (spec.gateway) {
    auto gw = detail::toNlAddr(*spec.gateway);
    if (!gw) return makeError(Errc::kInternal, "route " + what + ": out of memory");
    rtnl_route_nh_set_gateway(nh, gw.get());
  }
  return sock.check(rtnl_route_add(sock.get(), route.get(), NLM_F_REPLACE), "route " + what,
                    "RTM_NEWROUTE");
}

Status deleteOwnedRoute(Socket& sock, Ipv4Prefix dst) {
  auto route = PODNET_TRY(ownedRoute(dst, dst.str()));
  rtnl_route_set_scope(route.get(), RT_SCOPE_NOWHERE);  // whatever scope it was added with
  Status status = sock.check(rtnl_route_delete(sock.get(), route.get(), 0), "route " + dst.str(),
                             "RTM_DELROUTE");
  if (!status.ok() && status.error().code == Errc::kNotFound) return okStatus();
  return status;
}

Result<std::vector<OwnedRoute>> listOwnedRoutes(Socket& sock) {
  nl_cache* rawLinks = nullptr;
  PODNET_TRY_STATUS(sock.check(rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &rawLinks),
                               "podnet routes", "RTM_GETLINK dump"));
  detail::NlCachePtr links(rawLinks);
  nl_cache* rawRoutes = nullptr;
  PODNET_TRY_STATUS(sock.check(rtnl_route_alloc_cache(sock.get(), AF_INET, 0, &rawRoutes),
                               "podnet routes", "RTM_GETROUTE dump"));
  detail::NlCachePtr routes(rawRoutes);
  std::vector<OwnedRoute> out;
  for (nl_object* obj = nl_cache_get_first(rawRoutes); obj != nullptr;
       obj = nl_cache_get_next(obj)) {
    auto* route = reinterpret_cast<rtnl_route*>(obj);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN ||
        rtnl_route_get_protocol(route) != kOwnedRouteProtocol) {
      continue;
    }
    nl_addr* dst = rtnl_route_get_dst(route);
    OwnedRoute spec;
    spec.dst =
        Ipv4Prefix{detail::fromNlAddr(dst), static_cast<uint8_t>(nl_addr_get_prefixlen(dst))};
    detail::Nexthop nh = detail::firstNexthop(route, links.get());
    spec.gateway = nh.gateway;
    spec.dev = std::move(nh.dev);
    spec.onlink = nh.onlink;
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace podnet::netlink
