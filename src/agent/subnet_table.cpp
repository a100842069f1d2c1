#include "agent/subnet_table.h"

#include <spdlog/spdlog.h>

#include "dataplane/node_network.h"
#include "registry/subnets.h"

namespace podnet::agent {

SubnetTable::SubnetTable(store::Store& store, std::string bridge)
    : store_(store), bridge_(std::move(bridge)) {}

SubnetTable::~SubnetTable() {
  follower_.reset();
}

Result<std::unique_ptr<SubnetTable>> SubnetTable::start(store::Store& store,
                                                        const ipam::PoolConfig& defaultPool,
                                                        std::string bridge) {
  model::Subnet def;
  def.name = model::kDefaultSubnet;
  def.cidrBlock = Ipv4Prefix{defaultPool.cidr.network(), defaultPool.cidr.len};
  def.gateway = defaultPool.gateway;
  def.excludeIps = defaultPool.exclude;
  if (auto st = model::validate(def); !st) return st.error().context("the default subnet");
  auto created = PODNET_TRY(store.txn({store::Compare::absent(def.key())},
                                      {store::Op::put(def.key(), toJson(def).dump())}));
  if (created.succeeded) {
    spdlog::info("created the default subnet {}", def.cidrBlock.str());
  }
  // The bridge exists before any gateway goes on it.
  auto pool = PODNET_TRY(ipam::Pool::create(model::toPoolConfig(def)));
  PODNET_TRY_STATUS(dataplane::ensureNodeNetwork({bridge, pool.interfaceAddress(pool.gateway())}));

  std::unique_ptr<SubnetTable> table(new SubnetTable(store, std::move(bridge)));
  SubnetTable* t = table.get();
  t->follower_ = PODNET_TRY(store::PrefixFollower::start(
      store, model::Subnet::kPrefix,
      {[t](const store::Listing& l) { t->onListing(l); },
       [t](const std::vector<store::WatchEvent>& ev) { t->onEvents(ev); }}));
  return table;
}

void SubnetTable::onListing(const store::Listing& listing) {
  std::vector<Stored> subnets;
  for (const auto& kv : listing.kvs) {
    auto s = model::subnetFromJson(nlohmann::json::parse(kv.value, nullptr, false));
    if (!s) {
      spdlog::error("ignoring store key {}: {}", kv.key, s.error().message);
      continue;
    }
    subnets.push_back({std::move(*s), kv.modRevision});
  }
  std::lock_guard guard(mutex_);
  replace(subnets);
}

void SubnetTable::onEvents(const std::vector<store::WatchEvent>& events) {
  std::lock_guard guard(mutex_);
  std::vector<Stored> subnets;
  for (const auto& [name, entry] : subnets_) subnets.push_back(entry.stored);
  for (const auto& ev : events) {
    std::string name = ev.kv.key.substr(std::string(model::Subnet::kPrefix).size());
    std::erase_if(subnets, [&](const Stored& s) { return s.subnet.name == name; });
    if (ev.type == store::WatchEvent::Type::kDelete) continue;
    auto s = model::subnetFromJson(nlohmann::json::parse(ev.kv.value, nullptr, false));
    if (!s) {
      spdlog::error("ignoring store key {}: {}", ev.kv.key, s.error().message);
      continue;
    }
    subnets.push_back({std::move(*s), ev.kv.modRevision});
  }
  replace(subnets);
}

void SubnetTable::replace(const std::vector<Stored>& subnets) {
  std::map<std::string, Entry> next;
  std::vector<Ipv4Prefix> gateways;
  for (const auto& [s, modRevision] : subnets) {
    auto pool = ipam::Pool::create(model::toPoolConfig(s));
    if (!pool) {
      spdlog::error("subnet {}: {}", s.name, pool.error().message);
      continue;
    }
    gateways.push_back(pool->interfaceAddress(pool->gateway()));
    auto old = subnets_.find(s.name);
    if (old != subnets_.end() && old->second.stored.subnet == s) {
      // Unchanged: keep its allocator and cursor (the revision may be newer: re-applied as is).
      next[s.name] = {{s, modRevision}, old->second.allocator};
      continue;
    }
    spdlog::info("subnet {}: {} gateway {}", s.name, s.cidrBlock.str(), pool->gateway().str());
    next[s.name] = {{s, modRevision}, std::make_shared<ipam::Allocator>(store_, std::move(*pool))};
  }
  subnets_ = std::move(next);
  if (auto st = dataplane::syncGateways(bridge_, gateways); !st) {
    spdlog::error("subnet gateways on {}: {}", bridge_, st.error().message);
  }
}

Result<SubnetChoice> SubnetTable::forNamespace(const std::string& ns) {
  std::lock_guard guard(mutex_);
  std::vector<model::Subnet> subnets;
  for (const auto& [name, entry] : subnets_) subnets.push_back(entry.stored.subnet);
  const model::Subnet* s = model::subnetForNamespace(subnets, ns);
  if (s == nullptr) {
    return makeError(Errc::kNotFound,
                     "no subnet serves namespace \"" + ns + "\" and there is no default subnet");
  }
  const Entry& entry = subnets_.at(s->name);
  return SubnetChoice{entry.allocator,
                      store::Compare::modRevisionIs(s->key(), entry.stored.modRevision)};
}

}  // namespace podnet::agent
