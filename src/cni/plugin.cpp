#include "cni/plugin.h"

#include "cni/config.h"
#include "cni/result_codec.h"
#include "cni/version.h"

namespace podnet::cni {

namespace jf = podnet::json_fields;

namespace {

PluginOutput print(const nlohmann::json& j, int exitCode = 0) {
  return PluginOutput{exitCode, jf::dump(j) + "\n"};
}

PluginOutput fail(const CniError& error, std::string_view cniVersion) {
  return print(errorJson(error, cniVersion), 1);
}

// The agent's error object, or nullopt when the answer is not of the agreed shape.
std::optional<CniError> agentError(const nlohmann::json& answer) {
  auto* e = answer.is_object() ? jf::member(answer, "error") : nullptr;
  if (!e || !e->is_object()) return std::nullopt;
  auto code = e->find("code");
  if (code == e->end() || !code->is_number_integer()) return std::nullopt;
  CniError error{code->get<int>(), "", ""};
  if (auto* msg = jf::member(*e, "msg"); msg && msg->is_string())
    error.msg = msg->get<std::string>();
  if (auto* details = jf::member(*e, "details"); details && details->is_string()) {
    error.details = details->get<std::string>();
  }
  return error;
}

}  // namespace

PluginOutput runPlugin(const EnvLookup& envLookup, std::string_view stdinText,
                       AgentTransport& agent) {
  auto env = parseEnv(envLookup);
  if (!env) return fail({kInvalidEnvironment, env.error().message, ""}, reportVersion(stdinText));
  if (env->command == Command::kVersion) return print(versionJson(reportVersion(stdinText)));

  auto conf = parseNetConf(stdinText, env->command);
  if (!conf) {
    return fail({cniCodeForConfigError(conf.error()), conf.error().message, ""},
                reportVersion(stdinText));
  }
  const std::string& version = conf->cniVersion;
  const std::string socket = conf->socket.empty() ? kDefaultSocket : conf->socket;

  nlohmann::json request = {{"op", "cni"}, {"env", envToJson(*env)}, {"config", conf->raw}};
  auto answer = agent.call(socket, request);
  if (!answer) {
    const Error& e = answer.error();
    if (e.code == Errc::kUnavailable) {
      int code = env->command == Command::kStatus ? kPluginNotAvailable : kTryAgainLater;
      return fail({code, "podnetd is not reachable (" + e.message + "); is podnetd running?", ""},
                  version);
    }
    return fail({kIoFailure, "podnetd at " + socket + ": " + e.message, ""}, version);
  }

  auto ok = answer->is_object() ? answer->find("ok") : answer->end();
  if (ok == answer->end() || !ok->is_boolean()) {
    return fail(
        {kIoFailure, "podnetd at " + socket + " sent a malformed answer", jf::dump(*answer)},
        version);
  }
  if (!ok->get<bool>()) {
    if (auto error = agentError(*answer)) return fail(*error, version);
    return fail({kIoFailure, "podnetd at " + socket + " sent a malformed error", jf::dump(*answer)},
                version);
  }
  if (env->command != Command::kAdd) return PluginOutput{};

  // ADD must print a result; an agent that sends none is broken, not successful.
  auto* result = jf::member(*answer, "result");
  if (!result)
    return fail({kIoFailure, "podnetd at " + socket + " sent no result for ADD", ""}, version);
  auto decoded = decodeResult(*result);
  if (!decoded) {
    return fail(
        {kIoFailure, "podnetd at " + socket + " sent an invalid result: " + decoded.error().message,
         ""},
        version);
  }
  return print(encodeResult(*decoded, version));
}

}  // namespace podnet::cni
