#include "dataplane/pod_wiring.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/route.h"
#include "netlink/rtnl_socket.h"

namespace podnet::dataplane {

using netlink::RouteSpec;
using netlink::Socket;

namespace {

constexpr std::string_view kHostVethPrefix = "pn";

RouteSpec podDefaultRoute(const PodNetwork& pod) {
  return RouteSpec{Ipv4Prefix{}, pod.gateway, pod.ifname, false};
}

RouteSpec hostRoute(const PodNetwork& pod, const std::string& hostVeth) {
  return RouteSpec{Ipv4Prefix{pod.address.addr, 32}, std::nullopt, hostVeth, true};
}

Error inPod(const PodNetwork& pod, Error error) {
  return std::move(error).context("netns " + pod.netnsPath);
}

// Everything after the veth pair exists: one lookup per side (index, MAC), then the settings.
// The indexes saved here spare each later request a name lookup.
Result<WiredPod> configure(Socket& hostSock, Socket& podSock, const PodNetwork& pod,
                           const std::string& hostName) {
  auto host = PODNET_TRY(netlink::findLink(hostSock, hostName));
  if (!host) return makeError(Errc::kNotFound, "veth " + hostName + ": vanished after creation");
  auto podLink = netlink::findLink(podSock, pod.ifname);
  if (!podLink.ok()) return inPod(pod, std::move(podLink).takeError());
  if (!*podLink) {
    return inPod(pod, makeError(Errc::kNotFound, "veth peer " + pod.ifname + ": vanished"));
  }
  PODNET_TRY_STATUS(netlink::setProxyArp(hostSock, hostName, true));
  PODNET_TRY_STATUS(netlink::setProxyArpDelay(hostSock, hostName, host->index, 0));
  if (Status s = netlink::setLinkUp(podSock, pod.ifname); !s.ok()) {
    return inPod(pod, std::move(s).takeError());
  }
  if (Status s = netlink::addAddress(podSock, pod.ifname, pod.address, (*podLink)->index);
      !s.ok()) {
    return inPod(pod, std::move(s).takeError());
  }
  if (Status s = netlink::replaceRoute(podSock, podDefaultRoute(pod), (*podLink)->index); !s.ok()) {
    return inPod(pod, std::move(s).takeError());
  }
  PODNET_TRY_STATUS(netlink::replaceRoute(hostSock, hostRoute(pod, hostName), host->index));
  auto hostMac = MacAddress::parse(host->mac);
  if (!hostMac) return hostMac.error().context("veth " + hostName);
  auto podMac = MacAddress::parse((*podLink)->mac);
  if (!podMac) return inPod(pod, podMac.error().context("veth peer " + pod.ifname));
  return WiredPod{hostName, *hostMac, *podMac, (*podLink)->mtu};
}

}  // namespace

std::string hostVethName(std::string_view containerId, std::string_view ifname) {
  uint64_t hash = 14695981039346656037ULL;  // FNV-1a 64 offset basis
  auto mix = [&hash](std::string_view bytes) {
    for (unsigned char c : bytes) {
      hash ^= c;
      hash *= 1099511628211ULL;  // FNV-1a 64 prime
    }
  };
  mix(containerId);
  mix("/");
  mix(ifname);
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return std::string(kHostVethPrefix) + std::string(hex, 12);
}

Result<PodWiring> PodWiring::create() {
  auto node = PODNET_TRY(netlink::Netns::current());
  return PodWiring(std::move(node));
}

Result<WiredPod> PodWiring::attach(const PodNetwork& pod) {
  std::string hostName = hostVethName(pod.containerId, pod.ifname);
  auto podNs = PODNET_TRY(netlink::Netns::open(pod.netnsPath));
  auto podSock = PODNET_TRY(Socket::openIn(podNs));
  auto hostSock = PODNET_TRY(Socket::openIn(node_));

  Status created = netlink::createVethPair(hostSock, hostName, pod.ifname, podNs, pod.mtu);
  if (!created.ok()) {
    // EEXIST names neither end; the pod's interface is the one the caller can act on.
    if (created.error().code == Errc::kAlreadyExists) {
      auto existing = netlink::findLink(podSock, pod.ifname);
      if (existing.ok() && *existing) {
        return inPod(
            pod, makeError(Errc::kAlreadyExists, "interface " + pod.ifname + " already exists"));
      }
    }
    return std::move(created).takeError();
  }

  auto wired = configure(hostSock, podSock, pod, hostName);
  if (!wired.ok()) {
    // Deleting the host end takes the peer, its address and both routes with it.
    if (Status undo = netlink::deleteLink(hostSock, hostName); !undo.ok()) {
      Error error = std::move(wired).takeError();
      error.message += "; rollback failed: " + undo.error().message;
      return error;
    }
  }
  return wired;
}

Status PodWiring::detach(const std::string& containerId, const std::string& ifname) {
  auto sock = PODNET_TRY(Socket::openIn(node_));
  return netlink::deleteLink(sock, hostVethName(containerId, ifname));
}

Status PodWiring::check(const PodNetwork& pod, const WiredPod& wired) const {
  auto hostSock = PODNET_TRY(Socket::openIn(node_));
  auto host = PODNET_TRY(netlink::findLink(hostSock, wired.hostVeth));
  if (!host) return makeError(Errc::kNotFound, "host veth " + wired.hostVeth + ": missing");
  if (!host->up) return makeError(Errc::kNotFound, "host veth " + wired.hostVeth + ": not up");

  auto podNs = PODNET_TRY(netlink::Netns::open(pod.netnsPath));
  auto podSock = PODNET_TRY(Socket::openIn(podNs));
  auto podLink = netlink::findLink(podSock, pod.ifname);
  if (!podLink.ok()) return inPod(pod, std::move(podLink).takeError());
  std::string what = "interface " + pod.ifname;
  if (!*podLink) return inPod(pod, makeError(Errc::kNotFound, what + ": missing"));
  if ((*podLink)->mtu != pod.mtu) {
    return inPod(pod,
                 makeError(Errc::kNotFound, what + ": MTU is " + std::to_string((*podLink)->mtu) +
                                                ", not " + std::to_string(pod.mtu)));
  }
  auto addresses = netlink::listAddresses(podSock, pod.ifname);
  if (!addresses.ok()) return inPod(pod, std::move(addresses).takeError());
  if (std::find(addresses->begin(), addresses->end(), pod.address) == addresses->end()) {
    return inPod(pod,
                 makeError(Errc::kNotFound, what + ": address " + pod.address.str() + " missing"));
  }
  auto podRoutes = netlink::listRoutes(podSock);
  if (!podRoutes.ok()) return inPod(pod, std::move(podRoutes).takeError());
  bool hasDefault = std::any_of(podRoutes->begin(), podRoutes->end(), [&](const RouteSpec& r) {
    return r.dst.len == 0 && r.gateway == pod.gateway;
  });
  if (!hasDefault) {
    return inPod(
        pod, makeError(Errc::kNotFound, "route " + describe(podDefaultRoute(pod)) + ": missing"));
  }

  auto hostRoutes = PODNET_TRY(netlink::listRoutes(hostSock));
  RouteSpec want = hostRoute(pod, wired.hostVeth);
  bool hasHostRoute = std::any_of(hostRoutes.begin(), hostRoutes.end(), [&](const RouteSpec& r) {
    return r.dst == want.dst && r.dev == want.dev;
  });
  if (!hasHostRoute) {
    return makeError(Errc::kNotFound, "node route " + describe(want) + ": missing");
  }
  return okStatus();
}

Result<std::vector<std::string>> PodWiring::listHostVeths() const {
  auto sock = PODNET_TRY(Socket::openIn(node_));
  auto links = PODNET_TRY(netlink::listLinks(sock));
  std::vector<std::string> names;
  for (const auto& link : links) {
    if (link.kind == "veth" && link.name.starts_with(kHostVethPrefix)) names.push_back(link.name);
  }
  return names;
}

}  // namespace podnet::dataplane
