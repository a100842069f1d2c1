// PolicyAgent::awaitEnforced with the real program, maps and embedded store: an ADD that cannot
// have its pod's policy in force by the deadline gets an error naming the pod, never an answer.
#include "agent/policy_agent.h"

#include <sys/mount.h>

#include <gtest/gtest.h>

#include <chrono>

#include "store/sqlite_store.h"
#include "support/netns_fixture.h"
#include "support/temp_dir.h"

namespace podnet::agent {
namespace {

class PolicyAgentTest : public testing::NetnsFixture {
 protected:
  void SetUp() override {
    enterNetns(addNetns());
    pinDir_ = dir_.path() + "/bpffs";
    ASSERT_TRUE(bpf::ensureBpffs(pinDir_).ok());
    mounted_ = true;
    auto store = store::SqliteStore::open(dir_.path() + "/store.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
  }
  void TearDown() override {
    agent_.reset();
    store_.reset();
    if (mounted_) ::umount2(pinDir_.c_str(), MNT_DETACH);
    NetnsFixture::TearDown();
  }

  void start(std::chrono::milliseconds enforceTimeout) {
    PolicyOptions options;
    options.nodeName = "node-1";
    options.pinDir = pinDir_;
    options.enforceTimeout = enforceTimeout;
    auto agent = PolicyAgent::start(*store_, options, nullptr);
    ASSERT_TRUE(agent.ok()) << agent.error().message;
    agent_ = std::move(*agent);
  }

  // shop/web's attachment, committed to the store; returns the commit's revision.
  int64_t commit(Attachment& a) {
    a.network = "podnet";
    a.containerId = "ctr-web";
    a.ifname = "eth0";
    a.podNamespace = "shop";
    a.podName = "web";
    a.node = "node-1";
    a.hostVeth = "pnweb0";  // never created
    a.address = *Ipv4Prefix::parse("10.244.0.10/16");
    a.state = Attachment::State::kReady;
    auto done = store_->txn({}, {store::Op::put(a.key(), toJson(a).dump())});
    EXPECT_TRUE(done.ok() && done->succeeded);
    return done.ok() ? done->revision : 0;
  }

  podnet::testing::TempDir dir_;
  std::string pinDir_;
  bool mounted_ = false;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<PolicyAgent> agent_;
};

TEST_F(PolicyAgentTest, AnAddWhoseRevisionIsNotFollowedByTheDeadlineFailsNamingThePod) {
  start(std::chrono::milliseconds(50));
  Attachment a;
  int64_t revision = commit(a);
  // A revision the store's watch has not delivered (a follower that lags behind the commit).
  auto started = std::chrono::steady_clock::now();
  auto st = agent_->awaitEnforced(a, revision + 1000);
  auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("pod shop/web"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("50 ms"), std::string::npos) << st.error().message;
  EXPECT_LT(waited, std::chrono::seconds(2)) << "the deadline bounds the wait";
}

TEST_F(PolicyAgentTest, AnAddWhosePodDeviceDoesNotExistFailsNamingIt) {
  start(std::chrono::milliseconds(3000));
  Attachment a;
  int64_t revision = commit(a);
  auto st = agent_->awaitEnforced(a, revision);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("pod shop/web"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("pnweb0"), std::string::npos) << st.error().message;
}

}  // namespace
}  // namespace podnet::agent
