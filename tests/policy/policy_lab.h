// A small cluster for compiler tests: namespaces, pods on nodes, policies written as YAML. It
// compiles the policy for every node, applies each node's diff to that node's real maps the way
// the agent does (the pod policy program loaded with its own pins on a private BPF filesystem),
// and answers "would the kernel let this flow through?" by running a crafted first packet
// through the real program (BPF_PROG_RUN) on the devices it crosses. Needs root.
#pragma once

#include <sys/mount.h>

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bpf/flow_events.h"
#include "bpf/packets.h"
#include "bpf/pod_policy_program.h"
#include "bpf/policy_maps.h"
#include "policy/compiler.h"
#include "policy_yaml.h"
#include "support/temp_dir.h"

namespace podnet::policy::testing {

// A BPF filesystem mounted on a temp dir for one test, unmounted when it ends (even on failure).
class PrivateBpffs {
 public:
  PrivateBpffs() : dir_(tmp_.path() + "/bpffs") {
    auto mounted = bpf::ensureBpffs(dir_);
    EXPECT_TRUE(mounted.ok()) << mounted.error().message;
  }
  ~PrivateBpffs() { ::umount2(dir_.c_str(), MNT_DETACH); }
  PrivateBpffs(const PrivateBpffs&) = delete;
  PrivateBpffs& operator=(const PrivateBpffs&) = delete;
  const std::string& dir() const { return dir_; }

 private:
  podnet::testing::TempDir tmp_;
  std::string dir_;
};

// One node's maps: the pod policy program loaded with its pins under pinDir, written through
// bpf::PolicyMaps. Endpoints live under made-up ifindexes (the host endpoint under
// PN_HOST_ENDPOINT_KEY); judge() copies the device's entry to the ifindex BPF_PROG_RUN runs on.
class NodeMaps final : public PolicyMapWriter {
 public:
  explicit NodeMaps(const std::string& pinDir) {
    auto made = bpf::ensureBpffs(pinDir);  // a directory on the private bpffs
    EXPECT_TRUE(made.ok()) << made.error().message;
    bpf::ProgramOptions options;
    options.pinDir = pinDir;
    auto program = bpf::PodPolicyProgram::load(options);
    EXPECT_TRUE(program.ok()) << program.error().message;
    if (!program.ok()) return;
    program_.emplace(std::move(program).value());
    auto maps = bpf::PolicyMaps::open(pinDir);
    EXPECT_TRUE(maps.ok()) << maps.error().message;
    if (!maps.ok()) return;
    maps_.emplace(std::move(maps).value());
    auto reader = bpf::FlowReader::open(maps_->eventsFd(), "lab",
                                        [this](const bpf::FlowEvent& e) { events_.push_back(e); });
    EXPECT_TRUE(reader.ok()) << reader.error().message;
    if (reader.ok()) reader_.emplace(std::move(reader).value());
  }

  Status setPolicy(const bpf::PolicyEntry& e) override { return step(maps_->setPolicy(e)); }
  Status removePolicy(const bpf::PolicyKey& k) override { return step(maps_->removePolicy(k)); }
  Status setIdentity(const Ipv4Prefix& p, uint32_t id) override {
    return step(maps_->setIdentity(p, id));
  }
  Status removeIdentity(const Ipv4Prefix& p) override { return step(maps_->removeIdentity(p)); }
  Status setIpBlock(const Ipv4Prefix& p, uint32_t id) override {
    return step(maps_->setIpBlock(p, id));
  }
  Status removeIpBlock(const Ipv4Prefix& p) override { return step(maps_->removeIpBlock(p)); }
  Status setEndpoint(const std::string& key, const bpf::Endpoint& e) override {
    auto [it, added] = ifindexes_.emplace(key, 0);
    if (added) it->second = key == kHostEndpoint ? PN_HOST_ENDPOINT_KEY : nextIfindex_++;
    return step(maps_->setEndpoint(it->second, e));
  }
  Status removeEndpoint(const std::string& key) override {
    auto it = ifindexes_.find(key);
    if (it == ifindexes_.end()) return step(okStatus());
    uint32_t ifindex = it->second;
    ifindexes_.erase(it);
    return step(maps_->removeEndpoint(ifindex));
  }

  void setMode(pn_enforcement_mode mode) {
    pn_config config{};
    config.enforcement_mode = mode;
    auto st = maps_->setConfig(config);
    EXPECT_TRUE(st.ok()) << st.error().message;
  }

  // Empties the policy, ipcache, ipblocks and endpoint maps (a fresh node's).
  void clear() {
    auto policies = maps_->policies().value();
    for (const auto& e : policies) EXPECT_TRUE(maps_->removePolicy(e.key).ok());
    auto identities = maps_->identities().value();
    for (const auto& [p, id] : identities) EXPECT_TRUE(maps_->removeIdentity(p).ok());
    auto ipBlocks = maps_->ipBlocks().value();
    for (const auto& [p, id] : ipBlocks) EXPECT_TRUE(maps_->removeIpBlock(p).ok());
    auto endpoints = maps_->endpoints().value();
    for (const auto& [ifindex, e] : endpoints) EXPECT_TRUE(maps_->removeEndpoint(ifindex).ok());
    ifindexes_.clear();
  }

  struct Verdict {
    bool allowed = true;
    uint32_t policyId = 0;  // the deciding rule, 0 when none
  };

  // The program's verdict for the first packet of a new flow src -> dst on the device of
  // endpoint ("" for a device without an endpoint entry), in the pod's direction dir. ICMP:
  // port is type << 8, as in pn_policy keys.
  Verdict judge(const std::string& endpoint, pn_direction dir, Ipv4 src, Ipv4 dst, uint8_t proto,
                uint16_t port) {
    EXPECT_TRUE(maps_->clearConntrack().ok());
    std::optional<bpf::Endpoint> ep;
    if (auto it = ifindexes_.find(endpoint); it != ifindexes_.end()) {
      ep = maps_->endpoint(it->second).value();
    }
    auto st = ep ? maps_->setEndpoint(kRunIfindex, *ep) : maps_->removeEndpoint(kRunIfindex);
    EXPECT_TRUE(st.ok()) << st.error().message;
    bpf::testing::Packet packet{src.str(), dst.str(), proto, 40000, port};
    if (proto == bpf::testing::kProtoIcmp) packet.icmpType = static_cast<uint8_t>(port >> 8);
    std::vector<uint8_t> bytes = bpf::testing::build(packet);
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = bytes.data();
    opts.data_size_in = static_cast<uint32_t>(bytes.size());
    opts.repeat = 1;
    int fd = dir == PN_DIR_EGRESS ? program_->fromPodFd() : program_->toPodFd();
    EXPECT_EQ(bpf_prog_test_run_opts(fd, &opts), 0) << "BPF_PROG_RUN: " << std::strerror(errno);
    events_.clear();
    EXPECT_TRUE(reader_->poll(std::chrono::milliseconds(0)).ok());
    Verdict v{opts.retval == TC_ACT_OK, 0};
    if (!events_.empty()) v.policyId = events_.back().policyId;
    return v;
  }

  bool hasEndpoint(const std::string& key) const { return ifindexes_.count(key) > 0; }

  // What the kernel's maps hold.
  std::map<bpf::PolicyKey, bpf::PolicyEntry> policy() const {
    std::map<bpf::PolicyKey, bpf::PolicyEntry> out;
    auto entries = maps_->policies().value();
    for (const auto& e : entries) out[e.key] = e;
    return out;
  }
  std::map<Ipv4Prefix, uint32_t> ipcache() const { return maps_->identities().value(); }
  std::map<Ipv4Prefix, uint32_t> ipBlocks() const { return maps_->ipBlocks().value(); }
  std::map<std::string, bpf::Endpoint> endpoints() const {
    std::map<std::string, bpf::Endpoint> out;
    for (const auto& [key, ifindex] : ifindexes_) {
      if (auto e = maps_->endpoint(ifindex).value()) out[key] = *e;
    }
    return out;
  }

  std::function<void()> onStep;  // called after every single map write

 private:
  // BPF_PROG_RUN runs tc programs on the loopback device of the caller's netns.
  static constexpr uint32_t kRunIfindex = 1;

  Status step(Status st) {
    if (onStep) onStep();
    return st;
  }

  std::optional<bpf::PodPolicyProgram> program_;
  mutable std::optional<bpf::PolicyMaps> maps_;
  std::optional<bpf::FlowReader> reader_;
  std::vector<bpf::FlowEvent> events_;
  std::map<std::string, uint32_t> ifindexes_;
  uint32_t nextIfindex_ = 100;
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
    for (const auto& [name, ctx] : contexts_) {
      for (auto* maps : {&maps_, &fresh_}) {
        auto& m = (*maps)[name];
        if (!m) {
          m = std::make_unique<NodeMaps>(bpffs_.dir() + "/" + name +
                                         (maps == &fresh_ ? "-fresh" : ""));
        }
        m->setMode(ctx.mode);
      }
    }
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
    for (const auto& [name, c] : next) {
      fresh_[name]->clear();
      ASSERT_TRUE(applyDiff(diff({}, c), *fresh_[name]).ok());
    }
    std::swap(fresh_, maps_);
    for (const auto& f : watch) after.push_back(allowed(f));
    std::swap(fresh_, maps_);

    for (auto& [nodeName, c] : next) {
      const std::string name = nodeName;
      NodeMaps& m = *maps_[name];
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
      EXPECT_EQ(m->policy(), fresh_[name]->policy()) << name;
      EXPECT_EQ(m->ipcache(), fresh_[name]->ipcache()) << name;
      EXPECT_EQ(m->ipBlocks(), fresh_[name]->ipBlocks()) << name;
    }
  }

  bool allowed(const Flow& f) { return verdict(f).allowed; }

  // The first packet through the devices it crosses: the source's (a pod's veth, or a node's
  // device under a host policy), then the destination's; a packet between a pod and its own node
  // crosses the pod's veth only (whose program consults the host endpoint itself).
  NodeMaps::Verdict verdict(const Flow& f) {
    auto [srcNode, srcEp, srcAddr] = locate(f.from);
    auto [dstNode, dstEp, dstAddr] = locate(f.to);
    bool srcIsNode = f.from.rfind("node:", 0) == 0, dstIsNode = f.to.rfind("node:", 0) == 0;
    bool ownNode = srcNode == dstNode && (srcIsNode || dstIsNode);
    NodeMaps::Verdict v;
    if (!srcEp.empty() && !(ownNode && srcIsNode)) {
      v = maps_.at(srcNode)->judge(srcEp, PN_DIR_EGRESS, srcAddr, dstAddr, f.proto, f.port);
      if (!v.allowed) return v;
    }
    if (!dstEp.empty() && !(ownNode && dstIsNode)) {
      v = maps_.at(dstNode)->judge(dstEp, PN_DIR_INGRESS, srcAddr, dstAddr, f.proto, f.port);
    }
    return v;
  }

  const CompiledPolicy& compiled(const std::string& node) const { return compiled_.at(node); }
  const NodeMaps& maps(const std::string& node) const { return *maps_.at(node); }
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
          bool host = maps_.count(name) && maps_.at(name)->hasEndpoint(kHostEndpoint);
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

  PrivateBpffs bpffs_;  // first: unmounted after every node's maps are closed
  ClusterState state_;
  std::map<std::string, NodeContext> contexts_;
  std::map<std::string, CompiledPolicy> compiled_;
  std::map<std::string, std::unique_ptr<NodeMaps>> maps_, fresh_;
  std::map<IdentityLabels, uint32_t> identities_;
  uint32_t nextIdentity_ = PN_IDENTITY_FIRST_POD;
};

}  // namespace podnet::policy::testing
