// podnetd's --policy-enforcement on one node (the embedded store): what each mode means for two
// pods of one namespace, checked with real traffic. The truth table (tests/lab) covers the
// policies themselves in a cluster; this covers the agent-wide switch and the single-node path.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>

#include "harness.h"
#include "support/eventually.h"

namespace podnet::testing {
namespace {

constexpr const char* kDenyAll = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
)";

constexpr const char* kAllowAll = R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all, namespace: shop}
spec:
  podSelector: {}
  ingress: [{}]
  egress: [{}]
)";

// Deny rules for every peer in both directions: the strongest thing a policy can say.
constexpr const char* kDenyEverything = R"(apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: deny-everything, namespace: shop}
spec:
  endpointSelector: {}
  ingressDeny: [{fromEntities: [all]}]
  egressDeny: [{toEntities: [all]}]
)";

class PolicyModeTest : public ::testing::Test {
 protected:
  void start(const std::string& mode) {
    node_ = std::make_unique<TestNetns>("node");
    agent_ = std::make_unique<AgentProcess>(*node_, dir_.path(),
                                            std::vector<std::string>{"--policy-enforcement", mode});
    for (const char* name : {"a", "b"}) {
      pods_.push_back(std::make_unique<TestNetns>("pod"));
      auto r = runCni(cniEnv("ADD", std::string("ctr-") + name, pods_.back()->path(), "eth0",
                             std::string("K8S_POD_NAMESPACE=shop;K8S_POD_NAME=") + name),
                      netconf(agent_->socket()));
      ASSERT_EQ(r.exitCode, 0) << r.out;
      std::string address = r.json["ips"][0]["address"];
      ips_.push_back(address.substr(0, address.find('/')));
    }
  }
  void TearDown() override {
    agent_.reset();
    pods_.clear();
    node_.reset();
  }

  // podnetctl apply -f / delete -f of one manifest against this node's agent.
  void kubectl(const std::string& verb, const std::string& manifest) {
    std::string file = dir_.path() + "/policy.yaml";
    std::ofstream(file) << manifest;
    auto r = sh(podnetctlBinary() + " --socket " + agent_->socket() + " " + verb + " -f " + file);
    ASSERT_EQ(r.status, 0) << r.out;
  }
  bool aReachesB() const { return pods_[0]->ping(ips_[1]); }
  // The policy revision that judged pod a's newest ICMP flow (0: none yet).
  uint64_t newestRevision() const {
    auto r = sh(podnetctlBinary() + " observe --socket " + agent_->socket() +
                " --pod shop/a --protocol ICMP --last 1 -o json");
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    return j.is_object() ? j.value("policyRevision", uint64_t{0}) : 0;
  }
  // A policy reaches the maps moments after apply returns.
  bool settlesTo(bool reachable) const {
    return eventually([&] { return aReachesB() == reachable; }, std::chrono::seconds(10));
  }

  TempDir dir_;
  std::unique_ptr<TestNetns> node_;
  std::unique_ptr<AgentProcess> agent_;
  std::vector<std::unique_ptr<TestNetns>> pods_;
  std::vector<std::string> ips_;
};

TEST_F(PolicyModeTest, DefaultIsolatesOnlyWhatAPolicySelects) {
  start("default");
  EXPECT_TRUE(aReachesB());
  kubectl("apply", kDenyAll);
  EXPECT_TRUE(settlesTo(false));
  EXPECT_TRUE(node_->ping(ips_[0])) << "the pod's own node always passes";
  kubectl("delete", kDenyAll);
  EXPECT_TRUE(settlesTo(true));
}

TEST_F(PolicyModeTest, AlwaysIsolatesEveryPodUntilAPolicyAllows) {
  start("always");
  EXPECT_FALSE(aReachesB());
  EXPECT_TRUE(node_->ping(ips_[0])) << "the pod's own node always passes";
  kubectl("apply", kAllowAll);
  EXPECT_TRUE(settlesTo(true));
}

TEST_F(PolicyModeTest, NeverDropsNothingButStillReportsTheFlows) {
  start("never");
  EXPECT_TRUE(aReachesB());
  const uint64_t before = newestRevision();
  kubectl("apply", kDenyEverything);
  // Each ping is a new flow; once one was judged under a later policy revision, the deny rules
  // are in the maps, and "never" must still forward.
  EXPECT_TRUE(eventually([&] { return aReachesB() && newestRevision() > before; },
                         std::chrono::seconds(10)));
  auto flows = sh(podnetctlBinary() + " observe --socket " + agent_->socket() +
                  " --pod shop/a --protocol ICMP --last 10 -o json");
  ASSERT_EQ(flows.status, 0) << flows.out;
  EXPECT_NE(flows.out.find("\"verdict\":\"forwarded\""), std::string::npos) << flows.out;
  EXPECT_EQ(flows.out.find("\"verdict\":\"dropped\""), std::string::npos) << flows.out;
}

}  // namespace
}  // namespace podnet::testing
