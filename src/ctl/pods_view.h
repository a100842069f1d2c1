// How `podnetctl get pods` shows the agent's attachments: a kubectl-style table, a wide table, or
// the records as JSON.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace podnet::ctl {

enum class OutputFormat { kTable, kWide, kJson };

// pods: the agent's "pods" array (one attachment record per element). now: unix seconds, for AGE.
std::string renderPods(const nlohmann::json& pods, OutputFormat format, int64_t now);

// Renders rows as columns separated by three spaces, like kubectl.
std::string renderTable(const std::vector<std::vector<std::string>>& rows);

// "45s", "12m", "3h", "2d": kubectl's short ages.
std::string shortAge(int64_t seconds);

}  // namespace podnet::ctl
