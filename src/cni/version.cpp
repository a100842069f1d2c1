#include "cni/version.h"

#include <algorithm>
#include <cstdint>

namespace podnet::cni {

bool isSupportedVersion(std::string_view version) {
  return std::find(kSupportedVersions.begin(), kSupportedVersions.end(), version) !=
         kSupportedVersions.end();
}

namespace {

// Reads one numeric component and advances past its '.'; saturates instead of overflowing.
uint64_t nextComponent(std::string_view& v) {
  uint64_t n = 0;
  size_t i = 0;
  for (; i < v.size() && v[i] != '.'; ++i) {
    if (v[i] < '0' || v[i] > '9') continue;
    n = std::min<uint64_t>(n * 10 + uint64_t(v[i] - '0'), uint64_t{1} << 40);
  }
  v.remove_prefix(i < v.size() ? i + 1 : i);
  return n;
}

}  // namespace

int compareVersions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    uint64_t x = nextComponent(a);
    uint64_t y = nextComponent(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

nlohmann::json versionJson(std::string_view cniVersion) {
  nlohmann::json versions = nlohmann::json::array();
  for (auto v : kSupportedVersions) versions.push_back(v);
  return {{"cniVersion", cniVersion}, {"supportedVersions", std::move(versions)}};
}

}  // namespace podnet::cni
