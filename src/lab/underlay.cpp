#include "lab/underlay.h"

#include <netlink/route/link.h>

#include <algorithm>
#include <filesystem>

#include "lab/processes.h"
#include "netlink/address.h"
#include "netlink/link.h"
#include "netlink/netns.h"
#include "netlink/rtnl_socket.h"

namespace podnet::lab {
namespace {

namespace fs = std::filesystem;

Result<int> indexOf(netlink::Socket& sock, const std::string& name) {
  auto link = PODNET_TRY(netlink::findLink(sock, name));
  if (!link) return makeError(Errc::kNotFound, "link " + name + ": not found");
  return link->index;
}

// Makes port a port of bridge. (src/netlink has no call for it yet; this is its only user.)
Status enslave(netlink::Socket& sock, const std::string& port, const std::string& bridge) {
  int bridgeIndex = PODNET_TRY(indexOf(sock, bridge));
  int portIndex = PODNET_TRY(indexOf(sock, port));
  return sock.check(rtnl_link_enslave_ifindex(sock.get(), bridgeIndex, portIndex),
                    "link " + port + " into bridge " + bridge, "RTM_NEWLINK");
}

Result<netlink::Socket> socketIn(const std::string& netns) {
  auto ns = PODNET_TRY(netlink::Netns::open(Layout::netnsPath(netns)));
  return netlink::Socket::openIn(ns);
}

}  // namespace

Status addNetns(const std::string& name) {
  auto existing = listNetns();
  if (std::find(existing.begin(), existing.end(), name) != existing.end()) {
    return makeError(Errc::kAlreadyExists, "netns " + name + ": already exists");
  }
  std::string out;
  int rc = PODNET_TRY(runCommand({"ip", "netns", "add", name}, &out));
  if (rc != 0) return makeError(Errc::kKernel, "netns " + name + ": ip netns add: " + out);
  auto sock = socketIn(name);
  if (!sock) return sock.error().context("netns " + name);
  if (auto st = netlink::setLinkUp(*sock, "lo"); !st) return st.error().context("netns " + name);
  return okStatus();
}

Status deleteNetns(const std::string& name) {
  std::error_code ec;
  if (!fs::exists(Layout::netnsPath(name), ec)) return okStatus();
  std::string out;
  int rc = PODNET_TRY(runCommand({"ip", "netns", "delete", name}, &out));
  if (rc != 0 && fs::exists(Layout::netnsPath(name), ec)) {
    return makeError(Errc::kKernel, "netns " + name + ": ip netns delete: " + out);
  }
  return okStatus();
}

std::vector<std::string> listNetns() {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/run/netns", ec)) {
    out.push_back(entry.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

Status buildUnderlay(const Layout& layout, int nodes) {
  const std::string infra = layout.infraNetns();
  PODNET_TRY_STATUS(addNetns(infra));
  auto infraSock = PODNET_TRY(socketIn(infra));
  const std::string where = "netns " + infra;
  if (auto st = netlink::createBridge(infraSock, kBridge); !st) return st.error().context(where);
  if (auto st = netlink::setLinkMtu(infraSock, kBridge, kUnderlayMtu); !st) {
    return st.error().context(where);
  }
  if (auto st = netlink::addAddress(infraSock, kBridge, Layout::bridgeAddress()); !st) {
    return st.error().context(where);
  }
  if (auto st = netlink::setLinkUp(infraSock, kBridge); !st) return st.error().context(where);

  for (int i = 1; i <= nodes; ++i) {
    const std::string node = Layout::nodeName(i);
    const std::string netns = layout.nodeNetns(node);
    const std::string what = "node " + node + " (netns " + netns + ")";
    PODNET_TRY_STATUS(addNetns(netns));
    auto ns = netlink::Netns::open(Layout::netnsPath(netns));
    if (!ns) return ns.error().context(what);
    if (auto st = netlink::createVethPair(infraSock, node, kNodeUplink, *ns, kUnderlayMtu); !st) {
      return st.error().context(what);
    }
    if (auto st = enslave(infraSock, node, kBridge); !st) return st.error().context(what);
    if (auto st = netlink::setLinkUp(infraSock, node); !st) return st.error().context(what);
    auto nodeSock = netlink::Socket::openIn(*ns);
    if (!nodeSock) return nodeSock.error().context(what);
    if (auto st = netlink::addAddress(*nodeSock, kNodeUplink, Layout::nodeAddress(i)); !st) {
      return st.error().context(what);
    }
    if (auto st = netlink::setLinkUp(*nodeSock, kNodeUplink); !st) return st.error().context(what);
  }
  return okStatus();
}

}  // namespace podnet::lab
