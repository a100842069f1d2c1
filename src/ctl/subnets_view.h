// How `podnetctl get subnets` shows the agent's subnets: a kubectl-style table, or a Kubernetes
// List of Subnet objects (with their address counts as status) that `podnetctl apply -f` takes
// back unchanged.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ctl/pods_view.h"

namespace podnet::ctl {

// subnets: the agent's "subnets" array (registry/subnets.h toJson(SubnetUsage)). Rows are sorted by
// name. kWide is shown as kTable.
std::string renderSubnets(const nlohmann::json& subnets, OutputFormat format);

}  // namespace podnet::ctl
