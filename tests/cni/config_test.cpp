#include "cni/config.h"

#include <gtest/gtest.h>

namespace podnet::cni {
namespace {

void expectError(std::string_view text, Command command, Errc code, int cniCode,
                 const std::vector<std::string>& needles) {
  auto conf = parseNetConf(text, command);
  ASSERT_FALSE(conf.ok()) << text;
  EXPECT_EQ(conf.error().code, code) << text << ": " << conf.error().message;
  EXPECT_EQ(cniCodeForConfigError(conf.error()), cniCode) << text;
  for (const auto& needle : needles) {
    EXPECT_NE(conf.error().message.find(needle), std::string::npos)
        << "\"" << needle << "\" not in: " << conf.error().message;
  }
}

TEST(ConfigTest, MinimalConfigWorks) {
  auto conf =
      parseNetConf(R"({"cniVersion":"1.0.0","name":"n","type":"podnet-cni"})", Command::kAdd);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(conf->cniVersion, "1.0.0");
  EXPECT_EQ(conf->name, "n");
  EXPECT_EQ(conf->type, "podnet-cni");
  EXPECT_FALSE(conf->mtu);
  EXPECT_EQ(conf->socket, "");
  EXPECT_TRUE(conf->dns.empty());
  EXPECT_FALSE(conf->prevResult);
  EXPECT_TRUE(conf->validAttachments.empty());
}

TEST(ConfigTest, SingleConfigWithEveryField) {
  auto conf = parseNetConf(R"({
      "cniVersion": "1.1.0", "name": "podnet", "type": "podnet-cni", "mtu": 1450,
      "socket": "/tmp/podnetd.sock", "ipam": {}, "ipMasq": false, "somethingElse": [1, 2],
      "dns": {"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]}})",
                           Command::kAdd);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(conf->mtu, 1450);
  EXPECT_EQ(conf->socket, "/tmp/podnetd.sock");
  EXPECT_EQ(conf->dns.nameservers, std::vector<std::string>{"10.96.0.10"});
  EXPECT_EQ(conf->dns.search, std::vector<std::string>{"svc.cluster.local"});
  EXPECT_EQ(conf->raw["somethingElse"], nlohmann::json({1, 2}));
}

TEST(ConfigTest, RuntimeConfigDnsWins) {
  auto conf = parseNetConf(R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni",
      "dns": {"nameservers": ["1.1.1.1"]},
      "runtimeConfig": {"dns": {"nameservers": ["10.96.0.10", "fd00::a"], "options": ["ndots:5"]}}})",
                           Command::kAdd);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(conf->dns.nameservers, (std::vector<std::string>{"10.96.0.10", "fd00::a"}));
  EXPECT_EQ(conf->dns.options, std::vector<std::string>{"ndots:5"});
}

TEST(ConfigTest, ConflistPicksPodnetsEntryAndInjectsNameAndVersion) {
  auto conf = parseNetConf(R"({"cniVersion": "0.4.0", "name": "k8s-pod-network", "plugins": [
      {"type": "bandwidth", "capabilities": {"bandwidth": true}},
      {"type": "podnet-cni", "mtu": 1400},
      {"type": "portmap"}]})",
                           Command::kAdd);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(conf->name, "k8s-pod-network");
  EXPECT_EQ(conf->cniVersion, "0.4.0");
  EXPECT_EQ(conf->mtu, 1400);
  EXPECT_EQ(conf->raw, nlohmann::json::parse(R"({"type": "podnet-cni", "mtu": 1400,
      "name": "k8s-pod-network", "cniVersion": "0.4.0"})"));
  // The agent re-parses raw: it must stand on its own.
  auto again = parseNetConf(conf->raw.dump(), Command::kAdd);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->name, "k8s-pod-network");
}

TEST(ConfigTest, AResolvedEntryStaysItselfWhenParsedAgain) {
  // Keys that mean something at list level must not change the entry's meaning for the agent.
  auto conf = parseNetConf(R"({"cniVersion": "1.0.0", "name": "n", "plugins": [
      {"type": "podnet-cni", "plugins": [], "cniVersions": ["1.1.0"]}]})",
                           Command::kAdd);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  auto again = parseNetConf(conf->raw.dump(), Command::kAdd);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->cniVersion, "1.0.0");
}

TEST(ConfigTest, ConflistWithoutPodnetIsInvalid) {
  expectError(R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "bridge"}, 3]})",
              Command::kAdd, Errc::kInvalidArgument, 7, {"podnet-cni"});
}

TEST(ConfigTest, CniVersionsPicksTheHighestSupported) {
  auto conf = parseNetConf(R"({"cniVersion": "0.3.1", "cniVersions": ["0.3.1", "1.0.0", "9.0.0"],
      "name": "n", "plugins": [{"type": "podnet-cni"}]})",
                           Command::kAdd);
  ASSERT_TRUE(conf.ok()) << conf.error().message;
  EXPECT_EQ(conf->cniVersion, "1.0.0");
  EXPECT_EQ(conf->raw["cniVersion"], "1.0.0");
  expectError(R"({"cniVersions": ["9.0.0"], "name": "n", "plugins": [{"type": "podnet-cni"}]})",
              Command::kAdd, Errc::kIncompatibleVersion, 1, {"cniVersions", "9.0.0"});
}

TEST(ConfigTest, DecodeErrorsNameTheField) {
  expectError("", Command::kAdd, Errc::kDecode, 6, {"not valid JSON"});
  expectError("{", Command::kAdd, Errc::kDecode, 6, {"not valid JSON"});
  expectError("[1]", Command::kAdd, Errc::kDecode, 6, {"must be an object, not a list"});
  expectError(R"({"cniVersion": 1})", Command::kAdd, Errc::kDecode, 6, {"cniVersion"});
  const std::string base = R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni", )";
  for (auto [field, value] : {std::pair{"mtu", "\"1500\""},
                              {"mtu", "1500.5"},
                              {"socket", "1"},
                              {"ipam", "\"host-local\""},
                              {"ipMasq", "\"yes\""},
                              {"dns", "[]"},
                              {"runtimeConfig", "1"},
                              {"prevResult", "1"},
                              {"cni.dev/valid-attachments", "{}"}}) {
    expectError(base + "\"" + field + "\": " + value + "}", Command::kAdd, Errc::kDecode, 6,
                {field});
  }
  expectError(base + R"("dns": {"nameservers": "1.1.1.1"}})", Command::kAdd, Errc::kDecode, 6,
              {"dns.nameservers"});
  expectError(R"({"cniVersion": "1.0.0", "name": 5, "type": "podnet-cni"})", Command::kAdd,
              Errc::kDecode, 6, {"name"});
  expectError(R"({"cniVersion": "1.0.0", "name": "n", "plugins": {}})", Command::kAdd,
              Errc::kDecode, 6, {"plugins"});
}

TEST(ConfigTest, DeepNestingIsADecodeErrorNotACrash) {
  std::string deep = R"({"cniVersion": "1.0.0", "x": )" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  expectError(deep, Command::kAdd, Errc::kDecode, 6, {"deeper"});
}

TEST(ConfigTest, VersionErrors) {
  expectError(R"({"name": "n", "type": "podnet-cni"})", Command::kAdd, Errc::kIncompatibleVersion,
              1, {"cniVersion is missing"});
  expectError(R"({"cniVersion": "0.2.0", "name": "n", "type": "podnet-cni"})", Command::kAdd,
              Errc::kIncompatibleVersion, 1, {"0.2.0", "not supported"});
  expectError(R"({"cniVersion": "0.3.1", "name": "n", "type": "podnet-cni"})", Command::kCheck,
              Errc::kIncompatibleVersion, 1, {"config version 0.3.1 does not allow CHECK"});
  expectError(R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni"})", Command::kGc,
              Errc::kIncompatibleVersion, 1, {"config version 1.0.0 does not allow GC"});
  expectError(R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni"})", Command::kStatus,
              Errc::kIncompatibleVersion, 1, {"config version 1.0.0 does not allow STATUS"});
  EXPECT_TRUE(
      parseNetConf(R"({"cniVersion": "0.4.0", "name": "n", "type": "podnet-cni"})", Command::kCheck)
          .ok());
  EXPECT_TRUE(
      parseNetConf(R"({"cniVersion": "1.1.0", "name": "n", "type": "podnet-cni"})", Command::kGc)
          .ok());
}

TEST(ConfigTest, UnsupportedFieldsNameKeyAndValue) {
  expectError(R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni",
      "ipam": {"type": "host-local"}})",
              Command::kAdd, Errc::kUnsupported, 2, {"ipam", "host-local"});
  expectError(R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni", "ipMasq": true})",
              Command::kAdd, Errc::kUnsupported, 2, {"ipMasq", "true"});
}

TEST(ConfigTest, InvalidValuesNameTheField) {
  const std::string v = R"({"cniVersion": "1.0.0", )";
  expectError(v + R"("type": "podnet-cni"})", Command::kAdd, Errc::kInvalidArgument, 7, {"name"});
  expectError(v + R"("name": "-bad", "type": "podnet-cni"})", Command::kAdd, Errc::kInvalidArgument,
              7, {"name \"-bad\""});
  expectError(v + R"("name": "n"})", Command::kAdd, Errc::kInvalidArgument, 7, {"type"});
  expectError(v + R"("name": "n", "type": "bridge"})", Command::kAdd, Errc::kInvalidArgument, 7,
              {"type \"bridge\""});
  for (const char* mtu : {"67", "65536", "-1"}) {
    expectError(v + R"("name": "n", "type": "podnet-cni", "mtu": )" + mtu + "}", Command::kAdd,
                Errc::kInvalidArgument, 7, {"mtu " + std::string(mtu)});
  }
  expectError(v + R"("name": "n", "type": "podnet-cni", "socket": "run/x.sock"})", Command::kAdd,
              Errc::kInvalidArgument, 7, {"socket \"run/x.sock\""});
  expectError(v + R"("name": "n", "type": "podnet-cni", "dns": {"nameservers": ["dns.local"]}})",
              Command::kAdd, Errc::kInvalidArgument, 7, {"dns.nameservers", "dns.local"});
}

TEST(ConfigTest, PrevResultInOldAndNewShapes) {
  auto old = parseNetConf(R"({"cniVersion": "0.3.1", "name": "n", "type": "podnet-cni",
      "prevResult": {"cniVersion": "0.3.1",
        "interfaces": [{"name": "eth0", "sandbox": "/var/run/netns/x"}],
        "ips": [{"version": "4", "address": "10.244.0.5/24", "gateway": "10.244.0.1",
                 "interface": 0}]}})",
                          Command::kDel);
  ASSERT_TRUE(old.ok()) << old.error().message;
  ASSERT_TRUE(old->prevResult);
  ASSERT_EQ(old->prevResult->ips.size(), 1u);
  EXPECT_EQ(old->prevResult->ips[0].address.str(), "10.244.0.5/24");
  EXPECT_EQ(old->prevResult->ips[0].gateway->str(), "10.244.0.1");
  EXPECT_EQ(old->prevResult->ips[0].interface, 0);

  auto now = parseNetConf(R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni",
      "prevResult": {"cniVersion": "1.0.0", "interfaces": [{"name": "eth0"}],
        "ips": [{"address": "10.244.0.6/24", "interface": 0}],
        "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.0.1"}]}})",
                          Command::kCheck);
  ASSERT_TRUE(now.ok()) << now.error().message;
  ASSERT_EQ(now->prevResult->routes.size(), 1u);
  EXPECT_EQ(now->prevResult->routes[0].dst.str(), "0.0.0.0/0");

  expectError(R"({"cniVersion": "1.0.0", "name": "n", "type": "podnet-cni",
      "prevResult": {"ips": [{"address": "10.244.0.300/24"}]}})",
              Command::kCheck, Errc::kDecode, 6, {"prevResult", "ips[0].address"});
}

TEST(ConfigTest, ValidAttachmentsUnderBothNames) {
  for (const char* key : {"cni.dev/valid-attachments", "cni.dev/attachments"}) {
    auto conf = parseNetConf(std::string(R"({"cniVersion": "1.1.0", "name": "n",
        "type": "podnet-cni", ")") +
                                 key +
                                 R"(": [{"containerID": "c1", "ifname": "eth0"},
                                        {"containerID": "c2", "ifname": "net1"}]})",
                             Command::kGc);
    ASSERT_TRUE(conf.ok()) << key << ": " << conf.error().message;
    EXPECT_EQ(conf->validAttachments, (std::vector<Attachment>{{"c1", "eth0"}, {"c2", "net1"}}))
        << key;
  }
  expectError(R"({"cniVersion": "1.1.0", "name": "n", "type": "podnet-cni",
      "cni.dev/valid-attachments": [{"containerID": 1}]})",
              Command::kGc, Errc::kDecode, 6, {"cni.dev/valid-attachments[0].containerID"});
}

TEST(ConfigTest, ReportVersionFallsBackToLatest) {
  EXPECT_EQ(reportVersion(""), "1.1.0");
  EXPECT_EQ(reportVersion("garbage"), "1.1.0");
  EXPECT_EQ(reportVersion(R"({"cniVersion": "0.2.0"})"), "1.1.0");
  EXPECT_EQ(reportVersion(R"({"cniVersion": "0.3.1", "mtu": "bad"})"), "0.3.1");
  EXPECT_EQ(reportVersion(R"({"cniVersion": "0.4.0", "plugins": [{"type": "bridge"}]})"), "0.4.0");
}

}  // namespace
}  // namespace podnet::cni
