// A whole lab, as the README walks through it: `lab up` with each backend, namespaces and pods
// through the real CNI plugin on different nodes, traffic between them, labels, pod deletion and
// `lab down`.
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
  EXPECT_EQ(status.out.find("demo/c"), std::string::npos) << status.out;
  EXPECT_NE(lab("pod del demo/c").status, 0);
  // The name can be used again, on another node.
  auto again = lab("pod add demo/c --node n3");
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_EQ(probeSettled("demo/a", "demo/c", 80, "connected"), "connected");
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

// Each backend, with podnet's forwarding (the kernel's IP stack) and with the fast path (the tc
// programs forward; podnetd --fast-path).
INSTANTIATE_TEST_SUITE_P(Backends, LabClusterTest, ::testing::ValuesIn(kLabBackends),
                         labBackendName);

}  // namespace
}  // namespace podnet::testing
