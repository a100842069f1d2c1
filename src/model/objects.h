// The cluster's objects as the store keeps them, in Kubernetes' shape (apiVersion, kind, metadata,
// spec) so that `get -o json` output and the files users write look the same. Every object lives
// under one store key; the key layout is below and is the contract between the agents, the
// controller and podnetctl.
//
//   /podnet/namespaces/<name>        Namespace
//   /podnet/pods/<namespace>/<name>  Pod
//   /podnet/nodes/<name>             Node (written by that node's podnetd, bound to its lease)
//   /podnet/subnets/<name>           Subnet (model/subnet.h)
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/backend.h"
#include "common/ip.h"
#include "common/result.h"
#include "model/kinds.h"

namespace podnet::model {

using Labels = std::map<std::string, std::string>;

struct ObjectMeta {
  std::string name;
  std::string namespace_;  // empty for cluster-scoped objects
  Labels labels;
  Labels annotations;
};

struct Namespace {
  ObjectMeta metadata;

  static constexpr const char* kPrefix = kindInfo("Namespace").storePrefix.data();
  std::string key() const { return kPrefix + metadata.name; }
};

struct ContainerPort {
  std::string name;  // may be empty; a NetworkPolicy names ports by it
  uint16_t containerPort = 0;
  std::string protocol = "TCP";  // TCP, UDP or SCTP
  auto operator<=>(const ContainerPort&) const = default;
};

// Only what the network needs of a pod: its labels, the node it runs on and its ports. podnetd
// knows the pod's address from its attachment record (agent/attachment.h), not from here.
struct Pod {
  ObjectMeta metadata;
  std::string nodeName;
  std::vector<ContainerPort> ports;  // every container's ports, in order

  static constexpr const char* kPrefix = kindInfo("Pod").storePrefix.data();
  std::string key() const { return keyFor(metadata.namespace_, metadata.name); }
  static std::string keyFor(const std::string& ns, const std::string& name) {
    return kPrefix + ns + "/" + name;
  }
};

// A node as its agent registers it: what the other agents need to reach its pods.
struct Node {
  std::string name;
  Ipv4 underlayIp;
  std::string vtepMac;             // vxlan only
  std::optional<Backend> backend;  // unset in records of agents that did not say
  Labels labels;

  static constexpr const char* kPrefix = "/podnet/nodes/";
  std::string key() const { return kPrefix + name; }
};

// Kubernetes-shaped JSON. The decoders accept what the encoders write and name the field that is
// wrong ("Pod x/a: spec.containers[0].ports[1].containerPort: ...").
nlohmann::json toJson(const Namespace&);
nlohmann::json toJson(const Pod&);
nlohmann::json toJson(const Node&);
Result<Namespace> namespaceFromJson(const nlohmann::json&);
Result<Pod> podFromJson(const nlohmann::json&);
Result<Node> nodeFromJson(const nlohmann::json&);

// Label keys and values as Kubernetes accepts them (an optional DNS-subdomain prefix and a name
// of at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric; values the same
// or empty). The error names the offending key.
Status validateLabels(const Labels&);
// The same rules for one key or value (label selectors check theirs with these).
bool isLabelKey(const std::string& key);
bool isLabelValue(const std::string& value);

}  // namespace podnet::model
