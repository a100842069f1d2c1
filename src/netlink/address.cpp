#include "netlink/address.h"

#include <netlink/route/addr.h>

#include "netlink/nl_objects.h"

namespace podnet::netlink {

using detail::NlObjectPtr;

Status addAddress(Socket& sock, const std::string& ifname, Ipv4Prefix address) {
  int index = PODNET_TRY(detail::linkIndex(sock, ifname));
  return addAddress(sock, ifname, address, index);
}

Status addAddress(Socket& sock, const std::string& ifname, Ipv4Prefix address, int ifindex) {
  std::string what = "address " + address.str() + " on " + ifname;
  NlObjectPtr<rtnl_addr> addr(rtnl_addr_alloc());
  auto local = detail::toNlAddr(address);
  if (!addr || !local) return makeError(Errc::kInternal, what + ": out of memory");
  rtnl_addr_set_ifindex(addr.get(), ifindex);
  rtnl_addr_set_family(addr.get(), AF_INET);
  rtnl_addr_set_local(addr.get(), local.get());  // also sets the prefix length
  Status status =
      sock.check(rtnl_addr_add(sock.get(), addr.get(), NLM_F_EXCL), what, "RTM_NEWADDR");
  if (!status.ok() && status.error().code == Errc::kAlreadyExists) return okStatus();
  return status;
}

Status deleteAddress(Socket& sock, const std::string& ifname, Ipv4Prefix address) {
  int index = PODNET_TRY(detail::linkIndex(sock, ifname));
  std::string what = "address " + address.str() + " on " + ifname;
  NlObjectPtr<rtnl_addr> addr(rtnl_addr_alloc());
  auto local = detail::toNlAddr(address);
  if (!addr || !local) return makeError(Errc::kInternal, what + ": out of memory");
  rtnl_addr_set_ifindex(addr.get(), index);
  rtnl_addr_set_family(addr.get(), AF_INET);
  rtnl_addr_set_local(addr.get(), local.get());
  Status status = sock.check(rtnl_addr_delete(sock.get(), addr.get(), 0), what, "RTM_DELADDR");
  if (!status.ok() && status.error().code == Errc::kNotFound) return okStatus();
  return status;
}

Result<std::vector<Ipv4Prefix>> listAddresses(Socket& sock, const std::string& ifname) {
  int index = PODNET_TRY(detail::linkIndex(sock, ifname));
  nl_cache* raw = nullptr;
  PODNET_TRY_STATUS(sock.check(rtnl_addr_alloc_cache(sock.get(), &raw), "addresses of " + ifname,
                               "RTM_GETADDR dump"));
  detail::NlCachePtr cache(raw);
  std::vector<Ipv4Prefix> out;
  for (nl_object* obj = nl_cache_get_first(raw); obj != nullptr; obj = nl_cache_get_next(obj)) {
    auto* addr = reinterpret_cast<rtnl_addr*>(obj);
    if (rtnl_addr_get_family(addr) != AF_INET || rtnl_addr_get_ifindex(addr) != index) continue;
    out.push_back(Ipv4Prefix{detail::fromNlAddr(rtnl_addr_get_local(addr)),
                             static_cast<uint8_t>(rtnl_addr_get_prefixlen(addr))});
  }
  return out;
}

}  // namespace podnet::netlink
