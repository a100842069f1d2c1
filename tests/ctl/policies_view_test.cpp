#include "ctl/policies_view.h"

#include <gtest/gtest.h>

#include "model/manifest.h"
#include "policy/network_policy.h"

namespace podnet::ctl {
namespace {

// The agent's answer: each policy as stored (policy::toJson of the decoded manifest), unsorted.
nlohmann::json samplePolicies() {
  auto docs = model::parseManifest(R"(apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector:
    matchLabels: {app: api}
    matchExpressions:
    - {key: tier, operator: In, values: [b, a]}
    - {key: legacy, operator: DoesNotExist}
  ingress: [{fromEndpoints: [{}]}]
  egressDeny: [{toEntities: [world]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector:
    matchExpressions:
    - {key: app, operator: NotIn, values: [db]}
    - {key: team, operator: Exists}
  egress: [{}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: blog}
spec: {}
---
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: host-fw}
spec:
  nodeSelector: {matchLabels: {role: edge}}
---
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: all-pods}
spec:
  endpointSelector: {}
  ingress: []
)",
                                   "policies.yaml");
  EXPECT_TRUE(docs.ok()) << docs.error().message;
  nlohmann::json policies = nlohmann::json::array();
  for (const auto& doc : *docs) {
    auto decoded = policy::decodePolicy(doc);
    EXPECT_TRUE(decoded.ok()) << decoded.error().message;
    policies.push_back(policy::toJson(*decoded));
  }
  // Written by a newer podnet: listed, but its selector and types are unknown here.
  policies.push_back(nlohmann::json::parse(R"({"apiVersion": "podnet.io/v1",
      "kind": "PodnetNetworkPolicy", "metadata": {"name": "future", "namespace": "shop"},
      "spec": {"endpointSelector": {}, "ingressAudit": []}})"));
  policies.push_back("not an object");  // skipped, not a crash
  return policies;
}

TEST(PoliciesViewTest, TableShowsKindNamespaceSelectorAndTypesSorted) {
  // Split after NAME: the lines are wider than this file.
  EXPECT_EQ(renderPolicies(samplePolicies(), OutputFormat::kTable),
            "KIND                             NAMESPACE   NAME       "
            "SELECTOR                        TYPES\n"
            "NetworkPolicy                    blog        deny-all   "
            "<all>                           Ingress\n"
            "NetworkPolicy                    shop        web        "
            "app notin (db),team             Ingress,Egress\n"
            "PodnetClusterwideNetworkPolicy   <none>      all-pods   "
            "<all>                           ingress\n"
            "PodnetClusterwideNetworkPolicy   <none>      host-fw    "
            "node:role=edge                  <none>\n"
            "PodnetNetworkPolicy              shop        api        "
            "app=api,tier in (a,b),!legacy   ingress,egressDeny\n"
            "PodnetNetworkPolicy              shop        future     "
            "?                               ?\n");
}

TEST(PoliciesViewTest, ANamespaceKeepsOnlyItsOwnPolicies) {
  EXPECT_EQ(renderPolicies(samplePolicies(), OutputFormat::kTable, "blog"),
            "KIND            NAMESPACE   NAME       SELECTOR   TYPES\n"
            "NetworkPolicy   blog        deny-all   <all>      Ingress\n");
  EXPECT_EQ(renderPolicies(samplePolicies(), OutputFormat::kTable, "nowhere"),
            "KIND   NAMESPACE   NAME   SELECTOR   TYPES\n");
}

TEST(PoliciesViewTest, JsonIsAListOfThePoliciesAsStored) {
  auto policies = samplePolicies();
  auto j = nlohmann::json::parse(renderPolicies(policies, OutputFormat::kJson, "shop"));
  EXPECT_EQ(j["apiVersion"], "v1");
  EXPECT_EQ(j["kind"], "List");
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][0], policies[1]);  // NetworkPolicy shop/web
  EXPECT_EQ(j["items"][1], policies[0]);  // PodnetNetworkPolicy shop/api
  EXPECT_EQ(j["items"][2]["metadata"]["name"], "future");
}

TEST(PoliciesViewTest, SelectorsReadAsKubectlWritesThem) {
  EXPECT_EQ(selectorText(policy::LabelSelector::everything()), "<all>");
  EXPECT_EQ(selectorText(policy::LabelSelector::withLabels({{"b", "2"}, {"a", "1"}})), "a=1,b=2");
}

}  // namespace
}  // namespace podnet::ctl
