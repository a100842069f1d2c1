// A 3-node cluster in throwaway namespaces: an "underlay" namespace with a bridge, three node
// namespaces with an "eth0" on it (172.30.0.11-13/24), each node with podnet0 holding the same
// gateway 10.244.0.1/16 and routed-veth pods whose addresses are spread over the pool regardless
// of node. Every test runs for both backends.
//
// To see what a node programmed:
//   ip -n <node> -d link show podnet.vxlan
//   bridge -n <node> fdb show dev podnet.vxlan
//   ip -n <node> neigh show dev podnet.vxlan
//   ip -n <node> route show proto 112
#include "dataplane/overlay.h"

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "dataplane/node_network.h"
#include "dataplane/pod_wiring.h"
#include "support/netns_fixture.h"

namespace podnet {

// For test names in ctest; in Backend's namespace so that gtest finds it by ADL.
[[maybe_unused]] static void PrintTo(Backend backend, std::ostream* os) {
  *os << backendName(backend);
}

}  // namespace podnet

namespace podnet::dataplane {

namespace {

Ipv4 ip(const std::string& text) {
  return *Ipv4::parse(text);
}

struct TestNode {
  std::string ns;
  Ipv4 underlay;
  std::optional<Overlay> overlay;
};

struct TestPod {
  std::string ns;
  Ipv4 ip;
  int node;             // index into nodes_
  std::string hostMac;  // the node side of its veth
};

class OverlayTest : public testing::NetnsFixture, public ::testing::WithParamInterface<Backend> {
 protected:
  static constexpr int kNodes = 3;

  void SetUp() override {
    underlay_ = addNetns();
    ASSERT_EQ(runIn(underlay_, "sh -c 'ip link add br0 type bridge && ip link set br0 up'"), 0);
    for (int i = 0; i < kNodes; ++i) {
      TestNode node{addNetns(), ip("172.30.0." + std::to_string(11 + i)), std::nullopt};
      std::string port = "u" + std::to_string(i);
      ASSERT_EQ(run("ip -n " + underlay_ + " link add " + port +
                    " type veth peer name eth0 netns " + node.ns),
                0);
      ASSERT_EQ(run("ip -n " + underlay_ + " link set " + port + " master br0 up"), 0);
      ASSERT_EQ(run("ip -n " + node.ns + " addr add " + node.underlay.str() + "/24 dev eth0"), 0);
      ASSERT_EQ(run("ip -n " + node.ns + " link set eth0 up"), 0);
      nodes_.push_back(std::move(node));
    }
    // Addresses from anywhere in the pool: subnets span nodes.
    pods_ = {{"", ip("10.244.0.10"), 0, ""},
             {"", ip("10.244.3.11"), 0, ""},
             {"", ip("10.244.0.20"), 1, ""},
             {"", ip("10.244.9.30"), 2, ""}};
    for (int i = 0; i < kNodes; ++i) {
      enterNetns(nodes_[i].ns);
      auto ensured = ensureNodeNetwork({"podnet0", *Ipv4Prefix::parse("10.244.0.1/16")});
      ASSERT_TRUE(ensured.ok()) << ensured.error().message;
      nodes_[i].overlay.emplace(createOverlay(i));
      auto wiring = PodWiring::create();
      ASSERT_TRUE(wiring.ok()) << wiring.error().message;
      for (auto& pod : pods_) {
        if (pod.node != i) continue;
        pod.ns = addNetns();
        PodNetwork network{"ctr-" + pod.ip.str(),  "eth0",           netnsPath(pod.ns),
                           Ipv4Prefix{pod.ip, 16}, ip("10.244.0.1"), overlay(i).podMtu()};
        auto wired = wiring->attach(network);
        ASSERT_TRUE(wired.ok()) << wired.error().message;
        pod.hostMac = wired->hostMac.str();
      }
    }
  }

  bool vxlan() const { return GetParam() == Backend::kVxlan; }

  OverlayConfig config(int node) const {
    OverlayConfig config;
    config.backend = GetParam();
    config.uplink = "eth0";
    config.underlayIp = nodes_[node].underlay;
    return config;
  }

  // In the calling thread's netns, which must be node's.
  Overlay createOverlay(int node) {
    auto created = Overlay::create(config(node));
    EXPECT_TRUE(created.ok()) << created.error().message;
    return std::move(created).value();
  }

  Overlay& overlay(int node) { return *nodes_[node].overlay; }

  NodeEndpoint endpoint(int node) {
    return {"n" + std::to_string(node + 1), nodes_[node].underlay, overlay(node).localVtepMac()};
  }

  // What the agent does from its store watch: every other node and every remote pod.
  void programAll() {
    for (int i = 0; i < kNodes; ++i) {
      for (int j = 0; j < kNodes; ++j) {
        if (j == i) continue;
        auto upserted = overlay(i).upsertNode(endpoint(j));
        ASSERT_TRUE(upserted.ok()) << upserted.error().message;
      }
      for (const auto& pod : pods_) {
        if (pod.node == i) continue;
        auto upserted = overlay(i).upsertPod({pod.ip, "n" + std::to_string(pod.node + 1)});
        ASSERT_TRUE(upserted.ok()) << upserted.error().message;
      }
    }
  }

  // The address a pod uses to reach a remote node: its join address through the tunnel (vxlan),
  // its underlay address on the shared link (host-gw).
  Ipv4 nodeAddress(int node) const {
    return vxlan() ? joinAddress(nodes_[node].underlay) : nodes_[node].underlay;
  }

  static bool ping(const std::string& from, Ipv4 to, int size = 56) {
    return runIn(from, "ping -c1 -W2 -q -M do -s " + std::to_string(size) + " " + to.str() +
                           " >/dev/null") == 0;
  }
  // ping ran and got no reply (exit 1; 2 is ping's own failure, e.g. no route or a bad netns).
  static bool silent(const std::string& from, Ipv4 to) {
    return runIn(from, "ping -c1 -W1 -q " + to.str() + " >/dev/null") == 1;
  }

  // The first word of every line of a command's output, e.g. the destinations of `ip route`.
  static std::set<std::string> firstWords(const std::string& cmd) {
    std::set<std::string> words;
    std::istringstream lines(checkedOutput(cmd));
    for (std::string line; std::getline(lines, line);) {
      std::istringstream(line) >> line;
      if (!line.empty()) words.insert(line);
    }
    return words;
  }
  std::set<std::string> ownedRoutes(int node) const {
    return firstWords("ip -n " + nodes_[node].ns + " -4 route show proto 112");
  }
  std::set<std::string> fdbMacs(int node) const {
    return firstWords("bridge -n " + nodes_[node].ns + " fdb show dev podnet.vxlan");
  }
  std::set<std::string> neighbours(int node) const {
    return firstWords("ip -n " + nodes_[node].ns + " neigh show dev podnet.vxlan");
  }
  std::string routeTo(int node, Ipv4 dst) const {
    return checkedOutput("ip -n " + nodes_[node].ns + " -4 route show " + dst.str() +
                         "/32 proto 112");
  }

  // Everything node programmed, as the ip tools show it.
  std::string programmed(int node) const {
    std::string ns = nodes_[node].ns;
    return output("ip -n " + ns + " -4 route show proto 112; bridge -n " + ns +
                  " fdb show dev podnet.vxlan 2>/dev/null; ip -n " + ns +
                  " neigh show dev podnet.vxlan 2>/dev/null");
  }

  std::string underlay_;
  std::vector<TestNode> nodes_;
  std::vector<TestPod> pods_;
};

TEST_P(OverlayTest, PodsAndNodesReachEachOtherAcrossNodes) {
  programAll();
  const TestPod &p10 = pods_[0], &p11 = pods_[1], &p20 = pods_[2], &p30 = pods_[3];

  EXPECT_TRUE(ping(p10.ns, p20.ip));          // pod -> pod, n1 -> n2
  EXPECT_TRUE(ping(p20.ns, p30.ip));          // n2 -> n3
  EXPECT_TRUE(ping(p30.ns, p11.ip));          // n3 -> n1
  EXPECT_TRUE(ping(p10.ns, p11.ip));          // same node, unchanged
  EXPECT_TRUE(ping(p10.ns, nodeAddress(1)));  // pod -> remote node
  EXPECT_TRUE(ping(p30.ns, nodeAddress(0)));
  EXPECT_TRUE(ping(nodes_[0].ns, p20.ip));  // node -> remote pod
  EXPECT_TRUE(ping(nodes_[2].ns, p10.ip));

  // The largest packet the pod MTU allows crosses without fragmentation (ping sets DF).
  int payload = overlay(0).podMtu() - 28;
  EXPECT_TRUE(ping(p10.ns, p30.ip, payload));

  // A node reaches remote pods from its join address, so replies come back through the tunnel.
  if (vxlan()) {
    std::string route = output("ip -n " + nodes_[0].ns + " route get " + p20.ip.str());
    EXPECT_NE(route.find("dev podnet.vxlan src 100.64.0.11"), std::string::npos) << route;
  }
}

TEST_P(OverlayTest, ProgramsOneEntryPerRemotePodAndNode) {
  programAll();
  std::set<std::string> want{"10.244.0.20", "10.244.9.30"};
  if (vxlan()) want.insert({"100.64.0.12", "100.64.0.13"});
  EXPECT_EQ(ownedRoutes(0), want) << programmed(0);
  if (vxlan()) {
    EXPECT_EQ(fdbMacs(0), (std::set<std::string>{endpoint(1).vtepMac, endpoint(2).vtepMac}));
    EXPECT_EQ(neighbours(0), (std::set<std::string>{"100.64.0.12", "100.64.0.13"}));
    EXPECT_NE(routeTo(0, ip("10.244.0.20")).find("via 100.64.0.12 dev podnet.vxlan"),
              std::string::npos)
        << programmed(0);
  } else {
    EXPECT_NE(routeTo(0, ip("10.244.0.20")).find("via 172.30.0.12 dev eth0"), std::string::npos)
        << programmed(0);
  }
}

TEST_P(OverlayTest, UpsertingTheSameStateTwiceChangesNothing) {
  programAll();
  std::string before = programmed(0);
  // A restarted agent: create again over the existing device, then program everything again.
  enterNetns(nodes_[0].ns);
  std::string linkBefore =
      output("ip -n " + nodes_[0].ns + " -o link show podnet.vxlan 2>/dev/null");
  nodes_[0].overlay.emplace(createOverlay(0));
  EXPECT_EQ(output("ip -n " + nodes_[0].ns + " -o link show podnet.vxlan 2>/dev/null"), linkBefore);
  programAll();
  EXPECT_EQ(programmed(0), before);
  EXPECT_TRUE(ping(pods_[0].ns, pods_[2].ip));
}

TEST_P(OverlayTest, ConcurrentUpsertsAllLand) {
  ASSERT_TRUE(overlay(0).upsertNode(endpoint(1)).ok());
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < kPerThread; ++i) {
        Ipv4 pod = ip("10.244.100." + std::to_string(t * kPerThread + i));
        EXPECT_TRUE(overlay(0).upsertPod({pod, "n2"}).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ownedRoutes(0).size(), size_t{kThreads * kPerThread} + (vxlan() ? 1 : 0));
}

TEST_P(OverlayTest, RemovedPodIsUnreachableFromOtherNodes) {
  programAll();
  const TestPod &p10 = pods_[0], &p20 = pods_[2], &p30 = pods_[3];
  ASSERT_TRUE(ping(p10.ns, p20.ip));
  ASSERT_NE(routeTo(0, p20.ip), "");  // the same command sees the route while it exists

  ASSERT_TRUE(overlay(0).removePod(p20.ip).ok());
  EXPECT_EQ(routeTo(0, p20.ip), "");
  EXPECT_TRUE(silent(p10.ns, p20.ip));
  EXPECT_TRUE(ping(p10.ns, p30.ip));               // the others stay
  EXPECT_TRUE(overlay(0).removePod(p20.ip).ok());  // idempotent
  EXPECT_TRUE(ping(nodes_[2].ns, p20.ip));         // other nodes are not affected
}

TEST_P(OverlayTest, RemovedNodeLeavesNothingBehind) {
  programAll();
  const TestPod &p10 = pods_[0], &p20 = pods_[2], &p30 = pods_[3];
  std::string n2Mac = endpoint(1).vtepMac;
  ASSERT_TRUE(ping(p10.ns, p20.ip));  // what "silent" below is the absence of

  ASSERT_TRUE(overlay(0).removeNode("n2").ok());
  std::set<std::string> want{"10.244.9.30"};
  if (vxlan()) want.insert("100.64.0.13");
  EXPECT_EQ(ownedRoutes(0), want) << programmed(0);
  if (vxlan()) {
    EXPECT_EQ(fdbMacs(0), std::set<std::string>{endpoint(2).vtepMac}) << programmed(0);
    EXPECT_EQ(neighbours(0), std::set<std::string>{"100.64.0.13"}) << programmed(0);
  }
  EXPECT_TRUE(silent(p10.ns, p20.ip));
  EXPECT_TRUE(ping(p10.ns, p30.ip));
  EXPECT_TRUE(overlay(0).removeNode("n2").ok());  // idempotent

  auto orphan = overlay(0).upsertPod({p20.ip, "n2"});
  ASSERT_FALSE(orphan.ok());
  EXPECT_EQ(orphan.error().code, Errc::kNotFound);
  EXPECT_NE(orphan.error().message.find("n2"), std::string::npos) << orphan.error().message;
}

TEST_P(OverlayTest, SyncConvergesFromAMessyStateAfterARestart) {
  programAll();
  std::string clean = programmed(0);
  // Stale: a node that left with its pod, a pod that moved away. Missing: node n3 and its pod.
  NodeEndpoint gone{"n9", ip("172.30.0.99"), "0e:70:ac:1e:00:63"};
  ASSERT_TRUE(overlay(0).upsertNode(gone).ok());
  ASSERT_TRUE(overlay(0).upsertPod({ip("10.244.5.5"), "n9"}).ok());
  ASSERT_TRUE(overlay(0).upsertPod({ip("10.244.6.6"), "n2"}).ok());
  ASSERT_TRUE(overlay(0).removeNode("n3").ok());
  ASSERT_NE(programmed(0), clean);

  // A new agent knows nothing of what the old one programmed.
  enterNetns(nodes_[0].ns);
  nodes_[0].overlay.emplace(createOverlay(0));
  std::vector<RemotePod> pods{{pods_[2].ip, "n2"}, {pods_[3].ip, "n3"}};
  auto synced = overlay(0).sync({endpoint(1), endpoint(2)}, pods);
  ASSERT_TRUE(synced.ok()) << synced.error().message;
  EXPECT_EQ(programmed(0), clean);
  EXPECT_TRUE(ping(pods_[0].ns, pods_[3].ip));
  EXPECT_TRUE(ping(nodes_[0].ns, pods_[2].ip));

  // A pod of a node not in the set is reported; everything else is still programmed.
  auto partial = overlay(0).sync({endpoint(1)}, {{pods_[2].ip, "n2"}, {pods_[3].ip, "n3"}});
  ASSERT_FALSE(partial.ok());
  EXPECT_EQ(partial.error().code, Errc::kNotFound);
  EXPECT_NE(partial.error().message.find("10.244.9.30"), std::string::npos);
  EXPECT_TRUE(ping(pods_[0].ns, pods_[2].ip));
}

TEST_P(OverlayTest, NodeWithANewAddressKeepsItsPods) {
  programAll();
  if (vxlan()) ASSERT_NE(routeTo(0, ip("100.64.0.12")), "");  // the route the move removes
  NodeEndpoint moved{"n2", ip("172.30.0.22"), "0e:70:ac:1e:00:16"};
  ASSERT_TRUE(overlay(0).upsertNode(moved).ok());
  Ipv4 hop = vxlan() ? ip("100.64.0.22") : ip("172.30.0.22");
  EXPECT_NE(routeTo(0, pods_[2].ip).find("via " + hop.str()), std::string::npos) << programmed(0);
  if (vxlan()) {
    EXPECT_EQ(fdbMacs(0), (std::set<std::string>{moved.vtepMac, endpoint(2).vtepMac}));
    EXPECT_EQ(neighbours(0), (std::set<std::string>{"100.64.0.22", "100.64.0.13"}));
    EXPECT_EQ(routeTo(0, ip("100.64.0.12")), "");
  }
}

TEST_P(OverlayTest, RefusesNodesThatShareANextHop) {
  NodeEndpoint self{"other", nodes_[0].underlay, "0e:70:00:00:00:01"};
  auto own = overlay(0).upsertNode(self);
  ASSERT_FALSE(own.ok());
  EXPECT_EQ(own.error().code, Errc::kConflict);
  ASSERT_TRUE(overlay(0).upsertNode(endpoint(1)).ok());
  // 172.31.0.12 has n2's low 16 bits: the same join address under vxlan; fine for host-gw.
  auto twin = overlay(0).upsertNode({"twin", ip("172.31.0.12"), "0e:70:00:00:00:02"});
  EXPECT_EQ(twin.ok(), !vxlan());
}

TEST_P(OverlayTest, MtuIsDerivedFromTheUplink) {
  EXPECT_EQ(overlay(0).podMtu(), vxlan() ? 1450 : 1500);
  if (!vxlan()) {
    // Switching a node from vxlan to host-gw removes the device (and all it carried).
    enterNetns(nodes_[0].ns);
    OverlayConfig old = config(0);
    old.backend = Backend::kVxlan;
    ASSERT_TRUE(Overlay::create(old).ok());
    ASSERT_EQ(run("ip -n " + nodes_[0].ns + " link show podnet.vxlan >/dev/null 2>&1"), 0);
    createOverlay(0);
    EXPECT_EQ(run("ip -n " + nodes_[0].ns + " link show podnet.vxlan >/dev/null 2>&1"), 1);
    return;
  }
  std::string link = output("ip -n " + nodes_[0].ns + " -d link show podnet.vxlan");
  for (const char* want : {"mtu 1450", "vxlan id 4096", "local 172.30.0.11", "dev eth0",
                           "dstport 8472", "nolearning"}) {
    EXPECT_NE(link.find(want), std::string::npos) << want << " in " << link;
  }
  EXPECT_NE(link.find(overlay(0).localVtepMac()), std::string::npos) << link;

  // A bigger uplink and an explicit MTU both carry through to the existing device.
  enterNetns(nodes_[1].ns);
  ASSERT_EQ(run("ip -n " + nodes_[1].ns + " link set eth0 mtu 9000"), 0);
  EXPECT_EQ(createOverlay(1).podMtu(), 8950);
  OverlayConfig fixed = config(1);
  fixed.mtu = 1400;
  auto explicitMtu = Overlay::create(fixed);
  ASSERT_TRUE(explicitMtu.ok()) << explicitMtu.error().message;
  EXPECT_EQ(explicitMtu->podMtu(), 1400);
  EXPECT_NE(output("ip -n " + nodes_[1].ns + " link show podnet.vxlan").find("mtu 1400"),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Backends, OverlayTest,
                         ::testing::Values(Backend::kVxlan, Backend::kHostGw),
                         [](const auto& info) {
                           return info.param == Backend::kVxlan ? std::string("Vxlan")
                                                                : std::string("HostGw");
                         });

}  // namespace
}  // namespace podnet::dataplane
