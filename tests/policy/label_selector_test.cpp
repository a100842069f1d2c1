#include "policy/label_selector.h"

#include <gtest/gtest.h>

namespace podnet::policy {
namespace {

using nlohmann::json;

LabelSelector parse(const json& j, LabelSelector::Dialect d = LabelSelector::Dialect::kKubernetes) {
  auto s = LabelSelector::fromJson(j, "spec.podSelector", d);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? *s : LabelSelector{};
}

std::string error(const json& j, LabelSelector::Dialect d = LabelSelector::Dialect::kKubernetes) {
  auto s = LabelSelector::fromJson(j, "spec.podSelector", d);
  EXPECT_FALSE(s.ok()) << j.dump();
  return s.ok() ? "" : s.error().message;
}

TEST(LabelSelectorTest, EmptySelectsEverything) {
  LabelSelector s = parse(json::object());
  EXPECT_TRUE(s.selectsEverything());
  EXPECT_TRUE(s.matches({}));
  EXPECT_TRUE(s.matches({{"app", "web"}}));
  EXPECT_FALSE(parse({{"matchLabels", {{"app", "web"}}}}).selectsEverything());
  EXPECT_TRUE(parse({{"matchLabels", json::object()}, {"matchExpressions", json::array()}})
                  .selectsEverything());
}

TEST(LabelSelectorTest, MatchLabelsAndExpressionsAreAnded) {
  LabelSelector s = parse(json::parse(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "tier", "operator": "In", "values": ["front", "edge"]},
      {"key": "env", "operator": "NotIn", "values": ["prod"]},
      {"key": "team", "operator": "Exists"},
      {"key": "legacy", "operator": "DoesNotExist"}
    ]})"));
  EXPECT_TRUE(s.matches({{"app", "web"}, {"tier", "edge"}, {"team", "a"}}));
  EXPECT_TRUE(s.matches({{"app", "web"}, {"tier", "front"}, {"team", ""}, {"env", "dev"}}));
  EXPECT_FALSE(s.matches({{"app", "api"}, {"tier", "edge"}, {"team", "a"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "back"}, {"team", "a"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "edge"}}));  // Exists
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "edge"}, {"team", "a"}, {"env", "prod"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"tier", "edge"}, {"team", "a"}, {"legacy", "1"}}));
  EXPECT_FALSE(s.matches({{"app", "web"}, {"team", "a"}}));  // In needs the key
  EXPECT_TRUE(s.constrains("tier"));
  EXPECT_TRUE(s.constrains("app"));
  EXPECT_FALSE(s.constrains("zone"));
}

TEST(LabelSelectorTest, NotInIsSatisfiedByAMissingKey) {
  LabelSelector s = parse(json::parse(
      R"({"matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod"]}]})"));
  EXPECT_TRUE(s.matches({}));
  EXPECT_FALSE(s.matches({{"env", "prod"}}));
}

TEST(LabelSelectorTest, ValidationNamesTheField) {
  EXPECT_EQ(error(json::parse(R"({"matchExpressions": [{"key": "a", "operator": "In"}]})")),
            "spec.podSelector.matchExpressions[0].values: must be non-empty when operator is In");
  EXPECT_EQ(
      error(json::parse(
          R"({"matchExpressions": [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "DoesNotExist", "values": ["x"]}]})")),
      "spec.podSelector.matchExpressions[1].values: may not be specified when operator is "
      "DoesNotExist");
  EXPECT_NE(
      error(json::parse(
                R"({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["x"]}]})"))
          .find("matchExpressions[0].operator: \"Equals\" is not In, NotIn"),
      std::string::npos);
  EXPECT_EQ(error(json::parse(R"({"matchExpressions": [{"operator": "Exists"}]})")),
            "spec.podSelector.matchExpressions[0].key: required");
  EXPECT_NE(
      error(json::parse(R"({"matchLabels": {"app": "not valid!"}})"))
          .find("spec.podSelector.matchLabels.app: \"not valid!\" is not a valid label value"),
      std::string::npos);
  EXPECT_NE(
      error(json::parse(R"({"matchLabels": {"-bad": "x"}})")).find("is not a valid label key"),
      std::string::npos);
  EXPECT_NE(error(json::parse(R"({"matchLabels": {"app": 3}})"))
                .find("matchLabels.app: must be a string"),
            std::string::npos);
  EXPECT_EQ(error(json::parse(R"({"matchLabel": {"app": "x"}})")),
            "spec.podSelector.matchLabel: unknown field (known: matchLabels, matchExpressions)");
  EXPECT_NE(
      error(
          json::parse(
              R"({"matchExpressions": [{"key": "a", "operator": "In", "values": ["x"], "value": "y"}]})"))
          .find("matchExpressions[0].value: unknown field"),
      std::string::npos);
  EXPECT_NE(error(json::array()).find("spec.podSelector: must be an object"), std::string::npos);
}

TEST(LabelSelectorTest, CiliumDialectDropsTheK8sSourcePrefix) {
  auto d = LabelSelector::Dialect::kCilium;
  LabelSelector s = parse(
      json::parse(
          R"({"matchLabels": {"k8s:app": "web", "k8s:io.kubernetes.pod.namespace": "shop"}})"),
      d);
  EXPECT_TRUE(s.matches({{"app", "web"}, {"io.kubernetes.pod.namespace", "shop"}}));
  EXPECT_TRUE(s.constrains("io.kubernetes.pod.namespace"));
  EXPECT_NE(error(json::parse(R"({"matchLabels": {"reserved:host": ""}})"), d)
                .find("label source \"reserved:\" is not supported"),
            std::string::npos);
  // The Kubernetes dialect has no sources.
  EXPECT_NE(
      error(json::parse(R"({"matchLabels": {"k8s:app": "web"}})")).find("not a valid label key"),
      std::string::npos);
  // Namespace labels, Cilium's way.
  parse(
      json::parse(
          R"({"matchLabels": {"io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name": "x"}})"),
      d);
}

TEST(LabelSelectorTest, ToJsonRoundTrips) {
  json j = json::parse(R"({"matchLabels": {"app": "web"},
    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]},
                         {"key": "x", "operator": "Exists"}]})");
  LabelSelector s = parse(j);
  EXPECT_EQ(s.toJson(), j);
  EXPECT_EQ(parse(s.toJson()), s);
  EXPECT_EQ(LabelSelector{}.toJson(), json::object());
}

}  // namespace
}  // namespace podnet::policy
