// Links: find, list, create (veth pairs, bridges), change and delete, by name.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "netlink/netns.h"
#include "netlink/rtnl_socket.h"

namespace podnet::netlink {

struct LinkInfo {
  std::string name;
  int index = 0;
  std::string mac;  // "aa:bb:cc:dd:ee:ff", empty for links without one
  int mtu = 0;
  bool up = false;   // administratively up (IFF_UP)
  std::string kind;  // "veth", "bridge", ...; empty for plain devices such as lo
};

Result<std::optional<LinkInfo>> findLink(Socket&, const std::string& name);
Result<std::vector<LinkInfo>> listLinks(Socket&);

// Creates hostName in the socket's netns and its peer peerName directly inside peerNetns (one
// request, so the peer never exists under a temporary name). Both ends get the MTU; the host end
// is up, the peer is left down (the kernel cannot bring it up within the creating request).
Status createVethPair(Socket& host, const std::string& hostName, const std::string& peerName,
                      const Netns& peerNetns, int mtu);
Status createBridge(Socket&, const std::string& name);  // EEXIST is success
Status deleteLink(Socket&, const std::string& name);    // success when absent
Status setLinkUp(Socket&, const std::string& name);
Status setLinkMtu(Socket&, const std::string& name, int mtu);
// Answers ARP for addresses routed through other links (net.ipv4.conf.<link>.proxy_arp), set
// through IFLA_AF_SPEC rather than /proc so it works for any socket's netns.
Status setProxyArp(Socket&, const std::string& name, bool on);
// How long proxy ARP waits before answering a broadcast request on this link
// (net.ipv4.neigh.<link>.proxy_delay). The kernel default delays each answer by up to 0.8 s,
// which stalls a pod's first packet to another pod. ifname is for messages.
Status setProxyArpDelay(Socket&, const std::string& ifname, int ifindex, int milliseconds);

}  // namespace podnet::netlink
