#include "ctl/subnets_view.h"

#include <algorithm>

namespace podnet::ctl {
namespace {

// A string field, or "" when it is missing or not a string (the view never throws on odd input).
std::string text(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

nlohmann::json member(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() ? *it : nlohmann::json();
}

std::string joined(const nlohmann::json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& item : list) {
    if (item.is_string()) out += (out.empty() ? "" : ",") + item.get<std::string>();
  }
  return out;
}

std::string count(const nlohmann::json& subnet, const char* field) {
  auto it = subnet.find(field);
  return it != subnet.end() && it->is_number() ? it->dump() : "?";
}

// The Subnet object an element describes, as `apply -f` reads it, with its counts as status.
nlohmann::json asObject(const nlohmann::json& s) {
  nlohmann::json spec = {{"cidrBlock", text(s, "cidrBlock")}};
  if (!text(s, "gateway").empty()) spec["gateway"] = s["gateway"];
  for (const char* list : {"excludeIps", "namespaces"}) {
    if (s.contains(list) && s[list].is_array() && !s[list].empty()) spec[list] = s[list];
  }
  return {{"apiVersion", "podnet.io/v1"},
          {"kind", "Subnet"},
          {"metadata", {{"name", text(s, "name")}}},
          {"spec", spec},
          {"status", {{"used", member(s, "used")}, {"free", member(s, "free")}}}};
}

}  // namespace

std::string renderSubnets(const nlohmann::json& subnets, OutputFormat format) {
  std::vector<nlohmann::json> sorted;
  if (subnets.is_array()) {
    for (const auto& s : subnets) {
      if (s.is_object()) sorted.push_back(s);
    }
  }
  std::sort(sorted.begin(), sorted.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return text(a, "name") < text(b, "name");
  });

  if (format == OutputFormat::kJson) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& s : sorted) items.push_back(asObject(s));
    return nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "CIDR", "GATEWAY", "USED", "FREE", "EXCLUDED", "NAMESPACES"}};
  for (const auto& s : sorted) {
    std::string name = text(s, "name");
    std::string namespaces = joined(member(s, "namespaces"));
    // The default subnet serves every namespace no other subnet lists.
    if (name == "default") namespaces += (namespaces.empty() ? "" : ",") + std::string("<others>");
    std::string excluded = joined(member(s, "excludeIps"));
    rows.push_back({name, text(s, "cidrBlock"), text(s, "gateway"), count(s, "used"),
                    count(s, "free"), excluded.empty() ? "<none>" : excluded,
                    namespaces.empty() ? "<none>" : namespaces});
  }
  return renderTable(rows);
}

}  // namespace podnet::ctl
