// Pod traffic between nodes. Subnets span nodes (any node's pods may hold any address of the
// pool), so every node programs one entry per remote POD, not one per remote node's CIDR.
//
// What each node programs (all in the node's netns; `ip route show proto 112` lists the routes):
//
// vxlan (flannel's layout, with per-pod routes):
//   - one VXLAN device, `podnet.vxlan`: VNI 4096, UDP port 8472 (flannel's and the Linux kernel
//     driver's historical default, so the usual firewall rules for it apply), local = the node's
//     underlay address, dev = the uplink, learning off, no default destination and no ARP proxy:
//     it floods nothing and answers nothing; a frame leaves only towards an FDB entry we program.
//     Its MAC is derived from the underlay address (0e:70:<underlay IPv4 bytes>), so a recreated
//     device keeps the MAC every other node has programmed.
//   - the device holds the node's join address, a /32 from 100.64.0.0/16 derived from the low 16
//     bits of the underlay address (joinAddress()). Derived rather than allocated: nothing to
//     publish or agree on beyond what NodeEndpoint already carries; upsertNode refuses two nodes
//     whose join addresses collide (underlay networks wider than a /16 that share low bits).
//   - per remote node: FDB `<its vtep MAC> dst <its underlay IP>` (permanent), ARP entry
//     `<its join IP> lladdr <its vtep MAC>` (permanent), route `<its join IP>/32 dev podnet.vxlan
//     scope link`.
//   - per remote pod: route `<pod>/32 via <its node's join IP> dev podnet.vxlan onlink`.
//   One neighbour entry per node instead of one per pod: a pod moving or appearing costs one
//   route, and the join address doubles as the source address the node needs (below).
//   Source addresses: a node reaching a remote pod picks the only address of podnet.vxlan, its
//   join address, and the remote pod's reply comes back through the tunnel (the remote node has a
//   route to that join address). So node->remote pod, and pod->remote node at the remote node's
//   JOIN address, are symmetric and work under strict rp_filter. Pod->remote node at its UNDERLAY
//   address leaves through the uplink untunnelled with the pod's source address and the reply
//   comes back through the tunnel. That asymmetric path works under loose or no reverse-path
//   filtering, so create() turns a strict rp_filter (1) on the uplink and the VXLAN device into
//   loose (2); nodes need no NAT for it.
//   Device MTU = uplink MTU - 50 (outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14).
//
// host-gw (nodes share an L2 link; the kernel refuses a gateway that is not on it):
//   - per remote pod: route `<pod>/32 via <its node's underlay IP> dev <uplink>`. Nothing per
//     node; pod->remote node uses the node's underlay address. MTU = uplink MTU.
//
// Local pods need nothing new: their host veths answer ARP for remote pod addresses by proxy ARP
// because the node routes those through another device (podnet.vxlan or the uplink). Every node
// holds the same pool gateway (10.244.0.1) on its port-less podnet0, as Kube-OVN's distributed
// gateway does; it never leaves the node, so the copies never meet.
//
// Routes carry a metric above 0 (see netlink/owned_route.h): a local pod's /32 always wins over a
// stale remote entry for the same address. Nothing here adds NAT or routes off the underlay.
// Destroying an Overlay leaves the kernel state in place: traffic keeps flowing while the agent
// restarts, and the new agent's sync() converges it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/backend.h"
#include "common/ip.h"
#include "common/result.h"

namespace podnet::dataplane {

struct NodeEndpoint {
  std::string name;
  Ipv4 underlayIp;
  std::string vtepMac;  // the remote node's VXLAN device MAC (vxlan only)
};

struct RemotePod {
  Ipv4 ip;
  std::string node;  // NodeEndpoint::name
};

struct OverlayConfig {
  Backend backend = Backend::kVxlan;
  std::string uplink;  // this node's underlay device (e.g. "eth0" inside the node netns)
  Ipv4 underlayIp;     // this node's underlay address
  uint32_t vni = 4096;
  uint16_t port = 8472;                 // see the top of this file
  std::string device = "podnet.vxlan";  // < 16 characters
  int mtu = 0;  // 0: derive = uplink MTU - 50 for vxlan, = uplink MTU for host-gw
};

// 100.64.0.0/16 + the low 16 bits of underlayIp: the address of that node's VXLAN device.
Ipv4 joinAddress(Ipv4 underlayIp);

// Thread-safe; every operation is idempotent. Remote nodes are known by name once upserted; a
// pod can only be upserted for a known node.
class Overlay {
 public:
  // In the calling thread's (node) netns, which every later call programs whatever thread it runs
  // on. vxlan: creates the device (or keeps an existing one with the same settings; recreates one
  // that differs), sets its MTU and join address, brings it up. host-gw: removes a VXLAN device
  // left by an earlier vxlan configuration.
  static Result<Overlay> create(const OverlayConfig&);

  Overlay(Overlay&&) noexcept;
  Overlay& operator=(Overlay&&) noexcept;
  ~Overlay();

  // Publish this so other nodes can program us (vxlan); empty for host-gw.
  std::string localVtepMac() const;
  // The MTU pods on this node should get.
  int podMtu() const;
  // This node's join address (vxlan).
  Ipv4 localJoinAddress() const;

  // vxlan: FDB, ARP entry and route for the node's join address. host-gw: remembers the node.
  // A node whose address or MAC changed keeps its pods: their routes move to the new next hop.
  Status upsertNode(const NodeEndpoint&);
  // Removes the node's FDB/ARP entries and every route to its pods. Unknown names are a no-op.
  Status removeNode(const std::string& name);
  // kNotFound when pod.node is unknown.
  Status upsertPod(const RemotePod&);
  Status removePod(Ipv4 ip);
  // Makes the kernel match exactly these nodes and pods: adds what is missing, removes what is
  // stale (also entries left by an earlier agent). Programs everything it can; the first error,
  // if any, is returned at the end.
  Status sync(const std::vector<NodeEndpoint>& nodes, const std::vector<RemotePod>& pods);

 private:
  struct State;
  explicit Overlay(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace podnet::dataplane
