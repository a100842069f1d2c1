// A small cluster for compiler tests: namespaces, pods on nodes, policies written as YAML. It
// compiles the policy for every node, applies each node's diff to fake maps the way the agent
// would, and answers "would the kernel let this flow through?" by looking the maps up exactly as
// bpf/lib/policy.h and bpf/pod_policy.bpf.c do (ipcache LPM, two pn_policy LPM probes, deny
// wins, enforcement by mode and endpoint flags, the own node always passes).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/manifest.h"
#include "policy/compiler.h"

namespace podnet::policy::testing {

inline Ipv4 ip(const std::string& text) {
  auto v = Ipv4::parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : Ipv4{};
}

inline Result<Policy> policyFromYaml(const std::string& yaml) {
  auto docs = model::parseManifest(yaml, "test.yaml");
  if (!docs) return std::move(docs).takeError();
  if (docs->size() != 1) return makeError(Errc::kInvalidArgument, "want one document");
  return decodePolicy(docs->front());
}

// One node's maps as the kernel sees them.
class FakeMaps final : public PolicyMapWriter {
 public:
  Status setPolicy(const bpf::PolicyEntry& e) override {
    policy_[e.key] = e;
    return step();
  }
  Status removePolicy(const bpf::PolicyKey& k) override {
    policy_.erase(k);
    return step();
  }
  Status setIdentity(const Ipv4Prefix& p, uint32_t id) override {
    ipcache_[p] = id;
    return step();
  }
  Status removeIdentity(const Ipv4Prefix& p) override {
    ipcache_.erase(p);
    return step();
  }
  Status setEndpoint(const std::string& key, const bpf::Endpoint& e) override {
    endpoints_[key] = e;
    return step();
  }
  Status removeEndpoint(const std::string& key) override {
    endpoints_.erase(key);
    return step();
  }

  // pn_identity_of: the longest prefix, world on a miss.
  uint32_t identityOf(Ipv4 addr) const {
    int best = -1;
    uint32_t id = PN_IDENTITY_WORLD;
    for (const auto& [prefix, identity] : ipcache_) {
      if (prefix.contains(addr) && prefix.len > best) {
        best = prefix.len;
        id = identity;
      }
    }
    return id;
  }

  // One LPM probe of pn_policy.
  const bpf::PolicyEntry* probe(uint32_t subject, uint32_t peer, pn_direction dir, uint8_t proto,
                                uint16_t port) const {
    bpf::PolicyKey full;
    full.subject = subject;
    full.peer = peer;
    full.direction = dir;
    full.protocol = proto;
    full.port = port;
    full.portBits = 16;
    const bpf::PolicyEntry* best = nullptr;
    for (const auto& [key, entry] : policy_) {
      if (!full.within(key)) continue;
      if (!best || key.raw().prefixlen > best->key.raw().prefixlen) best = &entry;
    }
    return best;
  }

  struct Verdict {
    bool allowed = true;
    uint32_t policyId = 0;  // the deciding rule, 0 when none
  };

  // pn_handle for a new flow on an endpoint's device.
  Verdict decide(const std::string& endpoint, pn_direction dir, Ipv4 peerAddr, uint8_t proto,
                 uint16_t port, pn_enforcement_mode mode) const {
    auto ep = endpoints_.find(endpoint);
    const bpf::Endpoint* e = ep == endpoints_.end() ? nullptr : &ep->second;
    bool flag = e && (dir == PN_DIR_INGRESS ? e->enforceIngress : e->enforceEgress);
    bool enforce = mode == PN_ENFORCE_ALWAYS || (mode == PN_ENFORCE_DEFAULT && flag);
    if (!e && mode == PN_ENFORCE_ALWAYS) return {false, 0};
    if (!enforce) return {true, 0};
    uint32_t peer = identityOf(peerAddr);
    if (dir == PN_DIR_INGRESS && peer == PN_IDENTITY_HOST) return {true, 0};
    const bpf::PolicyEntry* exact = probe(e->subject, peer, dir, proto, port);
    const bpf::PolicyEntry* any = probe(e->subject, PN_IDENTITY_ANY, dir, proto, port);
    if (exact && exact->action == PN_POLICY_DENY) return {false, exact->policyId};
    if (any && any->action == PN_POLICY_DENY) return {false, any->policyId};
    if (exact) return {true, exact->policyId};
    if (any) return {true, any->policyId};
    return {false, 0};
  }

  bool hasEndpoint(const std::string& key) const { return endpoints_.count(key) > 0; }
  const std::map<bpf::PolicyKey, bpf::PolicyEntry>& policy() const { return policy_; }
  const std::map<Ipv4Prefix, uint32_t>& ipcache() const { return ipcache_; }
  const std::map<std::string, bpf::Endpoint>& endpoints() const { return endpoints_; }

  std::function<void()> onStep;  // called after every single map write

 private:
  Status step() {
    if (onStep) onStep();
    return okStatus();
  }

  std::map<bpf::PolicyKey, bpf::PolicyEntry> policy_;
  std::map<Ipv4Prefix, uint32_t> ipcache_;
  std::map<std::string, bpf::Endpoint> endpoints_;
};

inline constexpr uint8_t kTcp = 6, kUdp = 17, kSctp = 132, kIcmp = 1;

class Lab {
 public:
  struct Flow {
    std::string from, to;  // "ns/pod", "node:<name>" or an address
    uint8_t proto = kTcp;
    uint16_t port = 80;
  };

  void node(const std::string& name, const std::string& address, model::Labels labels = {}) {
    model::Node n;
    n.name = name;
    n.underlayIp = ip(address);
    n.labels = labels;
    state_.nodes.push_back(n);
    NodeContext ctx;
    ctx.name = name;
    ctx.labels = labels;
    contexts_[name] = ctx;
  }

  void setMode(pn_enforcement_mode mode) {
    for (auto& [name, ctx] : contexts_) ctx.mode = mode;
  }

  void ns(const std::string& name, model::Labels labels = {}) {
    for (auto& n : state_.namespaces) {
      if (n.metadata.name == name) {
        n.metadata.labels = labels;
        return;
      }
    }
    model::Namespace n;
    n.metadata.name = name;
    n.metadata.labels = labels;
    state_.namespaces.push_back(n);
  }

  // A pod, created or replaced; its identity follows its labels (and its namespace's).
  void pod(const std::string& key, const std::string& node, const std::string& address,
           model::Labels labels, std::vector<model::ContainerPort> ports = {}) {
    auto slash = key.find('/');
    removePod(key);
    PodState p;
    p.pod.metadata.namespace_ = key.substr(0, slash);
    p.pod.metadata.name = key.substr(slash + 1);
    p.pod.metadata.labels = labels;
    p.pod.nodeName = node;
    p.pod.ports = ports;
    p.address = ip(address);
    state_.pods.push_back(p);
  }

  void removePod(const std::string& key) {
    std::erase_if(state_.pods, [&](const PodState& p) {
      return p.pod.metadata.namespace_ + "/" + p.pod.metadata.name == key;
    });
  }

  void apply(const std::string& yaml) {
    auto p = policyFromYaml(yaml);
    ASSERT_TRUE(p.ok()) << p.error().message;
    remove(policyKey(*p));
    state_.policies.push_back(*p);
  }

  void remove(const std::string& storeKey) {
    std::erase_if(state_.policies, [&](const Policy& p) { return policyKey(p) == storeKey; });
  }

  // Compiles for every node and applies each diff to that node's maps. With watch set, every
  // flow in watch that is allowed before and after must stay allowed after every single write.
  void sync(const std::vector<Flow>& watch = {}) {
    assignIdentities();
    std::vector<bool> before, after;
    for (const auto& f : watch) before.push_back(allowed(f));
    std::map<std::string, CompiledPolicy> next;
    for (const auto& [name, ctx] : contexts_) {
      auto prev = compiled_.find(name);
      auto c = compile(state_, ctx, prev == compiled_.end() ? nullptr : &prev->second);
      ASSERT_TRUE(c.ok()) << c.error().message;
      next[name] = std::move(*c);
    }
    // What every flow will be once all is written, from scratch (maps of a fresh node).
    std::map<std::string, FakeMaps> fresh;
    for (const auto& [name, c] : next) {
      ASSERT_TRUE(applyDiff(diff({}, c), fresh[name]).ok());
    }
    std::swap(fresh, maps_);
    for (const auto& f : watch) after.push_back(allowed(f));
    std::swap(fresh, maps_);

    for (auto& [nodeName, c] : next) {
      const std::string name = nodeName;
      FakeMaps& m = maps_[name];
      m.onStep = [&] {
        for (size_t i = 0; i < watch.size(); ++i) {
          if (before[i] && after[i]) {
            EXPECT_TRUE(allowed(watch[i]))
                << "transiently dropped while updating " << name << ": " << watch[i].from << " -> "
                << watch[i].to << " " << int(watch[i].proto) << "/" << watch[i].port;
          }
        }
      };
      PolicyMapDiff d = diff(compiled_[name], c);
      ASSERT_TRUE(applyDiff(d, m).ok());
      m.onStep = nullptr;
      compiled_[name] = c;
    }
    // The incrementally updated maps equal a fresh node's.
    for (const auto& [name, m] : maps_) {
      EXPECT_EQ(m.policy(), fresh[name].policy()) << name;
      EXPECT_EQ(m.ipcache(), fresh[name].ipcache()) << name;
    }
  }

  bool allowed(const Flow& f) const { return verdict(f).allowed; }

  FakeMaps::Verdict verdict(const Flow& f) const {
    auto [srcNode, srcEp, srcAddr] = locate(f.from);
    auto [dstNode, dstEp, dstAddr] = locate(f.to);
    FakeMaps::Verdict v;
    if (!srcEp.empty()) {
      v = mapsOf(srcNode).decide(srcEp, PN_DIR_EGRESS, dstAddr, f.proto, f.port, modeOf(srcNode));
      if (!v.allowed) return v;
    }
    if (!dstEp.empty()) {
      v = mapsOf(dstNode).decide(dstEp, PN_DIR_INGRESS, srcAddr, f.proto, f.port, modeOf(dstNode));
    }
    return v;
  }

  const CompiledPolicy& compiled(const std::string& node) const { return compiled_.at(node); }
  const FakeMaps& maps(const std::string& node) const { return maps_.at(node); }
  ClusterState& state() { return state_; }
  uint32_t identityOfPod(const std::string& key) const {
    for (const auto& p : state_.pods) {
      if (p.pod.metadata.namespace_ + "/" + p.pod.metadata.name == key) return p.identity;
    }
    return 0;
  }

 private:
  // The allocator's job, deterministically: one number per label set, kept while it exists.
  void assignIdentities() {
    std::map<std::string, model::Labels> nsLabels;
    for (const auto& n : state_.namespaces) nsLabels[n.metadata.name] = n.metadata.labels;
    for (auto& p : state_.pods) {
      IdentityLabels l{p.pod.metadata.namespace_, nsLabels[p.pod.metadata.namespace_],
                       p.pod.metadata.labels};
      auto [it, inserted] = identities_.emplace(l, nextIdentity_);
      if (inserted) ++nextIdentity_;
      p.identity = it->second;
    }
  }

  struct Place {
    std::string node;      // the node whose maps decide, "" when none
    std::string endpoint;  // the endpoint key there, "" when not an endpoint
    Ipv4 address;
  };

  Place locate(const std::string& who) const {
    if (who.rfind("node:", 0) == 0) {
      std::string name = who.substr(5);
      for (const auto& n : state_.nodes) {
        if (n.name == name) {
          bool host = maps_.count(name) && maps_.at(name).hasEndpoint(kHostEndpoint);
          return {name, host ? kHostEndpoint : "", n.underlayIp};
        }
      }
      ADD_FAILURE() << "no node " << name;
      return {};
    }
    for (const auto& p : state_.pods) {
      if (p.pod.metadata.namespace_ + "/" + p.pod.metadata.name == who) {
        return {p.pod.nodeName, who, *p.address};
      }
    }
    return {"", "", ip(who)};
  }

  const FakeMaps& mapsOf(const std::string& node) const {
    static const FakeMaps empty;
    auto it = maps_.find(node);
    return it == maps_.end() ? empty : it->second;
  }

  pn_enforcement_mode modeOf(const std::string& node) const {
    auto it = contexts_.find(node);
    return it == contexts_.end() ? PN_ENFORCE_DEFAULT : it->second.mode;
  }

  ClusterState state_;
  std::map<std::string, NodeContext> contexts_;
  std::map<std::string, CompiledPolicy> compiled_;
  std::map<std::string, FakeMaps> maps_;
  std::map<IdentityLabels, uint32_t> identities_;
  uint32_t nextIdentity_ = PN_IDENTITY_FIRST_POD;
};

}  // namespace podnet::policy::testing
