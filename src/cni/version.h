// The CNI spec versions podnet speaks, and how to compare them.
#pragma once

#include <array>
#include <string_view>

#include <nlohmann/json.hpp>

namespace podnet::cni {

inline constexpr std::array<std::string_view, 5> kSupportedVersions = {"0.3.0", "0.3.1", "0.4.0",
                                                                       "1.0.0", "1.1.0"};
inline constexpr std::string_view kLatestVersion = "1.1.0";

bool isSupportedVersion(std::string_view version);

// Compares dotted versions numerically per component ("0.10.0" > "0.4.0"); a missing component
// counts as 0 and non-digits are ignored. Returns <0, 0 or >0.
int compareVersions(std::string_view a, std::string_view b);

// The answer to VERSION: {"cniVersion": cniVersion, "supportedVersions": [...]}.
nlohmann::json versionJson(std::string_view cniVersion);

}  // namespace podnet::cni
