// Typed reads of JSON values for the config and result decoders. Every failure is Errc::kDecode and
// names the field by its path ("routes[1].dst: expected a string, got number").
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "cni/types.h"
#include "common/result.h"

namespace podnet::cni::json_fields {

// Parses JSON text; rejects nesting deeper than 64 levels, which no CNI document needs and which
// would otherwise let hostile input exhaust the stack in recursive copies and dumps.
podnet::Result<nlohmann::json> parse(std::string_view text, std::string_view what);

// The member `key` of an object, or nullptr when it is absent or null (null means "unset").
const nlohmann::json* find(const nlohmann::json& object, const char* key);

podnet::Status expectObject(const nlohmann::json& v, const std::string& path);
podnet::Status expectArray(const nlohmann::json& v, const std::string& path);
podnet::Result<std::string> asString(const nlohmann::json& v, const std::string& path);
podnet::Result<int> asInt(const nlohmann::json& v, const std::string& path);
podnet::Result<bool> asBool(const nlohmann::json& v, const std::string& path);
podnet::Result<std::vector<std::string>> asStringList(const nlohmann::json& v,
                                                      const std::string& path);
// {"nameservers": [..], "domain": "..", "search": [..], "options": [..]}; types only.
podnet::Result<Dns> asDns(const nlohmann::json& v, const std::string& path);

// Serializes without throwing: invalid UTF-8 (from the environment) is replaced, not fatal.
std::string dump(const nlohmann::json& v);

}  // namespace podnet::cni::json_fields
