// A fresh embedded store per test, and helpers to read manifests, build subnets and hold addresses
// in them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "ipam/allocator.h"
#include "model/manifest.h"
#include "model/subnet.h"
#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace podnet::registry {

inline std::unique_ptr<store::SqliteStore> openStore(const std::string& path) {
  auto opened = store::SqliteStore::open(path);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  return opened ? std::move(opened).value() : nullptr;
}

// The objects of a YAML manifest, as podnetctl sends them.
inline std::vector<nlohmann::json> manifest(const std::string& yaml) {
  auto docs = model::parseManifest(yaml, "test.yaml");
  EXPECT_TRUE(docs.ok()) << docs.error().message;
  return docs.ok() ? *docs : std::vector<nlohmann::json>{};
}

inline model::Subnet makeSubnet(const std::string& name, const char* cidr,
                                std::vector<std::string> namespaces = {}) {
  model::Subnet s;
  s.name = name;
  s.cidrBlock = *Ipv4Prefix::parse(cidr);
  s.namespaces = std::move(namespaces);
  return s;
}

class RegistryTest : public ::testing::Test {
 protected:
  std::string dbPath() const { return dir_.path() + "/podnet.db"; }

  // Reserves an address of subnet's pool as the agent does, through the allocator.
  Ipv4 reserve(const model::Subnet& subnet, const std::string& owner) {
    auto pool = ipam::Pool::create(model::toPoolConfig(subnet));
    EXPECT_TRUE(pool.ok()) << pool.error().message;
    ipam::Allocator allocator(*store_, *pool);
    auto ip = allocator.allocate(owner, {}, [](Ipv4) { return std::vector<store::Op>{}; });
    EXPECT_TRUE(ip.ok()) << ip.error().message;
    return ip.ok() ? *ip : Ipv4{};
  }

  int64_t revision() { return *store_->revision(); }

  testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_ = openStore(dbPath());
};

}  // namespace podnet::registry
