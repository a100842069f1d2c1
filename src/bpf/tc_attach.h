// Attaching the pod device program to a pod's host-side veth with tc (a clsact qdisc and one
// direct-action filter per hook, at podnet's own handle and priority).
//
// An attachment is kernel state like a route, not a handle: it outlives the agent on purpose (a
// restarted agent must not interrupt policy), so these are functions, not an RAII object.
// Everything works on devices of the calling thread's network namespace.
#pragma once

#include <string>

#include "bpf/pod_policy_program.h"
#include "common/result.h"

namespace podnet::bpf {

// podnet's filters: handle 0x504e ("PN"), priority 1, on both clsact hooks.
inline constexpr uint32_t kTcHandle = 0x504e;
inline constexpr uint32_t kTcPriority = 1;

// Adds the clsact qdisc if missing and puts from_pod on the ingress hook and to_pod on the egress
// hook, replacing podnet's filters if present (so attaching again, or after a restart with newly
// loaded programs, swaps programs atomically). Errc::kNotFound when the device does not exist.
Status attachPodDevice(const std::string& device, const PodPolicyProgram& program);

// The host firewall on one of the node's own devices (uplink, VXLAN device): the other way
// round, since a packet arriving on it goes towards the node (to_pod, the endpoint's ingress, on
// the ingress hook) and one leaving it comes from the node (from_pod on the egress hook).
Status attachHostDevice(const std::string& device, const PodPolicyProgram& program);

// Removes podnet's filters from both hooks; other filters and the qdisc stay. Nothing to do (not
// an error) when they, or the device, are already gone.
Status detachPodDevice(const std::string& device);

// Whether podnet's filters are on both hooks of the device (Errc::kNotFound without the device).
struct TcHooks {
  bool ingress = false;  // from_pod
  bool egress = false;   // to_pod
};
Result<TcHooks> podDeviceHooks(const std::string& device);

}  // namespace podnet::bpf
