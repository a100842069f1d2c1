// parseEnv with fuzzed CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME and CNI_ARGS. Checks
// that an accepted environment survives the agent RPC (envToJson -> envFromJson) unchanged.
#include <fuzzer/FuzzedDataProvider.h>

#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>

#include "cni/env.h"

using namespace podnet::cni;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static constexpr std::array<const char*, 7> kCommands = {"ADD", "DEL",     "CHECK", "STATUS",
                                                           "GC",  "VERSION", "BOGUS"};
  std::map<std::string, std::string> vars;
  vars["CNI_COMMAND"] = in.PickValueInArray(kCommands);
  for (const char* var : {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME", "CNI_PATH"}) {
    if (in.ConsumeBool()) vars[var] = in.ConsumeRandomLengthString(64);
  }
  vars["CNI_ARGS"] = in.ConsumeRemainingBytesAsString();

  auto env = parseEnv([&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
  if (!env) {
    if (env.error().message.find("CNI_") == std::string::npos) std::abort();  // must name the var
    return 0;
  }
  // Strings that are not UTF-8 cannot cross JSON intact; the RPC replaces them, and the agent sees
  // the replacement. Only valid UTF-8 input must round-trip exactly.
  auto json = envToJson(*env);
  std::string text = json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  auto back = envFromJson(nlohmann::json::parse(text));
  bool utf8 = text == json.dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore);
  if (utf8 &&
      (!back || back->command != env->command || back->containerId != env->containerId ||
       back->netns != env->netns || back->ifname != env->ifname || back->args != env->args)) {
    std::abort();
  }
  return 0;
}
