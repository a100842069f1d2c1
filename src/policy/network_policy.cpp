#include "policy/network_policy.h"

#include <algorithm>
#include <cctype>

#include "common/json_fields.h"
#include "model/subnet.h"

namespace podnet::policy {
namespace {

using namespace json_fields;

// A policy is an object a user applies: a field of the wrong type is an invalid argument.
constexpr FieldReader kRead{Errc::kInvalidArgument};
using nlohmann::json;

// ---- metadata ----

// ObjectMeta fields a stored or exported object may carry; podnet keeps name, namespace, labels
// and annotations and ignores the server-set rest.
const std::initializer_list<std::string_view> kMetaFields = {"name",
                                                             "namespace",
                                                             "labels",
                                                             "annotations",
                                                             "uid",
                                                             "resourceVersion",
                                                             "generation",
                                                             "creationTimestamp",
                                                             "generateName",
                                                             "deletionTimestamp",
                                                             "deletionGracePeriodSeconds",
                                                             "finalizers",
                                                             "ownerReferences",
                                                             "managedFields",
                                                             "selfLink"};

Result<model::Labels> stringMap(const json* j, const std::string& field) {
  model::Labels out;
  if (!j) return out;
  if (!j->is_object()) return kRead.error(field, std::string("must be a map, not ") + typeName(*j));
  for (const auto& [k, v] : j->items()) {
    if (!v.is_string()) return kRead.error(dot(field, k), "must be a string");
    out[k] = v.get<std::string>();
  }
  return out;
}

// The kind and name prefix of every message, known once metadata is read.
struct Who {
  std::string text;
  Error operator()(Error e) const { return std::move(e).context(text); }
};

Result<model::ObjectMeta> readMeta(const json& j, const char* kind, bool namespaced, Who& who) {
  who.text = kind;
  if (!j.is_object()) {
    return makeError(Errc::kInvalidArgument,
                     std::string(kind) + ": must be an object, not " + typeName(j));
  }
  const json* m = member(j, "metadata");
  if (!m) return makeError(Errc::kInvalidArgument, std::string(kind) + ": metadata.name: required");
  if (!m->is_object()) return who(kRead.error("metadata", "must be an object"));
  model::ObjectMeta meta;
  const json* name = member(*m, "name");
  if (!name || !name->is_string() || name->get<std::string>().empty()) {
    return who(kRead.error("metadata.name", "required"));
  }
  meta.name = name->get<std::string>();
  if (const json* ns = member(*m, "namespace")) {
    if (!ns->is_string()) return who(kRead.error("metadata.namespace", "must be a string"));
    meta.namespace_ = ns->get<std::string>();
  }
  if (namespaced && meta.namespace_.empty()) meta.namespace_ = "default";
  who.text = std::string(kind) + " " + (namespaced ? meta.namespace_ + "/" + meta.name : meta.name);
  if (auto st = kRead.checkObject(*m, "metadata", kMetaFields); !st) return who(st.error());
  if (!model::isDnsSubdomain(meta.name)) {
    return who(kRead.error("metadata.name", "\"" + meta.name +
                                                "\" is not a valid name (lowercase letters, "
                                                "digits, '-' and '.', at most 253 characters)"));
  }
  if (!namespaced && !meta.namespace_.empty()) {
    return who(kRead.error("metadata.namespace", std::string(kind) + " is cluster-scoped"));
  }
  if (namespaced && !model::isDnsLabel(meta.namespace_)) {
    return who(kRead.error("metadata.namespace",
                           "\"" + meta.namespace_ + "\" is not a valid namespace name"));
  }
  auto labels = stringMap(member(*m, "labels"), "metadata.labels");
  if (!labels) return who(labels.error());
  meta.labels = std::move(*labels);
  if (auto st = model::validateLabels(meta.labels); !st) return who(st.error());
  auto annotations = stringMap(member(*m, "annotations"), "metadata.annotations");
  if (!annotations) return who(annotations.error());
  meta.annotations = std::move(*annotations);
  return meta;
}

json metaJson(const model::ObjectMeta& m) {
  json j = {{"name", m.name}};
  if (!m.namespace_.empty()) j["namespace"] = m.namespace_;
  if (!m.labels.empty()) j["labels"] = m.labels;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return j;
}

Status checkTop(const json& j, const char* apiVersion, const char* kind) {
  PODNET_TRY_STATUS(kRead.checkObject(j, "", {"apiVersion", "kind", "metadata", "spec", "status"}));
  const json* av = member(j, "apiVersion");
  const json* k = member(j, "kind");
  if (!av || *av != apiVersion) {
    return kRead.error("apiVersion", std::string("must be ") + apiVersion);
  }
  if (!k || *k != kind) return kRead.error("kind", std::string("must be ") + kind);
  return okStatus();
}

// ---- CIDRs and ports ----

Result<Ipv4Prefix> readCidr(const json& j, const std::string& field) {
  std::string text = PODNET_TRY(kRead.string(j, field));
  auto prefix = Ipv4Prefix::parse(text);
  if (!prefix) {
    return kRead.error(
        field, "\"" + text + "\" is not an IPv4 CIDR (a.b.c.d/len)" +
                   (text.find(':') != std::string::npos ? "; IPv6 is not supported yet" : ""));
  }
  // Kubernetes accepts host bits ("10.1.2.3/8"); they mean nothing, so mask them.
  return Ipv4Prefix{prefix->network(), prefix->len};
}

Result<CidrBlock> readCidrBlock(const json& j, const std::string& field, const char* cidrName) {
  PODNET_TRY_STATUS(kRead.checkObject(j, field, {cidrName, "except"}));
  CidrBlock block;
  const json* cidr = member(j, cidrName);
  if (!cidr) return kRead.error(dot(field, cidrName), "required");
  block.cidr = PODNET_TRY(readCidr(*cidr, dot(field, cidrName)));
  const json* except = PODNET_TRY(kRead.list(j, "except", field));
  if (except) {
    for (size_t i = 0; i < except->size(); ++i) {
      const std::string f = at(dot(field, "except"), i);
      Ipv4Prefix e = PODNET_TRY(readCidr((*except)[i], f));
      // Kubernetes: "must be a strict subset of cidr".
      if (e.len <= block.cidr.len || !block.cidr.contains(e.addr)) {
        return kRead.error(f, e.str() + " is not strictly inside " + block.cidr.str());
      }
      block.except.push_back(e);
    }
  }
  return block;
}

Result<uint16_t> readPortNumber(const json& j, const std::string& field, bool allowZero) {
  if (!j.is_number_integer()) {
    return kRead.error(field, std::string("must be a number, not ") + typeName(j));
  }
  int64_t v = j.get<int64_t>();
  if (v < (allowZero ? 0 : 1) || v > 65535) {
    return kRead.error(
        field, std::to_string(v) + " is not a port (" + (allowZero ? "0" : "1") + "-65535)");
  }
  return static_cast<uint16_t>(v);
}

Result<std::optional<Protocol>> readProtocol(const json* j, const std::string& field,
                                             bool allowAny) {
  if (!j) return std::optional<Protocol>(allowAny ? std::nullopt : std::optional(Protocol::kTcp));
  std::string p = PODNET_TRY(kRead.string(*j, field));
  for (Protocol proto : {Protocol::kTcp, Protocol::kUdp, Protocol::kSctp}) {
    if (p == protocolName(proto)) return std::optional<Protocol>(proto);
  }
  if (allowAny && p == "ANY") return std::optional<Protocol>();
  return kRead.error(field,
                     "\"" + p + "\" is not TCP, UDP" + (allowAny ? ", SCTP or ANY" : " or SCTP"));
}

// endPort: Kubernetes' rules (needs a numeric port, at least port).
Status readEndPort(const json& j, const std::string& field, PortSelector& port) {
  const json* end = member(j, "endPort");
  if (!end) return okStatus();
  const std::string f = dot(field, "endPort");
  port.endPort = PODNET_TRY(readPortNumber(*end, f, false));
  if (!port.name.empty()) return kRead.error(f, "may not be used with a named port");
  if (port.port == 0) return kRead.error(f, "requires a numeric port");
  if (port.endPort < port.port) {
    return kRead.error(
        f, std::to_string(port.endPort) + " is below port " + std::to_string(port.port));
  }
  return okStatus();
}

Status readPortName(const std::string& name, const std::string& field, PortSelector& port) {
  if (!isPortName(name)) {
    return kRead.error(field, "\"" + name +
                                  "\" is neither a port number nor a port name (1-15 lowercase "
                                  "letters, digits and '-', at least one letter)");
  }
  port.name = name;
  return okStatus();
}

// NetworkPolicyPort: {protocol (default TCP), port (number or name), endPort}.
Result<PortSelector> readK8sPort(const json& j, const std::string& field) {
  PODNET_TRY_STATUS(kRead.checkObject(j, field, {"protocol", "port", "endPort"}));
  PortSelector port;
  port.protocol = PODNET_TRY(readProtocol(member(j, "protocol"), dot(field, "protocol"), false));
  if (const json* p = member(j, "port")) {
    const std::string f = dot(field, "port");
    if (p->is_string()) {
      PODNET_TRY_STATUS(readPortName(p->get<std::string>(), f, port));
    } else {
      port.port = PODNET_TRY(readPortNumber(*p, f, false));
    }
  }
  PODNET_TRY_STATUS(readEndPort(j, field, port));
  return port;
}

// Cilium's PortProtocol: {port: "80" | "http" | 80, endPort, protocol (default ANY)}; port "0"
// or absent = every port.
Result<PortSelector> readCiliumPort(const json& j, const std::string& field) {
  PODNET_TRY_STATUS(kRead.checkObject(j, field, {"port", "endPort", "protocol"}));
  PortSelector port;
  port.protocol = PODNET_TRY(readProtocol(member(j, "protocol"), dot(field, "protocol"), true));
  if (const json* p = member(j, "port")) {
    const std::string f = dot(field, "port");
    if (p->is_string()) {
      std::string text = p->get<std::string>();
      bool numeric =
          !text.empty() && text.size() <= 5 && std::all_of(text.begin(), text.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c));
          });
      if (numeric) {
        port.port = PODNET_TRY(readPortNumber(json(std::stoi(text)), f, true));
      } else {
        PODNET_TRY_STATUS(readPortName(text, f, port));
      }
    } else {
      port.port = PODNET_TRY(readPortNumber(*p, f, true));
    }
  }
  PODNET_TRY_STATUS(readEndPort(j, field, port));
  return port;
}

json portJson(const PortSelector& p, bool cilium) {
  json j = json::object();
  if (p.protocol) {
    j["protocol"] = protocolName(*p.protocol);
  } else if (cilium) {
    j["protocol"] = "ANY";
  }
  if (!p.name.empty()) {
    j["port"] = p.name;
  } else if (p.port != 0) {
    j["port"] = cilium ? json(std::to_string(p.port)) : json(p.port);
  }
  if (p.endPort != 0) j["endPort"] = p.endPort;
  return j;
}

// ---- NetworkPolicy ----

Result<NetworkPolicyPeer> readK8sPeer(const json& j, const std::string& field) {
  PODNET_TRY_STATUS(kRead.checkObject(j, field, {"podSelector", "namespaceSelector", "ipBlock"}));
  NetworkPolicyPeer peer;
  if (const json* s = member(j, "podSelector")) {
    peer.podSelector = PODNET_TRY(LabelSelector::fromJson(*s, dot(field, "podSelector")));
  }
  if (const json* s = member(j, "namespaceSelector")) {
    peer.namespaceSelector =
        PODNET_TRY(LabelSelector::fromJson(*s, dot(field, "namespaceSelector")));
  }
  if (const json* b = member(j, "ipBlock")) {
    if (peer.podSelector || peer.namespaceSelector) {
      return kRead.error(dot(field, "ipBlock"),
                         "may not be combined with podSelector or namespaceSelector");
    }
    peer.ipBlock = PODNET_TRY(readCidrBlock(*b, dot(field, "ipBlock"), "cidr"));
  }
  if (!peer.podSelector && !peer.namespaceSelector && !peer.ipBlock) {
    return kRead.error(field, "must specify a peer (podSelector, namespaceSelector or ipBlock)");
  }
  return peer;
}

Result<std::vector<NetworkPolicyRule>> readK8sRules(const json& spec, const char* section,
                                                    const char* peersName) {
  std::vector<NetworkPolicyRule> rules;
  const std::string field = dot("spec", section);
  const json* list = PODNET_TRY(kRead.list(spec, section, "spec"));
  if (!list) return rules;
  for (size_t i = 0; i < list->size(); ++i) {
    const std::string f = at(field, i);
    const json& r = (*list)[i];
    PODNET_TRY_STATUS(kRead.checkObject(r, f, {"ports", peersName}));
    NetworkPolicyRule rule;
    const json* ports = PODNET_TRY(kRead.list(r, "ports", f));
    if (ports) {
      for (size_t p = 0; p < ports->size(); ++p) {
        rule.ports.push_back(PODNET_TRY(readK8sPort((*ports)[p], at(dot(f, "ports"), p))));
      }
    }
    const json* peers = PODNET_TRY(kRead.list(r, peersName, f));
    if (peers) {
      for (size_t p = 0; p < peers->size(); ++p) {
        rule.peers.push_back(PODNET_TRY(readK8sPeer((*peers)[p], at(dot(f, peersName), p))));
      }
    }
    rules.push_back(std::move(rule));
  }
  return rules;
}

json k8sRulesJson(const std::vector<NetworkPolicyRule>& rules, const char* peersName) {
  json out = json::array();
  for (const auto& rule : rules) {
    json r = json::object();
    if (!rule.ports.empty()) {
      r["ports"] = json::array();
      for (const auto& p : rule.ports) r["ports"].push_back(portJson(p, false));
    }
    if (!rule.peers.empty()) {
      json peers = json::array();
      for (const auto& peer : rule.peers) {
        json pj = json::object();
        if (peer.podSelector) pj["podSelector"] = peer.podSelector->toJson();
        if (peer.namespaceSelector) pj["namespaceSelector"] = peer.namespaceSelector->toJson();
        if (peer.ipBlock) {
          pj["ipBlock"] = {{"cidr", peer.ipBlock->cidr.str()}};
          if (!peer.ipBlock->except.empty()) {
            pj["ipBlock"]["except"] = json::array();
            for (const auto& e : peer.ipBlock->except) pj["ipBlock"]["except"].push_back(e.str());
          }
        }
        peers.push_back(std::move(pj));
      }
      r[peersName] = std::move(peers);
    }
    out.push_back(std::move(r));
  }
  return out;
}

Result<NetworkPolicy> readNetworkPolicy(const json& j, Who& who) {
  NetworkPolicy np;
  np.metadata = PODNET_TRY(readMeta(j, NetworkPolicy::kKind, true, who));
  if (auto st = checkTop(j, NetworkPolicy::kApiVersion, NetworkPolicy::kKind); !st) {
    return std::move(st).takeError();
  }
  const json* spec = member(j, "spec");
  if (!spec) return kRead.error("spec", "required");
  PODNET_TRY_STATUS(
      kRead.checkObject(*spec, "spec", {"podSelector", "ingress", "egress", "policyTypes"}));
  if (const json* s = member(*spec, "podSelector")) {
    np.podSelector = PODNET_TRY(LabelSelector::fromJson(*s, "spec.podSelector"));
  }
  np.ingress = PODNET_TRY(readK8sRules(*spec, "ingress", "from"));
  np.egress = PODNET_TRY(readK8sRules(*spec, "egress", "to"));
  const json* types = PODNET_TRY(kRead.list(*spec, "policyTypes", "spec"));
  if (types && !types->empty()) {
    if (types->size() > 2) return kRead.error("spec.policyTypes", "at most 2 entries");
    np.policyIngress = np.policyEgress = false;
    for (size_t i = 0; i < types->size(); ++i) {
      const std::string f = at("spec.policyTypes", i);
      std::string t = PODNET_TRY(kRead.string((*types)[i], f));
      if (t == "Ingress") {
        np.policyIngress = true;
      } else if (t == "Egress") {
        np.policyEgress = true;
      } else {
        return kRead.error(f, "\"" + t + "\" is not Ingress or Egress");
      }
    }
  } else {
    // Kubernetes' SetDefaults_NetworkPolicySpec: Ingress always, Egress when there are egress
    // rules (an empty `egress: []` does not count).
    np.policyIngress = true;
    np.policyEgress = !np.egress.empty();
  }
  return np;
}

// ---- podnet kinds ----

Result<Entity> readEntity(const json& j, const std::string& field) {
  std::string name = PODNET_TRY(kRead.string(j, field));
  for (Entity e :
       {Entity::kWorld, Entity::kCluster, Entity::kHost, Entity::kRemoteNode, Entity::kAll}) {
    if (name == entityName(e)) return e;
  }
  return kRead.error(field, "\"" + name +
                                "\" is not a supported entity (world, cluster, host, remote-node, "
                                "all)");
}

Result<PodnetRule> readPodnetRule(const json& j, const std::string& field, bool ingress,
                                  bool deny) {
  const std::string dir = ingress ? "from" : "to";
  const std::string endpoints = dir + "Endpoints", cidr = dir + "CIDR", cidrSet = dir + "CIDRSet",
                    entities = dir + "Entities";
  PODNET_TRY_STATUS(kRead.checkObject(j, field, {endpoints, cidr, cidrSet, entities, "toPorts"}));
  PodnetRule rule;
  if (const json* l = PODNET_TRY(kRead.list(j, endpoints, field))) {
    for (size_t i = 0; i < l->size(); ++i) {
      rule.endpoints.push_back(PODNET_TRY(LabelSelector::fromJson(
          (*l)[i], at(dot(field, endpoints), i), LabelSelector::Dialect::kCilium)));
    }
  }
  if (const json* l = PODNET_TRY(kRead.list(j, cidr, field))) {
    for (size_t i = 0; i < l->size(); ++i) {
      rule.cidrs.push_back({PODNET_TRY(readCidr((*l)[i], at(dot(field, cidr), i))), {}});
    }
  }
  if (const json* l = PODNET_TRY(kRead.list(j, cidrSet, field))) {
    for (size_t i = 0; i < l->size(); ++i) {
      rule.cidrs.push_back(PODNET_TRY(readCidrBlock((*l)[i], at(dot(field, cidrSet), i), "cidr")));
    }
  }
  if (const json* l = PODNET_TRY(kRead.list(j, entities, field))) {
    for (size_t i = 0; i < l->size(); ++i) {
      rule.entities.push_back(PODNET_TRY(readEntity((*l)[i], at(dot(field, entities), i))));
    }
  }
  int kinds = !rule.endpoints.empty() + !rule.cidrs.empty() + !rule.entities.empty();
  if (kinds > 1) {
    return kRead.error(field, dir + "Endpoints, " + dir + "CIDR/" + dir + "CIDRSet and " + dir +
                                  "Entities may not be combined in one rule (write one rule each)");
  }
  if (const json* l = PODNET_TRY(kRead.list(j, "toPorts", field))) {
    for (size_t i = 0; i < l->size(); ++i) {
      const std::string f = at(dot(field, "toPorts"), i);
      const json& pr = (*l)[i];
      if (pr.is_object() && member(pr, "rules")) {
        return kRead.error(dot(f, "rules"), std::string("L7 rules are not supported") +
                                                (deny ? " (and never in deny rules)" : ""));
      }
      PODNET_TRY_STATUS(kRead.checkObject(pr, f, {"ports"}));
      const json* ports = PODNET_TRY(kRead.list(pr, "ports", f));
      if (!ports || ports->empty()) return kRead.error(dot(f, "ports"), "required");
      for (size_t p = 0; p < ports->size(); ++p) {
        rule.ports.push_back(PODNET_TRY(readCiliumPort((*ports)[p], at(dot(f, "ports"), p))));
      }
    }
  }
  return rule;
}

Result<std::optional<std::vector<PodnetRule>>> readPodnetSection(const json& spec,
                                                                 const char* section, bool ingress,
                                                                 bool deny) {
  const json* l = PODNET_TRY(kRead.list(spec, section, "spec"));
  if (!l) return std::optional<std::vector<PodnetRule>>();
  std::vector<PodnetRule> rules;
  for (size_t i = 0; i < l->size(); ++i) {
    rules.push_back(
        PODNET_TRY(readPodnetRule((*l)[i], at(dot("spec", section), i), ingress, deny)));
  }
  return std::optional<std::vector<PodnetRule>>(std::move(rules));
}

Result<PodnetPolicySpec> readPodnetSpec(const json& j, bool clusterwide) {
  const json* spec = member(j, "spec");
  if (!spec) return kRead.error("spec", "required");
  PODNET_TRY_STATUS(kRead.checkObject(*spec, "spec",
                                      {"endpointSelector", "nodeSelector", "ingress", "egress",
                                       "ingressDeny", "egressDeny", "description"}));
  PodnetPolicySpec s;
  if (const json* sel = member(*spec, "endpointSelector")) {
    s.endpointSelector = PODNET_TRY(
        LabelSelector::fromJson(*sel, "spec.endpointSelector", LabelSelector::Dialect::kCilium));
  }
  if (const json* sel = member(*spec, "nodeSelector")) {
    if (!clusterwide) {
      return kRead.error("spec.nodeSelector",
                         "only in a PodnetClusterwideNetworkPolicy (the host firewall)");
    }
    s.nodeSelector = PODNET_TRY(LabelSelector::fromJson(*sel, "spec.nodeSelector"));
  }
  if (s.endpointSelector && s.nodeSelector) {
    return kRead.error("spec", "endpointSelector and nodeSelector are mutually exclusive");
  }
  if (!s.endpointSelector && !s.nodeSelector) {
    return kRead.error(
        clusterwide ? "spec" : "spec.endpointSelector",
        clusterwide ? "one of endpointSelector or nodeSelector is required" : "required");
  }
  if (const json* d = member(*spec, "description")) {
    s.description = PODNET_TRY(kRead.string(*d, "spec.description"));
  }
  s.ingress = PODNET_TRY(readPodnetSection(*spec, "ingress", true, false));
  s.egress = PODNET_TRY(readPodnetSection(*spec, "egress", false, false));
  s.ingressDeny = PODNET_TRY(readPodnetSection(*spec, "ingressDeny", true, true));
  s.egressDeny = PODNET_TRY(readPodnetSection(*spec, "egressDeny", false, true));
  return s;
}

json podnetRulesJson(const std::vector<PodnetRule>& rules, bool ingress) {
  const std::string dir = ingress ? "from" : "to";
  json out = json::array();
  for (const auto& rule : rules) {
    json r = json::object();
    if (!rule.endpoints.empty()) {
      r[dir + "Endpoints"] = json::array();
      for (const auto& s : rule.endpoints) r[dir + "Endpoints"].push_back(s.toJson());
    }
    if (!rule.cidrs.empty()) {
      json set = json::array();
      for (const auto& c : rule.cidrs) {
        json cj = {{"cidr", c.cidr.str()}};
        if (!c.except.empty()) {
          cj["except"] = json::array();
          for (const auto& e : c.except) cj["except"].push_back(e.str());
        }
        set.push_back(std::move(cj));
      }
      r[dir + "CIDRSet"] = std::move(set);
    }
    if (!rule.entities.empty()) {
      r[dir + "Entities"] = json::array();
      for (Entity e : rule.entities) r[dir + "Entities"].push_back(entityName(e));
    }
    if (!rule.ports.empty()) {
      json ports = json::array();
      for (const auto& p : rule.ports) ports.push_back(portJson(p, true));
      r["toPorts"] = json::array({{{"ports", std::move(ports)}}});
    }
    out.push_back(std::move(r));
  }
  return out;
}

json podnetSpecJson(const PodnetPolicySpec& s) {
  json spec = json::object();
  if (s.endpointSelector) spec["endpointSelector"] = s.endpointSelector->toJson();
  if (s.nodeSelector) spec["nodeSelector"] = s.nodeSelector->toJson();
  if (!s.description.empty()) spec["description"] = s.description;
  if (s.ingress) spec["ingress"] = podnetRulesJson(*s.ingress, true);
  if (s.egress) spec["egress"] = podnetRulesJson(*s.egress, false);
  if (s.ingressDeny) spec["ingressDeny"] = podnetRulesJson(*s.ingressDeny, true);
  if (s.egressDeny) spec["egressDeny"] = podnetRulesJson(*s.egressDeny, false);
  return spec;
}

template <class T>
Result<T> readPodnet(const json& j, bool clusterwide) {
  Who who;
  auto meta = readMeta(j, T::kKind, !clusterwide, who);
  if (!meta) return std::move(meta).takeError();
  T policy;
  policy.metadata = std::move(*meta);
  if (auto st = checkTop(j, T::kApiVersion, T::kKind); !st) return who(std::move(st).takeError());
  auto spec = readPodnetSpec(j, clusterwide);
  if (!spec) return who(std::move(spec).takeError());
  policy.spec = std::move(*spec);
  return policy;
}

}  // namespace

const char* protocolName(Protocol p) {
  switch (p) {
    case Protocol::kTcp:
      return "TCP";
    case Protocol::kUdp:
      return "UDP";
    case Protocol::kSctp:
      return "SCTP";
  }
  return "?";
}

const char* entityName(Entity e) {
  switch (e) {
    case Entity::kWorld:
      return "world";
    case Entity::kCluster:
      return "cluster";
    case Entity::kHost:
      return "host";
    case Entity::kRemoteNode:
      return "remote-node";
    case Entity::kAll:
      return "all";
  }
  return "?";
}

bool isPortName(const std::string& name) {
  if (name.empty() || name.size() > 15) return false;
  bool letter = false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    if (c >= 'a' && c <= 'z') {
      letter = true;
    } else if (c == '-') {
      if (i == 0 || i + 1 == name.size() || name[i - 1] == '-') return false;
    } else if (!(c >= '0' && c <= '9')) {
      return false;
    }
  }
  return letter;
}

std::string NetworkPolicy::key() const {
  return std::string(model::kindInfo(kKind).storePrefix) + metadata.namespace_ + "/" +
         metadata.name;
}
std::string PodnetNetworkPolicy::key() const {
  return std::string(model::kindInfo(kKind).storePrefix) + metadata.namespace_ + "/" +
         metadata.name;
}
std::string PodnetClusterwideNetworkPolicy::key() const {
  return std::string(model::kindInfo(kKind).storePrefix) + metadata.name;
}

Result<NetworkPolicy> networkPolicyFromJson(const json& j) {
  Who who;
  auto np = readNetworkPolicy(j, who);
  if (!np) {
    // readMeta's own errors already carry the prefix.
    Error e = std::move(np).takeError();
    if (e.message.rfind(who.text, 0) == 0) return e;
    return who(std::move(e));
  }
  return np;
}

Result<PodnetNetworkPolicy> podnetNetworkPolicyFromJson(const json& j) {
  return readPodnet<PodnetNetworkPolicy>(j, false);
}

Result<PodnetClusterwideNetworkPolicy> podnetClusterwideNetworkPolicyFromJson(const json& j) {
  return readPodnet<PodnetClusterwideNetworkPolicy>(j, true);
}

bool isPolicyKind(const std::string& apiVersion, const std::string& kind) {
  return (apiVersion == NetworkPolicy::kApiVersion && kind == NetworkPolicy::kKind) ||
         (apiVersion == PodnetNetworkPolicy::kApiVersion &&
          (kind == PodnetNetworkPolicy::kKind || kind == PodnetClusterwideNetworkPolicy::kKind));
}

Result<Policy> decodePolicy(const json& j) {
  auto text = [&](const char* name) {
    const json* m = j.is_object() ? member(j, name) : nullptr;
    return m && m->is_string() ? m->get<std::string>() : std::string();
  };
  std::string apiVersion = text("apiVersion");
  std::string kind = text("kind");
  if (apiVersion == NetworkPolicy::kApiVersion && kind == NetworkPolicy::kKind) {
    return Policy(PODNET_TRY(networkPolicyFromJson(j)));
  }
  if (apiVersion == PodnetNetworkPolicy::kApiVersion && kind == PodnetNetworkPolicy::kKind) {
    return Policy(PODNET_TRY(podnetNetworkPolicyFromJson(j)));
  }
  if (apiVersion == PodnetClusterwideNetworkPolicy::kApiVersion &&
      kind == PodnetClusterwideNetworkPolicy::kKind) {
    return Policy(PODNET_TRY(podnetClusterwideNetworkPolicyFromJson(j)));
  }
  return makeError(Errc::kUnsupported,
                   "\"" + apiVersion + " " + kind +
                       "\" is not a policy kind (networking.k8s.io/v1 NetworkPolicy, podnet.io/v1 "
                       "PodnetNetworkPolicy, podnet.io/v1 PodnetClusterwideNetworkPolicy)");
}

json toJson(const NetworkPolicy& np) {
  json spec = {{"podSelector", np.podSelector.toJson()}};
  if (!np.ingress.empty()) spec["ingress"] = k8sRulesJson(np.ingress, "from");
  if (!np.egress.empty()) spec["egress"] = k8sRulesJson(np.egress, "to");
  json types = json::array();
  if (np.policyIngress) types.push_back("Ingress");
  if (np.policyEgress) types.push_back("Egress");
  spec["policyTypes"] = std::move(types);
  return {{"apiVersion", NetworkPolicy::kApiVersion},
          {"kind", NetworkPolicy::kKind},
          {"metadata", metaJson(np.metadata)},
          {"spec", std::move(spec)}};
}

json toJson(const PodnetNetworkPolicy& p) {
  return {{"apiVersion", PodnetNetworkPolicy::kApiVersion},
          {"kind", PodnetNetworkPolicy::kKind},
          {"metadata", metaJson(p.metadata)},
          {"spec", podnetSpecJson(p.spec)}};
}

json toJson(const PodnetClusterwideNetworkPolicy& p) {
  return {{"apiVersion", PodnetClusterwideNetworkPolicy::kApiVersion},
          {"kind", PodnetClusterwideNetworkPolicy::kKind},
          {"metadata", metaJson(p.metadata)},
          {"spec", podnetSpecJson(p.spec)}};
}

json toJson(const Policy& p) {
  return std::visit([](const auto& x) { return toJson(x); }, p);
}

std::string policyKey(const Policy& p) {
  return std::visit([](const auto& x) { return x.key(); }, p);
}

std::string kindOf(const Policy& p) {
  return std::visit([](const auto& x) { return std::string(x.kKind); }, p);
}

std::string namespaceOf(const Policy& p) {
  return std::visit([](const auto& x) { return x.metadata.namespace_; }, p);
}

std::string nameOf(const Policy& p) {
  return std::visit([](const auto& x) { return x.metadata.name; }, p);
}

std::string describe(const Policy& p) {
  std::string ns = namespaceOf(p);
  return kindOf(p) + " " + (ns.empty() ? "" : ns + "/") + nameOf(p);
}

}  // namespace podnet::policy
