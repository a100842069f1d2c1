// The policy kinds through apply -f / delete -f and the agent's "policies" answer, on an embedded
// store.
#include <gtest/gtest.h>

#include "model/manifest.h"
#include "policy/network_policy.h"
#include "registry/apply.h"
#include "registry/service.h"
#include "registry/subnets.h"
#include "registry_fixture.h"

namespace podnet::registry {
namespace {

std::vector<std::string> lines(const Result<std::vector<AppliedObject>>& objects) {
  std::vector<std::string> out;
  if (!objects) return {"error: " + objects.error().message};
  for (const auto& o : *objects) out.push_back(describe(o));
  return out;
}

// policyTypes left out: Kubernetes' default (Ingress only) is what gets stored.
const char* kDenyAll = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
)";

const char* kApiAndHost = R"(apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: "8000"}]}]
---
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: host-fw}
spec:
  nodeSelector: {matchLabels: {role: edge}}
  ingressDeny: [{fromEntities: [world]}]
)";

std::optional<nlohmann::json> stored(store::Store& store, const std::string& key) {
  auto kv = store.get(key);
  if (!kv.ok() || !*kv) return std::nullopt;
  return nlohmann::json::parse((*kv)->value);
}

TEST_F(RegistryTest, APolicyIsStoredInItsCanonicalFormAndReappliedLikeKubectl) {
  // The namespace "shop" does not exist: a policy does not need it (a pod does).
  auto applied = applyObjects(*store_, manifest(kDenyAll));
  EXPECT_EQ(lines(applied), (std::vector<std::string>{"networkpolicy/shop/deny-all created"}));
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(toJson(applied->at(0)),
            nlohmann::json(
                {{"kind", "NetworkPolicy"}, {"name", "shop/deny-all"}, {"action", "created"}}));

  auto value = stored(*store_, "/podnet/policies/NetworkPolicy/shop/deny-all");
  ASSERT_TRUE(value);
  EXPECT_EQ((*value)["spec"]["policyTypes"], nlohmann::json({"Ingress"}));
  auto decoded = policy::decodePolicy(*value);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(policy::toJson(*decoded), *value);

  int64_t before = revision();
  EXPECT_EQ(lines(applyObjects(*store_, manifest(kDenyAll))),
            (std::vector<std::string>{"networkpolicy/shop/deny-all unchanged"}));
  // The same policy with its default written out is the same object.
  EXPECT_EQ(
      lines(applyObjects(*store_, manifest(std::string(kDenyAll) + "  policyTypes: [Ingress]\n"))),
      (std::vector<std::string>{"networkpolicy/shop/deny-all unchanged"}));
  EXPECT_EQ(revision(), before);

  EXPECT_EQ(lines(applyObjects(
                *store_, manifest(std::string(kDenyAll) + "  policyTypes: [Ingress, Egress]\n"))),
            (std::vector<std::string>{"networkpolicy/shop/deny-all configured"}));
  EXPECT_EQ(
      (*stored(*store_, "/podnet/policies/NetworkPolicy/shop/deny-all"))["spec"]["policyTypes"],
      nlohmann::json({"Ingress", "Egress"}));
}

TEST_F(RegistryTest, ThePodnetKindsAreStoredUnderTheirKeys) {
  auto applied = applyObjects(*store_, manifest(kApiAndHost));
  EXPECT_EQ(lines(applied), (std::vector<std::string>{"podnetnetworkpolicy/shop/api created",
                                                      "podnetclusterwidenetworkpolicy/host-fw "
                                                      "created"}));
  auto api = stored(*store_, "/podnet/policies/PodnetNetworkPolicy/shop/api");
  ASSERT_TRUE(api);
  // Cilium's default protocol ANY is written out.
  EXPECT_EQ((*api)["spec"]["ingress"][0]["toPorts"][0]["ports"][0]["protocol"], "ANY");
  auto host = stored(*store_, "/podnet/policies/PodnetClusterwideNetworkPolicy/host-fw");
  ASSERT_TRUE(host);
  EXPECT_FALSE((*host)["metadata"].contains("namespace"));
  EXPECT_EQ((*host)["spec"]["nodeSelector"]["matchLabels"]["role"], "edge");
}

TEST_F(RegistryTest, OneInvalidPolicyRefusesTheWholeFile) {
  auto applied = applyObjects(*store_, manifest(R"(apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: 10.1.0.0/16}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  ingress:
  - from: [{ipBlock: {cidr: 10.0.0/8}}]
)"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(applied.error().message.rfind("object 2 (NetworkPolicy shop/deny-all): "
                                          "spec.ingress[0].from[0].ipBlock.cidr: \"10.0.0/8\" is "
                                          "not an IPv4 CIDR",
                                          0),
            0u)
      << applied.error().message;
  EXPECT_EQ(revision(), 0) << "nothing was written, not even the valid subnet";

  // Without a namespace the decoder's "default/" is not repeated either.
  applied = applyObjects(*store_, manifest(R"(apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: ok}
spec: {endpointSelector: {}}
---
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: p}
spec: {endpointSelector: {}, ingress: [{fromEntities: [kube-apiserver]}]}
)"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message.rfind(
                "object 2 (PodnetNetworkPolicy p): spec.ingress[0].fromEntities[0]: ", 0),
            0u)
      << applied.error().message;
  EXPECT_EQ(revision(), 0);
}

TEST_F(RegistryTest, PoliciesAreOneObjectPerKindNamespaceAndName) {
  // The same name in two namespaces, and under another kind, is three objects.
  auto applied = applyObjects(*store_, manifest(std::string(kDenyAll) + R"(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: blog}
spec: {}
---
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {endpointSelector: {}, ingress: []}
)"));
  EXPECT_EQ(lines(applied),
            (std::vector<std::string>{"networkpolicy/shop/deny-all created",
                                      "networkpolicy/blog/deny-all created",
                                      "podnetnetworkpolicy/shop/deny-all created"}));

  applied = applyObjects(*store_, manifest(std::string(kDenyAll) + "---\n" + kDenyAll));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "object 2 (NetworkPolicy shop/deny-all): appears twice (also object 1 (NetworkPolicy "
            "shop/deny-all))");
}

TEST_F(RegistryTest, DeleteOfAPolicyReadsOnlyItsKindNamespaceAndName) {
  ASSERT_TRUE(applyObjects(*store_, manifest(std::string(kDenyAll) + "---\n" + kApiAndHost)).ok());
  auto deleted = deleteObjects(*store_, manifest(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {ingress: [{from: [{ipBlock: {cidr: nonsense}}]}]}
---
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: host-fw}
)"));
  EXPECT_EQ(lines(deleted),
            (std::vector<std::string>{"networkpolicy/shop/deny-all deleted",
                                      "podnetclusterwidenetworkpolicy/host-fw deleted"}));
  EXPECT_FALSE(stored(*store_, "/podnet/policies/NetworkPolicy/shop/deny-all"));
  EXPECT_FALSE(stored(*store_, "/podnet/policies/PodnetClusterwideNetworkPolicy/host-fw"));
  EXPECT_TRUE(stored(*store_, "/podnet/policies/PodnetNetworkPolicy/shop/api"));

  deleted = deleteObjects(*store_, manifest(kDenyAll));
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, Errc::kNotFound);
  EXPECT_EQ(deleted.error().message, "object 1 (NetworkPolicy shop/deny-all): not found");

  // No namespace: the default one, as kubectl.
  deleted = deleteObjects(*store_, manifest(R"(apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: api}
)"));
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().message, "object 1 (PodnetNetworkPolicy api): not found");
  EXPECT_TRUE(stored(*store_, "/podnet/policies/PodnetNetworkPolicy/shop/api"));
}

TEST_F(RegistryTest, AnswersPoliciesSortedByKindNamespaceAndName) {
  EXPECT_TRUE(servesOp("policies"));
  EXPECT_EQ(answer(*store_, {{"op", "policies"}}),
            nlohmann::json::parse(R"({"ok": true, "policies": []})"));

  // In the store "shop-2/" sorts before "shop/"; the answer sorts by namespace.
  std::string shop2 = kDenyAll;
  shop2.replace(shop2.find("namespace: shop"), 15, "namespace: shop-2");
  auto reply = answer(
      *store_,
      {{"op", "apply"}, {"objects", manifest(shop2 + "---\n" + kApiAndHost + "---\n" + kDenyAll)}});
  ASSERT_EQ(reply["ok"], true) << reply.dump();

  reply = answer(*store_, {{"op", "policies"}});
  ASSERT_EQ(reply["ok"], true) << reply.dump();
  std::vector<std::string> order;
  for (const auto& p : reply["policies"]) {
    order.push_back(p["kind"].get<std::string>() + " " + p["metadata"].value("namespace", "") +
                    "/" + p["metadata"]["name"].get<std::string>());
  }
  EXPECT_EQ(order, (std::vector<std::string>{
                       "NetworkPolicy shop/deny-all", "NetworkPolicy shop-2/deny-all",
                       "PodnetClusterwideNetworkPolicy /host-fw", "PodnetNetworkPolicy shop/api"}));
  // Each element is the stored object itself.
  EXPECT_EQ(reply["policies"][0], *stored(*store_, "/podnet/policies/NetworkPolicy/shop/deny-all"));
}

}  // namespace
}  // namespace podnet::registry
