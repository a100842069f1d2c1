#include "store/etcd_store.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <thread>

#include "common/ip.h"
#include "etcdserverpb/rpc.grpc.pb.h"
#include "store/key_range.h"

namespace podnet::store {

namespace pb = etcdserverpb;

namespace {

constexpr std::chrono::milliseconds kWatchMinBackoff{100};
constexpr std::chrono::milliseconds kWatchMaxBackoff{5000};

std::string leaseName(int64_t lease) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(lease));
  return std::string("lease ") + hex;
}

KeyValue fromProto(const mvccpb::KeyValue& kv) {
  return KeyValue{kv.key(), kv.value(), kv.create_revision(), kv.mod_revision()};
}

// etcd's form of a prefix range: an empty key or range end means "from the first key" / "to the
// last key", which etcd spells "\0".
void setPrefixRange(const std::string& prefix, std::string* key, std::string* rangeEnd) {
  static const std::string kNul(1, '\0');
  std::string end = prefixEnd(prefix);
  *key = prefix.empty() ? kNul : prefix;
  *rangeEnd = end.empty() ? kNul : end;
}

void toProto(const Compare& compare, pb::Compare* out) {
  out->set_key(compare.key);
  out->set_result(pb::Compare::EQUAL);
  switch (compare.target) {
    case Compare::Target::kCreateRevision:
      out->set_target(pb::Compare::CREATE);
      out->set_create_revision(compare.revision);
      break;
    case Compare::Target::kModRevision:
      out->set_target(pb::Compare::MOD);
      out->set_mod_revision(compare.revision);
      break;
    case Compare::Target::kValue:
      out->set_target(pb::Compare::VALUE);
      out->set_value(compare.value);
      break;
  }
}

void toProto(const Op& op, pb::RequestOp* out) {
  if (op.kind == Op::Kind::kPut) {
    auto* put = out->mutable_request_put();
    put->set_key(op.key);
    put->set_value(op.value);
    put->set_lease(op.lease);
  } else {
    out->mutable_request_delete_range()->set_key(op.key);
  }
}

// gRPC's target for the endpoints: a single one as is (any name the resolver knows), several as
// a static IPv4 list.
Result<std::string> channelTarget(const std::vector<std::string>& endpoints) {
  if (endpoints.empty()) {
    return makeError(Errc::kInvalidArgument, "etcd: no endpoint given");
  }
  std::vector<std::string> hostPorts;
  for (std::string endpoint : endpoints) {
    if (endpoint.starts_with("https://")) {
      return makeError(Errc::kUnsupported,
                       "etcd " + endpoint + ": TLS is not supported yet; use http://");
    }
    if (endpoint.starts_with("http://")) endpoint.erase(0, 7);
    if (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    auto colon = endpoint.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == endpoint.size()) {
      return makeError(Errc::kInvalidArgument,
                       "etcd endpoint \"" + endpoint + "\": expected host:port");
    }
    if (endpoints.size() > 1 && !Ipv4::parse(endpoint.substr(0, colon))) {
      return makeError(Errc::kInvalidArgument,
                       "etcd endpoint \"" + endpoint +
                           "\": several endpoints must be IPv4 address:port (or give one DNS "
                           "name that resolves to every member)");
    }
    hostPorts.push_back(endpoint);
  }
  if (hostPorts.size() == 1) return hostPorts.front();
  std::string target = "ipv4:";
  for (size_t i = 0; i < hostPorts.size(); ++i) target += (i ? "," : "") + hostPorts[i];
  return target;
}

}  // namespace

struct EtcdStore::Rpc {
  std::string endpoints;  // as shown in messages
  std::chrono::milliseconds timeout;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Watch::Stub> watch;
  std::unique_ptr<pb::Lease::Stub> lease;

  // Every unary call: a deadline, and wait for a (re)connecting channel instead of failing at
  // once, so a call made while etcd restarts succeeds if etcd is back within the deadline.
  void prepare(grpc::ClientContext& context) const {
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    context.set_wait_for_ready(true);
  }

  Error error(const grpc::Status& status, const std::string& what) const {
    std::string where = "etcd " + endpoints + ": " + what + ": ";
    const std::string& message = status.error_message();
    switch (status.error_code()) {
      case grpc::StatusCode::DEADLINE_EXCEEDED:
        return makeError(Errc::kUnavailable, where + "no answer within " +
                                                 std::to_string(timeout.count()) +
                                                 " ms; check that etcd runs and is reachable");
      case grpc::StatusCode::UNAVAILABLE:
      case grpc::StatusCode::RESOURCE_EXHAUSTED:  // etcd: too many requests, no space
        return makeError(Errc::kUnavailable, where + message);
      case grpc::StatusCode::OUT_OF_RANGE:  // a compacted or future revision
        return makeError(Errc::kConflict, where + message);
      case grpc::StatusCode::NOT_FOUND:
        return makeError(Errc::kNotFound, where + message);
      case grpc::StatusCode::INVALID_ARGUMENT:
        return makeError(Errc::kInvalidArgument, where + message);
      default:
        return makeError(Errc::kInternal, where + message);
    }
  }
};

// One watch: a thread that keeps a Watch stream open, delivering events, and opens a new one from
// the next revision whenever the stream breaks.
class EtcdStore::WatchStream final : public Watch {
 public:
  WatchStream(std::shared_ptr<const Rpc> rpc, std::string prefix, int64_t afterRevision,
              std::function<void(const std::vector<WatchEvent>&)> onEvents,
              std::function<void(const Error&)> onError)
      : rpc_(std::move(rpc)),
        prefix_(std::move(prefix)),
        next_(afterRevision + 1),
        onEvents_(std::move(onEvents)),
        onError_(std::move(onError)) {
    thread_ = std::thread([this] { run(); });
  }

  ~WatchStream() override {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      if (context_) context_->TryCancel();
    }
    wake_.notify_one();
    thread_.join();
  }

 private:
  enum class Outcome { kRetry, kOver };

  void run() {
    auto backoff = kWatchMinBackoff;
    while (true) {
      grpc::ClientContext context;
      // No deadline (a watch lives on); wait for the channel while etcd is away.
      context.set_wait_for_ready(true);
      {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        context_ = &context;
      }
      Outcome outcome = follow(context, backoff);
      std::unique_lock lock(mutex_);
      context_ = nullptr;
      if (outcome == Outcome::kOver) return;
      if (wake_.wait_for(lock, backoff, [&] { return stopping_; })) return;
      backoff = std::min(backoff * 2, kWatchMaxBackoff);
    }
  }

  Outcome follow(grpc::ClientContext& context, std::chrono::milliseconds& backoff) {
    auto stream = rpc_->watch->Watch(&context);
    pb::WatchRequest request;
    auto* create = request.mutable_create_request();
    setPrefixRange(prefix_, create->mutable_key(), create->mutable_range_end());
    create->set_start_revision(next_);
    create->set_progress_notify(true);
    pb::WatchResponse response;
    if (stream->Write(request)) {
      while (stream->Read(&response)) {
        if (response.compact_revision() > 0) {
          onError_(makeError(Errc::kConflict,
                             "etcd " + rpc_->endpoints + ": watch " + prefix_ + " after revision " +
                                 std::to_string(next_ - 1) + ": history compacted up to revision " +
                                 std::to_string(response.compact_revision()) +
                                 "; list again and watch from the listing's revision"));
          context.TryCancel();
          stream->Finish();
          return Outcome::kOver;
        }
        if (response.canceled()) break;  // canceled by etcd for another reason: start again
        if (response.created()) backoff = kWatchMinBackoff;
        if (response.events_size() > 0) {
          std::vector<WatchEvent> events;
          events.reserve(response.events_size());
          for (const mvccpb::Event& event : response.events()) {
            events.push_back({event.type() == mvccpb::Event::DELETE ? WatchEvent::Type::kDelete
                                                                    : WatchEvent::Type::kPut,
                              fromProto(event.kv())});
          }
          next_ = events.back().kv.modRevision + 1;
          onEvents_(events);
        } else if (!response.created()) {
          // A progress notification: nothing under the prefix up to this revision, so a resumed
          // watch can start after it (and is less likely to hit a compaction).
          next_ = std::max(next_, response.header().revision() + 1);
        }
      }
    }
    context.TryCancel();
    stream->Finish();
    return Outcome::kRetry;
  }

  const std::shared_ptr<const Rpc> rpc_;
  const std::string prefix_;
  int64_t next_;  // the first revision not yet delivered; only the watch thread touches it
  const std::function<void(const std::vector<WatchEvent>&)> onEvents_;
  const std::function<void(const Error&)> onError_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  grpc::ClientContext* context_ = nullptr;  // the open stream's, to cancel it on destruction
  std::thread thread_;
};

EtcdStore::EtcdStore(std::shared_ptr<Rpc> rpc) : rpc_(std::move(rpc)) {}

EtcdStore::~EtcdStore() = default;

Result<std::unique_ptr<EtcdStore>> EtcdStore::connect(const std::vector<std::string>& endpoints,
                                                      std::chrono::milliseconds timeout) {
  std::string target = PODNET_TRY(channelTarget(endpoints));
  auto rpc = std::make_shared<Rpc>();
  for (size_t i = 0; i < endpoints.size(); ++i) rpc->endpoints += (i ? "," : "") + endpoints[i];
  rpc->timeout = timeout;
  grpc::ChannelArguments args;
  // gRPC's default reconnect backoff grows to two minutes; an agent should see a restarted etcd
  // within a second.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  // Pings find a dead peer behind an idle watch stream (a crashed node sends no reset). etcd
  // accepts pings every 5 s or slower while a stream is open.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 10000);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 5000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // A large prefix is one Range answer; gRPC's default cap (4 MiB) would fail it.
  args.SetMaxReceiveMessageSize(-1);
  rpc->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  rpc->kv = pb::KV::NewStub(rpc->channel);
  rpc->watch = pb::Watch::NewStub(rpc->channel);
  rpc->lease = pb::Lease::NewStub(rpc->channel);
  std::unique_ptr<EtcdStore> store(new EtcdStore(std::move(rpc)));
  PODNET_TRY(store->revision());  // etcd answers, or the caller learns now
  return store;
}

Result<std::optional<KeyValue>> EtcdStore::get(const std::string& key) {
  pb::RangeRequest request;
  request.set_key(key);
  pb::RangeResponse response;
  grpc::ClientContext context;
  rpc_->prepare(context);
  grpc::Status status = rpc_->kv->Range(&context, request, &response);
  if (!status.ok()) return rpc_->error(status, "get " + key);
  if (response.kvs().empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(fromProto(response.kvs(0)));
}

Result<std::vector<KeyValue>> EtcdStore::list(const std::string& prefix) {
  return std::move(PODNET_TRY(listWithRevision(prefix)).kvs);
}

Result<Listing> EtcdStore::listWithRevision(const std::string& prefix) {
  pb::RangeRequest request;
  setPrefixRange(prefix, request.mutable_key(), request.mutable_range_end());
  request.set_sort_order(pb::RangeRequest::ASCEND);
  request.set_sort_target(pb::RangeRequest::KEY);
  pb::RangeResponse response;
  grpc::ClientContext context;
  rpc_->prepare(context);
  grpc::Status status = rpc_->kv->Range(&context, request, &response);
  if (!status.ok()) return rpc_->error(status, "list " + prefix);
  Listing out;
  out.kvs.reserve(response.kvs_size());
  for (const auto& kv : response.kvs()) out.kvs.push_back(fromProto(kv));
  out.revision = response.header().revision();
  return out;
}

Result<TxnResult> EtcdStore::txn(const std::vector<Compare>& compares,
                                 const std::vector<Op>& onSuccess,
                                 const std::vector<Op>& onFailure) {
  pb::TxnRequest request;
  for (const Compare& compare : compares) toProto(compare, request.add_compare());
  for (const Op& op : onSuccess) toProto(op, request.add_success());
  for (const Op& op : onFailure) toProto(op, request.add_failure());
  pb::TxnResponse response;
  grpc::ClientContext context;
  rpc_->prepare(context);
  grpc::Status status = rpc_->kv->Txn(&context, request, &response);
  if (!status.ok()) {
    const auto& ops = onSuccess.empty() ? onFailure : onSuccess;
    return rpc_->error(status, "txn" + (ops.empty() ? std::string() : " on " + ops.front().key));
  }
  return TxnResult{response.succeeded(), response.header().revision()};
}

Result<int64_t> EtcdStore::revision() {
  // Any read carries the store's revision in its header; count one (absent) key.
  pb::RangeRequest request;
  request.set_key(std::string(1, '\0'));
  request.set_count_only(true);
  pb::RangeResponse response;
  grpc::ClientContext context;
  rpc_->prepare(context);
  grpc::Status status = rpc_->kv->Range(&context, request, &response);
  if (!status.ok()) return rpc_->error(status, "read revision");
  return int64_t{response.header().revision()};
}

Result<std::unique_ptr<Watch>> EtcdStore::watch(
    const std::string& prefix, int64_t afterRevision,
    std::function<void(const std::vector<WatchEvent>&)> onEvents,
    std::function<void(const Error&)> onError) {
  return std::unique_ptr<Watch>(
      new WatchStream(rpc_, prefix, afterRevision, std::move(onEvents), std::move(onError)));
}

Result<int64_t> EtcdStore::grantLease(std::chrono::seconds ttl) {
  pb::LeaseGrantRequest request;
  request.set_ttl(ttl.count());
  pb::LeaseGrantResponse response;
  grpc::ClientContext context;
  rpc_->prepare(context);
  grpc::Status status = rpc_->lease->LeaseGrant(&context, request, &response);
  std::string what = "grant lease of " + std::to_string(ttl.count()) + " s";
  if (!status.ok()) return rpc_->error(status, what);
  if (!response.error().empty()) {
    return makeError(Errc::kInternal,
                     "etcd " + rpc_->endpoints + ": " + what + ": " + response.error());
  }
  return int64_t{response.id()};
}

Status EtcdStore::keepAlive(int64_t lease) {
  // etcd refreshes leases over a stream only: one request, one answer.
  grpc::ClientContext context;
  rpc_->prepare(context);
  auto stream = rpc_->lease->LeaseKeepAlive(&context);
  pb::LeaseKeepAliveRequest request;
  request.set_id(lease);
  pb::LeaseKeepAliveResponse response;
  bool answered = stream->Write(request) && stream->Read(&response);
  context.TryCancel();
  grpc::Status status = stream->Finish();
  std::string what = "keep " + leaseName(lease) + " alive";
  if (!answered) {
    // Finish reports why the stream broke; a cancelled status would hide it, so say it plainly.
    if (status.ok() || status.error_code() == grpc::StatusCode::CANCELLED) {
      return makeError(Errc::kUnavailable, "etcd " + rpc_->endpoints + ": " + what +
                                               ": the stream closed without an answer");
    }
    return rpc_->error(status, what);
  }
  if (response.ttl() <= 0) {
    return makeError(Errc::kNotFound,
                     "etcd " + rpc_->endpoints + ": " + what + ": it has expired or was revoked");
  }
  return okStatus();
}

Status EtcdStore::revokeLease(int64_t lease) {
  pb::LeaseRevokeRequest request;
  request.set_id(lease);
  pb::LeaseRevokeResponse response;
  grpc::ClientContext context;
  rpc_->prepare(context);
  grpc::Status status = rpc_->lease->LeaseRevoke(&context, request, &response);
  if (!status.ok()) return rpc_->error(status, "revoke " + leaseName(lease));
  return okStatus();
}

Status EtcdStore::compact(int64_t revision) {
  pb::CompactionRequest request;
  request.set_revision(revision);
  request.set_physical(true);
  pb::CompactionResponse response;
  grpc::ClientContext context;
  rpc_->prepare(context);
  grpc::Status status = rpc_->kv->Compact(&context, request, &response);
  if (!status.ok()) return rpc_->error(status, "compact to revision " + std::to_string(revision));
  return okStatus();
}

}  // namespace podnet::store
