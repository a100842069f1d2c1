// Internal to podnet_netlink: owners for libnl objects and Ipv4 <-> nl_addr conversions.
#pragma once

#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/object.h>

#include <memory>
#include <optional>
#include <string>

#include "common/ip.h"
#include "common/result.h"
#include "netlink/rtnl_socket.h"

struct rtnl_route;

namespace podnet::netlink::detail {

struct NlObjectDeleter {
  void operator()(void* obj) const { nl_object_put(static_cast<nl_object*>(obj)); }
};
template <class T>
using NlObjectPtr = std::unique_ptr<T, NlObjectDeleter>;

struct NlCacheDeleter {
  void operator()(nl_cache* cache) const { nl_cache_free(cache); }
};
using NlCachePtr = std::unique_ptr<nl_cache, NlCacheDeleter>;

struct NlAddrDeleter {
  void operator()(nl_addr* addr) const { nl_addr_put(addr); }
};
using NlAddrPtr = std::unique_ptr<nl_addr, NlAddrDeleter>;

NlAddrPtr toNlAddr(Ipv4 ip, int prefixLen = 32);
NlAddrPtr toNlAddr(const Ipv4Prefix& prefix);
Ipv4 fromNlAddr(const nl_addr* addr);

// The index of the link named ifname; kNotFound when there is none.
Result<int> linkIndex(Socket& sock, const std::string& ifname);

// What a route dump says about a route's first next hop: one reader for every route listing.
struct Nexthop {
  std::optional<Ipv4> gateway;
  std::string dev;  // empty when the route has no next hop or its link is gone
  bool onlink = false;
};
Nexthop firstNexthop(rtnl_route* route, nl_cache* links);

}  // namespace podnet::netlink::detail
