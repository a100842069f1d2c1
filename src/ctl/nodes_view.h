// `podnetctl get nodes`: the nodes registered in the cluster store.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ctl/pods_view.h"

namespace podnet::ctl {

// nodes: the agent's "nodes" array of Node objects (model/objects.h toJson). Rows sorted by name;
// kJson prints a Kubernetes List, kWide is shown as kTable.
std::string renderNodes(const nlohmann::json& nodes, OutputFormat format);

}  // namespace podnet::ctl
