// An address pool: a CIDR with its gateway and excluded ranges, and which of its addresses may be
// handed to pods. Pure values; the Allocator keeps the reservations in the store.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip.h"
#include "common/result.h"

namespace podnet::ipam {

struct IpRange {
  Ipv4 first, last;  // inclusive

  // "10.244.0.10", "10.244.0.10..10.244.0.20", or "10.244.1.0/24" (host bits are masked).
  static Result<IpRange> parse(std::string_view text);
  std::string str() const;  // the first two forms above
  bool contains(Ipv4 ip) const { return first <= ip && ip <= last; }
  auto operator<=>(const IpRange&) const = default;
};

struct PoolConfig {
  std::string name = "default";
  Ipv4Prefix cidr;
  std::optional<Ipv4> gateway;
  std::vector<IpRange> exclude;
};

class Pool {
 public:
  // Validates and normalizes: the cidr is masked to its network, its length must be <= 30; the
  // gateway defaults to the first address after the network and must be a host address of the
  // cidr; every exclude range must lie inside the cidr. Errors name the pool and the field.
  static Result<Pool> create(PoolConfig config);

  const PoolConfig& config() const { return config_; }  // normalized
  Ipv4 gateway() const { return *config_.gateway; }
  // Inside the cidr, not the network, broadcast or gateway address, not excluded.
  bool usable(Ipv4 ip) const;
  uint64_t capacity() const { return capacity_; }  // number of usable addresses
  Ipv4Prefix interfaceAddress(Ipv4 ip) const { return Ipv4Prefix{ip, config_.cidr.len}; }

 private:
  explicit Pool(PoolConfig config);

  PoolConfig config_;
  std::vector<IpRange> excluded_;  // config_.exclude sorted and merged, for lookups
  uint64_t capacity_ = 0;
};

}  // namespace podnet::ipam
