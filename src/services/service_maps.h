// The service load balancer's pinned maps (bpf/include/service_lb.h), written from the frontends
// the control plane computes. sync() is the only writer: it compares the wanted frontends with
// what the maps hold and writes the difference, in an order that never leaves a program a slot
// that points at nothing (service_lb.h, pn_svc_backends).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "common/fd.h"
#include "common/result.h"
#include "services/frontend.h"

namespace podnet::services {

class ServiceMaps {
 public:
  // Opens the maps pinned under pinDir, creating and pinning them first when they are not there
  // (by loading the service program, which ServiceProgram::load does as well), and reads what
  // they hold, so that a restarted agent's first sync writes only the difference (and deletes
  // slots no frontend uses, left by an interrupted sync; open itself writes nothing, so a reader
  // may open the maps while the agent writes them). Errc::kKernel
  // or kInvalidArgument from ServiceProgram::load when they cannot be created;
  // Errc::kIncompatibleVersion naming the pin, what differs and what to do when a pinned map has
  // another layout (another podnet version's).
  static Result<ServiceMaps> open(const std::string& pinDir);

  // Makes the maps hold exactly `frontends`. A frontend is (address, port, protocol): one listed
  // twice, a port 0, a protocol other than TCP and UDP, a backend with port 0 or more than
  // PN_SVC_BACKENDS_PER_FRONTEND backends is refused with Errc::kInvalidArgument naming the
  // frontend, before anything is written. A backend that stays keeps its slot (so affinity to it
  // holds); removed frontends free their service id and slots.
  Status sync(const std::vector<Frontend>& frontends);

  // What the maps hold, read from the kernel, ordered by (address, port, protocol); each
  // frontend's backends in slot order.
  Result<std::vector<Frontend>> frontends() const;

 private:
  using Key = std::tuple<uint32_t, uint16_t, Protocol>;  // address, port, protocol
  struct Entry {
    uint32_t serviceId = 0;
    std::vector<Backend> slots;  // backends by slot
    uint32_t affinityTimeoutSeconds = 0;
    bool dropWhenEmpty = false;
  };

  ServiceMaps() = default;
  Result<std::map<Key, Entry>> read() const;
  // Reads the maps into entries_, recomputes the free service ids, and has the next sync sweep.
  Status restore();
  // Deletes slots no frontend of entries_ uses.
  Status sweepStraySlots();
  Status add(const Key& key, const Frontend& frontend);
  Status update(const Key& key, Entry& entry, const Frontend& frontend);
  Status remove(const Key& key, const Entry& entry);
  Status writeEntry(const Key& key, const Entry& entry);
  Status writeSlot(uint32_t serviceId, uint32_t slot, const Backend& backend);
  Status deleteSlot(uint32_t serviceId, uint32_t slot);

  UniqueFd frontends_, backends_;
  std::map<Key, Entry> entries_;
  std::vector<uint32_t> freeIds_;  // below nextId_, not in use; highest first
  uint32_t nextId_ = 1;
  bool sweep_ = false;  // the next sync deletes stray slots first
};

}  // namespace podnet::services
