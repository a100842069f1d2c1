#include "ctl/agent_call.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <ostream>

#include "cni/plugin.h"
#include "rpc/unix_socket.h"

namespace podnet::ctl {
namespace {

std::string labName() {
  const char* env = std::getenv("PODNET_LAB_NAME");
  return env != nullptr && *env != '\0' ? env : lab::kDefaultLabName;
}

// With sockets given, the lab plays no part; any valid layout will do.
const lab::Layout& anyLayout() {
  static const lab::Layout layout = *lab::Layout::make(lab::kDefaultLabName);
  return layout;
}

}  // namespace

std::string AgentTarget::label() const {
  return node.empty() ? socket : node + " (" + socket + ")";
}

std::vector<AgentTarget> agentTargets(const std::vector<std::string>& sockets, bool localAgent,
                                      const std::optional<lab::LabState>& lab,
                                      const lab::Layout& layout, const std::string& defaultSocket) {
  std::vector<AgentTarget> out;
  if (!sockets.empty()) {
    for (const auto& s : sockets) {
      if (std::none_of(out.begin(), out.end(),
                       [&](const AgentTarget& t) { return t.socket == s; })) {
        out.push_back({"", s});
      }
    }
    return out;
  }
  if (!localAgent && lab) {
    for (const auto& node : lab->nodeNames()) out.push_back({node, layout.agentSocket(node)});
    if (!out.empty()) return out;
  }
  return {{"", defaultSocket}};
}

std::vector<AgentTarget> findAgents(const std::vector<std::string>& sockets, std::ostream& err) {
  const std::string fallback = cni::kDefaultSocket;
  std::error_code ec;
  const bool localAgent = sockets.empty() && std::filesystem::is_socket(fallback, ec);
  if (!sockets.empty() || localAgent) {
    return agentTargets(sockets, localAgent, std::nullopt, anyLayout(), fallback);
  }
  auto layout = lab::Layout::make(labName());
  if (!layout) {
    err << "podnetctl: warning: PODNET_LAB_NAME: " << layout.error().message << "; asking "
        << fallback << "\n";
    return {{"", fallback}};
  }
  auto state = lab::loadState(*layout);
  if (!state) {
    err << "podnetctl: warning: " << state.error().message << "; asking " << fallback << "\n";
    return {{"", fallback}};
  }
  return agentTargets({}, false, *state, *layout, fallback);
}

std::string findAgent(const std::optional<std::string>& socket, std::ostream& err) {
  if (socket) return *socket;
  AgentTarget agent = findAgents({}, err).front();
  if (!agent.node.empty()) {
    err << "podnetctl: no local podnetd (" << cni::kDefaultSocket << "); asking node "
        << agent.label() << " of lab " << labName() << "\n";
  }
  return agent.socket;
}

Result<nlohmann::json> askAgent(const std::string& socket, const nlohmann::json& request,
                                std::chrono::milliseconds timeout) {
  auto reply = rpc::call(socket, request, timeout);
  if (!reply) {
    return makeError(reply.error().code, "cannot reach podnetd: " + reply.error().message);
  }
  if (!reply->is_object() || !reply->value("ok", false)) {
    std::string msg = "unknown error";
    if (reply->is_object() && reply->contains("error") && (*reply)["error"].is_object()) {
      const auto& error = (*reply)["error"];
      if (error.contains("msg") && error["msg"].is_string()) msg = error["msg"];
    }
    return makeError(Errc::kInvalidArgument, "podnetd: " + msg);
  }
  return std::move(reply).value();
}

}  // namespace podnet::ctl
