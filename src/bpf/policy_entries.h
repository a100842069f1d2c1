// The two rules that turn policy rules into pn_policy entries, in one place so that the agent's
// compiler and the tests agree with the kernel's lookup (bpf/lib/policy.h):
//  - a port range (Kubernetes endPort) is a few LPM entries, one per aligned block of ports;
//  - within one {subject, peer, direction}, the LPM lookup returns the longest prefix, so an
//    allow that lies inside a deny must itself be stored as that deny ("deny beats allow").
#pragma once

#include <optional>
#include <vector>

#include "bpf/policy_maps.h"

namespace podnet::bpf {

// A rule's port clause. No protocol: every protocol and port. port 0: every port of the protocol.
// endPort 0: just port; else port..endPort inclusive.
struct PortRange {
  std::optional<uint8_t> protocol;
  uint16_t port = 0;
  uint16_t endPort = 0;
};

// The keys covering exactly the range: one for "any", else one per aligned block (at most 30 for
// any range of 16-bit ports). Errc::kInvalidArgument when endPort < port.
Result<std::vector<PolicyKey>> policyKeys(uint32_t subject, uint32_t peer, pn_direction direction,
                                          const PortRange& ports);

// Entries as they must be written: duplicates merged (a deny wins, then the lowest policy id) and
// every allow that lies within a deny of the same subject, peer and direction replaced by that
// deny. Sorted by key.
std::vector<PolicyEntry> resolveDenyPrecedence(std::vector<PolicyEntry> entries);

}  // namespace podnet::bpf
