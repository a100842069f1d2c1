#include "cni/plugin.h"

#include <gtest/gtest.h>

#include <map>

namespace podnet::cni {
namespace {

using nlohmann::json;

class FakeAgent : public AgentTransport {
 public:
  podnet::Result<json> call(const std::string& socketPath, const json& request) override {
    ++calls;
    lastSocket = socketPath;
    lastRequest = request;
    return answer;
  }

  podnet::Result<json> answer = json{{"ok", true}, {"result", nullptr}};
  int calls = 0;
  std::string lastSocket;
  json lastRequest;
};

struct Invocation {
  std::map<std::string, std::string> vars;
  std::string stdinText;
};

Invocation add(const std::string& version = "1.0.0") {
  return {{{"CNI_COMMAND", "ADD"},
           {"CNI_CONTAINERID", "c0ffee"},
           {"CNI_NETNS", "/var/run/netns/cni-1"},
           {"CNI_IFNAME", "eth0"},
           {"CNI_ARGS", "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0"},
           {"CNI_PATH", "/opt/cni/bin"}},
          R"({"cniVersion": ")" + version + R"(", "name": "podnet", "type": "podnet-cni"})"};
}

PluginOutput run(const Invocation& inv, AgentTransport& agent) {
  return runPlugin(
      [&](const std::string& name) -> std::optional<std::string> {
        auto it = inv.vars.find(name);
        if (it == inv.vars.end()) return std::nullopt;
        return it->second;
      },
      inv.stdinText, agent);
}

// Asserts the spec's error JSON: the code, the version, and a non-zero exit.
json expectError(const PluginOutput& out, int code, const std::string& version) {
  EXPECT_NE(out.exitCode, 0);
  json j = json::parse(out.stdoutText, nullptr, false);
  EXPECT_TRUE(j.is_object()) << out.stdoutText;
  if (!j.is_object()) return j;
  EXPECT_EQ(j["code"], code) << out.stdoutText;
  EXPECT_EQ(j["cniVersion"], version) << out.stdoutText;
  EXPECT_TRUE(j["msg"].is_string()) << out.stdoutText;
  return j;
}

json addResult() {
  return json::parse(R"({"cniVersion": "1.1.0",
      "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:00:00:02", "mtu": 1450,
                      "sandbox": "/var/run/netns/cni-1"}],
      "ips": [{"address": "10.244.0.5/24", "gateway": "10.244.0.1", "interface": 0}],
      "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.0.1", "mtu": 1450}]})");
}

TEST(PluginTest, VersionNeedsNoAgentAndToleratesEmptyStdin) {
  FakeAgent agent;
  auto out = run({{{"CNI_COMMAND", "VERSION"}}, ""}, agent);
  EXPECT_EQ(out.exitCode, 0);
  EXPECT_EQ(json::parse(out.stdoutText), json::parse(R"({"cniVersion": "1.1.0",
      "supportedVersions": ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"]})"));
  EXPECT_EQ(json::parse(run({{{"CNI_COMMAND", "VERSION"}}, R"({"cniVersion": "0.4.0"})"}, agent)
                            .stdoutText)["cniVersion"],
            "0.4.0");
  EXPECT_EQ(agent.calls, 0);
}

TEST(PluginTest, AddSendsEnvAndConfigAndPrintsTheResultInTheConfigsVersion) {
  FakeAgent agent;
  agent.answer = json{{"ok", true}, {"result", addResult()}};
  auto out = run(add("0.3.1"), agent);
  EXPECT_EQ(out.exitCode, 0) << out.stdoutText;
  EXPECT_EQ(json::parse(out.stdoutText), json::parse(R"({"cniVersion": "0.3.1",
      "interfaces": [{"name": "eth0", "mac": "aa:bb:cc:00:00:02", "sandbox": "/var/run/netns/cni-1"}],
      "ips": [{"version": "4", "address": "10.244.0.5/24", "gateway": "10.244.0.1", "interface": 0}],
      "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.0.1"}]})"));

  EXPECT_EQ(agent.lastSocket, kDefaultSocket);
  EXPECT_EQ(agent.lastRequest["op"], "cni");
  EXPECT_EQ(agent.lastRequest["env"], json::parse(R"({"CNI_COMMAND": "ADD",
      "CNI_CONTAINERID": "c0ffee", "CNI_NETNS": "/var/run/netns/cni-1", "CNI_IFNAME": "eth0",
      "CNI_ARGS": "K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0", "CNI_PATH": "/opt/cni/bin"})"));
  EXPECT_EQ(agent.lastRequest["config"],
            json::parse(R"({"cniVersion": "0.3.1", "name": "podnet", "type": "podnet-cni"})"));
}

TEST(PluginTest, ConfigSocketOverridesTheDefault) {
  FakeAgent agent;
  auto inv = add();
  inv.vars["CNI_COMMAND"] = "DEL";
  inv.stdinText = R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni",
                      "socket": "/tmp/lab/podnetd.sock"})";
  EXPECT_EQ(run(inv, agent).exitCode, 0);
  EXPECT_EQ(agent.lastSocket, "/tmp/lab/podnetd.sock");
}

TEST(PluginTest, SuccessOfDelCheckGcStatusPrintsNothing) {
  for (const char* command : {"DEL", "CHECK", "GC", "STATUS"}) {
    FakeAgent agent;
    auto inv = add("1.1.0");
    inv.vars["CNI_COMMAND"] = command;
    auto out = run(inv, agent);
    EXPECT_EQ(out.exitCode, 0) << command << ": " << out.stdoutText;
    EXPECT_EQ(out.stdoutText, "") << command;
    EXPECT_EQ(agent.calls, 1) << command;
    EXPECT_EQ(agent.lastRequest["env"]["CNI_COMMAND"], command);
  }
}

TEST(PluginTest, ConfigErrorsUseTheirCodeAndTheConfigsVersion) {
  struct Case {
    std::string stdinText;
    std::string command;
    int code;
    std::string version;
  };
  for (const auto& c : {
           Case{R"({"cniVersion": "0.3.1", "name": "n", "type": "podnet-cni"})", "CHECK", 1,
                "0.3.1"},
           Case{R"({"cniVersion": "0.2.0", "name": "n", "type": "podnet-cni"})", "ADD", 1, "1.1.0"},
           Case{R"({"cniVersion": "0.4.0", "name": "n", "type": "podnet-cni",
                    "ipam": {"type": "host-local"}})",
                "ADD", 2, "0.4.0"},
           Case{"not json", "ADD", 6, "1.1.0"},
           Case{R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni", "mtu": "x"})", "ADD",
                6, "1.0.0"},
           Case{R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni", "mtu": 10})", "ADD",
                7, "1.0.0"},
       }) {
    FakeAgent agent;
    auto inv = add();
    inv.vars["CNI_COMMAND"] = c.command;
    inv.stdinText = c.stdinText;
    SCOPED_TRACE(c.stdinText);
    expectError(run(inv, agent), c.code, c.version);
    EXPECT_EQ(agent.calls, 0);
  }
}

TEST(PluginTest, EnvErrorIsCode4NamingTheVariable) {
  FakeAgent agent;
  auto inv = add("0.4.0");
  inv.vars["CNI_IFNAME"] = "a/b";
  auto j = expectError(run(inv, agent), 4, "0.4.0");
  EXPECT_NE(j["msg"].get<std::string>().find("CNI_IFNAME"), std::string::npos);
  inv = add();
  inv.vars["CNI_ARGS"] = "broken";
  j = expectError(run(inv, agent), 4, "1.0.0");
  EXPECT_NE(j["msg"].get<std::string>().find("CNI_ARGS"), std::string::npos);
  EXPECT_EQ(agent.calls, 0);
}

TEST(PluginTest, UnreachableAgentIsTryAgainLaterOrNotAvailableForStatus) {
  FakeAgent agent;
  agent.answer =
      makeError(Errc::kUnavailable, "connect /run/podnet/podnetd.sock: No such file or directory");
  auto j = expectError(run(add(), agent), 11, "1.0.0");
  EXPECT_NE(j["msg"].get<std::string>().find("/run/podnet/podnetd.sock"), std::string::npos);
  EXPECT_NE(j["msg"].get<std::string>().find("is podnetd running?"), std::string::npos);

  auto status = add("1.1.0");
  status.vars = {{"CNI_COMMAND", "STATUS"}};
  expectError(run(status, agent), 50, "1.1.0");

  agent.answer = makeError(Errc::kIo, "read frame: connection closed by the peer");
  expectError(run(add(), agent), 5, "1.0.0");
}

TEST(PluginTest, AgentErrorsArePassedThrough) {
  FakeAgent agent;
  agent.answer = json::parse(R"({"ok": false, "error": {"code": 101, "msg": "pool exhausted",
                                  "details": "subnet default"}})");
  auto j = expectError(run(add("0.4.0"), agent), 101, "0.4.0");
  EXPECT_EQ(j["msg"], "pool exhausted");
  EXPECT_EQ(j["details"], "subnet default");
}

TEST(PluginTest, MalformedAgentAnswersAreIoFailures) {
  for (const json& answer : {json::array(), json{{"ok", "yes"}}, json{{"ok", false}},
                             json{{"ok", true}}, json{{"ok", true}, {"result", {{"ips", 1}}}}}) {
    FakeAgent agent;
    agent.answer = answer;
    SCOPED_TRACE(answer.dump());
    expectError(run(add(), agent), 5, "1.0.0");
  }
}

}  // namespace
}  // namespace podnet::cni
