#include "cni/result_codec.h"

#include "cni/version.h"

namespace podnet::cni {

namespace jf = podnet::json_fields;

namespace {

std::string at(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

nlohmann::json encodeDns(const Dns& dns) {
  nlohmann::json j = nlohmann::json::object();
  if (!dns.nameservers.empty()) j["nameservers"] = dns.nameservers;
  if (!dns.domain.empty()) j["domain"] = dns.domain;
  if (!dns.search.empty()) j["search"] = dns.search;
  if (!dns.options.empty()) j["options"] = dns.options;
  return j;
}

podnet::Result<Interface> decodeInterface(const nlohmann::json& v, const std::string& path) {
  PODNET_TRY_STATUS(kCniFields.expectObject(v, path));
  Interface itf;
  if (auto* f = jf::member(v, "name")) itf.name = PODNET_TRY(kCniFields.string(*f, path + ".name"));
  if (auto* f = jf::member(v, "mac")) itf.mac = PODNET_TRY(kCniFields.string(*f, path + ".mac"));
  if (auto* f = jf::member(v, "mtu")) itf.mtu = PODNET_TRY(kCniFields.integer(*f, path + ".mtu"));
  if (auto* f = jf::member(v, "sandbox")) {
    itf.sandbox = PODNET_TRY(kCniFields.string(*f, path + ".sandbox"));
  }
  return itf;
}

podnet::Result<IpConfig> decodeIp(const nlohmann::json& v, const std::string& path,
                                  size_t interfaceCount) {
  PODNET_TRY_STATUS(kCniFields.expectObject(v, path));
  IpConfig ip;
  if (auto* f = jf::member(v, "version")) {
    auto version = PODNET_TRY(kCniFields.string(*f, path + ".version"));
    if (version != "4") {
      return makeError(Errc::kDecode,
                       path + ".version \"" + version + "\" is not supported: podnet is IPv4-only");
    }
  }
  auto* address = jf::member(v, "address");
  if (!address) return makeError(Errc::kDecode, path + ".address is missing");
  auto prefix = Ipv4Prefix::parse(PODNET_TRY(kCniFields.string(*address, path + ".address")));
  if (!prefix) return makeError(Errc::kDecode, path + ".address: " + prefix.error().message);
  ip.address = *prefix;
  if (auto* f = jf::member(v, "gateway")) {
    auto gw = Ipv4::parse(PODNET_TRY(kCniFields.string(*f, path + ".gateway")));
    if (!gw) return makeError(Errc::kDecode, path + ".gateway: " + gw.error().message);
    ip.gateway = *gw;
  }
  if (auto* f = jf::member(v, "interface")) {
    int index = PODNET_TRY(kCniFields.integer(*f, path + ".interface"));
    if (index < 0 || size_t(index) >= interfaceCount) {
      return makeError(Errc::kDecode, path + ".interface " + std::to_string(index) +
                                          " does not index into interfaces (" +
                                          std::to_string(interfaceCount) + " entries)");
    }
    ip.interface = index;
  }
  return ip;
}

podnet::Result<Route> decodeRoute(const nlohmann::json& v, const std::string& path) {
  PODNET_TRY_STATUS(kCniFields.expectObject(v, path));
  Route route;
  auto* dst = jf::member(v, "dst");
  if (!dst) return makeError(Errc::kDecode, path + ".dst is missing");
  auto prefix = Ipv4Prefix::parse(PODNET_TRY(kCniFields.string(*dst, path + ".dst")));
  if (!prefix) return makeError(Errc::kDecode, path + ".dst: " + prefix.error().message);
  route.dst = *prefix;
  if (auto* f = jf::member(v, "gw")) {
    auto gw = Ipv4::parse(PODNET_TRY(kCniFields.string(*f, path + ".gw")));
    if (!gw) return makeError(Errc::kDecode, path + ".gw: " + gw.error().message);
    route.gw = *gw;
  }
  for (auto [key, field] : {std::pair{"mtu", &Route::mtu},
                            {"advmss", &Route::advmss},
                            {"priority", &Route::priority},
                            {"table", &Route::table},
                            {"scope", &Route::scope}}) {
    if (auto* f = jf::member(v, key))
      route.*field = PODNET_TRY(kCniFields.integer(*f, path + "." + key));
  }
  return route;
}

}  // namespace

nlohmann::json encodeResult(const cni::Result& result, std::string_view cniVersion) {
  const bool ipVersionField = compareVersions(cniVersion, "1.0.0") < 0;
  const bool v110 = compareVersions(cniVersion, "1.1.0") >= 0;
  nlohmann::json j = {{"cniVersion", cniVersion}};

  if (!result.interfaces.empty()) {
    auto& out = j["interfaces"] = nlohmann::json::array();
    for (const auto& itf : result.interfaces) {
      nlohmann::json e = {{"name", itf.name}};
      if (!itf.mac.empty()) e["mac"] = itf.mac;
      if (v110 && itf.mtu) e["mtu"] = *itf.mtu;
      if (!itf.sandbox.empty()) e["sandbox"] = itf.sandbox;
      out.push_back(std::move(e));
    }
  }
  if (!result.ips.empty()) {
    auto& out = j["ips"] = nlohmann::json::array();
    for (const auto& ip : result.ips) {
      nlohmann::json e = nlohmann::json::object();
      if (ipVersionField) e["version"] = "4";
      e["address"] = ip.address.str();
      if (ip.gateway) e["gateway"] = ip.gateway->str();
      if (ip.interface) e["interface"] = *ip.interface;
      out.push_back(std::move(e));
    }
  }
  if (!result.routes.empty()) {
    auto& out = j["routes"] = nlohmann::json::array();
    for (const auto& route : result.routes) {
      nlohmann::json e = {{"dst", route.dst.str()}};
      if (route.gw) e["gw"] = route.gw->str();
      if (v110) {
        if (route.mtu) e["mtu"] = *route.mtu;
        if (route.advmss) e["advmss"] = *route.advmss;
        if (route.priority) e["priority"] = *route.priority;
        if (route.table) e["table"] = *route.table;
        if (route.scope) e["scope"] = *route.scope;
      }
      out.push_back(std::move(e));
    }
  }
  if (!result.dns.empty()) j["dns"] = encodeDns(result.dns);
  return j;
}

podnet::Result<Dns> dnsFromJson(const nlohmann::json& v, const std::string& path) {
  PODNET_TRY_STATUS(kCniFields.expectObject(v, path));
  Dns dns;
  if (auto* f = jf::member(v, "nameservers")) {
    dns.nameservers = PODNET_TRY(kCniFields.stringList(*f, path + ".nameservers"));
  }
  if (auto* f = jf::member(v, "domain"))
    dns.domain = PODNET_TRY(kCniFields.string(*f, path + ".domain"));
  if (auto* f = jf::member(v, "search")) {
    dns.search = PODNET_TRY(kCniFields.stringList(*f, path + ".search"));
  }
  if (auto* f = jf::member(v, "options")) {
    dns.options = PODNET_TRY(kCniFields.stringList(*f, path + ".options"));
  }
  return dns;
}

podnet::Result<cni::Result> decodeResult(const nlohmann::json& json) {
  PODNET_TRY_STATUS(kCniFields.expectObject(json, "result"));
  cni::Result result;
  if (auto* f = jf::member(json, "interfaces")) {
    PODNET_TRY_STATUS(kCniFields.expectArray(*f, "interfaces"));
    for (size_t i = 0; i < f->size(); ++i) {
      result.interfaces.push_back(PODNET_TRY(decodeInterface((*f)[i], at("interfaces", i))));
    }
  }
  if (auto* f = jf::member(json, "ips")) {
    PODNET_TRY_STATUS(kCniFields.expectArray(*f, "ips"));
    for (size_t i = 0; i < f->size(); ++i) {
      result.ips.push_back(PODNET_TRY(decodeIp((*f)[i], at("ips", i), result.interfaces.size())));
    }
  }
  if (auto* f = jf::member(json, "routes")) {
    PODNET_TRY_STATUS(kCniFields.expectArray(*f, "routes"));
    for (size_t i = 0; i < f->size(); ++i) {
      result.routes.push_back(PODNET_TRY(decodeRoute((*f)[i], at("routes", i))));
    }
  }
  if (auto* f = jf::member(json, "dns")) result.dns = PODNET_TRY(dnsFromJson(*f, "dns"));
  return result;
}

nlohmann::json errorJson(const CniError& error, std::string_view cniVersion) {
  nlohmann::json j = {{"cniVersion", isSupportedVersion(cniVersion) ? cniVersion : kLatestVersion},
                      {"code", error.code},
                      {"msg", error.msg}};
  if (!error.details.empty()) j["details"] = error.details;
  return j;
}

}  // namespace podnet::cni
