// `podnetctl lab`: a real multi-node podnet cluster on one machine (see layout.h for where
// everything lives). Every command takes the lab's lock, reads its state, acts and records what it
// made before the next step, so `down` can always undo a crashed or half-finished command.
#pragma once

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

#include "common/result.h"
#include "lab/layout.h"
#include "lab/processes.h"
#include "lab/state.h"
#include "lab/traffic.h"
#include "model/objects.h"

namespace podnet::lab {

struct UpOptions {
  int nodes = 3;
  Backend backend = Backend::kVxlan;
  bool fastPath = false;  // podnetd --fast-path
};

// "k=v,k2=v2" -> labels, validated as Kubernetes does. Empty text gives no labels.
Result<model::Labels> parseLabels(const std::string& text);
// A pod reference "NS/NAME".
struct PodRef {
  std::string namespace_, name;
  std::string str() const { return namespace_ + "/" + name; }
};
Result<PodRef> parsePodRef(const std::string& text);

// The ports a lab pod's server answers, as its Pod object declares them: serve-80-tcp,
// serve-81-tcp, serve-80-udp, ... for each protocol given, in that order.
std::vector<model::ContainerPort> serverPorts(const std::vector<Protocol>& protocols);

class Lab {
 public:
  // binDir: where podnetctl, podnetd, podnet-cni and podnet-controller are (PATH is the
  // fallback). The lab's servers run `<binDir>/podnetctl lab serve`.
  Lab(Layout layout, std::string binDir) : layout_(std::move(layout)), binDir_(std::move(binDir)) {}

  const Layout& layout() const { return layout_; }

  // Builds the network, starts etcd, one podnetd per node, the controller and the node servers.
  // Refuses when a lab of this name exists. A failed `up` removes what it made.
  Status up(const UpOptions&, std::ostream& out);
  // Removes every namespace, link, process and file of the lab, whatever state it is in;
  // success when there is nothing to remove.
  Status down(std::ostream& out);
  // Nodes, processes and pods with their health. kNotFound when there is no lab.
  Status status(std::ostream& out);

  Status addNamespace(const std::string& name, const model::Labels& labels);
  Status addPod(const PodRef& pod, const std::string& node, const model::Labels& labels);
  // Each change is "k=v" (set) or "k-" (remove), as `kubectl label`.
  Status labelPod(const PodRef& pod, const std::vector<std::string>& changes);
  Status deletePod(const PodRef& pod);

  // Stops one component: "etcd", "controller" or a node's podnetd ("n2"). SIGTERM, or with kill
  // SIGKILL, as a crash. The component's kernel state and data stay; startComponent brings it
  // back. For trying what a restart or an outage does.
  Status stopComponent(const std::string& component, bool kill);
  Status startComponent(const std::string& component, std::ostream& out);

  // The network namespace (its name) of a pod "NS/NAME" or a node "n<i>".
  Result<std::string> netnsOf(const std::string& target);
  // Runs argv in target's network namespace (with /sys showing it, as `ip netns exec`); returns
  // only on failure.
  Error exec(const std::string& target, const std::vector<std::string>& argv);
  // true: connected. from: a pod or node; to: a pod, a node or an IPv4 address.
  Result<bool> probe(const std::string& from, const std::string& to, uint16_t port,
                     Protocol protocol, std::chrono::milliseconds timeout);

  // The steps of up(), in order; each records what it started in `state` and saves it. Public so
  // tests can build a lab's infrastructure without agents.
  Status createNetwork(LabState& state, int nodes);
  Status startEtcd(LabState& state);
  Status startAgents(LabState& state);
  Status startAgent(LabState& state, const std::string& node);
  Status awaitAgent(const LabState& state, const std::string& node);
  Status startController(LabState& state, std::ostream& out);
  Status startNodeServers(LabState& state);

 private:
  Result<LabState> requireState();
  Result<std::string> componentRole(const LabState& state, const std::string& component);
  Result<ProcessRecord> start(const std::string& role, const std::vector<std::string>& argv,
                              const std::string& netns, const std::string& logName);
  // Starts the lab server for `who` (a node or NS/NAME) and returns once it answers.
  Result<ProcessRecord> startServer(const std::string& who, const std::string& netns,
                                    const std::string& logName);
  Status applyObjects(const LabState& state, const nlohmann::json& objects,
                      const std::string& op = "apply");
  Result<Ipv4> addressOf(const LabState& state, const std::string& target);
  bool anythingExists() const;

  Result<std::string> binary(const std::string& name) const { return findBinary(name, binDir_); }

  Layout layout_;
  std::string binDir_;
};

}  // namespace podnet::lab
