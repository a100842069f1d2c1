// VXLAN devices for the overlay between nodes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/ip.h"
#include "common/result.h"
#include "netlink/rtnl_socket.h"

namespace podnet::netlink {

// What identifies a VXLAN device's tunnel: the fields that, when they differ, make it a different
// tunnel (and that the kernel cannot change on a live device).
struct VxlanSpec {
  uint32_t vni = 0;
  uint16_t port = 0;  // UDP destination port
  Ipv4 local;         // source address of the encapsulated packets
  int uplinkIndex = 0;
  bool learning = false;  // learn remote MACs from received packets
  bool operator==(const VxlanSpec&) const = default;
};

// Creates name with spec, the MAC and MTU given, administratively down. No default destination
// and no flooding: a frame leaves only towards an FDB entry the caller programs. kAlreadyExists
// when a link of that name exists.
Status createVxlan(Socket&, const std::string& name, const VxlanSpec& spec, const std::string& mac,
                   int mtu);
// The tunnel settings of the link named name; nullopt when there is no such link,
// kInvalidArgument when it is not a VXLAN device.
Result<std::optional<VxlanSpec>> findVxlan(Socket&, const std::string& name);

}  // namespace podnet::netlink
