#include "ctl/nodes_view.h"

#include <algorithm>
#include <vector>

#include "model/objects.h"

namespace podnet::ctl {

std::string renderNodes(const nlohmann::json& nodes, OutputFormat format) {
  std::vector<model::Node> sorted;
  if (nodes.is_array()) {
    for (const auto& n : nodes) {
      if (auto node = model::nodeFromJson(n); node) sorted.push_back(std::move(*node));
    }
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const model::Node& a, const model::Node& b) { return a.name < b.name; });
  if (format == OutputFormat::kJson) {
    nlohmann::json items = nlohmann::json::array();
    for (const auto& n : sorted) items.push_back(model::toJson(n));
    return nlohmann::json{{"apiVersion", "v1"}, {"kind", "List"}, {"items", items}}.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows = {{"NAME", "UNDERLAY", "BACKEND", "VTEP-MAC"}};
  for (const auto& n : sorted) {
    rows.push_back({n.name, n.underlayIp.str(),
                    n.backend ? std::string(backendName(*n.backend)) : "-",
                    n.vtepMac.empty() ? "-" : n.vtepMac});
  }
  return renderTable(rows);
}

}  // namespace podnet::ctl
