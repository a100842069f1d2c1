// Flow events: the kernel writes one pn_flow_event per verdict into the pn_events ring buffer
// (which verdicts: pn_event_level); FlowReader reads them, on its own thread or on demand, and
// hands decoded FlowEvents to a callback.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "common/ip.h"
#include "common/result.h"
#include "pod_policy.h"

struct ring_buffer;

namespace podnet::bpf {

struct PodRef {
  std::string ns;
  std::string name;
  bool operator==(const PodRef&) const = default;
};

struct FlowEvent {
  std::chrono::system_clock::time_point time;
  std::string node;
  uint32_t ifindex = 0;
  uint32_t endpointId = 0;
  uint32_t srcIdentity = 0;
  uint32_t dstIdentity = 0;
  Ipv4 src;
  Ipv4 dst;
  std::optional<PodRef> srcPod;  // filled by the reader's PodResolver, when it knows the address
  std::optional<PodRef> dstPod;
  uint16_t srcPort = 0;  // host byte order
  uint16_t dstPort = 0;
  uint8_t protocol = 0;
  uint8_t tcpFlags = 0;
  uint8_t icmpType = 0;
  pn_direction direction = PN_DIR_INGRESS;
  pn_verdict verdict = PN_VERDICT_FORWARDED;
  pn_drop_reason dropReason = PN_DROP_NONE;  // PN_DROP__MAX: one this build does not know
  pn_match match = PN_MATCH_NONE;            // PN_MATCH__MAX: one this build does not know
  uint32_t policyId = 0;
  uint64_t policyRevision = 0;
  uint32_t length = 0;
};

// Which pod owns an address on this node's view (the agent's endpoint cache).
using PodResolver = std::function<std::optional<PodRef>(Ipv4)>;

// Decodes one ring buffer record. monotonicToWall: CLOCK_REALTIME - CLOCK_MONOTONIC in ns.
FlowEvent decodeFlowEvent(const pn_flow_event& raw, const std::string& node,
                          int64_t monotonicToWall, const PodResolver& resolver = {});

class FlowReader {
 public:
  using Handler = std::function<void(const FlowEvent&)>;

  // Reads the ring buffer behind eventsFd (PolicyMaps::eventsFd(); the reader keeps its own
  // reference). The handler runs on whichever thread polls.
  static Result<FlowReader> open(int eventsFd, std::string node, Handler handler,
                                 PodResolver resolver = {});

  FlowReader(FlowReader&&) noexcept;
  FlowReader& operator=(FlowReader&&) noexcept;
  FlowReader(const FlowReader&) = delete;
  FlowReader& operator=(const FlowReader&) = delete;
  ~FlowReader();  // stops the thread, if started, and closes the ring buffer

  // Delivers what is queued, waiting up to timeout for the first event. Returns how many.
  Result<int> poll(std::chrono::milliseconds timeout);
  // Polls on a thread of its own until destruction.
  void start();

 private:
  struct State;
  explicit FlowReader(std::unique_ptr<State> state);

  std::unique_ptr<State> state_;
};

}  // namespace podnet::bpf
