#include "common/json_fields.h"

#include <cstdint>
#include <limits>

namespace podnet::json_fields {
namespace {

constexpr int kMaxDepth = 64;

}  // namespace

Result<nlohmann::json> parse(std::string_view text, std::string_view what) {
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

std::string dump(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

const nlohmann::json* member(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string at(const std::string& path, size_t index) {
  return path + "[" + std::to_string(index) + "]";
}

std::string dot(const std::string& path, std::string_view name) {
  return path.empty() ? std::string(name) : path + "." + std::string(name);
}

const char* typeName(const nlohmann::json& v) {
  if (v.is_object()) return "an object";
  if (v.is_array()) return "a list";
  if (v.is_string()) return "a string";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number()) return "a number";
  return "null";
}

Error FieldReader::error(const std::string& path, const std::string& what) const {
  return makeError(code_, path + ": " + what);
}

Error FieldReader::wrongType(const std::string& path, const char* expected,
                             const nlohmann::json& v) const {
  return error(path, std::string("must be ") + expected + ", not " + typeName(v));
}

Status FieldReader::expectObject(const nlohmann::json& v, const std::string& path) const {
  if (!v.is_object()) return wrongType(path, "an object", v);
  return okStatus();
}

Status FieldReader::expectArray(const nlohmann::json& v, const std::string& path) const {
  if (!v.is_array()) return wrongType(path, "a list", v);
  return okStatus();
}

Status FieldReader::checkObject(const nlohmann::json& v, const std::string& path,
                                std::initializer_list<std::string_view> allowed) const {
  PODNET_TRY_STATUS(expectObject(v, path));
  for (const auto& [key, value] : v.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string names;
      for (std::string_view a : allowed) names += (names.empty() ? "" : ", ") + std::string(a);
      return error(dot(path, key), "unknown field (known: " + names + ")");
    }
  }
  return okStatus();
}

Result<std::string> FieldReader::string(const nlohmann::json& v, const std::string& path) const {
  if (!v.is_string()) return wrongType(path, "a string", v);
  return v.get<std::string>();
}

Result<int> FieldReader::integer(const nlohmann::json& v, const std::string& path) const {
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
  return error(path, v.dump() + " is out of range");
}

Result<bool> FieldReader::boolean(const nlohmann::json& v, const std::string& path) const {
  if (!v.is_boolean()) return wrongType(path, "a boolean", v);
  return v.get<bool>();
}

Result<std::vector<std::string>> FieldReader::stringList(const nlohmann::json& v,
                                                         const std::string& path) const {
  PODNET_TRY_STATUS(expectArray(v, path));
  std::vector<std::string> out;
  for (size_t i = 0; i < v.size(); ++i) out.push_back(PODNET_TRY(string(v[i], at(path, i))));
  return out;
}

Result<const nlohmann::json*> FieldReader::list(const nlohmann::json& object, std::string_view name,
                                                const std::string& path) const {
  const nlohmann::json* m = member(object, name);
  if (m != nullptr && !m->is_array()) return wrongType(dot(path, name), "a list", *m);
  return m;
}

}  // namespace podnet::json_fields
