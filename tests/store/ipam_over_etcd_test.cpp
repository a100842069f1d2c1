// The address allocator on etcd, as several nodes run it: separate connections racing for the
// same pool must never hand out one address twice.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include "ipam/allocator.h"
#include "store/etcd_server.h"
#include "store/etcd_store.h"

namespace podnet::ipam {
namespace {

TEST(IpamOverEtcdTest, ThreeNodesAllocatingConcurrentlyGetDistinctAddresses) {
  constexpr int kNodes = 3;
  constexpr int kThreadsPerNode = 5;
  constexpr int kPerThread = 10;  // 50 allocations per node
  podnet::testing::EtcdServer server;
  ASSERT_FALSE(server.endpoint().empty());
  PoolConfig config;
  config.cidr = *Ipv4Prefix::parse("10.244.0.0/24");
  auto pool = Pool::create(config);
  ASSERT_TRUE(pool.ok()) << pool.error().message;

  std::vector<std::unique_ptr<store::EtcdStore>> stores;
  std::vector<std::unique_ptr<Allocator>> allocators;
  for (int n = 0; n < kNodes; ++n) {
    auto store = store::EtcdStore::connect({server.endpoint()}, std::chrono::seconds(10));
    ASSERT_TRUE(store.ok()) << store.error().message;
    stores.push_back(std::move(store).value());
    allocators.push_back(std::make_unique<Allocator>(*stores.back(), *pool));
  }

  std::mutex mutex;
  std::vector<Ipv4> handedOut;
  std::vector<std::string> errors;
  std::vector<std::thread> threads;
  for (int n = 0; n < kNodes; ++n) {
    for (int t = 0; t < kThreadsPerNode; ++t) {
      threads.emplace_back([&, n, t] {
        for (int i = 0; i < kPerThread; ++i) {
          std::string owner = "node" + std::to_string(n) + "/c" + std::to_string(t) + "-" +
                              std::to_string(i) + "/eth0";
          auto ip =
              allocators[n]->allocate(owner, {}, [](Ipv4) { return std::vector<store::Op>{}; });
          std::lock_guard lock(mutex);
          if (ip) {
            handedOut.push_back(*ip);
          } else {
            errors.push_back(ip.error().message);
          }
        }
      });
    }
  }
  for (auto& thread : threads) thread.join();

  EXPECT_TRUE(errors.empty()) << errors.size() << " failed, first: " << errors.front();
  std::set<Ipv4> distinct(handedOut.begin(), handedOut.end());
  EXPECT_EQ(handedOut.size(), size_t{kNodes * kThreadsPerNode * kPerThread});
  EXPECT_EQ(distinct.size(), handedOut.size());
  // The store agrees: one reservation per address handed out.
  auto reservations = allocators[0]->reservations();
  ASSERT_TRUE(reservations.ok()) << reservations.error().message;
  EXPECT_EQ(reservations->size(), handedOut.size());
}

}  // namespace
}  // namespace podnet::ipam
