#include "policy/network_policy.h"

#include <gtest/gtest.h>

#include "policy_yaml.h"

namespace podnet::policy {
namespace {

using testing::ip;
using testing::policyFromYaml;

Policy decode(const std::string& yaml) {
  auto p = policyFromYaml(yaml);
  EXPECT_TRUE(p.ok()) << p.error().message;
  return p.ok() ? *p : Policy{};
}

std::string error(const std::string& yaml) {
  auto p = policyFromYaml(yaml);
  EXPECT_FALSE(p.ok()) << yaml;
  return p.ok() ? "" : p.error().message;
}

TEST(NetworkPolicyTest, DecodesEverythingKubernetesDefines) {
  auto np = std::get<NetworkPolicy>(decode(R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop, labels: {owner: me}}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress:
  - from:
    - podSelector: {matchLabels: {app: frontend}}
    - namespaceSelector: {matchLabels: {team: a}}
      podSelector: {}
    - ipBlock: {cidr: 10.1.2.3/8, except: [10.1.2.0/24]}
    ports:
    - {port: 80}
    - {protocol: UDP, port: dns}
    - {protocol: SCTP, port: 3000, endPort: 3100}
  egress:
  - {}
)"));
  EXPECT_EQ(np.key(), "/podnet/policies/NetworkPolicy/shop/web");
  EXPECT_EQ(np.metadata.labels.at("owner"), "me");
  ASSERT_EQ(np.ingress.size(), 1u);
  const auto& r = np.ingress[0];
  ASSERT_EQ(r.peers.size(), 3u);
  EXPECT_TRUE(r.peers[0].podSelector && !r.peers[0].namespaceSelector);
  EXPECT_TRUE(r.peers[1].podSelector && r.peers[1].namespaceSelector);
  EXPECT_TRUE(r.peers[1].podSelector->selectsEverything());
  ASSERT_TRUE(r.peers[2].ipBlock);
  EXPECT_EQ(r.peers[2].ipBlock->cidr.str(), "10.0.0.0/8");  // host bits masked
  EXPECT_EQ(r.peers[2].ipBlock->except.at(0).str(), "10.1.2.0/24");
  ASSERT_EQ(r.ports.size(), 3u);
  EXPECT_EQ(r.ports[0], (PortSelector{Protocol::kTcp, 80, "", 0}));  // TCP when omitted
  EXPECT_EQ(r.ports[1], (PortSelector{Protocol::kUdp, 0, "dns", 0}));
  EXPECT_EQ(r.ports[2], (PortSelector{Protocol::kSctp, 3000, "", 3100}));
  ASSERT_EQ(np.egress.size(), 1u);
  EXPECT_TRUE(np.egress[0].peers.empty() && np.egress[0].ports.empty());
  EXPECT_TRUE(np.policyIngress && np.policyEgress);
}

TEST(NetworkPolicyTest, PolicyTypesDefaultAsKubernetesDoes) {
  auto types = [](const std::string& spec) {
    auto np = std::get<NetworkPolicy>(decode(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: " +
        spec));
    return std::make_pair(np.policyIngress, np.policyEgress);
  };
  EXPECT_EQ(types("{podSelector: {}}"), std::make_pair(true, false));
  EXPECT_EQ(types("{podSelector: {}, ingress: [{}]}"), std::make_pair(true, false));
  EXPECT_EQ(types("{podSelector: {}, egress: [{}]}"), std::make_pair(true, true));
  EXPECT_EQ(types("{podSelector: {}, egress: []}"), std::make_pair(true, false));
  EXPECT_EQ(types("{podSelector: {}, policyTypes: [Egress]}"), std::make_pair(false, true));
  EXPECT_EQ(types("{podSelector: {}, policyTypes: [Egress], ingress: [{}]}"),
            std::make_pair(false, true));
  EXPECT_EQ(types("{}"), std::make_pair(true, false));
  // The namespace defaults to "default", as kubectl does.
  auto np = std::get<NetworkPolicy>(decode(
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\nspec: {}"));
  EXPECT_EQ(np.metadata.namespace_, "default");
}

TEST(NetworkPolicyTest, ErrorsNameTheDocumentAndTheField) {
  const std::string head =
      "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-all, "
      "namespace: x}\n";
  struct Case {
    std::string spec, want;
  };
  for (const Case& c : std::vector<Case>{
           {"spec: {ingress: [{from: [{}, {ipBlock: {cidr: 10.0.0/8}}]}]}",
            "NetworkPolicy x/deny-all: spec.ingress[0].from[0]: must specify a peer"},
           {"spec: {ingress: [{from: [{podSelector: {}}, {ipBlock: {cidr: 10.0.0/8}}]}]}",
            "NetworkPolicy x/deny-all: spec.ingress[0].from[1].ipBlock.cidr: \"10.0.0/8\" is not "
            "an IPv4 CIDR"},
           {"spec: {egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [11.0.0.0/16]}}]}]}",
            "NetworkPolicy x/deny-all: spec.egress[0].to[0].ipBlock.except[0]: 11.0.0.0/16 is not "
            "strictly inside 10.0.0.0/8"},
           {"spec: {egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]}",
            "spec.egress[0].to[0].ipBlock.except[0]: 10.0.0.0/8 is not strictly inside"},
           {"spec: {egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8}, podSelector: {}}]}]}",
            "spec.egress[0].to[0].ipBlock: may not be combined with podSelector"},
           {"spec: {ingress: [{ports: [{port: 80, endPort: 79}]}]}",
            "spec.ingress[0].ports[0].endPort: 79 is below port 80"},
           {"spec: {ingress: [{ports: [{endPort: 90}]}]}",
            "spec.ingress[0].ports[0].endPort: requires a numeric port"},
           {"spec: {ingress: [{ports: [{port: http, endPort: 90}]}]}",
            "spec.ingress[0].ports[0].endPort: may not be used with a named port"},
           {"spec: {ingress: [{ports: [{port: 0}]}]}",
            "spec.ingress[0].ports[0].port: 0 is not a port (1-65535)"},
           {"spec: {ingress: [{ports: [{port: 70000}]}]}",
            "spec.ingress[0].ports[0].port: 70000 is not a port"},
           {"spec: {ingress: [{ports: [{port: \"80\"}]}]}",
            "spec.ingress[0].ports[0].port: \"80\" is neither a port number nor a port name"},
           {"spec: {ingress: [{ports: [{port: Http}]}]}",
            "spec.ingress[0].ports[0].port: \"Http\" is neither"},
           {"spec: {ingress: [{ports: [{protocol: ICMP}]}]}",
            "spec.ingress[0].ports[0].protocol: \"ICMP\" is not TCP, UDP or SCTP"},
           {"spec: {ingress: [{ports: [{protocol: ANY}]}]}",
            "spec.ingress[0].ports[0].protocol: \"ANY\" is not TCP, UDP or SCTP"},
           {"spec: {policyTypes: [Ingress, Sideways]}",
            "spec.policyTypes[1]: \"Sideways\" is not Ingress or Egress"},
           {"spec: {podselector: {}}", "spec.podselector: unknown field"},
           {"spec: {ingress: [{form: []}]}", "spec.ingress[0].form: unknown field"},
           {"spec: {ingress: {from: []}}", "spec.ingress: must be a list"},
           {"spec: {podSelector: {matchExpressions: [{key: a, operator: In}]}}",
            "NetworkPolicy x/deny-all: spec.podSelector.matchExpressions[0].values: must be "
            "non-empty when operator is In"},
           {"spec: {ingress: [{from: [{namespaceSelector: {matchLabels: {a: \"b c\"}}}]}]}",
            "spec.ingress[0].from[0].namespaceSelector.matchLabels.a: \"b c\" is not a valid "
            "label value"},
       }) {
    std::string got = error(head + c.spec);
    EXPECT_NE(got.find(c.want), std::string::npos) << "got: " << got << "\nwant: " << c.want;
    EXPECT_EQ(got.rfind("NetworkPolicy x/deny-all: ", 0), 0u) << got;
  }
  EXPECT_NE(error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {}\nspec: {}")
                .find("NetworkPolicy: metadata.name: required"),
            std::string::npos);
  EXPECT_NE(error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: A_b}\n"
                  "spec: {}")
                .find("metadata.name: \"A_b\" is not a valid name"),
            std::string::npos);
  EXPECT_NE(error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a, "
                  "nmespace: x}\nspec: {}")
                .find("NetworkPolicy default/a: metadata.nmespace: unknown field"),
            std::string::npos);
  EXPECT_NE(error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\n"
                  "spec: {}\nextra: 1")
                .find("NetworkPolicy default/a: extra: unknown field"),
            std::string::npos);
  EXPECT_NE(error("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}")
                .find("NetworkPolicy default/a: spec: required"),
            std::string::npos);
  EXPECT_NE(error("apiVersion: v1\nkind: Pod\nmetadata: {name: a}").find("is not a policy kind"),
            std::string::npos);
  for (const char* bad : {R"([1])", R"({"apiVersion": 1, "kind": []})", "null"}) {
    auto p = decodePolicy(nlohmann::json::parse(bad));
    ASSERT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.error().code, Errc::kUnsupported);
  }
}

TEST(PodnetPolicyTest, DecodesTheCiliumShape) {
  auto p = std::get<PodnetNetworkPolicy>(decode(R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  description: the api
  endpointSelector: {matchLabels: {"k8s:app": api}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}, {}]
    toPorts: [{ports: [{port: "80", protocol: TCP}, {port: "8000", endPort: 8100}]}, {ports: [{port: http}]}]
  - fromCIDR: [10.0.0.0/8]
    fromCIDRSet: [{cidr: 192.168.0.0/16, except: [192.168.1.0/24]}]
  - fromEntities: [world, cluster, host, remote-node, all]
  egressDeny:
  - toCIDRSet: [{cidr: 0.0.0.0/0}]
    toPorts: [{ports: [{port: "0", protocol: UDP}]}]
)"));
  EXPECT_EQ(p.key(), "/podnet/policies/PodnetNetworkPolicy/shop/api");
  EXPECT_TRUE(p.spec.endpointSelector->matches({{"app", "api"}}));
  ASSERT_TRUE(p.spec.ingress);
  ASSERT_EQ(p.spec.ingress->size(), 3u);
  const auto& r0 = (*p.spec.ingress)[0];
  EXPECT_EQ(r0.endpoints.size(), 2u);
  ASSERT_EQ(r0.ports.size(), 3u);
  EXPECT_EQ(r0.ports[0], (PortSelector{Protocol::kTcp, 80, "", 0}));
  EXPECT_EQ(r0.ports[1], (PortSelector{std::nullopt, 8000, "", 8100}));  // ANY when omitted
  EXPECT_EQ(r0.ports[2], (PortSelector{std::nullopt, 0, "http", 0}));
  EXPECT_EQ((*p.spec.ingress)[1].cidrs.size(), 2u);
  EXPECT_EQ((*p.spec.ingress)[2].entities.size(), 5u);
  EXPECT_FALSE(p.spec.egress);
  ASSERT_TRUE(p.spec.egressDeny);
  EXPECT_EQ((*p.spec.egressDeny)[0].ports[0], (PortSelector{Protocol::kUdp, 0, "", 0}));

  auto cw = std::get<PodnetClusterwideNetworkPolicy>(decode(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: nodes}
spec:
  nodeSelector: {matchLabels: {role: worker}}
  ingress: []
)"));
  EXPECT_EQ(cw.key(), "/podnet/policies/PodnetClusterwideNetworkPolicy/nodes");
  ASSERT_TRUE(cw.spec.ingress);
  EXPECT_TRUE(cw.spec.ingress->empty());  // present and empty: isolates
}

TEST(PodnetPolicyTest, ErrorsNameTheDocumentAndTheField) {
  const std::string ns =
      "apiVersion: podnet.io/v1\nkind: PodnetNetworkPolicy\nmetadata: {name: p, namespace: x}\n";
  const std::string cw =
      "apiVersion: podnet.io/v1\nkind: PodnetClusterwideNetworkPolicy\nmetadata: {name: c}\n";
  struct Case {
    std::string doc, want;
  };
  for (const Case& c : std::vector<Case>{
           {ns + "spec: {ingress: []}", "PodnetNetworkPolicy x/p: spec.endpointSelector: required"},
           {ns + "spec: {endpointSelector: {}, nodeSelector: {}}",
            "PodnetNetworkPolicy x/p: spec.nodeSelector: only in a PodnetClusterwideNetworkPolicy"},
           {cw + "spec: {endpointSelector: {}, nodeSelector: {}}",
            "PodnetClusterwideNetworkPolicy c: spec: endpointSelector and nodeSelector are "
            "mutually exclusive"},
           {cw + "spec: {}",
            "PodnetClusterwideNetworkPolicy c: spec: one of endpointSelector or nodeSelector"},
           {ns + "spec: {endpointSelector: {}, ingress: [{fromEndpoints: [{}], fromCIDR: "
                 "[10.0.0.0/8]}]}",
            "spec.ingress[0]: fromEndpoints, fromCIDR/fromCIDRSet and fromEntities may not be "
            "combined"},
           {ns + "spec: {endpointSelector: {}, egress: [{toEntities: [kube-apiserver]}]}",
            "spec.egress[0].toEntities[0]: \"kube-apiserver\" is not a supported entity"},
           {ns + "spec: {endpointSelector: {}, egress: [{fromEndpoints: [{}]}]}",
            "spec.egress[0].fromEndpoints: unknown field"},
           {ns + "spec: {endpointSelector: {}, ingress: [{toPorts: [{ports: [{port: \"80\"}], "
                 "rules: {http: []}}]}]}",
            "spec.ingress[0].toPorts[0].rules: L7 rules are not supported"},
           {ns + "spec: {endpointSelector: {}, ingress: [{toPorts: [{ports: [{port: \"90\", "
                 "endPort: 80}]}]}]}",
            "spec.ingress[0].toPorts[0].ports[0].endPort: 80 is below port 90"},
           {ns + "spec: {endpointSelector: {}, ingress: [{toPorts: [{ports: [{port: \"80\", "
                 "protocol: ICMP}]}]}]}",
            "spec.ingress[0].toPorts[0].ports[0].protocol: \"ICMP\" is not TCP, UDP, SCTP or ANY"},
           {ns + "spec: {endpointSelector: {}, ingressDeny: [{fromCIDRSet: [{cidr: 10.0.0.0/8, "
                 "except: [10.0.0.0/4]}]}]}",
            "spec.ingressDeny[0].fromCIDRSet[0].except[0]: 0.0.0.0/4 is not strictly inside"},
           {ns + "spec: {endpointSelector: {}, ingress: [{toPorts: [{}]}]}",
            "spec.ingress[0].toPorts[0].ports: required"},
           {ns + "spec: {endpointSelector: {matchLabels: {\"reserved:host\": \"\"}}}",
            "spec.endpointSelector.matchLabels.reserved:host: \"reserved:host\": label source "
            "\"reserved:\" is not supported"},
           {ns + "spec: {endpointSelector: {}, enableDefaultDeny: {}}",
            "spec.enableDefaultDeny: unknown field"},
           {cw.substr(0, cw.size() - 2) + ", namespace: x}\nspec: {endpointSelector: {}}",
            "metadata.namespace: PodnetClusterwideNetworkPolicy is cluster-scoped"},
       }) {
    std::string got = error(c.doc);
    EXPECT_NE(got.find(c.want), std::string::npos) << "got: " << got << "\nwant: " << c.want;
  }
}

TEST(PolicyJsonTest, ToJsonDecodesToAnEqualObject) {
  for (const char* yaml : {R"(
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web, namespace: shop, annotations: {a: b}}
spec:
  podSelector: {matchExpressions: [{key: app, operator: In, values: [web]}]}
  ingress:
  - from: [{podSelector: {}, namespaceSelector: {matchLabels: {t: a}}}, {ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}}]
    ports: [{port: http}, {protocol: UDP, port: 53, endPort: 54}]
  egress: [{}]
)",
                           R"(
apiVersion: podnet.io/v1
kind: PodnetNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {}
  ingress: [{fromEndpoints: [{}], toPorts: [{ports: [{port: "80"}, {port: http, protocol: TCP}]}]}]
  egress: []
  ingressDeny: [{fromEntities: [world]}]
  egressDeny: [{toCIDRSet: [{cidr: 10.0.0.0/8, except: [10.1.0.0/16]}]}]
)",
                           R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: nodes}
spec:
  nodeSelector: {}
  description: host firewall
  ingress: [{fromEntities: [cluster]}]
)"}) {
    Policy p = decode(yaml);
    auto back = decodePolicy(toJson(p));
    ASSERT_TRUE(back.ok()) << back.error().message << "\n" << toJson(p).dump();
    EXPECT_EQ(*back, p) << toJson(p).dump();
    EXPECT_EQ(toJson(*back), toJson(p));
  }
  EXPECT_EQ(describe(decode(R"(
apiVersion: podnet.io/v1
kind: PodnetClusterwideNetworkPolicy
metadata: {name: nodes}
spec: {nodeSelector: {}}
)")),
            "PodnetClusterwideNetworkPolicy nodes");
}

TEST(PolicyJsonTest, PortNames) {
  EXPECT_TRUE(isPortName("http"));
  EXPECT_TRUE(isPortName("h2c-9"));
  EXPECT_FALSE(isPortName("80"));
  EXPECT_FALSE(isPortName("-http"));
  EXPECT_FALSE(isPortName("ht--tp"));
  EXPECT_FALSE(isPortName("HTTP"));
  EXPECT_FALSE(isPortName("a-very-long-port-name"));
}

}  // namespace
}  // namespace podnet::policy
