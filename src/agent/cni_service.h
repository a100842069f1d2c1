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

#include <nlohmann/json.hpp>

#include "agent/attachment.h"
#include "agent/policy_agent.h"
#include "agent/subnet_pools.h"
#include "cni/types.h"
#include "dataplane/pod_wiring.h"
#include "store/store.h"

namespace podnet::agent {

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

  // After a restart: releases attachments whose ADD never finished and removes podnet veths that
  // no attachment owns. Ready attachments and their traffic are left untouched.
  Status reconcile();

  // Every node's attachments, or only this node's.
  Result<std::vector<Attachment>> attachments();
  Result<std::vector<Attachment>> localAttachments();

 private:
  struct Reply {
    std::optional<cni::Result> result;
    std::optional<cni::CniError> error;
  };

  Reply add(const cni::Env&, const cni::NetConf&);
  Reply del(const cni::Env&, const cni::NetConf&);
  Reply check(const cni::Env&, const cni::NetConf&);
  Reply gc(const cni::NetConf&);
  Reply status();

  Result<std::optional<Attachment>> find(const std::string& key);
  // Unwires and releases one attachment; idempotent.
  Status remove(const Attachment&);
  // Deletes every podnet veth that no attachment record owns (left by a crash between the kernel
  // and the store, or by hand); returns how many. Callers hold gcLock_ exclusively.
  Result<size_t> removeStrayVeths();

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
