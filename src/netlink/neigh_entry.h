// Permanent neighbour entries on a device: ARP entries (IPv4 -> MAC) and, for VXLAN devices,
// forwarding database entries (MAC -> the remote tunnel endpoint), as `ip neigh` and
// `bridge fdb ... self permanent` program them. Both are RTM_NEWNEIGH messages, of families
// AF_INET and AF_BRIDGE. dev names the device in messages; ifindex is what the kernel uses.
#pragma once

#include <string>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "netlink/rtnl_socket.h"

namespace podnet::netlink {

struct NeighEntry {
  Ipv4 ip;
  std::string mac;  // "aa:bb:cc:dd:ee:ff"
  auto operator<=>(const NeighEntry&) const = default;
};

struct FdbEntry {
  std::string mac;
  Ipv4 dst;  // the remote tunnel endpoint's underlay address
  auto operator<=>(const FdbEntry&) const = default;
};

Status replaceNeigh(Socket&, const std::string& dev, int ifindex, const NeighEntry&);
Status deleteNeigh(Socket&, const std::string& dev, int ifindex, Ipv4 ip);  // success when absent
// The permanent IPv4 entries on ifindex (the kernel's own learned entries are left out).
Result<std::vector<NeighEntry>> listPermanentNeighs(Socket&, const std::string& dev, int ifindex);

Status replaceFdbEntry(Socket&, const std::string& dev, int ifindex, const FdbEntry&);
// Success when absent.
Status deleteFdbEntry(Socket&, const std::string& dev, int ifindex, const std::string& mac);
// The permanent entries with a remote destination on ifindex.
Result<std::vector<FdbEntry>> listFdbEntries(Socket&, const std::string& dev, int ifindex);

}  // namespace podnet::netlink
