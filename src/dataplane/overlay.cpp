#include "dataplane/overlay.h"

#include <cctype>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <set>

#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/neigh_entry.h"
#include "netlink/owned_route.h"
#include "netlink/rtnl_socket.h"
#include "netlink/sysctl.h"
#include "netlink/vxlan_link.h"

namespace podnet::dataplane {

using netlink::OwnedRoute;

namespace {

constexpr uint32_t kJoinNetwork = 0x64400000;  // 100.64.0.0/16
constexpr int kVxlanOverhead = 50;             // outer IPv4 20 + UDP 8 + VXLAN 8 + Ethernet 14
constexpr size_t kMaxIfName = 15;              // IFNAMSIZ - 1

// Locally administered, unicast: 0e:70 ('p') followed by the underlay address.
std::string vtepMacFor(Ipv4 underlay) {
  char buf[18];
  uint32_t v = underlay.value;
  std::snprintf(buf, sizeof(buf), "0e:70:%02x:%02x:%02x:%02x", (v >> 24) & 0xff, (v >> 16) & 0xff,
                (v >> 8) & 0xff, v & 0xff);
  return buf;
}

// The kernel reports MACs in lower case; comparing against what it lists needs the same form.
NodeEndpoint normalized(NodeEndpoint node) {
  for (char& c : node.vtepMac) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return node;
}

Ipv4Prefix host(Ipv4 ip) {
  return Ipv4Prefix{ip, 32};
}

// Keeps the first failure and lets the caller carry on with the rest.
void keepFirst(Status& first, Status next) {
  if (first.ok() && !next.ok()) first = std::move(next);
}

// Over vxlan, a pod reaching a remote node's underlay address leaves untunnelled through the
// uplink and the reply comes back through the tunnel (see the top of overlay.h). Strict reverse
// path filtering (rp_filter=1, on "all" or the device) drops both halves; loose (2) keeps its
// protection against sources with no route at all. 0 and 2 are left as they are.
Status loosenStrictReversePath(const std::string& device) {
  auto all = netlink::readSysctl("net/ipv4/conf/all/rp_filter");
  auto dev = netlink::readSysctl("net/ipv4/conf/" + device + "/rp_filter");
  if ((all && *all == "1") || (dev && *dev == "1")) {
    return netlink::writeSysctl("net/ipv4/conf/" + device + "/rp_filter", "2");
  }
  return okStatus();
}

}  // namespace

Ipv4 joinAddress(Ipv4 underlayIp) {
  return Ipv4{kJoinNetwork | (underlayIp.value & 0xffff)};
}

struct Overlay::State {
  State(OverlayConfig c, netlink::Socket s) : config(std::move(c)), sock(std::move(s)) {}

  OverlayConfig config;
  netlink::Socket sock;
  int routeDevIndex = 0;  // podnet.vxlan (vxlan) or the uplink (host-gw)
  std::string mac;        // vxlan only
  int mtu = 0;

  std::mutex mu;
  std::map<std::string, NodeEndpoint> nodes;  // by name; guarded by mu

  bool vxlan() const { return config.backend == Backend::kVxlan; }
  const std::string& routeDev() const { return vxlan() ? config.device : config.uplink; }
  // Where this node sends a node's pods: its join address through the tunnel, or its underlay
  // address on the shared link.
  Ipv4 nextHop(const NodeEndpoint& node) const {
    return vxlan() ? joinAddress(node.underlayIp) : node.underlayIp;
  }
  Ipv4 ownNextHop() const { return vxlan() ? joinAddress(config.underlayIp) : config.underlayIp; }

  OwnedRoute podRoute(Ipv4 ip, const NodeEndpoint& node) const {
    // onlink: the join address is on the tunnel by construction; host-gw leaves it off so that
    // the kernel refuses a node that is not on the shared link.
    return OwnedRoute{host(ip), nextHop(node), routeDev(), vxlan()};
  }
  OwnedRoute joinRoute(const NodeEndpoint& node) const {
    return OwnedRoute{host(joinAddress(node.underlayIp)), std::nullopt, config.device, false};
  }

  Status replaceRoute(const OwnedRoute& route) {
    return netlink::replaceOwnedRoute(sock, route, routeDevIndex);
  }

  // A node must not share a next hop with this node or with another known node.
  Status checkNode(const NodeEndpoint& node,
                   const std::map<std::string, NodeEndpoint>& known) const {
    std::string what = "node " + node.name;
    if (node.name.empty()) return makeError(Errc::kInvalidArgument, "node: empty name");
    Ipv4 hop = nextHop(node);
    std::string kind = vxlan() ? "join address " : "underlay address ";
    if (hop == ownNextHop()) {
      return makeError(Errc::kConflict, what + ": " + kind + hop.str() + " is this node's own");
    }
    for (const auto& [name, other] : known) {
      if (name != node.name && nextHop(other) == hop) {
        return makeError(Errc::kConflict,
                         what + ": " + kind + hop.str() + " is already node " + name + "'s");
      }
    }
    return okStatus();
  }

  // vxlan: how to reach the node's tunnel endpoint and its join address.
  Status programNode(const NodeEndpoint& node) {
    const std::string& dev = config.device;
    Ipv4 join = joinAddress(node.underlayIp);
    PODNET_TRY_STATUS(
        netlink::replaceFdbEntry(sock, dev, routeDevIndex, {node.vtepMac, node.underlayIp}));
    PODNET_TRY_STATUS(netlink::replaceNeigh(sock, dev, routeDevIndex, {join, node.vtepMac}));
    return replaceRoute(joinRoute(node));
  }

  // vxlan: removes what programNode(old) made, except what `keep` (old's replacement) shares.
  Status unprogramNode(const NodeEndpoint& old, const NodeEndpoint* keep) {
    const std::string& dev = config.device;
    if (keep == nullptr || keep->vtepMac != old.vtepMac) {
      PODNET_TRY_STATUS(netlink::deleteFdbEntry(sock, dev, routeDevIndex, old.vtepMac));
    }
    Ipv4 join = joinAddress(old.underlayIp);
    if (keep == nullptr || joinAddress(keep->underlayIp) != join) {
      PODNET_TRY_STATUS(netlink::deleteOwnedRoute(sock, host(join)));
      PODNET_TRY_STATUS(netlink::deleteNeigh(sock, dev, routeDevIndex, join));
    }
    return okStatus();
  }

  // Every pod route through `hop`, i.e. to one node's pods.
  Result<std::vector<OwnedRoute>> podRoutesVia(Ipv4 hop) {
    auto routes = PODNET_TRY(netlink::listOwnedRoutes(sock));
    std::erase_if(routes, [&](const OwnedRoute& r) { return r.gateway != hop; });
    return routes;
  }

  Status upsertNode(const NodeEndpoint& node) {
    PODNET_TRY_STATUS(checkNode(node, nodes));
    if (vxlan()) PODNET_TRY_STATUS(programNode(node));
    auto old = nodes.find(node.name);
    if (old != nodes.end()) {
      // The node moved (new underlay address or MAC): its pods follow it.
      if (nextHop(old->second) != nextHop(node)) {
        for (const auto& route : PODNET_TRY(podRoutesVia(nextHop(old->second)))) {
          PODNET_TRY_STATUS(replaceRoute(podRoute(route.dst.addr, node)));
        }
      }
      if (vxlan()) PODNET_TRY_STATUS(unprogramNode(old->second, &node));
    }
    nodes[node.name] = node;
    return okStatus();
  }

  Status removeNode(const std::string& name) {
    auto found = nodes.find(name);
    if (found == nodes.end()) return okStatus();
    for (const auto& route : PODNET_TRY(podRoutesVia(nextHop(found->second)))) {
      PODNET_TRY_STATUS(netlink::deleteOwnedRoute(sock, route.dst));
    }
    if (vxlan()) PODNET_TRY_STATUS(unprogramNode(found->second, nullptr));
    nodes.erase(found);
    return okStatus();
  }

  Status sync(const std::vector<NodeEndpoint>& wantNodes, const std::vector<RemotePod>& wantPods) {
    Status first;
    std::map<std::string, NodeEndpoint> want;
    for (const auto& raw : wantNodes) {
      NodeEndpoint node = normalized(raw);
      Status ok = checkNode(node, want);
      if (ok.ok()) want[node.name] = std::move(node);
      keepFirst(first, std::move(ok));
    }
    std::map<Ipv4Prefix, OwnedRoute> routes;  // by destination
    if (vxlan()) {
      for (const auto& [name, node] : want)
        routes[host(joinAddress(node.underlayIp))] = joinRoute(node);
    }
    for (const auto& pod : wantPods) {
      auto node = want.find(pod.node);
      if (node == want.end()) {
        keepFirst(first, makeError(Errc::kNotFound,
                                   "pod " + pod.ip.str() + ": node " + pod.node + " is not known"));
        continue;
      }
      routes[host(pod.ip)] = podRoute(pod.ip, node->second);
    }

    // Program first and remove afterwards, so what is in both sets never stops working.
    if (vxlan()) {
      for (const auto& [name, node] : want) keepFirst(first, programNode(node));
    }
    for (const auto& [dst, route] : routes) keepFirst(first, replaceRoute(route));
    nodes = want;

    auto current = netlink::listOwnedRoutes(sock);
    if (!current.ok()) {
      keepFirst(first, std::move(current).takeError());
      return first;
    }
    for (const auto& route : *current) {
      if (!routes.contains(route.dst)) keepFirst(first, netlink::deleteOwnedRoute(sock, route.dst));
    }
    if (vxlan()) keepFirst(first, removeStaleNeighbours());
    return first;
  }

  // vxlan: FDB and ARP entries on the device for nodes no longer known.
  Status removeStaleNeighbours() {
    const std::string& dev = config.device;
    std::set<std::string> macs;
    std::set<Ipv4> joins;
    for (const auto& [name, node] : nodes) {
      macs.insert(node.vtepMac);
      joins.insert(joinAddress(node.underlayIp));
    }
    Status first;
    for (const auto& entry : PODNET_TRY(netlink::listFdbEntries(sock, dev, routeDevIndex))) {
      if (!macs.contains(entry.mac)) {
        keepFirst(first, netlink::deleteFdbEntry(sock, dev, routeDevIndex, entry.mac));
      }
    }
    for (const auto& entry : PODNET_TRY(netlink::listPermanentNeighs(sock, dev, routeDevIndex))) {
      if (!joins.contains(entry.ip)) {
        keepFirst(first, netlink::deleteNeigh(sock, dev, routeDevIndex, entry.ip));
      }
    }
    return first;
  }
};

namespace {

// vxlan: the device exists with exactly spec and mac, is up and holds the join address.
Result<int> ensureVxlanDevice(netlink::Socket& sock, const OverlayConfig& config,
                              const netlink::VxlanSpec& spec, const std::string& mac, int mtu) {
  const std::string& dev = config.device;
  auto existing = PODNET_TRY(netlink::findLink(sock, dev));
  if (existing) {
    auto current = netlink::findVxlan(sock, dev);
    if (!current.ok()) {
      Error error = std::move(current).takeError();
      error.message += "; remove it or set another OverlayConfig::device";
      return error;
    }
    // A tunnel's identity cannot change on a live device: recreate it (its entries go with it;
    // the agent's sync() programs them again).
    if (*current != spec || existing->mac != mac) {
      PODNET_TRY_STATUS(netlink::deleteLink(sock, dev));
      existing.reset();
    }
  }
  if (!existing) PODNET_TRY_STATUS(netlink::createVxlan(sock, dev, spec, mac, mtu));
  PODNET_TRY_STATUS(netlink::setLinkMtu(sock, dev, mtu));
  PODNET_TRY_STATUS(netlink::addAddress(sock, dev, host(joinAddress(config.underlayIp))));
  PODNET_TRY_STATUS(netlink::setLinkUp(sock, dev));
  auto link = PODNET_TRY(netlink::findLink(sock, dev));
  if (!link) return makeError(Errc::kNotFound, "vxlan " + dev + ": vanished after creation");
  return link->index;
}

}  // namespace

Result<Overlay> Overlay::create(const OverlayConfig& config) {
  if (config.device.empty() || config.device.size() > kMaxIfName) {
    return makeError(Errc::kInvalidArgument,
                     "overlay device \"" + config.device + "\": must be 1 to 15 characters");
  }
  auto sock = PODNET_TRY(netlink::Socket::open());
  auto uplink = PODNET_TRY(netlink::findLink(sock, config.uplink));
  if (!uplink) {
    return makeError(Errc::kNotFound, "overlay uplink " + config.uplink + ": no such link");
  }
  auto state = std::make_unique<State>(config, std::move(sock));
  if (config.backend == Backend::kHostGw) {
    auto leftover = netlink::findVxlan(state->sock, config.device);
    if (leftover.ok() && *leftover) {
      PODNET_TRY_STATUS(netlink::deleteLink(state->sock, config.device));
    }
    state->mtu = config.mtu > 0 ? config.mtu : uplink->mtu;
    state->routeDevIndex = uplink->index;
  } else {
    state->mtu = config.mtu > 0 ? config.mtu : uplink->mtu - kVxlanOverhead;
    state->mac = vtepMacFor(config.underlayIp);
    netlink::VxlanSpec spec{config.vni, config.port, config.underlayIp, uplink->index, false};
    state->routeDevIndex =
        PODNET_TRY(ensureVxlanDevice(state->sock, config, spec, state->mac, state->mtu));
    PODNET_TRY_STATUS(loosenStrictReversePath(config.uplink));
    PODNET_TRY_STATUS(loosenStrictReversePath(config.device));
  }
  return Overlay(std::move(state));
}

Overlay::Overlay(std::unique_ptr<State> state) : state_(std::move(state)) {}
Overlay::Overlay(Overlay&&) noexcept = default;
Overlay& Overlay::operator=(Overlay&&) noexcept = default;
Overlay::~Overlay() = default;

std::string Overlay::localVtepMac() const {
  return state_->mac;
}

int Overlay::podMtu() const {
  return state_->mtu;
}

Ipv4 Overlay::localJoinAddress() const {
  return joinAddress(state_->config.underlayIp);
}

Status Overlay::upsertNode(const NodeEndpoint& node) {
  std::lock_guard lock(state_->mu);
  return state_->upsertNode(normalized(node));
}

Status Overlay::removeNode(const std::string& name) {
  std::lock_guard lock(state_->mu);
  return state_->removeNode(name);
}

Status Overlay::upsertPod(const RemotePod& pod) {
  std::lock_guard lock(state_->mu);
  auto node = state_->nodes.find(pod.node);
  if (node == state_->nodes.end()) {
    return makeError(Errc::kNotFound, "pod " + pod.ip.str() + ": node " + pod.node +
                                          " is not known; upsert the node first");
  }
  return state_->replaceRoute(state_->podRoute(pod.ip, node->second));
}

Status Overlay::removePod(Ipv4 ip) {
  std::lock_guard lock(state_->mu);
  return netlink::deleteOwnedRoute(state_->sock, host(ip));
}

Status Overlay::sync(const std::vector<NodeEndpoint>& nodes, const std::vector<RemotePod>& pods) {
  std::lock_guard lock(state_->mu);
  return state_->sync(nodes, pods);
}

}  // namespace podnet::dataplane
