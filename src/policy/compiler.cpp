#include "policy/compiler.h"

#include <algorithm>
#include <set>
#include <tuple>

#include "bpf/policy_entries.h"

namespace podnet::policy {
namespace {

std::string podKeyOf(const model::Pod& pod) {
  return pod.metadata.namespace_ + "/" + pod.metadata.name;
}

// A named port as a rule writes it: the name and the protocol (none: the podnet kinds' ANY).
using PortRef = std::pair<std::string, std::optional<Protocol>>;

std::optional<Protocol> protocolOf(const std::string& name) {
  for (Protocol p : {Protocol::kTcp, Protocol::kUdp, Protocol::kSctp}) {
    if (name == protocolName(p)) return p;
  }
  return std::nullopt;
}

// The container port a pod gives the name (with the rule's protocol when it has one).
std::optional<std::pair<Protocol, uint16_t>> resolve(const model::Pod& pod, const PortRef& ref) {
  for (const auto& cp : pod.ports) {
    if (cp.name != ref.first) continue;
    auto proto = protocolOf(cp.protocol);
    if (!proto || (ref.second && *ref.second != *proto)) continue;
    return std::make_pair(*proto, cp.containerPort);
  }
  return std::nullopt;
}

// How a pod resolves a set of names: pods with equal signatures need no distinction.
std::string signature(const model::Pod& pod, const std::set<PortRef>& refs) {
  std::string out;
  for (const auto& ref : refs) {
    out += ref.first + "/" + (ref.second ? protocolName(*ref.second) : "ANY") + "=";
    if (auto r = resolve(pod, ref)) {
      out += std::string(protocolName(r->first)) + ":" + std::to_string(r->second);
    }
    out += ";";
  }
  return out;
}

bool within(const Ipv4Prefix& inner, const Ipv4Prefix& outer) {
  return inner.len >= outer.len && outer.contains(inner.addr);
}

// The lowest base|n (n >= 1) that is neither taken now nor used by the previous compilation
// (a number that changes meaning could briefly be read with the old one).
uint32_t allocateLocal(uint32_t base, std::set<uint32_t>& taken, const std::set<uint32_t>& avoid) {
  for (uint32_t n = 1; n <= kLocalIdentityMask; ++n) {
    uint32_t id = base | n;
    if (!taken.count(id) && !avoid.count(id)) {
      taken.insert(id);
      return id;
    }
  }
  return 0;  // not reached: 2^24 numbers per node
}

// A peer identity on this node: a pod identity, or one of its aliases.
struct Peer {
  uint32_t id = 0;
  uint32_t identity = 0;
  const IdentityLabels* labels = nullptr;
  std::vector<const PodState*> pods;  // all resolve egress names alike
};

// A pn_policy subject on this node.
struct Subject {
  uint32_t subject = 0;
  uint32_t identity = 0;
  const IdentityLabels* labels = nullptr;  // nullptr: the host endpoint
  std::vector<const PodState*> pods;       // all resolve ingress names alike
  bool ingress = false;                    // some policy selects it for ingress
  bool egress = false;
  std::set<std::string> ingressBy{}, egressBy{};  // describe() of the policies selecting it
};

// The peers a rule names: id -> the pod peer (nullptr for reserved, CIDR and ANY).
using Targets = std::map<uint32_t, const Peer*>;

class Compiler {
 public:
  Compiler(const ClusterState& state, const NodeContext& node, const CompiledPolicy* previous)
      : state_(state), node_(node), prev_(previous) {}

  Result<CompiledPolicy> run() {
    collectIdentities();
    collectNamedPorts();
    buildPeers();
    buildCidrIdentities();
    buildIpcache();
    buildSubjects();
    assignPolicyIds();
    for (auto& subject : subjects_) {
      for (const auto& policy : state_.policies) PODNET_TRY_STATUS(compilePolicy(subject, policy));
    }
    PODNET_TRY_STATUS(allowTunnel());
    buildEndpoints();
    out_.entries = bpf::resolveDenyPrecedence(std::move(entries_));
    if (out_.entries.size() > PN_POLICY_MAX) {
      return makeError(Errc::kExhausted, "policy: " + std::to_string(out_.entries.size()) +
                                             " pn_policy entries exceed the map's " +
                                             std::to_string(PN_POLICY_MAX));
    }
    if (out_.ipBlocks.size() > PN_IPBLOCKS_MAX) {
      return makeError(Errc::kExhausted, "policy: " + std::to_string(out_.ipBlocks.size()) +
                                             " ipBlock prefixes exceed pn_ipblocks' " +
                                             std::to_string(PN_IPBLOCKS_MAX));
    }
    if (out_.ipcache.size() > PN_IPCACHE_MAX) {
      return makeError(Errc::kExhausted, "policy: " + std::to_string(out_.ipcache.size()) +
                                             " pn_ipcache prefixes exceed the map's " +
                                             std::to_string(PN_IPCACHE_MAX));
    }
    return std::move(out_);
  }

 private:
  // ---- inputs ----

  void collectIdentities() {
    std::map<std::string, const model::Namespace*> namespaces;
    for (const auto& ns : state_.namespaces) namespaces[ns.metadata.name] = &ns;
    std::vector<const PodState*> pods;
    for (const auto& p : state_.pods) pods.push_back(&p);
    std::sort(pods.begin(), pods.end(), [](const PodState* a, const PodState* b) {
      return podKeyOf(a->pod) < podKeyOf(b->pod);
    });
    for (const PodState* p : pods) {
      if (!p->address || p->identity == 0) continue;
      const std::string key = podKeyOf(p->pod);
      if (p->identity < PN_IDENTITY_FIRST_POD || p->identity >= kPodIdentityEnd) {
        out_.warnings.push_back("pod " + key + ": identity " + std::to_string(p->identity) +
                                " is not a pod identity; ignored");
        continue;
      }
      auto known = state_.identities.find(p->identity);
      if (known != state_.identities.end()) {
        labels_.emplace(p->identity, known->second);
      } else {
        auto ns = namespaces.find(p->pod.metadata.namespace_);
        IdentityLabels derived = ns == namespaces.end() ? identityLabelsOf(p->pod)
                                                        : identityLabelsOf(*ns->second, p->pod);
        auto [it, inserted] = labels_.emplace(p->identity, derived);
        if (!inserted && it->second != derived) {
          out_.warnings.push_back("pod " + key + ": identity " + std::to_string(p->identity) +
                                  " stands for other labels; the policy follows the identity's");
        }
      }
      pods_.push_back(p);
    }
  }

  template <class F>
  void forEachPodnetSection(const PodnetPolicySpec& spec, F f) {
    if (spec.ingress) f(*spec.ingress, "ingress", PN_DIR_INGRESS, PN_POLICY_ALLOW);
    if (spec.egress) f(*spec.egress, "egress", PN_DIR_EGRESS, PN_POLICY_ALLOW);
    if (spec.ingressDeny) f(*spec.ingressDeny, "ingressDeny", PN_DIR_INGRESS, PN_POLICY_DENY);
    if (spec.egressDeny) f(*spec.egressDeny, "egressDeny", PN_DIR_EGRESS, PN_POLICY_DENY);
  }

  static const PodnetPolicySpec* podnetSpec(const Policy& policy) {
    if (auto* p = std::get_if<PodnetNetworkPolicy>(&policy)) return &p->spec;
    if (auto* p = std::get_if<PodnetClusterwideNetworkPolicy>(&policy)) return &p->spec;
    return nullptr;
  }

  void collectNamedPorts() {
    auto add = [](std::set<PortRef>& to, const std::vector<PortSelector>& ports) {
      for (const auto& p : ports) {
        if (!p.name.empty()) to.insert({p.name, p.protocol});
      }
    };
    for (const auto& policy : state_.policies) {
      if (auto* np = std::get_if<NetworkPolicy>(&policy)) {
        for (const auto& r : np->ingress) add(ingressNames_, r.ports);
        for (const auto& r : np->egress) add(egressNames_, r.ports);
      } else {
        forEachPodnetSection(*podnetSpec(policy),
                             [&](const std::vector<PodnetRule>& rules, const char*,
                                 pn_direction dir, pn_policy_action) {
                               for (const auto& r : rules)
                                 add(dir == PN_DIR_INGRESS ? ingressNames_ : egressNames_, r.ports);
                             });
      }
    }
  }

  // ---- node-local numbering ----

  void buildPeers() {
    std::set<uint32_t> avoid;
    if (prev_) {
      for (const auto& [alias, meaning] : prev_->peerAliases) avoid.insert(alias);
    }
    std::map<uint32_t, std::vector<const PodState*>> byIdentity;
    for (const PodState* p : pods_) byIdentity[p->identity].push_back(p);

    // Reuse the previous aliases first, so a new class never takes a number someone else had.
    std::map<std::pair<uint32_t, std::string>, uint32_t> previous;
    if (prev_) {
      for (const auto& [alias, meaning] : prev_->peerAliases) previous[meaning] = alias;
    }
    std::set<uint32_t> taken;
    for (auto& [identity, pods] : byIdentity) {
      std::vector<std::pair<std::string, std::vector<const PodState*>>> classes;
      for (const PodState* p : pods) {
        std::string sig = signature(p->pod, egressNames_);
        auto it = std::find_if(classes.begin(), classes.end(),
                               [&](const auto& c) { return c.first == sig; });
        if (it == classes.end()) {
          classes.push_back({sig, {p}});
        } else {
          it->second.push_back(p);
        }
      }
      for (size_t c = 0; c < classes.size(); ++c) {
        Peer peer;
        peer.identity = identity;
        peer.labels = &labels_.at(identity);
        peer.pods = classes[c].second;
        if (c == 0) {
          peer.id = identity;
        } else {
          auto prev = previous.find({identity, classes[c].first});
          if (prev != previous.end() && !taken.count(prev->second)) {
            peer.id = prev->second;
            taken.insert(peer.id);
          } else {
            peer.id = 0;  // numbered below, once every reused alias is known
          }
        }
        peers_.push_back(std::move(peer));
        signatures_.push_back(classes[c].first);
      }
    }
    for (size_t i = 0; i < peers_.size(); ++i) {
      if (peers_[i].id == 0) peers_[i].id = allocateLocal(kPeerAliasBase, taken, avoid);
      if (peers_[i].id != peers_[i].identity) {
        out_.peerAliases[peers_[i].id] = {peers_[i].identity, signatures_[i]};
      }
    }
  }

  // Node-local numbers for prefixes, kept from the previous compilation while the prefix stays.
  static void numberPrefixes(const std::set<Ipv4Prefix>& prefixes, uint32_t base,
                             const std::map<Ipv4Prefix, uint32_t>* previous,
                             std::map<Ipv4Prefix, uint32_t>& out) {
    std::set<uint32_t> taken, avoid;
    if (previous) {
      for (const auto& [prefix, id] : *previous) {
        avoid.insert(id);
        if (prefixes.count(prefix)) {
          out[prefix] = id;
          taken.insert(id);
        }
      }
    }
    for (const auto& prefix : prefixes) {
      if (!out.count(prefix)) out[prefix] = allocateLocal(base, taken, avoid);
    }
  }

  void buildCidrIdentities() {
    std::set<Ipv4Prefix> cidrs, ipBlocks;
    auto add = [](std::set<Ipv4Prefix>& to, const CidrBlock& b) {
      to.insert(b.cidr);
      to.insert(b.except.begin(), b.except.end());
    };
    for (const auto& policy : state_.policies) {
      if (auto* np = std::get_if<NetworkPolicy>(&policy)) {
        for (const auto* rules : {&np->ingress, &np->egress}) {
          for (const auto& r : *rules) {
            for (const auto& peer : r.peers) {
              if (peer.ipBlock) add(ipBlocks, *peer.ipBlock);
            }
          }
        }
      } else {
        forEachPodnetSection(*podnetSpec(policy), [&](const std::vector<PodnetRule>& rules,
                                                      const char*, pn_direction, pn_policy_action) {
          for (const auto& r : rules) {
            for (const auto& c : r.cidrs) add(cidrs, c);
          }
        });
      }
    }
    numberPrefixes(cidrs, PN_IDENTITY_LOCAL_CIDR, prev_ ? &prev_->cidrIdentities : nullptr,
                   out_.cidrIdentities);
    numberPrefixes(ipBlocks, PN_IDENTITY_LOCAL_IPBLOCK, prev_ ? &prev_->ipBlocks : nullptr,
                   out_.ipBlocks);
  }

  void buildIpcache() {
    // Most specific owner last: CIDR identities, then pods, then nodes (a pod's or a node's /32
    // is never a CIDR identity's, whatever a policy names).
    out_.ipcache = out_.cidrIdentities;
    for (const auto& peer : peers_) {
      for (const PodState* p : peer.pods) out_.ipcache[{*p->address, 32}] = peer.id;
    }
    for (const auto& n : state_.nodes) {
      uint32_t id = n.name == node_.name ? PN_IDENTITY_HOST : PN_IDENTITY_REMOTE_NODE;
      if (n.underlayIp.value != 0) out_.ipcache[{n.underlayIp, 32}] = id;
      if (n.name == node_.name) ownAddress_ = n.underlayIp;
    }
    for (const auto& [name, addresses] : state_.nodeAddresses) {
      uint32_t id = name == node_.name ? PN_IDENTITY_HOST : PN_IDENTITY_REMOTE_NODE;
      for (const auto& a : addresses) out_.ipcache[{a, 32}] = id;
    }
    for (const auto& a : node_.hostAddresses) out_.ipcache[{a, 32}] = PN_IDENTITY_HOST;
  }

  void buildSubjects() {
    std::set<uint32_t> avoid, taken;
    if (prev_) {
      for (const auto& [pod, subject] : prev_->endpointSubjects) avoid.insert(subject);
    }
    std::map<uint32_t, std::vector<const PodState*>> local;
    for (const PodState* p : pods_) {
      if (p->pod.nodeName == node_.name) local[p->identity].push_back(p);
    }
    std::vector<const PodState*> split;
    for (auto& [identity, pods] : local) {
      std::string first = signature(pods.front()->pod, ingressNames_);
      bool agree = std::all_of(pods.begin(), pods.end(), [&](const PodState* p) {
        return signature(p->pod, ingressNames_) == first;
      });
      if (agree) {
        subjects_.push_back({identity, identity, &labels_.at(identity), pods});
        continue;
      }
      for (const PodState* p : pods) split.push_back(p);
    }
    // Per-endpoint subjects: the previous number of the same pod when there was one.
    for (int pass = 0; pass < 2; ++pass) {
      for (const PodState* p : split) {
        const std::string key = podKeyOf(p->pod);
        if (out_.endpointSubjects.count(key)) continue;
        uint32_t subject = 0;
        if (pass == 0) {
          if (!prev_) continue;
          auto it = prev_->endpointSubjects.find(key);
          if (it == prev_->endpointSubjects.end() || taken.count(it->second)) continue;
          subject = it->second;
          taken.insert(subject);
        } else {
          subject = allocateLocal(kEndpointSubjectBase, taken, avoid);
        }
        out_.endpointSubjects[key] = subject;
        subjects_.push_back({subject, p->identity, &labels_.at(p->identity), {p}});
      }
    }
    // The host endpoint, when a host policy selects this node.
    for (const auto& policy : state_.policies) {
      auto* cw = std::get_if<PodnetClusterwideNetworkPolicy>(&policy);
      if (cw && cw->spec.nodeSelector && cw->spec.nodeSelector->matches(node_.labels)) {
        subjects_.push_back({PN_IDENTITY_HOST, PN_IDENTITY_HOST, nullptr, {}});
        break;
      }
    }
  }

  void assignPolicyIds() {
    std::vector<PolicyRef> refs;
    for (const auto& policy : state_.policies) {
      PolicyRef base{kindOf(policy), namespaceOf(policy), nameOf(policy), "", 0};
      auto add = [&](const char* section, size_t count) {
        for (size_t i = 0; i < count; ++i) {
          PolicyRef r = base;
          r.section = section;
          r.rule = static_cast<int>(i);
          refs.push_back(r);
        }
      };
      if (auto* np = std::get_if<NetworkPolicy>(&policy)) {
        add("ingress", np->ingress.size());
        add("egress", np->egress.size());
      } else {
        forEachPodnetSection(*podnetSpec(policy),
                             [&](const std::vector<PodnetRule>& rules, const char* section,
                                 pn_direction, pn_policy_action) { add(section, rules.size()); });
      }
    }
    if (node_.tunnelPort) refs.push_back(kTunnelRule);
    std::sort(refs.begin(), refs.end());
    std::set<uint32_t> taken, avoid;
    std::map<PolicyRef, uint32_t> previous;
    if (prev_) {
      for (const auto& [id, ref] : prev_->policyIds) {
        previous[ref] = id;
        avoid.insert(id);
      }
    }
    std::vector<const PolicyRef*> fresh;
    for (const auto& r : refs) {
      auto it = previous.find(r);
      if (it != previous.end()) {
        ids_[r] = it->second;
        taken.insert(it->second);
        out_.policyIds[it->second] = r;
      } else {
        fresh.push_back(&r);
      }
    }
    uint32_t id = 0;  // ascending: each fresh rule takes the next number nobody holds
    for (const PolicyRef* r : fresh) {
      ++id;
      while (taken.count(id) || avoid.count(id)) ++id;
      taken.insert(id);
      ids_[*r] = id;
      out_.policyIds[id] = *r;
    }
  }

  // ---- selection ----

  bool selects(const Subject& s, const Policy& policy) const {
    if (auto* np = std::get_if<NetworkPolicy>(&policy)) {
      return s.labels && s.labels->namespace_ == np->metadata.namespace_ &&
             np->podSelector.matches(s.labels->podLabels);
    }
    if (auto* p = std::get_if<PodnetNetworkPolicy>(&policy)) {
      return s.labels && s.labels->namespace_ == p->metadata.namespace_ &&
             p->spec.endpointSelector->matches(s.labels->endpointView());
    }
    const auto& cw = std::get<PodnetClusterwideNetworkPolicy>(policy);
    if (cw.spec.nodeSelector) return !s.labels && cw.spec.nodeSelector->matches(node_.labels);
    return s.labels && cw.spec.endpointSelector->matches(s.labels->endpointView());
  }

  // ---- peers ----

  void addAll(Targets& t) const { t[PN_IDENTITY_ANY] = nullptr; }

  // Every identity of `prefixes` (CIDR or ipBlock identities) inside the block's cidr and outside
  // its excepts: the prefixes are looked up by longest match, so these are exactly the addresses.
  static void addBlock(Targets& t, const CidrBlock& block,
                       const std::map<Ipv4Prefix, uint32_t>& prefixes) {
    for (const auto& [prefix, id] : prefixes) {
      if (!within(prefix, block.cidr)) continue;
      bool excepted = std::any_of(block.except.begin(), block.except.end(),
                                  [&](const Ipv4Prefix& e) { return within(prefix, e); });
      if (!excepted) t[id] = nullptr;
    }
  }

  void addEntity(Targets& t, Entity e) const {
    for (uint32_t id : reservedIdentities(e)) t[id] = nullptr;
    if (e == Entity::kWorld) {
      for (const auto& [prefix, id] : out_.cidrIdentities) t[id] = nullptr;
    }
    if (e == Entity::kCluster) {
      for (const auto& peer : peers_) t[peer.id] = &peer;
    }
  }

  Targets k8sPeers(const NetworkPolicy& np, const NetworkPolicyRule& rule) const {
    Targets t;
    if (rule.peers.empty()) addAll(t);
    for (const auto& peer : rule.peers) {
      if (peer.ipBlock) {
        addBlock(t, *peer.ipBlock, out_.ipBlocks);
        continue;
      }
      for (const auto& p : peers_) {
        // podSelector alone: pods of the policy's namespace; namespaceSelector alone: every pod
        // of the matching namespaces; both: the pods matching both.
        bool ns = peer.namespaceSelector
                      ? peer.namespaceSelector->matches(p.labels->namespaceView())
                      : p.labels->namespace_ == np.metadata.namespace_;
        bool pod = !peer.podSelector || peer.podSelector->matches(p.labels->podLabels);
        if (ns && pod) t[p.id] = &p;
      }
    }
    return t;
  }

  Targets podnetPeers(const std::string& policyNamespace, const PodnetRule& rule) const {
    Targets t;
    for (const auto& sel : rule.endpoints) {
      // Cilium: in a namespaced policy a selector that says nothing about the namespace means
      // the policy's own namespace.
      bool ownNamespace = !policyNamespace.empty() && !sel.constrains(kPodNamespaceLabel);
      for (const auto& p : peers_) {
        if (ownNamespace && p.labels->namespace_ != policyNamespace) continue;
        if (sel.matches(p.labels->endpointView())) t[p.id] = &p;
      }
    }
    for (const auto& c : rule.cidrs) addBlock(t, c, out_.cidrIdentities);
    for (Entity e : rule.entities) addEntity(t, e);
    if (rule.endpoints.empty() && rule.cidrs.empty() && rule.entities.empty() &&
        !rule.ports.empty()) {
      addAll(t);  // an L4-only rule: every peer on those ports
    }
    return t;
  }

  // A rule's peers do not depend on the subject: computed once per rule.
  template <class F>
  const Targets& cached(const void* rule, F compute) {
    auto it = targets_.find(rule);
    if (it == targets_.end()) it = targets_.emplace(rule, compute()).first;
    return it->second;
  }

  // ---- entries ----

  Status emit(uint32_t subject, uint32_t peer, pn_direction dir, const bpf::PortRange& range,
              pn_policy_action action, uint32_t policyId) {
    auto keys = bpf::policyKeys(subject, peer, dir, range);
    if (!keys) return std::move(keys).takeError();
    for (const auto& key : *keys) entries_.push_back({key, action, policyId});
    return okStatus();
  }

  // The numeric port ranges of one port clause (protocol ANY with a port = each protocol).
  static std::vector<bpf::PortRange> ranges(std::optional<Protocol> protocol, uint16_t port,
                                            uint16_t endPort) {
    if (!protocol && port == 0) return {bpf::PortRange{}};
    std::vector<bpf::PortRange> out;
    for (Protocol p : {Protocol::kTcp, Protocol::kUdp, Protocol::kSctp}) {
      if (protocol && *protocol != p) continue;
      out.push_back({static_cast<uint8_t>(p), port, endPort});
    }
    return out;
  }

  Status compileRule(const Subject& s, pn_direction dir, pn_policy_action action, uint32_t id,
                     const Targets& targets, const std::vector<PortSelector>& ports) {
    for (const auto& [peer, pod] : targets) {
      if (ports.empty()) {
        PODNET_TRY_STATUS(emit(s.subject, peer, dir, bpf::PortRange{}, action, id));
        continue;
      }
      for (const auto& port : ports) {
        if (port.name.empty()) {
          for (const auto& r : ranges(port.protocol, port.port, port.endPort)) {
            PODNET_TRY_STATUS(emit(s.subject, peer, dir, r, action, id));
          }
          continue;
        }
        const PortRef ref{port.name, port.protocol};
        if (dir == PN_DIR_INGRESS) {
          // The destination is the subject: its pods all resolve the name alike.
          if (s.pods.empty()) continue;  // the host has no named ports
          if (auto r = resolve(s.pods.front()->pod, ref)) {
            PODNET_TRY_STATUS(emit(s.subject, peer, dir,
                                   {static_cast<uint8_t>(r->first), r->second, 0}, action, id));
          }
        } else if (peer == PN_IDENTITY_ANY) {
          // Every destination that has the name: every pod peer resolving it.
          for (const auto& p : peers_) {
            if (auto r = resolve(p.pods.front()->pod, ref)) {
              PODNET_TRY_STATUS(emit(s.subject, p.id, dir,
                                     {static_cast<uint8_t>(r->first), r->second, 0}, action, id));
            }
          }
        } else if (pod) {
          // The destination is the peer: its pods all resolve the name alike.
          if (auto r = resolve(pod->pods.front()->pod, ref)) {
            PODNET_TRY_STATUS(emit(s.subject, peer, dir,
                                   {static_cast<uint8_t>(r->first), r->second, 0}, action, id));
          }
        }
        // A CIDR, world or node peer has no named ports: nothing.
      }
    }
    return okStatus();
  }

  Status compilePolicy(Subject& s, const Policy& policy) {
    if (!selects(s, policy)) return okStatus();
    PolicyRef base{kindOf(policy), namespaceOf(policy), nameOf(policy), "", 0};
    auto idOf = [&](const char* section, size_t i) {
      PolicyRef r = base;
      r.section = section;
      r.rule = static_cast<int>(i);
      return ids_.at(r);
    };
    if (auto* np = std::get_if<NetworkPolicy>(&policy)) {
      if (np->policyIngress) {
        s.ingress = true;
        s.ingressBy.insert(describe(policy));
        for (size_t i = 0; i < np->ingress.size(); ++i) {
          PODNET_TRY_STATUS(
              compileRule(s, PN_DIR_INGRESS, PN_POLICY_ALLOW, idOf("ingress", i),
                          cached(&np->ingress[i], [&] { return k8sPeers(*np, np->ingress[i]); }),
                          np->ingress[i].ports));
        }
      }
      if (np->policyEgress) {
        s.egress = true;
        s.egressBy.insert(describe(policy));
        for (size_t i = 0; i < np->egress.size(); ++i) {
          PODNET_TRY_STATUS(
              compileRule(s, PN_DIR_EGRESS, PN_POLICY_ALLOW, idOf("egress", i),
                          cached(&np->egress[i], [&] { return k8sPeers(*np, np->egress[i]); }),
                          np->egress[i].ports));
        }
      }
      return okStatus();
    }
    const std::string ns = namespaceOf(policy);
    Status status;
    forEachPodnetSection(
        *podnetSpec(policy), [&](const std::vector<PodnetRule>& rules, const char* section,
                                 pn_direction dir, pn_policy_action action) {
          (dir == PN_DIR_INGRESS ? s.ingress : s.egress) = true;
          (dir == PN_DIR_INGRESS ? s.ingressBy : s.egressBy).insert(describe(policy));
          for (size_t i = 0; i < rules.size() && status.ok(); ++i) {
            status = compileRule(s, dir, action, idOf(section, i),
                                 cached(&rules[i], [&] { return podnetPeers(ns, rules[i]); }),
                                 rules[i].ports);
          }
        });
    return status;
  }

  // A host policy isolates the node, not the overlay between the nodes: its UDP port stays open
  // to and from every other node.
  Status allowTunnel() {
    bool host = std::any_of(subjects_.begin(), subjects_.end(),
                            [](const Subject& s) { return s.labels == nullptr; });
    if (!host || !node_.tunnelPort) return okStatus();
    bpf::PortRange tunnel{static_cast<uint8_t>(Protocol::kUdp), *node_.tunnelPort, 0};
    for (pn_direction dir : {PN_DIR_INGRESS, PN_DIR_EGRESS}) {
      PODNET_TRY_STATUS(emit(PN_IDENTITY_HOST, PN_IDENTITY_REMOTE_NODE, dir, tunnel,
                             PN_POLICY_ALLOW, ids_.at(kTunnelRule)));
    }
    return okStatus();
  }

  static CompiledPolicy::Isolation isolation(const Subject& s) {
    return {{s.ingressBy.begin(), s.ingressBy.end()}, {s.egressBy.begin(), s.egressBy.end()}};
  }

  void buildEndpoints() {
    for (const auto& s : subjects_) {
      bool ingress = s.ingress, egress = s.egress;
      if (node_.mode == PN_ENFORCE_NEVER) ingress = egress = false;
      // "always" isolates every pod, but not the node itself: the host firewall is only ever
      // enforced where a host policy asks for it (a mode flag must not lock the node out).
      if (node_.mode == PN_ENFORCE_ALWAYS && s.labels) ingress = egress = true;
      if (!s.labels) {
        if (!s.ingress && !s.egress) continue;
        bpf::Endpoint host;
        host.identity = host.subject = PN_IDENTITY_HOST;
        host.enforceIngress = ingress;
        host.enforceEgress = egress;
        host.address = ownAddress_;
        out_.endpoints[kHostEndpoint] = host;
        out_.isolatedBy[kHostEndpoint] = isolation(s);
        continue;
      }
      for (const PodState* p : s.pods) {
        bpf::Endpoint e;
        e.identity = s.identity;
        e.subject = s.subject;
        e.enforceIngress = ingress;
        e.enforceEgress = egress;
        e.address = *p->address;
        out_.endpoints[podKeyOf(p->pod)] = e;
        out_.isolatedBy[podKeyOf(p->pod)] = isolation(s);
      }
    }
  }

  const ClusterState& state_;
  const NodeContext& node_;
  const CompiledPolicy* prev_;
  CompiledPolicy out_;

  std::map<uint32_t, IdentityLabels> labels_;  // every usable pod's identity
  std::vector<const PodState*> pods_;          // pods with an address and a known identity
  std::set<PortRef> ingressNames_, egressNames_;
  std::vector<Peer> peers_;
  std::vector<std::string> signatures_;  // parallel to peers_
  std::vector<Subject> subjects_;
  std::map<PolicyRef, uint32_t> ids_;
  std::vector<bpf::PolicyEntry> entries_;
  std::map<const void*, Targets> targets_;  // by rule (its address in state_.policies)
  Ipv4 ownAddress_;
};

bool sameEndpoint(const bpf::Endpoint& a, const bpf::Endpoint& b) {
  return std::tie(a.endpointId, a.identity, a.subject, a.enforceIngress, a.enforceEgress,
                  a.address) == std::tie(b.endpointId, b.identity, b.subject, b.enforceIngress,
                                         b.enforceEgress, b.address);
}

void diffPrefixes(const std::map<Ipv4Prefix, uint32_t>& from,
                  const std::map<Ipv4Prefix, uint32_t>& to,
                  std::vector<std::pair<Ipv4Prefix, uint32_t>>& upsert,
                  std::vector<Ipv4Prefix>& remove) {
  for (const auto& [prefix, id] : to) {
    auto it = from.find(prefix);
    if (it == from.end() || it->second != id) upsert.push_back({prefix, id});
  }
  for (const auto& [prefix, id] : from) {
    if (!to.count(prefix)) remove.push_back(prefix);
  }
}

}  // namespace

std::string PolicyRef::str() const {
  return kind + " " + (namespace_.empty() ? "" : namespace_ + "/") + name + " " + section + "[" +
         std::to_string(rule) + "]";
}

uint32_t CompiledPolicy::identityOf(uint32_t peer) const {
  auto it = peerAliases.find(peer);
  return it == peerAliases.end() ? peer : it->second.first;
}

Result<CompiledPolicy> compile(const ClusterState& state, const NodeContext& node,
                               const CompiledPolicy* previous) {
  return Compiler(state, node, previous).run();
}

bool PolicyMapDiff::empty() const {
  return size() == 0;
}

size_t PolicyMapDiff::size() const {
  return upsertEntries.size() + upsertIpcache.size() + upsertIpBlocks.size() +
         upsertEndpoints.size() + removeEndpoints.size() + removeIpcache.size() +
         removeIpBlocks.size() + removeEntries.size();
}

PolicyMapDiff diff(const CompiledPolicy& from, const CompiledPolicy& to) {
  PolicyMapDiff d;
  std::map<bpf::PolicyKey, bpf::PolicyEntry> old;
  for (const auto& e : from.entries) old.emplace(e.key, e);
  std::set<bpf::PolicyKey> kept;
  for (const auto& e : to.entries) {
    kept.insert(e.key);
    auto it = old.find(e.key);
    if (it == old.end() || !(it->second == e)) d.upsertEntries.push_back(e);
  }
  for (const auto& [key, e] : old) {
    if (!kept.count(key)) d.removeEntries.push_back(key);
  }
  diffPrefixes(from.ipcache, to.ipcache, d.upsertIpcache, d.removeIpcache);
  diffPrefixes(from.ipBlocks, to.ipBlocks, d.upsertIpBlocks, d.removeIpBlocks);
  for (const auto& [key, e] : to.endpoints) {
    auto it = from.endpoints.find(key);
    if (it == from.endpoints.end() || !sameEndpoint(it->second, e)) {
      d.upsertEndpoints.push_back({key, e});
    }
  }
  for (const auto& [key, e] : from.endpoints) {
    if (!to.endpoints.count(key)) d.removeEndpoints.push_back(key);
  }
  return d;
}

Status applyDiff(const PolicyMapDiff& d, PolicyMapWriter& w) {
  for (const auto& e : d.upsertEntries) PODNET_TRY_STATUS(w.setPolicy(e));
  for (const auto& [prefix, id] : d.upsertIpcache) PODNET_TRY_STATUS(w.setIdentity(prefix, id));
  for (const auto& [prefix, id] : d.upsertIpBlocks) PODNET_TRY_STATUS(w.setIpBlock(prefix, id));
  for (const auto& [key, e] : d.upsertEndpoints) PODNET_TRY_STATUS(w.setEndpoint(key, e));
  for (const auto& key : d.removeEndpoints) PODNET_TRY_STATUS(w.removeEndpoint(key));
  for (const auto& prefix : d.removeIpcache) PODNET_TRY_STATUS(w.removeIdentity(prefix));
  for (const auto& prefix : d.removeIpBlocks) PODNET_TRY_STATUS(w.removeIpBlock(prefix));
  for (const auto& key : d.removeEntries) PODNET_TRY_STATUS(w.removePolicy(key));
  return okStatus();
}

}  // namespace podnet::policy
