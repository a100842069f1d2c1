#include "ctl/resource_commands.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "ctl/agent_call.h"
#include "ctl/nodes_view.h"
#include "ctl/policies_view.h"
#include "ctl/subnets_view.h"
#include "model/manifest.h"
#include "registry/apply.h"
#include "registry/manifest_objects.h"

namespace podnet::ctl {
namespace {

Result<std::string> readAll(const std::string& file, std::istream& in) {
  if (file == "-") return std::string(std::istreambuf_iterator<char>(in), {});
  std::ifstream f(file, std::ios::binary);
  if (!f) return makeError(Errc::kIo, file + ": cannot open: " + std::strerror(errno));
  std::ostringstream text;
  text << f.rdbuf();
  if (f.bad()) return makeError(Errc::kIo, file + ": cannot read");
  return text.str();
}

// Sends request and returns the agent's answer, or the message to print.
Result<nlohmann::json> ask(const std::string& socket, const nlohmann::json& request) {
  auto reply = askAgent(socket, request);
  if (!reply && reply.error().code != Errc::kInvalidArgument) {  // not the agent's refusal
    Error e = std::move(reply).takeError();
    e.message += std::string("\n") + kNoAgentHint;
    return e;
  }
  return reply;
}

}  // namespace

Result<std::vector<nlohmann::json>> loadManifests(const std::vector<std::string>& files,
                                                  std::istream& in, ManifestUse use) {
  std::vector<nlohmann::json> objects;
  auto shown = [](const std::string& file) { return file == "-" ? std::string("stdin") : file; };
  for (const auto& file : files) {
    auto text = PODNET_TRY(readAll(file, in));
    auto docs = PODNET_TRY(model::parseDocuments(text, shown(file)));
    for (auto& doc : docs) {
      if (use == ManifestUse::kApply) {
        PODNET_TRY(registry::decodeManifestObject(doc));
      } else {
        PODNET_TRY_STATUS(registry::checkKindAndName(doc));
      }
      objects.push_back(std::move(doc.body));
    }
  }
  if (objects.empty()) {
    return makeError(Errc::kInvalidArgument,
                     "no objects in " + std::string(files.size() == 1 ? "" : "any of ") +
                         (files.size() == 1 ? shown(files[0]) : "the files"));
  }
  return objects;
}

int runManifests(const std::string& socket, const std::vector<std::string>& files, ManifestUse use,
                 std::istream& in, std::ostream& out, std::ostream& err) {
  auto objects = loadManifests(files, in, use);
  if (!objects) {
    err << "podnetctl: " << objects.error().message << "\n";
    return 1;
  }
  const bool apply = use == ManifestUse::kApply;
  auto reply = ask(socket, {{"op", apply ? "apply" : "delete"}, {"objects", *objects}});
  if (!reply) {
    err << "podnetctl: " << reply.error().message << "\n";
    return 1;
  }
  const auto& done = reply->value(apply ? "applied" : "deleted", nlohmann::json::array());
  for (const auto& o : done) {
    if (!o.is_object()) continue;
    auto text = [&](const char* field) {
      return o.contains(field) && o[field].is_string() ? o[field].get<std::string>() : "?";
    };
    registry::AppliedObject applied{text("kind"), text("name"), text("action")};
    out << registry::describe(applied) << "\n";
  }
  return 0;
}

int runGetSubnets(const std::string& socket, OutputFormat format, std::ostream& out,
                  std::ostream& err) {
  auto reply = ask(socket, {{"op", "subnets"}});
  if (!reply) {
    err << "podnetctl: " << reply.error().message << "\n";
    return 1;
  }
  out << renderSubnets(reply->value("subnets", nlohmann::json::array()), format);
  return 0;
}

int runGetNodes(const std::string& socket, OutputFormat format, std::ostream& out,
                std::ostream& err) {
  auto reply = ask(socket, {{"op", "nodes"}});
  if (!reply) {
    err << "podnetctl: " << reply.error().message << "\n";
    return 1;
  }
  out << renderNodes(reply->value("nodes", nlohmann::json::array()), format);
  return 0;
}

int runGetPolicies(const std::string& socket, OutputFormat format, const std::string& namespace_,
                   std::ostream& out, std::ostream& err) {
  auto reply = ask(socket, {{"op", "policies"}});
  if (!reply) {
    err << "podnetctl: " << reply.error().message << "\n";
    return 1;
  }
  out << renderPolicies(reply->value("policies", nlohmann::json::array()), format, namespace_);
  return 0;
}

std::unique_ptr<ResourceCommands> ResourceCommands::add(CLI::App& app, CLI::App& get,
                                                        std::function<std::string()> agent) {
  std::unique_ptr<ResourceCommands> c(new ResourceCommands(std::move(agent)));
  c->apply_ = app.add_subcommand("apply", "Create or update the objects of manifests");
  c->apply_->add_option("-f,--filename", c->applyFiles_, "a YAML or JSON manifest; - for stdin")
      ->required();
  c->delete_ = app.add_subcommand("delete", "Delete the objects of manifests");
  c->delete_->add_option("-f,--filename", c->deleteFiles_, "a YAML or JSON manifest; - for stdin")
      ->required();
  c->subnets_ = get.add_subcommand("subnets", "Subnets with their used and free addresses");
  c->subnets_->alias("subnet");
  c->subnets_->add_option("-o,--output", c->output_, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  c->nodes_ = get.add_subcommand("nodes", "Nodes registered in the cluster (etcd store)");
  c->nodes_->alias("node");
  c->nodes_->add_option("-o,--output", c->output_, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  c->policies_ = get.add_subcommand(
      "policies", "NetworkPolicy, PodnetNetworkPolicy and PodnetClusterwideNetworkPolicy objects");
  c->policies_->alias("policy");
  c->policies_->add_option("-o,--output", c->output_, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();
  c->policies_->add_option("-n,--namespace", c->namespace_,
                           "only the policies of this namespace (none of the clusterwide ones)");
  return c;
}

std::optional<int> ResourceCommands::run() const {
  if (!*apply_ && !*delete_ && !*subnets_ && !*nodes_ && !*policies_) return std::nullopt;
  const std::string socket = agent_();
  if (*apply_)
    return runManifests(socket, applyFiles_, ManifestUse::kApply, std::cin, std::cout, std::cerr);
  if (*delete_) {
    return runManifests(socket, deleteFiles_, ManifestUse::kDelete, std::cin, std::cout, std::cerr);
  }
  if (*subnets_) {
    return runGetSubnets(socket, output_ == "json" ? OutputFormat::kJson : OutputFormat::kTable,
                         std::cout, std::cerr);
  }
  if (*nodes_) {
    return runGetNodes(socket, output_ == "json" ? OutputFormat::kJson : OutputFormat::kTable,
                       std::cout, std::cerr);
  }
  if (*policies_) {
    return runGetPolicies(socket, output_ == "json" ? OutputFormat::kJson : OutputFormat::kTable,
                          namespace_, std::cout, std::cerr);
  }
  return std::nullopt;
}

}  // namespace podnet::ctl
