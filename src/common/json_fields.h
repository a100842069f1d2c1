// The one reader of typed JSON fields: every decoder (CNI documents, policies, cluster objects,
// agent requests) reads through it, so every error names the field by its path
// ("routes[1].dst: must be a string, not a number", "spec.ingress[0].from: must be a list").
// nlohmann::json gives types; what it lacks is "which field, what is wrong".
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace podnet::json_fields {

// Parses JSON text; rejects nesting deeper than 64 levels, which no podnet document needs and
// which would otherwise let hostile input exhaust the stack in recursive copies and dumps. Errors
// are kDecode and name `what`.
Result<nlohmann::json> parse(std::string_view text, std::string_view what);

// Serializes without throwing: invalid UTF-8 (from the environment) is replaced, not fatal.
std::string dump(const nlohmann::json& v);

// The member `key` of an object, or nullptr when it is absent or null (null means "unset", as
// Kubernetes treats it). Not an object: nullptr.
const nlohmann::json* member(const nlohmann::json& object, std::string_view key);

// Field paths: at("routes", 1) is "routes[1]", dot("spec", "ingress") "spec.ingress", dot("", "a")
// "a".
std::string at(const std::string& path, size_t index);
std::string dot(const std::string& path, std::string_view name);

// "an object", "a list", "a string", "a boolean", "a number" or "null".
const char* typeName(const nlohmann::json& v);

// Reads the fields of one kind of document; every error carries the reader's code: kDecode for a
// CNI document (a CNI decode failure), kInvalidArgument for an object a user applies.
class FieldReader {
 public:
  explicit constexpr FieldReader(Errc code) : code_(code) {}

  // "path: what".
  Error error(const std::string& path, const std::string& what) const;

  Status expectObject(const nlohmann::json& v, const std::string& path) const;
  Status expectArray(const nlohmann::json& v, const std::string& path) const;
  // An object whose keys are all in allowed (kubectl's strict field validation); an unknown key
  // is named with the known ones.
  Status checkObject(const nlohmann::json& v, const std::string& path,
                     std::initializer_list<std::string_view> allowed) const;

  Result<std::string> string(const nlohmann::json& v, const std::string& path) const;
  Result<int> integer(const nlohmann::json& v, const std::string& path) const;
  Result<bool> boolean(const nlohmann::json& v, const std::string& path) const;
  Result<std::vector<std::string>> stringList(const nlohmann::json& v,
                                              const std::string& path) const;
  // The member `name` of object, which must be a list when present; nullptr when absent or null.
  Result<const nlohmann::json*> list(const nlohmann::json& object, std::string_view name,
                                     const std::string& path) const;

 private:
  Error wrongType(const std::string& path, const char* expected, const nlohmann::json& v) const;

  Errc code_;
};

}  // namespace podnet::json_fields
