#include "ctl/pods_view.h"

#include <algorithm>

namespace podnet::ctl {

std::string shortAge(int64_t seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 120) return std::to_string(seconds) + "s";
  if (seconds < 2 * 3600) return std::to_string(seconds / 60) + "m";
  if (seconds < 2 * 86400) return std::to_string(seconds / 3600) + "h";
  return std::to_string(seconds / 86400) + "d";
}

std::string renderTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 3, ' ');
    }
    out += line + "\n";
  }
  return out;
}

std::string renderPods(const nlohmann::json& pods, OutputFormat format, int64_t now) {
  std::vector<nlohmann::json> sorted(pods.begin(), pods.end());
  auto field = [](const nlohmann::json& p, const char* k) {
    std::string v = p.value(k, "");
    return v.empty() ? std::string("<none>") : v;
  };
  std::sort(sorted.begin(), sorted.end(), [&](const auto& a, const auto& b) {
    return std::tuple(field(a, "podNamespace"), field(a, "podName"), field(a, "containerId")) <
           std::tuple(field(b, "podNamespace"), field(b, "podName"), field(b, "containerId"));
  });
  if (format == OutputFormat::kJson) {
    return nlohmann::json{{"pods", sorted}}.dump(2) + "\n";
  }
  std::vector<std::vector<std::string>> rows;
  if (format == OutputFormat::kWide) {
    rows.push_back({"NAMESPACE", "NAME", "IP", "INTERFACE", "CONTAINER", "NODE", "HOST-VETH", "MAC",
                    "NETNS", "STATE", "AGE"});
  } else {
    rows.push_back({"NAMESPACE", "NAME", "IP", "INTERFACE", "CONTAINER"});
  }
  for (const auto& p : sorted) {
    std::string address = p.value("address", "");
    std::string ip = address.substr(0, address.find('/'));
    std::string cid = p.value("containerId", "");
    if (format == OutputFormat::kWide) {
      rows.push_back({field(p, "podNamespace"), field(p, "podName"), ip, p.value("ifname", ""), cid,
                      field(p, "node"), field(p, "hostVeth"), field(p, "podMac"), field(p, "netns"),
                      field(p, "state"), shortAge(now - p.value("createdAt", now))});
    } else {
      rows.push_back({field(p, "podNamespace"), field(p, "podName"), ip, p.value("ifname", ""),
                      cid.substr(0, 12)});
    }
  }
  return renderTable(rows);
}

}  // namespace podnet::ctl
