#include "cni/version.h"

#include <gtest/gtest.h>

namespace podnet::cni {
namespace {

TEST(VersionTest, SupportsExactlyTheFiveSpecVersions) {
  for (auto v : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"})
    EXPECT_TRUE(isSupportedVersion(v)) << v;
  for (auto v : {"", "0.1.0", "0.2.0", "1.1", "1.2.0", "1.0.0 "})
    EXPECT_FALSE(isSupportedVersion(v)) << v;
}

TEST(VersionTest, ComparesNumericallyPerComponent) {
  EXPECT_LT(compareVersions("0.4.0", "0.10.0"), 0);
  EXPECT_LT(compareVersions("0.3.1", "0.4.0"), 0);
  EXPECT_GT(compareVersions("1.1.0", "1.0.0"), 0);
  EXPECT_EQ(compareVersions("1.0", "1.0.0"), 0);
  EXPECT_EQ(compareVersions("1.1.0", "1.1.0"), 0);
}

TEST(VersionTest, VersionJsonListsEverySupportedVersion) {
  EXPECT_EQ(versionJson("0.4.0"), nlohmann::json::parse(R"({"cniVersion": "0.4.0",
      "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})"));
}

}  // namespace
}  // namespace podnet::cni
