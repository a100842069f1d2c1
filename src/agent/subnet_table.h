// The subnets this agent hands addresses from, kept in step with the store: one allocator per
// Subnet object (model/subnet.h), and each subnet's gateway on the node's bridge, so a pod on any
// node reaches its gateway locally (Kube-OVN's distributed gateway).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "agent/subnet_pools.h"
#include "model/subnet.h"
#include "store/prefix_follower.h"

namespace podnet::agent {

class SubnetTable final : public SubnetPools {
 public:
  // Creates the default subnet from defaultPool when the store has none (the first agent of a
  // cluster does; the others find it), puts every subnet's gateway on bridge, then follows
  // /podnet/subnets/.
  static Result<std::unique_ptr<SubnetTable>> start(store::Store&, const ipam::PoolConfig&,
                                                    std::string bridge);
  ~SubnetTable() override;

  Result<SubnetChoice> forNamespace(const std::string& ns) override;

 private:
  SubnetTable(store::Store&, std::string bridge);
  struct Stored {
    model::Subnet subnet;
    int64_t modRevision = 0;
  };
  void replace(const std::vector<Stored>&);  // callers hold mutex_
  void onListing(const store::Listing&);
  void onEvents(const std::vector<store::WatchEvent>&);

  struct Entry {
    Stored stored;
    std::shared_ptr<ipam::Allocator> allocator;
  };

  store::Store& store_;
  std::string bridge_;
  std::mutex mutex_;
  std::map<std::string, Entry> subnets_;  // by name
  std::unique_ptr<store::PrefixFollower> follower_;
};

}  // namespace podnet::agent
