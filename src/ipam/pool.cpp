#include "ipam/pool.h"

#include <algorithm>

namespace podnet::ipam {

Result<IpRange> IpRange::parse(std::string_view text) {
  auto fail = [&](const Error& error) {
    return error.context("range \"" + std::string(text) + "\"");
  };
  if (text.find('/') != std::string_view::npos) {
    auto prefix = Ipv4Prefix::parse(text);
    if (!prefix) return fail(prefix.error());
    return IpRange{prefix->network(), prefix->broadcast()};
  }
  auto dots = text.find("..");
  auto first = Ipv4::parse(text.substr(0, dots));
  if (!first) return fail(first.error());
  if (dots == std::string_view::npos) return IpRange{*first, *first};
  auto last = Ipv4::parse(text.substr(dots + 2));
  if (!last) return fail(last.error());
  if (*last < *first) return fail(makeError(Errc::kInvalidArgument, "first address is after last"));
  return IpRange{*first, *last};
}

std::string IpRange::str() const {
  return first == last ? first.str() : first.str() + ".." + last.str();
}

Result<Pool> Pool::create(PoolConfig config) {
  auto fail = [&](const std::string& message) {
    return makeError(Errc::kInvalidArgument, "pool " + config.name + ": " + message);
  };
  // The name becomes a store key segment ("/podnet/ipam/<name>/..."), so '/' would alias pools.
  if (config.name.empty() || config.name.find('/') != std::string::npos) {
    return fail("name must be non-empty and must not contain '/'");
  }
  Ipv4Prefix& cidr = config.cidr;
  if (cidr.len > 30) {
    return fail("cidr " + cidr.str() + " is too small (the prefix length must be at most 30)");
  }
  cidr.addr = cidr.network();
  if (!config.gateway) config.gateway = Ipv4{cidr.network().value + 1};
  Ipv4 gateway = *config.gateway;
  if (!cidr.contains(gateway)) {
    return fail("gateway " + gateway.str() + " is outside cidr " + cidr.str());
  }
  if (gateway == cidr.network() || gateway == cidr.broadcast()) {
    return fail("gateway " + gateway.str() + " is the " +
                (gateway == cidr.network() ? "network" : "broadcast") + " address of cidr " +
                cidr.str());
  }
  for (const IpRange& range : config.exclude) {
    if (range.last < range.first) {
      return fail("exclude " + range.str() + ": first address is after last");
    }
    if (!cidr.contains(range.first) || !cidr.contains(range.last)) {
      return fail("exclude " + range.str() + " is outside cidr " + cidr.str());
    }
  }
  return Pool(std::move(config));
}

Pool::Pool(PoolConfig config) : config_(std::move(config)), excluded_(config_.exclude) {
  std::sort(excluded_.begin(), excluded_.end());
  std::vector<IpRange> merged;
  for (const IpRange& range : excluded_) {
    if (!merged.empty() && uint64_t{range.first.value} <= uint64_t{merged.back().last.value} + 1) {
      merged.back().last = std::max(merged.back().last, range.last);
    } else {
      merged.push_back(range);
    }
  }
  excluded_ = std::move(merged);

  const Ipv4Prefix& cidr = config_.cidr;
  uint64_t excluded = 0;
  for (const IpRange& range : excluded_)
    excluded += uint64_t{range.last.value} - range.first.value + 1;
  // The network, broadcast and gateway addresses are never usable; do not count them twice.
  for (Ipv4 reserved : {cidr.network(), cidr.broadcast(), gateway()}) {
    if (std::any_of(excluded_.begin(), excluded_.end(),
                    [&](const IpRange& r) { return r.contains(reserved); })) {
      --excluded;
    }
  }
  capacity_ = cidr.size() - 3 - excluded;
}

bool Pool::usable(Ipv4 ip) const {
  const Ipv4Prefix& cidr = config_.cidr;
  if (!cidr.contains(ip) || ip == cidr.network() || ip == cidr.broadcast() || ip == gateway()) {
    return false;
  }
  // excluded_ is sorted and disjoint: only the last range starting at or before ip can hold it.
  auto after = std::upper_bound(excluded_.begin(), excluded_.end(), ip,
                                [](Ipv4 value, const IpRange& r) { return value < r.first; });
  return after == excluded_.begin() || !std::prev(after)->contains(ip);
}

}  // namespace podnet::ipam
