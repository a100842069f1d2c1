// Routes podnet programs towards other nodes (their pods, their VXLAN endpoints). They carry
// podnet's own route protocol number, so a restarted agent can list exactly its own routes and
// never touches anyone else's (`ip route show proto 112`), and a metric above 0, so a local pod's
// /32 route (metric 0, added by the pod wiring) always wins over a stale remote entry for the same
// address instead of being replaced by it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "netlink/rtnl_socket.h"

namespace podnet::netlink {

inline constexpr uint8_t kOwnedRouteProtocol = 112;  // 0x70, 'p'; unassigned in rt_protos
inline constexpr uint32_t kOwnedRouteMetric = 1024;

struct OwnedRoute {
  Ipv4Prefix dst;
  std::optional<Ipv4> gateway;  // none: dst is directly on dev (scope link)
  std::string dev;
  bool onlink = false;  // the gateway is on dev even without a route to it
  auto operator<=>(const OwnedRoute&) const = default;
};

// Adds route, or replaces podnet's route to the same destination. devIndex is route.dev's index.
Status replaceOwnedRoute(Socket&, const OwnedRoute& route, int devIndex);
// Deletes podnet's route to dst; success when absent. Other protocols' routes are never matched.
Status deleteOwnedRoute(Socket&, Ipv4Prefix dst);
// podnet's routes in the main table.
Result<std::vector<OwnedRoute>> listOwnedRoutes(Socket&);

// "10.244.0.5/32 via 100.64.0.12 dev podnet.vxlan onlink", for messages.
std::string describe(const OwnedRoute&);

}  // namespace podnet::netlink
