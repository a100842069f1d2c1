// Which podnetd a podnetctl command asks, and one request to it over its socket.
//
// One rule for every command that talks to an agent (get, apply, delete, observe):
//   1. the sockets given with --socket;
//   2. else the local agent, when podnetd's default socket (/run/podnet/podnetd.sock) exists;
//   3. else the running lab (PODNET_LAB_NAME, default podnet-lab): observe and get drops ask
//      every node's agent, the other commands its first node's (n1; every node's agent serves the
//      same cluster store), saying so on stderr;
//   4. else the default socket, whose error then says that no agent was found.
#pragma once

#include <chrono>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "lab/layout.h"
#include "lab/state.h"

namespace podnet::ctl {

// What to tell a user whose agent did not answer.
inline constexpr const char* kNoAgentHint =
    "(is podnetd running? use --socket to point at an agent; without it podnetctl asks the "
    "local podnetd, else the running lab's agents)";

// One agent to ask. node: the lab node's name, or "" for a socket given or the local agent.
struct AgentTarget {
  std::string node;
  std::string socket;

  // "n2 (/run/podnet-lab/n2/podnetd.sock)", or the socket alone.
  std::string label() const;
  bool operator==(const AgentTarget&) const = default;
};

// The rule above, decided: sockets if any were given (each once); else defaultSocket when
// localAgent (it exists); else every node of lab (when it is running); else defaultSocket.
std::vector<AgentTarget> agentTargets(const std::vector<std::string>& sockets, bool localAgent,
                                      const std::optional<lab::LabState>& lab,
                                      const lab::Layout& layout, const std::string& defaultSocket);

// agentTargets for this machine: the local agent is podnetd's default socket, the lab the one
// named by PODNET_LAB_NAME read from its state file. A state file that cannot be read is a warning
// on err, and the default socket is used.
std::vector<AgentTarget> findAgents(const std::vector<std::string>& sockets, std::ostream& err);

// The one agent a single-agent command asks: socket when given, else the first of findAgents; a
// lab node chosen is named on err ("podnetctl: no local podnetd; asking node n1 of lab ...").
std::string findAgent(const std::optional<std::string>& socket, std::ostream& err);

// The agent's answer when it says ok. Otherwise an error to print: "cannot reach podnetd: ..."
// (the rpc error's code) or "podnetd: <the agent's message>" (kInvalidArgument).
Result<nlohmann::json> askAgent(const std::string& socket, const nlohmann::json& request,
                                std::chrono::milliseconds timeout = std::chrono::seconds(60));

}  // namespace podnet::ctl
