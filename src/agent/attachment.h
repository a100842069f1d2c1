// An attachment is one (network, container, interface) that podnetd wired: the record the store
// keeps so that DEL, CHECK, GC and a restarted agent know exactly what exists.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/ip.h"
#include "common/mac.h"
#include "common/result.h"

namespace podnet::agent {

struct Attachment {
  // pending: address reserved, wiring not finished. ready: the runtime got its result.
  // releasing: DEL answered; the veth is being removed, the address is still held until it is.
  // kCount is not a state: it counts them, so code and tests can visit every one.
  enum class State { kPending, kReady, kReleasing, kCount };

  std::string network;
  std::string containerId;
  std::string ifname;
  std::string netns;
  std::string podNamespace;  // K8S_POD_NAMESPACE from CNI_ARGS, if given
  std::string podName;       // K8S_POD_NAME
  std::string podUid;        // K8S_POD_UID
  std::string pool;
  Ipv4Prefix address;  // pod address with the pool's prefix length
  Ipv4 gateway;
  std::string hostVeth;
  std::optional<MacAddress> hostMac;  // known once the veth exists (none while pending)
  std::optional<MacAddress> podMac;
  int mtu = 0;
  std::string node;
  int64_t createdAt = 0;  // unix seconds
  State state = State::kPending;

  // Every field: a record that survives the store encoding compares equal to the original.
  bool operator==(const Attachment&) const = default;

  // The store key and the allocation owner both name the attachment the same way.
  std::string key() const { return keyFor(network, containerId, ifname); }
  std::string owner() const { return network + "/" + containerId + "/" + ifname; }
  static std::string keyFor(const std::string& network, const std::string& containerId,
                            const std::string& ifname) {
    return std::string(kPrefix) + network + "/" + containerId + "/" + ifname;
  }
  static constexpr const char* kPrefix = "/podnet/attachments/";
};

const char* stateName(Attachment::State);
nlohmann::json toJson(const Attachment&);
// Errc::kDecode naming the field when the record is not one podnet writes: a missing or unknown
// state in particular is an error, never read as some state (reconcile acts on the state).
Result<Attachment> attachmentFromJson(const std::string& text);

}  // namespace podnet::agent
