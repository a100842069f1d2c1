#include "ctl/pods_view.h"

#include <gtest/gtest.h>

namespace podnet::ctl {
namespace {

nlohmann::json samplePods() {
  return nlohmann::json::array({
      {{"podNamespace", "shop"},
       {"podName", "web-1"},
       {"address", "10.244.0.7/16"},
       {"ifname", "eth0"},
       {"containerId", "0123456789abcdef0123"},
       {"node", "n1"},
       {"hostVeth", "pn0011223344ff"},
       {"podMac", "aa:bb:cc:dd:ee:ff"},
       {"netns", "/var/run/netns/p1"},
       {"state", "ready"},
       {"createdAt", 1000}},
      {{"podNamespace", "default"},
       {"podName", "api"},
       {"address", "10.244.0.5/16"},
       {"ifname", "eth0"},
       {"containerId", "c2"},
       {"createdAt", 1000}},
  });
}

TEST(PodsViewTest, TableIsSortedAndAlignedLikeKubectl) {
  std::string out = renderPods(samplePods(), OutputFormat::kTable, 1060);
  EXPECT_EQ(out,
            "NAMESPACE   NAME    IP           INTERFACE   CONTAINER\n"
            "default     api     10.244.0.5   eth0        c2\n"
            "shop        web-1   10.244.0.7   eth0        0123456789ab\n");
}

TEST(PodsViewTest, WideShowsTheFullContainerIdNodeVethAndAge) {
  std::string out = renderPods(samplePods(), OutputFormat::kWide, 1060);
  EXPECT_NE(out.find("0123456789abcdef0123"), std::string::npos);
  EXPECT_NE(out.find("pn0011223344ff"), std::string::npos);
  EXPECT_NE(out.find("60s"), std::string::npos);
  EXPECT_NE(out.find("<none>"), std::string::npos) << "missing fields show as <none>";
}

TEST(PodsViewTest, JsonKeepsEveryField) {
  auto out = nlohmann::json::parse(renderPods(samplePods(), OutputFormat::kJson, 0));
  ASSERT_EQ(out["pods"].size(), 2u);
  EXPECT_EQ(out["pods"][1]["hostVeth"], "pn0011223344ff");
}

TEST(PodsViewTest, ShortAges) {
  EXPECT_EQ(shortAge(5), "5s");
  EXPECT_EQ(shortAge(600), "10m");
  EXPECT_EQ(shortAge(3 * 3600), "3h");
  EXPECT_EQ(shortAge(5 * 86400), "5d");
  EXPECT_EQ(shortAge(-3), "0s");
}

}  // namespace
}  // namespace podnet::ctl
