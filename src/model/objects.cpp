#include "model/objects.h"

#include <cctype>

#include "model/subnet.h"  // isDnsSubdomain

namespace podnet::model {
namespace {

nlohmann::json metaJson(const ObjectMeta& m) {
  nlohmann::json j = {{"name", m.name}};
  if (!m.namespace_.empty()) j["namespace"] = m.namespace_;
  if (!m.labels.empty()) j["labels"] = m.labels;
  if (!m.annotations.empty()) j["annotations"] = m.annotations;
  return j;
}

Result<Labels> stringMap(const nlohmann::json& j, const std::string& field) {
  Labels out;
  if (j.is_null()) return out;
  if (!j.is_object()) return makeError(Errc::kInvalidArgument, field + ": must be a map");
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) {
      return makeError(Errc::kInvalidArgument, field + "." + k + ": must be a string");
    }
    out[k] = v.get<std::string>();
  }
  return out;
}

Result<ObjectMeta> metaFromJson(const nlohmann::json& j, const std::string& kind) {
  if (!j.is_object()) return makeError(Errc::kInvalidArgument, kind + ": not a JSON object");
  const auto& m = j.value("metadata", nlohmann::json::object());
  if (!m.is_object()) return makeError(Errc::kInvalidArgument, kind + ": metadata: not an object");
  ObjectMeta meta;
  if (!m.contains("name") || !m["name"].is_string() || m["name"].get<std::string>().empty()) {
    return makeError(Errc::kInvalidArgument, kind + ": metadata.name: required");
  }
  meta.name = m["name"].get<std::string>();
  if (m.contains("namespace")) {
    if (!m["namespace"].is_string()) {
      return makeError(Errc::kInvalidArgument,
                       kind + " " + meta.name + ": metadata.namespace: must be a string");
    }
    meta.namespace_ = m["namespace"].get<std::string>();
  }
  const std::string who = kind + " " + meta.name;
  auto labels = stringMap(m.value("labels", nlohmann::json()), "metadata.labels");
  if (!labels) return labels.error().context(who);
  meta.labels = std::move(*labels);
  auto annotations = stringMap(m.value("annotations", nlohmann::json()), "metadata.annotations");
  if (!annotations) return annotations.error().context(who);
  meta.annotations = std::move(*annotations);
  if (auto st = validateLabels(meta.labels); !st) return st.error().context(who);
  return meta;
}

// A label name or value: at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends.
bool isQualifiedName(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  if (!std::isalnum(static_cast<unsigned char>(s.front())) ||
      !std::isalnum(static_cast<unsigned char>(s.back())))
    return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return false;
    }
  }
  return true;
}

}  // namespace

bool isLabelKey(const std::string& key) {
  auto slash = key.find('/');
  if (slash == std::string::npos) return isQualifiedName(key);
  return isDnsSubdomain(key.substr(0, slash)) && isQualifiedName(key.substr(slash + 1));
}

bool isLabelValue(const std::string& value) {
  return value.empty() || isQualifiedName(value);
}

Status validateLabels(const Labels& labels) {
  for (const auto& [key, value] : labels) {
    if (!isLabelKey(key)) {
      return makeError(Errc::kInvalidArgument,
                       "metadata.labels: invalid key \"" + key +
                           "\" (an optional DNS prefix and '/', then at most 63 characters of "
                           "letters, digits, '-', '_' or '.', alphanumeric at both ends)");
    }
    if (!isLabelValue(value)) {
      return makeError(Errc::kInvalidArgument,
                       "metadata.labels." + key + ": invalid value \"" + value +
                           "\" (at most 63 characters of letters, digits, '-', '_' or '.', "
                           "alphanumeric at both ends)");
    }
  }
  return okStatus();
}

nlohmann::json toJson(const Namespace& ns) {
  return {{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", metaJson(ns.metadata)}};
}

nlohmann::json toJson(const Pod& pod) {
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& p : pod.ports) {
    nlohmann::json port = {{"containerPort", p.containerPort}, {"protocol", p.protocol}};
    if (!p.name.empty()) port["name"] = p.name;
    ports.push_back(port);
  }
  return {{"apiVersion", "v1"},
          {"kind", "Pod"},
          {"metadata", metaJson(pod.metadata)},
          {"spec",
           {{"nodeName", pod.nodeName},
            {"containers", nlohmann::json::array({{{"name", "main"}, {"ports", ports}}})}}}};
}

nlohmann::json toJson(const Node& node) {
  nlohmann::json meta = {{"name", node.name}};
  if (!node.labels.empty()) meta["labels"] = node.labels;
  return {{"apiVersion", "podnet.io/v1"},
          {"kind", "Node"},
          {"metadata", meta},
          {"spec",
           {{"underlayIp", node.underlayIp.str()},
            {"vtepMac", node.vtepMac},
            {"backend", node.backend ? std::string(backendName(*node.backend)) : ""}}}};
}

static Result<Namespace> namespaceFromJsonUnchecked(const nlohmann::json& j) {
  Namespace ns;
  ns.metadata = PODNET_TRY(metaFromJson(j, "Namespace"));
  return ns;
}

static Result<Pod> podFromJsonUnchecked(const nlohmann::json& j) {
  Pod pod;
  pod.metadata = PODNET_TRY(metaFromJson(j, "Pod"));
  const std::string who = "Pod " + pod.metadata.namespace_ + "/" + pod.metadata.name;
  if (pod.metadata.namespace_.empty()) {
    return makeError(Errc::kInvalidArgument, who + ": metadata.namespace: required");
  }
  const auto& spec = j.value("spec", nlohmann::json::object());
  if (!spec.is_object()) return makeError(Errc::kInvalidArgument, who + ": spec: not an object");
  pod.nodeName = spec.value("nodeName", "");
  const auto& containers = spec.value("containers", nlohmann::json::array());
  if (!containers.is_array()) {
    return makeError(Errc::kInvalidArgument, who + ": spec.containers: must be a list");
  }
  for (size_t c = 0; c < containers.size(); ++c) {
    const std::string at = "spec.containers[" + std::to_string(c) + "].ports";
    const auto& ports = containers[c].is_object()
                            ? containers[c].value("ports", nlohmann::json::array())
                            : nlohmann::json();
    if (!ports.is_array())
      return makeError(Errc::kInvalidArgument, who + ": " + at + ": must be a list");
    for (size_t i = 0; i < ports.size(); ++i) {
      const std::string field = at + "[" + std::to_string(i) + "]";
      const auto& p = ports[i];
      if (!p.is_object() || !p.contains("containerPort") ||
          !p["containerPort"].is_number_integer() || p["containerPort"].get<int64_t>() < 1 ||
          p["containerPort"].get<int64_t>() > 65535) {
        return makeError(Errc::kInvalidArgument,
                         who + ": " + field + ".containerPort: required, 1-65535");
      }
      ContainerPort port;
      port.containerPort = static_cast<uint16_t>(p["containerPort"].get<int64_t>());
      port.name = p.value("name", "");
      port.protocol = p.value("protocol", "TCP");
      if (port.protocol != "TCP" && port.protocol != "UDP" && port.protocol != "SCTP") {
        return makeError(Errc::kInvalidArgument, who + ": " + field + ".protocol: \"" +
                                                     port.protocol + "\" is not TCP, UDP or SCTP");
      }
      pod.ports.push_back(port);
    }
  }
  return pod;
}

static Result<Node> nodeFromJsonUnchecked(const nlohmann::json& j) {
  Node node;
  auto meta = PODNET_TRY(metaFromJson(j, "Node"));
  node.name = meta.name;
  node.labels = meta.labels;
  const auto& spec = j.value("spec", nlohmann::json::object());
  const std::string who = "Node " + node.name;
  if (!spec.is_object() || !spec.contains("underlayIp") || !spec["underlayIp"].is_string()) {
    return makeError(Errc::kInvalidArgument, who + ": spec.underlayIp: required");
  }
  auto ip = Ipv4::parse(spec["underlayIp"].get<std::string>());
  if (!ip) return ip.error().context(who + ": spec.underlayIp");
  node.underlayIp = *ip;
  node.vtepMac = spec.value("vtepMac", "");
  const std::string backend = spec.value("backend", "");
  if (!backend.empty()) {
    node.backend = PODNET_TRY(parseEnum(kBackendNames, backend, who + ": spec.backend"));
  }
  return node;
}

// nlohmann's value() throws type_error when a field has the wrong JSON type ("nodeName": 5): the
// decoders above stay readable and these turn such a throw into an error naming the kind.
template <typename T, typename F>
Result<T> guarded(const char* kind, F decode) {
  try {
    return decode();
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::kInvalidArgument,
                     std::string(kind) + ": a field has the wrong type (" + e.what() + ")");
  }
}

Result<Namespace> namespaceFromJson(const nlohmann::json& j) {
  return guarded<Namespace>("Namespace", [&] { return namespaceFromJsonUnchecked(j); });
}
Result<Pod> podFromJson(const nlohmann::json& j) {
  return guarded<Pod>("Pod", [&] { return podFromJsonUnchecked(j); });
}
Result<Node> nodeFromJson(const nlohmann::json& j) {
  return guarded<Node>("Node", [&] { return nodeFromJsonUnchecked(j); });
}

}  // namespace podnet::model
