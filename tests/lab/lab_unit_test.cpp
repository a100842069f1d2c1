// The lab's pure parts: names, labels, pod references, the Pod object's ports, the state file.
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include "lab/commands.h"
#include "lab/lab.h"
#include "lab/layout.h"
#include "lab/state.h"

namespace podnet::lab {
namespace {

// The backend is parsed at the edge: a bad value is refused before anything is built.
TEST(LabCommandsTest, UpRefusesAnUnknownBackendNamingTheFlag) {
  CLI::App app{"podnetctl"};
  auto commands = addCommands(app);
  std::vector<std::string> words = {"podnetctl", "lab",       "--lab-name", "podnet-unit-lab",
                                    "up",        "--backend", "geneve"};
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
  ::testing::internal::CaptureStderr();
  auto rc = commands->run();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(),
            "podnetctl lab: --backend: unknown value 'geneve': use vxlan or host-gw\n");
  EXPECT_EQ(rc, 1);
}

TEST(LabLayout, NamesEverythingAfterTheLab) {
  auto layout = Layout::make("podnet-lab").value();
  EXPECT_EQ(layout.infraNetns(), "podnet-lab");
  EXPECT_EQ(layout.nodeNetns("n2"), "podnet-lab-n2");
  EXPECT_EQ(layout.podNetns("default", "web"), "podnet-lab-default-web");
  EXPECT_EQ(layout.agentSocket("n1"), "/run/podnet-lab/n1/podnetd.sock");
  EXPECT_EQ(Layout::nodeAddress(3).str(), "172.30.0.13/24");
  EXPECT_EQ(Layout::bridgeAddress().str(), "172.30.0.1/24");
  EXPECT_EQ(Layout::etcdEndpoint(), "172.30.0.1:2379");
  EXPECT_TRUE(layout.ownsNetns("podnet-lab"));
  EXPECT_TRUE(layout.ownsNetns("podnet-lab-n1"));
  EXPECT_FALSE(layout.ownsNetns("podnet-labx"));
  EXPECT_FALSE(layout.ownsNetns("podnet-demo-node"));
  EXPECT_FALSE(Layout::make("Bad_Name"));
  EXPECT_FALSE(Layout::make(""));
  EXPECT_FALSE(Layout::make("x-"));
}

TEST(LabLabels, ParsesAndValidates) {
  auto labels = parseLabels("app=web,tier=front").value();
  EXPECT_EQ(labels, (model::Labels{{"app", "web"}, {"tier", "front"}}));
  EXPECT_TRUE(parseLabels("").value().empty());
  auto bad = parseLabels("app");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("app"), std::string::npos);
  EXPECT_FALSE(parseLabels("app=-bad-"));
}

TEST(LabPodRef, IsNamespaceSlashName) {
  auto ref = parsePodRef("default/web").value();
  EXPECT_EQ(ref.namespace_, "default");
  EXPECT_EQ(ref.name, "web");
  EXPECT_FALSE(parsePodRef("web"));
  EXPECT_FALSE(parsePodRef("Default/web"));
  EXPECT_FALSE(parsePodRef("default/"));
}

TEST(LabServerPorts, AreNamedByPortAndProtocol) {
  auto ports = serverPorts({Protocol::kTcp, Protocol::kUdp});
  std::vector<model::ContainerPort> expected = {{"serve-80-tcp", 80, "TCP"},
                                                {"serve-81-tcp", 81, "TCP"},
                                                {"serve-80-udp", 80, "UDP"},
                                                {"serve-81-udp", 81, "UDP"}};
  EXPECT_EQ(ports, expected);
  auto withSctp = serverPorts({Protocol::kTcp, Protocol::kUdp, Protocol::kSctp});
  ASSERT_EQ(withSctp.size(), 6u);
  EXPECT_EQ(withSctp[4], (model::ContainerPort{"serve-80-sctp", 80, "SCTP"}));
  EXPECT_EQ(withSctp[5], (model::ContainerPort{"serve-81-sctp", 81, "SCTP"}));
}

TEST(LabState, RoundTripsThroughJson) {
  LabState state;
  state.nodes = 3;
  state.backend = Backend::kHostGw;
  state.processes.push_back({"etcd", 42, 1234});
  state.namespaces["demo"] = {{"kubernetes.io/metadata.name", "demo"}};
  PodRecord pod;
  pod.namespace_ = "demo";
  pod.name = "web";
  pod.node = "n2";
  pod.uid = "u";
  pod.containerId = "lab0123";
  pod.netns = "podnet-lab-demo-web";
  pod.ip = "10.244.0.5";
  pod.labels = {{"app", "web"}};
  pod.ports = serverPorts({Protocol::kTcp});
  pod.server = ProcessRecord{"server demo/web", 43, 1300};
  state.pods["demo/web"] = pod;

  auto back = stateFromJson(toJson(state)).value();
  EXPECT_EQ(toJson(back), toJson(state));
  EXPECT_EQ(back.nodeNames(), (std::vector<std::string>{"n1", "n2", "n3"}));
  EXPECT_EQ(back.allProcesses().size(), 2u);
  EXPECT_EQ(back.backend, Backend::kHostGw);
  EXPECT_EQ(toJson(state)["backend"], "host-gw");
  EXPECT_FALSE(stateFromJson(nlohmann::json::object()));
  auto unknown = toJson(state);
  unknown["backend"] = "geneve";
  EXPECT_EQ(stateFromJson(unknown).error().message,
            "backend: unknown value 'geneve': use vxlan or host-gw");
}

}  // namespace
}  // namespace podnet::lab
