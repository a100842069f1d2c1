#include "bpf/policy_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <cerrno>

#include "bpf/pinned_map.h"

namespace podnet::bpf {
namespace {

// What pod_policy.bpf.c (bpf/lib/maps.h) declares for each pinned map.
constexpr MapLayout kIpcache{PN_MAP_IPCACHE, BPF_MAP_TYPE_LPM_TRIE, sizeof(pn_ipcache_key),
                             sizeof(pn_ipcache_value), PN_IPCACHE_MAX};
constexpr MapLayout kEndpoints{PN_MAP_ENDPOINTS, BPF_MAP_TYPE_HASH, sizeof(pn_endpoint_key),
                               sizeof(pn_endpoint_value), PN_ENDPOINTS_MAX};
constexpr MapLayout kPolicy{PN_MAP_POLICY, BPF_MAP_TYPE_LPM_TRIE, sizeof(pn_policy_key),
                            sizeof(pn_policy_value), PN_POLICY_MAX};
constexpr MapLayout kCt{PN_MAP_CT, BPF_MAP_TYPE_LRU_HASH, sizeof(pn_ct_key), sizeof(pn_ct_value),
                        PN_CT_MAX};
constexpr MapLayout kConfig{PN_MAP_CONFIG, BPF_MAP_TYPE_ARRAY, sizeof(uint32_t), sizeof(pn_config),
                            1};
constexpr MapLayout kDrops{PN_MAP_DROPS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t),
                           sizeof(pn_counter), PN_DROP__MAX};
constexpr MapLayout kStats{PN_MAP_STATS, BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(uint32_t),
                           sizeof(uint64_t), PN_STAT__MAX};
constexpr MapLayout kIpblocks{PN_MAP_IPBLOCKS, BPF_MAP_TYPE_LPM_TRIE, sizeof(pn_ipcache_key),
                              sizeof(pn_ipcache_value), PN_IPBLOCKS_MAX};
constexpr MapLayout kEvents{PN_MAP_EVENTS, BPF_MAP_TYPE_RINGBUF, 0, 0, PN_EVENTS_BYTES};

Result<UniqueFd> openPin(const std::string& dir, const MapLayout& want) {
  return openPinnedMap(dir, want, "pod policy program");
}

uint8_t prefixBitsOf(const PolicyKey& key) {
  if (!key.protocol) return PN_POLICY_PREFIX_PROTO;
  return PN_POLICY_PREFIX_PORT + key.portBits;
}

// pn_ipcache and pn_ipblocks: prefix -> identity.
Status setPrefix(int fd, const char* map, const Ipv4Prefix& prefix, uint32_t identity) {
  pn_ipcache_key key{prefix.len, htonl(prefix.network().value)};
  pn_ipcache_value value{identity, 0};
  return updateElem(fd, map, &key, &value);
}

Status removePrefix(int fd, const char* map, const Ipv4Prefix& prefix) {
  pn_ipcache_key key{prefix.len, htonl(prefix.network().value)};
  return deleteElem(fd, map, &key);
}

Result<std::map<Ipv4Prefix, uint32_t>> prefixes(int fd, const char* map) {
  auto raws = PODNET_TRY(mapKeys<pn_ipcache_key>(fd, map));
  std::map<Ipv4Prefix, uint32_t> out;
  for (const auto& raw : raws) {
    pn_ipcache_value value{};
    if (bpf_map_lookup_elem(fd, &raw, &value) != 0) continue;  // removed meanwhile
    out[Ipv4Prefix{Ipv4{ntohl(raw.addr)}, static_cast<uint8_t>(raw.prefixlen)}] = value.identity;
  }
  return out;
}

}  // namespace

pn_policy_key PolicyKey::raw() const {
  pn_policy_key k{};
  k.prefixlen = prefixBitsOf(*this);
  k.subject = subject;
  k.peer = peer;
  k.direction = direction;
  if (protocol) {
    k.protocol = *protocol;
    uint16_t mask = portBits == 0 ? 0 : static_cast<uint16_t>(0xffffu << (16 - portBits));
    k.dport = htons(port & mask);
  }
  return k;
}

PolicyKey PolicyKey::fromRaw(const pn_policy_key& raw) {
  PolicyKey key;
  key.subject = raw.subject;
  key.peer = raw.peer;
  key.direction = static_cast<pn_direction>(raw.direction);
  if (raw.prefixlen >= PN_POLICY_PREFIX_PORT) {
    key.protocol = raw.protocol;
    key.port = ntohs(raw.dport);
    key.portBits = static_cast<uint8_t>(raw.prefixlen - PN_POLICY_PREFIX_PORT);
  } else {
    key.portBits = 0;
  }
  return key;
}

bool PolicyKey::within(const PolicyKey& other) const {
  if (subject != other.subject || peer != other.peer || direction != other.direction) return false;
  if (!other.protocol) return true;
  if (!protocol || *protocol != *other.protocol) return false;
  if (portBits < other.portBits) return false;
  uint16_t mask = other.portBits == 0 ? 0 : static_cast<uint16_t>(0xffffu << (16 - other.portBits));
  return (port & mask) == (other.port & mask);
}

Result<PolicyMaps> PolicyMaps::open(const std::string& pinDir) {
  PolicyMaps maps;
  maps.ipcache_ = PODNET_TRY(openPin(pinDir, kIpcache));
  maps.endpoints_ = PODNET_TRY(openPin(pinDir, kEndpoints));
  maps.policy_ = PODNET_TRY(openPin(pinDir, kPolicy));
  maps.ct_ = PODNET_TRY(openPin(pinDir, kCt));
  maps.config_ = PODNET_TRY(openPin(pinDir, kConfig));
  maps.drops_ = PODNET_TRY(openPin(pinDir, kDrops));
  maps.stats_ = PODNET_TRY(openPin(pinDir, kStats));
  maps.events_ = PODNET_TRY(openPin(pinDir, kEvents));
  maps.ipblocks_ = PODNET_TRY(openPin(pinDir, kIpblocks));
  return maps;
}

Status PolicyMaps::setIdentity(const Ipv4Prefix& prefix, uint32_t identity) {
  return setPrefix(ipcache_.get(), PN_MAP_IPCACHE, prefix, identity);
}

Status PolicyMaps::removeIdentity(const Ipv4Prefix& prefix) {
  return removePrefix(ipcache_.get(), PN_MAP_IPCACHE, prefix);
}

Result<uint32_t> PolicyMaps::identityOf(Ipv4 address) {
  pn_ipcache_key key{32, htonl(address.value)};
  pn_ipcache_value value{};
  if (bpf_map_lookup_elem(ipcache_.get(), &key, &value) != 0) {
    if (errno == ENOENT) return static_cast<uint32_t>(PN_IDENTITY_WORLD);
    return mapError(PN_MAP_IPCACHE, "lookup " + address.str(), errno);
  }
  return value.identity;
}

Result<std::map<Ipv4Prefix, uint32_t>> PolicyMaps::identities() {
  return prefixes(ipcache_.get(), PN_MAP_IPCACHE);
}

Status PolicyMaps::setIpBlock(const Ipv4Prefix& prefix, uint32_t identity) {
  return setPrefix(ipblocks_.get(), PN_MAP_IPBLOCKS, prefix, identity);
}

Status PolicyMaps::removeIpBlock(const Ipv4Prefix& prefix) {
  return removePrefix(ipblocks_.get(), PN_MAP_IPBLOCKS, prefix);
}

Result<std::map<Ipv4Prefix, uint32_t>> PolicyMaps::ipBlocks() {
  return prefixes(ipblocks_.get(), PN_MAP_IPBLOCKS);
}

Status PolicyMaps::setEndpoint(uint32_t ifindex, const Endpoint& endpoint) {
  pn_endpoint_key key{ifindex};
  pn_endpoint_value value{};
  value.endpoint_id = endpoint.endpointId;
  value.identity = endpoint.identity;
  value.subject = endpoint.subject != 0 ? endpoint.subject : endpoint.identity;
  value.flags = (endpoint.enforceIngress ? PN_EP_ENFORCE_INGRESS : 0) |
                (endpoint.enforceEgress ? PN_EP_ENFORCE_EGRESS : 0);
  value.addr = htonl(endpoint.address.value);
  return updateElem(endpoints_.get(), PN_MAP_ENDPOINTS, &key, &value);
}

Status PolicyMaps::removeEndpoint(uint32_t ifindex) {
  pn_endpoint_key key{ifindex};
  return deleteElem(endpoints_.get(), PN_MAP_ENDPOINTS, &key);
}

Result<std::optional<Endpoint>> PolicyMaps::endpoint(uint32_t ifindex) {
  pn_endpoint_key key{ifindex};
  pn_endpoint_value value{};
  if (bpf_map_lookup_elem(endpoints_.get(), &key, &value) != 0) {
    if (errno == ENOENT) return std::optional<Endpoint>();
    return mapError(PN_MAP_ENDPOINTS, "lookup ifindex " + std::to_string(ifindex), errno);
  }
  Endpoint ep;
  ep.endpointId = value.endpoint_id;
  ep.identity = value.identity;
  ep.subject = value.subject;
  ep.enforceIngress = (value.flags & PN_EP_ENFORCE_INGRESS) != 0;
  ep.enforceEgress = (value.flags & PN_EP_ENFORCE_EGRESS) != 0;
  ep.address = Ipv4{ntohl(value.addr)};
  return std::optional<Endpoint>(ep);
}

Result<std::map<uint32_t, Endpoint>> PolicyMaps::endpoints() {
  auto raws = PODNET_TRY(mapKeys<pn_endpoint_key>(endpoints_.get(), PN_MAP_ENDPOINTS));
  std::map<uint32_t, Endpoint> out;
  for (const auto& raw : raws) {
    auto ep = PODNET_TRY(endpoint(raw.ifindex));
    if (ep) out[raw.ifindex] = *ep;
  }
  return out;
}

Status PolicyMaps::setPolicy(const PolicyEntry& entry) {
  if (entry.key.protocol && entry.key.portBits > 16) {
    return makeError(Errc::kInvalidArgument, "pn_policy: port prefix longer than 16 bits");
  }
  pn_policy_key key = entry.key.raw();
  pn_policy_value value{};
  value.policy_id = entry.policyId;
  value.action = entry.action;
  return updateElem(policy_.get(), PN_MAP_POLICY, &key, &value);
}

Status PolicyMaps::removePolicy(const PolicyKey& key) {
  pn_policy_key raw = key.raw();
  return deleteElem(policy_.get(), PN_MAP_POLICY, &raw);
}

Result<std::vector<PolicyEntry>> PolicyMaps::policies() {
  auto raws = PODNET_TRY(mapKeys<pn_policy_key>(policy_.get(), PN_MAP_POLICY));
  std::vector<PolicyEntry> out;
  out.reserve(raws.size());
  for (const auto& raw : raws) {
    pn_policy_value value{};
    if (bpf_map_lookup_elem(policy_.get(), &raw, &value) != 0) continue;  // removed meanwhile
    out.push_back(PolicyEntry{PolicyKey::fromRaw(raw), static_cast<pn_policy_action>(value.action),
                              value.policy_id});
  }
  return out;
}

Status PolicyMaps::setConfig(const pn_config& config) {
  uint32_t key = 0;
  return updateElem(config_.get(), PN_MAP_CONFIG, &key, &config);
}

Result<pn_config> PolicyMaps::config() {
  uint32_t key = 0;
  pn_config value{};
  if (bpf_map_lookup_elem(config_.get(), &key, &value) != 0) {
    return mapError(PN_MAP_CONFIG, "lookup", errno);
  }
  return value;
}

Result<std::vector<ConntrackEntry>> PolicyMaps::conntrack() {
  auto raws = PODNET_TRY(mapKeys<pn_ct_key>(ct_.get(), PN_MAP_CT));
  std::vector<ConntrackEntry> out;
  out.reserve(raws.size());
  for (const auto& key : raws) {
    pn_ct_value value{};
    if (bpf_map_lookup_elem(ct_.get(), &key, &value) != 0) continue;
    out.push_back(ConntrackEntry{key, value});
  }
  return out;
}

Status PolicyMaps::removeConntrack(const pn_ct_key& key) {
  return deleteElem(ct_.get(), PN_MAP_CT, &key);
}

Status PolicyMaps::clearConntrack() {
  auto all = PODNET_TRY(mapKeys<pn_ct_key>(ct_.get(), PN_MAP_CT));
  for (const auto& key : all) PODNET_TRY_STATUS(deleteElem(ct_.get(), PN_MAP_CT, &key));
  return okStatus();
}

Result<DropCounters> PolicyMaps::dropCounters() {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return mapError(PN_MAP_DROPS, "count CPUs", -cpus);
  DropCounters out{};
  std::vector<pn_counter> perCpu(static_cast<size_t>(cpus));
  for (uint32_t reason = 0; reason < PN_DROP__MAX; ++reason) {
    if (bpf_map_lookup_elem(drops_.get(), &reason, perCpu.data()) != 0) {
      return mapError(PN_MAP_DROPS, "lookup", errno);
    }
    for (const auto& c : perCpu) {
      out[reason].packets += c.packets;
      out[reason].bytes += c.bytes;
    }
  }
  return out;
}

Result<uint64_t> PolicyMaps::stat(pn_stat which) {
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return mapError(PN_MAP_STATS, "count CPUs", -cpus);
  std::vector<uint64_t> perCpu(static_cast<size_t>(cpus));
  uint32_t key = which;
  if (bpf_map_lookup_elem(stats_.get(), &key, perCpu.data()) != 0) {
    return mapError(PN_MAP_STATS, "lookup", errno);
  }
  uint64_t sum = 0;
  for (uint64_t v : perCpu) sum += v;
  return sum;
}

}  // namespace podnet::bpf
