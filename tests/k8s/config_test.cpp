// Kubeconfig and in-cluster configuration, and how requests are named in errors. No server: the
// client against a real API server is client_test.cpp.
#include "k8s/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "k8s/client.h"
#include "support/temp_dir.h"

namespace podnet::k8s {
namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// Stand-ins for PEM text, base64-encoded as kubectl writes the *-data fields.
constexpr const char* kCaPem = "ca-pem\n";
constexpr const char* kCaPemBase64 = "Y2EtcGVtCg==";
constexpr const char* kKeyPemBase64 = "a2V5LXBlbQ==";  // "key-pem"

TEST(KubeconfigTest, ReadsTheCurrentContextsClusterAndUser) {
  testing::TempDir dir;
  write(dir.path() + "/config", std::string(R"(apiVersion: v1
kind: Config
current-context: lab
clusters:
- name: other
  cluster:
    server: https://10.0.0.1:6443
- name: lab
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: )") +
                                    kCaPemBase64 + R"(
contexts:
- name: lab
  context:
    cluster: lab
    user: node1
- name: token
  context:
    cluster: other
    user: agent
users:
- name: node1
  user:
    client-certificate: certs/node1.crt
    client-key-data: )" + kKeyPemBase64 +
                                    R"(
- name: agent
  user:
    token: abc.def
)");
  auto config = loadKubeconfig(dir.path() + "/config");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server, "https://127.0.0.1:6443");
  EXPECT_EQ(config->ca.data, kCaPem);
  // Relative files are the kubeconfig folder's, as kubectl reads them.
  EXPECT_EQ(config->clientCert.file, dir.path() + "/certs/node1.crt");
  EXPECT_EQ(config->clientKey.data, "key-pem");
  EXPECT_TRUE(config->token.empty());

  auto other = loadKubeconfig(dir.path() + "/config", "token");
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(other->server, "https://10.0.0.1:6443");
  EXPECT_EQ(other->token, "abc.def");
  EXPECT_TRUE(other->clientCert.empty());

  auto missing = loadKubeconfig(dir.path() + "/config", "nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_EQ(missing.error().message,
            "kubeconfig " + dir.path() + "/config: context \"nope\": no such context");
}

TEST(KubeconfigTest, RefusesWhatItCannotUse) {
  testing::TempDir dir;
  write(dir.path() + "/bad", "clusters: [\n");
  auto bad = loadKubeconfig(dir.path() + "/bad");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, Errc::kDecode);

  write(dir.path() + "/nodata", R"(current-context: c
clusters: [{name: k, cluster: {server: "https://x", certificate-authority-data: "not base64!"}}]
contexts: [{name: c, context: {cluster: k}}]
)");
  auto nodata = loadKubeconfig(dir.path() + "/nodata");
  ASSERT_FALSE(nodata.ok());
  EXPECT_NE(nodata.error().message.find("cluster \"k\" certificate-authority-data: not base64"),
            std::string::npos)
      << nodata.error().message;

  auto absent = loadKubeconfig(dir.path() + "/absent");
  ASSERT_FALSE(absent.ok());
  EXPECT_EQ(absent.error().code, Errc::kNotFound);
}

TEST(InClusterConfigTest, UsesTheServiceAccountAndTheServiceEnvironment) {
  testing::TempDir dir;
  write(dir.path() + "/token", "tok\n");
  write(dir.path() + "/ca.crt", kCaPem);
  auto config = inClusterConfig(
      {{"KUBERNETES_SERVICE_HOST", "10.96.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}, dir.path());
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->token, "tok");
  EXPECT_EQ(config->ca.file, dir.path() + "/ca.crt");

  auto v6 = inClusterConfig(
      {{"KUBERNETES_SERVICE_HOST", "fd00::1"}, {"KUBERNETES_SERVICE_PORT", "443"}}, dir.path());
  ASSERT_TRUE(v6.ok());
  EXPECT_EQ(v6->server, "https://[fd00::1]:443");

  auto outside = inClusterConfig({}, dir.path());
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.error().code, Errc::kNotFound);
  EXPECT_NE(outside.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
}

TEST(ResourcePathTest, CoreAndGroupResourcesAtEveryScope) {
  EXPECT_EQ(resourcePath("v1", "pods", "shop", "web"), "/api/v1/namespaces/shop/pods/web");
  EXPECT_EQ(resourcePath("v1", "nodes"), "/api/v1/nodes");
  EXPECT_EQ(resourcePath("networking.k8s.io/v1", "networkpolicies"),
            "/apis/networking.k8s.io/v1/networkpolicies");
  EXPECT_EQ(resourcePath("podnet.io/v1", "ips", "", "10.0.0.5"), "/apis/podnet.io/v1/ips/10.0.0.5");
}

TEST(DescribeRequestTest, NamesVerbResourceAndScope) {
  EXPECT_EQ(describeRequest("list", "/apis/networking.k8s.io/v1/networkpolicies"),
            "list networkpolicies at cluster scope");
  EXPECT_EQ(describeRequest("list", "/api/v1/namespaces/shop/configmaps?limit=2"),
            "list configmaps in namespace shop");
  EXPECT_EQ(describeRequest("get", "/api/v1/namespaces/shop/pods/web"), "get pods shop/web");
  EXPECT_EQ(describeRequest("update", "/api/v1/namespaces/shop/pods/web/status"),
            "update pods/status shop/web");
  EXPECT_EQ(describeRequest("delete", "/api/v1/nodes/n1"), "delete nodes n1");
  EXPECT_EQ(describeRequest("get", "/api/v1/namespaces/shop"), "get namespaces shop");
  EXPECT_EQ(describeRequest("get", "/readyz"), "get /readyz");
}

}  // namespace
}  // namespace podnet::k8s
