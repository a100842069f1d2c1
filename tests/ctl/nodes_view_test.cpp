#include "ctl/nodes_view.h"

#include <gtest/gtest.h>

#include "model/objects.h"

namespace podnet::ctl {
namespace {

nlohmann::json sampleNodes() {
  nlohmann::json nodes = nlohmann::json::array();
  nodes.push_back(model::toJson(
      model::Node{"n2", *Ipv4::parse("172.30.0.12"), "0e:70:ac:1e:00:0c", Backend::kVxlan, {}}));
  nodes.push_back(
      model::toJson(model::Node{"n1", *Ipv4::parse("172.30.0.11"), "", Backend::kHostGw, {}}));
  nodes.push_back(nlohmann::json{{"kind", "Node"}});  // unreadable: skipped, not a crash
  return nodes;
}

TEST(NodesViewTest, TableListsEveryReadableNodeSortedByName) {
  EXPECT_EQ(renderNodes(sampleNodes(), OutputFormat::kTable),
            "NAME   UNDERLAY      BACKEND   VTEP-MAC\n"
            "n1     172.30.0.11   host-gw   -\n"
            "n2     172.30.0.12   vxlan     0e:70:ac:1e:00:0c\n");
}

TEST(NodesViewTest, JsonIsAListOfNodeObjects) {
  auto j = nlohmann::json::parse(renderNodes(sampleNodes(), OutputFormat::kJson));
  EXPECT_EQ(j["kind"], "List");
  ASSERT_EQ(j["items"].size(), 2u);
  EXPECT_EQ(j["items"][0]["metadata"]["name"], "n1");
  EXPECT_EQ(j["items"][1]["spec"]["underlayIp"], "172.30.0.12");
}

}  // namespace
}  // namespace podnet::ctl
