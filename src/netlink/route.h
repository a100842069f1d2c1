// IPv4 unicast routes in the main table.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "netlink/rtnl_socket.h"

namespace podnet::netlink {

struct RouteSpec {
  Ipv4Prefix dst;
  std::optional<Ipv4> gateway;
  std::string dev;         // empty: the kernel picks the link that reaches the gateway
  bool linkScope = false;  // "scope link": the destination is directly on dev
  auto operator<=>(const RouteSpec&) const = default;
};

Status replaceRoute(Socket&, const RouteSpec&);
// The same for a caller that already knows the index of spec.dev (saves the lookup round trip).
Status replaceRoute(Socket&, const RouteSpec&, int devIndex);
Status deleteRoute(Socket&, const RouteSpec&);  // success when absent
Result<std::vector<RouteSpec>> listRoutes(Socket&);

// "10.244.0.5/32 via 10.244.0.1 dev eth0 scope link", for messages.
std::string describe(const RouteSpec&);

}  // namespace podnet::netlink
