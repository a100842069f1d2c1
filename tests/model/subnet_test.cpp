#include "model/subnet.h"

#include <gtest/gtest.h>

namespace podnet::model {
namespace {

Subnet makeSubnet(const std::string& name, const char* cidr,
                  std::vector<std::string> namespaces = {}) {
  Subnet s;
  s.name = name;
  s.cidrBlock = *Ipv4Prefix::parse(cidr);
  s.namespaces = std::move(namespaces);
  return s;
}

nlohmann::json blueJson() {
  return nlohmann::json::parse(R"({
    "apiVersion": "podnet.io/v1", "kind": "Subnet", "metadata": {"name": "blue"},
    "spec": {"cidrBlock": "10.1.0.0/16", "gateway": "10.1.0.254",
             "excludeIps": ["10.1.0.2..10.1.0.9", "10.1.255.0/24", "10.1.3.3"],
             "namespaces": ["shop", "web"]}})");
}

std::string decodeError(nlohmann::json j) {
  auto s = subnetFromJson(j);
  EXPECT_FALSE(s.ok());
  return s.ok() ? "" : s.error().message;
}

std::string validateError(const Subnet& s) {
  auto st = validate(s);
  EXPECT_FALSE(st.ok());
  return st.ok() ? "" : st.error().message;
}

TEST(SubnetTest, DecodesEveryField) {
  auto s = subnetFromJson(blueJson());
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->name, "blue");
  EXPECT_EQ(s->key(), "/podnet/subnets/blue");
  EXPECT_EQ(s->cidrBlock.str(), "10.1.0.0/16");
  ASSERT_TRUE(s->gateway);
  EXPECT_EQ(s->gateway->str(), "10.1.0.254");
  ASSERT_EQ(s->excludeIps.size(), 3u);
  EXPECT_EQ(s->excludeIps[0].str(), "10.1.0.2..10.1.0.9");
  EXPECT_EQ(s->excludeIps[1].str(), "10.1.255.0..10.1.255.255");
  EXPECT_EQ(s->excludeIps[2].str(), "10.1.3.3");
  EXPECT_EQ(s->namespaces, (std::vector<std::string>{"shop", "web"}));
  EXPECT_TRUE(validate(*s).ok());
}

TEST(SubnetTest, EncodesInKubernetesShapeAndDecodesItBack) {
  Subnet s = *subnetFromJson(blueJson());
  nlohmann::json j = toJson(s);
  EXPECT_EQ(j["apiVersion"], "podnet.io/v1");
  EXPECT_EQ(j["kind"], "Subnet");
  EXPECT_EQ(j["metadata"]["name"], "blue");
  EXPECT_EQ(j["spec"]["cidrBlock"], "10.1.0.0/16");
  EXPECT_EQ(j["spec"]["gateway"], "10.1.0.254");
  EXPECT_EQ(j["spec"]["excludeIps"][0], "10.1.0.2..10.1.0.9");
  EXPECT_EQ(j["spec"]["namespaces"], nlohmann::json({"shop", "web"}));
  auto again = subnetFromJson(j);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, s);
}

TEST(SubnetTest, OptionalFieldsMayBeLeftOut) {
  auto s = subnetFromJson(nlohmann::json::parse(
      R"({"apiVersion":"podnet.io/v1","kind":"Subnet","metadata":{"name":"default"},
          "spec":{"cidrBlock":"10.244.0.0/16","gateway":null}})"));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_FALSE(s->gateway);
  EXPECT_TRUE(s->excludeIps.empty());
  EXPECT_TRUE(s->namespaces.empty());
  nlohmann::json j = toJson(*s);
  EXPECT_FALSE(j["spec"].contains("gateway"));
  EXPECT_FALSE(j["spec"].contains("excludeIps"));
  EXPECT_EQ(*subnetFromJson(j), *s);
}

TEST(SubnetTest, DecodeErrorsNameTheSubnetAndTheField) {
  auto with = [](const char* field, nlohmann::json value) {
    auto j = blueJson();
    j["spec"][field] = std::move(value);
    return j;
  };
  EXPECT_EQ(decodeError(with("cidrBlock", 16)),
            "Subnet blue: spec.cidrBlock: required, a CIDR such as 10.1.0.0/16");
  EXPECT_EQ(decodeError(with("cidrBlock", "10.1.0.0")),
            "Subnet blue: spec.cidrBlock: \"10.1.0.0\" is not a CIDR (expected a.b.c.d/len)");
  EXPECT_EQ(decodeError(with("gateway", "10.1.0.300")),
            "Subnet blue: spec.gateway: \"10.1.0.300\" is not an IPv4 address");
  EXPECT_EQ(decodeError(with("gateway", 5)), "Subnet blue: spec.gateway: must be a string");
  EXPECT_EQ(decodeError(with("excludeIps", {"10.1.0.2", "10.1.0.9..10.1.0.2"})),
            "Subnet blue: spec.excludeIps[1]: range \"10.1.0.9..10.1.0.2\": first address is "
            "after last");
  EXPECT_EQ(decodeError(with("excludeIps", "10.1.0.2")),
            "Subnet blue: spec.excludeIps: must be a list of strings");
  EXPECT_EQ(decodeError(with("namespaces", {"shop", 7})),
            "Subnet blue: spec.namespaces[1]: must be a string");
  EXPECT_EQ(decodeError(with("cidrblock", "10.1.0.0/16")),
            "Subnet blue: spec.cidrblock: unknown field (known: cidrBlock, gateway, excludeIps, "
            "namespaces)");

  auto j = blueJson();
  j["spec"].erase("cidrBlock");
  EXPECT_EQ(decodeError(j), "Subnet blue: spec.cidrBlock: required, a CIDR such as 10.1.0.0/16");
  j = blueJson();
  j.erase("spec");
  EXPECT_EQ(decodeError(j), "Subnet blue: spec: required, an object with spec.cidrBlock");
  j = blueJson();
  j["metadata"].erase("name");
  EXPECT_EQ(decodeError(j), "Subnet: metadata.name: required");
  j = blueJson();
  j["apiVersion"] = "v1";
  EXPECT_EQ(decodeError(j), "Subnet: apiVersion: must be \"podnet.io/v1\"");
  EXPECT_EQ(decodeError(nlohmann::json::array()), "Subnet: not a JSON object");
}

TEST(SubnetTest, GatewayOutsideTheCidrIsRefusedNamingBothFields) {
  Subnet s = makeSubnet("blue", "10.1.0.0/16");
  s.gateway = *Ipv4::parse("10.2.0.1");
  EXPECT_EQ(validateError(s),
            "Subnet blue: spec.gateway: 10.2.0.1 is outside spec.cidrBlock "
            "10.1.0.0/16");
  s.gateway = *Ipv4::parse("10.1.0.0");
  EXPECT_EQ(validateError(s),
            "Subnet blue: spec.gateway: 10.1.0.0 is the network address of "
            "spec.cidrBlock 10.1.0.0/16");
  s.gateway = *Ipv4::parse("10.1.255.255");
  EXPECT_EQ(validateError(s),
            "Subnet blue: spec.gateway: 10.1.255.255 is the broadcast address "
            "of spec.cidrBlock 10.1.0.0/16");
}

TEST(SubnetTest, StaticChecksNameTheField) {
  EXPECT_EQ(validateError(makeSubnet("blue", "10.1.0.0/31")),
            "Subnet blue: spec.cidrBlock: 10.1.0.0/31 is too small (the prefix length must be at "
            "most 30)");
  EXPECT_EQ(validateError(makeSubnet("blue", "10.1.2.3/16")),
            "Subnet blue: spec.cidrBlock: 10.1.2.3/16 has host bits set (did you mean "
            "10.1.0.0/16?)");

  Subnet s = makeSubnet("blue", "10.1.0.0/16");
  s.excludeIps = {*ipam::IpRange::parse("10.1.0.5"), *ipam::IpRange::parse("10.1.255.0..10.2.0.3")};
  EXPECT_EQ(validateError(s),
            "Subnet blue: spec.excludeIps[1]: 10.1.255.0..10.2.0.3 is outside "
            "spec.cidrBlock 10.1.0.0/16");

  s = makeSubnet("blue", "10.1.0.0/16", {"shop", "Shop_2"});
  EXPECT_NE(validateError(s).find("Subnet blue: spec.namespaces[1]: \"Shop_2\" is not a namespace "
                                  "name"),
            std::string::npos);
  s = makeSubnet("blue", "10.1.0.0/16", {"shop", "web", "shop"});
  EXPECT_EQ(validateError(s), "Subnet blue: spec.namespaces[2]: \"shop\" is listed twice");

  for (const char* name : {"Blue", "blue/green", "-blue", "blue.", ""}) {
    EXPECT_NE(validateError(makeSubnet(name, "10.1.0.0/16")).find(": metadata.name: \""),
              std::string::npos)
        << name;
  }
  EXPECT_TRUE(validate(makeSubnet("blue.team-2", "10.1.0.0/16")).ok());
}

TEST(SubnetTest, OverlappingCidrIsRefusedNamingTheOtherSubnet) {
  std::vector<Subnet> others = {makeSubnet("red", "10.1.128.0/17"),
                                makeSubnet("green", "10.3.0.0/16")};
  auto st = validateAgainst(makeSubnet("blue", "10.1.0.0/16"), others);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "Subnet blue: spec.cidrBlock: 10.1.0.0/16 overlaps Subnet red (10.1.128.0/17)");
  EXPECT_TRUE(validateAgainst(makeSubnet("blue", "10.2.0.0/16"), others).ok());
  // The subnet's own stored version is not "another" subnet.
  EXPECT_TRUE(validateAgainst(makeSubnet("red", "10.1.0.0/16"), others).ok());
}

TEST(SubnetTest, ANamespaceIsBoundByOneSubnetOnly) {
  std::vector<Subnet> others = {makeSubnet("red", "10.2.0.0/16", {"shop"})};
  auto st = validateAgainst(makeSubnet("blue", "10.1.0.0/16", {"web", "shop"}), others);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().message,
            "Subnet blue: spec.namespaces: namespace \"shop\" is already bound to Subnet red (a "
            "namespace takes its addresses from one subnet)");
}

TEST(SubnetTest, ANamespaceTakesItsSubnetElseTheDefault) {
  std::vector<Subnet> subnets = {makeSubnet("blue", "10.1.0.0/16", {"shop"}),
                                 makeSubnet(kDefaultSubnet, "10.244.0.0/16"),
                                 makeSubnet("red", "10.2.0.0/16", {"web", "api"})};
  EXPECT_EQ(subnetForNamespace(subnets, "shop")->name, "blue");
  EXPECT_EQ(subnetForNamespace(subnets, "api")->name, "red");
  EXPECT_EQ(subnetForNamespace(subnets, "kube-system")->name, "default");
  subnets.erase(subnets.begin() + 1);
  EXPECT_EQ(subnetForNamespace(subnets, "kube-system"), nullptr);
  EXPECT_EQ(subnetForNamespace(subnets, "web")->name, "red");
}

TEST(SubnetTest, PoolIsNamedAfterTheSubnetWithItsRanges) {
  Subnet s = *subnetFromJson(blueJson());
  ipam::PoolConfig config = toPoolConfig(s);
  EXPECT_EQ(config.name, "blue");
  EXPECT_EQ(config.cidr.str(), "10.1.0.0/16");
  EXPECT_EQ(config.gateway->str(), "10.1.0.254");
  auto pool = ipam::Pool::create(config);
  ASSERT_TRUE(pool.ok());
  // 65536 - network, broadcast, gateway - 8 - 255 (10.1.255.255 is already the broadcast) - 1
  EXPECT_EQ(pool->capacity(), 65536u - 3 - 8 - 255 - 1);
}

}  // namespace
}  // namespace podnet::model
