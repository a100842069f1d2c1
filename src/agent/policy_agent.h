// PolicyAgent: network policy on this node. It loads the pod device program (bpf/), puts it on
// every local pod's host-side veth, follows the cluster in the store (policies, namespaces, pods,
// attachments, nodes, subnets, identities), allocates the identities of the label sets it sees,
// compiles the policies for this node (policy/compiler.h) and moves the pinned maps to the result
// with policy::applyDiff, whose write order never drops a flow that is allowed before and after.
// It also reads the program's flow events and names, for each, the policy that decided.
//
// One follower covers all of /podnet/, so every compilation sees one consistent revision of the
// cluster, and "enforced up to revision R" has a meaning: the CNI service waits for the revision
// of an ADD's commit before answering, so a pod's first packet already meets its policy.
//
// An agent restart interrupts nothing: programs stay attached and maps stay pinned, the new agent
// starts from what the maps hold (not from empty) and writes only the difference.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/attachment.h"
#include "bpf/flow_events.h"
#include "bpf/pod_policy_program.h"
#include "bpf/policy_maps.h"
#include "model/objects.h"
#include "model/subnet.h"
#include "policy/compiler.h"
#include "policy/identity.h"
#include "policy/network_policy.h"
#include "store/prefix_follower.h"

namespace podnet::agent {

struct PolicyOptions {
  std::string nodeName;
  pn_enforcement_mode mode = PN_ENFORCE_DEFAULT;
  std::string pinDir = bpf::kDefaultPinDir;
  // How long an ADD waits for its pod's policy; past it the ADD fails (awaitEnforced).
  std::chrono::milliseconds enforceTimeout{3000};
  // The host firewall's devices (the uplink, the VXLAN device) and the overlay's UDP port, which
  // stays open between nodes (policy::NodeContext::tunnelPort).
  std::vector<std::string> hostDevices;
  std::optional<uint16_t> tunnelPort;
  // Forwarded packets skip the node's IP stack (bpf/lib/forward.h); bypasses netfilter.
  bool fastPath = false;
};

// What the CNI service asks of the policy engine while it adds a pod.
class EndpointHooks {
 public:
  virtual ~EndpointHooks() = default;
  // The pod's host-side device exists: put the programs on it, before the pod can send.
  virtual Status deviceWired(const std::string& hostVeth) = 0;
  // The ADD of `attachment` was committed at this store revision. Returns once the pod's endpoint
  // entry and every policy that applies to it are in the maps; an error when they cannot be in
  // force within the CNI call, and the ADD then fails with code 11 and is undone.
  virtual Status awaitEnforced(const Attachment& attachment, int64_t revision) = 0;
};

// A flow event and the text that names what decided it ("NetworkPolicy x/web ingress[0]",
// "isolated by NetworkPolicy x/deny-all", ...; empty when nothing was enforced).
using FlowHandler = std::function<void(const bpf::FlowEvent&, const std::string& policy)>;

class PolicyAgent : public EndpointHooks {
 public:
  // Mounts the BPF filesystem if needed, loads the program (reusing pinned maps), attaches it to
  // every local pod's device, enforces the current state, then follows changes on a thread.
  static Result<std::unique_ptr<PolicyAgent>> start(store::Store&, PolicyOptions, FlowHandler);
  ~PolicyAgent() override;
  PolicyAgent(const PolicyAgent&) = delete;
  PolicyAgent& operator=(const PolicyAgent&) = delete;

  Status deviceWired(const std::string& hostVeth) override;
  Status awaitEnforced(const Attachment& attachment, int64_t revision) override;

  Result<bpf::DropCounters> dropCounters();

 private:
  // The cluster as the store has it, decoded; values that do not decode are skipped (logged).
  struct Cluster {
    std::map<std::string, model::Namespace> namespaces;  // by name
    std::map<std::string, model::Pod> pods;              // by "ns/name"
    std::map<std::string, model::Node> nodes;            // by name
    std::map<std::string, model::Subnet> subnets;        // by name
    std::map<std::string, Attachment> attachments;       // by store key
    std::map<std::string, policy::Policy> policies;      // by store key
    std::map<uint32_t, policy::IdentityLabels> identities;
  };
  // What the flow reader needs to name a verdict, replaced after each compilation.
  struct EventContext {
    std::map<uint32_t, policy::PolicyRef> policyIds;
    std::map<std::string, policy::CompiledPolicy::Isolation> isolatedBy;
    std::map<uint32_t, std::string> podByIfindex;  // local endpoints
    std::map<uint32_t, bpf::PodRef> podByAddress;  // every pod of the cluster
    pn_enforcement_mode mode = PN_ENFORCE_DEFAULT;
  };

  PolicyAgent(store::Store&, PolicyOptions, bpf::PodPolicyProgram, bpf::PolicyMaps);

  void onListing(const store::Listing&);
  void onEvents(const std::vector<store::WatchEvent>&);
  void learn(const std::string& key, const std::string& value);  // callers hold mutex_
  void forget(const std::string& key);                           // callers hold mutex_

  void loop();
  // One compilation of a snapshot and its writes to the maps.
  Status enforce(const Cluster& cluster);
  Result<policy::ClusterState> clusterState(const Cluster& cluster);
  // What the maps hold now, as a compiled state (endpoints keyed "ifindex:N"), so that the first
  // compilation after a start writes only the difference.
  Result<policy::CompiledPolicy> kernelState();
  std::string describeVerdict(const bpf::FlowEvent&);
  // The ifindex of an attachment's host veth (0: none), remembered per wired device: one
  // if_nametoindex per pod and compilation would make each ADD's compilation grow with the node.
  uint32_t deviceIndex(const std::string& key, const Attachment& a);
  // What pn_config holds under this start's options.
  pn_config datapathConfig(uint64_t policyRevision) const;

  store::Store& store_;
  PolicyOptions options_;
  bpf::PodPolicyProgram program_;
  bpf::PolicyMaps maps_;
  policy::IdentityAllocator identities_;

  std::mutex mutex_;  // guards the fields below up to thread_
  std::condition_variable cv_;
  Cluster cluster_;
  int64_t seenRevision_ = 0;
  int64_t enforcedRevision_ = 0;
  bool dirty_ = true;       // a change to compile
  bool compiling_ = false;  // the loop works on a snapshot
  bool stopping_ = false;
  int waiters_ = 0;        // ADDs in awaitEnforced: compile without batching
  std::string lastError_;  // of the last compilation, empty when it succeeded

  // Only the loop thread touches these.
  policy::CompiledPolicy applied_;
  uint64_t policyRevision_ = 0;
  std::map<std::string, std::pair<MacAddress, uint32_t>> ifindexes_;  // key -> (hostMac, ifindex)

  std::mutex eventMutex_;
  std::shared_ptr<const EventContext> events_;

  std::optional<bpf::FlowReader> flowReader_;
  std::unique_ptr<store::PrefixFollower> follower_;
  std::thread thread_;
};

}  // namespace podnet::agent
