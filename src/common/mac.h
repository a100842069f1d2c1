// Ethernet (EUI-48) addresses as plain values: one parser and one spelling ("0a:1b:2c:3d:4e:5f",
// lower case) for the attachment records, the CNI results and the netlink side.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace podnet {

struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  // Six two-digit hex octets separated by ':' (either case); anything else is kInvalidArgument.
  static Result<MacAddress> parse(std::string_view text);
  std::string str() const;  // lower case, colon-separated
  auto operator<=>(const MacAddress&) const = default;
};

}  // namespace podnet
