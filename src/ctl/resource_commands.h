// podnetctl's resource commands, kubectl-style:
//   podnetctl apply -f FILE...       create or update the objects of manifests ("-" is stdin)
//   podnetctl delete -f FILE...      delete them
//   podnetctl get subnets [-o table|json]
//   podnetctl get nodes [-o table|json]
//   podnetctl get policies [-o table|json] [-n NAMESPACE]
// Manifests are parsed and checked here first (registry/manifest_objects.h), so a malformed file
// fails without contacting podnetd; podnetd then checks them against the cluster and writes them.
#pragma once

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/result.h"
#include "ctl/pods_view.h"

namespace podnet::ctl {

enum class ManifestUse { kApply, kDelete };

// Reads the files ("-" reads in, shown as "stdin" in messages) and returns their objects in order.
// For kApply every object must decode and validate; for kDelete a known kind and a name suffice.
// A set of files that holds no object is an error.
Result<std::vector<nlohmann::json>> loadManifests(const std::vector<std::string>& files,
                                                  std::istream& in, ManifestUse use);

// apply -f / delete -f end to end: prints "subnet/blue created" per object on out; on any error
// prints "podnetctl: <message>" on err and returns 1.
int runManifests(const std::string& socket, const std::vector<std::string>& files, ManifestUse use,
                 std::istream& in, std::ostream& out, std::ostream& err);

// get nodes: the registered nodes rendered on out; errors on err, returning 1.
int runGetNodes(const std::string& socket, OutputFormat format, std::ostream& out,
                std::ostream& err);
// get subnets: the agent's subnets rendered on out; errors on err, returning 1.
int runGetSubnets(const std::string& socket, OutputFormat format, std::ostream& out,
                  std::ostream& err);
// get policies: the stored policies of the three kinds rendered on out; with a namespace, only the
// namespaced policies of that namespace (a clusterwide policy is in none). Errors on err,
// returning 1.
int runGetPolicies(const std::string& socket, OutputFormat format, const std::string& namespace_,
                   std::ostream& out, std::ostream& err);

// The commands' CLI11 wiring. add() registers apply, delete and `get subnets|nodes|policies`;
// after parsing, run() returns the exit code of the command that was chosen, or nullopt if none of
// them was.
class ResourceCommands {
 public:
  // agent gives the socket to ask (findAgent, agent_call.h); it is called once, by run(), only
  // when one of these commands was chosen.
  static std::unique_ptr<ResourceCommands> add(CLI::App& app, CLI::App& get,
                                               std::function<std::string()> agent);
  std::optional<int> run() const;

 private:
  explicit ResourceCommands(std::function<std::string()> agent) : agent_(std::move(agent)) {}

  std::function<std::string()> agent_;
  CLI::App* apply_ = nullptr;
  CLI::App* delete_ = nullptr;
  CLI::App* subnets_ = nullptr;
  CLI::App* nodes_ = nullptr;
  CLI::App* policies_ = nullptr;
  std::vector<std::string> applyFiles_, deleteFiles_;
  std::string output_ = "table";
  std::string namespace_;
};

}  // namespace podnet::ctl
