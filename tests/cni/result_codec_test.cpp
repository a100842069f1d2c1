#include "cni/result_codec.h"

#include <gtest/gtest.h>

#include "cni/version.h"

namespace podnet::cni {
namespace {

using nlohmann::json;

cni::Result sample() {
  cni::Result r;
  r.interfaces.push_back({"pn1a2b3c", "aa:bb:cc:00:00:01", 1450, ""});
  r.interfaces.push_back({"eth0", "aa:bb:cc:00:00:02", 1450, "/var/run/netns/cni-1"});
  r.ips.push_back({*Ipv4Prefix::parse("10.244.0.5/16"), *Ipv4::parse("10.244.0.1"), 1});
  Route def{*Ipv4Prefix::parse("0.0.0.0/0"), *Ipv4::parse("10.244.0.1"), 1400, 1360, 100, 254, 0};
  r.routes.push_back(def);
  r.dns.nameservers = {"10.96.0.10"};
  r.dns.search = {"default.svc.cluster.local"};
  return r;
}

// The common part of every version's JSON; the tests add what each version adds.
json baseJson(const char* version) {
  json j = json::parse(R"({
    "interfaces": [{"name": "pn1a2b3c", "mac": "aa:bb:cc:00:00:01"},
                   {"name": "eth0", "mac": "aa:bb:cc:00:00:02", "sandbox": "/var/run/netns/cni-1"}],
    "ips": [{"address": "10.244.0.5/16", "gateway": "10.244.0.1", "interface": 1}],
    "routes": [{"dst": "0.0.0.0/0", "gw": "10.244.0.1"}],
    "dns": {"nameservers": ["10.96.0.10"], "search": ["default.svc.cluster.local"]}})");
  j["cniVersion"] = version;
  return j;
}

TEST(ResultCodecTest, BeforeOneDotZeroIpsCarryVersion) {
  for (const char* v : {"0.3.0", "0.3.1", "0.4.0"}) {
    json want = baseJson(v);
    want["ips"][0]["version"] = "4";
    EXPECT_EQ(encodeResult(sample(), v), want) << v;
  }
}

TEST(ResultCodecTest, OneDotZeroDropsIpVersion) {
  EXPECT_EQ(encodeResult(sample(), "1.0.0"), baseJson("1.0.0"));
}

TEST(ResultCodecTest, OneDotOneAddsMtuAndRouteFields) {
  json want = baseJson("1.1.0");
  want["interfaces"][0]["mtu"] = 1450;
  want["interfaces"][1]["mtu"] = 1450;
  want["routes"][0].update(
      json{{"mtu", 1400}, {"advmss", 1360}, {"priority", 100}, {"table", 254}, {"scope", 0}});
  EXPECT_EQ(encodeResult(sample(), "1.1.0"), want);
}

TEST(ResultCodecTest, EmptyPartsAreOmitted) {
  EXPECT_EQ(encodeResult(cni::Result{}, "1.0.0"), json::parse(R"({"cniVersion": "1.0.0"})"));
  cni::Result r;
  r.ips.push_back({*Ipv4Prefix::parse("10.0.0.2/24"), std::nullopt, std::nullopt});
  r.routes.push_back({*Ipv4Prefix::parse("10.0.0.0/8"), {}, {}, {}, {}, {}, {}});
  EXPECT_EQ(encodeResult(r, "1.1.0"), json::parse(R"({"cniVersion": "1.1.0",
      "ips": [{"address": "10.0.0.2/24"}], "routes": [{"dst": "10.0.0.0/8"}]})"));
}

TEST(ResultCodecTest, DecodeOfEncodeRoundTripsInEveryVersion) {
  for (auto v : kSupportedVersions) {
    auto decoded = decodeResult(encodeResult(sample(), v));
    ASSERT_TRUE(decoded.ok()) << v << ": " << decoded.error().message;
    // What the version cannot express comes back unset; encoding again must be identical.
    EXPECT_EQ(encodeResult(*decoded, v), encodeResult(sample(), v)) << v;
    EXPECT_EQ(decoded->ips[0].address, sample().ips[0].address);
    EXPECT_EQ(decoded->dns.search, sample().dns.search);
  }
  auto full = decodeResult(encodeResult(sample(), "1.1.0"));
  ASSERT_TRUE(full.ok());
  EXPECT_EQ(full->routes[0].advmss, 1360);
  EXPECT_EQ(full->interfaces[1].mtu, 1450);
}

TEST(ResultCodecTest, DecodeErrorsNameTheField) {
  struct Case {
    const char* json;
    const char* field;
  };
  for (auto c :
       {Case{R"([])", "result"}, Case{R"({"interfaces": {}})", "interfaces"},
        Case{R"({"interfaces": [{"name": 1}]})", "interfaces[0].name"},
        Case{R"({"ips": [{}]})", "ips[0].address"},
        Case{R"({"ips": [{"address": "fd00::1/64", "version": "6"}]})", "ips[0].version"},
        Case{R"({"ips": [{"address": "10.0.0.1/24", "interface": 2}]})", "ips[0].interface"},
        Case{R"({"ips": [{"address": "10.0.0.1/24", "gateway": "x"}]})", "ips[0].gateway"},
        Case{R"({"routes": [{"dst": "10.0.0.0/8", "mtu": "1500"}]})", "routes[0].mtu"},
        Case{R"({"routes": [{"gw": "10.0.0.1"}]})", "routes[0].dst"},
        Case{R"({"dns": {"search": [1]}})", "dns.search[0]"}}) {
    auto r = decodeResult(json::parse(c.json));
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.error().code, Errc::kDecode) << c.json;
    EXPECT_NE(r.error().message.find(c.field), std::string::npos) << r.error().message;
  }
}

TEST(ResultCodecTest, ErrorJsonFollowsTheSpec) {
  EXPECT_EQ(errorJson({7, "bad mtu", ""}, "0.4.0"),
            json::parse(R"({"cniVersion": "0.4.0", "code": 7, "msg": "bad mtu"})"));
  EXPECT_EQ(errorJson({11, "later", "agent down"}, "1.0.0"),
            json::parse(R"({"cniVersion": "1.0.0", "code": 11, "msg": "later",
                            "details": "agent down"})"));
  EXPECT_EQ(errorJson({1, "x", ""}, "0.2.0")["cniVersion"], "1.1.0");
}

}  // namespace
}  // namespace podnet::cni
