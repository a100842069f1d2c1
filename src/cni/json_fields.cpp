#include "cni/json_fields.h"

#include <limits>

namespace podnet::cni::json_fields {

namespace {

constexpr int kMaxDepth = 64;

Error wrongType(const std::string& path, const char* expected, const nlohmann::json& v) {
  return makeError(Errc::kDecode,
                   path + ": expected " + expected + ", got " + std::string(v.type_name()));
}

}  // namespace

podnet::Result<nlohmann::json> parse(std::string_view text, std::string_view what) {
  bool tooDeep = false;
  auto limitDepth = [&](int depth, nlohmann::json::parse_event_t, nlohmann::json&) {
    if (depth > kMaxDepth) tooDeep = true;
    return !tooDeep;
  };
  try {
    auto j = nlohmann::json::parse(text.begin(), text.end(), limitDepth);
    if (tooDeep) {
      return makeError(Errc::kDecode, std::string(what) + " nests deeper than " +
                                          std::to_string(kMaxDepth) + " levels");
    }
    return j;
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::kDecode, std::string(what) + " is not valid JSON: " + e.what());
  }
}

const nlohmann::json* find(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

podnet::Status expectObject(const nlohmann::json& v, const std::string& path) {
  if (!v.is_object()) return wrongType(path, "an object", v);
  return okStatus();
}

podnet::Status expectArray(const nlohmann::json& v, const std::string& path) {
  if (!v.is_array()) return wrongType(path, "an array", v);
  return okStatus();
}

podnet::Result<std::string> asString(const nlohmann::json& v, const std::string& path) {
  if (!v.is_string()) return wrongType(path, "a string", v);
  return v.get<std::string>();
}

podnet::Result<int> asInt(const nlohmann::json& v, const std::string& path) {
  if (v.is_number_unsigned()) {
    auto n = v.get<uint64_t>();
    if (n <= uint64_t(std::numeric_limits<int>::max())) return int(n);
  } else if (v.is_number_integer()) {
    auto n = v.get<int64_t>();
    if (n >= std::numeric_limits<int>::min() && n <= std::numeric_limits<int>::max()) {
      return int(n);
    }
  } else {
    return wrongType(path, "an integer", v);
  }
  return makeError(Errc::kDecode, path + ": " + v.dump() + " is out of range");
}

podnet::Result<bool> asBool(const nlohmann::json& v, const std::string& path) {
  if (!v.is_boolean()) return wrongType(path, "a boolean", v);
  return v.get<bool>();
}

podnet::Result<std::vector<std::string>> asStringList(const nlohmann::json& v,
                                                      const std::string& path) {
  PODNET_TRY_STATUS(expectArray(v, path));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) {
    out.push_back(PODNET_TRY(asString(v[i], path + "[" + std::to_string(i) + "]")));
  }
  return out;
}

podnet::Result<Dns> asDns(const nlohmann::json& v, const std::string& path) {
  PODNET_TRY_STATUS(expectObject(v, path));
  Dns dns;
  if (auto* f = find(v, "nameservers")) {
    dns.nameservers = PODNET_TRY(asStringList(*f, path + ".nameservers"));
  }
  if (auto* f = find(v, "domain")) dns.domain = PODNET_TRY(asString(*f, path + ".domain"));
  if (auto* f = find(v, "search")) dns.search = PODNET_TRY(asStringList(*f, path + ".search"));
  if (auto* f = find(v, "options")) dns.options = PODNET_TRY(asStringList(*f, path + ".options"));
  return dns;
}

std::string dump(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace podnet::cni::json_fields
