#include "cni/result_codec.h"

#include "cni/json_fields.h"
#include "cni/version.h"

namespace podnet::cni {

namespace jf = json_fields;

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
  PODNET_TRY_STATUS(jf::expectObject(v, path));
  Interface itf;
  if (auto* f = jf::find(v, "name")) itf.name = PODNET_TRY(jf::asString(*f, path + ".name"));
  if (auto* f = jf::find(v, "mac")) itf.mac = PODNET_TRY(jf::asString(*f, path + ".mac"));
  if (auto* f = jf::find(v, "mtu")) itf.mtu = PODNET_TRY(jf::asInt(*f, path + ".mtu"));
  if (auto* f = jf::find(v, "sandbox")) {
    itf.sandbox = PODNET_TRY(jf::asString(*f, path + ".sandbox"));
  }
  return itf;
}

podnet::Result<IpConfig> decodeIp(const nlohmann::json& v, const std::string& path,
                                  size_t interfaceCount) {
  PODNET_TRY_STATUS(jf::expectObject(v, path));
  IpConfig ip;
  if (auto* f = jf::find(v, "version")) {
    auto version = PODNET_TRY(jf::asString(*f, path + ".version"));
    if (version != "4") {
      return makeError(Errc::kDecode,
                       path + ".version \"" + version + "\" is not supported: podnet is IPv4-only");
    }
  }
  auto* address = jf::find(v, "address");
  if (!address) return makeError(Errc::kDecode, path + ".address is missing");
  auto prefix = Ipv4Prefix::parse(PODNET_TRY(jf::asString(*address, path + ".address")));
  if (!prefix) return makeError(Errc::kDecode, path + ".address: " + prefix.error().message);
  ip.address = *prefix;
  if (auto* f = jf::find(v, "gateway")) {
    auto gw = Ipv4::parse(PODNET_TRY(jf::asString(*f, path + ".gateway")));
    if (!gw) return makeError(Errc::kDecode, path + ".gateway: " + gw.error().message);
    ip.gateway = *gw;
  }
  if (auto* f = jf::find(v, "interface")) {
    int index = PODNET_TRY(jf::asInt(*f, path + ".interface"));
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
  PODNET_TRY_STATUS(jf::expectObject(v, path));
  Route route;
  auto* dst = jf::find(v, "dst");
  if (!dst) return makeError(Errc::kDecode, path + ".dst is missing");
  auto prefix = Ipv4Prefix::parse(PODNET_TRY(jf::asString(*dst, path + ".dst")));
  if (!prefix) return makeError(Errc::kDecode, path + ".dst: " + prefix.error().message);
  route.dst = *prefix;
  if (auto* f = jf::find(v, "gw")) {
    auto gw = Ipv4::parse(PODNET_TRY(jf::asString(*f, path + ".gw")));
    if (!gw) return makeError(Errc::kDecode, path + ".gw: " + gw.error().message);
    route.gw = *gw;
  }
  for (auto [key, field] : {std::pair{"mtu", &Route::mtu},
                            {"advmss", &Route::advmss},
                            {"priority", &Route::priority},
                            {"table", &Route::table},
                            {"scope", &Route::scope}}) {
    if (auto* f = jf::find(v, key)) route.*field = PODNET_TRY(jf::asInt(*f, path + "." + key));
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

podnet::Result<cni::Result> decodeResult(const nlohmann::json& json) {
  PODNET_TRY_STATUS(jf::expectObject(json, "result"));
  cni::Result result;
  if (auto* f = jf::find(json, "interfaces")) {
    PODNET_TRY_STATUS(jf::expectArray(*f, "interfaces"));
    for (size_t i = 0; i < f->size(); ++i) {
      result.interfaces.push_back(PODNET_TRY(decodeInterface((*f)[i], at("interfaces", i))));
    }
  }
  if (auto* f = jf::find(json, "ips")) {
    PODNET_TRY_STATUS(jf::expectArray(*f, "ips"));
    for (size_t i = 0; i < f->size(); ++i) {
      result.ips.push_back(PODNET_TRY(decodeIp((*f)[i], at("ips", i), result.interfaces.size())));
    }
  }
  if (auto* f = jf::find(json, "routes")) {
    PODNET_TRY_STATUS(jf::expectArray(*f, "routes"));
    for (size_t i = 0; i < f->size(); ++i) {
      result.routes.push_back(PODNET_TRY(decodeRoute((*f)[i], at("routes", i))));
    }
  }
  if (auto* f = jf::find(json, "dns")) result.dns = PODNET_TRY(jf::asDns(*f, "dns"));
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
