// Which address pool a pod's address comes from: the Subnet that binds the pod's namespace, or
// the default subnet. An interface so CniService can be tested on a fixed set of pools.
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "ipam/allocator.h"
#include "store/store.h"

namespace podnet::agent {

struct SubnetChoice {
  std::shared_ptr<ipam::Allocator> allocator;
  // Holds while the subnet is still the one the allocator was built from: an allocation made
  // with it cannot land in a subnet whose CIDR or excludes just changed.
  store::Compare unchanged;
};

class SubnetPools {
 public:
  virtual ~SubnetPools() = default;
  // The subnet serving namespace ns ("" for a pod without a namespace: the default subnet).
  // Errc::kNotFound, naming the namespace, when no subnet serves it.
  virtual Result<SubnetChoice> forNamespace(const std::string& ns) = 0;
};

}  // namespace podnet::agent
