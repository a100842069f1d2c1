// What a multi-node cluster must survive, in a real lab: agents and etcd killed and restarted
// under a running TCP stream, a node that disappears, and ADDs racing on three nodes.
#include <sys/wait.h>

#include <fstream>
#include <future>
#include <set>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "lab_fixture.h"
#include "runtime/cni_runtime.h"
#include "support/eventually.h"

namespace podnet::testing {
namespace {

std::string shell(const std::string& cmd, int* status = nullptr) {
  std::string out;
  FILE* pipe = ::popen((cmd + " 2>&1").c_str(), "r");
  if (pipe == nullptr) {
    if (status != nullptr) *status = -1;
    return out;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int st = ::pclose(pipe);
  if (status != nullptr) *status = st;
  return out;
}

class LabResilienceTest : public LabFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  void SetUp() override {
    LabFixture::SetUp();
    if (HasFatalFailure()) return;
    auto up = lab("up --nodes 3 --backend " + GetParam());
    ASSERT_EQ(up.status, 0) << up.out;
    ASSERT_EQ(lab("ns add demo").status, 0);
    for (auto [pod, node] : {std::pair{"a", "n1"}, {"b", "n2"}, {"c", "n3"}}) {
      auto add = lab(std::string("pod add demo/") + pod + " --node " + node);
      ASSERT_EQ(add.status, 0) << add.out;
    }
  }

  // The pod/node reachability matrix of the issue: pod<->pod on one node and across nodes,
  // pod->node and node->pod; returns the pairs that did not connect.
  std::vector<std::string> matrixFailures() const {
    std::vector<std::string> failed;
    const std::vector<std::string> pods{"demo/a", "demo/b", "demo/c"};
    const std::vector<std::string> nodes{"n1", "n2", "n3"};
    auto check = [&](const std::string& from, const std::string& to) {
      for (const char* proto : {"tcp", "udp"}) {
        if (probe(from, to, 80, proto) != "connected")
          failed.push_back(from + " -> " + to + " " + proto);
      }
    };
    for (const auto& from : pods) {
      for (const auto& to : pods) {
        if (from != to) check(from, to);
      }
      for (const auto& node : nodes) check(from, node);
    }
    for (const auto& node : nodes) {
      for (const auto& pod : pods) check(node, pod);
    }
    return failed;
  }

  // podnetctl against one node's agent. A failed run fails the test: what its output lacks
  // proves nothing.
  std::string ctl(const std::string& node, const std::string& args) const {
    const std::string cmd = podnetctl() + " --socket " + layout_->agentSocket(node) + " " + args;
    int status = 0;
    std::string out = shell(cmd, &status);
    EXPECT_EQ(status, 0) << cmd << ":\n" << out;
    return out;
  }
};

TEST_P(LabResilienceTest, TheFullMatrixConnects) {
  EXPECT_EQ(matrixFailures(), std::vector<std::string>{});
}

TEST_P(LabResilienceTest, AStreamAcrossNodesSurvivesAgentAndEtcdRestarts) {
  const std::string server = ipOf("demo/b");
  ASSERT_FALSE(server.empty());
  ASSERT_EQ(lab("exec demo/b -- iperf3 --server --one-off --daemon --port 5201").status, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // A 20 s stream from a (n1) to b (n2), reporting every second.
  auto stream = std::async(std::launch::async, [&] {
    return labNamed(name_, "exec demo/a -- iperf3 --client " + server +
                               " --port 5201 --time 20 --interval 1 --json --bitrate 50M");
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (const char* component : {"n1", "n2", "etcd"}) {
    auto stop = lab(std::string("stop ") + component + " --kill");
    EXPECT_EQ(stop.status, 0) << stop.out;
    std::this_thread::sleep_for(std::chrono::seconds(1));
    auto start = lab(std::string("start ") + component);
    EXPECT_EQ(start.status, 0) << start.out;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  auto result = stream.get();
  ASSERT_EQ(result.status, 0) << result.out;
  auto report = nlohmann::json::parse(result.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << result.out;
  EXPECT_FALSE(report.contains("error")) << report["error"];
  // Every one-second interval carried data: the stream never stalled, let alone broke.
  int intervals = 0;
  for (const auto& interval : report["intervals"]) {
    ++intervals;
    EXPECT_GT(interval["sum"].value("bytes", 0.0), 0.0) << interval.dump();
  }
  EXPECT_GE(intervals, 19);
  EXPECT_GT(report["end"]["sum_received"].value("bytes", 0.0), 0.0);
  EXPECT_EQ(matrixFailures(), std::vector<std::string>{});
}

TEST_P(LabResilienceTest, ANodeThatIsGoneLosesItsRoutesAndItsAddresses) {
  const std::string ipC = ipOf("demo/c");
  ASSERT_FALSE(ipC.empty());
  auto routesOn = [&](const std::string& node) {
    return labNamed(name_, "exec " + node + " -- ip route show proto 112").out;
  };
  ASSERT_NE(routesOn("n1").find(ipC + " via"), std::string::npos) << routesOn("n1");
  auto subnetsBefore = ctl("n1", "get subnets -o json");
  EXPECT_NE(ctl("n1", "get nodes").find("n3     172.30.0.13"), std::string::npos)
      << ctl("n1", "get nodes");

  // n3's agent dies and stays dead: after its lease (10 s) the controller releases its pods.
  auto stop = lab("stop n3 --kill");
  ASSERT_EQ(stop.status, 0) << stop.out;
  const auto limit = std::chrono::seconds(60);
  EXPECT_TRUE(eventually(
      [&] {
        return routesOn("n1").find(ipC + " via") == std::string::npos &&
               routesOn("n2").find(ipC + " via") == std::string::npos;
      },
      limit))
      << routesOn("n1");
  EXPECT_TRUE(eventually(
      [&] { return ctl("n1", "get pods -o json").find(ipC + "/") == std::string::npos; }, limit))
      << ctl("n1", "get pods -o json");
  // `get subnets -o json` is a List of Subnet objects with status.used/free.
  auto used = [](const std::string& text) {
    auto list = nlohmann::json::parse(text, nullptr, false);
    if (!list.is_object() || !list["items"].is_array() || list["items"].empty()) return -1;
    return list["items"][0]["status"].value("used", -1);
  };
  const std::string after = ctl("n1", "get subnets -o json");
  ASSERT_GE(used(subnetsBefore), 3) << subnetsBefore;
  EXPECT_EQ(used(after) + 1, used(subnetsBefore)) << after;
  EXPECT_EQ(ctl("n1", "get nodes").find("n3 "), std::string::npos) << ctl("n1", "get nodes");
  // The rest of the cluster is untouched.
  EXPECT_EQ(probe("demo/a", "demo/b", 80), "connected");
  EXPECT_EQ(probe("n2", "demo/a", 80), "connected");
}

TEST_P(LabResilienceTest, ConcurrentAddsOnThreeNodesNeverShareAnAddress) {
  constexpr int kPerNode = 50;
  const std::vector<std::string> nodes{"n1", "n2", "n3"};
  std::vector<std::string> netns;
  for (const auto& node : nodes) {
    for (int i = 0; i < kPerNode; ++i) {
      netns.push_back(name_ + "-race-" + node + "-" + std::to_string(i));
    }
  }
  for (const auto& ns : netns) ASSERT_EQ(shell("ip netns add " + ns), "");
  std::string conf = R"({"cniVersion":"1.1.0","name":"podnet","plugins":[{"type":"podnet-cni",)"
                     R"("socket":"SOCKET"}]})";

  std::mutex mu;
  std::vector<std::string> addresses, errors;
  std::vector<std::thread> threads;
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int i = 0; i < kPerNode; ++i) {
      threads.emplace_back([&, n, i] {
        std::string text = conf;
        text.replace(text.find("SOCKET"), 6, layout_->agentSocket(nodes[n]));
        auto list = runtime::NetworkConfigList::parse(text);
        runtime::CniRuntime rt({{std::string(PODNET_BUILD_DIR) + "/bin"},
                                layout_->libDir() + "/race-cache",
                                lab::Layout::netnsPath(layout_->nodeNetns(nodes[n])),
                                std::chrono::seconds(60)});
        runtime::RuntimeConf pod;
        pod.containerId = "race-" + nodes[n] + "-" + std::to_string(i);
        pod.netns = lab::Layout::netnsPath(netns[n * kPerNode + i]);
        auto result = rt.add(*list, pod);
        std::lock_guard guard(mu);
        if (!result) {
          errors.push_back(pod.containerId + ": " + result.error().message);
          return;
        }
        addresses.push_back((*result)["ips"][0].value("address", ""));
      });
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors, std::vector<std::string>{});
  std::set<std::string> distinct(addresses.begin(), addresses.end());
  EXPECT_EQ(distinct.size(), addresses.size()) << "an address was handed out twice";
  EXPECT_EQ(addresses.size(), nodes.size() * kPerNode);
  for (const auto& ns : netns) shell("ip netns del " + ns);
}

INSTANTIATE_TEST_SUITE_P(Backends, LabResilienceTest, ::testing::ValuesIn(kLabBackends),
                         labBackendName);

}  // namespace
}  // namespace podnet::testing
