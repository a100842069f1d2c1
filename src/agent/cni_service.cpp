#include "agent/cni_service.h"

#include <ctime>
#include <map>
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

std::string describe(const Attachment& a) {
  return "attachment " + a.owner();
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

// One ADD's undo log. Each step of add() notes what it has done; unless the ADD succeeds, undo()
// reverses exactly that, newest first. The address is given back only once the veth is known to
// be gone: when removing the veth fails, the address stays reserved and the record stays, marked
// pending, so that DEL, GC or reconcile after a restart retries the removal and then releases.
class CniService::AddRollback {
 public:
  AddRollback(CniService& service, const Attachment& a) : service_(service), a_(a) {}
  ~AddRollback() {
    if (!settled_) undo();
  }
  AddRollback(const AddRollback&) = delete;
  AddRollback& operator=(const AddRollback&) = delete;

  // The address and the pending record exist.
  void reserved(ipam::Allocator& allocator) { allocator_ = &allocator; }
  // The reservation is no longer the ADD's (a concurrent DEL took it with the record).
  void reservationLost() { allocator_ = nullptr; }
  // From here on the veth may exist.
  void wiring() { wiring_ = true; }
  // The record says ready.
  void committed() { committed_ = true; }
  // The ADD succeeded: nothing is undone.
  void keep() { settled_ = true; }

  // Undoes what was done and fails the ADD with error, which then also says what was left.
  Reply fail(cni::CniError error) {
    std::string left = undo();
    if (!left.empty()) error.msg += "; " + left;
    return {{}, std::move(error)};
  }

 private:
  // Returns "" when nothing is left behind, else what is left and why.
  std::string undo() {
    settled_ = true;
    if (wiring_) {
      if (auto gone = service_.wiring_.detach(a_.containerId, a_.ifname); !gone) {
        std::string left = "undoing the ADD could not remove veth " + a_.hostVeth + " (" +
                           gone.error().message + ")";
        if (allocator_) {
          left += keepPending() + ": address " + a_.address.addr.str() +
                  " stays reserved until DEL, GC or a restart of podnetd removes the veth";
        }
        spdlog::error("{}: {}", describe(a_), left);
        return left;
      }
    }
    if (!allocator_) return "";
    if (auto st = allocator_->release(a_.address.addr, a_.owner(), {store::Op::del(a_.key())});
        !st) {
      std::string left =
          "releasing address " + a_.address.addr.str() + " failed (" + st.error().message +
          "); the attachment stays recorded " +
          stateName(committed_ ? Attachment::State::kReady : Attachment::State::kPending) +
          " for DEL or GC to release";
      spdlog::error("{}: {}", describe(a_), left);
      return left;
    }
    return "";
  }

  // A committed record says ready, which reconcile keeps: it goes back to pending, which
  // reconcile, GC and DEL all remove.
  std::string keepPending() {
    if (!committed_) return ", the attachment stays recorded pending";
    Attachment pending = a_;
    pending.state = Attachment::State::kPending;
    auto put = service_.store_.txn({}, {store::Op::put(a_.key(), toJson(pending).dump())});
    if (!put) {
      return ", the attachment stays recorded ready (marking it pending failed: " +
             put.error().message + "; DEL or GC removes it)";
    }
    return ", the attachment is recorded pending again";
  }

  CniService& service_;
  const Attachment& a_;
  ipam::Allocator* allocator_ = nullptr;
  bool wiring_ = false;
  bool committed_ = false;
  bool settled_ = false;
};

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
  a.hostVeth = dataplane::hostVethName(env.containerId, env.ifname);
  a.mtu = conf.mtu.value_or(defaultMtu_);
  a.node = nodeName_;
  a.createdAt = static_cast<int64_t>(std::time(nullptr));
  auto subnet = pools_.forNamespace(a.podNamespace);
  if (!subnet) {
    return {{}, cniError(cni::kStoreFailure, describe(a) + ": " + subnet.error().message)};
  }

  AddRollback rollback(*this, a);
  if (auto e = reserve(a, *subnet, rollback)) return rollback.fail(std::move(*e));
  if (auto e = wire(a, rollback)) return rollback.fail(std::move(*e));
  int64_t revision = 0;
  if (auto e = commit(a, *subnet->allocator, rollback, revision)) {
    return rollback.fail(std::move(*e));
  }
  if (hooks_) {
    // Never answer with a pod its policy does not protect yet: undo the whole ADD.
    if (auto st = hooks_->awaitEnforced(a, revision); !st) {
      return rollback.fail(cniError(cni::kTryAgainLater, describe(a) + ": " + st.error().message));
    }
  }
  rollback.keep();

  cni::Result result;
  result.interfaces.push_back({a.hostVeth, a.hostMac->str(), a.mtu, ""});
  result.interfaces.push_back({a.ifname, a.podMac->str(), a.mtu, a.netns});
  result.ips.push_back({a.address, a.gateway, 1});
  result.routes.push_back({*Ipv4Prefix::parse("0.0.0.0/0"), a.gateway, {}, {}, {}, {}, {}});
  result.dns = conf.dns;
  return {result, {}};
}

std::optional<cni::CniError> CniService::reserve(Attachment& a, const SubnetChoice& subnet,
                                                 AddRollback& rollback) {
  ipam::Allocator& allocator = *subnet.allocator;
  a.pool = allocator.pool().config().name;
  a.gateway = allocator.pool().gateway();
  // Reserve the address and record the attachment as pending in one transaction: a crash after
  // this point leaves a record that reconcile() or DEL cleans up, never an orphaned address.
  auto attempt = [&] {
    return allocator.allocate(a.owner(), {store::Compare::absent(a.key()), subnet.unchanged},
                              [&](Ipv4 chosen) -> std::vector<store::Op> {
                                Attachment pending = a;
                                pending.address = allocator.pool().interfaceAddress(chosen);
                                return {store::Op::put(a.key(), toJson(pending).dump())};
                              });
  };
  auto ip = attempt();
  if (!ip && ip.error().code == Errc::kAlreadyExists) {
    // The same attachment may have just been DELeted and still be tearing down: that is not a
    // duplicate, so wait for it and try once more.
    auto existing = find(a.key());
    if (existing && *existing && (*existing)->state == Attachment::State::kReleasing) {
      queueTeardown(**existing);
      if (awaitTeardown(a.key())) ip = attempt();
    }
  }
  if (ip) {
    a.address = allocator.pool().interfaceAddress(*ip);
    rollback.reserved(allocator);
    return std::nullopt;
  }
  const Error& e = ip.error();
  if (e.code == Errc::kExhausted) return cniError(cni::kPoolExhausted, e.message);
  if (e.code != Errc::kAlreadyExists) {
    return cniError(cni::kStoreFailure, describe(a) + ": " + e.message);
  }
  auto existing = find(a.key());
  if (existing && !*existing) {
    // Not a duplicate: the subnet changed between choosing it and reserving in it.
    return cniError(cni::kTryAgainLater,
                    describe(a) + ": subnet " + a.pool + " changed during the ADD; try again");
  }
  std::string where;
  if (existing && *existing) where = " with address " + (*existing)->address.str();
  return cniError(cni::kAttachmentExists, describe(a) + " already exists" + where +
                                              "; the runtime must DEL it before adding it again");
}

std::optional<cni::CniError> CniService::wire(Attachment& a, AddRollback& rollback) {
  dataplane::PodNetwork net{a.containerId, a.ifname, a.netns, a.address, a.gateway, a.mtu};
  auto wired = wiring_.attach(net);
  // attach creates nothing when a name is taken (the pod's interface, or the host veth of the
  // same container and ifname in another network, which is not this ADD's to remove). After any
  // other failure its own rollback may have failed too, so the veth may exist.
  if (wired || wired.error().code != Errc::kAlreadyExists) rollback.wiring();
  if (!wired) {
    const Error& e = wired.error();
    if (e.code == Errc::kNotFound) {
      return cniError(cni::kInvalidEnvironment, "CNI_NETNS " + a.netns + ": " + e.message);
    }
    return cniError(
        e.code == Errc::kAlreadyExists ? cni::kAttachmentExists : cni::kDataplaneFailure,
        describe(a) + ": " + e.message);
  }
  a.hostMac = wired->hostMac;
  a.podMac = wired->podMac;
  if (hooks_) {
    if (auto st = hooks_->deviceWired(a.hostVeth); !st) {
      return cniError(cni::kDataplaneFailure,
                      describe(a) + ": policy on " + a.hostVeth + ": " + st.error().message);
    }
  }
  return std::nullopt;
}

std::optional<cni::CniError> CniService::commit(Attachment& a, ipam::Allocator& allocator,
                                                AddRollback& rollback, int64_t& revision) {
  Attachment ready = a;
  ready.state = Attachment::State::kReady;
  auto committed = store_.txn(
      {store::Compare::valueIs(ipam::reservationKey(allocator.pool(), a.address.addr), a.owner())},
      {store::Op::put(a.key(), toJson(ready).dump())});
  if (!committed)
    return cniError(cni::kStoreFailure, describe(a) + ": " + committed.error().message);
  if (!committed->succeeded) {
    // The reservation vanished under us (a concurrent DEL took it with the record): only the
    // wiring is left to undo.
    rollback.reservationLost();
    return cniError(cni::kStoreFailure, describe(a) + ": the address reservation disappeared");
  }
  a.state = Attachment::State::kReady;
  rollback.committed();
  revision = committed->revision;
  return std::nullopt;
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
  dataplane::WiredPod wired{a.hostVeth, a.hostMac.value_or(MacAddress{}),
                            a.podMac.value_or(MacAddress{}), a.mtu};
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
  if (auto stored = storedAttachments(); stored) {
    removeStrayVeths(*stored, failures);
  } else {
    failures.push_back("listing attachments: " + stored.error().message + "; no veth removed");
  }
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

ReconcileReport CniService::reconcile() {
  std::unique_lock lock(gcLock_);
  ReconcileReport report;
  auto fail = [&](std::string what) {
    spdlog::error("reconcile: {}", what);
    report.failures.push_back(std::move(what));
  };
  auto stored = storedAttachments();
  if (!stored) {
    // Without the records nothing can be told apart from a stray: touch nothing.
    fail("listing attachments: " + stored.error().message + "; nothing removed");
    return report;
  }
  for (const auto& [key, why] : stored->undecodable) {
    fail("store key " + key + ": " + why + "; its pod is left alone");
  }
  for (const auto& a : stored->decoded) {
    if (a.node != nodeName_) continue;
    if (a.state == Attachment::State::kReady) {
      ++report.kept;
      continue;
    }
    // Pending: the ADD never returned a result to the runtime. Releasing: DEL was answered
    // but its teardown did not finish. Either way the runtime holds nothing: undo it.
    spdlog::info("reconcile: finishing {} {} ({})", stateName(a.state), a.owner(), a.address.str());
    if (auto st = remove(a); !st) {
      fail(describe(a) + ": " + st.error().message + "; left " + stateName(a.state));
      continue;
    }
    ++report.finished;
  }
  // The list read above still serves: remove() took the veth with each record it removed.
  report.strayVethsRemoved = removeStrayVeths(*stored, report.failures);
  spdlog::info(
      "reconcile: {} attachment(s) kept, {} unfinished removed, {} stray veth(s) removed, {} "
      "failure(s)",
      report.kept, report.finished, report.strayVethsRemoved, report.failures.size());
  return report;
}

Result<CniService::StoredAttachments> CniService::storedAttachments() {
  StoredAttachments out;
  for (auto& kv : PODNET_TRY(store_.list(Attachment::kPrefix))) {
    auto a = attachmentFromJson(kv.value);
    if (a) {
      out.decoded.push_back(std::move(*a));
    } else {
      out.undecodable.emplace_back(std::move(kv.key), a.error().message);
    }
  }
  return out;
}

size_t CniService::removeStrayVeths(const StoredAttachments& stored,
                                    std::vector<std::string>& failures) {
  auto fail = [&](std::string what) {
    spdlog::error("stray veths: {}", what);
    failures.push_back(std::move(what));
  };
  // Which veth each record owns, whatever its node: the node name is only a label (the host
  // name by default), and a veth on this host that a record names is a pod, not a stray.
  std::map<std::string, std::string> ownerNode;  // host veth -> node name of its record
  for (const auto& a : stored.decoded) ownerNode.emplace(a.hostVeth, a.node);
  for (const auto& [key, why] : stored.undecodable) {
    // ".../<network>/<containerId>/<ifname>": the veth name comes from the last two.
    auto ifnameAt = key.rfind('/');
    auto idAt = ifnameAt == std::string::npos ? ifnameAt : key.rfind('/', ifnameAt - 1);
    if (idAt == std::string::npos) continue;
    ownerNode.emplace(dataplane::hostVethName(key.substr(idAt + 1, ifnameAt - idAt - 1),
                                              key.substr(ifnameAt + 1)),
                      "");
  }
  auto veths = wiring_.listHostVeths();
  if (!veths) {
    fail(veths.error().message);
    return 0;
  }
  auto nl = netlink::Socket::open();
  if (!nl) {
    fail(nl.error().message);
    return 0;
  }
  std::map<std::string, size_t> otherNodes;  // node name -> veths here its records own
  size_t removed = 0;
  for (const auto& name : *veths) {
    if (auto owner = ownerNode.find(name); owner != ownerNode.end()) {
      if (!owner->second.empty() && owner->second != nodeName_) ++otherNodes[owner->second];
      continue;
    }
    // Deleting the host side removes the peer and every route through it.
    spdlog::info("removing veth {} that no attachment owns", name);
    if (auto st = netlink::deleteLink(*nl, name); !st) {
      fail("veth " + name + ": " + st.error().message);
      continue;
    }
    ++removed;
  }
  for (const auto& [node, count] : otherNodes) {
    spdlog::warn(
        "{} pod veth(s) on this host belong to attachments of node {}, not {}: the node name "
        "changed (--node-name, or the host name it defaults to). They are left alone; start "
        "podnetd with --node-name {} to manage them again",
        count, node, nodeName_, node);
  }
  return removed;
}

}  // namespace podnet::agent
