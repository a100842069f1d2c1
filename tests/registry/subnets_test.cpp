#include "registry/subnets.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>

#include "registry_fixture.h"

namespace podnet::registry {
namespace {

// Forwards to a store, running `interleave` once: a writer that slips in between the applier's
// reads and its write (right before its first transaction), or between its reads (right after
// its first listing of the subnets).
class InterleavingStore final : public store::Store {
 public:
  enum class When { kBeforeFirstTxn, kAfterFirstSubnetListing };
  InterleavingStore(store::Store& inner, std::function<void()> interleave,
                    When when = When::kBeforeFirstTxn)
      : inner_(inner), interleave_(std::move(interleave)), when_(when) {}

  Result<std::optional<store::KeyValue>> get(const std::string& key) override {
    return inner_.get(key);
  }
  Result<std::vector<store::KeyValue>> list(const std::string& prefix) override {
    auto listing = inner_.list(prefix);
    if (when_ == When::kAfterFirstSubnetListing && prefix == model::Subnet::kPrefix &&
        interleave_) {
      std::exchange(interleave_, nullptr)();
    }
    return listing;
  }
  Result<store::Listing> listWithRevision(const std::string& prefix) override {
    return inner_.listWithRevision(prefix);
  }
  Result<store::TxnResult> txn(const std::vector<store::Compare>& compares,
                               const std::vector<store::Op>& onSuccess,
                               const std::vector<store::Op>& onFailure) override {
    if (when_ == When::kBeforeFirstTxn && interleave_) std::exchange(interleave_, nullptr)();
    ++txns;
    return inner_.txn(compares, onSuccess, onFailure);
  }
  Result<int64_t> revision() override { return inner_.revision(); }
  Result<std::unique_ptr<store::Watch>> watch(
      const std::string& prefix, int64_t afterRevision,
      std::function<void(const std::vector<store::WatchEvent>&)> onEvents,
      std::function<void(const Error&)> onError) override {
    return inner_.watch(prefix, afterRevision, std::move(onEvents), std::move(onError));
  }
  Result<int64_t> grantLease(std::chrono::seconds ttl) override { return inner_.grantLease(ttl); }
  Status keepAlive(int64_t lease) override { return inner_.keepAlive(lease); }
  Status revokeLease(int64_t lease) override { return inner_.revokeLease(lease); }

  int txns = 0;

 private:
  store::Store& inner_;
  std::function<void()> interleave_;
  When when_;
};

TEST_F(RegistryTest, ApplyCreatesThenLeavesAloneThenConfigures) {
  model::Subnet blue = makeSubnet("blue", "10.1.0.0/16", {"shop"});
  auto created = applySubnet(*store_, blue);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_EQ(*created, ApplyAction::kCreated);

  // Stored in Kubernetes' shape, with the default gateway filled in.
  auto kv = **store_->get("/podnet/subnets/blue");
  auto stored = nlohmann::json::parse(kv.value);
  EXPECT_EQ(stored["kind"], "Subnet");
  EXPECT_EQ(stored["spec"]["cidrBlock"], "10.1.0.0/16");
  EXPECT_EQ(stored["spec"]["gateway"], "10.1.0.1");
  EXPECT_EQ(stored["spec"]["namespaces"], nlohmann::json({"shop"}));

  int64_t before = revision();
  EXPECT_EQ(*applySubnet(*store_, blue), ApplyAction::kUnchanged);
  // The same subnet with its gateway written out is the same subnet.
  blue.gateway = *Ipv4::parse("10.1.0.1");
  EXPECT_EQ(*applySubnet(*store_, blue), ApplyAction::kUnchanged);
  EXPECT_EQ(revision(), before) << "an unchanged apply writes nothing";

  blue.namespaces.push_back("web");
  EXPECT_EQ(*applySubnet(*store_, blue), ApplyAction::kConfigured);
  auto list = *listSubnets(*store_);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].namespaces, (std::vector<std::string>{"shop", "web"}));
}

TEST_F(RegistryTest, InvalidSubnetIsRefusedAndNothingWritten) {
  model::Subnet blue = makeSubnet("blue", "10.1.0.0/16");
  blue.gateway = *Ipv4::parse("10.2.0.1");
  auto applied = applySubnet(*store_, blue);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "Subnet blue: spec.gateway: 10.2.0.1 is outside spec.cidrBlock 10.1.0.0/16");
  EXPECT_EQ(revision(), 0);
}

TEST_F(RegistryTest, OverlappingSubnetIsRefusedAndNothingWritten) {
  ASSERT_TRUE(applySubnet(*store_, makeSubnet("red", "10.1.128.0/17")).ok());
  int64_t before = revision();
  auto applied = applySubnet(*store_, makeSubnet("blue", "10.1.0.0/16"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "Subnet blue: spec.cidrBlock: 10.1.0.0/16 overlaps Subnet red (10.1.128.0/17)");
  EXPECT_EQ(revision(), before);
  EXPECT_FALSE(*store_->get("/podnet/subnets/blue"));
  // Growing red itself over the same range is fine: a subnet does not overlap itself.
  EXPECT_EQ(*applySubnet(*store_, makeSubnet("red", "10.1.0.0/16")), ApplyAction::kConfigured);
}

TEST_F(RegistryTest, ANamespaceBoundByAnotherSubnetIsRefused) {
  ASSERT_TRUE(applySubnet(*store_, makeSubnet("red", "10.2.0.0/16", {"shop"})).ok());
  auto applied = applySubnet(*store_, makeSubnet("blue", "10.1.0.0/16", {"shop"}));
  ASSERT_FALSE(applied.ok());
  EXPECT_NE(applied.error().message.find(
                "Subnet blue: spec.namespaces: namespace \"shop\" is already bound to Subnet red"),
            std::string::npos);
}

TEST_F(RegistryTest, CidrAndGatewayStayWhileAnAddressIsReserved) {
  model::Subnet blue = makeSubnet("blue", "10.1.0.0/24");
  ASSERT_TRUE(applySubnet(*store_, blue).ok());
  Ipv4 held = reserve(blue, "net/c1/eth0");
  EXPECT_EQ(held.str(), "10.1.0.2");

  model::Subnet moved = makeSubnet("blue", "10.9.0.0/24");
  auto applied = applySubnet(*store_, moved);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "Subnet blue: spec.cidrBlock: cannot change 10.1.0.0/24 to 10.9.0.0/24 while 1 "
            "address of the subnet is in use (remove the pods that hold them first)");

  model::Subnet regatewayed = blue;
  regatewayed.gateway = *Ipv4::parse("10.1.0.254");
  applied = applySubnet(*store_, regatewayed);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(
      applied.error().message.rfind(
          "Subnet blue: spec.gateway: cannot change 10.1.0.1 to 10.1.0.254 while 1 address", 0),
      0u);

  // Binding another namespace does not move any address.
  model::Subnet widened = blue;
  widened.namespaces = {"shop"};
  EXPECT_EQ(*applySubnet(*store_, widened), ApplyAction::kConfigured);

  // Once the address is released the subnet may move.
  ipam::Allocator allocator(*store_, *ipam::Pool::create(model::toPoolConfig(blue)));
  ASSERT_TRUE(allocator.release(held, "net/c1/eth0").ok());
  EXPECT_EQ(*applySubnet(*store_, moved), ApplyAction::kConfigured);
}

TEST_F(RegistryTest, AnExcludeRangeMayNotCoverAnAddressInUse) {
  model::Subnet blue = makeSubnet("blue", "10.1.0.0/24");
  ASSERT_TRUE(applySubnet(*store_, blue).ok());
  ASSERT_EQ(reserve(blue, "net/c1/eth0").str(), "10.1.0.2");

  blue.excludeIps = {*ipam::IpRange::parse("10.1.0.200"),
                     *ipam::IpRange::parse("10.1.0.2..10.1.0.9")};
  auto applied = applySubnet(*store_, blue);
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "Subnet blue: spec.excludeIps[1]: 10.1.0.2..10.1.0.9 covers 10.1.0.2, which is in use "
            "by net/c1/eth0 (remove that pod first)");

  blue.excludeIps = {*ipam::IpRange::parse("10.1.0.3..10.1.0.9")};
  EXPECT_EQ(*applySubnet(*store_, blue), ApplyAction::kConfigured);
}

TEST_F(RegistryTest, ASubnetCreatedOverLeftoverReservationsMustHoldThem) {
  // The agent's default pool handed out an address before any Subnet object existed.
  ASSERT_TRUE(
      store_->txn({}, {store::Op::put("/podnet/ipam/default/10.244.0.5", "net/c/eth0")}).ok());
  auto applied = applySubnet(*store_, makeSubnet("default", "10.9.0.0/16"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "Subnet default: spec.cidrBlock: 10.9.0.0/16 would not hold 10.244.0.5, which is in "
            "use by net/c/eth0 (remove that pod first)");
  EXPECT_EQ(*applySubnet(*store_, makeSubnet("default", "10.244.0.0/16")), ApplyAction::kCreated);
}

TEST_F(RegistryTest, DeleteIsRefusedWhileAddressesAreInUse) {
  model::Subnet blue = makeSubnet("blue", "10.1.0.0/24");
  ASSERT_TRUE(applySubnet(*store_, blue).ok());
  Ipv4 a = reserve(blue, "net/c1/eth0");
  Ipv4 b = reserve(blue, "net/c2/eth0");

  auto st = deleteSubnet(*store_, "blue");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "Subnet blue: 2 addresses of the subnet are still in use (remove the pods that hold "
            "them first)");
  EXPECT_TRUE(*store_->get("/podnet/subnets/blue"));

  ipam::Allocator allocator(*store_, *ipam::Pool::create(model::toPoolConfig(blue)));
  ASSERT_TRUE(allocator.release(a, "net/c1/eth0").ok());
  st = deleteSubnet(*store_, "blue");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("1 address of the subnet is still in use"), std::string::npos);
  ASSERT_TRUE(allocator.release(b, "net/c2/eth0").ok());

  EXPECT_TRUE(deleteSubnet(*store_, "blue").ok());
  EXPECT_FALSE(*store_->get("/podnet/subnets/blue"));
  EXPECT_TRUE(listSubnets(*store_)->empty());

  st = deleteSubnet(*store_, "blue");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().code, Errc::kNotFound);
  EXPECT_EQ(st.error().message, "Subnet blue: not found");
}

TEST_F(RegistryTest, AWriterThatSlipsInBetweenIsSeenAndItsOverlapRefused) {
  // Between blue's reads and its write, another writer creates red over the same range. The
  // transaction must notice although red's key did not exist when blue read the subnets.
  InterleavingStore racy(*store_, [&] {
    ASSERT_EQ(*applySubnet(*store_, makeSubnet("red", "10.1.0.0/17")), ApplyAction::kCreated);
  });
  auto applied = applySubnet(racy, makeSubnet("blue", "10.1.0.0/16"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "Subnet blue: spec.cidrBlock: 10.1.0.0/16 overlaps Subnet red (10.1.0.0/17)");
  EXPECT_EQ(racy.txns, 1) << "the lost race is retried, and the retry sees red";
  auto names = *listSubnets(*store_);
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0].name, "red");

  // A writer of an unrelated subnet costs a retry, not the apply.
  InterleavingStore busy(
      *store_, [&] { ASSERT_TRUE(applySubnet(*store_, makeSubnet("green", "10.3.0.0/16")).ok()); });
  EXPECT_EQ(*applySubnet(busy, makeSubnet("blue", "10.2.0.0/16")), ApplyAction::kCreated);
  EXPECT_EQ(busy.txns, 2);
}

TEST_F(RegistryTest, AWriterThatSlipsInBetweenTheReadsIsSeenToo) {
  // The subnets were listed before red existed; whatever the applier reads next must not make
  // that stale listing look current.
  InterleavingStore racy(
      *store_,
      [&] {
        ASSERT_EQ(*applySubnet(*store_, makeSubnet("red", "10.1.0.0/17")), ApplyAction::kCreated);
      },
      InterleavingStore::When::kAfterFirstSubnetListing);
  auto applied = applySubnet(racy, makeSubnet("blue", "10.1.0.0/16"));
  ASSERT_FALSE(applied.ok());
  EXPECT_EQ(applied.error().message,
            "Subnet blue: spec.cidrBlock: 10.1.0.0/16 overlaps Subnet red (10.1.0.0/17)");
  EXPECT_EQ(listSubnets(*store_)->size(), 1u);
}

TEST_F(RegistryTest, ConcurrentAppliesOfOverlappingSubnetsNeverBothSucceed) {
  // Two agents (two connections to one store file) apply overlapping subnets at the same moment.
  auto other = openStore(dbPath());
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    std::string base = "10." + std::to_string(round) + ".0.0";
    model::Subnet a = makeSubnet("a-" + std::to_string(round), (base + "/16").c_str());
    model::Subnet b = makeSubnet("b-" + std::to_string(round), (base + "/17").c_str());
    std::barrier start(2);
    Result<ApplyAction> ra = makeError(Errc::kInternal, "not run");
    Result<ApplyAction> rb = makeError(Errc::kInternal, "not run");
    std::thread ta([&] {
      start.arrive_and_wait();
      ra = applySubnet(*store_, a);
    });
    std::thread tb([&] {
      start.arrive_and_wait();
      rb = applySubnet(*other, b);
    });
    ta.join();
    tb.join();
    EXPECT_NE(ra.ok(), rb.ok()) << "round " << round
                                << ": exactly one may win; a: " << (ra ? "ok" : ra.error().message)
                                << ", b: " << (rb ? "ok" : rb.error().message);
    const Result<ApplyAction>& loser = ra.ok() ? rb : ra;
    if (!loser.ok()) {
      EXPECT_NE(loser.error().message.find("overlaps Subnet"), std::string::npos)
          << loser.error().message;
    }
  }
  auto subnets = *listSubnets(*store_);
  EXPECT_EQ(subnets.size(), static_cast<size_t>(kRounds));
  for (const auto& s : subnets) EXPECT_TRUE(model::validateAgainst(s, subnets).ok());
}

TEST_F(RegistryTest, UsageCountsReservedAndFreeAddresses) {
  model::Subnet blue = makeSubnet("blue", "10.1.0.0/24", {"shop"});
  blue.excludeIps = {*ipam::IpRange::parse("10.1.0.250..10.1.0.252")};
  ASSERT_TRUE(applySubnet(*store_, blue).ok());
  ASSERT_TRUE(applySubnet(*store_, makeSubnet("default", "10.244.0.0/16")).ok());
  reserve(blue, "net/c1/eth0");
  reserve(blue, "net/c2/eth0");

  auto usage = subnetUsage(*store_);
  ASSERT_TRUE(usage.ok()) << usage.error().message;
  ASSERT_EQ(usage->size(), 2u);
  const SubnetUsage& b = (*usage)[0];
  EXPECT_EQ(b.subnet.name, "blue");
  EXPECT_EQ(b.used, 2u);
  EXPECT_EQ(b.free, 256u - 3 - 3 - 2);  // network, broadcast, gateway; 3 excluded; 2 in use
  const SubnetUsage& d = (*usage)[1];
  EXPECT_EQ(d.subnet.name, "default");
  EXPECT_EQ(d.used, 0u);
  EXPECT_EQ(d.free, 65536u - 3);

  nlohmann::json j = toJson(b);
  EXPECT_EQ(j, nlohmann::json::parse(R"({"name": "blue", "cidrBlock": "10.1.0.0/24",
      "gateway": "10.1.0.1", "namespaces": ["shop"], "excludeIps": ["10.1.0.250..10.1.0.252"],
      "used": 2, "free": 248})"));
  EXPECT_EQ(toJson(d)["namespaces"], nlohmann::json::array());
}

TEST_F(RegistryTest, ASubnetStoredWithoutItsGatewayHasTheDefaultOne) {
  // As an agent writes the default subnet from its flags, without the gateway.
  model::Subnet def = makeSubnet("default", "10.244.0.0/16");
  ASSERT_TRUE(store_->txn({}, {store::Op::put(def.key(), model::toJson(def).dump())}).ok());
  reserve(def, "net/c1/eth0");
  EXPECT_EQ(listSubnets(*store_)->at(0).gateway->str(), "10.244.0.1");
  EXPECT_EQ(*applySubnet(*store_, def), ApplyAction::kUnchanged);
  def.gateway = *Ipv4::parse("10.244.0.1");
  EXPECT_EQ(*applySubnet(*store_, def), ApplyAction::kUnchanged);
}

TEST_F(RegistryTest, AStoredSubnetThatDoesNotDecodeIsReportedByItsKey) {
  ASSERT_TRUE(store_->txn({}, {store::Op::put("/podnet/subnets/broken", "{not json")}).ok());
  auto list = listSubnets(*store_);
  ASSERT_FALSE(list.ok());
  EXPECT_EQ(list.error().message, "store key /podnet/subnets/broken: not JSON");
}

}  // namespace
}  // namespace podnet::registry
