#include "agent/policy_agent.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <filesystem>
#include <set>

#include <spdlog/spdlog.h>

#include "bpf/bpffs.h"
#include "bpf/tc_attach.h"
#include "dataplane/overlay.h"

namespace podnet::agent {
namespace {

constexpr const char* kBpffsRoot = "/sys/fs/bpf";
// The label Kubernetes gives every node; a host policy's nodeSelector may use it.
constexpr const char* kHostnameLabel = "kubernetes.io/hostname";
// How long the loop gathers a burst of changes into one compilation when no ADD waits.
constexpr std::chrono::milliseconds kBatchDelay{10};
// Endpoints read back from the maps at start are keyed by their device, not by pod.
constexpr const char* kKernelEndpointPrefix = "ifindex:";

bool startsWith(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The keys policy depends on; the rest of /podnet/ (address reservations, leases, ...) is not.
bool isPolicyInput(const std::string& key) {
  for (const char* prefix :
       {Attachment::kPrefix, model::Namespace::kPrefix, model::Pod::kPrefix, model::Node::kPrefix,
        model::Subnet::kPrefix, policy::kPoliciesPrefix, policy::IdentityAllocator::kPrefix}) {
    if (startsWith(key, prefix)) return true;
  }
  return false;
}

// Writes a diff to the pinned maps. Endpoints carry their device's ifindex as endpointId (set by
// enforce()), so a pod whose veth was recreated is rewritten under its new device.
class MapWriter final : public policy::PolicyMapWriter {
 public:
  MapWriter(bpf::PolicyMaps& maps, const policy::CompiledPolicy& from,
            const policy::CompiledPolicy& to)
      : maps_(maps), from_(from) {
    for (const auto& [key, ep] : to.endpoints) kept_.insert(ep.endpointId);
  }

  Status setPolicy(const bpf::PolicyEntry& e) override { return maps_.setPolicy(e); }
  Status removePolicy(const bpf::PolicyKey& k) override { return maps_.removePolicy(k); }
  Status setIdentity(const Ipv4Prefix& p, uint32_t id) override { return maps_.setIdentity(p, id); }
  Status removeIdentity(const Ipv4Prefix& p) override { return maps_.removeIdentity(p); }
  Status setIpBlock(const Ipv4Prefix& p, uint32_t id) override { return maps_.setIpBlock(p, id); }
  Status removeIpBlock(const Ipv4Prefix& p) override { return maps_.removeIpBlock(p); }
  Status setEndpoint(const std::string&, const bpf::Endpoint& e) override {
    return maps_.setEndpoint(e.endpointId, e);
  }
  Status removeEndpoint(const std::string& key) override {
    uint32_t ifindex = from_.endpoints.at(key).endpointId;
    // The same device under another key (a start's "ifindex:N" becoming "ns/name") stays.
    if (kept_.count(ifindex)) return okStatus();
    return maps_.removeEndpoint(ifindex);
  }

 private:
  bpf::PolicyMaps& maps_;
  const policy::CompiledPolicy& from_;
  std::set<uint32_t> kept_;
};

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

}  // namespace

Result<std::unique_ptr<PolicyAgent>> PolicyAgent::start(store::Store& store, PolicyOptions options,
                                                        FlowHandler onFlow) {
  PODNET_TRY_STATUS(bpf::ensureBpffs(kBpffsRoot));
  std::error_code ec;
  std::filesystem::create_directories(options.pinDir, ec);
  if (ec) return makeError(Errc::kIo, "BPF pin directory " + options.pinDir + ": " + ec.message());
  bpf::ProgramOptions programOptions;
  programOptions.pinDir = options.pinDir;
  auto program = PODNET_TRY(bpf::PodPolicyProgram::load(programOptions));
  auto maps = PODNET_TRY(bpf::PolicyMaps::open(options.pinDir));
  std::unique_ptr<PolicyAgent> agent(
      new PolicyAgent(store, std::move(options), std::move(program), std::move(maps)));

  agent->applied_ = PODNET_TRY(agent->kernelState());
  agent->policyRevision_ = PODNET_TRY(agent->maps_.config()).policy_revision;
  // The mode and flags of this start, whatever the last agent had.
  PODNET_TRY_STATUS(agent->maps_.setConfig(agent->datapathConfig(agent->policyRevision_)));

  PolicyAgent* self = agent.get();
  agent->flowReader_ = PODNET_TRY(bpf::FlowReader::open(
      agent->maps_.eventsFd(), agent->options_.nodeName,
      [self, onFlow = std::move(onFlow)](const bpf::FlowEvent& e) {
        if (onFlow) onFlow(e, self->describeVerdict(e));
      },
      [self](Ipv4 address) -> std::optional<bpf::PodRef> {
        std::shared_ptr<const EventContext> ctx;
        {
          std::lock_guard lock(self->eventMutex_);
          ctx = self->events_;
        }
        if (!ctx) return std::nullopt;
        auto it = ctx->podByAddress.find(address.value);
        if (it == ctx->podByAddress.end()) return std::nullopt;
        return it->second;
      }));
  agent->flowReader_->start();

  agent->follower_ = PODNET_TRY(store::PrefixFollower::start(
      store, "/podnet/",
      {[self](const store::Listing& l) { self->onListing(l); },
       [self](const std::vector<store::WatchEvent>& e) { self->onEvents(e); }}));

  // Enforce what the store says before attaching anything, so every device the programs land on
  // already has its endpoint entry (in mode "always" a device without one drops everything).
  // Then pods wired before this agent (an upgrade, a start after a crash) get the newly loaded
  // programs; tc swaps them atomically, so their traffic does not notice.
  Cluster snapshot;
  int64_t revision = 0;
  {
    std::lock_guard lock(agent->mutex_);
    snapshot = agent->cluster_;
    revision = agent->seenRevision_;
    agent->dirty_ = false;
    agent->compiling_ = true;
  }
  auto enforced = agent->enforce(snapshot);
  {
    std::lock_guard lock(agent->mutex_);
    agent->compiling_ = false;
    if (enforced) {
      agent->enforcedRevision_ = std::max(agent->enforcedRevision_, revision);
    } else {
      spdlog::error("policy: {}; retrying", enforced.error().message);
      agent->dirty_ = true;
    }
  }
  for (const auto& device : agent->options_.hostDevices) {
    if (auto st = bpf::attachHostDevice(device, agent->program_); !st) {
      return st.error().context("policy: host firewall");
    }
  }
  for (const auto& [key, a] : snapshot.attachments) {
    if (a.node != agent->options_.nodeName || a.state == Attachment::State::kReleasing) continue;
    auto st = bpf::attachPodDevice(a.hostVeth, agent->program_);
    if (!st && st.error().code != Errc::kNotFound) {
      spdlog::warn("policy: attaching to {}: {}", a.hostVeth, st.error().message);
    }
  }
  agent->thread_ = std::thread([self] { self->loop(); });
  return agent;
}

PolicyAgent::PolicyAgent(store::Store& store, PolicyOptions options, bpf::PodPolicyProgram program,
                         bpf::PolicyMaps maps)
    : store_(store),
      options_(std::move(options)),
      program_(std::move(program)),
      maps_(std::move(maps)),
      identities_(store) {}

pn_config PolicyAgent::datapathConfig(uint64_t policyRevision) const {
  pn_config config{};
  config.enforcement_mode = options_.mode;
  config.flags = options_.fastPath ? PN_CONFIG_FAST_FORWARD : 0;
  config.tunnel_port = htons(options_.tunnelPort.value_or(0));
  config.policy_revision = policyRevision;
  return config;
}

PolicyAgent::~PolicyAgent() {
  follower_.reset();  // no more events
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  flowReader_.reset();
}

Status PolicyAgent::deviceWired(const std::string& hostVeth) {
  return bpf::attachPodDevice(hostVeth, program_);
}

Status PolicyAgent::awaitEnforced(const Attachment& attachment, int64_t revision) {
  const std::string pod = attachment.podName.empty()
                              ? attachment.owner()
                              : attachment.podNamespace + "/" + attachment.podName;
  auto fail = [&](const std::string& why) {
    return makeError(Errc::kUnavailable, "policy for pod " + pod + " (store revision " +
                                             std::to_string(revision) + ") not in force: " + why);
  };
  const auto deadline = std::chrono::steady_clock::now() + options_.enforceTimeout;
  {
    std::unique_lock lock(mutex_);
    // The loop compiles at once while an ADD waits: no batching delay.
    ++waiters_;
    cv_.notify_all();
    bool done =
        cv_.wait_until(lock, deadline, [&] { return enforcedRevision_ >= revision || stopping_; });
    --waiters_;
    if (stopping_) return fail("the agent is stopping");
    if (!done) {
      return fail("not compiled within " + std::to_string(options_.enforceTimeout.count()) + " ms" +
                  (lastError_.empty() ? "" : " (last error: " + lastError_ + ")"));
    }
    // Policy applies to pods by name, through the device of the pod's first attachment (as
    // clusterState picks it): an attachment without a pod name, or a pod's second interface,
    // gets no endpoint entry of its own.
    if (attachment.podName.empty()) return okStatus();
    for (const auto& [key, other] : cluster_.attachments) {
      if (other.state == Attachment::State::kReleasing || other.podName != attachment.podName ||
          other.podNamespace != attachment.podNamespace) {
        continue;
      }
      if (key != attachment.key()) return okStatus();
      break;
    }
  }
  unsigned ifindex = if_nametoindex(attachment.hostVeth.c_str());
  if (ifindex == 0) return fail("device " + attachment.hostVeth + " does not exist");
  auto entry = maps_.endpoint(ifindex);
  if (!entry) return fail(entry.error().message);
  if (!*entry) {
    return fail("no endpoint entry for device " + attachment.hostVeth + " (ifindex " +
                std::to_string(ifindex) + ") in pn_endpoints");
  }
  return okStatus();
}

Result<bpf::DropCounters> PolicyAgent::dropCounters() {
  return maps_.dropCounters();
}

// ---- following the store ----

void PolicyAgent::onListing(const store::Listing& listing) {
  std::lock_guard lock(mutex_);
  cluster_ = Cluster{};
  for (const auto& kv : listing.kvs) learn(kv.key, kv.value);
  seenRevision_ = std::max(seenRevision_, listing.revision);
  dirty_ = true;
  cv_.notify_all();
}

void PolicyAgent::onEvents(const std::vector<store::WatchEvent>& events) {
  std::lock_guard lock(mutex_);
  bool relevant = false;
  for (const auto& e : events) {
    seenRevision_ = std::max(seenRevision_, e.kv.modRevision);
    if (!isPolicyInput(e.kv.key)) continue;
    relevant = true;
    if (e.type == store::WatchEvent::Type::kPut) {
      learn(e.kv.key, e.kv.value);
    } else {
      forget(e.kv.key);
    }
  }
  if (relevant) {
    dirty_ = true;
  } else if (!dirty_ && !compiling_) {
    enforcedRevision_ = seenRevision_;  // nothing policy depends on changed
  }
  cv_.notify_all();
}

void PolicyAgent::learn(const std::string& key, const std::string& value) {
  // A value that does not decode (written by another version) leaves the last good one in place,
  // so nothing enforced changes because of it.
  auto warn = [&](const std::string& why) { spdlog::warn("policy: ignoring {}: {}", key, why); };
  if (!isPolicyInput(key)) return;
  if (startsWith(key, Attachment::kPrefix)) {
    auto a = attachmentFromJson(value);
    if (!a) return warn(a.error().message);
    cluster_.attachments[key] = std::move(*a);
    return;
  }
  auto j = nlohmann::json::parse(value, nullptr, false);
  if (j.is_discarded()) return warn("not JSON");
  if (startsWith(key, model::Namespace::kPrefix)) {
    auto ns = model::namespaceFromJson(j);
    if (!ns) return warn(ns.error().message);
    cluster_.namespaces[ns->metadata.name] = std::move(*ns);
  } else if (startsWith(key, model::Pod::kPrefix)) {
    auto pod = model::podFromJson(j);
    if (!pod) return warn(pod.error().message);
    cluster_.pods[key.substr(std::strlen(model::Pod::kPrefix))] = std::move(*pod);
  } else if (startsWith(key, model::Node::kPrefix)) {
    auto node = model::nodeFromJson(j);
    if (!node) return warn(node.error().message);
    cluster_.nodes[node->name] = std::move(*node);
  } else if (startsWith(key, model::Subnet::kPrefix)) {
    auto subnet = model::subnetFromJson(j);
    if (!subnet) return warn(subnet.error().message);
    cluster_.subnets[subnet->name] = std::move(*subnet);
  } else if (startsWith(key, policy::kPoliciesPrefix)) {
    auto p = policy::decodePolicy(j);
    if (!p) return warn(p.error().message);
    cluster_.policies[key] = std::move(*p);
  } else {
    auto labels = policy::IdentityLabels::fromJson(j);
    if (!labels) return warn(labels.error().message);
    char* end = nullptr;
    const char* id = key.c_str() + std::strlen(policy::IdentityAllocator::kPrefix);
    unsigned long n = std::strtoul(id, &end, 10);
    if (end == id || *end != '\0') return warn("not an identity number");
    cluster_.identities[static_cast<uint32_t>(n)] = std::move(*labels);
  }
}

void PolicyAgent::forget(const std::string& key) {
  auto tail = [&](const char* prefix) { return key.substr(std::strlen(prefix)); };
  if (startsWith(key, Attachment::kPrefix)) {
    cluster_.attachments.erase(key);
  } else if (startsWith(key, model::Namespace::kPrefix)) {
    cluster_.namespaces.erase(tail(model::Namespace::kPrefix));
  } else if (startsWith(key, model::Pod::kPrefix)) {
    cluster_.pods.erase(tail(model::Pod::kPrefix));
  } else if (startsWith(key, model::Node::kPrefix)) {
    cluster_.nodes.erase(tail(model::Node::kPrefix));
  } else if (startsWith(key, model::Subnet::kPrefix)) {
    cluster_.subnets.erase(tail(model::Subnet::kPrefix));
  } else if (startsWith(key, policy::kPoliciesPrefix)) {
    cluster_.policies.erase(key);
  } else if (startsWith(key, policy::IdentityAllocator::kPrefix)) {
    cluster_.identities.erase(static_cast<uint32_t>(
        std::strtoul(tail(policy::IdentityAllocator::kPrefix).c_str(), nullptr, 10)));
  }
}

// ---- compiling and enforcing ----

void PolicyAgent::loop() {
  std::unique_lock lock(mutex_);
  while (true) {
    cv_.wait(lock, [&] { return dirty_ || stopping_; });
    if (stopping_) return;
    // A burst of changes (a file of policies, a relabelled namespace) becomes one compilation,
    // unless an ADD waits for it: then at once (the ADDs of a burst share it).
    cv_.wait_for(lock, kBatchDelay, [&] { return stopping_ || waiters_ > 0; });
    if (stopping_) return;
    dirty_ = false;
    compiling_ = true;
    Cluster snapshot = cluster_;
    int64_t revision = seenRevision_;
    lock.unlock();
    auto st = enforce(snapshot);
    lock.lock();
    compiling_ = false;
    if (st) {
      lastError_.clear();
      // Unless something relevant arrived meanwhile, every later revision changed nothing.
      enforcedRevision_ = std::max(enforcedRevision_, dirty_ ? revision : seenRevision_);
      cv_.notify_all();
      continue;
    }
    lastError_ = st.error().message;
    spdlog::error("policy: {}; keeping what is enforced, retrying in 1 s", lastError_);
    dirty_ = true;
    cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
  }
}

Result<policy::ClusterState> PolicyAgent::clusterState(const Cluster& cluster) {
  policy::ClusterState state;
  for (const auto& [name, ns] : cluster.namespaces) state.namespaces.push_back(ns);
  state.identities = cluster.identities;
  std::map<policy::IdentityLabels, uint32_t> known;
  for (const auto& [id, labels] : cluster.identities) known.emplace(labels, id);

  std::set<std::string> seen;
  for (const auto& [key, a] : cluster.attachments) {
    if (a.state == Attachment::State::kReleasing || a.podName.empty()) continue;
    const std::string podKey = a.podNamespace + "/" + a.podName;
    if (!seen.insert(podKey).second) continue;  // a second interface of the pod
    policy::PodState p;
    auto obj = cluster.pods.find(podKey);
    if (obj != cluster.pods.end()) {
      p.pod = obj->second;
    } else {
      p.pod.metadata.namespace_ = a.podNamespace;  // no Pod object: a pod without labels
      p.pod.metadata.name = a.podName;
    }
    p.pod.nodeName = a.node;  // where it is wired is where it runs
    p.address = a.address.addr;
    auto ns = cluster.namespaces.find(a.podNamespace);
    auto labels = ns == cluster.namespaces.end() ? policy::identityLabelsOf(p.pod)
                                                 : policy::identityLabelsOf(ns->second, p.pod);
    auto it = known.find(labels);
    if (it != known.end()) {
      p.identity = it->second;
    } else {
      // Every agent may allocate: the store's compare-and-put makes the racers agree. Failing
      // here fails the round: a pod without identity would be left unenforced.
      p.identity = PODNET_TRY(identities_.allocate(labels));
      known.emplace(labels, p.identity);
      state.identities[p.identity] = labels;
    }
    state.pods.push_back(std::move(p));
  }
  for (const auto& [name, node] : cluster.nodes) {
    state.nodes.push_back(node);
    if (node.backend == Backend::kVxlan) {
      state.nodeAddresses[name].push_back(dataplane::joinAddress(node.underlayIp));
    }
  }
  for (const auto& [key, p] : cluster.policies) state.policies.push_back(p);
  return state;
}

Status PolicyAgent::enforce(const Cluster& cluster) {
  auto state = PODNET_TRY(clusterState(cluster));
  policy::NodeContext node;
  node.name = options_.nodeName;
  node.mode = options_.mode;
  if (auto self = cluster.nodes.find(node.name); self != cluster.nodes.end()) {
    node.labels = self->second.labels;
    if (self->second.backend == Backend::kVxlan) {
      node.hostAddresses.push_back(dataplane::joinAddress(self->second.underlayIp));
    }
  }
  node.labels[kHostnameLabel] = node.name;
  for (const auto& [name, subnet] : cluster.subnets) {
    node.hostAddresses.push_back(
        subnet.gateway.value_or(Ipv4{subnet.cidrBlock.network().value + 1}));
  }

  node.tunnelPort = options_.tunnelPort;
  auto started = std::chrono::steady_clock::now();
  auto compiled = PODNET_TRY(policy::compile(state, node, &applied_));
  auto compiledAt = std::chrono::steady_clock::now();
  for (const auto& w : compiled.warnings) spdlog::warn("policy: {}", w);

  // Endpoints are written under their device: local pods whose veth exists.
  std::map<std::string, uint32_t> devices;
  std::erase_if(ifindexes_, [&](const auto& kv) { return !cluster.attachments.count(kv.first); });
  for (const auto& [key, a] : cluster.attachments) {
    if (a.node != options_.nodeName || a.state == Attachment::State::kReleasing) continue;
    if (uint32_t ifindex = deviceIndex(key, a); ifindex != 0) {
      devices.emplace(a.podNamespace + "/" + a.podName, ifindex);
    }
  }
  auto event = std::make_shared<EventContext>();
  // The host endpoint goes under every host device and PN_HOST_ENDPOINT_KEY, also when no host
  // policy selects the node (then it enforces nothing).
  bpf::Endpoint host;
  host.identity = host.subject = PN_IDENTITY_HOST;
  if (auto it = compiled.endpoints.find(policy::kHostEndpoint); it != compiled.endpoints.end()) {
    host = it->second;
    compiled.endpoints.erase(it);
  }
  std::map<std::string, uint32_t> hostDevices{{"host:", PN_HOST_ENDPOINT_KEY}};
  for (const auto& name : options_.hostDevices) {
    if (unsigned ifindex = if_nametoindex(name.c_str()); ifindex != 0) {
      hostDevices.emplace("host:" + name, ifindex);
      event->podByIfindex[ifindex] = policy::kHostEndpoint;
    }
  }
  for (auto it = compiled.endpoints.begin(); it != compiled.endpoints.end();) {
    auto device = devices.find(it->first);
    if (device == devices.end()) {
      it = compiled.endpoints.erase(it);  // not wired here (yet)
      continue;
    }
    it->second.endpointId = device->second;
    event->podByIfindex[device->second] = it->first;
    ++it;
  }
  for (const auto& [key, ifindex] : hostDevices) {
    host.endpointId = ifindex;
    compiled.endpoints[key] = host;
  }

  auto changes = policy::diff(applied_, compiled);
  if (!changes.empty()) {
    MapWriter writer(maps_, applied_, compiled);
    if (auto st = policy::applyDiff(changes, writer); !st) {
      // Part of the diff is written: start the next round from what the maps hold.
      if (auto now = kernelState()) applied_ = std::move(*now);
      return st;
    }
    PODNET_TRY_STATUS(maps_.setConfig(datapathConfig(++policyRevision_)));
    auto ms = [](auto d) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    };
    spdlog::info(
        "policy: revision {}: {} map writes ({} entries, {} endpoints); compiled in {} ms, "
        "written in {} ms",
        policyRevision_, changes.size(), compiled.entries.size(), compiled.endpoints.size(),
        ms(compiledAt - started), ms(std::chrono::steady_clock::now() - compiledAt));
  }

  event->policyIds = compiled.policyIds;
  event->isolatedBy = compiled.isolatedBy;
  event->mode = options_.mode;
  for (const auto& p : state.pods) {
    if (p.address)
      event->podByAddress[p.address->value] = {p.pod.metadata.namespace_, p.pod.metadata.name};
  }
  applied_ = std::move(compiled);
  std::lock_guard lock(eventMutex_);
  events_ = std::move(event);
  return okStatus();
}

uint32_t PolicyAgent::deviceIndex(const std::string& key, const Attachment& a) {
  // A recreated veth has a new MAC, and so a new record: the cached index is its device's.
  auto it = ifindexes_.find(key);
  if (it != ifindexes_.end() && it->second.first == a.hostMac) return it->second.second;
  uint32_t ifindex = if_nametoindex(a.hostVeth.c_str());
  if (ifindex != 0 && a.hostMac) ifindexes_[key] = {*a.hostMac, ifindex};
  return ifindex;
}

Result<policy::CompiledPolicy> PolicyAgent::kernelState() {
  policy::CompiledPolicy state;
  state.entries = PODNET_TRY(maps_.policies());
  state.ipcache = PODNET_TRY(maps_.identities());
  for (const auto& [prefix, id] : state.ipcache) {
    // Keep the CIDR identities' numbers, so the restarted compiler rewrites none of them.
    if ((id & ~policy::kLocalIdentityMask) == PN_IDENTITY_LOCAL_CIDR)
      state.cidrIdentities[prefix] = id;
  }
  state.ipBlocks = PODNET_TRY(maps_.ipBlocks());
  for (const auto& [ifindex, ep] : PODNET_TRY(maps_.endpoints())) {
    bpf::Endpoint e = ep;
    e.endpointId = ifindex;
    state.endpoints[kKernelEndpointPrefix + std::to_string(ifindex)] = e;
  }
  return state;
}

std::string PolicyAgent::describeVerdict(const bpf::FlowEvent& e) {
  std::shared_ptr<const EventContext> ctx;
  {
    std::lock_guard lock(eventMutex_);
    ctx = events_;
  }
  if (!ctx) return "";
  auto rule = [&]() -> std::string {
    if (e.policyId == 0) return "";
    auto it = ctx->policyIds.find(e.policyId);
    return it == ctx->policyIds.end() ? "policy rule #" + std::to_string(e.policyId) + " (removed)"
                                      : it->second.str();
  };
  switch (e.match) {
    case PN_MATCH_POLICY_ALLOW:
    case PN_MATCH_POLICY_DENY:
    case PN_MATCH_CT_ESTABLISHED:
    case PN_MATCH_CT_REPLY:
      return rule();
    case PN_MATCH_DEFAULT_DENY: {
      std::vector<std::string> by;
      if (auto pod = ctx->podByIfindex.find(e.ifindex); pod != ctx->podByIfindex.end()) {
        if (auto iso = ctx->isolatedBy.find(pod->second); iso != ctx->isolatedBy.end()) {
          by = e.direction == PN_DIR_INGRESS ? iso->second.ingress : iso->second.egress;
        }
      }
      if (!by.empty()) return "isolated by " + joined(by);
      if (ctx->mode == PN_ENFORCE_ALWAYS) return "isolated by policy enforcement mode always";
      return "isolated";
    }
    case PN_MATCH_HOST_DEFAULT_DENY: {
      auto iso = ctx->isolatedBy.find(policy::kHostEndpoint);
      if (iso == ctx->isolatedBy.end() || iso->second.ingress.empty()) return "isolated node";
      return "node isolated by " + joined(iso->second.ingress);
    }
    case PN_MATCH_HOST:
      return "from the pod's own node";
    default:
      return "";
  }
}

}  // namespace podnet::agent
