#include "cni/env.h"

#include <array>
#include <cctype>
#include <utility>

namespace podnet::cni {

namespace {

constexpr std::array<std::pair<Command, std::string_view>, 6> kCommands = {{
    {Command::kAdd, "ADD"},
    {Command::kDel, "DEL"},
    {Command::kCheck, "CHECK"},
    {Command::kStatus, "STATUS"},
    {Command::kGc, "GC"},
    {Command::kVersion, "VERSION"},
}};

constexpr std::array<const char*, 6> kVariables = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS",
                                                   "CNI_IFNAME",  "CNI_ARGS",        "CNI_PATH"};

Error invalid(const std::string& var, const std::string& value, const std::string& why) {
  return makeError(Errc::kInvalidArgument, var + " \"" + value + "\" is invalid: " + why);
}

Error missing(const std::string& var, Command command) {
  return makeError(Errc::kInvalidArgument,
                   var + " is not set; " + std::string(commandName(command)) + " requires it");
}

// The kernel's rules for a new interface name (dev_valid_name) as the CNI spec restates them.
podnet::Result<std::string> checkIfname(const std::string& name) {
  if (name.size() >= 16) return invalid("CNI_IFNAME", name, "longer than 15 characters");
  if (name == "." || name == "..") return invalid("CNI_IFNAME", name, "must not be . or ..");
  for (char c : name) {
    if (c == '/') return invalid("CNI_IFNAME", name, "must not contain '/'");
    if (c == ':') return invalid("CNI_IFNAME", name, "must not contain ':'");
    if (std::isspace(static_cast<unsigned char>(c))) {
      return invalid("CNI_IFNAME", name, "must not contain whitespace");
    }
  }
  return name;
}

// CNI_ARGS is "K=V;K2=V2". Empty pairs (a trailing ';') are skipped; the value may be empty and
// may itself contain '='.
podnet::Result<std::map<std::string, std::string>> parseArgs(const std::string& raw) {
  std::map<std::string, std::string> args;
  size_t start = 0;
  while (start <= raw.size()) {
    size_t end = raw.find(';', start);
    if (end == std::string::npos) end = raw.size();
    std::string pair = raw.substr(start, end - start);
    start = end + 1;
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return invalid("CNI_ARGS", raw, "pair \"" + pair + "\" is not of the form KEY=VALUE");
    }
    args[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  return args;
}

}  // namespace

std::string_view commandName(Command command) {
  for (const auto& [c, name] : kCommands) {
    if (c == command) return name;
  }
  return "UNKNOWN";
}

bool isValidCniName(std::string_view name) {
  if (name.empty() || !std::isalnum(static_cast<unsigned char>(name[0]))) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

podnet::Result<Env> parseEnv(const EnvLookup& lookup) {
  auto get = [&](const char* var) {
    auto v = lookup(var);
    return v ? std::move(*v) : std::string();
  };

  Env env;
  std::string command = get("CNI_COMMAND");
  if (command.empty()) {
    return makeError(
        Errc::kInvalidArgument,
        "CNI_COMMAND is not set; it must be one of ADD, DEL, CHECK, STATUS, GC, VERSION");
  }
  bool known = false;
  for (const auto& [c, name] : kCommands) {
    if (name == command) {
      env.command = c;
      known = true;
    }
  }
  if (!known) {
    return invalid("CNI_COMMAND", command, "must be one of ADD, DEL, CHECK, STATUS, GC, VERSION");
  }
  env.path = get("CNI_PATH");
  if (env.command == Command::kVersion || env.command == Command::kStatus ||
      env.command == Command::kGc) {
    return env;
  }

  env.containerId = get("CNI_CONTAINERID");
  if (env.containerId.empty()) return missing("CNI_CONTAINERID", env.command);
  if (!isValidCniName(env.containerId)) {
    return invalid("CNI_CONTAINERID", env.containerId,
                   "must start with a letter or digit and contain only letters, digits, '_', "
                   "'.' and '-'");
  }

  env.netns = get("CNI_NETNS");
  if (env.netns.empty() && env.command != Command::kDel) {
    return missing("CNI_NETNS", env.command);
  }
  if (!env.netns.empty() && env.netns[0] != '/') {
    return invalid("CNI_NETNS", env.netns, "must be an absolute path to a network namespace");
  }

  env.ifname = get("CNI_IFNAME");
  if (env.ifname.empty()) return missing("CNI_IFNAME", env.command);
  PODNET_TRY(checkIfname(env.ifname));

  env.rawArgs = get("CNI_ARGS");
  env.args = PODNET_TRY(parseArgs(env.rawArgs));
  return env;
}

nlohmann::json envToJson(const Env& env) {
  nlohmann::json j = {{"CNI_COMMAND", commandName(env.command)}};
  auto put = [&](const char* var, const std::string& value) {
    if (!value.empty()) j[var] = value;
  };
  put("CNI_CONTAINERID", env.containerId);
  put("CNI_NETNS", env.netns);
  put("CNI_IFNAME", env.ifname);
  put("CNI_ARGS", env.rawArgs);
  put("CNI_PATH", env.path);
  return j;
}

podnet::Result<Env> envFromJson(const nlohmann::json& json) {
  if (!json.is_object()) return makeError(Errc::kDecode, "env: expected a JSON object");
  for (const char* var : kVariables) {
    auto it = json.find(var);
    if (it != json.end() && !it->is_string()) {
      return makeError(Errc::kDecode, std::string("env.") + var + ": expected a string");
    }
  }
  return parseEnv([&](const std::string& var) -> std::optional<std::string> {
    auto it = json.find(var);
    if (it == json.end()) return std::nullopt;
    return it->get<std::string>();
  });
}

}  // namespace podnet::cni
