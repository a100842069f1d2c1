// Small helpers for the policy decoders: strict field checks and field paths in messages.
// Internal to src/policy (nlohmann::json gives types; what it lacks is "which field, what is
// wrong" in the words of a Kubernetes validation message).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace podnet::policy::detail {

inline Error fieldError(const std::string& field, const std::string& what) {
  return makeError(Errc::kInvalidArgument, field + ": " + what);
}

inline std::string at(const std::string& field, size_t index) {
  return field + "[" + std::to_string(index) + "]";
}

inline std::string dot(const std::string& field, std::string_view name) {
  return field.empty() ? std::string(name) : field + "." + std::string(name);
}

inline const char* typeName(const nlohmann::json& j) {
  if (j.is_object()) return "an object";
  if (j.is_array()) return "a list";
  if (j.is_string()) return "a string";
  if (j.is_boolean()) return "a boolean";
  if (j.is_number()) return "a number";
  return "null";
}

// j must be an object whose keys are all in allowed (kubectl's strict field validation).
inline Status checkObject(const nlohmann::json& j, const std::string& field,
                          std::initializer_list<std::string_view> allowed) {
  if (!j.is_object()) {
    return fieldError(field, std::string("must be an object, not ") + typeName(j));
  }
  for (const auto& [key, value] : j.items()) {
    bool known = false;
    for (std::string_view a : allowed) known = known || a == key;
    if (!known) {
      std::string list;
      for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
      return fieldError(dot(field, key), "unknown field (known: " + list + ")");
    }
  }
  return okStatus();
}

// The member or nullptr when absent or null (Kubernetes treats an explicit null as absent).
inline const nlohmann::json* member(const nlohmann::json& j, std::string_view name) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return nullptr;
  return &*it;
}

inline Result<const nlohmann::json*> list(const nlohmann::json& j, std::string_view name,
                                          const std::string& field) {
  const nlohmann::json* m = member(j, name);
  if (m && !m->is_array()) {
    return fieldError(dot(field, name), std::string("must be a list, not ") + typeName(*m));
  }
  return m;
}

inline Result<std::string> string(const nlohmann::json& j, const std::string& field) {
  if (!j.is_string()) return fieldError(field, std::string("must be a string, not ") + typeName(j));
  return j.get<std::string>();
}

}  // namespace podnet::policy::detail
