#include "registry/service.h"

#include <gtest/gtest.h>

#include "registry_fixture.h"

namespace podnet::registry {
namespace {

nlohmann::json blueSubnet(const char* cidr = "10.1.0.0/24") {
  return {{"apiVersion", "podnet.io/v1"},
          {"kind", "Subnet"},
          {"metadata", {{"name", "blue"}}},
          {"spec", {{"cidrBlock", cidr}, {"namespaces", {"shop"}}}}};
}

TEST_F(RegistryTest, AnswersApplySubnetsAndDeleteInTheAgreedShape) {
  EXPECT_TRUE(servesOp("apply"));
  EXPECT_TRUE(servesOp("delete"));
  EXPECT_TRUE(servesOp("subnets"));
  EXPECT_FALSE(servesOp("pods"));

  auto reply = answer(*store_, {{"op", "apply"}, {"objects", {blueSubnet()}}});
  EXPECT_EQ(reply, nlohmann::json::parse(R"({"ok": true, "applied": [
      {"kind": "Subnet", "name": "blue", "action": "created"}]})"));

  reserve(makeSubnet("blue", "10.1.0.0/24"), "net/c1/eth0");
  reply = answer(*store_, {{"op", "subnets"}});
  EXPECT_EQ(reply, nlohmann::json::parse(R"({"ok": true, "subnets": [
      {"name": "blue", "cidrBlock": "10.1.0.0/24", "gateway": "10.1.0.1", "namespaces": ["shop"],
       "excludeIps": [], "used": 1, "free": 252}]})"));

  reply = answer(*store_, {{"op", "delete"}, {"objects", {blueSubnet()}}});
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(reply["error"]["code"], 7);
  EXPECT_EQ(reply["error"]["msg"],
            "object 1 (Subnet blue): 1 address of the subnet is still in use (remove the pods "
            "that hold them first)");
}

TEST_F(RegistryTest, RefusalsAndMalformedRequestsAreErrorAnswers) {
  auto reply = answer(*store_, {{"op", "apply"}, {"objects", {blueSubnet("10.1.0.0/31")}}});
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(reply["error"]["code"], 7);
  EXPECT_EQ(reply["error"]["msg"],
            "object 1 (Subnet blue): spec.cidrBlock: 10.1.0.0/31 is too small (the prefix length "
            "must be at most 30)");

  reply = answer(*store_, {{"op", "apply"}});
  EXPECT_EQ(reply["error"]["code"], 6);
  EXPECT_EQ(reply["error"]["msg"], "request: objects: required, a list of objects");
  reply = answer(*store_, {{"op", "dance"}});
  EXPECT_EQ(reply["error"]["code"], 6);
  reply = answer(*store_, nlohmann::json::array());
  EXPECT_EQ(reply["ok"], false);
  EXPECT_EQ(revision(), 0);
}

}  // namespace
}  // namespace podnet::registry
