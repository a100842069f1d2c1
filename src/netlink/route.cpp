#include "netlink/route.h"

#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netlink/route/link.h>
#include <netlink/route/route.h>

#include "netlink/nl_objects.h"

namespace podnet::netlink {

using detail::NlObjectPtr;

namespace {

// The route as the kernel keys it: family, main table, destination; plus what the spec sets.
Result<NlObjectPtr<rtnl_route>> buildRoute(const RouteSpec& spec, int devIndex) {
  NlObjectPtr<rtnl_route> route(rtnl_route_alloc());
  auto dst = detail::toNlAddr(spec.dst);
  if (!route || !dst)
    return makeError(Errc::kInternal, "route " + describe(spec) + ": out of memory");
  rtnl_route_set_family(route.get(), AF_INET);
  rtnl_route_set_table(route.get(), RT_TABLE_MAIN);
  rtnl_route_set_type(route.get(), RTN_UNICAST);
  rtnl_route_set_scope(route.get(), spec.linkScope ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE);
  rtnl_route_set_dst(route.get(), dst.get());
  if (spec.gateway || devIndex > 0) {
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    if (nh == nullptr)
      return makeError(Errc::kInternal, "route " + describe(spec) + ": out of memory");
    rtnl_route_add_nexthop(route.get(), nh);  // the route owns nh from here
    if (devIndex > 0) rtnl_route_nh_set_ifindex(nh, devIndex);
    if (spec.gateway) {
      auto gw = detail::toNlAddr(*spec.gateway);
      if (!gw) return makeError(Errc::kInternal, "route " + describe(spec) + ": out of memory");
      rtnl_route_nh_set_gateway(nh, gw.get());
    }
  }
  return route;
}

}  // namespace

std::string describe(const RouteSpec& spec) {
  std::string text = spec.dst.len == 0 ? "default" : spec.dst.str();
  if (spec.gateway) text += " via " + spec.gateway->str();
  if (!spec.dev.empty()) text += " dev " + spec.dev;
  if (spec.linkScope) text += " scope link";
  return text;
}

Status replaceRoute(Socket& sock, const RouteSpec& spec) {
  int index = 0;
  if (!spec.dev.empty()) {
    auto found = detail::linkIndex(sock, spec.dev);
    if (!found.ok()) return std::move(found).takeError().context("route " + describe(spec));
    index = *found;
  }
  return replaceRoute(sock, spec, index);
}

Status replaceRoute(Socket& sock, const RouteSpec& spec, int devIndex) {
  auto route = PODNET_TRY(buildRoute(spec, devIndex));
  return sock.check(rtnl_route_add(sock.get(), route.get(), NLM_F_REPLACE),
                    "route " + describe(spec), "RTM_NEWROUTE");
}

Status deleteRoute(Socket& sock, const RouteSpec& spec) {
  int index = 0;
  if (!spec.dev.empty()) {
    auto found = detail::linkIndex(sock, spec.dev);
    if (!found.ok() && found.error().code == Errc::kNotFound) return okStatus();  // gone with it
    index = PODNET_TRY(std::move(found));
  }
  auto route = PODNET_TRY(buildRoute(spec, index));
  // Match the route whatever scope or protocol it was added with, as `ip route del` does.
  rtnl_route_set_scope(route.get(), RT_SCOPE_NOWHERE);
  rtnl_route_set_protocol(route.get(), RTPROT_UNSPEC);
  Status status = sock.check(rtnl_route_delete(sock.get(), route.get(), 0),
                             "route " + describe(spec), "RTM_DELROUTE");
  if (!status.ok() && status.error().code == Errc::kNotFound) return okStatus();
  return status;
}

Result<std::vector<RouteSpec>> listRoutes(Socket& sock) {
  nl_cache* rawLinks = nullptr;
  PODNET_TRY_STATUS(sock.check(rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &rawLinks), "routes",
                               "RTM_GETLINK dump"));
  detail::NlCachePtr links(rawLinks);
  nl_cache* rawRoutes = nullptr;
  PODNET_TRY_STATUS(sock.check(rtnl_route_alloc_cache(sock.get(), AF_INET, 0, &rawRoutes), "routes",
                               "RTM_GETROUTE dump"));
  detail::NlCachePtr routes(rawRoutes);
  std::vector<RouteSpec> out;
  for (nl_object* obj = nl_cache_get_first(rawRoutes); obj != nullptr;
       obj = nl_cache_get_next(obj)) {
    auto* route = reinterpret_cast<rtnl_route*>(obj);
    if (rtnl_route_get_table(route) != RT_TABLE_MAIN || rtnl_route_get_type(route) != RTN_UNICAST) {
      continue;
    }
    nl_addr* dst = rtnl_route_get_dst(route);
    RouteSpec spec;
    spec.dst =
        Ipv4Prefix{detail::fromNlAddr(dst), static_cast<uint8_t>(nl_addr_get_prefixlen(dst))};
    spec.linkScope = rtnl_route_get_scope(route) == RT_SCOPE_LINK;
    detail::Nexthop nh = detail::firstNexthop(route, links.get());
    spec.gateway = nh.gateway;
    spec.dev = std::move(nh.dev);
    out.push_back(std::move(spec));
  }
  return out;
}

}  // namespace podnet::netlink
