// A restart of podnetd never removes a working pod: not when the node name changed (a renamed
// host, another --node-name), not when an attachment record is one this podnet cannot read.
#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "harness.h"
#include "store/sqlite_store.h"

namespace podnet::testing {
namespace {

struct Pod {
  std::unique_ptr<TestNetns> ns;
  std::string containerId;
  std::string ip;
};

class RestartTest : public ::testing::Test {
 protected:
  RestartTest() : node_("node"), agent_(node_, dir_.path()) {}

  Pod add(const std::string& containerId) {
    Pod pod{std::make_unique<TestNetns>("pod"), containerId, ""};
    auto r = runCni(cniEnv("ADD", containerId, pod.ns->path()), netconf(agent_.socket()));
    EXPECT_EQ(r.exitCode, 0) << r.out;
    if (r.exitCode == 0) {
      std::string address = r.json["ips"][0]["address"];
      pod.ip = address.substr(0, address.find('/'));
    }
    return pod;
  }

  // Both directions, through the pod's veth, routes and address.
  bool works(const Pod& pod) { return node_.ping(pod.ip) && pod.ns->ping("10.244.0.1"); }

  std::string log() {
    std::ifstream in(dir_.path() + "/podnetd.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Rewrites one attachment record while the agent is stopped.
  void rewrite(const std::string& containerId,
               const std::function<std::string(const std::string&)>& change) {
    auto store = store::SqliteStore::open(agent_.stateDir() + "/podnet.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    std::string key = "/podnet/attachments/podnet/" + containerId + "/eth0";
    auto kv = (*store)->get(key);
    ASSERT_TRUE(kv.ok() && *kv) << key;
    ASSERT_TRUE((*store)->txn({}, {store::Op::put(key, change((*kv)->value))}).ok());
  }

  TempDir dir_;
  TestNetns node_;
  AgentProcess agent_;
};

TEST_F(RestartTest, AnAgentRestartedUnderAnotherNodeNameKeepsEveryPod) {
  std::vector<Pod> pods;
  for (int i = 0; i < 3; ++i) pods.push_back(add("renamed-" + std::to_string(i)));
  for (const auto& pod : pods) ASSERT_TRUE(works(pod)) << pod.containerId;

  agent_.stop();
  agent_.setNodeName("renamed-node");
  agent_.start();

  for (const auto& pod : pods) EXPECT_TRUE(works(pod)) << pod.containerId << " lost its network";
  EXPECT_EQ(podnetVeths(node_).size(), pods.size());
  EXPECT_NE(log().find("belong to attachments of node test-node, not renamed-node"),
            std::string::npos)
      << log();
}

TEST_F(RestartTest, RecordsTheAgentCannotReadLeaveTheirPodsAloneAndTheAgentStarts) {
  Pod unknown = add("unknown-state");
  Pod garbage = add("garbage");
  Pod pending = add("pending");
  agent_.stop();
  rewrite("unknown-state", [](const std::string& value) {
    auto j = nlohmann::json::parse(value);
    j["state"] = "paused";  // a state a newer podnet might write
    return j.dump();
  });
  rewrite("garbage", [](const std::string&) { return std::string("{\"network\": "); });
  rewrite("pending", [](const std::string& value) {
    auto j = nlohmann::json::parse(value);
    j["state"] = "pending";  // an ADD that never answered: reconcile must still finish it
    return j.dump();
  });

  agent_.start();  // throws if podnetd refuses to start

  EXPECT_TRUE(works(unknown)) << "the pod of a record with an unknown state lost its network";
  EXPECT_TRUE(works(garbage)) << "the pod of a record that does not decode lost its network";
  EXPECT_FALSE(node_.ping(pending.ip)) << "reconcile stopped before the pending attachment";
  EXPECT_EQ(podnetVeths(node_).size(), 2u);
  std::string text = log();
  EXPECT_NE(text.find("/podnet/attachments/podnet/unknown-state/eth0: attachment record: state "
                      "\"paused\""),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("/podnet/attachments/podnet/garbage/eth0"), std::string::npos) << text;
}

}  // namespace
}  // namespace podnet::testing
