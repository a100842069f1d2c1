// The truth table of the network-policy conformance suite (policy_truth_table_test.cpp), in the
// manner of upstream Kubernetes' e2e `Reachability`: the endpoints of a lab (pods, nodes and two
// addresses outside the cluster), the probes between them, what a case expects of each probe, the
// probing itself (many at once, each in its source's network namespace) and the grid printed when
// the observation differs.
#pragma once

#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <iomanip>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/ip.h"
#include "common/result.h"
#include "lab/traffic.h"

namespace podnet::testing {

enum class EndpointKind { kPod, kNode, kWorld };

struct Endpoint {
  std::string name;  // "x/a", "n1", "w1"
  EndpointKind kind = EndpointKind::kPod;
  std::string ns, pod;    // pods only: "x", "a"
  std::string node;       // pods: where they run; nodes: themselves; world: ""
  std::string netnsPath;  // where its probes start
  Ipv4 ip;                // where probes to it go; for the world also its probes' source
  Ipv4 joinIp;            // nodes: their VXLAN device's address, the source of their probes to
                          // pods on other nodes
};

struct Probe {
  const Endpoint* from = nullptr;
  const Endpoint* to = nullptr;
  uint16_t port = 0;
  lab::Protocol protocol = lab::Protocol::kTcp;

  std::string str() const {
    return from->name + " -> " + to->name + " " + std::to_string(port) + "/" +
           (protocol == lab::Protocol::kTcp ? "TCP" : "UDP");
  }
};

inline constexpr uint16_t kProbePorts[] = {80, 81};
inline constexpr lab::Protocol kProbeProtocols[] = {lab::Protocol::kTcp, lab::Protocol::kUdp};

// What a case expects of each probe: connected (true) or blocked (false). It starts with every
// probe connected; each set() applies in order and the later one wins, so a case reads like the
// policy: "everything into x blocked, then from x/b allowed".
//
// A pod is never probed against itself: its own address is local to its namespace and the packet
// never reaches the pod's device, so no policy can see it (upstream's e2e allows loopback too).
class Reachability {
 public:
  // Probes every (from, to) pair of each block, on every port and protocol.
  struct Block {
    std::vector<const Endpoint*> from, to;
  };
  explicit Reachability(const std::vector<Block>& blocks) {
    for (const auto& block : blocks) {
      for (const Endpoint* from : block.from) {
        addOnce(rows_, from);
        for (const Endpoint* to : block.to) {
          addOnce(columns_, to);
          if (from == to) continue;
          for (uint16_t port : kProbePorts) {
            for (lab::Protocol protocol : kProbeProtocols) {
              probes_.push_back({from, to, port, protocol});
              expected_.push_back(true);
            }
          }
        }
      }
    }
  }

  // Patterns as fnmatch(3) over endpoint names: "x/a", "x/*", "*/a", "n*", "w2", "*" (everything).
  // port 0 and no protocol: every port and protocol.
  Reachability& set(const std::string& from, const std::string& to, bool connected,
                    uint16_t port = 0, std::optional<lab::Protocol> protocol = std::nullopt) {
    return where(
        [&](const Probe& p) {
          return matches(from, p.from->name) && matches(to, p.to->name) &&
                 (port == 0 || p.port == port) && (!protocol || p.protocol == *protocol);
        },
        connected);
  }
  Reachability& expectAll(bool connected) { return set("*", "*", connected); }
  Reachability& expectAllIngress(const std::string& to, bool connected) {
    return set("*", to, connected);
  }
  Reachability& expectAllEgress(const std::string& from, bool connected) {
    return set(from, "*", connected);
  }
  Reachability& where(const std::function<bool(const Probe&)>& selects, bool connected) {
    for (size_t i = 0; i < probes_.size(); ++i) {
      if (selects(probes_[i])) expected_[i] = connected;
    }
    return *this;
  }
  // docs/policy-datapath.md, "Own node": a new flow from a pod's own node to the pod always
  // passes, whatever the policy (only its own node: the others are remote-node).
  Reachability& ownNodeConnects() {
    return where(
        [](const Probe& p) {
          return p.from->kind == EndpointKind::kNode && p.to->kind == EndpointKind::kPod &&
                 p.to->node == p.from->name;
        },
        true);
  }

  const std::vector<Probe>& probes() const { return probes_; }
  const std::vector<bool>& expected() const { return expected_; }

  // Upstream's truth table, one grid per port and protocol that has a difference: rows are
  // sources, columns destinations; '.' connected and 'X' blocked as expected, '!' wrong, ' ' not
  // probed. Then each difference on a line of its own.
  std::string describeDifferences(const std::vector<bool>& observed) const {
    std::ostringstream out;
    size_t width = 4;
    for (const Endpoint* e : columns_) width = std::max(width, e->name.size() + 1);
    size_t rowWidth = 8;
    for (const Endpoint* e : rows_) rowWidth = std::max(rowWidth, e->name.size() + 2);
    for (uint16_t port : kProbePorts) {
      for (lab::Protocol protocol : kProbeProtocols) {
        bool differs = false;
        for (size_t i = 0; i < probes_.size(); ++i) {
          differs |= probes_[i].port == port && probes_[i].protocol == protocol &&
                     observed[i] != expected_[i];
        }
        if (!differs) continue;
        out << std::to_string(port) << "/" << (protocol == lab::Protocol::kTcp ? "TCP" : "UDP")
            << " (rows: from, columns: to; '.' connected, 'X' blocked, '!' not as expected)\n"
            << std::setw(static_cast<int>(rowWidth)) << "";
        for (const Endpoint* to : columns_) out << std::setw(static_cast<int>(width)) << to->name;
        out << "\n";
        for (const Endpoint* from : rows_) {
          out << std::left << std::setw(static_cast<int>(rowWidth)) << from->name << std::right;
          for (const Endpoint* to : columns_) {
            char cell = ' ';
            for (size_t i = 0; i < probes_.size(); ++i) {
              const Probe& p = probes_[i];
              if (p.from != from || p.to != to || p.port != port || p.protocol != protocol) {
                continue;
              }
              cell = observed[i] != expected_[i] ? '!' : (observed[i] ? '.' : 'X');
            }
            out << std::setw(static_cast<int>(width)) << cell;
          }
          out << "\n";
        }
      }
    }
    out << "differences (from, to, port/protocol: expected, observed):\n";
    for (size_t i = 0; i < probes_.size(); ++i) {
      if (observed[i] == expected_[i]) continue;
      out << "  " << probes_[i].str() << ": expected " << (expected_[i] ? "connected" : "blocked")
          << ", observed " << (observed[i] ? "connected" : "blocked") << "\n";
    }
    return out.str();
  }

 private:
  static bool matches(const std::string& pattern, const std::string& name) {
    return ::fnmatch(pattern.c_str(), name.c_str(), 0) == 0;
  }
  static void addOnce(std::vector<const Endpoint*>& list, const Endpoint* e) {
    if (std::find(list.begin(), list.end(), e) == list.end()) list.push_back(e);
  }

  std::vector<Probe> probes_;
  std::vector<bool> expected_;
  std::vector<const Endpoint*> rows_, columns_;
};

namespace detail {

inline Result<bool> probeOnce(const Probe& p, std::chrono::milliseconds timeout) {
  lab::ProbeSpec spec{p.to->ip, p.port, p.protocol, timeout};
  // The world's two addresses share one namespace (the lab's infra namespace): bind to tell them
  // apart.
  if (p.from->kind == EndpointKind::kWorld) spec.source = p.from->ip;
  return lab::probeFrom(p.from->netnsPath, spec);
}

}  // namespace detail

// Runs probes[i] for each i in `which`, `workers` at a time (a blocked probe only waits, so many
// run at once even on two cores), and writes each result to observed[i]. A probe that cannot run
// counts as blocked and its error is added to `errors`.
inline void runProbes(const std::vector<Probe>& probes, const std::vector<size_t>& which,
                      std::chrono::milliseconds timeout, size_t workers,
                      std::vector<bool>& observed, std::vector<std::string>& errors) {
  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::vector<char> results(which.size(), 0);
  auto work = [&] {
    for (size_t k = next++; k < which.size(); k = next++) {
      auto result = detail::probeOnce(probes[which[k]], timeout);
      if (!result) {
        std::lock_guard guard(mutex);
        errors.push_back(probes[which[k]].str() + ": " + result.error().message);
      }
      results[k] = result && *result;
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min(workers, which.size()); ++t) threads.emplace_back(work);
  for (auto& t : threads) t.join();
  for (size_t k = 0; k < which.size(); ++k) observed[which[k]] = results[k] != 0;
}

}  // namespace podnet::testing
