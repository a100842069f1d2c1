// A whole lab, as the README walks through it: `lab up` with each backend, namespaces and pods
// through the real CNI plugin on different nodes, traffic between them, labels, pod deletion and
// `lab down`.
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "lab/traffic.h"
#include "lab_fixture.h"

namespace podnet::testing {
namespace {

class LabClusterTest : public LabFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    LabFixture::SetUp();
    if (HasFatalFailure()) return;
    auto up = lab("up --nodes 3 --backend " + GetParam());
    ASSERT_EQ(up.status, 0) << up.out;
    auto ns = lab("ns add demo --labels team=a");
    ASSERT_EQ(ns.status, 0) << ns.out;
    for (auto [pod, node] : {std::pair{"a", "n1"}, {"b", "n1"}, {"c", "n2"}}) {
      auto add =
          lab(std::string("pod add demo/") + pod + " --node " + node + " --labels app=" + pod);
      ASSERT_EQ(add.status, 0) << add.out;
    }
    // The other nodes learn of the pods in the background; the tests start once they have.
    ASSERT_EQ(probeSettled("demo/a", "demo/c", 80, "connected"), "connected");
    ASSERT_EQ(probeSettled("demo/c", "demo/b", 80, "connected"), "connected");
  }
};

TEST_P(LabClusterTest, PodsOnOneNodeReachEachOther) {
  EXPECT_EQ(probe("demo/a", "demo/b", 80), "connected");
  EXPECT_EQ(probe("demo/b", "demo/a", 81), "connected");
  EXPECT_EQ(probe("demo/a", "demo/b", 80, "udp"), "connected");
  EXPECT_EQ(probe("demo/b", "demo/a", 81, "udp"), "connected");
  EXPECT_EQ(probe("demo/a", "demo/b", 82), "blocked");
  EXPECT_EQ(probe("demo/a", "demo/b", 82, "udp"), "blocked");
}

TEST_P(LabClusterTest, PodsOnDifferentNodesReachEachOther) {
  EXPECT_EQ(probe("demo/a", "demo/c", 80), "connected");
  EXPECT_EQ(probe("demo/c", "demo/a", 81), "connected");
  EXPECT_EQ(probe("demo/a", "demo/c", 80, "udp"), "connected");
  EXPECT_EQ(probe("demo/c", "demo/b", 81, "udp"), "connected");
  EXPECT_EQ(probe("demo/a", ipOf("demo/c"), 80), "connected");  // by address
  EXPECT_EQ(probe("demo/c", "demo/a", 82), "blocked");
  EXPECT_EQ(probe("demo/c", "demo/a", 82, "udp"), "blocked");
}

TEST_P(LabClusterTest, NodesAndPodsReachEachOther) {
  // A pod reaches its own node's address; a node reaches local and remote pods.
  EXPECT_EQ(probe("demo/a", "n1", 80), "connected");
  EXPECT_EQ(probe("demo/c", "n2", 81, "udp"), "connected");
  EXPECT_EQ(probe("n1", "demo/a", 80), "connected");
  EXPECT_EQ(probe("n1", "demo/a", 80, "udp"), "connected");
  EXPECT_EQ(probe("n3", "demo/a", 81), "connected");
  EXPECT_EQ(probe("n3", "demo/c", 80, "udp"), "connected");
  EXPECT_EQ(probe("n2", "demo/b", 82), "blocked");
  // ...and other nodes' underlay addresses (over vxlan the reply returns through the tunnel).
  EXPECT_EQ(probe("demo/a", "n2", 80), "connected");
  EXPECT_EQ(probe("demo/c", "n3", 80, "udp"), "connected");
}

TEST_P(LabClusterTest, ExecRunsInThePodAndStatusShowsIt) {
  auto addr = lab("exec demo/c -- ip -4 -o addr show dev eth0");
  EXPECT_EQ(addr.status, 0) << addr.out;
  ASSERT_FALSE(ipOf("demo/c").empty());
  EXPECT_NE(addr.out.find(ipOf("demo/c") + "/"), std::string::npos) << addr.out;

  auto status = lab("status");
  EXPECT_EQ(status.status, 0) << status.out;
  for (const auto& line : {"n1", "n2", "n3", "demo/a", "demo/b", "demo/c", "healthy"}) {
    EXPECT_NE(status.out.find(line), std::string::npos) << line << " in\n" << status.out;
  }
  EXPECT_EQ(status.out.find("unreachable"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("unknown"), std::string::npos) << status.out;  // every pod wired
}

TEST_P(LabClusterTest, PodLabelChangesThePodObject) {
  auto label = lab("pod label demo/a tier=front app-");
  EXPECT_EQ(label.status, 0) << label.out;
  auto labels = state()["pods"]["demo/a"]["labels"];
  EXPECT_EQ(labels, (nlohmann::json{{"tier", "front"}})) << labels;
  auto bad = lab("pod label demo/a =x");
  EXPECT_NE(bad.status, 0);
  auto missing = lab("pod label demo/zz a=b");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.out.find("demo/zz"), std::string::npos) << missing.out;
  // Traffic is unaffected by a label change (no policy selects it).
  EXPECT_EQ(probe("demo/c", "demo/a", 80), "connected");
}

TEST_P(LabClusterTest, PodDelRemovesThePod) {
  const std::string ip = ipOf("demo/c");
  auto del = lab("pod del demo/c");
  EXPECT_EQ(del.status, 0) << del.out;
  EXPECT_FALSE(std::filesystem::exists(lab::Layout::netnsPath(layout_->podNetns("demo", "c"))));
  EXPECT_EQ(probe("demo/a", ip, 80), "blocked");
  EXPECT_NE(lab("exec demo/c -- true").status, 0);
  auto status = lab("status");
  EXPECT_EQ(status.status, 0) << status.out;
  EXPECT_NE(status.out.find("demo/a"), std::string::npos) << status.out;
  EXPECT_EQ(status.out.find("demo/c"), std::string::npos) << status.out;
  EXPECT_NE(lab("pod del demo/c").status, 0);
  // The name can be used again, on another node.
  auto again = lab("pod add demo/c --node n3");
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_EQ(probeSettled("demo/a", "demo/c", 80, "connected"), "connected");
}

// Without --socket, podnetctl asks the local podnetd, else the running lab: apply, get and delete
// reach the lab's agents while no agent runs on the machine itself, and say which one they ask.
class LabAgentChoiceTest : public LabFixture {};

TEST_F(LabAgentChoiceTest, CommandsWithoutSocketAskTheRunningLab) {
  if (std::filesystem::exists("/run/podnet/podnetd.sock")) {
    GTEST_SKIP() << "a local podnetd runs (/run/podnet/podnetd.sock): it comes before the lab";
  }
  auto up = lab("up --nodes 2 --backend vxlan");
  ASSERT_EQ(up.status, 0) << up.out;
  const std::string file = layout_->libDir() + "/agent-choice.yaml";
  std::ofstream(file) << "apiVersion: v1\nkind: Namespace\nmetadata: {name: chosen}\n";
  auto apply = ctl("apply -f " + file);
  EXPECT_EQ(apply.status, 0) << apply.out;
  EXPECT_NE(apply.out.find("chosen"), std::string::npos) << apply.out;
  EXPECT_NE(apply.out.find("asking node n1 ("), std::string::npos) << apply.out;
  auto nodes = ctl("get nodes");
  EXPECT_EQ(nodes.status, 0) << nodes.out;
  EXPECT_NE(nodes.out.find("n2"), std::string::npos) << nodes.out;
  auto pods = ctl("get pods");
  EXPECT_EQ(pods.status, 0) << pods.out;
  auto del = ctl("delete -f " + file);
  EXPECT_EQ(del.status, 0) << del.out;
  EXPECT_NE(del.out.find("chosen"), std::string::npos) << del.out;
}

TEST_P(LabClusterTest, PodAddNamesWhatIsWrong) {
  auto noNs = lab("pod add nope/x --node n1");
  EXPECT_NE(noNs.status, 0);
  EXPECT_NE(noNs.out.find("lab ns add nope"), std::string::npos) << noNs.out;
  auto noNode = lab("pod add demo/x --node n7");
  EXPECT_NE(noNode.status, 0);
  EXPECT_NE(noNode.out.find("n7"), std::string::npos) << noNode.out;
  auto twice = lab("pod add demo/a --node n2");
  EXPECT_NE(twice.status, 0);
  EXPECT_NE(twice.out.find("already exists"), std::string::npos) << twice.out;
}

// Which path a stream takes: with the fast path the tc programs carry it (the nodes forward next
// to nothing, and over vxlan the receiving node's VXLAN device sees next to nothing, because its
// uplink program decapsulates into the pod); without it the nodes' IP stack forwards every packet
// (netfilter, and so kube-proxy, sees it). Counts packets, not time.
TEST_P(LabClusterTest, AStreamTakesThePathTheConfigurationPromises) {
  auto counter = [&](const std::string& target, const std::string& command) -> uint64_t {
    auto run = lab("exec " + target + " -- " + command);
    EXPECT_EQ(run.status, 0) << run.out;
    return std::strtoull(run.out.c_str(), nullptr, 10);
  };
  auto forwarded = [&](const std::string& node) {
    return counter(node, "awk '/^Ip: [0-9]/ {print $7}' /proc/net/snmp");  // ForwDatagrams
  };
  auto rxPackets = [&](const std::string& target, const std::string& device) {
    return counter(target, "cat /sys/class/net/" + device + "/statistics/rx_packets");
  };
  const bool fastPath = GetParam().find("--fast-path") != std::string::npos;
  const bool vxlan = GetParam().rfind("vxlan", 0) == 0;
  ASSERT_EQ(lab("exec demo/c -- iperf3 --server --one-off --daemon --port 5201").status, 0);
  const uint64_t fwd1 = forwarded("n1"), fwd2 = forwarded("n2"),
                 podRx = rxPackets("demo/c", "eth0");
  const uint64_t vxlanRx = vxlan ? rxPackets("n2", "podnet.vxlan") : 0;
  auto stream =
      lab("exec demo/a -- iperf3 --client " + ipOf("demo/c") + " --port 5201 --bytes 100M");
  ASSERT_EQ(stream.status, 0) << stream.out;
  const uint64_t received = rxPackets("demo/c", "eth0") - podRx;
  const uint64_t viaStack = forwarded("n1") - fwd1 + forwarded("n2") - fwd2;
  ASSERT_GT(received, 1000u);  // 100 MB arrived, in GSO packets of up to 64 KB
  if (fastPath) {
    EXPECT_LT(viaStack, received / 20) << "forwarded by the nodes' IP stack of " << received;
    if (vxlan) {
      EXPECT_LT(rxPackets("n2", "podnet.vxlan") - vxlanRx, received / 20)
          << "through n2's VXLAN device of " << received;
    }
  } else {
    EXPECT_GE(viaStack, received) << "forwarded by the nodes' IP stack of " << received;
  }

  // Full-size packets that are not GSO (UDP datagrams here; a TCP retransmission alike) take
  // the same path over vxlan: the decapsulating program must judge their size without the outer
  // headers they still carry.
  if (!fastPath || !vxlan) return;
  ASSERT_EQ(lab("exec demo/c -- iperf3 --server --one-off --daemon --port 5202").status, 0);
  const uint64_t udpPodRx = rxPackets("demo/c", "eth0"),
                 udpVxlanRx = rxPackets("n2", "podnet.vxlan");
  auto datagrams = lab("exec demo/a -- iperf3 --client " + ipOf("demo/c") +
                       " --port 5202 --udp --length 1400 --bitrate 100M --time 1");
  ASSERT_EQ(datagrams.status, 0) << datagrams.out;
  const uint64_t udpReceived = rxPackets("demo/c", "eth0") - udpPodRx;
  ASSERT_GT(udpReceived, 1000u);  // ~8,900 datagrams sent
  EXPECT_LT(rxPackets("n2", "podnet.vxlan") - udpVxlanRx, udpReceived / 20)
      << "datagrams through n2's VXLAN device of " << udpReceived;
}

// Each backend, with podnet's forwarding (the kernel's IP stack) and with the fast path (the tc
// programs forward; podnetd --fast-path).
INSTANTIATE_TEST_SUITE_P(Backends, LabClusterTest, ::testing::ValuesIn(kLabBackends),
                         labBackendName);

}  // namespace
}  // namespace podnet::testing
