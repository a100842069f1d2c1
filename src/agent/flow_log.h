// The agent's recent flows: a fixed-size ring of flow records (the FlowReader's events with the
// policy that decided them), numbered from 1, and the RPC answers that read it and the drop
// counters. podnetd routes the ops here:
//
//   {"op":"flows", "after":SEQ, "since_ns":NS, "limit":N, "last":N,
//    "filter":{"namespace":"x", "pod":"x/a", "verdict":"forwarded|dropped", "port":80,
//              "protocol":"TCP|UDP|SCTP|ICMP"}}
//     -> {"ok":true, "flows":[flows::toJson...], "next":SEQ, "missed":N}
//   {"op":"drops"} -> {"ok":true, "node":"n1",
//                      "drops":[{"reason":"policy-deny","packets":N,"bytes":N}, ...]}
//
// Every field is optional. Records newer than `after` (default 0) and not older than since_ns
// (unix ns) that pass every filter are returned oldest first, at most `limit` (default 10000) of
// them. `last` N starts at the N-th newest of those instead of the oldest (`last` 0 returns
// nothing: a follower's way of starting at the end). `next` is the sequence number of the last
// record scanned: pass it as the next request's `after` to page on or to follow. `missed` counts
// the records after `after` that the ring had already overwritten. An `after` beyond the newest
// record (the agent restarted) reads from the start. Filters are hubble's: namespace, pod and port
// match either end of the flow. A malformed request is {"ok":false,"error":{"code":6,"msg":...}}
// naming the field.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf/flow_events.h"
#include "bpf/policy_maps.h"
#include "flows/flow_json.h"

namespace podnet::agent {

class FlowLog {
 public:
  static constexpr size_t kDefaultLimit = 10000;

  explicit FlowLog(size_t capacity = 65536);

  // Thread-safe. policy: the text naming the deciding policy, or "".
  void record(const bpf::FlowEvent& event, std::string policy);

  // Answers {"op":"flows",...} (the op itself is not checked). Thread-safe.
  nlohmann::json answer(const nlohmann::json& request) const;

  size_t capacity() const { return capacity_; }

 private:
  const size_t capacity_;
  mutable std::mutex mu_;
  std::vector<flows::FlowRecord> ring_;  // seq s lives at (s - 1) % capacity_
  uint64_t newest_ = 0;                  // the last sequence number given; 0 when empty
};

// The answer to {"op":"drops"}: one entry per drop reason (none excluded), named by
// flows::dropReasonText, with the counters summed over CPUs (PolicyMaps::dropCounters()).
nlohmann::json dropsAnswer(const std::string& node, const bpf::DropCounters& counters);

}  // namespace podnet::agent
