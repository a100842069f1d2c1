// podnetd's --policy-enforcement on one node (the embedded store): what each mode means for two
// pods of one namespace, checked with real traffic. The truth table (tests/lab) covers the
// policies themselves in a cluster; this covers the agent-wide switch and the single-node path.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <memory>

#include "bpf/policy_maps.h"
#include "common/fd.h"
#include "harness.h"
#include "netlink/netns.h"
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
  // One more pod of namespace shop; returns its ADD's result.
  nlohmann::json addPod(const std::string& name) {
    pods_.push_back(std::make_unique<TestNetns>("pod"));
    auto r = runCni(cniEnv("ADD", "ctr-" + name, pods_.back()->path(), "eth0",
                           "K8S_POD_NAMESPACE=shop;K8S_POD_NAME=" + name),
                    netconf(agent_->socket()));
    EXPECT_EQ(r.exitCode, 0) << r.out;
    return r.json;
  }
  // A TCP socket created in pod i's network namespace (it stays there whichever thread uses it),
  // with one-second send and receive timeouts.
  UniqueFd tcpSocketIn(size_t pod) const {
    auto ns = netlink::Netns::open(pods_[pod]->path());
    EXPECT_TRUE(ns.ok());
    auto scope = netlink::NetnsScope::enter(*ns);
    EXPECT_TRUE(scope.ok());
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval second{1, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &second, sizeof(second));
    ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &second, sizeof(second));
    return fd;
  }
  static sockaddr_in addressOf(const std::string& ip, uint16_t port) {
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr);
    return sa;
  }
  static bool connectTo(int fd, const sockaddr_in& sa) {
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof(sa)) == 0;
  }
  // Whether pod a's flows show a dropped TCP packet to this port.
  bool dropSeen(uint16_t port) const {
    auto r = sh(podnetctlBinary() + " observe --socket " + agent_->socket() +
                " --pod shop/a --protocol TCP --verdict dropped --port " + std::to_string(port) +
                " -o json");
    return r.status == 0 && r.out.find("\"verdict\":\"dropped\"") != std::string::npos;
  }
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

// A connection accepted while nothing isolated the pods was recorded by conntrack unjudged; a
// policy that isolates them must cut it, not let it live for the conntrack lifetime (hours).
TEST_F(PolicyModeTest, AConnectionOpenedBeforeAnIsolatingPolicyIsCutByIt) {
  start("default");
  constexpr uint16_t kPort = 8080;
  UniqueFd listener = tcpSocketIn(1);
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in server = addressOf(ips_[1], kPort);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&server), sizeof(server)), 0);
  ASSERT_EQ(::listen(listener.get(), 4), 0);
  UniqueFd client = tcpSocketIn(0);
  ASSERT_TRUE(connectTo(client.get(), server)) << std::strerror(errno);
  UniqueFd accepted(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted.valid()) << std::strerror(errno);
  timeval second{1, 0};
  ::setsockopt(accepted.get(), SOL_SOCKET, SO_RCVTIMEO, &second, sizeof(second));
  char byte = 0;
  ASSERT_EQ(::send(client.get(), "1", 1, 0), 1);
  ASSERT_EQ(::recv(accepted.get(), &byte, 1, 0), 1) << "before the policy the connection works";

  kubectl("apply", kDenyAll);
  ASSERT_TRUE(settlesTo(false)) << "the policy is in force for new flows";
  ASSERT_EQ(::send(client.get(), "2", 1, 0), 1);  // into the socket buffer; TCP retransmits it
  EXPECT_TRUE(eventually([&] { return dropSeen(kPort); }, std::chrono::seconds(10)))
      << "the open connection's next packet is dropped";
  EXPECT_EQ(::recv(accepted.get(), &byte, 1, MSG_DONTWAIT), -1) << "got '" << byte << "'";
  EXPECT_EQ(::recv(accepted.get(), &byte, 1, 0), -1) << "a retransmission got through";

  UniqueFd fresh = tcpSocketIn(0);
  EXPECT_FALSE(connectTo(fresh.get(), server)) << "a new connection is dropped too";
}

// The ADD answers only once the pod's endpoint entry, and the isolation a policy gives it, are in
// the pinned maps: its first packet already meets its policy.
TEST_F(PolicyModeTest, EveryAddAnswersWithItsEndpointAndPolicyInTheMaps) {
  start("default");
  kubectl("apply", kDenyAll);
  auto maps = bpf::PolicyMaps::open(agent_->pinDir());
  ASSERT_TRUE(maps.ok()) << maps.error().message;
  for (int i = 0; i < 24; ++i) {
    const std::string name = "p" + std::to_string(i);
    nlohmann::json result = addPod(name);
    ASSERT_TRUE(result.is_object()) << name;
    // Right after the ADD returned: the host veth's entry, enforcing both ways.
    std::string veth = result["interfaces"][0]["name"];
    auto ifindex = node_->exec("cat /sys/class/net/" + veth + "/ifindex");
    ASSERT_EQ(ifindex.status, 0) << veth;
    auto entry = maps->endpoint(static_cast<uint32_t>(std::stoul(ifindex.out)));
    ASSERT_TRUE(entry.ok()) << entry.error().message;
    ASSERT_TRUE(entry->has_value()) << name << ": no pn_endpoints entry for " << veth;
    std::string address = result["ips"][0]["address"];
    EXPECT_EQ((*entry)->address.str(), address.substr(0, address.find('/'))) << name;
    EXPECT_TRUE((*entry)->enforceIngress && (*entry)->enforceEgress)
        << name << ": deny-all selects every pod of shop";
  }
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
