// CniService: what podnetd does for each CNI command the plugin forwards. It owns the order of
// operations that makes a crash at any point recoverable: reserve the address and write a pending
// record in one store transaction, wire the kernel, then mark the record ready.
#pragma once

#include <condition_variable>
#include <deque>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/attachment.h"
#include "agent/policy_agent.h"
#include "agent/subnet_pools.h"
#include "cni/types.h"
#include "dataplane/pod_wiring.h"
#include "store/store.h"

namespace podnet::agent {

// What reconcile() found and did after a restart. Each failure names the attachment, store key or
// veth and what went wrong; reconcile carries on past it and leaves that object alone.
struct ReconcileReport {
  size_t kept = 0;               // ready attachments of this node, untouched
  size_t finished = 0;           // pending or releasing attachments of this node, removed
  size_t strayVethsRemoved = 0;  // podnet veths that no record of any node owned
  std::vector<std::string> failures;
};

class CniService {
 public:
  // Attachments of every node share the store; this service only ever changes nodeName's.
  // hooks (may be null) put policy on a pod before its ADD answers.
  CniService(store::Store& store, SubnetPools& pools, dataplane::PodWiring& wiring,
             std::string nodeName, int defaultMtu, EndpointHooks* hooks = nullptr);
  // Finishes every queued teardown before returning.
  ~CniService();
  CniService(const CniService&) = delete;
  CniService& operator=(const CniService&) = delete;

  // The RPC entry point: {"op":"cni",...} and {"op":"pods"}; see docs/architecture.md.
  nlohmann::json handle(const nlohmann::json& request);

  // After a restart: removes this node's attachments whose ADD never finished or whose DEL was
  // answered, and podnet veths that no attachment owns. Ready attachments and their traffic are
  // left untouched, and so is everything a record does not clearly describe: a record that does
  // not decode (an unknown state, a newer writer) is reported and its pod left alone. Never
  // stops at a failure: each is logged and reported, and the agent starts.
  ReconcileReport reconcile();

  // Every node's attachments, or only this node's.
  Result<std::vector<Attachment>> attachments();
  Result<std::vector<Attachment>> localAttachments();

 private:
  struct Reply {
    std::optional<cni::Result> result;
    std::optional<cni::CniError> error;
  };
  // Every attachment record in the store, decoded or not.
  struct StoredAttachments {
    std::vector<Attachment> decoded;
    std::vector<std::pair<std::string, std::string>> undecodable;  // store key, why
  };
  class AddRollback;

  Reply add(const cni::Env&, const cni::NetConf&);
  Reply del(const cni::Env&, const cni::NetConf&);
  Reply check(const cni::Env&, const cni::NetConf&);
  Reply gc(const cni::NetConf&);
  Reply status();

  // The steps of add(), each noting in the rollback what it did. reserve: the address and a
  // pending record in one transaction. wire: the veth, its addresses and routes, and the policy
  // programs on it. commit: the record becomes ready, if the reservation is still the ADD's;
  // returns the store revision of the commit.
  std::optional<cni::CniError> reserve(Attachment&, const SubnetChoice&, AddRollback&);
  std::optional<cni::CniError> wire(Attachment&, AddRollback&);
  std::optional<cni::CniError> commit(Attachment&, ipam::Allocator&, AddRollback&,
                                      int64_t& revision);

  Result<std::optional<Attachment>> find(const std::string& key);
  Result<StoredAttachments> storedAttachments();
  // Unwires and releases one attachment; idempotent.
  Status remove(const Attachment&);
  // Deletes every podnet veth that no attachment record owns (left by a crash between the kernel
  // and the store, or by hand); returns how many and appends each failure. A veth is owned when a
  // record in `stored` of any node name names it, or when a record that does not decode has its
  // key: a node whose name changed keeps its pods (reported, not acted on). Callers hold gcLock_
  // exclusively.
  size_t removeStrayVeths(const StoredAttachments& stored, std::vector<std::string>& failures);
  // DEL answers as soon as the attachment is durably marked releasing; removing a veth costs the
  // kernel tens of milliseconds of RCU grace periods, so that and the address release happen on
  // teardownThread_. The address stays reserved until the veth is gone.
  void queueTeardown(const Attachment&);
  // Waits until a queued teardown of key has finished (an ADD that reuses the attachment).
  bool awaitTeardown(const std::string& key);
  void teardownLoop();

  store::Store& store_;
  SubnetPools& pools_;
  dataplane::PodWiring& wiring_;
  std::string nodeName_;
  int defaultMtu_;
  EndpointHooks* hooks_;
  // ADD/DEL/CHECK share the lock; GC and reconcile take it alone, so they never judge an
  // attachment that an in-flight ADD is still creating.
  std::shared_mutex gcLock_;

  std::mutex teardownMutex_;
  std::condition_variable teardownCv_;  // new work, finished work, or stopping
  std::deque<Attachment> teardownQueue_;
  std::set<std::string> tearingDown_;  // keys queued or in progress
  bool stopping_ = false;
  std::thread teardownThread_;  // last: starts after everything it uses exists
};

}  // namespace podnet::agent
