// The pod device program's pinned maps, opened by path: what the agent writes (identities,
// endpoints, compiled policy, the enforcement mode) and what it reads (conntrack, counters).
// Layouts are pod_policy.h's; this only converts podnet's values and names the map in errors.
//
// Opening by pin path, not through a loaded program, lets any process with the right to read
// /sys/fs/bpf/podnet (podnetctl, a restarted agent) use the maps without loading programs.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/ip.h"
#include "common/result.h"
#include "pod_policy.h"

namespace podnet::bpf {

struct Endpoint {
  uint32_t endpointId = 0;
  uint32_t identity = 0;
  uint32_t subject = 0;  // the pn_policy subject; 0 means "the identity"
  bool enforceIngress = false;
  bool enforceEgress = false;
  Ipv4 address;
};

// One pn_policy key in podnet's terms.
struct PolicyKey {
  uint32_t subject = 0;
  uint32_t peer = PN_IDENTITY_ANY;
  pn_direction direction = PN_DIR_INGRESS;
  std::optional<uint8_t> protocol;  // none: every protocol and port
  uint16_t port = 0;                // host byte order
  uint8_t portBits = 16;            // how many leading bits of port match (0: any port)

  pn_policy_key raw() const;
  static PolicyKey fromRaw(const pn_policy_key& raw);
  // True when every packet this key matches is also matched by other (same subject, peer and
  // direction; a shorter or equal prefix that agrees on it).
  bool within(const PolicyKey& other) const;
  auto operator<=>(const PolicyKey&) const = default;
};

struct PolicyEntry {
  PolicyKey key;
  pn_policy_action action = PN_POLICY_ALLOW;
  uint32_t policyId = 0;
  bool operator==(const PolicyEntry&) const = default;
};

struct ConntrackEntry {
  pn_ct_key key;
  pn_ct_value value;
};

using DropCounters = std::array<pn_counter, PN_DROP__MAX>;  // indexed by pn_drop_reason

class PolicyMaps {
 public:
  // Opens every map pinned under pinDir. Errc::kNotFound naming the pin when one is missing
  // (the program was never loaded with this pin directory); Errc::kIncompatibleVersion naming
  // the pin, the type and sizes found and expected, and what to do, when a pinned map's type,
  // key size, value size or max entries differ from pod_policy.h's (an older podnet's layout).
  static Result<PolicyMaps> open(const std::string& pinDir);

  // pn_ipcache
  Status setIdentity(const Ipv4Prefix& prefix, uint32_t identity);
  Status removeIdentity(const Ipv4Prefix& prefix);      // no error when absent
  Result<uint32_t> identityOf(Ipv4 address);            // the longest prefix; world on a miss
  Result<std::map<Ipv4Prefix, uint32_t>> identities();  // every prefix

  // pn_ipblocks (prefix -> ipBlock identity)
  Status setIpBlock(const Ipv4Prefix& prefix, uint32_t identity);
  Status removeIpBlock(const Ipv4Prefix& prefix);     // no error when absent
  Result<std::map<Ipv4Prefix, uint32_t>> ipBlocks();  // every prefix

  // pn_endpoints, by the host-side device's ifindex
  Status setEndpoint(uint32_t ifindex, const Endpoint& endpoint);
  Status removeEndpoint(uint32_t ifindex);  // no error when absent
  Result<std::optional<Endpoint>> endpoint(uint32_t ifindex);
  Result<std::map<uint32_t, Endpoint>> endpoints();  // by ifindex

  // pn_policy
  Status setPolicy(const PolicyEntry& entry);
  Status removePolicy(const PolicyKey& key);  // no error when absent
  Result<std::vector<PolicyEntry>> policies();

  // pn_config
  Status setConfig(const pn_config& config);
  Result<pn_config> config();

  // pn_ct
  Result<std::vector<ConntrackEntry>> conntrack();
  Status removeConntrack(const pn_ct_key& key);  // no error when absent
  Status clearConntrack();

  // pn_drops and pn_stats, summed over CPUs
  Result<DropCounters> dropCounters();
  Result<uint64_t> stat(pn_stat which);

  int eventsFd() const { return events_.get(); }

 private:
  PolicyMaps() = default;

  UniqueFd ipcache_, endpoints_, policy_, ct_, config_, drops_, stats_, events_, ipblocks_;
};

}  // namespace podnet::bpf
