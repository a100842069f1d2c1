// The cluster's subnets in the store: applying, deleting and listing them, and how many of each
// subnet's addresses are in use. Every write is checked against the whole set of subnets in the
// same transaction that makes it, so two concurrent applies can never both create overlapping
// subnets, whichever podnetd or podnetctl they come through.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/subnet.h"
#include "store/store.h"

namespace podnet::registry {

// Written with every subnet write and compared by it, so that creating a subnet conflicts with a
// concurrent creation of another (the store's compares see single keys, not "no new key under a
// prefix"). Outside model::Subnet::kPrefix, so listings and watches of subnets do not see it.
inline constexpr const char* kSubnetsVersionKey = "/podnet/versions/subnets";

enum class ApplyAction { kCreated, kConfigured, kUnchanged };
const char* actionName(ApplyAction);  // "created", "configured", "unchanged"

// Creates or updates a subnet. The stored subnet always carries its gateway (the default, the
// first address after the network, filled in), so `get` shows what pods get. Refused (nothing
// written) with a message naming the field when: validate() fails; it overlaps another subnet or
// binds a namespace another subnet binds; it changes cidrBlock or gateway while addresses of the
// subnet are reserved; a reserved address would no longer be usable (excluded, or outside a
// subnet created over leftover reservations). A race lost to another writer is retried; after a
// few lost races the error is kConflict.
// kCreateOnly: an existing subnet of that name is left as it is (kUnchanged), whatever it holds;
// the agents create the default subnet this way, so the first agent's flags win.
enum class ApplyMode { kCreateOrUpdate, kCreateOnly };
Result<ApplyAction> applySubnet(store::Store& store, const model::Subnet& subnet,
                                ApplyMode mode = ApplyMode::kCreateOrUpdate);

// Removes a subnet. kNotFound when there is none; refused while any of its addresses is reserved,
// naming how many.
Status deleteSubnet(store::Store& store, const std::string& name);

// Every subnet, sorted by name.
Result<std::vector<model::Subnet>> listSubnets(store::Store& store);

struct SubnetUsage {
  model::Subnet subnet;
  uint64_t used = 0;  // reserved addresses
  uint64_t free = 0;  // usable addresses not reserved
};

// Every subnet with its address counts, sorted by name.
Result<std::vector<SubnetUsage>> subnetUsage(store::Store& store);

// One element of the agent's {"op":"subnets"} answer:
// {"name","cidrBlock","gateway","namespaces":[..],"excludeIps":[..],"used":N,"free":M}.
nlohmann::json toJson(const SubnetUsage&);

}  // namespace podnet::registry
