// CniService on a real store and kernel, with the policy engine replaced by a fake (the seam the
// service is built on): what an ADD leaves when its policy cannot be enforced or its undo fails,
// and what reconcile does with records it cannot trust.
#include "agent/cni_service.h"

#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "cni/env.h"
#include "dataplane/node_network.h"
#include "ipam/allocator.h"
#include "store/sqlite_store.h"
#include "support/netns_fixture.h"
#include "support/temp_dir.h"

namespace podnet::agent {
namespace {

// One fixed pool, the default subnet.
class FixedPools : public SubnetPools {
 public:
  FixedPools(store::Store& store, ipam::Pool pool)
      : allocator_(std::make_shared<ipam::Allocator>(store, std::move(pool))) {}
  Result<SubnetChoice> forNamespace(const std::string&) override {
    // A key nobody writes: the subnet never changes under an ADD.
    return SubnetChoice{allocator_, store::Compare::absent("/podnet/test/unchanged")};
  }

 private:
  std::shared_ptr<ipam::Allocator> allocator_;
};

class FakeHooks : public EndpointHooks {
 public:
  std::function<Status(const std::string&)> onWired = [](const std::string&) { return okStatus(); };
  std::function<Status(const Attachment&)> onAwait = [](const Attachment&) { return okStatus(); };

  Status deviceWired(const std::string& hostVeth) override { return onWired(hostVeth); }
  Status awaitEnforced(const Attachment& a, int64_t) override { return onAwait(a); }
};

// Drops CAP_NET_ADMIN from the calling thread's effective set (the kernel checks the sender of
// each netlink request), so that the service's own netlink requests fail with EPERM as a
// failing kernel would; restore() or the destructor raises it again.
class NoNetAdmin {
 public:
  NoNetAdmin() { set(false); }
  ~NoNetAdmin() { restore(); }
  void restore() {
    if (dropped_) set(true);
  }

 private:
  void set(bool on) {
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2] = {};
    ASSERT_EQ(::syscall(SYS_capget, &header, data), 0);
    if (on) {
      data[0].effective |= 1u << CAP_NET_ADMIN;
    } else {
      data[0].effective &= ~(1u << CAP_NET_ADMIN);
    }
    ASSERT_EQ(::syscall(SYS_capset, &header, data), 0);
    dropped_ = !on;
  }
  bool dropped_ = false;
};

class CniServiceTest : public testing::NetnsFixture {
 protected:
  void SetUp() override {
    node_ = addNetns();
    enterNetns(node_);
    ASSERT_TRUE(dataplane::ensureNodeNetwork({"podnet0", *Ipv4Prefix::parse("10.244.0.1/16")}));
    auto store = store::SqliteStore::open(dir_.path() + "/podnet.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    ipam::PoolConfig config;
    config.cidr = *Ipv4Prefix::parse("10.244.0.0/16");
    pools_.emplace(*store_, *ipam::Pool::create(config));
    auto wiring = dataplane::PodWiring::create();
    ASSERT_TRUE(wiring.ok()) << wiring.error().message;
    wiring_.emplace(std::move(*wiring));
    startService("node-a");
  }
  void TearDown() override {
    service_.reset();
    NetnsFixture::TearDown();
  }

  void startService(const std::string& nodeName) {
    service_.reset();
    service_ = std::make_unique<CniService>(*store_, *pools_, *wiring_, nodeName, 1500, &hooks_);
  }

  nlohmann::json call(const std::string& command, const std::string& containerId,
                      const std::string& pod) {
    cni::Env env;
    env.command = command == "ADD" ? cni::Command::kAdd : cni::Command::kDel;
    env.containerId = containerId;
    env.netns = netnsPath(pod);
    env.ifname = "eth0";
    nlohmann::json config = {{"cniVersion", "1.1.0"}, {"name", "podnet"}, {"type", "podnet-cni"}};
    return service_->handle({{"op", "cni"}, {"env", cni::envToJson(env)}, {"config", config}});
  }
  // ADDs a pod and returns its namespace.
  std::string addPod(const std::string& containerId) {
    std::string pod = addNetns();
    auto reply = call("ADD", containerId, pod);
    EXPECT_TRUE(reply["ok"]) << reply.dump();
    return pod;
  }

  std::vector<store::KeyValue> records() { return *store_->list(Attachment::kPrefix); }
  std::vector<store::KeyValue> reservations() { return *store_->list("/podnet/ipam/"); }
  std::vector<std::string> veths() { return *wiring_->listHostVeths(); }
  bool hasVeth(const std::string& containerId) {
    auto all = veths();
    return std::count(all.begin(), all.end(), dataplane::hostVethName(containerId, "eth0")) == 1;
  }
  std::string keyOf(const std::string& containerId) {
    return Attachment::keyFor("podnet", containerId, "eth0");
  }
  Attachment record(const std::string& containerId) {
    auto kv = store_->get(keyOf(containerId));
    EXPECT_TRUE(kv.ok() && *kv) << containerId;
    return *attachmentFromJson((*kv)->value);
  }
  void putRaw(const std::string& containerId, const std::string& value) {
    ASSERT_TRUE(store_->txn({}, {store::Op::put(keyOf(containerId), value)}).ok());
  }
  void put(const Attachment& a) { putRaw(a.containerId, toJson(a).dump()); }
  // The pod's address answers from the node: veth, routes and address are all there.
  bool works(const std::string& pod, const Attachment& a) {
    return runIn(node_, "ping -c1 -W2 -q " + a.address.addr.str() + " >/dev/null") == 0 &&
           runIn(pod, "ip -4 -o addr show eth0 | grep -q " + a.address.str()) == 0;
  }

  testing::TempDir dir_;
  std::string node_;
  std::unique_ptr<store::SqliteStore> store_;
  std::optional<FixedPools> pools_;
  std::optional<dataplane::PodWiring> wiring_;
  FakeHooks hooks_;
  std::unique_ptr<CniService> service_;
};

TEST_F(CniServiceTest, AnAddWhosePolicyIsNotEnforcedFailsWithCode11AndLeavesNothing) {
  hooks_.onAwait = [](const Attachment& a) {
    return Status(makeError(Errc::kUnavailable, "policy for " + a.owner() + " not in force"));
  };
  std::string pod = addNetns();
  auto reply = call("ADD", "ctr-unenforced", pod);
  ASSERT_FALSE(reply["ok"]) << reply.dump();
  EXPECT_EQ(reply["error"]["code"], 11) << reply.dump();
  EXPECT_NE(reply["error"]["msg"].get<std::string>().find("not in force"), std::string::npos);
  EXPECT_TRUE(records().empty());
  EXPECT_TRUE(reservations().empty());
  EXPECT_TRUE(veths().empty());
  EXPECT_NE(runIn(pod, "ip link show eth0 >/dev/null 2>&1"), 0) << "the pod kept its interface";
}

// The veth could not be removed after the policy hook failed: the address must stay reserved
// and the attachment recorded (pending), so that reconcile, DEL or GC removes both later.
TEST_F(CniServiceTest, AFailedHookWhoseUndoCannotRemoveTheVethKeepsTheAddressAndRecord) {
  std::optional<NoNetAdmin> noNetAdmin;
  hooks_.onWired = [&](const std::string& veth) {
    noNetAdmin.emplace();  // the undo's RTM_DELLINK fails from here on
    return Status(makeError(Errc::kKernel, "tc filter on " + veth + ": refused"));
  };
  std::string pod = addNetns();
  auto reply = call("ADD", "ctr-stuck", pod);
  noNetAdmin.reset();
  ASSERT_FALSE(reply["ok"]) << reply.dump();
  EXPECT_NE(reply["error"]["msg"].get<std::string>().find("stays reserved"), std::string::npos)
      << reply.dump();
  ASSERT_TRUE(hasVeth("ctr-stuck"));
  ASSERT_EQ(reservations().size(), 1u) << "the address of a veth that still exists was released";
  EXPECT_EQ(record("ctr-stuck").state, Attachment::State::kPending);

  // A restart finishes it: the veth, the reservation and the record all go.
  ReconcileReport report = service_->reconcile();
  EXPECT_TRUE(report.failures.empty()) << report.failures.front();
  EXPECT_EQ(report.finished, 1u);
  EXPECT_TRUE(records().empty());
  EXPECT_TRUE(reservations().empty());
  EXPECT_TRUE(veths().empty());
}

TEST_F(CniServiceTest, AnUnenforcedAddWhoseUndoCannotRemoveTheVethIsLeftPendingNotReady) {
  std::optional<NoNetAdmin> noNetAdmin;
  hooks_.onAwait = [&](const Attachment&) {
    noNetAdmin.emplace();
    return Status(makeError(Errc::kUnavailable, "policy not in force"));
  };
  std::string pod = addNetns();
  auto reply = call("ADD", "ctr-stuck", pod);
  noNetAdmin.reset();
  ASSERT_FALSE(reply["ok"]) << reply.dump();
  EXPECT_EQ(reply["error"]["code"], 11);
  ASSERT_TRUE(hasVeth("ctr-stuck"));
  ASSERT_EQ(reservations().size(), 1u);
  // Ready would make reconcile keep a pod the runtime never got.
  EXPECT_EQ(record("ctr-stuck").state, Attachment::State::kPending);
  auto del = call("DEL", "ctr-stuck", pod);
  EXPECT_TRUE(del["ok"]) << del.dump();
  service_.reset();  // finishes the queued teardown
  EXPECT_TRUE(records().empty());
  EXPECT_TRUE(reservations().empty());
  EXPECT_TRUE(veths().empty());
}

TEST_F(CniServiceTest, ReconcileLeavesPodsItCannotReadOrDoesNotOwnAloneAndCarriesOn) {
  std::string unknownPod = addPod("a-unknown-state");
  std::string garbagePod = addPod("b-garbage");
  std::string readyPod = addPod("c-ready");
  std::string renamedPod = addPod("d-renamed-node");
  std::string pendingPod = addPod("e-pending");
  Attachment unknown = record("a-unknown-state");
  Attachment garbage = record("b-garbage");
  Attachment ready = record("c-ready");
  Attachment renamed = record("d-renamed-node");

  nlohmann::json paused = toJson(unknown);
  paused["state"] = "paused";
  putRaw("a-unknown-state", paused.dump());
  putRaw("b-garbage", "{\"network\": ");
  renamed.node = "old-host-name";
  put(renamed);
  Attachment pending = record("e-pending");
  pending.state = Attachment::State::kPending;
  put(pending);
  ASSERT_EQ(runIn(node_, "ip link add pn00000000dead type veth peer name stray-peer"), 0);

  startService("node-a");
  ReconcileReport report = service_->reconcile();

  // Both unreadable records are reported, by key, and reconcile went on past them.
  ASSERT_EQ(report.failures.size(), 2u);
  EXPECT_NE(report.failures[0].find(keyOf("a-unknown-state")), std::string::npos);
  EXPECT_NE(report.failures[0].find("paused"), std::string::npos) << report.failures[0];
  EXPECT_NE(report.failures[1].find(keyOf("b-garbage")), std::string::npos);
  EXPECT_EQ(report.kept, 1u);
  EXPECT_EQ(report.finished, 1u);
  EXPECT_EQ(report.strayVethsRemoved, 1u);

  EXPECT_TRUE(works(unknownPod, unknown));
  EXPECT_TRUE(works(garbagePod, garbage));
  EXPECT_TRUE(works(readyPod, ready));
  EXPECT_TRUE(works(renamedPod, renamed));
  EXPECT_FALSE(hasVeth("e-pending"));
  EXPECT_EQ(veths().size(), 4u);
  EXPECT_EQ(reservations().size(), 4u);
}

TEST_F(CniServiceTest, ANodeNameChangeRemovesNoPod) {
  std::string podA = addPod("ctr-a");
  std::string podB = addPod("ctr-b");
  Attachment a = record("ctr-a");
  Attachment b = record("ctr-b");

  startService("node-b");
  ReconcileReport report = service_->reconcile();
  EXPECT_TRUE(report.failures.empty()) << report.failures.front();
  EXPECT_EQ(report.strayVethsRemoved, 0u);
  EXPECT_TRUE(works(podA, a));
  EXPECT_TRUE(works(podB, b));
  EXPECT_EQ(records().size(), 2u);
}

}  // namespace
}  // namespace podnet::agent
