// Policies written as YAML in tests, and addresses written as text.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "common/ip.h"
#include "model/manifest.h"
#include "policy/network_policy.h"

namespace podnet::policy::testing {

inline Ipv4 ip(const std::string& text) {
  auto v = Ipv4::parse(text);
  EXPECT_TRUE(v.ok()) << text;
  return v.ok() ? *v : Ipv4{};
}

inline Result<Policy> policyFromYaml(const std::string& yaml) {
  auto docs = model::parseManifest(yaml, "test.yaml");
  if (!docs) return std::move(docs).takeError();
  if (docs->size() != 1) return makeError(Errc::kInvalidArgument, "want one document");
  return decodePolicy(docs->front());
}

}  // namespace podnet::policy::testing
