#include "ctl/app.h"

#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>

#include "ctl/agent_call.h"
#include "ctl/observe.h"
#include "ctl/pods_view.h"
#include "ctl/resource_commands.h"
#include "lab/commands.h"
#include "rpc/unix_socket.h"

namespace podnet::ctl {
namespace {

int getPods(const std::string& socket, const std::string& output) {
  auto reply = rpc::call(socket, {{"op", "pods"}});
  if (!reply) {
    std::cerr << "podnetctl: cannot reach podnetd: " << reply.error().message << "\n"
              << kNoAgentHint << "\n";
    return 1;
  }
  if (!reply->value("ok", false)) {
    std::cerr << "podnetctl: podnetd: " << (*reply)["error"].value("msg", "unknown error") << "\n";
    return 1;
  }
  OutputFormat format = output == "json"   ? OutputFormat::kJson
                        : output == "wide" ? OutputFormat::kWide
                                           : OutputFormat::kTable;
  std::cout << renderPods((*reply)["pods"], format, static_cast<int64_t>(std::time(nullptr)));
  return 0;
}

}  // namespace

int runCtl(int argc, char** argv) {
  CLI::App app{"podnetctl: inspect and drive podnet."};
  app.footer(
      "Which podnetd a command asks: the --socket given; else the local podnetd, when "
      "/run/podnet/podnetd.sock exists; else the running lab (PODNET_LAB_NAME, default "
      "podnet-lab): every node's agent for observe and get drops, node n1's for the other "
      "commands (said on stderr).\n");
  app.require_subcommand(1);
  std::string socket;
  auto* socketOption = app.add_option(
      "--socket", socket, "podnetd's unix socket (default: the local podnetd, else the lab's)");
  auto agent = [&]() -> std::string {
    return findAgent(socketOption->count() > 0 ? std::optional(socket) : std::nullopt, std::cerr);
  };

  auto* get = app.add_subcommand("get", "List resources");
  get->require_subcommand(1);
  std::string output = "table";
  auto* pods = get->add_subcommand("pods", "Pods wired by this node's agent");
  pods->alias("pod");
  pods->add_option("-o,--output", output, "table, wide or json")
      ->check(CLI::IsMember({"table", "wide", "json"}))
      ->capture_default_str();
  auto labCommands = lab::addCommands(app);
  auto resourceCommands = ResourceCommands::add(app, *get, agent);
  auto observeCommands = ObserveCommands::add(app, *get);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (*pods) return getPods(agent(), output);
  if (auto code = labCommands->run()) return *code;
  if (auto code = resourceCommands->run()) return *code;
  if (auto code = observeCommands->run()) return *code;
  return 0;
}

}  // namespace podnet::ctl
