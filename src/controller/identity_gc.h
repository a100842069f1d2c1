// Garbage collection of security identities (policy/identity.h). Agents allocate an identity for
// every label set a pod has and never release one (another node may still use it); the controller
// releases identities no pod uses. A label set that is unused at one sweep may be a pod that an
// agent is wiring right now, so an identity is released only when it was unused at two sweeps in
// a row, a sweep period apart: a pod being wired has its attachment record by then.
#pragma once

#include <cstdint>
#include <set>

#include "common/result.h"
#include "store/store.h"

namespace podnet::controller {

class IdentityCollector {
 public:
  explicit IdentityCollector(store::Store& store) : store_(store) {}

  // One sweep: releases every identity that no pod (attachment record not being released, with
  // its Pod object's labels and its Namespace's labels) used at this sweep nor at the previous
  // one. Returns the released numbers.
  Result<std::set<uint32_t>> sweep();

 private:
  store::Store& store_;
  std::set<uint32_t> unusedBefore_;
};

}  // namespace podnet::controller
