// The one JSON field reader: every error names the field path and carries the reader's code.
#include "common/json_fields.h"

#include <gtest/gtest.h>

namespace podnet::json_fields {
namespace {

using nlohmann::json;

TEST(JsonFieldsTest, ErrorsNameTheFieldPathAndCarryTheReadersCode) {
  constexpr FieldReader cni{Errc::kDecode};
  constexpr FieldReader user{Errc::kInvalidArgument};
  const json doc = json::parse(R"({"routes": [{"dst": 5}], "n": 3000000000, "x": null})");
  auto dst = cni.string(doc["routes"][0]["dst"], dot(at("routes", 0), "dst"));
  EXPECT_EQ(dst.error().code, Errc::kDecode);
  EXPECT_EQ(dst.error().message, "routes[0].dst: must be a string, not a number");
  auto routes = user.string(doc["routes"], "routes");
  EXPECT_EQ(routes.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(routes.error().message, "routes: must be a string, not a list");
  EXPECT_EQ(cni.integer(doc["n"], "n").error().message, "n: 3000000000 is out of range");
  EXPECT_EQ(*cni.integer(json(-7), "n"), -7);
  EXPECT_EQ(cni.boolean(json("yes"), "b").error().message, "b: must be a boolean, not a string");
  EXPECT_EQ(cni.stringList(json::parse(R"(["a", 1])"), "search").error().message,
            "search[1]: must be a string, not a number");
  EXPECT_EQ(member(doc, "x"), nullptr);  // null is unset
  EXPECT_EQ(member(doc, "missing"), nullptr);
  EXPECT_EQ(member(json(3), "x"), nullptr);
  EXPECT_EQ(user.list(doc, "n", "spec").error().message, "spec.n: must be a list, not a number");
  EXPECT_EQ(*user.list(doc, "x", "spec"), nullptr);
}

TEST(JsonFieldsTest, StrictObjectsNameTheUnknownFieldAndTheKnownOnes) {
  constexpr FieldReader user{Errc::kInvalidArgument};
  EXPECT_TRUE(user.checkObject(json::parse(R"({"a": 1})"), "spec", {"a", "b"}).ok());
  EXPECT_EQ(user.checkObject(json::parse(R"({"c": 1})"), "spec", {"a", "b"}).error().message,
            "spec.c: unknown field (known: a, b)");
  EXPECT_EQ(user.checkObject(json::array(), "spec", {"a"}).error().message,
            "spec: must be an object, not a list");
}

TEST(JsonFieldsTest, ParseRefusesDeepNestingAndNamesTheDocument) {
  EXPECT_EQ(parse("{", "stdin").error().code, Errc::kDecode);
  EXPECT_EQ(parse(std::string(100, '[') + std::string(100, ']'), "stdin").error().message,
            "stdin nests deeper than 64 levels");
  EXPECT_EQ(dump(json("a\xff")), "\"a\xef\xbf\xbd\"");
}

}  // namespace
}  // namespace podnet::json_fields
