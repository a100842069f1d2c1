// manifests/podnet.yaml as a cluster operator uses it, against a real kube-apiserver with the real
// kubectl: it installs with `kubectl apply -f` and a second apply changes nothing; the CRDs'
// schemas and CEL rules refuse each invalid Subnet, policy and IP naming the field, and accept the
// examples of the docs; `kubectl get subnets` shows CIDR, used and free addresses; the agent's and
// the controller's RBAC grant what each needs and nothing else.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "k8s/control_plane.h"
#include "model/manifest.h"
#include "policy/network_policy.h"

namespace podnet::testing {
namespace {

const std::string kManifest = std::string(PODNET_SOURCE_DIR) + "/manifests/podnet.yaml";

struct Outcome {
  int status = -1;
  std::string out;
  std::string err;
};

std::string quoted(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The ```yaml blocks of a Markdown file that hold a Kubernetes object.
std::vector<std::string> yamlExamples(const std::string& path) {
  std::vector<std::string> out;
  std::istringstream text(readFile(path));
  std::string line, block;
  bool inYaml = false;
  while (std::getline(text, line)) {
    if (!inYaml && line.rfind("```yaml", 0) == 0) {
      inYaml = true;
      block.clear();
    } else if (inYaml && line.rfind("```", 0) == 0) {
      inYaml = false;
      if (block.find("apiVersion:") != std::string::npos &&
          block.find("kind:") != std::string::npos) {
        out.push_back(block);
      }
    } else if (inYaml) {
      block += line + "\n";
    }
  }
  return out;
}

std::vector<std::string> words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// One control plane for the suite (starting kube-apiserver takes seconds), with the manifest
// applied once at its start.
class ManifestTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!missingTools().empty()) return;
    plane_ = new ControlPlane();
    if (!plane_->ok()) return;
    firstApply_ = new Outcome(kubectl({"apply", "-f", kManifest}));
  }
  static void TearDownTestSuite() {
    delete firstApply_;
    firstApply_ = nullptr;
    delete plane_;
    plane_ = nullptr;
  }

  static std::string missingTools() {
    std::string missing = missingK8sTools();
    if (missing.empty() && ::access((k8sToolsDir() + "/kubectl").c_str(), X_OK) != 0) {
      missing = k8sToolsDir() + "/kubectl is missing: run scripts/k8s-tools.sh";
    }
    return missing;
  }

  void SetUp() override {
    std::string missing = missingTools();
    if (!missing.empty()) GTEST_SKIP() << missing;
    ASSERT_TRUE(plane_->ok()) << plane_->error();
    ASSERT_EQ(firstApply_->status, 0) << firstApply_->out << firstApply_->err;
    // Objects of a CRD are served once it is Established.
    Outcome established = kubectl({"wait", "--for=condition=Established", "--timeout=60s", "crd",
                                   "-l", "app.kubernetes.io/part-of=podnet"});
    ASSERT_EQ(established.status, 0) << established.err;
  }

  // kubectl as the admin, stdin from input.
  static Outcome kubectl(const std::vector<std::string>& args, const std::string& input = "") {
    const std::string in = plane_->dir() + "/kubectl.in";
    const std::string err = plane_->dir() + "/kubectl.err";
    std::ofstream(in) << input;
    std::string command =
        quoted(k8sToolsDir() + "/kubectl") + " --kubeconfig " + quoted(plane_->kubeconfig("admin"));
    for (const auto& arg : args) command += " " + quoted(arg);
    command += " <" + quoted(in) + " 2>" + quoted(err);
    Outcome outcome;
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return outcome;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) outcome.out.append(buf, n);
    int status = ::pclose(pipe);
    outcome.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    outcome.err = readFile(err);
    return outcome;
  }

  static Outcome apply(const std::string& object) { return kubectl({"apply", "-f", "-"}, object); }

  // Applies object, which must be refused with every one of fields named on stderr, as podnet's
  // own decoders refuse it.
  static void expectRefused(const std::string& object, const std::vector<std::string>& fields) {
    expectApiRefuses(object, fields);
    EXPECT_FALSE(podnetAccepts(object).ok()) << "podnet accepts what the API server refuses:\n"
                                             << object;
  }

  static void expectApiRefuses(const std::string& object, const std::vector<std::string>& fields) {
    Outcome outcome = apply(object);
    EXPECT_NE(outcome.status, 0) << "accepted:\n" << object << outcome.out;
    for (const auto& field : fields) {
      EXPECT_NE(outcome.err.find(field), std::string::npos)
          << "stderr does not name " << field << ":\n"
          << outcome.err << "for:\n"
          << object;
    }
  }

  // Applies object, which must be accepted, as podnet's own decoders accept it.
  static void expectAccepted(const std::string& object) {
    Outcome outcome = apply(object);
    EXPECT_EQ(outcome.status, 0) << object << outcome.err;
    Status podnet = podnetAccepts(object);
    EXPECT_TRUE(podnet.ok()) << "podnet refuses what the API server accepts:\n"
                             << object << (podnet.ok() ? "" : podnet.error().message);
  }

  // What podnetctl apply and podnetd decide: the object decoded and statically validated by
  // podnet's own decoders (src/model for Subnet, src/policy for the policy kinds).
  static Status podnetAccepts(const std::string& object) {
    auto parsed = model::parseDocuments(object, "object");
    if (!parsed) return parsed.error();
    for (const auto& doc : *parsed) {
      if (policy::isPolicyKind(doc.apiVersion, doc.kind)) {
        auto decoded = policy::decodePolicy(doc.body);
        if (!decoded) return decoded.error();
      } else {
        auto decoded = model::decodeObject(doc);
        if (!decoded) return decoded.error();
      }
    }
    return okStatus();
  }

  static std::string can(const std::string& account, const std::vector<std::string>& query) {
    std::vector<std::string> args{"auth", "can-i",
                                  "--as=system:serviceaccount:podnet-system:" + account};
    args.insert(args.end(), query.begin(), query.end());
    Outcome outcome = kubectl(args);
    return words(outcome.out).empty() ? outcome.err : words(outcome.out)[0];
  }

  static ControlPlane* plane_;
  static Outcome* firstApply_;
};

ControlPlane* ManifestTest::plane_ = nullptr;
Outcome* ManifestTest::firstApply_ = nullptr;

const std::string kSubnet = "apiVersion: podnet.io/v1\nkind: Subnet\nmetadata: {name: s}\n";
const std::string kPolicy =
    "apiVersion: podnet.io/v1\nkind: PodnetNetworkPolicy\nmetadata: {name: p, namespace: "
    "default}\n";
const std::string kClusterwide =
    "apiVersion: podnet.io/v1\nkind: PodnetClusterwideNetworkPolicy\nmetadata: {name: c}\n";
const std::string kIp = "apiVersion: podnet.io/v1\nkind: IP\n";

TEST_F(ManifestTest, ApplyInstallsEverythingAndASecondApplyChangesNothing) {
  // Every object of the file was created, and each exists now.
  std::istringstream lines(firstApply_->out);
  int created = 0;
  for (std::string line; std::getline(lines, line);) {
    EXPECT_NE(line.find(" created"), std::string::npos) << line;
    ++created;
  }
  const std::vector<std::string> versions = {"get", "-f", kManifest, "-o",
                                             "jsonpath={range .items[*]}{.kind}/"
                                             "{.metadata.name}={.metadata.resourceVersion} {end}"};
  Outcome before = kubectl(versions);
  ASSERT_EQ(before.status, 0) << before.err;
  EXPECT_EQ(words(before.out).size(), size_t(created)) << before.out;
  for (const char* object :
       {"Namespace/podnet-system=", "CustomResourceDefinition/subnets.podnet.io=",
        "CustomResourceDefinition/ips.podnet.io=",
        "CustomResourceDefinition/podnetnetworkpolicies.podnet.io=",
        "CustomResourceDefinition/podnetclusterwidenetworkpolicies.podnet.io=",
        "ServiceAccount/podnet-agent=", "ServiceAccount/podnet-controller=",
        "ClusterRole/podnet-agent=", "ClusterRoleBinding/podnet-controller=",
        "Role/podnet-controller-leader-election=", "DaemonSet/podnetd=",
        "Deployment/podnet-controller=", "ConfigMap/podnet-cni-config="}) {
    EXPECT_NE(before.out.find(object), std::string::npos) << object << " missing: " << before.out;
  }

  Outcome again = kubectl({"apply", "-f", kManifest});
  ASSERT_EQ(again.status, 0) << again.err;
  std::istringstream againLines(again.out);
  for (std::string line; std::getline(againLines, line);) {
    EXPECT_NE(line.find(" unchanged"), std::string::npos) << line;
  }
  Outcome after = kubectl(versions);
  EXPECT_EQ(after.out, before.out);

  Outcome dryRun = kubectl({"apply", "--dry-run=server", "-f", kManifest});
  EXPECT_EQ(dryRun.status, 0) << dryRun.err;
}

TEST_F(ManifestTest, TheDaemonSetRunsPrivilegedOnTheHostNetworkOfEveryNode) {
  Outcome ds = kubectl({"get", "daemonset", "-n", "podnet-system", "podnetd", "-o",
                        "jsonpath={.spec.template.spec.hostNetwork} "
                        "{.spec.template.spec.tolerations[*].operator} "
                        "{.spec.template.spec.containers[0].securityContext.privileged} "
                        "{.spec.template.spec.containers[0].args} "
                        "{.spec.template.spec.containers[0].volumeMounts[*].mountPath} "
                        "{.spec.template.spec.initContainers[0].name}"});
  ASSERT_EQ(ds.status, 0) << ds.err;
  for (const char* part :
       {"true Exists true", R"x(["--store","kubernetes","--node-name","$(NODE_NAME)"])x",
        "/opt/cni/bin", "/etc/cni/net.d", "/sys/fs/bpf", "/run/netns", "/run/podnet",
        "/var/lib/podnet", "install-cni"}) {
    EXPECT_NE(ds.out.find(part), std::string::npos) << part << " not in " << ds.out;
  }
}

TEST_F(ManifestTest, InvalidSubnetsAreRefusedNamingTheField) {
  struct Case {
    std::string spec;
    std::vector<std::string> fields;
  };
  const std::vector<Case> cases = {
      {"", {"spec: Required value"}},
      {"spec: {gateway: 10.1.0.1}", {"spec.cidrBlock: Required value"}},
      {"spec: {cidrBlock: 10.1.0/16}", {"spec.cidrBlock", "is not an IPv4 CIDR"}},
      {"spec: {cidrBlock: 'fd00::/64'}", {"spec.cidrBlock", "is not an IPv4 CIDR"}},
      {"spec: {cidrBlock: 10.1.0.0/31}", {"spec.cidrBlock", "prefix length must be at most 30"}},
      {"spec: {cidrBlock: 10.1.0.1/16}", {"spec.cidrBlock", "has host bits set"}},
      {"spec: {cidrBlock: 10.1.0.0/16, gateway: 10.1.0.300}",
       {"spec.gateway", "is not an IPv4 address"}},
      {"spec: {cidrBlock: 10.1.0.0/16, gateway: 10.2.0.1}",
       {"spec.gateway", "10.2.0.1 is outside spec.cidrBlock 10.1.0.0/16"}},
      {"spec: {cidrBlock: 10.1.0.0/16, gateway: 10.1.0.0}",
       {"spec.gateway", "network or broadcast address"}},
      {"spec: {cidrBlock: 10.1.0.0/16, gateway: 10.1.255.255}",
       {"spec.gateway", "network or broadcast address"}},
      {"spec: {cidrBlock: 10.1.0.0/16, excludeIps: [10.1.0.x]}", {"spec.excludeIps[0]"}},
      {"spec: {cidrBlock: 10.1.0.0/16, excludeIps: [10.1.0.2, 10.1.0.9..10.1.0.2]}",
       {"spec.excludeIps[1]", "first not after last"}},
      {"spec: {cidrBlock: 10.1.0.0/16, excludeIps: [10.1.0.2..10.2.0.9]}",
       {"spec.excludeIps", "must lie inside spec.cidrBlock"}},
      {"spec: {cidrBlock: 10.1.0.0/16, excludeIps: [10.0.0.0/8]}",
       {"spec.excludeIps", "must lie inside spec.cidrBlock"}},
      {"spec: {cidrBlock: 10.1.0.0/16, excludeIps: [10.2.0.1]}",
       {"spec.excludeIps", "must lie inside spec.cidrBlock"}},
      {"spec: {cidrBlock: 10.1.0.0/16, namespaces: [Shop]}", {"spec.namespaces[0]"}},
      {"spec: {cidrBlock: 10.1.0.0/16, namespaces: [shop, shop]}",
       {"spec.namespaces[1]: Duplicate value"}},
      {"spec: {cidrBlock: 10.1.0.0/16, cidrblock: 10.1.0.0/16}",
       {"unknown field \"spec.cidrblock\""}},
  };
  for (const auto& c : cases) expectRefused(kSubnet + c.spec, c.fields);
  // The edges of what podnet accepts.
  expectAccepted(kSubnet +
                 "spec: {cidrBlock: 10.1.0.0/30, gateway: 10.1.0.2, excludeIps: [10.1.0.1, "
                 "10.1.0.1..10.1.0.1, 10.1.0.0/30], namespaces: [a, b-c]}");
  EXPECT_EQ(kubectl({"get", "subnet", "s", "-o", "jsonpath={.spec.cidrBlock}"}).out, "10.1.0.0/30");
  expectAccepted(kSubnet +
                 "spec: {cidrBlock: 10.2.0.0/16, gateway: 10.2.255.254, excludeIps: [10.2.0.5/24, "
                 "10.2.1.0..10.2.255.255]}");
  expectAccepted(kSubnet + "spec: {cidrBlock: 0.0.0.0/0}");
}

TEST_F(ManifestTest, InvalidPodnetPoliciesAreRefusedNamingTheField) {
  struct Case {
    std::string object;
    std::vector<std::string> fields;
  };
  const std::string ports = "spec: {endpointSelector: {}, egress: [{toPorts: [{ports: [";
  const std::vector<Case> cases = {
      {kPolicy + "spec: {ingress: []}", {"spec.endpointSelector: Required value"}},
      {kPolicy + "spec: {endpointSelector: {}, nodeSelector: {}}",
       {"unknown field \"spec.nodeSelector\""}},
      {kClusterwide + "spec: {ingress: []}",
       {"one of spec.endpointSelector or spec.nodeSelector is required"}},
      {kClusterwide + "spec: {endpointSelector: {}, nodeSelector: {}}",
       {"spec.endpointSelector and spec.nodeSelector are mutually exclusive"}},
      {kClusterwide + "spec: {nodeSelector: {matchLabels: {'k8s:role': edge}}}",
       {"spec.nodeSelector.matchLabels", "label key"}},
      {kPolicy + "spec: {endpointSelector: {}, ingress: [{fromEntities: [world], fromCIDR: "
                 "[10.0.0.0/8]}]}",
       {"spec.ingress[0]", "may not be combined"}},
      {kPolicy + "spec: {endpointSelector: {}, egressDeny: [{toEndpoints: [{}], toCIDRSet: "
                 "[{cidr: 10.0.0.0/8}]}]}",
       {"spec.egressDeny[0]", "may not be combined"}},
      {kPolicy + "spec: {endpointSelector: {}, ingress: [{fromEntities: [kube-apiserver]}]}",
       {"spec.ingress[0].fromEntities[0]", "kube-apiserver"}},
      {kPolicy + "spec: {endpointSelector: {}, egress: [{toCIDR: [10.0.0/8]}]}",
       {"spec.egress[0].toCIDR[0]", "is not an IPv4 CIDR"}},
      {kPolicy + "spec: {endpointSelector: {}, ingressDeny: [{fromCIDRSet: [{cidr: 10.0.0.0/8, "
                 "except: [10.0.0.0/8]}]}]}",
       {"spec.ingressDeny[0].fromCIDRSet[0].except", "strictly inside cidr"}},
      {kPolicy + "spec: {endpointSelector: {}, egress: [{toCIDRSet: [{cidr: 10.0.0.0/8, except: "
                 "[11.0.0.0/16]}]}]}",
       {"spec.egress[0].toCIDRSet[0].except", "strictly inside cidr"}},
      {kPolicy + ports + "{port: 53, protocol: ICMP}]}]}]}",
       {"spec.egress[0].toPorts[0].ports[0].protocol"}},
      {kPolicy + ports + "{port: 70000}]}]}]}", {"spec.egress[0].toPorts[0].ports[0].port"}},
      {kPolicy + ports + "{port: '70000'}]}]}]}", {"spec.egress[0].toPorts[0].ports[0].port"}},
      {kPolicy + ports + "{port: Http}]}]}]}", {"spec.egress[0].toPorts[0].ports[0].port"}},
      {kPolicy + ports + "{port: a--b}]}]}]}", {"spec.egress[0].toPorts[0].ports[0].port"}},
      {kPolicy + ports + "{port: http, endPort: 90}]}]}]}",
       {"spec.egress[0].toPorts[0].ports[0].endPort", "named port"}},
      {kPolicy + ports + "{endPort: 90}]}]}]}",
       {"spec.egress[0].toPorts[0].ports[0].endPort", "requires a numeric port"}},
      {kPolicy + ports + "{port: '100', endPort: 90}]}]}]}",
       {"spec.egress[0].toPorts[0].ports[0].endPort", "below port"}},
      {kPolicy + ports + "]}]}]}", {"spec.egress[0].toPorts[0].ports"}},
      {kPolicy + ports + "{port: 80}], rules: {http: [{}]}}]}]}",
       {"unknown field \"spec.egress[0].toPorts[0].rules\""}},
      {kPolicy + "spec: {endpointSelector: {matchLabels: {'reserved:host': ''}}}",
       {"spec.endpointSelector.matchLabels", "label key"}},
      {kPolicy + "spec: {endpointSelector: {matchLabels: {app: 'a b'}}}",
       {"spec.endpointSelector.matchLabels.app"}},
      {kPolicy + "spec: {endpointSelector: {matchExpressions: [{key: app, operator: Is}]}}",
       {"spec.endpointSelector.matchExpressions[0].operator"}},
      {kPolicy + "spec: {endpointSelector: {matchExpressions: [{key: app, operator: In}]}}",
       {"spec.endpointSelector.matchExpressions[0].values", "must be non-empty"}},
      {kPolicy + "spec: {endpointSelector: {matchExpressions: [{key: app, operator: Exists, "
                 "values: [a]}]}}",
       {"spec.endpointSelector.matchExpressions[0].values", "may not be specified"}},
      {kPolicy + "spec: {endpointSelector: {matchExpressions: [{key: 'a b', operator: "
                 "Exists}]}}",
       {"spec.endpointSelector.matchExpressions[0].key"}},
  };
  for (const auto& c : cases) expectRefused(c.object, c.fields);
  // What podnet accepts at the edges: Cilium's "k8s:" prefix and namespace labels, ANY, port 0,
  // host bits in a CIDR, numeric and named ports.
  expectAccepted(kPolicy +
                 "spec:\n"
                 "  endpointSelector: {matchLabels: {'k8s:app': x, "
                 "io.cilium.k8s.namespace.labels.team: a}}\n"
                 "  ingress: [{toPorts: [{ports: [{port: http, protocol: ANY}, {port: 0}, "
                 "{port: '80', endPort: 90}]}]}]\n"
                 "  egress: [{toCIDRSet: [{cidr: 10.1.2.3/8, except: [10.1.0.0/16]}]}]\n");
  expectAccepted(kPolicy +
                 "spec:\n"
                 "  description: isolate, then allow DNS\n"
                 "  endpointSelector: {matchExpressions: [{key: tier, operator: NotIn, values: [a, "
                 "b]}, {key: 'k8s:legacy', operator: DoesNotExist}]}\n"
                 "  ingress: []\n"
                 "  ingressDeny: [{}]\n"
                 "  egress: [{toEndpoints: [{}], toPorts: [{ports: [{port: '65535', protocol: "
                 "SCTP}, {port: 53, protocol: UDP}]}]}]\n"
                 "  egressDeny: [{toCIDR: [192.168.0.1/32]}]\n");
  expectRefused(kPolicy +
                    "spec: {endpointSelector: {}, egress: [{toPorts: [{ports: [{port: 80, "
                    "endPort: 0}]}]}]}",
                {"spec.egress[0].toPorts[0].ports[0].endPort"});
  expectAccepted(kClusterwide + "spec: {nodeSelector: {matchLabels: {role: edge}}}");
  expectAccepted(kClusterwide +
                 "spec: {endpointSelector: {}, egress: [{toEntities: [cluster, "
                 "host, remote-node, world, all]}]}");
}

TEST_F(ManifestTest, IpObjectsFollowTheContract) {
  const std::string spec =
      "spec: {address: 10.16.0.5, subnet: default, nodeName: n1, podNamespace: shop, podName: a, "
      "podUid: u, containerId: c, ifName: eth0, macAddress: '0a:58:0a:10:00:05', state: ready}\n";
  expectApiRefuses(kIp + "metadata: {name: 10.16.0.6}\n" + spec,
                   {"metadata.name", "is not spec.address 10.16.0.5"});
  expectApiRefuses(
      kIp + "metadata: {name: 10.16.0.5}\n" + std::regex_replace(spec, std::regex("ready"), "done"),
      {"spec.state"});
  expectApiRefuses(kIp + "metadata: {name: 10.16.0.5}\n" +
                       std::regex_replace(spec, std::regex("0a:58:0a:10:00:05"), "0a:58"),
                   {"spec.macAddress"});
  expectApiRefuses(kIp + "metadata: {name: 10.16.0.300}\n" +
                       std::regex_replace(spec, std::regex("10.16.0.5"), "10.16.0.300"),
                   {"spec.address", "is not an IPv4 address"});
  expectApiRefuses(kIp + "metadata: {name: 10.16.0.5}\n" +
                       std::regex_replace(spec, std::regex("subnet: default"), "subnet: ''"),
                   {"spec.subnet"});
  // (src/kube decodes IP objects; the API server's verdict alone is checked here.)
  Outcome created =
      apply(kIp + "metadata: {name: 10.16.0.5, labels: {podnet.io/subnet: default}}\n" + spec);
  ASSERT_EQ(created.status, 0) << created.err;
  Outcome got = kubectl({"get", "ips", "-l", "podnet.io/subnet=default"});
  EXPECT_NE(got.out.find("10.16.0.5"), std::string::npos) << got.out << got.err;
}

TEST_F(ManifestTest, TheExamplesOfTheDocsAreAccepted) {
  ASSERT_EQ(kubectl({"create", "namespace", "shop"}).status, 0);
  int examples = 0;
  for (const char* doc : {"/README.md", "/docs/policy.md", "/docs/kubernetes.md"}) {
    for (const auto& example : yamlExamples(std::string(PODNET_SOURCE_DIR) + doc)) {
      Outcome outcome = kubectl({"apply", "--dry-run=server", "-f", "-"}, example);
      EXPECT_EQ(outcome.status, 0) << doc << ":\n" << example << outcome.err;
      Status podnet = podnetAccepts(example);
      EXPECT_TRUE(podnet.ok()) << doc << ":\n" << example << podnet.error().message;
      ++examples;
    }
  }
  EXPECT_GE(examples, 4);
}

TEST_F(ManifestTest, GetSubnetsShowsCidrUsedAndFreeAddresses) {
  expectAccepted(
      "apiVersion: podnet.io/v1\nkind: Subnet\nmetadata: {name: blue}\n"
      "spec: {cidrBlock: 10.10.0.0/24, gateway: 10.10.0.254}\n");
  Outcome patched = kubectl(
      {"patch", "subnet", "blue", "--subresource=status", "--type=merge", "-p",
       R"({"status": {"used": 3, "free": 249, "conditions": [{"type": "Ready", "status": "True",)"
       R"( "reason": "Allocatable", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}})"});
  ASSERT_EQ(patched.status, 0) << patched.err;
  Outcome got = kubectl({"get", "subnets", "blue"});
  ASSERT_EQ(got.status, 0) << got.err;
  std::istringstream lines(got.out);
  std::string header, row;
  std::getline(lines, header);
  std::getline(lines, row);
  EXPECT_EQ(words(header),
            (std::vector<std::string>{"NAME", "CIDR", "GATEWAY", "USED", "FREE", "READY", "AGE"}));
  auto cells = words(row);
  ASSERT_EQ(cells.size(), 7u) << got.out;
  EXPECT_EQ(std::vector<std::string>(cells.begin(), cells.begin() + 6),
            (std::vector<std::string>{"blue", "10.10.0.0/24", "10.10.0.254", "3", "249", "True"}));
}

TEST_F(ManifestTest, TheAgentMayDoWhatItNeedsAndNothingElse) {
  const std::vector<std::vector<std::string>> yes = {
      {"list", "pods"},
      {"watch", "pods", "-A"},
      {"watch", "namespaces"},
      {"list", "nodes"},
      {"watch", "networkpolicies.networking.k8s.io", "-A"},
      {"list", "services", "-A"},
      {"watch", "endpointslices.discovery.k8s.io", "-A"},
      {"watch", "subnets.podnet.io"},
      {"list", "podnetnetworkpolicies.podnet.io", "-A"},
      {"watch", "podnetclusterwidenetworkpolicies.podnet.io"},
      {"patch", "nodes"},
      {"patch", "pods", "-n", "shop"},
      {"create", "ips.podnet.io"},
      {"delete", "ips.podnet.io"},
      {"watch", "ips.podnet.io"},
  };
  const std::vector<std::vector<std::string>> no = {
      {"get", "secrets", "-A"},
      {"delete", "namespaces"},
      {"delete", "pods", "-A"},
      {"create", "pods", "-A"},
      {"update", "nodes"},
      {"delete", "nodes"},
      {"create", "subnets.podnet.io"},
      {"update", "subnets.podnet.io", "--subresource=status"},
      {"create", "podnetnetworkpolicies.podnet.io", "-A"},
      {"create", "networkpolicies.networking.k8s.io", "-A"},
      {"update", "ips.podnet.io"},
      {"patch", "configmaps", "-A"},
      {"create", "leases.coordination.k8s.io", "-n", "podnet-system"},
  };
  for (const auto& q : yes) EXPECT_EQ(can("podnet-agent", q), "yes") << ::testing::PrintToString(q);
  for (const auto& q : no) EXPECT_EQ(can("podnet-agent", q), "no") << ::testing::PrintToString(q);
}

TEST_F(ManifestTest, TheControllerMayDoWhatItNeedsAndNothingElse) {
  const std::vector<std::vector<std::string>> yes = {
      {"watch", "pods", "-A"},
      {"watch", "nodes"},
      {"watch", "namespaces"},
      {"list", "networkpolicies.networking.k8s.io", "-A"},
      {"watch", "subnets.podnet.io"},
      {"watch", "ips.podnet.io"},
      {"delete", "ips.podnet.io"},
      {"update", "subnets.podnet.io", "--subresource=status"},
      {"create", "leases.coordination.k8s.io", "-n", "podnet-system"},
      {"update", "leases.coordination.k8s.io", "-n", "podnet-system"},
  };
  const std::vector<std::vector<std::string>> no = {
      {"create", "ips.podnet.io"},
      {"update", "subnets.podnet.io"},
      {"delete", "subnets.podnet.io"},
      {"patch", "nodes"},
      {"patch", "pods", "-A"},
      {"create", "leases.coordination.k8s.io", "-n", "kube-system"},
      {"get", "secrets", "-n", "podnet-system"},
      {"delete", "namespaces"},
  };
  for (const auto& q : yes) {
    EXPECT_EQ(can("podnet-controller", q), "yes") << ::testing::PrintToString(q);
  }
  for (const auto& q : no) {
    EXPECT_EQ(can("podnet-controller", q), "no") << ::testing::PrintToString(q);
  }
}

}  // namespace
}  // namespace podnet::testing
