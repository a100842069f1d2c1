// parseDocuments and decodeObject on arbitrary text. Beyond "never crash, never hang", checks what
// podnetctl and podnetd rely on: every document is an object whose JSON encodes without throwing
// (it travels to the agent as JSON) and parses back as the same object; an object that decodes
// encodes and decodes to the same value.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "model/manifest.h"

using namespace podnet::model;

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto docs = parseDocuments(text, "fuzz.yaml");
  if (!docs) {
    check(!docs.error().message.empty());
    return 0;
  }
  for (const Document& doc : *docs) {
    check(doc.body.is_object() && doc.index >= 1);
    std::string json = doc.body.dump();  // throws (and so aborts) on a string that is not UTF-8
    auto again = parseDocuments(json, "again.json");
    check(again.ok() && again->size() == 1 && (*again)[0].body == doc.body);

    auto object = decodeObject(doc);
    if (!object) {
      check(object.error().message.rfind(doc.describe(), 0) == 0);
      continue;
    }
    check(checkKindAndName(doc).ok());
    if (const auto* subnet = std::get_if<Subnet>(&*object)) {
      auto decoded = subnetFromJson(toJson(*subnet));
      check(decoded.ok() && *decoded == *subnet && validate(*decoded).ok());
    } else if (const auto* ns = std::get_if<Namespace>(&*object)) {
      auto decoded = namespaceFromJson(toJson(*ns));
      check(decoded.ok() && decoded->metadata.name == ns->metadata.name &&
            decoded->metadata.labels == ns->metadata.labels &&
            decoded->metadata.annotations == ns->metadata.annotations);
    }
  }
  return 0;
}
