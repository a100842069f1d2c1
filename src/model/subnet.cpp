#include "model/subnet.h"

#include <algorithm>
#include <set>

namespace podnet::model {
namespace {

constexpr const char* kApiVersion = "podnet.io/v1";
constexpr const char* kKind = "Subnet";

Error invalid(const std::string& who, const std::string& message) {
  return makeError(Errc::kInvalidArgument, who + ": " + message);
}

bool lowerAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

Result<std::vector<std::string>> stringList(const nlohmann::json& spec, const std::string& field,
                                            const std::string& who) {
  std::vector<std::string> out;
  if (!spec.contains(field) || spec[field].is_null()) return out;
  const auto& list = spec[field];
  if (!list.is_array()) return invalid(who, "spec." + field + ": must be a list of strings");
  for (size_t i = 0; i < list.size(); ++i) {
    if (!list[i].is_string()) {
      return invalid(who, "spec." + field + "[" + std::to_string(i) + "]: must be a string");
    }
    out.push_back(list[i].get<std::string>());
  }
  return out;
}

}  // namespace

bool isDnsLabel(const std::string& s) {
  if (s.empty() || s.size() > 63 || !lowerAlnum(s.front()) || !lowerAlnum(s.back())) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return lowerAlnum(c) || c == '-'; });
}

bool isDnsSubdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t start = 0;
  while (true) {
    size_t dot = s.find('.', start);
    if (!isDnsLabel(s.substr(start, dot - start))) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

nlohmann::json toJson(const Subnet& subnet) {
  nlohmann::json spec = {{"cidrBlock", subnet.cidrBlock.str()}};
  if (subnet.gateway) spec["gateway"] = subnet.gateway->str();
  if (!subnet.excludeIps.empty()) {
    nlohmann::json exclude = nlohmann::json::array();
    for (const auto& range : subnet.excludeIps) exclude.push_back(range.str());
    spec["excludeIps"] = exclude;
  }
  if (!subnet.namespaces.empty()) spec["namespaces"] = subnet.namespaces;
  return {{"apiVersion", kApiVersion},
          {"kind", kKind},
          {"metadata", {{"name", subnet.name}}},
          {"spec", spec}};
}

Result<Subnet> subnetFromJson(const nlohmann::json& j) {
  if (!j.is_object()) return invalid(kKind, "not a JSON object");
  if (j.value("apiVersion", nlohmann::json()) != kApiVersion) {
    return invalid(kKind, std::string("apiVersion: must be \"") + kApiVersion + "\"");
  }
  if (j.value("kind", nlohmann::json()) != kKind) {
    return invalid(kKind, "kind: must be \"Subnet\"");
  }
  const auto& meta = j.value("metadata", nlohmann::json());
  if (!meta.is_object() || !meta.contains("name") || !meta["name"].is_string() ||
      meta["name"].get<std::string>().empty()) {
    return invalid(kKind, "metadata.name: required");
  }
  Subnet subnet;
  subnet.name = meta["name"].get<std::string>();
  const std::string who = std::string(kKind) + " " + subnet.name;

  const auto& spec = j.value("spec", nlohmann::json());
  if (!spec.is_object()) return invalid(who, "spec: required, an object with spec.cidrBlock");
  for (const auto& [field, value] : spec.items()) {
    static const std::set<std::string> kKnown = {"cidrBlock", "gateway", "excludeIps",
                                                 "namespaces"};
    if (!kKnown.count(field)) {
      return invalid(
          who,
          "spec." + field + ": unknown field (known: cidrBlock, gateway, excludeIps, namespaces)");
    }
  }

  if (!spec.contains("cidrBlock") || !spec["cidrBlock"].is_string()) {
    return invalid(who, "spec.cidrBlock: required, a CIDR such as 10.1.0.0/16");
  }
  auto cidr = Ipv4Prefix::parse(spec["cidrBlock"].get<std::string>());
  if (!cidr) return cidr.error().context(who + ": spec.cidrBlock");
  subnet.cidrBlock = *cidr;

  if (spec.contains("gateway") && !spec["gateway"].is_null()) {
    if (!spec["gateway"].is_string()) return invalid(who, "spec.gateway: must be a string");
    auto gateway = Ipv4::parse(spec["gateway"].get<std::string>());
    if (!gateway) return gateway.error().context(who + ": spec.gateway");
    subnet.gateway = *gateway;
  }

  auto exclude = PODNET_TRY(stringList(spec, "excludeIps", who));
  for (size_t i = 0; i < exclude.size(); ++i) {
    auto range = ipam::IpRange::parse(exclude[i]);
    if (!range) return range.error().context(who + ": spec.excludeIps[" + std::to_string(i) + "]");
    subnet.excludeIps.push_back(*range);
  }
  subnet.namespaces = PODNET_TRY(stringList(spec, "namespaces", who));
  return subnet;
}

ipam::PoolConfig toPoolConfig(const Subnet& subnet) {
  ipam::PoolConfig config;
  config.name = subnet.name;
  config.cidr = subnet.cidrBlock;
  config.gateway = subnet.gateway;
  config.exclude = subnet.excludeIps;
  return config;
}

Status validate(const Subnet& subnet) {
  const std::string who = std::string(kKind) + " " + subnet.name;
  if (!isDnsSubdomain(subnet.name)) {
    return invalid(who, "metadata.name: \"" + subnet.name +
                            "\" is not a valid name (lowercase letters, digits, '-' and '.', "
                            "at most 253 characters, alphanumeric at both ends)");
  }
  const Ipv4Prefix& cidr = subnet.cidrBlock;
  if (cidr.len > 30) {
    return invalid(who, "spec.cidrBlock: " + cidr.str() +
                            " is too small (the prefix length must be at most 30)");
  }
  if (cidr.addr != cidr.network()) {
    return invalid(who, "spec.cidrBlock: " + cidr.str() + " has host bits set (did you mean " +
                            Ipv4Prefix{cidr.network(), cidr.len}.str() + "?)");
  }
  if (subnet.gateway) {
    Ipv4 gateway = *subnet.gateway;
    if (!cidr.contains(gateway)) {
      return invalid(who,
                     "spec.gateway: " + gateway.str() + " is outside spec.cidrBlock " + cidr.str());
    }
    if (gateway == cidr.network() || gateway == cidr.broadcast()) {
      return invalid(who, "spec.gateway: " + gateway.str() + " is the " +
                              (gateway == cidr.network() ? "network" : "broadcast") +
                              " address of spec.cidrBlock " + cidr.str());
    }
  }
  for (size_t i = 0; i < subnet.excludeIps.size(); ++i) {
    const ipam::IpRange& range = subnet.excludeIps[i];
    if (!cidr.contains(range.first) || !cidr.contains(range.last)) {
      return invalid(who, "spec.excludeIps[" + std::to_string(i) + "]: " + range.str() +
                              " is outside spec.cidrBlock " + cidr.str());
    }
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < subnet.namespaces.size(); ++i) {
    const std::string& ns = subnet.namespaces[i];
    const std::string field = "spec.namespaces[" + std::to_string(i) + "]: ";
    if (!isDnsLabel(ns)) {
      return invalid(who, field + "\"" + ns +
                              "\" is not a namespace name (lowercase letters, digits and '-', at "
                              "most 63 characters, alphanumeric at both ends)");
    }
    if (!seen.insert(ns).second) return invalid(who, field + "\"" + ns + "\" is listed twice");
  }
  // The checks above name the field; this builds the pool exactly as the allocator will, so a
  // subnet that passes here is one the allocator accepts.
  auto pool = ipam::Pool::create(toPoolConfig(subnet));
  if (!pool) return pool.error().context(who + ": spec");
  return okStatus();
}

Status validateAgainst(const Subnet& subnet, const std::vector<Subnet>& others) {
  const std::string who = std::string(kKind) + " " + subnet.name;
  for (const Subnet& other : others) {
    if (other.name == subnet.name) continue;
    if (subnet.cidrBlock.overlaps(other.cidrBlock)) {
      return invalid(who, "spec.cidrBlock: " + subnet.cidrBlock.str() + " overlaps Subnet " +
                              other.name + " (" + other.cidrBlock.str() + ")");
    }
    for (const std::string& ns : subnet.namespaces) {
      if (std::find(other.namespaces.begin(), other.namespaces.end(), ns) !=
          other.namespaces.end()) {
        return invalid(who, "spec.namespaces: namespace \"" + ns +
                                "\" is already bound to Subnet " + other.name +
                                " (a namespace takes its addresses from one subnet)");
      }
    }
  }
  return okStatus();
}

const Subnet* subnetForNamespace(const std::vector<Subnet>& subnets, const std::string& ns) {
  const Subnet* fallback = nullptr;
  for (const Subnet& subnet : subnets) {
    if (std::find(subnet.namespaces.begin(), subnet.namespaces.end(), ns) !=
        subnet.namespaces.end()) {
      return &subnet;
    }
    if (subnet.name == kDefaultSubnet) fallback = &subnet;
  }
  return fallback;
}

}  // namespace podnet::model
