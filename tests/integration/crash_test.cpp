// SIGKILL podnetd in the middle of 64 concurrent ADDs, restart it, and check what users rely on:
// no address handed out twice, none leaked, and every pod that got a result still works.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <thread>

#include "harness.h"

namespace podnet::testing {
namespace {

TEST(CrashTest, KillDuringConcurrentAddsLeavesNoDuplicateNoLeakAndWorkingPods) {
  constexpr int kPods = 64;
  TempDir dir;
  TestNetns node("node");
  AgentProcess agent(node, dir.path());
  std::vector<std::unique_ptr<TestNetns>> pods;
  for (int i = 0; i < kPods; ++i) pods.push_back(std::make_unique<TestNetns>("pod"));

  std::vector<CniCall> results(kPods);
  std::atomic<int> done{0};
  std::vector<std::thread> runtimes;
  for (int i = 0; i < kPods; ++i) {
    runtimes.emplace_back([&, i] {
      results[i] = runCni(cniEnv("ADD", "crash-" + std::to_string(i), pods[i]->path()),
                          netconf(agent.socket()));
      ++done;
    });
  }
  // Kill once some ADDs have finished and others are still in flight.
  while (done < 12) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  agent.kill9();
  int finishedBeforeKill = done;
  for (auto& t : runtimes) t.join();
  agent.start();

  // A runtime whose ADD failed calls DEL, as the spec requires; until then the restarted agent
  // has already released anything whose ADD never finished.
  std::set<std::string> addresses;
  int succeeded = 0;
  for (int i = 0; i < kPods; ++i) {
    if (results[i].exitCode == 0) {
      ++succeeded;
      std::string a = results[i].json["ips"][0]["address"];
      EXPECT_TRUE(addresses.insert(a).second) << "address handed out twice: " << a;
      continue;
    }
    EXPECT_TRUE(results[i].json.is_object()) << "ADD " << i << " printed " << results[i].out;
    auto d = runCni(cniEnv("DEL", "crash-" + std::to_string(i), pods[i]->path()),
                    netconf(agent.socket()));
    EXPECT_EQ(d.exitCode, 0) << d.out;
  }
  RecordProperty("finished_before_kill", finishedBeforeKill);
  RecordProperty("succeeded", succeeded);
  EXPECT_GT(succeeded, 0);
  EXPECT_LT(succeeded, kPods) << "the kill came too late to test anything";

  // Every pod with a result still works, from both sides.
  for (int i = 0; i < kPods; ++i) {
    if (results[i].exitCode != 0) continue;
    std::string a = results[i].json["ips"][0]["address"];
    std::string ip = a.substr(0, a.find('/'));
    EXPECT_TRUE(node.ping(ip)) << "pod " << i << " (" << ip << ") lost its network";
    EXPECT_TRUE(pods[i]->ping("10.244.0.1")) << "pod " << i;
  }

  // The store holds exactly the successful attachments, and the kernel exactly their veths.
  auto listPods = [&] {
    return nlohmann::json::parse(
        sh(podnetctlBinary() + " --socket " + agent.socket() + " get pods -o json").out)["pods"];
  };
  EXPECT_TRUE(eventually([&] { return static_cast<int>(listPods().size()) == succeeded; }));
  auto list = listPods();
  EXPECT_EQ(static_cast<int>(list.size()), succeeded);
  for (const auto& p : list) EXPECT_TRUE(addresses.count(p["address"])) << p.dump();
  EXPECT_EQ(static_cast<int>(podnetVeths(node).size()), succeeded);

  // New pods after the restart never get an address that is in use.
  std::vector<std::unique_ptr<TestNetns>> more;
  for (int i = 0; i < 8; ++i) {
    more.push_back(std::make_unique<TestNetns>("pod"));
    auto r = runCni(cniEnv("ADD", "after-" + std::to_string(i), more.back()->path()),
                    netconf(agent.socket()));
    ASSERT_EQ(r.exitCode, 0) << r.out;
    EXPECT_TRUE(addresses.insert(r.json["ips"][0]["address"]).second) << r.out;
  }
}

}  // namespace
}  // namespace podnet::testing
