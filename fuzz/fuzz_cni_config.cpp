// parseNetConf on arbitrary stdin for every command. Beyond "never crash", checks what the agent
// relies on: a config the plugin accepted parses again, unchanged, from NetConf::raw, and a
// prevResult survives encoding in every version.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "cni/config.h"
#include "cni/result_codec.h"
#include "cni/version.h"

using namespace podnet::cni;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)reportVersion(text);
  for (auto command : {Command::kAdd, Command::kDel, Command::kCheck, Command::kStatus,
                       Command::kGc, Command::kVersion}) {
    auto conf = parseNetConf(text, command);
    if (!conf) continue;
    auto again = parseNetConf(conf->raw.dump(), command);
    if (!again || again->cniVersion != conf->cniVersion || again->name != conf->name ||
        again->mtu != conf->mtu || again->validAttachments != conf->validAttachments) {
      std::abort();
    }
    if (!conf->prevResult) continue;
    for (auto version : kSupportedVersions) {
      auto encoded = encodeResult(*conf->prevResult, version);
      auto decoded = decodeResult(encoded);
      if (!decoded || encodeResult(*decoded, version) != encoded) std::abort();
    }
  }
  return 0;
}
