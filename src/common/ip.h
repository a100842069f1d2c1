// IPv4 addresses and prefixes as plain values. One parser for the whole project, so the CNI
// config, the pool, the store keys and netlink all agree on what "10.244.0.5/16" means.
#pragma once

#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace podnet {

struct Ipv4 {
  uint32_t value = 0;  // host byte order

  static Result<Ipv4> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Ipv4&) const = default;
};

struct Ipv4Prefix {
  Ipv4 addr;  // as written; use network() for the masked base
  uint8_t len = 0;

  // Parses "a.b.c.d/len". Host bits are kept as written (an interface address keeps them).
  static Result<Ipv4Prefix> parse(std::string_view text);
  std::string str() const;

  uint32_t mask() const { return len == 0 ? 0 : ~uint32_t{0} << (32 - len); }
  Ipv4 network() const { return Ipv4{addr.value & mask()}; }
  Ipv4 broadcast() const { return Ipv4{network().value | ~mask()}; }
  uint64_t size() const { return uint64_t{1} << (32 - len); }
  bool contains(Ipv4 ip) const { return (ip.value & mask()) == network().value; }
  bool overlaps(const Ipv4Prefix& other) const {
    uint8_t shorter = len < other.len ? len : other.len;
    uint32_t m = shorter == 0 ? 0 : ~uint32_t{0} << (32 - shorter);
    return (addr.value & m) == (other.addr.value & m);
  }
  auto operator<=>(const Ipv4Prefix&) const = default;
};

}  // namespace podnet
