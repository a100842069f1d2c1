// The lab's record of itself: /run/<lab>/lab.json. Commands that change the lab hold lab.lock
// (flock) while they read, act and write, so two commands never interleave. The record is a
// convenience: `lab down` also works without it (see lab.h).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/backend.h"
#include "common/fd.h"
#include "common/result.h"
#include "lab/layout.h"
#include "lab/processes.h"
#include "model/objects.h"

namespace podnet::lab {

struct PodRecord {
  std::string namespace_, name, node;
  std::string uid;          // K8S_POD_UID
  std::string containerId;  // the CNI container id, derived from namespace, name and uid
  std::string netns;        // its network namespace's name
  std::string ip;           // from the CNI ADD result, e.g. "10.244.0.5"
  model::Labels labels;
  std::vector<model::ContainerPort> ports;
  std::optional<ProcessRecord> server;
};

struct LabState {
  int nodes = 0;
  Backend backend = Backend::kVxlan;
  bool fastPath = false;
  std::vector<ProcessRecord> processes;             // etcd, controller, agents, node servers
  std::map<std::string, model::Labels> namespaces;  // name -> labels
  std::map<std::string, PodRecord> pods;            // "ns/name" -> pod

  std::vector<std::string> nodeNames() const;
  bool hasNode(const std::string& node) const;
  // Every process the lab recorded, pods' servers included.
  std::vector<ProcessRecord> allProcesses() const;
  const ProcessRecord* process(const std::string& role) const;
};

nlohmann::json toJson(const LabState&);
Result<LabState> stateFromJson(const nlohmann::json&);

// nullopt when the lab has no state file.
Result<std::optional<LabState>> loadState(const Layout&);
// Written to a temporary file and renamed, so a crash leaves the old or the new record.
Status saveState(const Layout&, const LabState&);

// Exclusive hold on the lab (flock on lab.lock; creates the run directory).
class StateLock {
 public:
  static Result<StateLock> acquire(const Layout&);

 private:
  explicit StateLock(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace podnet::lab
