#include "agent/cni_service.h"

#include <ctime>
#include <mutex>
#include <set>

#include <spdlog/spdlog.h>

#include "cni/config.h"
#include "cni/env.h"
#include "cni/result_codec.h"
#include "netlink/link.h"

namespace podnet::agent {
namespace {

cni::CniError cniError(int code, std::string msg, std::string details = "") {
  return cni::CniError{code, std::move(msg), std::move(details)};
}

std::string argOr(const cni::Env& env, const char* key) {
  auto it = env.args.find(key);
  return it == env.args.end() ? std::string() : it->second;
}

std::string describe(const cni::Env& env, const cni::NetConf& conf) {
  return "attachment " + conf.name + "/" + env.containerId + "/" + env.ifname;
}

}  // namespace

CniService::CniService(store::Store& store, SubnetPools& pools, dataplane::PodWiring& wiring,
                       std::string nodeName, int defaultMtu, EndpointHooks* hooks)
    : store_(store),
      pools_(pools),
      wiring_(wiring),
      nodeName_(std::move(nodeName)),
      defaultMtu_(defaultMtu),
      hooks_(hooks),
      teardownThread_([this] { teardownLoop(); }) {}

CniService::~CniService() {
  {
    std::lock_guard guard(teardownMutex_);
    stopping_ = true;
  }
  teardownCv_.notify_all();
  teardownThread_.join();
}

void CniService::queueTeardown(const Attachment& a) {
  {
    std::lock_guard guard(teardownMutex_);
    if (!tearingDown_.insert(a.key()).second) return;  // already queued
    teardownQueue_.push_back(a);
  }
  teardownCv_.notify_all();
}

bool CniService::awaitTeardown(const std::string& key) {
  std::unique_lock guard(teardownMutex_);
  return teardownCv_.wait_for(guard, std::chrono::seconds(30),
                              [&] { return tearingDown_.count(key) == 0; });
}

void CniService::teardownLoop() {
  std::unique_lock guard(teardownMutex_);
  while (true) {
    teardownCv_.wait(guard, [&] { return stopping_ || !teardownQueue_.empty(); });
    if (teardownQueue_.empty()) return;  // stopping, and everything queued is done
    Attachment a = std::move(teardownQueue_.front());
    teardownQueue_.pop_front();
    guard.unlock();
    // On failure the record stays "releasing": the next DEL, GC or restart retries it.
    if (auto st = remove(a); !st) {
      spdlog::error("teardown of {}: {}", a.owner(), st.error().message);
    }
    guard.lock();
    tearingDown_.erase(a.key());
    teardownCv_.notify_all();
  }
}

nlohmann::json CniService::handle(const nlohmann::json& request) {
  auto fail = [](const cni::CniError& e) {
    nlohmann::json err = {{"code", e.code}, {"msg", e.msg}};
    if (!e.details.empty()) err["details"] = e.details;
    return nlohmann::json{{"ok", false}, {"error", err}};
  };
  const std::string op = request.is_object() ? request.value("op", "") : "";
  if (op == "pods") {
    auto all = attachments();
    if (!all) return fail(cniError(cni::kStoreFailure, all.error().message));
    nlohmann::json pods = nlohmann::json::array();
    for (const auto& a : *all) pods.push_back(toJson(a));
    return {{"ok", true}, {"pods", pods}};
  }
  if (op != "cni") return fail(cniError(cni::kDecodeFailure, "unknown request op \"" + op + "\""));

  auto env = cni::envFromJson(request.value("env", nlohmann::json::object()));
  if (!env) return fail(cniError(cni::kInvalidEnvironment, env.error().message));
  const auto& config = request.value("config", nlohmann::json::object());
  auto conf = cni::parseNetConf(config.dump(), env->command);
  if (!conf) return fail(cniError(cni::cniCodeForConfigError(conf.error()), conf.error().message));

  Reply reply;
  switch (env->command) {
    case cni::Command::kAdd:
      reply = add(*env, *conf);
      break;
    case cni::Command::kDel:
      reply = del(*env, *conf);
      break;
    case cni::Command::kCheck:
      reply = check(*env, *conf);
      break;
    case cni::Command::kGc:
      reply = gc(*conf);
      break;
    case cni::Command::kStatus:
      reply = status();
      break;
    case cni::Command::kVersion:
      reply.error = cniError(cni::kInvalidEnvironment, "VERSION is answered by the plugin");
      break;
  }
  if (reply.error) {
    spdlog::warn("CNI {} {}/{}: code {}: {}", cni::commandName(env->command), env->containerId,
                 env->ifname, reply.error->code, reply.error->msg);
    return fail(*reply.error);
  }
  spdlog::info("CNI {} {}/{}: ok", cni::commandName(env->command), env->containerId, env->ifname);
  nlohmann::json out = {{"ok", true}, {"result", nullptr}};
  if (reply.result) out["result"] = cni::encodeResult(*reply.result, "1.1.0");
  return out;
}

Result<std::optional<Attachment>> CniService::find(const std::string& key) {
  auto kv = PODNET_TRY(store_.get(key));
  if (!kv) return std::optional<Attachment>{};
  auto a = attachmentFromJson(kv->value);
  if (!a) return a.error().context("store key " + key);
  return std::optional<Attachment>{std::move(*a)};
}

Result<std::vector<Attachment>> CniService::attachments() {
  auto kvs = PODNET_TRY(store_.list(Attachment::kPrefix));
  std::vector<Attachment> out;
  out.reserve(kvs.size());
  for (const auto& kv : kvs) {
    auto a = attachmentFromJson(kv.value);
    if (!a) return a.error().context("store key " + kv.key);
    out.push_back(std::move(*a));
  }
  return out;
}

Result<std::vector<Attachment>> CniService::localAttachments() {
  auto all = PODNET_TRY(attachments());
  std::erase_if(all, [&](const Attachment& a) { return a.node != nodeName_; });
  return all;
}

CniService::Reply CniService::add(const cni::Env& env, const cni::NetConf& conf) {
  std::shared_lock lock(gcLock_);
  Attachment a;
  a.network = conf.name;
  a.containerId = env.containerId;
  a.ifname = env.ifname;
  a.netns = env.netns;
  a.podNamespace = argOr(env, "K8S_POD_NAMESPACE");
  a.podName = argOr(env, "K8S_POD_NAME");
  a.podUid = argOr(env, "K8S_POD_UID");
  auto subnet = pools_.forNamespace(a.podNamespace);
  if (!subnet) {
    return {{}, cniError(cni::kStoreFailure, describe(env, conf) + ": " + subnet.error().message)};
  }
  ipam::Allocator& allocator = *subnet->allocator;
  a.pool = allocator.pool().config().name;
  a.gateway = allocator.pool().gateway();
  a.hostVeth = dataplane::hostVethName(env.containerId, env.ifname);
  a.mtu = conf.mtu.value_or(defaultMtu_);
  a.node = nodeName_;
  a.createdAt = static_cast<int64_t>(std::time(nullptr));

  // Reserve the address and record the attachment as pending in one transaction: a crash after
  // this point leaves a record that reconcile() or DEL cleans up, never an orphaned address.
  auto reserve = [&] {
    return allocator.allocate(a.owner(), {store::Compare::absent(a.key()), subnet->unchanged},
                              [&](Ipv4 chosen) -> std::vector<store::Op> {
                                Attachment pending = a;
                                pending.address = allocator.pool().interfaceAddress(chosen);
                                return {store::Op::put(a.key(), toJson(pending).dump())};
                              });
  };
  auto ip = reserve();
  if (!ip && ip.error().code == Errc::kAlreadyExists) {
    // The same attachment may have just been DELeted and still be tearing down: that is not a
    // duplicate, so wait for it and try once more.
    auto existing = find(a.key());
    if (existing && *existing && (*existing)->state == Attachment::State::kReleasing) {
      queueTeardown(**existing);
      if (awaitTeardown(a.key())) ip = reserve();
    }
  }
  if (!ip) {
    const Error& e = ip.error();
    if (e.code == Errc::kAlreadyExists) {
      auto existing = find(a.key());
      if (existing && !*existing) {
        // Not a duplicate: the subnet changed between choosing it and reserving in it.
        return {{},
                cniError(cni::kTryAgainLater, describe(env, conf) + ": subnet " + a.pool +
                                                  " changed during the ADD; try again")};
      }
      std::string where;
      if (existing && *existing) where = " with address " + (*existing)->address.str();
      return {
          {},
          cniError(cni::kAttachmentExists, describe(env, conf) + " already exists" + where +
                                               "; the runtime must DEL it before adding it again")};
    }
    if (e.code == Errc::kExhausted) return {{}, cniError(cni::kPoolExhausted, e.message)};
    return {{}, cniError(cni::kStoreFailure, describe(env, conf) + ": " + e.message)};
  }
  a.address = allocator.pool().interfaceAddress(*ip);

  dataplane::PodNetwork net{a.containerId, a.ifname, a.netns, a.address, a.gateway, a.mtu};
  auto wired = wiring_.attach(net);
  if (wired && hooks_) {
    if (auto st = hooks_->deviceWired(a.hostVeth); !st) {
      (void)wiring_.detach(a.containerId, a.ifname);
      wired = std::move(st).takeError().context("policy on " + a.hostVeth);
    }
  }
  if (!wired) {
    // Nothing of this ADD may survive its failure: give the address back with the record.
    if (auto st = allocator.release(*ip, a.owner(), {store::Op::del(a.key())}); !st) {
      spdlog::error("{}: releasing {} after a failed ADD: {}", describe(env, conf), ip->str(),
                    st.error().message);
    }
    const Error& e = wired.error();
    int code = e.code == Errc::kNotFound        ? cni::kInvalidEnvironment
               : e.code == Errc::kAlreadyExists ? cni::kAttachmentExists
                                                : cni::kDataplaneFailure;
    std::string msg = e.code == Errc::kNotFound ? "CNI_NETNS " + env.netns + ": " + e.message
                                                : describe(env, conf) + ": " + e.message;
    return {{}, cniError(code, msg)};
  }
  a.hostMac = wired->hostMac;
  a.podMac = wired->podMac;
  a.state = Attachment::State::kReady;
  auto committed =
      store_.txn({store::Compare::valueIs(ipam::reservationKey(allocator.pool(), *ip), a.owner())},
                 {store::Op::put(a.key(), toJson(a).dump())});
  if (!committed || !committed->succeeded) {
    // The reservation vanished under us (a concurrent GC or DEL): undo the wiring.
    (void)wiring_.detach(a.containerId, a.ifname);
    std::string why = committed ? "the address reservation disappeared" : committed.error().message;
    return {{}, cniError(cni::kStoreFailure, describe(env, conf) + ": " + why)};
  }
  if (hooks_) {
    if (auto st = hooks_->awaitEnforced(a, committed->revision); !st) {
      // Never answer with a pod its policy does not protect yet: undo the whole ADD.
      if (auto gone = wiring_.detach(a.containerId, a.ifname); !gone) {
        spdlog::error("{}: undoing the wiring after unenforced policy: {}", describe(env, conf),
                      gone.error().message);
      } else if (auto st2 = allocator.release(*ip, a.owner(), {store::Op::del(a.key())}); !st2) {
        spdlog::error("{}: releasing {} after unenforced policy: {}", describe(env, conf),
                      ip->str(), st2.error().message);
      }
      return {{}, cniError(cni::kTryAgainLater, describe(env, conf) + ": " + st.error().message)};
    }
  }

  cni::Result result;
  result.interfaces.push_back({a.hostVeth, a.hostMac, a.mtu, ""});
  result.interfaces.push_back({a.ifname, a.podMac, a.mtu, a.netns});
  result.ips.push_back({a.address, a.gateway, 1});
  result.routes.push_back({*Ipv4Prefix::parse("0.0.0.0/0"), a.gateway, {}, {}, {}, {}, {}});
  result.dns = conf.dns;
  return {result, {}};
}

Status CniService::remove(const Attachment& a) {
  PODNET_TRY_STATUS(wiring_.detach(a.containerId, a.ifname));
  return ipam::releaseReservation(store_, a.pool, a.address.addr, a.owner(),
                                  {store::Op::del(a.key())});
}

CniService::Reply CniService::del(const cni::Env& env, const cni::NetConf& conf) {
  std::shared_lock lock(gcLock_);
  auto found = find(Attachment::keyFor(conf.name, env.containerId, env.ifname));
  if (!found)
    return {{}, cniError(cni::kStoreFailure, describe(env, conf) + ": " + found.error().message)};
  if (!*found) {
    // Nothing recorded: DEL is idempotent, but still remove a veth a crashed ADD may have left.
    if (auto st = wiring_.detach(env.containerId, env.ifname); !st) {
      return {{},
              cniError(cni::kDataplaneFailure, describe(env, conf) + ": " + st.error().message)};
    }
    return {};
  }
  Attachment releasing = **found;
  if (releasing.state != Attachment::State::kReleasing) {
    // Durable before answering: after a crash, reconcile finishes what the runtime thinks is gone.
    releasing.state = Attachment::State::kReleasing;
    auto marked = store_.txn({}, {store::Op::put(releasing.key(), toJson(releasing).dump())});
    if (!marked) {
      return {{},
              cniError(cni::kStoreFailure, describe(env, conf) + ": " + marked.error().message)};
    }
  }
  queueTeardown(releasing);
  return {};
}

CniService::Reply CniService::check(const cni::Env& env, const cni::NetConf& conf) {
  std::shared_lock lock(gcLock_);
  if (!conf.prevResult) {
    return {{},
            cniError(cni::kInvalidNetworkConfig,
                     "CHECK needs prevResult (the result of the ADD) in the config")};
  }
  auto found = find(Attachment::keyFor(conf.name, env.containerId, env.ifname));
  if (!found) return {{}, cniError(cni::kStoreFailure, found.error().message)};
  if (!*found || (*found)->state != Attachment::State::kReady) {
    return {{}, cniError(cni::kUnknownContainer, describe(env, conf) + " is not known to podnetd")};
  }
  const Attachment& a = **found;
  bool listed = false;
  for (const auto& ip : conf.prevResult->ips) listed = listed || ip.address == a.address;
  if (!listed) {
    return {{},
            cniError(
                cni::kAttachmentInvalid,
                describe(env, conf) + ": prevResult does not list its address " + a.address.str())};
  }
  dataplane::PodNetwork net{a.containerId, a.ifname, env.netns, a.address, a.gateway, a.mtu};
  dataplane::WiredPod wired{a.hostVeth, a.hostMac, a.podMac, a.mtu};
  if (auto st = wiring_.check(net, wired); !st) {
    return {{}, cniError(cni::kAttachmentInvalid, describe(env, conf) + ": " + st.error().message)};
  }
  return {};
}

CniService::Reply CniService::gc(const cni::NetConf& conf) {
  std::unique_lock lock(gcLock_);
  std::set<std::pair<std::string, std::string>> valid;
  for (const auto& v : conf.validAttachments) valid.emplace(v.containerId, v.ifname);
  auto all = localAttachments();
  if (!all) return {{}, cniError(cni::kStoreFailure, all.error().message)};
  std::vector<std::string> failures;
  for (const auto& a : *all) {
    if (a.network != conf.name || valid.count({a.containerId, a.ifname})) continue;
    if (a.state == Attachment::State::kReleasing) continue;  // the teardown thread has it
    spdlog::info("GC: releasing {} ({})", a.owner(), a.address.str());
    if (auto st = remove(a); !st) failures.push_back(a.owner() + ": " + st.error().message);
  }
  if (auto stray = removeStrayVeths(); !stray) failures.push_back(stray.error().message);
  if (!failures.empty()) {
    std::string msg = "GC could not remove " + std::to_string(failures.size()) + " attachment(s)";
    std::string details;
    for (const auto& f : failures) details += (details.empty() ? "" : "; ") + f;
    return {{}, cniError(cni::kDataplaneFailure, msg, details)};
  }
  return {};
}

CniService::Reply CniService::status() {
  // Ready when the store answers and the default subnet (the one most pods use) has room.
  auto subnet = pools_.forNamespace("");
  if (!subnet) return {{}, cniError(cni::kPluginNotAvailable, subnet.error().message)};
  auto used = subnet->allocator->reservations();
  if (!used) {
    return {{}, cniError(cni::kPluginNotAvailable, "store unavailable: " + used.error().message)};
  }
  if (used->size() >= subnet->allocator->pool().capacity()) {
    return {{},
            cniError(cni::kPluginNotAvailable,
                     "subnet " + subnet->allocator->pool().config().name + " has no free address")};
  }
  return {};
}

Status CniService::reconcile() {
  std::unique_lock lock(gcLock_);
  auto all = PODNET_TRY(localAttachments());
  size_t kept = 0;
  size_t released = 0;
  for (const auto& a : all) {
    if (a.state != Attachment::State::kReady) {
      // Pending: the ADD never returned a result to the runtime. Releasing: DEL was answered
      // but its teardown did not finish. Either way the runtime holds nothing: undo it.
      spdlog::info("reconcile: finishing {} {} ({})", stateName(a.state), a.owner(),
                   a.address.str());
      PODNET_TRY_STATUS(remove(a));
      ++released;
      continue;
    }
    ++kept;
  }
  size_t removed = PODNET_TRY(removeStrayVeths());
  spdlog::info("reconcile: {} attachment(s) kept, {} unfinished removed, {} stray veth(s) removed",
               kept, released, removed);
  return okStatus();
}

Result<size_t> CniService::removeStrayVeths() {
  std::set<std::string> owned;
  for (const auto& a : PODNET_TRY(localAttachments())) owned.insert(a.hostVeth);
  auto nl = PODNET_TRY(netlink::Socket::open());
  size_t removed = 0;
  for (const auto& name : PODNET_TRY(wiring_.listHostVeths())) {
    if (owned.count(name)) continue;
    // Deleting the host side removes the peer and every route through it.
    spdlog::info("removing veth {} that no attachment owns", name);
    PODNET_TRY_STATUS(netlink::deleteLink(nl, name));
    ++removed;
  }
  return removed;
}

}  // namespace podnet::agent
