// The CNI result and error JSON of every supported spec version, to and from cni::Result.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "cni/types.h"
#include "common/json_fields.h"
#include "common/result.h"

namespace podnet::cni {

// Reads CNI documents: a field of the wrong type is a decode failure (CNI code 6).
inline constexpr json_fields::FieldReader kCniFields{Errc::kDecode};

// {"nameservers": [..], "domain": "..", "search": [..], "options": [..]}; types only.
podnet::Result<Dns> dnsFromJson(const nlohmann::json& v, const std::string& path);

// The result as `cniVersion` defines it: "ips[].version" only before 1.0.0; interface "mtu" and the
// route fields mtu/advmss/priority/table/scope only from 1.1.0. Unset or empty optional fields
// (including an empty "dns") are omitted.
nlohmann::json encodeResult(const cni::Result& result, std::string_view cniVersion);

// Accepts the result shape of any supported version (a prevResult, or the agent's answer). Fields
// podnet does not model are ignored; IPv6 addresses are rejected (podnet is IPv4-only). Errors are
// Errc::kDecode and name the field.
podnet::Result<cni::Result> decodeResult(const nlohmann::json& json);

// {"cniVersion": V, "code": N, "msg": "...", "details": "..."}; details only when non-empty.
// An unsupported cniVersion is replaced by kLatestVersion.
nlohmann::json errorJson(const CniError& error, std::string_view cniVersion);

}  // namespace podnet::cni
