// podnetctl apply/delete/get subnets|policies end to end against a real agent socket whose handler
// is the registry over an embedded store, as podnetd serves it.
#include "ctl/resource_commands.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "registry/service.h"
#include "rpc/unix_socket.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace podnet::ctl {
namespace {

const char* kManifest = R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata:
  name: blue
spec:
  cidrBlock: 10.1.0.0/24
  namespaces: [shop]
)";

class ResourceCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::SqliteStore::open(dir_.path() + "/podnet.db");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    store_ = std::move(opened).value();
    auto server = rpc::Server::listen(socket_, [this](const nlohmann::json& request) {
      ++requests_;
      return registry::answer(*store_, request);
    });
    ASSERT_TRUE(server.ok()) << server.error().message;
    server_.emplace(std::move(server).value());
    thread_ = std::thread([this] { server_->serve(); });
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (thread_.joinable()) thread_.join();
  }

  std::string write(const std::string& name, const std::string& text) {
    std::string path = dir_.path() + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  struct Run {
    int code;
    std::string out, err;
  };
  Run run(ManifestUse use, std::vector<std::string> files, const std::string& stdinText = "",
          const std::string& socket = "") {
    std::istringstream in(stdinText);
    std::ostringstream out, err;
    int code = runManifests(socket.empty() ? socket_ : socket, files, use, in, out, err);
    return {code, out.str(), err.str()};
  }
  Run getSubnets(OutputFormat format) {
    std::ostringstream out, err;
    int code = runGetSubnets(socket_, format, out, err);
    return {code, out.str(), err.str()};
  }
  Run getPolicies(OutputFormat format, const std::string& namespace_ = "") {
    std::ostringstream out, err;
    int code = runGetPolicies(socket_, format, namespace_, out, err);
    return {code, out.str(), err.str()};
  }

  testing::TempDir dir_;
  std::string socket_ = dir_.path() + "/podnetd.sock";
  std::unique_ptr<store::SqliteStore> store_;
  std::optional<rpc::Server> server_;
  std::thread thread_;
  std::atomic<int> requests_{0};
};

TEST_F(ResourceCommandsTest, ApplyPrintsWhatHappenedToEachObjectLikeKubectl) {
  std::string file = write("subnet.yaml", kManifest);
  Run r = run(ManifestUse::kApply, {file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "namespace/shop created\nsubnet/blue created\n");
  EXPECT_EQ(r.err, "");

  r = run(ManifestUse::kApply, {file});
  EXPECT_EQ(r.out, "namespace/shop unchanged\nsubnet/blue unchanged\n");

  // From stdin, with a change.
  std::string changed = kManifest;
  changed.replace(changed.find("namespaces: [shop]"), 18, "namespaces: [shop, web]");
  r = run(ManifestUse::kApply, {"-"}, changed);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "namespace/shop unchanged\nsubnet/blue configured\n");
}

TEST_F(ResourceCommandsTest, AMalformedFileFailsWithoutContactingTheAgent) {
  std::string file = write("bad.yaml", R"(apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: ok}
spec: {cidrBlock: 10.7.0.0/16}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec:
  cidrBlock: 10.1.0.0/16
  gateway: 10.2.0.1
)");
  Run r = run(ManifestUse::kApply, {file});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "podnetctl: " + file +
                       " document 2 (Subnet blue): spec.gateway: 10.2.0.1 is outside "
                       "spec.cidrBlock 10.1.0.0/16\n");
  EXPECT_EQ(requests_.load(), 0);

  r = run(ManifestUse::kApply, {"-"}, "apiVersion: v1\nkind: Namespace\n  metadata: x\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("podnetctl: stdin document 1 line 3 column ", 0), 0u) << r.err;

  r = run(ManifestUse::kApply, {dir_.path() + "/missing.yaml"});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "podnetctl: " + dir_.path() +
                       "/missing.yaml: cannot open: No such file or directory\n");

  r = run(ManifestUse::kApply, {"-"}, "# nothing here\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "podnetctl: no objects in stdin\n");
  EXPECT_EQ(requests_.load(), 0);
}

TEST_F(ResourceCommandsTest, TheAgentsRefusalIsPrintedAndExitsOne) {
  ASSERT_EQ(run(ManifestUse::kApply, {write("blue.yaml", kManifest)}).code, 0);
  Run r = run(ManifestUse::kApply, {"-"}, R"(apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: red}
spec: {cidrBlock: 10.1.0.128/25}
)");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "podnetctl: podnetd: object 1 (Subnet red): spec.cidrBlock: 10.1.0.128/25 overlaps "
            "Subnet blue (10.1.0.0/24)\n");
}

TEST_F(ResourceCommandsTest, GetSubnetsShowsTheAgentsSubnetsAndTheJsonAppliesBackUnchanged) {
  ASSERT_EQ(run(ManifestUse::kApply, {write("blue.yaml", kManifest)}).code, 0);
  Run r = getSubnets(OutputFormat::kTable);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "NAME   CIDR          GATEWAY    USED   FREE   EXCLUDED   NAMESPACES\n"
            "blue   10.1.0.0/24   10.1.0.1   0      253    <none>     shop\n");

  r = getSubnets(OutputFormat::kJson);
  ASSERT_EQ(r.code, 0) << r.err;
  Run again = run(ManifestUse::kApply, {"-"}, r.out);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out, "subnet/blue unchanged\n");
}

TEST_F(ResourceCommandsTest, DeleteRemovesTheObjectsOfTheFile) {
  std::string file = write("blue.yaml", kManifest);
  ASSERT_EQ(run(ManifestUse::kApply, {file}).code, 0);
  Run r = run(ManifestUse::kDelete, {file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "namespace/shop deleted\nsubnet/blue deleted\n");
  EXPECT_EQ(getSubnets(OutputFormat::kTable).out,
            "NAME   CIDR   GATEWAY   USED   FREE   EXCLUDED   NAMESPACES\n");

  r = run(ManifestUse::kDelete, {file});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "podnetctl: podnetd: object 1 (Namespace shop): not found\n");
}

const char* kPolicies = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
---
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: host-fw}
spec:
  nodeSelector: {matchLabels: {role: edge}}
  ingressDeny: [{fromEntities: [world]}]
)";

TEST_F(ResourceCommandsTest, PoliciesAreAppliedListedAndDeleted) {
  std::string file = write("policies.yaml", kPolicies);
  Run r = run(ManifestUse::kApply, {file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "networkpolicy/shop/deny-all created\npodnetclusterwidenetworkpolicy/host-fw created\n");
  EXPECT_EQ(run(ManifestUse::kApply, {file}).out,
            "networkpolicy/shop/deny-all unchanged\n"
            "podnetclusterwidenetworkpolicy/host-fw unchanged\n");

  r = getPolicies(OutputFormat::kTable);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "KIND                             NAMESPACE   NAME       SELECTOR         TYPES\n"
      "NetworkPolicy                    shop        deny-all   <all>            Ingress,Egress\n"
      "PodnetClusterwideNetworkPolicy   <none>      host-fw    node:role=edge   ingressDeny\n");
  EXPECT_EQ(getPolicies(OutputFormat::kTable, "shop").out,
            "KIND            NAMESPACE   NAME       SELECTOR   TYPES\n"
            "NetworkPolicy   shop        deny-all   <all>      Ingress,Egress\n");

  // -o json gives back what apply takes: nothing changes.
  r = getPolicies(OutputFormat::kJson);
  ASSERT_EQ(r.code, 0) << r.err;
  Run again = run(ManifestUse::kApply, {"-"}, r.out);
  EXPECT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(again.out,
            "networkpolicy/shop/deny-all unchanged\n"
            "podnetclusterwidenetworkpolicy/host-fw unchanged\n");

  r = run(ManifestUse::kDelete, {file});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(
      r.out,
      "networkpolicy/shop/deny-all deleted\npodnetclusterwidenetworkpolicy/host-fw deleted\n");
  EXPECT_EQ(getPolicies(OutputFormat::kTable).out, "KIND   NAMESPACE   NAME   SELECTOR   TYPES\n");
  r = run(ManifestUse::kDelete, {file});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "podnetctl: podnetd: object 1 (NetworkPolicy shop/deny-all): not found\n");
}

TEST_F(ResourceCommandsTest, AnInvalidPolicyFailsWithoutContactingTheAgent) {
  std::string file = write("bad-policy.yaml", std::string(kManifest) + R"(---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  ingress: [{ports: [{port: 80, endPort: 79}]}]
)");
  Run r = run(ManifestUse::kApply, {file});
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err,
            "podnetctl: " + file +
                " document 3 (NetworkPolicy shop/deny-all): spec.ingress[0].ports[0].endPort: "
                "79 is below port 80\n");
  EXPECT_EQ(requests_.load(), 0);

  // A delete needs only the kind and the name.
  r = run(ManifestUse::kDelete, {"-"}, "apiVersion: podnet.io/v1\nkind: PodnetNetworkPolicy\n");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "podnetctl: stdin document 1 (PodnetNetworkPolicy): metadata.name: required\n");
  EXPECT_EQ(requests_.load(), 0);
}

TEST_F(ResourceCommandsTest, AnAgentThatIsNotRunningIsNamed) {
  Run r =
      run(ManifestUse::kApply, {write("blue.yaml", kManifest)}, "", dir_.path() + "/nobody.sock");
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err.rfind("podnetctl: cannot reach podnetd: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find("use --socket"), std::string::npos);
}

}  // namespace
}  // namespace podnet::ctl
