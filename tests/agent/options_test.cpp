// podnetd's command line: closed sets (backend, store, enforcement mode) are parsed into enums at
// the edge, and a bad value is refused with a message naming the flag and the allowed values.
#include "agent/options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace podnet::agent {
namespace {

struct Parsed {
  ParsedArgs args;
  std::string err;
};

Parsed parse(std::vector<std::string> flags) {
  std::vector<std::string> words = {"podnetd"};
  words.insert(words.end(), flags.begin(), flags.end());
  std::vector<char*> argv;
  for (auto& w : words) argv.push_back(w.data());
  ::testing::internal::CaptureStderr();
  Parsed p{parseAgentArgs(static_cast<int>(argv.size()), argv.data()), ""};
  p.err = ::testing::internal::GetCapturedStderr();
  return p;
}

TEST(AgentOptionsTest, DefaultsAreTheSingleNodeSetup) {
  auto p = parse({});
  ASSERT_FALSE(p.args.exitNow) << p.err;
  EXPECT_EQ(p.args.options.store, StoreKind::kSqlite);
  EXPECT_EQ(p.args.options.backend, Backend::kVxlan);
  EXPECT_EQ(p.args.options.policyEnforcement, PN_ENFORCE_DEFAULT);
}

TEST(AgentOptionsTest, ClosedSetsAreParsedIntoEnums) {
  auto p = parse({"--store", "etcd", "--etcd-endpoints", "127.0.0.1:2379", "--backend", "host-gw",
                  "--policy-enforcement", "always"});
  ASSERT_FALSE(p.args.exitNow) << p.err;
  EXPECT_EQ(p.args.options.store, StoreKind::kEtcd);
  EXPECT_EQ(p.args.options.backend, Backend::kHostGw);
  EXPECT_EQ(p.args.options.policyEnforcement, PN_ENFORCE_ALWAYS);
  EXPECT_EQ(parse({"--policy-enforcement", "never"}).args.options.policyEnforcement,
            PN_ENFORCE_NEVER);
}

TEST(AgentOptionsTest, ABadValueIsRefusedNamingTheFlagAndTheChoices) {
  // Once anything but "host-gw" silently meant vxlan.
  auto backend = parse({"--backend", "host-gw "});
  EXPECT_EQ(backend.args.exitNow, 2);
  EXPECT_EQ(backend.err, "podnetd: --backend: unknown value 'host-gw ': use vxlan or host-gw\n");

  auto store = parse({"--store", "etcd3"});
  EXPECT_EQ(store.args.exitNow, 2);
  EXPECT_EQ(store.err, "podnetd: --store: unknown value 'etcd3': use sqlite or etcd\n");

  auto mode = parse({"--policy-enforcement", "Always"});
  EXPECT_EQ(mode.args.exitNow, 2);
  EXPECT_EQ(
      mode.err,
      "podnetd: --policy-enforcement: unknown value 'Always': use default, always or never\n");
}

// Every value of each closed set has a name that parses back to it.
TEST(AgentOptionsTest, EveryNameRoundTrips) {
  for (const auto& [value, name] : kBackendNames) {
    EXPECT_EQ(*parseEnum(kBackendNames, name, "--backend"), value);
    EXPECT_EQ(backendName(value), name);
  }
  for (const auto& [value, name] : kStoreNames) {
    EXPECT_EQ(*parseEnum(kStoreNames, name, "--store"), value);
  }
  for (const auto& [value, name] : kEnforcementNames) {
    EXPECT_EQ(*parseEnum(kEnforcementNames, name, "--policy-enforcement"), value);
  }
}

}  // namespace
}  // namespace podnet::agent
