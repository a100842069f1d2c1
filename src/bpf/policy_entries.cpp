#include "bpf/policy_entries.h"

#include <algorithm>
#include <map>
#include <tuple>

namespace podnet::bpf {

Result<std::vector<PolicyKey>> policyKeys(uint32_t subject, uint32_t peer, pn_direction direction,
                                          const PortRange& ports) {
  PolicyKey base;
  base.subject = subject;
  base.peer = peer;
  base.direction = direction;
  base.protocol = ports.protocol;
  if (!ports.protocol || ports.port == 0) {
    base.port = 0;
    base.portBits = 0;
    return std::vector<PolicyKey>{base};
  }
  uint32_t lo = ports.port;
  uint32_t hi = ports.endPort == 0 ? ports.port : ports.endPort;
  if (hi < lo) {
    return makeError(Errc::kInvalidArgument, "port range " + std::to_string(lo) + "-" +
                                                 std::to_string(hi) + ": endPort below port");
  }
  // Largest aligned power-of-two blocks from lo upwards (the classic range-to-prefix split).
  std::vector<PolicyKey> out;
  while (lo <= hi) {
    uint32_t size = 1;
    uint8_t bits = 16;
    while (bits > 0 && (lo & (size * 2 - 1)) == 0 && lo + size * 2 - 1 <= hi) {
      size *= 2;
      --bits;
    }
    PolicyKey key = base;
    key.port = static_cast<uint16_t>(lo);
    key.portBits = bits;
    out.push_back(key);
    lo += size;
  }
  return out;
}

std::vector<PolicyEntry> resolveDenyPrecedence(std::vector<PolicyEntry> entries) {
  // Merge duplicates of one key: a deny wins, then the lowest policy id (a stable choice).
  std::map<PolicyKey, PolicyEntry> byKey;
  for (const auto& e : entries) {
    auto [it, inserted] = byKey.try_emplace(e.key, e);
    if (inserted) continue;
    PolicyEntry& kept = it->second;
    bool better = (e.action == PN_POLICY_DENY && kept.action != PN_POLICY_DENY) ||
                  (e.action == kept.action && e.policyId < kept.policyId);
    if (better) kept = e;
  }

  // Denies grouped by {subject, peer, direction}: an allow only needs its own group.
  using Group = std::tuple<uint32_t, uint32_t, int>;
  std::map<Group, std::vector<const PolicyEntry*>> denies;
  for (const auto& [key, e] : byKey) {
    if (e.action == PN_POLICY_DENY) denies[{key.subject, key.peer, key.direction}].push_back(&e);
  }

  std::vector<PolicyEntry> out;
  out.reserve(byKey.size());
  for (const auto& [key, e] : byKey) {
    PolicyEntry resolved = e;
    if (e.action == PN_POLICY_ALLOW) {
      auto group = denies.find({key.subject, key.peer, key.direction});
      if (group != denies.end()) {
        for (const PolicyEntry* deny : group->second) {
          if (key.within(deny->key)) {
            resolved.action = PN_POLICY_DENY;
            resolved.policyId = deny->policyId;
            break;
          }
        }
      }
    }
    out.push_back(resolved);
  }
  return out;
}

}  // namespace podnet::bpf
