#include "netlink/vxlan_link.h"

#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>

#include "netlink/nl_objects.h"

namespace podnet::netlink {

using LinkPtr = detail::NlObjectPtr<rtnl_link>;

Status createVxlan(Socket& sock, const std::string& name, const VxlanSpec& spec,
                   const std::string& mac, int mtu) {
  std::string what = "vxlan " + name;
  LinkPtr link(rtnl_link_vxlan_alloc());
  auto local = detail::toNlAddr(spec.local);
  if (!link || !local) return makeError(Errc::kInternal, what + ": out of memory");
  nl_addr* rawMac = nullptr;
  if (int rc = nl_addr_parse(mac.c_str(), AF_LLC, &rawMac); rc < 0) {
    return makeError(Errc::kInvalidArgument, what + ": MAC " + mac + ": " + nl_geterror(rc));
  }
  detail::NlAddrPtr macAddr(rawMac);
  rtnl_link_set_name(link.get(), name.c_str());
  rtnl_link_set_addr(link.get(), macAddr.get());
  rtnl_link_set_mtu(link.get(), static_cast<unsigned>(mtu));
  int rc = rtnl_link_vxlan_set_id(link.get(), spec.vni);
  if (rc >= 0) rc = rtnl_link_vxlan_set_port(link.get(), spec.port);
  if (rc >= 0) rc = rtnl_link_vxlan_set_local(link.get(), local.get());
  if (rc >= 0) rc = rtnl_link_vxlan_set_link(link.get(), static_cast<uint32_t>(spec.uplinkIndex));
  if (rc >= 0) rc = rtnl_link_vxlan_set_learning(link.get(), spec.learning ? 1 : 0);
  if (rc < 0) return makeError(Errc::kInternal, what + ": " + nl_geterror(rc));
  return sock.check(rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL), what,
                    "RTM_NEWLINK");
}

Result<std::optional<VxlanSpec>> findVxlan(Socket& sock, const std::string& name) {
  rtnl_link* raw = nullptr;
  int rc = rtnl_link_get_kernel(sock.get(), 0, name.c_str(), &raw);
  LinkPtr link(raw);
  Status status = sock.check(rc, "link " + name, "RTM_GETLINK");
  if (!status.ok()) {
    if (status.error().code == Errc::kNotFound) return std::optional<VxlanSpec>();
    return std::move(status).takeError();
  }
  if (!rtnl_link_is_vxlan(link.get())) {
    return makeError(Errc::kInvalidArgument, "link " + name + ": exists and is not a VXLAN device");
  }
  VxlanSpec spec;
  uint32_t port = 0, uplink = 0;
  nl_addr* rawLocal = nullptr;
  rtnl_link_vxlan_get_id(link.get(), &spec.vni);
  rtnl_link_vxlan_get_port(link.get(), &port);
  rtnl_link_vxlan_get_link(link.get(), &uplink);
  if (rtnl_link_vxlan_get_local(link.get(), &rawLocal) >= 0) {
    detail::NlAddrPtr local(rawLocal);  // get_local hands out a new reference
    spec.local = detail::fromNlAddr(local.get());
  }
  spec.port = static_cast<uint16_t>(port);
  spec.uplinkIndex = static_cast<int>(uplink);
  spec.learning = rtnl_link_vxlan_get_learning(link.get()) > 0;
  return std::optional<VxlanSpec>(spec);
}

}  // namespace podnet::netlink
