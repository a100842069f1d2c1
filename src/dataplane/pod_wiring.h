// Pod wiring: one veth pair per pod interface. The pod side holds the pod address with the pool's
// prefix and a default route via the gateway; the node side answers the pod's ARP (proxy_arp) and
// routes the pod address to it with a /32, so pods need no bridge and no per-pod node address.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"
#include "common/mac.h"
#include "common/result.h"
#include "netlink/netns.h"

namespace podnet::dataplane {

// "pn" + the first 12 hex digits of FNV-1a-64(containerId + "/" + ifname): stable across agent
// restarts and 14 characters, inside IFNAMSIZ.
std::string hostVethName(std::string_view containerId, std::string_view ifname);

struct PodNetwork {
  std::string containerId, ifname, netnsPath;
  Ipv4Prefix address;  // the pod address with the pool prefix, e.g. 10.244.0.5/16
  Ipv4 gateway;
  int mtu = 1500;
};

struct WiredPod {
  std::string hostVeth;
  MacAddress hostMac, podMac;
  int mtu = 0;
};

// Works on the node netns it was created in, whichever thread calls it; safe to call from many
// threads at once (each call opens its own netlink sockets).
class PodWiring {
 public:
  // Remembers the calling thread's netns as the node netns.
  static Result<PodWiring> create();

  // On failure removes everything this call created. A netns path that does not exist gives
  // kNotFound; an ifname that already exists in the pod gives kAlreadyExists and is left alone.
  Result<WiredPod> attach(const PodNetwork&);
  // Idempotent: deletes the host veth (the kernel removes the peer and the /32 route with it).
  Status detach(const std::string& containerId, const std::string& ifname);
  // kNotFound naming the first missing piece: host veth (up), pod interface with address and MTU,
  // the pod's default route via the gateway, the node's /32 route to the pod.
  Status check(const PodNetwork&, const WiredPod&) const;
  // All "pn*" veths in the node netns, for reconciliation after a restart and GC.
  Result<std::vector<std::string>> listHostVeths() const;

 private:
  explicit PodWiring(netlink::Netns node) : node_(std::move(node)) {}

  netlink::Netns node_;
};

}  // namespace podnet::dataplane
