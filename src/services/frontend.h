// What the service data path is given: every (address, port, protocol) a client may connect to,
// and the backends it goes to. The control plane (services/frontend_select.h) computes these from
// Services and EndpointSlices; the data path (services/service_maps.h) writes them into BPF maps.
#pragma once

#include <cstdint>
#include <vector>

#include "common/ip.h"

namespace podnet::services {

enum class Protocol : uint8_t { kTcp = 6, kUdp = 17 };

struct Backend {
  Ipv4 address;
  uint16_t port = 0;
  bool operator==(const Backend&) const = default;
};

struct Frontend {
  Ipv4 address;  // a ClusterIP, an externalIP or a node address (NodePort)
  uint16_t port = 0;
  Protocol protocol = Protocol::kTcp;
  std::vector<Backend> backends;        // empty: new connections are refused (TCP reset, ICMP)
  uint32_t affinityTimeoutSeconds = 0;  // sessionAffinity ClientIP; 0: none
  bool dropWhenEmpty = false;           // a Local traffic policy with no local endpoint: drop
  bool operator==(const Frontend&) const = default;
};

}  // namespace podnet::services
