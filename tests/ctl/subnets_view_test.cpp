#include "ctl/subnets_view.h"

#include <gtest/gtest.h>

namespace podnet::ctl {
namespace {

nlohmann::json sampleSubnets() {
  return nlohmann::json::parse(R"([
    {"name": "default", "cidrBlock": "10.244.0.0/16", "gateway": "10.244.0.1", "namespaces": [],
     "excludeIps": [], "used": 3, "free": 65530},
    {"name": "blue", "cidrBlock": "10.1.0.0/24", "gateway": "10.1.0.1",
     "namespaces": ["shop", "web"], "excludeIps": ["10.1.0.2..10.1.0.9"], "used": 2, "free": 243}
  ])");
}

TEST(SubnetsViewTest, TableShowsUsedAndFreeAddressesSortedByName) {
  EXPECT_EQ(renderSubnets(sampleSubnets(), OutputFormat::kTable),
            "NAME      CIDR            GATEWAY      USED   FREE    EXCLUDED             "
            "NAMESPACES\n"
            "blue      10.1.0.0/24     10.1.0.1     2      243     10.1.0.2..10.1.0.9   "
            "shop,web\n"
            "default   10.244.0.0/16   10.244.0.1   3      65530   <none>               "
            "<others>\n");
}

TEST(SubnetsViewTest, JsonIsAListOfSubnetObjectsWithTheirCounts) {
  auto j = nlohmann::json::parse(renderSubnets(sampleSubnets(), OutputFormat::kJson));
  EXPECT_EQ(j["kind"], "List");
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0], nlohmann::json::parse(R"({
    "apiVersion": "podnet.io/v1", "kind": "Subnet", "metadata": {"name": "blue"},
    "spec": {"cidrBlock": "10.1.0.0/24", "gateway": "10.1.0.1",
             "excludeIps": ["10.1.0.2..10.1.0.9"], "namespaces": ["shop", "web"]},
    "status": {"used": 2, "free": 243}})"));
  EXPECT_FALSE(j["items"][1]["spec"].contains("namespaces"));
}

TEST(SubnetsViewTest, NoSubnetsIsAHeaderOrAnEmptyList) {
  EXPECT_EQ(renderSubnets(nlohmann::json::array(), OutputFormat::kTable),
            "NAME   CIDR   GATEWAY   USED   FREE   EXCLUDED   NAMESPACES\n");
  auto j = nlohmann::json::parse(renderSubnets(nlohmann::json::array(), OutputFormat::kJson));
  EXPECT_EQ(j["items"], nlohmann::json::array());
}

TEST(SubnetsViewTest, OddAgentAnswersDoNotThrow) {
  auto odd = nlohmann::json::parse(R"([{"name": 5, "used": "x"}, 7])");
  EXPECT_NO_THROW(renderSubnets(odd, OutputFormat::kTable));
  EXPECT_NO_THROW(renderSubnets(odd, OutputFormat::kJson));
}

}  // namespace
}  // namespace podnet::ctl
