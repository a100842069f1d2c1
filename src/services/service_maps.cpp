#include "services/service_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <set>

#include "bpf/pinned_map.h"
#include "service_lb.h"
#include "services/service_program.h"

namespace podnet::services {
namespace {

using bpf::MapLayout;

// What service_lb.bpf.c (bpf/lib/lb.h) declares for the maps written here.
constexpr MapLayout kFrontends{PN_MAP_SVC_FRONTENDS, BPF_MAP_TYPE_HASH, sizeof(pn_svc_frontend_key),
                               sizeof(pn_svc_frontend_value), PN_SVC_FRONTENDS_MAX};
constexpr MapLayout kBackends{PN_MAP_SVC_BACKENDS, BPF_MAP_TYPE_HASH, sizeof(pn_svc_backend_key),
                              sizeof(pn_svc_backend), PN_SVC_BACKENDS_MAX};

std::string describe(Ipv4 address, uint16_t port, Protocol protocol) {
  std::string proto = protocol == Protocol::kTcp ? "TCP"
                      : protocol == Protocol::kUdp
                          ? "UDP"
                          : "protocol " + std::to_string(static_cast<int>(protocol));
  return "frontend " + address.str() + ":" + std::to_string(port) + "/" + proto;
}

pn_svc_frontend_key rawKey(Ipv4 address, uint16_t port, Protocol protocol) {
  pn_svc_frontend_key key{};
  key.addr = htonl(address.value);
  key.port = htons(port);
  key.protocol = static_cast<uint8_t>(protocol);
  return key;
}

// A backend as one number, to count them in a map.
uint64_t order(const Backend& b) {
  return uint64_t{b.address.value} << 16 | b.port;
}

// The slots for `wanted` given the slots `old`: a backend that stays keeps its slot, new ones
// fill the holes removed ones left, and the last slots move into holes that remain, so the
// result is dense and as few slots as possible change.
std::vector<Backend> assignSlots(const std::vector<Backend>& old,
                                 const std::vector<Backend>& wanted) {
  std::map<uint64_t, int> needed;
  for (const auto& b : wanted) ++needed[order(b)];
  std::vector<std::optional<Backend>> slots;
  for (const auto& b : old) {
    int& n = needed[order(b)];
    slots.push_back(n > 0 ? std::optional<Backend>(b) : std::nullopt);
    if (n > 0) --n;
  }
  std::vector<Backend> fresh;
  for (const auto& b : wanted) {
    int& n = needed[order(b)];
    if (n > 0) {
      fresh.push_back(b);
      --n;
    }
  }
  size_t next = 0;
  for (auto& slot : slots) {
    if (!slot && next < fresh.size()) slot = fresh[next++];
  }
  while (next < fresh.size()) slots.push_back(fresh[next++]);
  for (size_t i = 0; i < slots.size();) {
    if (slots[i]) {
      ++i;
      continue;
    }
    while (!slots.empty() && !slots.back()) slots.pop_back();
    if (i >= slots.size()) break;
    slots[i] = slots.back();
    slots.pop_back();
  }
  std::vector<Backend> out;
  out.reserve(slots.size());
  for (const auto& slot : slots) out.push_back(*slot);
  return out;
}

// A failed write, naming the frontend it was for.
Status named(const std::tuple<uint32_t, uint16_t, Protocol>& key, Status status) {
  if (status.ok()) return status;
  auto [address, port, protocol] = key;
  return std::move(status).takeError().context(describe(Ipv4{address}, port, protocol));
}

Status validate(const std::vector<Frontend>& frontends) {
  std::set<std::tuple<uint32_t, uint16_t, Protocol>> seen;
  size_t slots = 0;
  for (const auto& f : frontends) {
    std::string name = describe(f.address, f.port, f.protocol);
    if (f.protocol != Protocol::kTcp && f.protocol != Protocol::kUdp) {
      return makeError(Errc::kInvalidArgument, name + ": protocol: only TCP and UDP are balanced");
    }
    if (f.port == 0) return makeError(Errc::kInvalidArgument, name + ": port: 0 is not a port");
    if (!seen.emplace(f.address.value, f.port, f.protocol).second) {
      return makeError(Errc::kInvalidArgument, name + ": listed twice");
    }
    if (f.backends.size() > PN_SVC_BACKENDS_PER_FRONTEND) {
      return makeError(Errc::kInvalidArgument,
                       name + ": backends: " + std::to_string(f.backends.size()) +
                           " is more than the " + std::to_string(PN_SVC_BACKENDS_PER_FRONTEND) +
                           " a frontend can have");
    }
    for (const auto& b : f.backends) {
      if (b.port == 0) {
        return makeError(Errc::kInvalidArgument,
                         name + ": backend " + b.address.str() + ": port: 0 is not a port");
      }
    }
    slots += f.backends.size();
  }
  if (frontends.size() > PN_SVC_FRONTENDS_MAX || slots > PN_SVC_BACKENDS_MAX) {
    return makeError(Errc::kInvalidArgument,
                     std::to_string(frontends.size()) + " frontends with " + std::to_string(slots) +
                         " backends: more than the maps hold (" +
                         std::to_string(PN_SVC_FRONTENDS_MAX) + " frontends, " +
                         std::to_string(PN_SVC_BACKENDS_MAX) + " backends)");
  }
  return okStatus();
}

}  // namespace

Result<ServiceMaps> ServiceMaps::open(const std::string& pinDir) {
  for (const MapLayout* layout : {&kFrontends, &kBackends}) {
    if (!std::filesystem::exists(pinDir + "/" + layout->name)) {
      // Loading the program object (not attaching it) creates and pins every map missing, with
      // the program's own definitions.
      PODNET_TRY(ServiceProgram::load(pinDir));
      break;
    }
  }
  ServiceMaps maps;
  maps.frontends_ = PODNET_TRY(bpf::openPinnedMap(pinDir, kFrontends, "service program"));
  maps.backends_ = PODNET_TRY(bpf::openPinnedMap(pinDir, kBackends, "service program"));
  PODNET_TRY_STATUS(maps.restore());
  return maps;
}

Result<std::map<ServiceMaps::Key, ServiceMaps::Entry>> ServiceMaps::read() const {
  auto raws = PODNET_TRY(bpf::mapKeys<pn_svc_frontend_key>(frontends_.get(), PN_MAP_SVC_FRONTENDS));
  std::map<Key, Entry> out;
  for (const auto& raw : raws) {
    pn_svc_frontend_value value{};
    if (bpf_map_lookup_elem(frontends_.get(), &raw, &value) != 0) continue;  // removed meanwhile
    Entry entry;
    entry.serviceId = value.service_id;
    entry.affinityTimeoutSeconds = value.affinity_timeout_s;
    entry.dropWhenEmpty = (value.flags & PN_SVC_DROP_WHEN_EMPTY) != 0;
    for (uint32_t slot = 0; slot < value.backend_count; ++slot) {
      pn_svc_backend_key key{value.service_id, slot};
      pn_svc_backend backend{};
      if (bpf_map_lookup_elem(backends_.get(), &key, &backend) != 0) {
        return bpf::mapError(
            PN_MAP_SVC_BACKENDS,
            "lookup service " + std::to_string(value.service_id) + " slot " + std::to_string(slot),
            errno);
      }
      entry.slots.push_back(Backend{Ipv4{ntohl(backend.addr)}, ntohs(backend.port)});
    }
    out[Key{ntohl(raw.addr), ntohs(raw.port), static_cast<Protocol>(raw.protocol)}] =
        std::move(entry);
  }
  return out;
}

Status ServiceMaps::restore() {
  entries_ = PODNET_TRY(read());
  std::set<uint32_t> used;
  for (const auto& [key, entry] : entries_) used.insert(entry.serviceId);
  nextId_ = used.empty() ? 1 : *used.rbegin() + 1;
  freeIds_.clear();
  for (uint32_t id = nextId_ - 1; id >= 1; --id) {
    if (!used.contains(id)) freeIds_.push_back(id);
  }
  sweep_ = true;
  return okStatus();
}

Status ServiceMaps::sweepStraySlots() {
  std::map<uint32_t, size_t> used;  // service id -> slots in use
  for (const auto& [key, entry] : entries_) used[entry.serviceId] = entry.slots.size();
  auto slots = PODNET_TRY(bpf::mapKeys<pn_svc_backend_key>(backends_.get(), PN_MAP_SVC_BACKENDS));
  for (const auto& slot : slots) {
    auto it = used.find(slot.service_id);
    if (it == used.end() || slot.slot >= it->second) {
      PODNET_TRY_STATUS(deleteSlot(slot.service_id, slot.slot));
    }
  }
  sweep_ = false;
  return okStatus();
}

Status ServiceMaps::sync(const std::vector<Frontend>& frontends) {
  PODNET_TRY_STATUS(validate(frontends));
  if (sweep_) PODNET_TRY_STATUS(sweepStraySlots());
  std::map<Key, const Frontend*> wanted;
  for (const auto& f : frontends) wanted[Key{f.address.value, f.port, f.protocol}] = &f;

  // Removed frontends first (their slots make room), then changed and new ones. Ids freed
  // now are reused only by a later sync, never by a frontend a program may still be choosing for.
  std::vector<uint32_t> freed;
  Status status = okStatus();
  for (auto it = entries_.begin(); status.ok() && it != entries_.end();) {
    if (wanted.contains(it->first)) {
      ++it;
      continue;
    }
    status = named(it->first, remove(it->first, it->second));
    if (status.ok()) {
      freed.push_back(it->second.serviceId);
      it = entries_.erase(it);
    }
  }
  for (auto it = wanted.begin(); status.ok() && it != wanted.end(); ++it) {
    auto found = entries_.find(it->first);
    status =
        named(it->first, found == entries_.end() ? add(it->first, *it->second)
                                                 : update(it->first, found->second, *it->second));
  }
  freeIds_.insert(freeIds_.end(), freed.begin(), freed.end());
  std::sort(freeIds_.begin(), freeIds_.end(), std::greater<>());  // the lowest is taken first
  if (!status.ok()) {
    // Write what the maps hold now into entries_, so that the next sync starts from the truth.
    if (auto restored = restore(); !restored.ok()) return restored;
  }
  return status;
}

Status ServiceMaps::add(const Key& key, const Frontend& frontend) {
  uint32_t id;
  if (!freeIds_.empty()) {
    id = freeIds_.back();
    freeIds_.pop_back();
  } else {
    id = nextId_++;
  }
  Entry entry{id, frontend.backends, frontend.affinityTimeoutSeconds, frontend.dropWhenEmpty};
  for (uint32_t slot = 0; slot < entry.slots.size(); ++slot) {
    PODNET_TRY_STATUS(writeSlot(id, slot, entry.slots[slot]));
  }
  PODNET_TRY_STATUS(writeEntry(key, entry));
  entries_[key] = std::move(entry);
  return okStatus();
}

Status ServiceMaps::update(const Key& key, Entry& entry, const Frontend& frontend) {
  std::vector<Backend> slots = assignSlots(entry.slots, frontend.backends);
  size_t before = entry.slots.size();
  size_t after = slots.size();
  // Slots that stay in use change in place; new slots are written before the count grows...
  for (size_t i = 0; i < after; ++i) {
    if (i < before && slots[i] == entry.slots[i]) continue;
    PODNET_TRY_STATUS(writeSlot(entry.serviceId, static_cast<uint32_t>(i), slots[i]));
  }
  Entry next{entry.serviceId, slots, frontend.affinityTimeoutSeconds, frontend.dropWhenEmpty};
  if (after != before || next.affinityTimeoutSeconds != entry.affinityTimeoutSeconds ||
      next.dropWhenEmpty != entry.dropWhenEmpty) {
    PODNET_TRY_STATUS(writeEntry(key, next));
  }
  // ...and slots beyond a smaller count are deleted after it shrank.
  for (size_t i = after; i < before; ++i) {
    PODNET_TRY_STATUS(deleteSlot(entry.serviceId, static_cast<uint32_t>(i)));
  }
  entry = std::move(next);
  return okStatus();
}

Status ServiceMaps::remove(const Key& key, const Entry& entry) {
  auto [address, port, protocol] = key;
  pn_svc_frontend_key raw = rawKey(Ipv4{address}, port, protocol);
  PODNET_TRY_STATUS(bpf::deleteElem(frontends_.get(), PN_MAP_SVC_FRONTENDS, &raw));
  for (uint32_t slot = 0; slot < entry.slots.size(); ++slot) {
    PODNET_TRY_STATUS(deleteSlot(entry.serviceId, slot));
  }
  return okStatus();
}

Status ServiceMaps::writeEntry(const Key& key, const Entry& entry) {
  auto [address, port, protocol] = key;
  pn_svc_frontend_key raw = rawKey(Ipv4{address}, port, protocol);
  pn_svc_frontend_value value{};
  value.service_id = entry.serviceId;
  value.backend_count = static_cast<uint16_t>(entry.slots.size());
  value.flags = entry.dropWhenEmpty ? PN_SVC_DROP_WHEN_EMPTY : 0;
  value.affinity_timeout_s = entry.affinityTimeoutSeconds;
  return bpf::updateElem(frontends_.get(), PN_MAP_SVC_FRONTENDS, &raw, &value);
}

Status ServiceMaps::writeSlot(uint32_t serviceId, uint32_t slot, const Backend& backend) {
  pn_svc_backend_key key{serviceId, slot};
  pn_svc_backend value{};
  value.addr = htonl(backend.address.value);
  value.port = htons(backend.port);
  return bpf::updateElem(backends_.get(), PN_MAP_SVC_BACKENDS, &key, &value);
}

Status ServiceMaps::deleteSlot(uint32_t serviceId, uint32_t slot) {
  pn_svc_backend_key key{serviceId, slot};
  return bpf::deleteElem(backends_.get(), PN_MAP_SVC_BACKENDS, &key);
}

Result<std::vector<Frontend>> ServiceMaps::frontends() const {
  auto entries = PODNET_TRY(read());
  std::vector<Frontend> out;
  out.reserve(entries.size());
  for (auto& [key, entry] : entries) {
    auto [address, port, protocol] = key;
    Frontend f;
    f.address = Ipv4{address};
    f.port = port;
    f.protocol = protocol;
    f.backends = std::move(entry.slots);
    f.affinityTimeoutSeconds = entry.affinityTimeoutSeconds;
    f.dropWhenEmpty = entry.dropWhenEmpty;
    out.push_back(std::move(f));
  }
  return out;
}

}  // namespace podnet::services
