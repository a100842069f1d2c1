// An attachment is one (network, container, interface) that podnetd wired: the record the store
// keeps so that DEL, CHECK, GC and a restarted agent know exactly what exists.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "common/ip.h"
#include "common/result.h"

namespace podnet::agent {

struct Attachment {
  // pending: address reserved, wiring not finished. ready: the runtime got its result.
  // releasing: DEL answered; the veth is being removed, the address is still held until it is.
  enum class State { kPending, kReady, kReleasing };

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
  std::string hostMac;
  std::string podMac;
  int mtu = 0;
  std::string node;
  int64_t createdAt = 0;  // unix seconds
  State state = State::kPending;

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
Result<Attachment> attachmentFromJson(const std::string& text);

}  // namespace podnet::agent
