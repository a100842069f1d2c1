#include "ctl/policies_view.h"

#include <algorithm>
#include <tuple>
#include <vector>

#include "policy/network_policy.h"

namespace podnet::ctl {
namespace {

// A string field of j, or "" when it is missing or not a string (the view never throws on odd
// input).
std::string text(const nlohmann::json& j, const char* field) {
  if (!j.is_object()) return "";
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

const nlohmann::json& metadataOf(const nlohmann::json& p) {
  static const nlohmann::json kNone = nlohmann::json::object();
  auto it = p.find("metadata");
  return it != p.end() && it->is_object() ? *it : kNone;
}

std::string joined(const std::vector<std::string>& parts, const std::string& none) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ",") + part;
  return out.empty() ? none : out;
}

std::string podnetTypes(const policy::PodnetPolicySpec& spec) {
  std::vector<std::string> sections;
  if (spec.ingress) sections.push_back("ingress");
  if (spec.egress) sections.push_back("egress");
  if (spec.ingressDeny) sections.push_back("ingressDeny");
  if (spec.egressDeny) sections.push_back("egressDeny");
  return joined(sections, "<none>");
}

std::string podnetSelector(const policy::PodnetPolicySpec& spec) {
  if (spec.endpointSelector) return selectorText(*spec.endpointSelector);
  if (spec.nodeSelector) return "node:" + selectorText(*spec.nodeSelector);
  return "<none>";
}

// SELECTOR and TYPES of one policy; "?" for both when it does not decode.
std::pair<std::string, std::string> selectorAndTypes(const nlohmann::json& p) {
  auto decoded = policy::decodePolicy(p);
  if (!decoded) return {"?", "?"};
  if (const auto* np = std::get_if<policy::NetworkPolicy>(&*decoded)) {
    std::vector<std::string> types;
    if (np->policyIngress) types.push_back("Ingress");
    if (np->policyEgress) types.push_back("Egress");
    return {selectorText(np->podSelector), joined(types, "<none>")};
  }
  const auto* namespaced = std::get_if<policy::PodnetNetworkPolicy>(&*decoded);
  const policy::PodnetPolicySpec& spec =
      namespaced ? namespaced->spec
                 : std::get<policy::PodnetClusterwideNetworkPolicy>(*decoded).spec;
  return {podnetSelector(spec), podnetTypes(spec)};
}

}  // namespace

std::string selectorText(const policy::LabelSelector& selector) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : selector.matchLabels()) parts.push_back(key + "=" + value);
  for (const auto& r : selector.matchExpressions()) {
    std::string values;
    for (const auto& v : r.values) values += (values.empty() ? "" : ",") + v;
    switch (r.op) {
      case policy::LabelRequirement::Operator::kIn:
        parts.push_back(r.key + " in (" + values + ")");
        break;
      case policy::LabelRequirement::Operator::kNotIn:
        parts.push_back(r.key + " notin (" + values + ")");
        break;
      case policy::LabelRequirement::Operator::kExists:
        parts.push_back(r.key);
        break;
      case policy::LabelRequirement::Operator::kDoesNotExist:
        parts.push_back("!" + r.key);
        break;
    }
  }
  return joined(parts, "<all>");
}

std::string renderPolicies(const nlohmann::json& policies, OutputFormat format,
                           const std::string& namespace_) {
  std::vector<nlohmann::json> sorted;
  if (policies.is_array()) {
    for (const auto& p : policies) {
      if (!p.is_object()) continue;
      if (!namespace_.empty() && text(metadataOf(p), "namespace") != namespace_) continue;
      sorted.push_back(p);
    }
  }
  auto sortKey = [](const nlohmann::json& p) {
    const auto& meta = metadataOf(p);
    return std::tuple(text(p, "kind"), text(meta, "namespace"), text(meta, "name"));
  };
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const auto& a, const auto& b) { return sortKey(a) < sortKey(b); });

  if (format == OutputFormat::kJson) {
    return nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", sorted}}.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows = {{"KIND", "NAMESPACE", "NAME", "SELECTOR", "TYPES"}};
  for (const auto& p : sorted) {
    const auto& meta = metadataOf(p);
    std::string ns = text(meta, "namespace");
    auto [selector, types] = selectorAndTypes(p);
    rows.push_back(
        {text(p, "kind"), ns.empty() ? "<none>" : ns, text(meta, "name"), selector, types});
  }
  return renderTable(rows);
}

}  // namespace podnet::ctl
