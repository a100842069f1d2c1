// NodeRegistration against a real etcd: the Node object lives as long as the agent refreshes its
// lease, and outlives an agent stop by at most the TTL.
#include "agent/node_registration.h"

#include <gtest/gtest.h>

#include <thread>

#include "store/etcd_server.h"
#include "store/etcd_store.h"
#include "support/eventually.h"

namespace podnet::agent {
namespace {

TEST(NodeRegistrationTest, TheNodeStaysWhileTheAgentRunsAndGoesAfterItStopsForLongerThanTheTtl) {
  testing::EtcdServer etcd;
  ASSERT_FALSE(etcd.endpoint().empty());
  auto store = store::EtcdStore::connect({etcd.endpoint()}, std::chrono::seconds(5));
  ASSERT_TRUE(store.ok()) << store.error().message;
  model::Node node{"n1", *Ipv4::parse("172.30.0.11"), "0e:70:ac:1e:00:0b", Backend::kVxlan, {}};
  auto present = [&] {
    auto kv = (*store)->get(node.key());
    return kv.ok() && kv->has_value();
  };

  auto reg = NodeRegistration::start(**store, node, std::chrono::seconds(2));
  ASSERT_TRUE(reg.ok()) << reg.error().message;
  auto kv = (*store)->get(node.key());
  ASSERT_TRUE(kv.ok() && *kv);
  auto decoded = model::nodeFromJson(nlohmann::json::parse((*kv)->value));
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->underlayIp.str(), "172.30.0.11");
  EXPECT_EQ(decoded->vtepMac, "0e:70:ac:1e:00:0b");

  // Several TTLs later it is still there: the lease is refreshed.
  std::this_thread::sleep_for(std::chrono::seconds(5));
  EXPECT_TRUE(present());

  reg->reset();
  // Stopped without revoking: the object outlives the agent by at most the TTL, then goes.
  EXPECT_TRUE(present());
  EXPECT_TRUE(testing::eventually([&] { return !present(); }));
}

}  // namespace
}  // namespace podnet::agent
