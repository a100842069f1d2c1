#include "registry/apply.h"

#include <gtest/gtest.h>

#include "model/manifest.h"
#include "registry/subnets.h"
#include "registry_fixture.h"

namespace podnet::registry {
namespace {

std::vector<std::string> lines(const std::vector<AppliedObject>& objects) {
  std::vector<std::string> out;
  for (const auto& o : objects) out.push_back(describe(o));
  return out;
}

const char* kShopAndBlue = R"(apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {team: a}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec:
  cidrBlock: 10.1.0.0/16
  excludeIps: [10.1.0.2..10.1.0.9]
  namespaces: [shop]
)";

TEST_F(RegistryTest, ApplyCreatesEveryObjectThenReportsThemUnchanged) {
  auto applied = applyObjects(*store_, manifest(kShopAndBlue));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(lines(*applied),
            (std::vector<std::string>{"namespace/shop created", "subnet/blue created"}));
  EXPECT_EQ(toJson((*applied)[1]),
            nlohmann::json({{"kind", "Subnet"}, {"name", "blue"}, {"action", "created"}}));

  // The namespace carries Kubernetes' automatic name label next to the user's.
  auto ns = model::namespaceFromJson(
      nlohmann::json::parse((*store_->get("/podnet/namespaces/shop"))->value));
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ(ns->metadata.labels,
            (model::Labels{{"team", "a"}, {"kubernetes.io/metadata.name", "shop"}}));
  auto subnets = *listSubnets(*store_);
  ASSERT_EQ(subnets.size(), 1u);
  EXPECT_EQ(subnets[0].excludeIps[0].str(), "10.1.0.2..10.1.0.9");

  int64_t before = revision();
  applied = applyObjects(*store_, manifest(kShopAndBlue));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(lines(*applied),
            (std::vector<std::string>{"namespace/shop unchanged", "subnet/blue unchanged"}));
  EXPECT_EQ(revision(), before);

  std::string changed = kShopAndBlue;
  changed.replace(changed.find("team: a"), 7, "team: b");
  applied = applyObjects(*store_, manifest(changed));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(lines(*applied),
            (std::vector<std::string>{"namespace/shop configured", "subnet/blue unchanged"}));
}

TEST_F(RegistryTest, OneInvalidDocumentRefusesTheWholeManifest) {
  auto applied = applyObjects(*store_, manifest(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: 10.1.0.0/16, gateway: 10.2.0.1}
)"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "object 2 (Subnet blue): spec.gateway: 10.2.0.1 is outside spec.cidrBlock 10.1.0.0/16");
  EXPECT_EQ(revision(), 0) << "nothing was written";

  applied = applyObjects(*store_, manifest(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Service
metadata: {name: web}
)"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "object 2 (Service web): unknown kind \"Service\" of apiVersion \"v1\" (podnet knows "
            "v1 Namespace, v1 Pod, podnet.io/v1 Subnet, networking.k8s.io/v1 NetworkPolicy, "
            "podnet.io/v1 PodnetNetworkPolicy, podnet.io/v1 PodnetClusterwideNetworkPolicy)");
  EXPECT_EQ(revision(), 0);
}

TEST_F(RegistryTest, SubnetsOfOneManifestAreCheckedAgainstEachOtherBeforeAnyWrite) {
  ASSERT_TRUE(applySubnet(*store_, makeSubnet("red", "10.5.0.0/16")).ok());
  int64_t before = revision();
  auto applied = applyObjects(*store_, manifest(R"(apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: green}
spec: {cidrBlock: 10.3.0.0/16}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: 10.3.128.0/17}
)"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "object 1 (Subnet green): spec.cidrBlock: 10.3.0.0/16 overlaps Subnet blue "
            "(10.3.128.0/17)");
  EXPECT_EQ(revision(), before);

  // Moving red away and blue into red's old range in one manifest is fine: the batch's version
  // of red is what blue is checked against.
  applied = applyObjects(*store_, manifest(R"(apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: red}
spec: {cidrBlock: 10.6.0.0/16}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: 10.5.0.0/16}
)"));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(lines(*applied),
            (std::vector<std::string>{"subnet/red configured", "subnet/blue created"}));
}

TEST_F(RegistryTest, AnObjectListedTwiceIsRefused) {
  auto applied = applyObjects(*store_, manifest(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {a: b}}
)"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "object 2 (Namespace shop): appears twice (also object 1 (Namespace shop))");
  EXPECT_EQ(revision(), 0);
}

TEST_F(RegistryTest, AnErrorWhileApplyingNamesWhatWasAppliedBeforeIt) {
  model::Subnet blue = makeSubnet("blue", "10.1.0.0/24");
  ASSERT_TRUE(applySubnet(*store_, blue).ok());
  reserve(blue, "net/c1/eth0");
  auto applied = applyObjects(*store_, manifest(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: 10.2.0.0/24}
)"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "object 2 (Subnet blue): spec.cidrBlock: cannot change 10.1.0.0/24 to 10.2.0.0/24 "
            "while 1 address of the subnet is in use (remove the pods that hold them first) "
            "(applied before this error: namespace/shop created)");
  EXPECT_TRUE(*store_->get("/podnet/namespaces/shop"));
}

TEST_F(RegistryTest, DeleteRemovesEachObjectByKindAndName) {
  ASSERT_TRUE(applyObjects(*store_, manifest(kShopAndBlue)).ok());
  // Only kind and name matter: the spec may have changed since, or no longer validate.
  auto deleted = applyObjects(*store_, {});
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(deleted->empty());
  deleted = deleteObjects(*store_, manifest(R"(apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: nonsense}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
)"));
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(lines(*deleted),
            (std::vector<std::string>{"subnet/blue deleted", "namespace/shop deleted"}));
  EXPECT_FALSE(*store_->get("/podnet/namespaces/shop"));
  EXPECT_TRUE(listSubnets(*store_)->empty());

  deleted = deleteObjects(*store_, manifest(kShopAndBlue));
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().code, Errc::kNotFound);
  EXPECT_EQ(deleted.error().message, "object 1 (Namespace shop): not found");
}

TEST_F(RegistryTest, DeleteOfASubnetInUseIsRefusedAfterTheObjectsBeforeIt) {
  ASSERT_TRUE(applyObjects(*store_, manifest(kShopAndBlue)).ok());
  reserve(*listSubnets(*store_)->begin(), "net/c1/eth0");
  auto deleted = deleteObjects(*store_, manifest(kShopAndBlue));
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().message,
            "object 2 (Subnet blue): 1 address of the subnet is still in use (remove the pods "
            "that hold them first) (deleted before this error: namespace/shop deleted)");
  EXPECT_EQ(listSubnets(*store_)->size(), 1u);

  deleted = deleteObjects(*store_, {nlohmann::json{{"apiVersion", "v1"}, {"kind", "Service"}}});
  ASSERT_FALSE(deleted.ok());
  EXPECT_EQ(deleted.error().message.rfind("object 1 (Service): unknown kind \"Service\"", 0), 0u)
      << deleted.error().message;
}

}  // namespace
TEST_F(RegistryTest, APodNeedsItsNamespaceAndIsDeletedByNamespaceAndName) {
  const char* pod = R"(apiVersion: v1
kind: Pod
metadata: {name: web, namespace: shop, labels: {app: web}}
spec:
  nodeName: n1
  containers:
  - name: main
    ports: [{name: serve-80-tcp, containerPort: 80}])";
  auto orphan = applyObjects(*store_, manifest(pod));
  ASSERT_FALSE(orphan.ok());
  EXPECT_NE(orphan.error().message.find("metadata.namespace: namespace \"shop\" not found"),
            std::string::npos)
      << orphan.error().message;
  EXPECT_TRUE(store_->list(model::Pod::kPrefix)->empty());

  ASSERT_TRUE(applyObjects(*store_, manifest(kShopAndBlue)).ok());
  auto applied = applyObjects(*store_, manifest(pod));
  ASSERT_TRUE(applied.ok()) << applied.error().message;
  EXPECT_EQ(describe(applied->at(0)), "pod/shop/web created");
  EXPECT_EQ(describe(applyObjects(*store_, manifest(pod))->at(0)), "pod/shop/web unchanged");
  auto stored = store_->get(model::Pod::keyFor("shop", "web"));
  ASSERT_TRUE(stored.ok() && *stored);
  auto decoded = model::podFromJson(nlohmann::json::parse((*stored)->value));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->ports.at(0).name, "serve-80-tcp");

  auto deleted = deleteObjects(*store_, manifest(pod));
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(describe(deleted->at(0)), "pod/shop/web deleted");
  EXPECT_TRUE(store_->list(model::Pod::kPrefix)->empty());
}

}  // namespace podnet::registry
