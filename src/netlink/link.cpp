#include "netlink/link.h"

#include <linux/if.h>
#include <linux/ip.h>
#include <netlink/addr.h>
#include <netlink/cache.h>
#include <netlink/errno.h>
#include <netlink/route/link.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neightbl.h>

#include "netlink/nl_objects.h"

namespace podnet::netlink {
namespace {

using LinkPtr = detail::NlObjectPtr<rtnl_link>;

LinkInfo toInfo(rtnl_link* link) {
  LinkInfo info;
  info.name = rtnl_link_get_name(link) != nullptr ? rtnl_link_get_name(link) : "";
  info.index = rtnl_link_get_ifindex(link);
  if (nl_addr* mac = rtnl_link_get_addr(link); mac != nullptr && nl_addr_get_len(mac) > 0) {
    char buf[64];
    info.mac = nl_addr2str(mac, buf, sizeof(buf));
  }
  info.mtu = static_cast<int>(rtnl_link_get_mtu(link));
  info.up = (rtnl_link_get_flags(link) & IFF_UP) != 0;
  info.kind = rtnl_link_get_type(link) != nullptr ? rtnl_link_get_type(link) : "";
  return info;
}

Result<LinkPtr> allocLink() {
  LinkPtr link(rtnl_link_alloc());
  if (!link) return makeError(Errc::kInternal, "rtnl_link_alloc: out of memory");
  return link;
}

// Applies the changes in `changes` to the link named `name`. With ifindex 0 the kernel finds the
// link by IFLA_IFNAME, which saves a lookup round trip.
Status changeLink(Socket& sock, const std::string& name, rtnl_link* changes) {
  LinkPtr orig = PODNET_TRY(allocLink());
  rtnl_link_set_name(changes, name.c_str());
  return sock.check(rtnl_link_change(sock.get(), orig.get(), changes, 0), "link " + name,
                    "RTM_NEWLINK");
}

}  // namespace

Result<std::optional<LinkInfo>> findLink(Socket& sock, const std::string& name) {
  rtnl_link* raw = nullptr;
  int rc = rtnl_link_get_kernel(sock.get(), 0, name.c_str(), &raw);
  LinkPtr link(raw);
  Status status = sock.check(rc, "link " + name, "RTM_GETLINK");
  if (!status.ok()) {
    if (status.error().code == Errc::kNotFound) return std::optional<LinkInfo>();
    return std::move(status).takeError();
  }
  return std::optional<LinkInfo>(toInfo(link.get()));
}

Result<std::vector<LinkInfo>> listLinks(Socket& sock) {
  nl_cache* raw = nullptr;
  PODNET_TRY_STATUS(
      sock.check(rtnl_link_alloc_cache(sock.get(), AF_UNSPEC, &raw), "links", "RTM_GETLINK dump"));
  detail::NlCachePtr cache(raw);
  std::vector<LinkInfo> links;
  for (nl_object* obj = nl_cache_get_first(raw); obj != nullptr; obj = nl_cache_get_next(obj)) {
    links.push_back(toInfo(reinterpret_cast<rtnl_link*>(obj)));
  }
  return links;
}

Status createVethPair(Socket& host, const std::string& hostName, const std::string& peerName,
                      const Netns& peerNetns, int mtu) {
  LinkPtr link(rtnl_link_veth_alloc());
  if (!link) return makeError(Errc::kInternal, "veth " + hostName + ": out of memory");
  rtnl_link* peer = rtnl_link_veth_get_peer(link.get());
  LinkPtr peerRef(peer);  // get_peer took a reference
  rtnl_link_set_mtu(link.get(), static_cast<unsigned>(mtu));
  rtnl_link_set_mtu(peer, static_cast<unsigned>(mtu));
  // Only the host end can come up in this request: the peer is registered first, and opening a
  // veth whose other end does not exist yet fails with ENOTCONN.
  rtnl_link_set_flags(link.get(), IFF_UP);
  rtnl_link_set_name(link.get(), hostName.c_str());
  rtnl_link_set_name(peer, peerName.c_str());
  rtnl_link_set_ns_fd(peer, peerNetns.fd());
  return host.check(rtnl_link_add(host.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL),
                    "veth " + hostName, "RTM_NEWLINK");
}

Status createBridge(Socket& sock, const std::string& name) {
  LinkPtr link = PODNET_TRY(allocLink());
  rtnl_link_set_name(link.get(), name.c_str());
  if (int rc = rtnl_link_set_type(link.get(), "bridge"); rc < 0) {
    return makeError(Errc::kInternal, "bridge " + name + ": " + nl_geterror(rc));
  }
  Status status = sock.check(rtnl_link_add(sock.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL),
                             "bridge " + name, "RTM_NEWLINK");
  if (!status.ok() && status.error().code == Errc::kAlreadyExists) return okStatus();
  return status;
}

Status deleteLink(Socket& sock, const std::string& name) {
  LinkPtr link = PODNET_TRY(allocLink());
  rtnl_link_set_name(link.get(), name.c_str());
  Status status =
      sock.check(rtnl_link_delete(sock.get(), link.get()), "link " + name, "RTM_DELLINK");
  if (!status.ok() && status.error().code == Errc::kNotFound) return okStatus();
  return status;
}

Status setLinkUp(Socket& sock, const std::string& name) {
  LinkPtr changes = PODNET_TRY(allocLink());
  rtnl_link_set_flags(changes.get(), IFF_UP);
  return changeLink(sock, name, changes.get());
}

Status setLinkMtu(Socket& sock, const std::string& name, int mtu) {
  LinkPtr changes = PODNET_TRY(allocLink());
  rtnl_link_set_mtu(changes.get(), static_cast<unsigned>(mtu));
  return changeLink(sock, name, changes.get());
}

Status setProxyArp(Socket& sock, const std::string& name, bool on) {
  LinkPtr changes = PODNET_TRY(allocLink());
  if (int rc = rtnl_link_inet_set_conf(changes.get(), IPV4_DEVCONF_PROXY_ARP, on ? 1 : 0); rc < 0) {
    return makeError(Errc::kInternal, "link " + name + ": proxy_arp: " + nl_geterror(rc));
  }
  return changeLink(sock, name, changes.get());
}

Status setProxyArpDelay(Socket& sock, const std::string& ifname, int ifindex, int milliseconds) {
  std::string what = "arp_cache of " + ifname;
  detail::NlObjectPtr<rtnl_neightbl> table(rtnl_neightbl_alloc());
  detail::NlObjectPtr<rtnl_neightbl> changes(rtnl_neightbl_alloc());
  if (!table || !changes) return makeError(Errc::kInternal, what + ": out of memory");
  rtnl_neightbl_set_family(table.get(), AF_INET);
  rtnl_neightbl_set_name(table.get(), "arp_cache");
  rtnl_neightbl_set_dev(table.get(), ifindex);
  rtnl_neightbl_set_proxy_delay(changes.get(), static_cast<uint64_t>(milliseconds));
  return sock.check(rtnl_neightbl_change(sock.get(), table.get(), changes.get()), what,
                    "RTM_SETNEIGHTBL");
}

}  // namespace podnet::netlink
