#include "netlink/neigh_entry.h"

#include <linux/neighbour.h>
#include <netlink/addr.h>
#include <netlink/errno.h>
#include <netlink/route/neighbour.h>

#include "netlink/nl_objects.h"

namespace podnet::netlink {
namespace {

using NeighPtr = detail::NlObjectPtr<rtnl_neigh>;

Result<detail::NlAddrPtr> parseMac(const std::string& mac, const std::string& what) {
  nl_addr* raw = nullptr;
  if (int rc = nl_addr_parse(mac.c_str(), AF_LLC, &raw); rc < 0) {
    return makeError(Errc::kInvalidArgument, what + ": MAC " + mac + ": " + nl_geterror(rc));
  }
  return detail::NlAddrPtr(raw);
}

std::string macString(nl_addr* mac) {
  if (mac == nullptr) return "";
  char buf[64];
  return nl_addr2str(mac, buf, sizeof(buf));
}

// family AF_INET: an ARP entry for ip. AF_BRIDGE: an FDB entry of the device itself (NTF_SELF,
// i.e. the VXLAN driver's table, not a bridge master's) with ip as the remote destination.
// libnl takes the family from the first address set, so it is set after the destination.
Result<NeighPtr> buildNeigh(int family, int ifindex, const Ipv4* ip, const std::string* mac,
                            const std::string& what) {
  NeighPtr neigh(rtnl_neigh_alloc());
  if (!neigh) return makeError(Errc::kInternal, what + ": out of memory");
  rtnl_neigh_set_ifindex(neigh.get(), ifindex);
  if (ip != nullptr) {
    auto dst = detail::toNlAddr(*ip);
    if (!dst) return makeError(Errc::kInternal, what + ": out of memory");
    if (int rc = rtnl_neigh_set_dst(neigh.get(), dst.get()); rc < 0) {
      return makeError(Errc::kInternal, what + ": " + nl_geterror(rc));
    }
  }
  rtnl_neigh_set_family(neigh.get(), family);
  if (family == AF_BRIDGE) rtnl_neigh_set_flags(neigh.get(), NTF_SELF);
  if (mac != nullptr) {
    auto lladdr = PODNET_TRY(parseMac(*mac, what));
    rtnl_neigh_set_lladdr(neigh.get(), lladdr.get());
    rtnl_neigh_set_state(neigh.get(), NUD_PERMANENT);
  }
  return neigh;
}

Status replace(Socket& sock, rtnl_neigh* neigh, const std::string& what) {
  return sock.check(rtnl_neigh_add(sock.get(), neigh, NLM_F_CREATE | NLM_F_REPLACE), what,
                    "RTM_NEWNEIGH");
}

Status remove(Socket& sock, rtnl_neigh* neigh, const std::string& what) {
  Status status = sock.check(rtnl_neigh_delete(sock.get(), neigh, 0), what, "RTM_DELNEIGH");
  if (!status.ok() && status.error().code == Errc::kNotFound) return okStatus();
  return status;
}

// Every permanent entry of family on ifindex. An AF_BRIDGE dump lists FDB entries; an AF_UNSPEC
// one lists the neighbour tables (ARP, NDP).
template <class Visit>
Status dumpPermanent(Socket& sock, int family, int ifindex, const std::string& what, Visit visit) {
  nl_cache* raw = nullptr;
  PODNET_TRY_STATUS(
      sock.check(nl_cache_alloc_name("route/neigh", &raw), what, "allocating neighbour cache"));
  detail::NlCachePtr cache(raw);
  nl_cache_set_arg1(raw, family == AF_BRIDGE ? AF_BRIDGE : AF_UNSPEC);
  PODNET_TRY_STATUS(sock.check(nl_cache_refill(sock.get(), raw), what, "RTM_GETNEIGH dump"));
  for (nl_object* obj = nl_cache_get_first(raw); obj != nullptr; obj = nl_cache_get_next(obj)) {
    auto* neigh = reinterpret_cast<rtnl_neigh*>(obj);
    if (rtnl_neigh_get_family(neigh) != family || rtnl_neigh_get_ifindex(neigh) != ifindex ||
        (rtnl_neigh_get_state(neigh) & NUD_PERMANENT) == 0 ||
        rtnl_neigh_get_dst(neigh) == nullptr) {
      continue;
    }
    visit(neigh);
  }
  return okStatus();
}

}  // namespace

Status replaceNeigh(Socket& sock, const std::string& dev, int ifindex, const NeighEntry& entry) {
  std::string what = "neighbour " + entry.ip.str() + " lladdr " + entry.mac + " dev " + dev;
  auto neigh = PODNET_TRY(buildNeigh(AF_INET, ifindex, &entry.ip, &entry.mac, what));
  return replace(sock, neigh.get(), what);
}

Status deleteNeigh(Socket& sock, const std::string& dev, int ifindex, Ipv4 ip) {
  std::string what = "neighbour " + ip.str() + " dev " + dev;
  auto neigh = PODNET_TRY(buildNeigh(AF_INET, ifindex, &ip, nullptr, what));
  return remove(sock, neigh.get(), what);
}

Result<std::vector<NeighEntry>> listPermanentNeighs(Socket& sock, const std::string& dev,
                                                    int ifindex) {
  std::vector<NeighEntry> out;
  PODNET_TRY_STATUS(
      dumpPermanent(sock, AF_INET, ifindex, "neighbours of " + dev, [&](rtnl_neigh* n) {
        out.push_back(
            {detail::fromNlAddr(rtnl_neigh_get_dst(n)), macString(rtnl_neigh_get_lladdr(n))});
      }));
  return out;
}

Status replaceFdbEntry(Socket& sock, const std::string& dev, int ifindex, const FdbEntry& entry) {
  std::string what = "fdb " + entry.mac + " dst " + entry.dst.str() + " dev " + dev;
  auto neigh = PODNET_TRY(buildNeigh(AF_BRIDGE, ifindex, &entry.dst, &entry.mac, what));
  return replace(sock, neigh.get(), what);
}

Status deleteFdbEntry(Socket& sock, const std::string& dev, int ifindex, const std::string& mac) {
  std::string what = "fdb " + mac + " dev " + dev;
  auto neigh = PODNET_TRY(buildNeigh(AF_BRIDGE, ifindex, nullptr, nullptr, what));
  auto lladdr = PODNET_TRY(parseMac(mac, what));
  rtnl_neigh_set_lladdr(neigh.get(), lladdr.get());
  return remove(sock, neigh.get(), what);
}

Result<std::vector<FdbEntry>> listFdbEntries(Socket& sock, const std::string& dev, int ifindex) {
  std::vector<FdbEntry> out;
  PODNET_TRY_STATUS(dumpPermanent(sock, AF_BRIDGE, ifindex, "fdb of " + dev, [&](rtnl_neigh* n) {
    out.push_back({macString(rtnl_neigh_get_lladdr(n)), detail::fromNlAddr(rtnl_neigh_get_dst(n))});
  }));
  return out;
}

}  // namespace podnet::netlink
