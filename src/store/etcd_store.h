// EtcdStore: the store on an etcd v3 cluster, for several nodes. Speaks etcd's gRPC API; gRPC
// stays out of this header, so linking podnet_store_etcd does not expose generated code.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "store/store.h"

namespace podnet::store {

// Revisions, transactions and watches are etcd's own (a fresh cluster is at revision 1). Every
// call has a deadline of the timeout given to connect(); an etcd that does not answer in time is
// Errc::kUnavailable naming the endpoints. A call waits (within its deadline) for the connection
// to come back, so calls work again once a restarted etcd is up; the channel retries at least
// once a second. Thread-safe.
class EtcdStore final : public Store {
 public:
  // endpoints: "host:port" or "http://host:port"; several must be IPv4 addresses (the channel
  // fails over between them). TLS is not supported yet. Fails with kUnavailable when etcd does
  // not answer within timeout.
  static Result<std::unique_ptr<EtcdStore>> connect(const std::vector<std::string>& endpoints,
                                                    std::chrono::milliseconds timeout);
  ~EtcdStore() override;
  EtcdStore(const EtcdStore&) = delete;
  EtcdStore& operator=(const EtcdStore&) = delete;

  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<std::vector<KeyValue>> list(const std::string& prefix) override;
  Result<Listing> listWithRevision(const std::string& prefix) override;
  // etcd refuses a transaction that writes one key twice (kInvalidArgument).
  Result<TxnResult> txn(const std::vector<Compare>& compares, const std::vector<Op>& onSuccess,
                        const std::vector<Op>& onFailure = {}) override;
  Result<int64_t> revision() override;
  // Follows etcd's watch stream. On a broken stream it reconnects with backoff (100 ms doubling
  // to 5 s) and resumes after the last delivered revision, or the last progress notification.
  Result<std::unique_ptr<Watch>> watch(const std::string& prefix, int64_t afterRevision,
                                       std::function<void(const std::vector<WatchEvent>&)> onEvents,
                                       std::function<void(const Error&)> onError) override;
  // etcd rounds a ttl below its minimum (the election timeout, a few seconds) up.
  Result<int64_t> grantLease(std::chrono::seconds ttl) override;
  Status keepAlive(int64_t lease) override;
  Status revokeLease(int64_t lease) override;

  // Drops etcd's history before revision: watches from an earlier revision get kConflict. The
  // controller runs this periodically; etcd itself keeps every revision otherwise.
  Status compact(int64_t revision);

 private:
  struct Rpc;  // the gRPC channel and stubs, shared with the watches
  class WatchStream;
  explicit EtcdStore(std::shared_ptr<Rpc> rpc);

  std::shared_ptr<Rpc> rpc_;
};

}  // namespace podnet::store
