#include "common/mac.h"

#include <cstdio>

namespace podnet {
namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

Result<MacAddress> MacAddress::parse(std::string_view text) {
  // "aa:bb:cc:dd:ee:ff": 6 octets of 2 digits, 5 separators.
  MacAddress mac;
  bool wellFormed = text.size() == 17;
  for (size_t i = 0; wellFormed && i < mac.bytes.size(); ++i) {
    int hi = hexDigit(text[3 * i]);
    int lo = hexDigit(text[3 * i + 1]);
    wellFormed = hi >= 0 && lo >= 0 && (i == 5 || text[3 * i + 2] == ':');
    mac.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  if (!wellFormed) {
    return makeError(
        Errc::kInvalidArgument,
        "\"" + std::string(text) + "\" is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
  }
  return mac;
}

std::string MacAddress::str() const {
  char out[18];
  std::snprintf(out, sizeof(out), "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return out;
}

}  // namespace podnet
