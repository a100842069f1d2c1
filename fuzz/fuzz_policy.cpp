// decodePolicy on every document of arbitrary text. Beyond "never crash, never hang", checks what
// the registry and the agents rely on: a refusal says why, and a decoded policy is stored as
// toJson(), which must decode to the same policy (every agent reads the stored form).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "model/manifest.h"
#include "policy/network_policy.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = podnet::model::parseDocuments(text, "fuzz.yaml");
  if (!docs) return 0;
  for (const auto& doc : *docs) {
    auto policy = podnet::policy::decodePolicy(doc.body);
    if (!policy) {
      check(!policy.error().message.empty());
      continue;
    }
    auto stored = podnet::policy::toJson(*policy);
    auto again = podnet::policy::decodePolicy(nlohmann::json::parse(stored.dump()));
    check(again.ok() && *again == *policy);
  }
  return 0;
}
