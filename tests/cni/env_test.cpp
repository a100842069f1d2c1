#include "cni/env.h"

#include <gtest/gtest.h>

#include <map>

namespace podnet::cni {
namespace {

using Vars = std::map<std::string, std::string>;

podnet::Result<Env> parse(const Vars& vars) {
  return parseEnv([&](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  });
}

Vars addVars() {
  return {{"CNI_COMMAND", "ADD"},
          {"CNI_CONTAINERID", "abc123"},
          {"CNI_NETNS", "/var/run/netns/cni-1"},
          {"CNI_IFNAME", "eth0"},
          {"CNI_PATH", "/opt/cni/bin"}};
}

void expectErrorNaming(const Vars& vars, const std::string& needle) {
  auto env = parse(vars);
  ASSERT_FALSE(env.ok()) << needle;
  EXPECT_EQ(env.error().code, Errc::kInvalidArgument);
  EXPECT_NE(env.error().message.find(needle), std::string::npos) << env.error().message;
}

TEST(EnvTest, ParsesAFullAdd) {
  Vars vars = addVars();
  vars["CNI_ARGS"] = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0";
  auto env = parse(vars);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->command, Command::kAdd);
  EXPECT_EQ(env->containerId, "abc123");
  EXPECT_EQ(env->netns, "/var/run/netns/cni-1");
  EXPECT_EQ(env->ifname, "eth0");
  EXPECT_EQ(env->path, "/opt/cni/bin");
  EXPECT_EQ(env->rawArgs, vars["CNI_ARGS"]);
  EXPECT_EQ(env->args, (std::map<std::string, std::string>{{"IgnoreUnknown", "1"},
                                                           {"K8S_POD_NAMESPACE", "default"},
                                                           {"K8S_POD_NAME", "web-0"}}));
}

TEST(EnvTest, EachRequiredVariableMissingIsNamedPerCommand) {
  struct Case {
    std::string command;
    std::vector<std::string> required;
  };
  for (const auto& c : {Case{"ADD", {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"}},
                        Case{"CHECK", {"CNI_CONTAINERID", "CNI_NETNS", "CNI_IFNAME"}},
                        Case{"DEL", {"CNI_CONTAINERID", "CNI_IFNAME"}}}) {
    for (const auto& var : c.required) {
      Vars vars = addVars();
      vars["CNI_COMMAND"] = c.command;
      vars.erase(var);
      expectErrorNaming(vars, var);
      vars[var] = "";  // empty counts as unset
      expectErrorNaming(vars, var);
    }
  }
  expectErrorNaming({}, "CNI_COMMAND");
  expectErrorNaming({{"CNI_COMMAND", "add"}}, "CNI_COMMAND");
}

TEST(EnvTest, DelWithoutNetnsIsFine) {
  Vars vars = addVars();
  vars["CNI_COMMAND"] = "DEL";
  vars.erase("CNI_NETNS");
  auto env = parse(vars);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->netns, "");
}

TEST(EnvTest, StatusGcAndVersionNeedOnlyTheCommand) {
  for (auto [command, expected] : {std::pair{"STATUS", Command::kStatus},
                                   {"GC", Command::kGc},
                                   {"VERSION", Command::kVersion}}) {
    auto env = parse({{"CNI_COMMAND", command}});
    ASSERT_TRUE(env.ok()) << command << ": " << env.error().message;
    EXPECT_EQ(env->command, expected);
    EXPECT_EQ(commandName(env->command), command);
  }
}

TEST(EnvTest, RejectsInvalidContainerIds) {
  for (const char* id : {"-abc", "_abc", ".abc", "abc def", "abc/def", "abc:1", "ä"}) {
    Vars vars = addVars();
    vars["CNI_CONTAINERID"] = id;
    expectErrorNaming(vars, "CNI_CONTAINERID \"" + std::string(id) + "\"");
  }
  Vars vars = addVars();
  vars["CNI_CONTAINERID"] = "0a_b.c-D";
  EXPECT_TRUE(parse(vars).ok());
}

TEST(EnvTest, RejectsInvalidIfnamesSayingWhy) {
  for (auto [ifname, why] : {std::pair{"a/b", "'/'"},
                             {"a:b", "':'"},
                             {"a b", "whitespace"},
                             {"a\tb", "whitespace"},
                             {".", ". or .."},
                             {"..", ". or .."},
                             {"abcdefghijklmnop", "longer than 15"}}) {
    Vars vars = addVars();
    vars["CNI_IFNAME"] = ifname;
    auto env = parse(vars);
    ASSERT_FALSE(env.ok()) << ifname;
    EXPECT_NE(env.error().message.find("CNI_IFNAME \"" + std::string(ifname) + "\""),
              std::string::npos)
        << env.error().message;
    EXPECT_NE(env.error().message.find(why), std::string::npos) << env.error().message;
  }
  Vars vars = addVars();
  vars["CNI_IFNAME"] = "abcdefghijklmno";  // 15 characters is the kernel's maximum
  EXPECT_TRUE(parse(vars).ok());
}

TEST(EnvTest, RejectsARelativeNetns) {
  Vars vars = addVars();
  vars["CNI_NETNS"] = "netns/x";
  expectErrorNaming(vars, "CNI_NETNS");
}

TEST(EnvTest, CniArgsKeepsUnknownKeysAndEmptyValues) {
  Vars vars = addVars();
  vars["CNI_ARGS"] = "FOO=;K8S_POD_UID=u-1;X=a=b;";
  auto env = parse(vars);
  ASSERT_TRUE(env.ok()) << env.error().message;
  EXPECT_EQ(env->args, (std::map<std::string, std::string>{
                           {"FOO", ""}, {"K8S_POD_UID", "u-1"}, {"X", "a=b"}}));
}

TEST(EnvTest, MalformedCniArgsPairIsNamed) {
  for (const char* args : {"FOO", "A=1;BAR", "=1"}) {
    Vars vars = addVars();
    vars["CNI_ARGS"] = args;
    expectErrorNaming(vars, "CNI_ARGS");
  }
}

TEST(EnvTest, JsonRoundTripRevalidates) {
  Vars vars = addVars();
  vars["CNI_ARGS"] = "K8S_POD_NAME=p";
  auto env = parse(vars);
  ASSERT_TRUE(env.ok());
  auto j = envToJson(*env);
  EXPECT_EQ(j["CNI_COMMAND"], "ADD");
  EXPECT_EQ(j["CNI_CONTAINERID"], "abc123");
  auto back = envFromJson(j);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->containerId, env->containerId);
  EXPECT_EQ(back->netns, env->netns);
  EXPECT_EQ(back->ifname, env->ifname);
  EXPECT_EQ(back->path, env->path);
  EXPECT_EQ(back->args, env->args);

  j["CNI_IFNAME"] = "a/b";
  EXPECT_EQ(envFromJson(j).error().code, Errc::kInvalidArgument);
  j["CNI_IFNAME"] = 3;
  EXPECT_EQ(envFromJson(j).error().code, Errc::kDecode);
  EXPECT_EQ(envFromJson(nlohmann::json::array()).error().code, Errc::kDecode);
}

}  // namespace
}  // namespace podnet::cni
