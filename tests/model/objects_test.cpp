#include "model/objects.h"

#include <gtest/gtest.h>

namespace podnet::model {
namespace {

std::string errorOf(const Status& st) {
  EXPECT_FALSE(st.ok());
  return st.ok() ? "" : st.error().message;
}

TEST(ObjectsTest, KeysFollowTheStoreLayout) {
  Namespace ns;
  ns.metadata.name = "shop";
  EXPECT_EQ(ns.key(), "/podnet/namespaces/shop");
  Pod pod;
  pod.metadata.namespace_ = "shop";
  pod.metadata.name = "web-1";
  EXPECT_EQ(pod.key(), "/podnet/pods/shop/web-1");
  EXPECT_EQ(Pod::keyFor("a", "b"), "/podnet/pods/a/b");
  Node node;
  node.name = "n1";
  EXPECT_EQ(node.key(), "/podnet/nodes/n1");
}

TEST(ObjectsTest, NamespaceRoundTripsWithLabelsAndAnnotations) {
  auto ns = namespaceFromJson(nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "shop", "labels": {"team": "a", "example.com/tier": "web"},
                 "annotations": {"note": "anything goes: here"}}})"));
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  EXPECT_EQ(ns->metadata.name, "shop");
  EXPECT_EQ(ns->metadata.labels.at("example.com/tier"), "web");
  EXPECT_EQ(ns->metadata.annotations.at("note"), "anything goes: here");
  nlohmann::json j = toJson(*ns);
  EXPECT_EQ(j["apiVersion"], "v1");
  EXPECT_EQ(j["kind"], "Namespace");
  EXPECT_FALSE(j["metadata"].contains("namespace"));
  auto again = namespaceFromJson(j);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->metadata.labels, ns->metadata.labels);
  EXPECT_EQ(again->metadata.annotations, ns->metadata.annotations);
}

TEST(ObjectsTest, MetadataErrorsNameTheObjectAndTheField) {
  EXPECT_EQ(namespaceFromJson(nlohmann::json::parse(R"({"metadata": {}})")).error().message,
            "Namespace: metadata.name: required");
  EXPECT_EQ(namespaceFromJson(nlohmann::json::array()).error().message,
            "Namespace: not a JSON object");
  EXPECT_EQ(namespaceFromJson(nlohmann::json::parse(R"({"metadata": 3})")).error().message,
            "Namespace: metadata: not an object");
  EXPECT_EQ(namespaceFromJson(
                nlohmann::json::parse(R"({"metadata": {"name": "a", "labels": {"port": 80}}})"))
                .error()
                .message,
            "Namespace a: metadata.labels.port: must be a string");
  EXPECT_EQ(namespaceFromJson(nlohmann::json::parse(R"({"metadata": {"name": "a", "labels": []}})"))
                .error()
                .message,
            "Namespace a: metadata.labels: must be a map");
  auto bad = namespaceFromJson(
      nlohmann::json::parse(R"({"metadata": {"name": "a", "labels": {"-x": "y"}}})"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.rfind("Namespace a: metadata.labels: invalid key \"-x\"", 0), 0u);
}

TEST(ObjectsTest, PodRoundTripsWithItsNodeAndPorts) {
  auto pod = podFromJson(nlohmann::json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "shop", "labels": {"app": "web"}},
    "spec": {"nodeName": "n1", "containers": [
      {"name": "a", "ports": [{"containerPort": 80, "name": "http"}]},
      {"name": "b", "ports": [{"containerPort": 53, "protocol": "UDP"}]}]}})"));
  ASSERT_TRUE(pod.ok()) << pod.error().message;
  EXPECT_EQ(pod->nodeName, "n1");
  ASSERT_EQ(pod->ports.size(), 2u);
  EXPECT_EQ(pod->ports[0], (ContainerPort{"http", 80, "TCP"}));
  EXPECT_EQ(pod->ports[1], (ContainerPort{"", 53, "UDP"}));
  auto again = podFromJson(toJson(*pod));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->ports, pod->ports);
  EXPECT_EQ(again->metadata.labels, pod->metadata.labels);
  EXPECT_EQ(again->key(), "/podnet/pods/shop/web-1");
}

TEST(ObjectsTest, PodErrorsNameTheField) {
  auto pod = [](const char* spec) {
    return podFromJson(nlohmann::json::parse(
        std::string(R"({"metadata": {"name": "a", "namespace": "x"}, "spec": )") + spec + "}"));
  };
  EXPECT_EQ(pod(R"({"containers": [{"ports": [{"containerPort": 80}, {"containerPort": 0}]}]})")
                .error()
                .message,
            "Pod x/a: spec.containers[0].ports[1].containerPort: required, 1-65535");
  EXPECT_EQ(pod(R"({"containers": [{"ports": [{"containerPort": 65536}]}]})").error().message,
            "Pod x/a: spec.containers[0].ports[0].containerPort: required, 1-65535");
  EXPECT_EQ(pod(R"({"containers": [{"ports": [{"containerPort": 80, "protocol": "ICMP"}]}]})")
                .error()
                .message,
            "Pod x/a: spec.containers[0].ports[0].protocol: \"ICMP\" is not TCP, UDP or SCTP");
  EXPECT_EQ(pod(R"({"containers": {}})").error().message,
            "Pod x/a: spec.containers: must be a list");
  EXPECT_EQ(pod("[]").error().message, "Pod x/a: spec: not an object");
  EXPECT_EQ(podFromJson(nlohmann::json::parse(R"({"metadata": {"name": "a"}})")).error().message,
            "Pod /a: metadata.namespace: required");
}

TEST(ObjectsTest, NodeRoundTripsAndNeedsItsUnderlayAddress) {
  Node node;
  node.name = "n1";
  node.underlayIp = *Ipv4::parse("172.30.0.11");
  node.vtepMac = "0e:70:ac:1e:00:0b";
  node.backend = Backend::kVxlan;
  node.labels = {{"zone", "a"}};
  nlohmann::json j = toJson(node);
  EXPECT_EQ(j["apiVersion"], "podnet.io/v1");
  EXPECT_EQ(j["spec"]["underlayIp"], "172.30.0.11");
  auto again = nodeFromJson(j);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->underlayIp, node.underlayIp);
  EXPECT_EQ(again->vtepMac, node.vtepMac);
  EXPECT_EQ(again->backend, Backend::kVxlan);
  EXPECT_EQ(again->labels, node.labels);

  // The backend is "host-gw" on the wire, an enum in memory; an agent that did not say is unset.
  node.backend = Backend::kHostGw;
  EXPECT_EQ(toJson(node)["spec"]["backend"], "host-gw");
  EXPECT_EQ(nodeFromJson(toJson(node))->backend, Backend::kHostGw);
  j["spec"]["backend"] = "";
  EXPECT_EQ(nodeFromJson(j)->backend, std::nullopt);
  j["spec"]["backend"] = "geneve";
  EXPECT_EQ(nodeFromJson(j).error().message,
            "Node n1: spec.backend: unknown value 'geneve': use vxlan or host-gw");
  j["spec"]["backend"] = "vxlan";

  j["spec"]["underlayIp"] = "172.30.0.300";
  EXPECT_EQ(nodeFromJson(j).error().message,
            "Node n1: spec.underlayIp: \"172.30.0.300\" is not an IPv4 address");
  j["spec"].erase("underlayIp");
  EXPECT_EQ(nodeFromJson(j).error().message, "Node n1: spec.underlayIp: required");
}

TEST(ObjectsTest, LabelsFollowKubernetesRules) {
  EXPECT_TRUE(validateLabels({{"app", "web"},
                              {"example.com/tier", "front-end_1.x"},
                              {"kubernetes.io/metadata.name", "shop"},
                              {"empty", ""},
                              {std::string(63, 'a'), std::string(63, 'b')}})
                  .ok());
  EXPECT_EQ(
      errorOf(validateLabels({{"a b", "x"}})).rfind("metadata.labels: invalid key \"a b\"", 0), 0u);
  EXPECT_EQ(errorOf(validateLabels({{std::string(64, 'a'), "x"}}))
                .rfind("metadata.labels: invalid key", 0),
            0u);
  EXPECT_EQ(errorOf(validateLabels({{"Example.com/x", "y"}}))
                .rfind("metadata.labels: invalid key \"Example.com/x\"", 0),
            0u);
  EXPECT_EQ(errorOf(validateLabels({{"/x", "y"}})).rfind("metadata.labels: invalid key \"/x\"", 0),
            0u);
  EXPECT_EQ(errorOf(validateLabels({{"app", "-web"}}))
                .rfind("metadata.labels.app: invalid value \"-web\"", 0),
            0u);
  EXPECT_EQ(errorOf(validateLabels({{"app", std::string(64, 'b')}}))
                .rfind("metadata.labels.app: invalid value", 0),
            0u);
}

}  // namespace
}  // namespace podnet::model
