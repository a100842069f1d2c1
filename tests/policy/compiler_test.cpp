// The compiler, judged by what the kernel would decide: each test builds a small cluster, applies
// policies, compiles and writes the maps as the agent would, then checks truth tables of
// "pod A -> pod B port P/proto: allowed or dropped" with the kernel's lookup (policy_lab.h).
#include <gtest/gtest.h>

#include <set>

#include "policy/compiler.h"
#include "policy_lab.h"

namespace podnet::policy {
namespace {

using testing::kIcmp;
using testing::kSctp;
using testing::kTcp;
using testing::kUdp;
using testing::Lab;
using Flow = Lab::Flow;

model::ContainerPort port(const std::string& name, uint16_t number,
                          const std::string& proto = "TCP") {
  return {name, number, proto};
}

// Two nodes; shop has a frontend and two backends, other has a client; both nodes register.
class CompilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    lab.node("n1", "172.30.0.11", {{"role", "worker"}});
    lab.node("n2", "172.30.0.12", {{"role", "edge"}});
    lab.ns("shop", {{"team", "a"}});
    lab.ns("other", {{"team", "b"}});
    lab.pod("shop/frontend", "n1", "10.244.0.10", {{"app", "frontend"}});
    lab.pod("shop/backend", "n2", "10.244.0.20", {{"app", "backend"}}, {port("http", 8080)});
    lab.pod("shop/db", "n2", "10.244.0.30", {{"app", "db"}});
    lab.pod("other/client", "n1", "10.244.0.40", {{"app", "frontend"}});
  }

  bool ok(const std::string& from, const std::string& to, uint16_t p = 80, uint8_t proto = kTcp) {
    return lab.allowed(Flow{from, to, proto, p});
  }

  Lab lab;
};

TEST_F(CompilerTest, NoPolicyForwardsEverythingAndEnforcesNothing) {
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend"));
  EXPECT_TRUE(ok("other/client", "shop/db", 5432));
  EXPECT_TRUE(lab.compiled("n1").entries.empty());
  const auto& ep = lab.compiled("n2").endpoints.at("shop/backend");
  EXPECT_FALSE(ep.enforceIngress);
  EXPECT_FALSE(ep.enforceEgress);
  EXPECT_EQ(ep.subject, ep.identity);
  EXPECT_EQ(ep.address.str(), "10.244.0.20");
  // Pods on the other node are peers, not endpoints.
  EXPECT_FALSE(lab.compiled("n1").endpoints.count("shop/backend"));
}

TEST_F(CompilerTest, DefaultDenyIngressIsolatesOnlyIngress) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress]
)");
  lab.sync();
  EXPECT_FALSE(ok("shop/frontend", "shop/backend"));
  EXPECT_FALSE(ok("other/client", "shop/db"));
  EXPECT_FALSE(ok("203.0.113.9", "shop/db"));
  EXPECT_FALSE(ok("node:n1", "shop/backend"));      // another node is not the pod's own node
  EXPECT_TRUE(ok("node:n2", "shop/backend"));       // its own node always passes
  EXPECT_TRUE(ok("shop/backend", "other/client"));  // egress is not isolated
  EXPECT_TRUE(ok("shop/backend", "203.0.113.9", 443));
  EXPECT_TRUE(ok("shop/frontend", "other/client"));  // other namespaces are untouched
}

TEST_F(CompilerTest, DefaultDenyEgressIsolatesOnlyEgress) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-egress, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
)");
  lab.sync();
  EXPECT_FALSE(ok("shop/frontend", "shop/backend"));
  EXPECT_FALSE(ok("shop/frontend", "203.0.113.9", 443));
  EXPECT_FALSE(ok("shop/backend", "node:n2"));      // egress to the own node is ordinary policy
  EXPECT_TRUE(ok("other/client", "shop/backend"));  // ingress is not isolated
}

TEST_F(CompilerTest, EmptyRuleAllowsEverythingAndPoliciesAddUp) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
spec: {podSelector: {}, policyTypes: [Ingress, Egress]}
)");
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-all-to-db, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress: [{}]
)");
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  egress: [{}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/db", 5432));
  EXPECT_TRUE(ok("shop/frontend", "shop/db", 53, kUdp));
  EXPECT_TRUE(ok("shop/frontend", "shop/db", 0x0800, kIcmp));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend"));  // backend's ingress still denied
  EXPECT_FALSE(ok("shop/backend", "shop/db"));        // backend's egress still denied
  EXPECT_TRUE(ok("other/client", "shop/db"));
}

TEST_F(CompilerTest, PodSelectorPeerMeansThePolicysNamespace) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: 80}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend", 80));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend", 81));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend", 80, kUdp));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend", 80, kSctp));
  EXPECT_FALSE(ok("other/client", "shop/backend", 80));  // same labels, other namespace
  EXPECT_FALSE(ok("shop/db", "shop/backend", 80));
  EXPECT_TRUE(ok("shop/frontend", "shop/db", 5432));  // db is not selected
}

TEST_F(CompilerTest, NamespaceSelectorPeerMeansEveryPodOfTheNamespaces) {
  lab.ns("third", {{"team", "c"}});
  lab.pod("third/x", "n2", "10.244.0.50", {{"app", "x"}});
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-b, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: b}}
    - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: third}}
)");
  lab.sync();
  EXPECT_TRUE(ok("other/client", "shop/db"));
  EXPECT_TRUE(ok("third/x", "shop/db"));
  EXPECT_FALSE(ok("shop/frontend", "shop/db"));  // its own namespace is not team=b
}

TEST_F(CompilerTest, PodAndNamespaceSelectorInOnePeerIsAndInTwoPeersIsOr) {
  lab.pod("other/batch", "n2", "10.244.0.41", {{"app", "batch"}});
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: and, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: b}}
      podSelector: {matchLabels: {app: frontend}}
)");
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: or, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from:
    - namespaceSelector: {matchLabels: {team: b}}
    - podSelector: {matchLabels: {app: frontend}}
)");
  lab.sync();
  // AND: frontends of team=b namespaces only.
  EXPECT_TRUE(ok("other/client", "shop/db"));
  EXPECT_FALSE(ok("other/batch", "shop/db"));
  EXPECT_FALSE(ok("shop/frontend", "shop/db"));
  // OR: every pod of team=b, or frontends of shop.
  EXPECT_TRUE(ok("other/client", "shop/backend"));
  EXPECT_TRUE(ok("other/batch", "shop/backend"));
  EXPECT_TRUE(ok("shop/frontend", "shop/backend"));
  EXPECT_FALSE(ok("shop/db", "shop/backend"));
}

TEST_F(CompilerTest, MatchExpressionsSelectSubjectsAndPeers) {
  lab.pod("shop/canary", "n2", "10.244.0.21", {{"app", "backend"}, {"track", "canary"}});
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: stable-only, namespace: shop}
spec:
  podSelector:
    matchExpressions: [{key: track, operator: DoesNotExist}, {key: app, operator: In, values: [backend, db]}]
  ingress:
  - from: [{podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [db]}]}}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend"));
  EXPECT_FALSE(ok("shop/db", "shop/backend"));
  EXPECT_TRUE(ok("shop/db", "shop/canary"));  // canary is not selected
  EXPECT_FALSE(ok("shop/db", "shop/db"));     // db is selected and db is NotIn
}

TEST_F(CompilerTest, IpBlockWithExceptAndMaskedHostBits) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 192.168.7.7/16, except: [192.168.1.0/24]}}]
    ports: [{port: 443}]
)");
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: nested, namespace: other}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 192.168.1.128/25}}, {ipBlock: {cidr: 192.168.200.0/24}}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "192.168.0.1", 443));
  EXPECT_TRUE(ok("shop/frontend", "192.168.255.254", 443));
  EXPECT_TRUE(ok("shop/frontend", "192.168.200.9", 443));   // another policy's nested prefix
  EXPECT_FALSE(ok("shop/frontend", "192.168.1.1", 443));    // excepted
  EXPECT_FALSE(ok("shop/frontend", "192.168.1.200", 443));  // excepted, nested again
  EXPECT_FALSE(ok("shop/frontend", "192.168.0.1", 80));
  EXPECT_FALSE(ok("shop/frontend", "10.1.0.1", 443));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend", 443));  // outside every block
  EXPECT_TRUE(ok("other/client", "192.168.1.200"));
  EXPECT_FALSE(ok("other/client", "192.168.1.1"));
  // The ipBlock identities are in pn_ipblocks, host bits masked, and not in the ipcache.
  const auto& blocks = lab.compiled("n1").ipBlocks;
  EXPECT_TRUE(blocks.count({testing::ip("192.168.0.0"), 16}));
  for (const auto& [prefix, id] : blocks) EXPECT_TRUE(id & PN_IDENTITY_LOCAL_IPBLOCK);
  EXPECT_EQ(lab.maps("n1").ipBlocks(), blocks);
  EXPECT_TRUE(lab.compiled("n1").cidrIdentities.empty());
}

// The upstream e2e tests "should allow egress access to server in CIDR block", "should enforce
// except clause while egress access to server in CIDR block" and "should ensure an IP
// overlapping both IPBlock.CIDR and IPBlock.Except is allowed": ipBlock matches pod addresses.
TEST_F(CompilerTest, IpBlockEgressMatchesPodAddresses) {
  lab.pod("shop/frontend-2", "n1", "10.244.0.11", {{"app", "frontend"}});
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-server, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.244.0.20/32}}]}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend"));
  EXPECT_TRUE(ok("shop/frontend-2", "shop/backend"));
  EXPECT_FALSE(ok("shop/frontend", "shop/db"));  // same node as the server, outside the block
  EXPECT_FALSE(ok("shop/frontend", "node:n2"));
  EXPECT_TRUE(ok("other/client", "shop/db"));  // not selected

  // The pod range except the server: everyone but the server.
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-server, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.0.20/32]}}]}]
)");
  lab.sync();
  EXPECT_FALSE(ok("shop/frontend", "shop/backend"));
  EXPECT_TRUE(ok("shop/frontend", "shop/db"));
  EXPECT_TRUE(ok("shop/frontend", "other/client"));
  EXPECT_FALSE(ok("shop/frontend", "node:n2"));  // 172.30.0.12: outside

  // Another rule's cidr covers what the first rule excepts: allowed.
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: to-server, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress:
  - to: [{ipBlock: {cidr: 10.244.0.0/16, except: [10.244.0.20/32]}}]
  - to: [{ipBlock: {cidr: 10.244.0.20/32}}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend"));
  EXPECT_TRUE(ok("shop/frontend", "shop/db"));
  // The frontend's egress decides (the address alone: backend's ingress is not enforced).
  auto v = lab.verdict(Flow{"shop/frontend", "10.244.0.20", kTcp, 80});
  ASSERT_TRUE(lab.compiled("n1").policyIds.count(v.policyId));
  EXPECT_EQ(lab.compiled("n1").policyIds.at(v.policyId).str(),
            "NetworkPolicy shop/to-server egress[1]");
}

TEST_F(CompilerTest, IpBlockIngressMatchesPodAndNodeAddressesOnly) {
  lab.pod("shop/frontend-2", "n1", "10.244.0.11", {{"app", "frontend"}});
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: from-one, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: db}}}]
  - from: [{ipBlock: {cidr: 10.244.0.10/32}}, {ipBlock: {cidr: 172.30.0.11/32}}]
  - from: [{ipBlock: {cidr: 10.244.0.0/24, except: [10.244.0.0/28]}}]
    ports: [{port: 81}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend"));
  EXPECT_FALSE(ok("shop/frontend-2", "shop/backend"));  // the same labels, another address
  EXPECT_FALSE(ok("other/client", "shop/backend"));
  EXPECT_TRUE(ok("node:n1", "shop/backend"));  // a node address
  EXPECT_TRUE(ok("other/client", "shop/backend", 81));
  EXPECT_FALSE(ok("shop/frontend-2", "shop/backend", 81));  // excepted (10.244.0.0/28)
  EXPECT_FALSE(ok("203.0.113.9", "shop/backend"));
  // db is allowed by its selector rule and by the /24 on 81: allowed, naming the selector rule.
  auto v = lab.verdict(Flow{"shop/db", "shop/backend", kTcp, 81});
  EXPECT_TRUE(v.allowed);
  ASSERT_TRUE(lab.compiled("n2").policyIds.count(v.policyId));
  EXPECT_EQ(lab.compiled("n2").policyIds.at(v.policyId).str(),
            "NetworkPolicy shop/from-one ingress[0]");
  // No pn_policy entry is duplicated: one peer each (the db identity, the ipBlock identities).
  std::set<bpf::PolicyKey> keys;
  for (const auto& e : lab.compiled("n2").entries) EXPECT_TRUE(keys.insert(e.key).second);
}

TEST_F(CompilerTest, NamedPortResolvesPerDestinationPodEvenWhenPodsDisagree) {
  // Two backends with the same labels on the same node, "http" on different numbers.
  lab.pod("shop/backend", "n2", "10.244.0.20", {{"app", "backend"}}, {port("http", 8080)});
  lab.pod("shop/backend-2", "n2", "10.244.0.22", {{"app", "backend"}}, {port("http", 9090)});
  lab.pod("shop/backend-3", "n2", "10.244.0.23", {{"app", "backend"}}, {port("http", 8080)});
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
    ports: [{port: http}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend", 8080));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend", 9090));
  EXPECT_TRUE(ok("shop/frontend", "shop/backend-2", 9090));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend-2", 8080));
  EXPECT_TRUE(ok("shop/frontend", "shop/backend-3", 8080));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend-3", 9090));
  // The same identity, separate subjects.
  const auto& eps = lab.compiled("n2").endpoints;
  EXPECT_EQ(eps.at("shop/backend").identity, eps.at("shop/backend-2").identity);
  EXPECT_NE(eps.at("shop/backend").subject, eps.at("shop/backend-2").subject);
  EXPECT_TRUE(eps.at("shop/backend").subject & kEndpointSubjectBase);
  // A pod without the name is selected but gets nothing from the rule.
  lab.pod("shop/backend-4", "n2", "10.244.0.24", {{"app", "backend"}});
  lab.sync();
  EXPECT_FALSE(ok("shop/frontend", "shop/backend-4", 8080));
  EXPECT_TRUE(ok("shop/frontend", "shop/backend-2", 9090));
  // Once they agree again, they share a subject again.
  lab.removePod("shop/backend-2");
  lab.removePod("shop/backend-4");
  lab.sync();
  EXPECT_EQ(lab.compiled("n2").endpoints.at("shop/backend").subject,
            lab.compiled("n2").endpoints.at("shop/backend").identity);
  EXPECT_TRUE(ok("shop/frontend", "shop/backend-3", 8080));
}

TEST_F(CompilerTest, EgressNamedPortResolvesPerPeerPodEvenWhenPeersDisagree) {
  lab.pod("shop/backend", "n2", "10.244.0.20", {{"app", "backend"}}, {port("http", 8080)});
  lab.pod("shop/backend-2", "n1", "10.244.0.22", {{"app", "backend"}}, {port("http", 9090)});
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress:
  - to: [{podSelector: {matchLabels: {app: backend}}}]
    ports: [{port: http}]
  - ports: [{port: http}]   # every destination, on its own http port
)");
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: backend-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend", 8080));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend", 9090));
  EXPECT_TRUE(ok("shop/frontend", "shop/backend-2", 9090));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend-2", 8080));
  EXPECT_FALSE(ok("shop/frontend", "shop/db", 8080));
  // The split identity still matches every other rule naming it (backend-in, on n1 and n2).
  EXPECT_EQ(lab.identityOfPod("shop/backend"), lab.identityOfPod("shop/backend-2"));
  const auto& aliases = lab.compiled("n1").peerAliases;
  ASSERT_EQ(aliases.size(), 1u);
  EXPECT_EQ(aliases.begin()->second.first, lab.identityOfPod("shop/backend"));
  EXPECT_EQ(lab.compiled("n1").identityOf(aliases.begin()->first),
            lab.identityOfPod("shop/backend"));
}

TEST_F(CompilerTest, EndPortRangeAndProtocolOnlyRules) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: ranges, namespace: shop}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - ports: [{port: 8000, endPort: 8080}, {protocol: UDP}, {protocol: SCTP, port: 3868}]
)");
  lab.sync();
  for (uint16_t p : {8000, 8001, 8063, 8064, 8080})
    EXPECT_TRUE(ok("shop/frontend", "shop/db", p)) << p;
  for (uint16_t p : {7999, 8081, 80}) EXPECT_FALSE(ok("shop/frontend", "shop/db", p)) << p;
  EXPECT_TRUE(ok("other/client", "shop/db", 53, kUdp));
  EXPECT_TRUE(ok("203.0.113.5", "shop/db", 65535, kUdp));  // ports without from: every source
  EXPECT_TRUE(ok("other/client", "shop/db", 3868, kSctp));
  EXPECT_FALSE(ok("other/client", "shop/db", 3869, kSctp));
  EXPECT_FALSE(ok("other/client", "shop/db", 0x0800, kIcmp));
}

TEST_F(CompilerTest, DenyBeatsEveryAllowIncludingNetworkPolicy) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-frontend, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress:
  - from: [{podSelector: {matchLabels: {app: frontend}}}]
  - {}
)");
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: no-ssh, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingressDeny:
  - toPorts: [{ports: [{port: "22", protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: db}}]
    toPorts: [{ports: [{port: "8000", endPort: 9000}]}]
)");
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: no-world}
spec:
  endpointSelector: {}
  egressDeny:
  - toCIDRSet: [{cidr: 198.51.100.0/24}]
  egress:
  - toEntities: [all]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend", 80));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend", 22));  // deny (any peer) over exact allow
  EXPECT_FALSE(ok("203.0.113.1", "shop/backend", 22));
  EXPECT_TRUE(ok("shop/db", "shop/backend", 80));
  EXPECT_FALSE(ok("shop/db", "shop/backend", 8080));        // same-peer deny over allow
  EXPECT_FALSE(ok("shop/db", "shop/backend", 8080, kUdp));  // ANY protocol
  EXPECT_TRUE(ok("shop/db", "shop/backend", 9001));
  EXPECT_FALSE(ok("shop/db", "198.51.100.7", 443));
  EXPECT_FALSE(ok("other/client", "198.51.100.7", 443));
  EXPECT_TRUE(ok("other/client", "203.0.113.1", 443));
  EXPECT_TRUE(ok("other/client", "198.51.101.1", 443));
  // The verdict names the deciding rule.
  auto v = lab.verdict(Flow{"shop/frontend", "shop/backend", kTcp, 22});
  ASSERT_TRUE(lab.compiled("n2").policyIds.count(v.policyId));
  EXPECT_EQ(lab.compiled("n2").policyIds.at(v.policyId).str(),
            "PodnetNetworkPolicy shop/no-ssh ingressDeny[0]");
}

TEST_F(CompilerTest, EntitiesExpandToReservedAndPodIdentities) {
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: entities, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: "5432", protocol: TCP}]}]
  - fromEntities: [world]
    toPorts: [{ports: [{port: "443", protocol: TCP}]}]
  - fromEntities: [remote-node]
    toPorts: [{ports: [{port: "9100", protocol: TCP}]}]
  egress:
  - toEntities: [host]
  - toEntities: [all]
    toPorts: [{ports: [{port: "53", protocol: UDP}]}]
)");
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: cidr, namespace: nobody}
spec:
  endpointSelector: {}
  egress:
  - toCIDR: [100.100.0.0/16]
)");
  lab.sync();
  EXPECT_TRUE(ok("other/client", "shop/db", 5432));
  EXPECT_TRUE(ok("node:n1", "shop/db", 5432));  // a node is in the cluster
  EXPECT_FALSE(ok("203.0.113.1", "shop/db", 5432));
  EXPECT_TRUE(ok("203.0.113.1", "shop/db", 443));  // world: an ipcache miss ...
  EXPECT_TRUE(ok("100.100.3.4", "shop/db", 443));  // ... or any CIDR identity
  EXPECT_FALSE(ok("other/client", "shop/db", 443));
  EXPECT_TRUE(ok("node:n1", "shop/db", 9100));
  EXPECT_FALSE(ok("other/client", "shop/db", 9100));
  EXPECT_TRUE(ok("shop/db", "node:n2", 10250));   // host: its own node
  EXPECT_FALSE(ok("shop/db", "node:n1", 10250));  // another node is remote-node
  EXPECT_TRUE(ok("shop/db", "8.8.8.8", 53, kUdp));
  EXPECT_TRUE(ok("shop/db", "shop/frontend", 53, kUdp));
  EXPECT_FALSE(ok("shop/db", "8.8.8.8", 53, kTcp));
}

TEST_F(CompilerTest, PodnetSelectorsKeepToTheirNamespaceUnlessTheyNameOne) {
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: peers, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend}}]
    toPorts: [{ports: [{port: "80"}]}]
  - fromEndpoints: [{matchLabels: {"k8s:io.kubernetes.pod.namespace": other}}]
    toPorts: [{ports: [{port: "7000"}]}]
  - fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.team: a}}]
    toPorts: [{ports: [{port: "7001"}]}]
  - fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.team: b}}]
    toPorts: [{ports: [{port: "7002"}]}]
  - fromEndpoints:
    - matchExpressions: [{key: io.kubernetes.pod.namespace, operator: In, values: [shop, other]}]
      matchLabels: {io.cilium.k8s.namespace.labels.team: b}
    toPorts: [{ports: [{port: "7003"}]}]
)");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/db", 80));
  EXPECT_FALSE(ok("other/client", "shop/db", 80));         // same labels, other namespace
  EXPECT_TRUE(ok("other/client", "shop/db", 7000));        // names the namespace
  EXPECT_TRUE(ok("other/client", "shop/db", 7000, kUdp));  // ANY protocol
  EXPECT_FALSE(ok("shop/frontend", "shop/db", 7000));
  EXPECT_TRUE(ok("shop/frontend", "shop/db", 7001));  // shop is team=a
  EXPECT_FALSE(ok("other/client", "shop/db", 7001));
  EXPECT_FALSE(ok("other/client", "shop/db", 7002));  // namespace labels alone: own namespace
  EXPECT_TRUE(ok("other/client", "shop/db", 7003));   // the namespace named, by expression
  EXPECT_FALSE(ok("shop/frontend", "shop/db", 7003));
}

TEST_F(CompilerTest, PodnetEmptyRuleIsolatesWithoutAllowingAndPortsOnlyAllowsEveryone) {
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: isolate, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress: [{}]
)");
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: l4, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress: [{toPorts: [{ports: [{port: "8080", protocol: TCP}]}]}]
)");
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: deny-only, namespace: other}
spec:
  endpointSelector: {}
  egressDeny: [{toEntities: [world]}]
)");
  lab.sync();
  // A deny-only section isolates its direction too (Cilium): nothing else is allowed out.
  EXPECT_FALSE(ok("other/client", "203.0.113.1", 443));
  EXPECT_FALSE(ok("other/client", "shop/backend", 8080));
  EXPECT_TRUE(ok("shop/frontend", "other/client", 80));
  EXPECT_FALSE(ok("shop/frontend", "shop/db"));
  EXPECT_TRUE(ok("shop/frontend", "shop/backend", 8080));
  EXPECT_TRUE(ok("203.0.113.1", "shop/backend", 8080));
  EXPECT_FALSE(ok("shop/frontend", "shop/backend", 80));
}

TEST_F(CompilerTest, HostFirewallFromClusterwideNodeSelector) {
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: workers}
spec:
  nodeSelector: {matchLabels: {role: worker}}
  ingress:
  - fromEntities: [cluster]
  - toPorts: [{ports: [{port: "22", protocol: TCP}]}]
  ingressDeny:
  - fromCIDRSet: [{cidr: 203.0.113.0/24}]
)");
  lab.sync();
  // n1 is a worker: its host endpoint enforces ingress only.
  const auto& host = lab.compiled("n1").endpoints.at(kHostEndpoint);
  EXPECT_EQ(host.subject, uint32_t{PN_IDENTITY_HOST});
  EXPECT_TRUE(host.enforceIngress);
  EXPECT_FALSE(host.enforceEgress);
  EXPECT_EQ(host.address.str(), "172.30.0.11");
  EXPECT_TRUE(ok("198.51.100.1", "node:n1", 22));
  EXPECT_FALSE(ok("198.51.100.1", "node:n1", 80));
  EXPECT_FALSE(ok("203.0.113.1", "node:n1", 22));  // deny beats the ports-only allow
  EXPECT_TRUE(ok("shop/frontend", "node:n1", 10250));
  EXPECT_TRUE(ok("node:n2", "node:n1", 10250));    // remote-node is in the cluster
  EXPECT_TRUE(ok("node:n1", "203.0.113.1", 443));  // egress not enforced
  // n2 is not a worker: no host endpoint at all.
  EXPECT_FALSE(lab.compiled("n2").endpoints.count(kHostEndpoint));
  EXPECT_TRUE(ok("198.51.100.1", "node:n2", 80));
  // Pods are not subjects of a node policy.
  EXPECT_TRUE(ok("203.0.113.1", "shop/frontend", 80));
}

// Where the old model of the kernel (FakeMaps) and the program disagreed: "always" never
// isolates the node itself, and a node's packets to its own pods cross no node device.
TEST_F(CompilerTest, HostEndpointAsTheProgramJudgesIt) {
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: workers}
spec:
  nodeSelector: {matchLabels: {role: worker}}
  ingress: [{fromEntities: [cluster]}]
  egressDeny: [{toEntities: [all]}]
)");
  lab.setMode(PN_ENFORCE_ALWAYS);
  lab.sync();
  EXPECT_FALSE(ok("node:n1", "shop/backend"));  // the host policy's egress deny
  EXPECT_TRUE(ok("node:n1", "shop/frontend"));  // its own pod: only the pod's veth sees it...
  EXPECT_TRUE(ok("node:n1", "other/client"));   // ...which always admits its node
  lab.remove("/podnet/policies/PodnetClusterwideNetworkPolicy/workers");
  lab.apply(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: workers}
spec:
  nodeSelector: {matchLabels: {role: worker}}
  ingress: [{fromEntities: [cluster]}]
)");
  lab.sync();
  // Ingress-only host policy in "always" mode: the node's egress stays open.
  EXPECT_TRUE(ok("node:n1", "203.0.113.1", 443));
  EXPECT_FALSE(ok("203.0.113.1", "node:n1", 443));
}

TEST_F(CompilerTest, EnforcementModes) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]
)");
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: frontend-out, namespace: shop}
spec:
  podSelector: {matchLabels: {app: frontend}}
  policyTypes: [Egress]
  egress: [{}]
)");
  lab.setMode(PN_ENFORCE_ALWAYS);
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend"));  // allowed both ways
  EXPECT_FALSE(ok("shop/frontend", "shop/db"));      // db: default deny, nothing selects it
  EXPECT_FALSE(ok("shop/db", "203.0.113.1"));
  EXPECT_TRUE(lab.compiled("n2").endpoints.at("shop/db").enforceIngress);
  lab.setMode(PN_ENFORCE_NEVER);
  lab.sync();
  EXPECT_TRUE(ok("shop/db", "shop/backend"));
  EXPECT_FALSE(lab.compiled("n2").endpoints.at("shop/backend").enforceIngress);
  lab.setMode(PN_ENFORCE_DEFAULT);
  lab.sync();
  EXPECT_FALSE(ok("shop/db", "shop/backend"));
  EXPECT_TRUE(ok("shop/frontend", "shop/db"));
}

TEST_F(CompilerTest, LabelChangesMoveAPodBetweenIdentitiesAndPolicies) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}]}]
)");
  lab.sync();
  EXPECT_FALSE(ok("shop/db", "shop/backend"));
  uint32_t oldIdentity = lab.identityOfPod("shop/db");
  // db becomes a frontend: it is now allowed in.
  lab.pod("shop/db", "n2", "10.244.0.30", {{"app", "frontend"}});
  lab.sync();
  EXPECT_NE(lab.identityOfPod("shop/db"), oldIdentity);
  EXPECT_EQ(lab.identityOfPod("shop/db"), lab.identityOfPod("shop/frontend"));
  EXPECT_TRUE(ok("shop/db", "shop/backend"));
  // backend loses its label: it is no longer selected, and its old subject's entries are gone.
  uint32_t backendIdentity = lab.identityOfPod("shop/backend");
  lab.pod("shop/backend", "n2", "10.244.0.20", {{"app", "legacy"}});
  lab.sync();
  EXPECT_TRUE(ok("other/client", "shop/backend"));
  for (const auto& [key, e] : lab.maps("n2").policy()) EXPECT_NE(key.subject, backendIdentity);
  // A namespace label change changes every identity in it.
  uint32_t before = lab.identityOfPod("other/client");
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: db-in, namespace: shop}
spec:
  podSelector: {matchLabels: {app: legacy}}
  ingress: [{from: [{namespaceSelector: {matchLabels: {team: b}}}]}]
)");
  lab.sync();
  EXPECT_TRUE(ok("other/client", "shop/backend"));
  lab.ns("other", {{"team", "z"}});
  lab.sync();
  EXPECT_NE(lab.identityOfPod("other/client"), before);
  EXPECT_FALSE(ok("other/client", "shop/backend"));
}

TEST_F(CompilerTest, DeletingPoliciesRestoresEverything) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: lock, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Ingress, Egress]
  egress: [{to: [{ipBlock: {cidr: 10.96.0.0/12}}]}]
)");
  lab.sync();
  EXPECT_FALSE(ok("shop/frontend", "shop/backend"));
  lab.remove("/podnet/policies/NetworkPolicy/shop/lock");
  lab.sync();
  EXPECT_TRUE(ok("shop/frontend", "shop/backend"));
  for (const char* n : {"n1", "n2"}) {
    EXPECT_TRUE(lab.maps(n).policy().empty()) << n;
    EXPECT_TRUE(lab.compiled(n).cidrIdentities.empty()) << n;
    EXPECT_TRUE(lab.compiled(n).ipBlocks.empty()) << n;
    EXPECT_TRUE(lab.maps(n).ipBlocks().empty()) << n;
    EXPECT_TRUE(lab.compiled(n).policyIds.empty()) << n;
    for (const auto& [key, ep] : lab.maps(n).endpoints()) {
      EXPECT_FALSE(ep.enforceIngress || ep.enforceEgress) << key;
    }
  }
}

TEST_F(CompilerTest, UpdatesNeverDropAFlowAllowedBeforeAndAfter) {
  std::vector<Flow> flows;
  for (const char* from : {"shop/frontend", "shop/backend", "shop/db", "other/client",
                           "203.0.113.1", "192.168.1.1", "192.168.2.1", "node:n1"}) {
    for (const char* to : {"shop/frontend", "shop/backend", "shop/db", "other/client",
                           "192.168.1.1", "192.168.2.1"}) {
      if (std::string(from) == to) continue;
      for (uint16_t p : {80, 443, 8080}) flows.push_back({from, to, kTcp, p});
    }
  }
  auto step = [&](const std::string& yaml) {
    lab.apply(yaml);
    lab.sync(flows);
  };
  lab.sync(flows);
  step(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{port: 80}]}]
)");
  // Widen: port 80 -> every TCP port (a shorter prefix replaces a longer one).
  step(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{protocol: TCP}]}]
)");
  // CIDR identities appear (and renumbering must not shuffle them), egress isolation.
  step(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b, namespace: shop}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}, {podSelector: {}}]}]
)");
  step(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: c, namespace: other}
spec:
  podSelector: {}
  policyTypes: [Egress]
  egress: [{to: [{ipBlock: {cidr: 192.168.0.0/17}}, {ipBlock: {cidr: 10.0.0.0/8}}]}]
)");
  // A named port splits a subject into per-endpoint subjects and joins it again.
  lab.pod("shop/backend-2", "n2", "10.244.0.22", {{"app", "backend"}}, {port("http", 9090)});
  lab.sync(flows);
  step(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: shop}
spec:
  podSelector: {matchLabels: {app: backend}}
  ingress: [{from: [{podSelector: {matchLabels: {app: frontend}}}], ports: [{protocol: TCP}, {port: http}]}]
)");
  lab.removePod("shop/backend-2");
  lab.sync(flows);
  // A relabel moves a pod to another identity while its allows stay the same.
  lab.pod("shop/frontend", "n1", "10.244.0.10", {{"app", "frontend"}, {"version", "2"}});
  lab.sync(flows);
  lab.remove("/podnet/policies/NetworkPolicy/shop/b");
  lab.sync(flows);
}

TEST_F(CompilerTest, RecompilingTheSameStateChangesNothing) {
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: b, namespace: shop}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 192.168.0.0/16, except: [192.168.1.0/24]}}]}]
)");
  lab.sync();
  const CompiledPolicy first = lab.compiled("n1");
  auto again =
      compile(lab.state(), NodeContext{"n1", {{"role", "worker"}}, {}, PN_ENFORCE_DEFAULT}, &first);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(diff(first, *again).empty());
  // A new prefix elsewhere keeps the existing ipBlock identities' numbers.
  lab.apply(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: a, namespace: other}
spec:
  podSelector: {}
  egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}}]}]
)");
  lab.sync();
  ASSERT_FALSE(first.ipBlocks.empty());
  for (const auto& [prefix, id] : first.ipBlocks) {
    EXPECT_EQ(lab.compiled("n1").ipBlocks.at(prefix), id) << prefix.str();
  }
  for (const auto& [id, ref] : first.policyIds) {
    EXPECT_EQ(lab.compiled("n1").policyIds.at(id), ref);
  }
}

TEST_F(CompilerTest, DiffOrdersAddsBeforeRemoves) {
  CompiledPolicy from, to;
  bpf::PolicyEntry narrow{{}, PN_POLICY_ALLOW, 1};
  narrow.key.subject = 300;
  narrow.key.protocol = kTcp;
  narrow.key.port = 80;
  bpf::PolicyEntry wide = narrow;
  wide.key.portBits = 0;
  from.entries = {narrow};
  to.entries = {wide};
  from.ipcache[{testing::ip("10.0.0.0"), 8}] = PN_IDENTITY_LOCAL_CIDR | 1;
  to.ipcache[{testing::ip("10.0.0.0"), 8}] = PN_IDENTITY_LOCAL_CIDR | 2;
  PolicyMapDiff d = diff(from, to);
  ASSERT_EQ(d.upsertEntries.size(), 1u);
  EXPECT_EQ(d.upsertEntries[0], wide);
  ASSERT_EQ(d.removeEntries.size(), 1u);
  EXPECT_EQ(d.removeEntries[0], narrow.key);
  ASSERT_EQ(d.upsertIpcache.size(), 1u);
  EXPECT_TRUE(d.removeIpcache.empty());

  struct Recorder : PolicyMapWriter {
    std::vector<std::string> ops;
    Status setPolicy(const bpf::PolicyEntry&) override { return note("set-policy"); }
    Status removePolicy(const bpf::PolicyKey&) override { return note("remove-policy"); }
    Status setIdentity(const Ipv4Prefix&, uint32_t) override { return note("set-identity"); }
    Status removeIdentity(const Ipv4Prefix&) override { return note("remove-identity"); }
    Status setIpBlock(const Ipv4Prefix&, uint32_t) override { return note("set-ipblock"); }
    Status removeIpBlock(const Ipv4Prefix&) override { return note("remove-ipblock"); }
    Status setEndpoint(const std::string&, const bpf::Endpoint&) override {
      return note("set-endpoint");
    }
    Status removeEndpoint(const std::string&) override { return note("remove-endpoint"); }
    Status note(const char* op) {
      ops.push_back(op);
      return okStatus();
    }
  } recorder;
  ASSERT_TRUE(applyDiff(d, recorder).ok());
  EXPECT_EQ(recorder.ops,
            (std::vector<std::string>{"set-policy", "set-identity", "remove-policy"}));
}

TEST_F(CompilerTest, PodsWithoutAddressOrIdentityAreNeitherPeersNorEndpoints) {
  PodState pending;
  pending.pod.metadata.namespace_ = "shop";
  pending.pod.metadata.name = "pending";
  pending.pod.nodeName = "n1";
  lab.sync();
  ClusterState state = lab.state();
  state.pods.push_back(pending);
  PodState bad = state.pods.front();
  bad.pod.metadata.name = "bad";
  bad.identity = 7;  // a reserved number
  bad.address = testing::ip("10.244.0.99");
  state.pods.push_back(bad);
  auto c = compile(state, NodeContext{"n1", {}, {}, PN_ENFORCE_DEFAULT});
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->endpoints.count("shop/pending"));
  EXPECT_FALSE(c->endpoints.count("shop/bad"));
  EXPECT_FALSE(c->ipcache.count({testing::ip("10.244.0.99"), 32}));
  ASSERT_EQ(c->warnings.size(), 1u);
  EXPECT_NE(c->warnings[0].find("shop/bad"), std::string::npos);
}

TEST_F(CompilerTest, IpcacheHoldsPodsNodesAndHostAddresses) {
  lab.sync();
  ClusterState state = lab.state();
  state.nodeAddresses["n2"] = {testing::ip("100.64.0.12")};
  auto c = compile(state, NodeContext{"n1", {}, {testing::ip("10.244.0.1")}, PN_ENFORCE_DEFAULT});
  ASSERT_TRUE(c.ok());
  auto at = [&](const char* a) { return c->ipcache.at({testing::ip(a), 32}); };
  EXPECT_EQ(at("172.30.0.11"), uint32_t{PN_IDENTITY_HOST});
  EXPECT_EQ(at("10.244.0.1"), uint32_t{PN_IDENTITY_HOST});
  EXPECT_EQ(at("172.30.0.12"), uint32_t{PN_IDENTITY_REMOTE_NODE});
  EXPECT_EQ(at("100.64.0.12"), uint32_t{PN_IDENTITY_REMOTE_NODE});
  EXPECT_EQ(at("10.244.0.20"), lab.identityOfPod("shop/backend"));
}

}  // namespace
}  // namespace podnet::policy

namespace podnet::policy {
namespace {

// The allocator's view wins over a pod object that changed before its identity did: selection
// follows what the identity stands for, which every node agrees on.
TEST(CompilerIdentityTest, SelectionFollowsTheIdentitysLabels) {
  ClusterState state;
  model::Node n1;
  n1.name = "n1";
  n1.underlayIp = testing::ip("172.30.0.11");
  state.nodes = {n1};
  PodState web;
  web.pod.metadata = {"web", "shop", {{"app", "renamed"}}, {}};
  web.pod.nodeName = "n1";
  web.address = testing::ip("10.244.0.10");
  web.identity = 300;
  state.pods = {web};
  state.identities[300] = IdentityLabels{"shop", {}, {{"app", "web"}}};
  auto policy = testing::policyFromYaml(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop}
spec: {podSelector: {matchLabels: {app: web}}}
)");
  ASSERT_TRUE(policy.ok());
  state.policies = {*policy};
  auto c = compile(state, NodeContext{"n1", {}, {}, PN_ENFORCE_DEFAULT});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->endpoints.at("shop/web").enforceIngress);
  EXPECT_EQ(c->endpoints.at("shop/web").identity, 300u);
}

}  // namespace
}  // namespace podnet::policy
