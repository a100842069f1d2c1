// SubnetTable on a real store and kernel: the default subnet appears on first start, a Subnet
// written to the store serves its namespaces, and each subnet's gateway sits on the bridge.
#include "agent/subnet_table.h"

#include <gtest/gtest.h>

#include <thread>

#include "store/sqlite_store.h"
#include "support/eventually.h"
#include "support/netns_fixture.h"
#include "support/temp_dir.h"

namespace podnet::agent {
namespace {

class SubnetTableTest : public testing::NetnsFixture {
 protected:
  void SetUp() override {
    node_ = addNetns();
    enterNetns(node_);
    auto store = store::SqliteStore::open(dir_.path() + "/podnet.db");
    ASSERT_TRUE(store.ok()) << store.error().message;
    store_ = std::move(*store);
    pool_.cidr = *Ipv4Prefix::parse("10.244.0.0/16");
  }
  void TearDown() override {
    table_.reset();
    NetnsFixture::TearDown();
  }

  void start() {
    auto table = SubnetTable::start(*store_, pool_, "podnet0");
    ASSERT_TRUE(table.ok()) << table.error().message;
    table_ = std::move(*table);
  }

  void putSubnet(const model::Subnet& s) {
    ASSERT_TRUE(store_->txn({}, {store::Op::put(s.key(), toJson(s).dump())}).ok());
  }

  std::string poolOf(const std::string& ns) {
    auto a = table_->forNamespace(ns);
    return a ? a->allocator->pool().config().name : "error: " + a.error().message;
  }
  std::string bridgeAddresses() { return output("ip -n " + node_ + " -4 -o addr show podnet0"); }

  testing::TempDir dir_;
  std::string node_;
  std::unique_ptr<store::SqliteStore> store_;
  ipam::PoolConfig pool_;
  std::unique_ptr<SubnetTable> table_;
};

TEST_F(SubnetTableTest, TheFirstAgentCreatesTheDefaultSubnetAndLaterOnesKeepIt) {
  start();
  auto kv = store_->get(std::string(model::Subnet::kPrefix) + "default");
  ASSERT_TRUE(kv.ok() && *kv);
  EXPECT_NE((*kv)->value.find("10.244.0.0/16"), std::string::npos);
  EXPECT_NE(bridgeAddresses().find("10.244.0.1/16"), std::string::npos) << bridgeAddresses();
  EXPECT_EQ(poolOf("anything"), "default");

  // Another agent with other flags finds the cluster's default subnet and uses that one.
  table_.reset();
  pool_.cidr = *Ipv4Prefix::parse("10.99.0.0/16");
  start();
  auto again = store_->get(std::string(model::Subnet::kPrefix) + "default");
  EXPECT_EQ((*again)->value, (*kv)->value);
  EXPECT_EQ(table_->forNamespace("")->allocator->pool().config().cidr.str(), "10.244.0.0/16");
}

TEST_F(SubnetTableTest, ASubnetServesItsNamespacesAndItsGatewayFollowsIt) {
  start();
  model::Subnet blue;
  blue.name = "blue";
  blue.cidrBlock = *Ipv4Prefix::parse("10.10.0.0/24");
  blue.gateway = *Ipv4::parse("10.10.0.254");
  blue.namespaces = {"shop", "blog"};
  putSubnet(blue);
  EXPECT_TRUE(testing::eventually([&] { return poolOf("shop") == "blue"; }));
  EXPECT_EQ(poolOf("blog"), "blue");
  EXPECT_EQ(poolOf("other"), "default");
  EXPECT_NE(bridgeAddresses().find("10.10.0.254/24"), std::string::npos) << bridgeAddresses();

  auto a = table_->forNamespace("shop");
  ASSERT_TRUE(a.ok());
  auto ip = a->allocator->allocate("podnet/x/eth0", {a->unchanged},
                                   [](Ipv4) { return std::vector<store::Op>{}; });
  ASSERT_TRUE(ip.ok()) << ip.error().message;
  EXPECT_TRUE(blue.cidrBlock.contains(*ip)) << ip->str();
  // Once the subnet changes in the store, an allocation made against the old one fails.
  blue.excludeIps = {*ipam::IpRange::parse("10.10.0.100")};
  putSubnet(blue);
  auto stale = a->allocator->allocate("podnet/y/eth0", {a->unchanged},
                                      [](Ipv4) { return std::vector<store::Op>{}; });
  EXPECT_FALSE(stale.ok());
  EXPECT_TRUE(testing::eventually([&] {
    auto fresh = table_->forNamespace("shop");
    return fresh && fresh->allocator
                        ->allocate("podnet/y/eth0", {fresh->unchanged},
                                   [](Ipv4) { return std::vector<store::Op>{}; })
                        .ok();
  }));

  ASSERT_TRUE(store_->txn({}, {store::Op::del(blue.key())}).ok());
  EXPECT_TRUE(testing::eventually([&] { return poolOf("shop") == "default"; }));
  EXPECT_TRUE(testing::eventually([&] {
    return bridgeAddresses().find("10.10.0.254") == std::string::npos;
  })) << bridgeAddresses();
  EXPECT_NE(bridgeAddresses().find("10.244.0.1/16"), std::string::npos);
}

}  // namespace
}  // namespace podnet::agent
