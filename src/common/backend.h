// The overlay backend: the one closed set that the agent, the dataplane, the node records and the
// lab share.
#pragma once

#include "common/enum_names.h"

namespace podnet {

// How pods on other nodes are reached: a kernel VXLAN device, or direct routes when the nodes
// share a link.
enum class Backend { kVxlan, kHostGw };
inline constexpr EnumNames<Backend, 2> kBackendNames{
    {{Backend::kVxlan, "vxlan"}, {Backend::kHostGw, "host-gw"}}};
inline std::string_view backendName(Backend backend) {
  return enumName(kBackendNames, backend);
}

}  // namespace podnet
