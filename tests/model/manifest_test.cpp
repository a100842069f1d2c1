#include "model/manifest.h"

#include <gtest/gtest.h>

namespace podnet::model {
namespace {

std::vector<Document> parse(std::string_view text, const std::string& source = "m.yaml") {
  auto docs = parseDocuments(text, source);
  EXPECT_TRUE(docs.ok()) << docs.error().message;
  return docs.ok() ? std::move(docs).value() : std::vector<Document>{};
}

std::string parseError(std::string_view text, const std::string& source = "m.yaml") {
  auto docs = parseDocuments(text, source);
  EXPECT_FALSE(docs.ok());
  return docs.ok() ? "" : docs.error().message;
}

// The value of `v:` in a one-document manifest.
nlohmann::json valueOf(const std::string& yaml) {
  auto docs = parse("apiVersion: v1\nkind: Namespace\nv: " + yaml + "\n");
  return docs.size() == 1 ? docs[0].body["v"] : nlohmann::json("<no document>");
}

TEST(ManifestTest, ReadsEveryYamlDocumentAndSkipsEmptyOnes) {
  auto docs = parse(R"(# two subnets and a namespace
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec:
  cidrBlock: 10.1.0.0/16
---
---
# only a comment
---
apiVersion: v1
kind: Namespace
metadata:
  name: shop
  labels: {team: a}
)");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].index, 1);
  EXPECT_EQ(docs[0].kind, "Subnet");
  EXPECT_EQ(docs[0].apiVersion, "podnet.io/v1");
  EXPECT_EQ(docs[0].name, "blue");
  EXPECT_EQ(docs[0].body["spec"]["cidrBlock"], "10.1.0.0/16");
  EXPECT_EQ(docs[1].index, 4);  // empty documents keep their number
  EXPECT_EQ(docs[1].describe(), "m.yaml document 4 (Namespace shop)");
  EXPECT_EQ(docs[1].body["metadata"]["labels"]["team"], "a");

  EXPECT_TRUE(parse("").empty());
  EXPECT_TRUE(parse("# nothing\n---\n").empty());
}

TEST(ManifestTest, PlainScalarsFollowTheYamlCoreSchemaAndQuotedOnesStayStrings) {
  EXPECT_EQ(valueOf("80"), 80);
  EXPECT_TRUE(valueOf("80").is_number_integer());
  EXPECT_EQ(valueOf("\"80\""), "80");
  EXPECT_EQ(valueOf("'80'"), "80");
  EXPECT_EQ(valueOf("-12"), -12);
  EXPECT_EQ(valueOf("+12"), 12);
  EXPECT_EQ(valueOf("0x1F"), 31);
  EXPECT_EQ(valueOf("0o17"), 15);
  EXPECT_EQ(valueOf("1.5"), 1.5);
  EXPECT_EQ(valueOf("1e3"), 1000.0);
  EXPECT_EQ(valueOf(".5"), 0.5);
  EXPECT_EQ(valueOf("\"1.20\""), "1.20");
  EXPECT_EQ(valueOf("true"), true);
  EXPECT_EQ(valueOf("False"), false);
  EXPECT_EQ(valueOf("\"true\""), "true");
  // YAML 1.1's yes/no/on/off are strings in 1.2.
  EXPECT_EQ(valueOf("yes"), "yes");
  EXPECT_EQ(valueOf("off"), "off");
  EXPECT_TRUE(valueOf("null").is_null());
  EXPECT_TRUE(valueOf("~").is_null());
  EXPECT_TRUE(valueOf("").is_null());
  EXPECT_EQ(valueOf("\"null\""), "null");
  EXPECT_EQ(valueOf("10.1.0.0/16"), "10.1.0.0/16");
  EXPECT_EQ(valueOf("10.1.0.1"), "10.1.0.1");
  EXPECT_EQ(valueOf("1.2.3"), "1.2.3");
  EXPECT_EQ(valueOf("12abc"), "12abc");
  EXPECT_EQ(valueOf(".inf"), ".inf");  // JSON has no infinity
  EXPECT_EQ(valueOf("18446744073709551615"), 18446744073709551615ull);
  EXPECT_EQ(valueOf("-9223372036854775808"), INT64_MIN);
  EXPECT_EQ(valueOf("!!str 80"), "80");
  EXPECT_EQ(valueOf("!!int \"80\""), 80);
  EXPECT_TRUE(valueOf("!!float 2").is_number_float());
  EXPECT_EQ(valueOf("!!float 2"), 2.0);
  EXPECT_EQ(valueOf("|\n  line one\n  line two"), "line one\nline two\n");
  EXPECT_EQ(valueOf("[1, \"2\", x]"), nlohmann::json({1, "2", "x"}));
  // Keys are strings as written, even when they look like numbers.
  EXPECT_EQ(valueOf("{80: http, 1.0: one}"), nlohmann::json({{"80", "http"}, {"1.0", "one"}}));
}

TEST(ManifestTest, AnchorsAndAliasesAreExpanded) {
  auto docs = parse(R"(apiVersion: v1
kind: Namespace
a: &shared {x: 1, y: [2, 3]}
b: *shared
)");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].body["b"], docs[0].body["a"]);
}

TEST(ManifestTest, ExponentialAliasExpansionIsRefused) {
  std::string yaml = "apiVersion: v1\nkind: Namespace\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 10; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    yaml += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 0; k < 9; ++k) yaml += ", " + prev;
    yaml += "]\n";
  }
  std::string error = parseError(yaml);
  EXPECT_NE(error.find("m.yaml document 1 line "), std::string::npos) << error;
  EXPECT_NE(error.find("more than 100000 values in one document"), std::string::npos) << error;
}

TEST(ManifestTest, SyntaxErrorsNameTheSourceDocumentAndLine) {
  std::string error = parseError(R"(apiVersion: v1
kind: Namespace
metadata: {name: a}
---
apiVersion: v1
kind: Namespace
metadata:
  name: b
 labels: x
)",
                                 "ns.yaml");
  EXPECT_EQ(error.rfind("ns.yaml document 2 line 9 column ", 0), 0u) << error;

  error = parseError("apiVersion: v1\nkind: Namespace\nkind: Subnet\n");
  EXPECT_EQ(error, "m.yaml document 1 line 3 column 1: duplicate key \"kind\"");

  error = parseError("apiVersion: v1\nkind: Namespace\n---\n[a, b]\n");
  EXPECT_EQ(error, "m.yaml document 2: must be an object with apiVersion and kind, not a list");

  error = parseError("apiVersion: v1\nkind: !custom Namespace\n");
  EXPECT_EQ(error, "m.yaml document 1 line 2 column 7: unsupported tag \"!custom\"");

  error = parseError("a: *nowhere\n");
  EXPECT_EQ(error.rfind("m.yaml document 1 line 1 column ", 0), 0u) << error;

  // A stray flow indicator: the parser's own words, in the document it broke.
  EXPECT_EQ(parseError(","),
            "m.yaml document 1 line 1 column 1: did not find expected node content while "
            "parsing a block node");
  EXPECT_EQ(parseError("apiVersion: v1\nkind: Namespace\n---\n,\n"),
            "m.yaml document 2 line 4 column 1: did not find expected node content while "
            "parsing a block node");

  error = parseError("? [a, b]\n: c\n");
  EXPECT_NE(error.find("a mapping key must be a string"), std::string::npos) << error;
}

TEST(ManifestTest, ReadsAJsonObjectOrList) {
  auto docs = parse(R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"},
                        "n": 80, "s": "80"})",
                    "ns.json");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].describe(), "ns.json document 1 (Namespace shop)");
  EXPECT_EQ(docs[0].body["n"], 80);
  EXPECT_EQ(docs[0].body["s"], "80");

  docs = parse(R"({"apiVersion": "v1", "kind": "List", "items": [
      {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
      {"apiVersion": "podnet.io/v1", "kind": "Subnet", "metadata": {"name": "b"}}]})",
               "list.json");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[1].describe(), "list.json document 1 item 2 (Subnet b)");
  EXPECT_EQ(docs[1].body["kind"], "Subnet");

  // Neither JSON nor YAML (which would read `"kind": }` as a null kind): the JSON error.
  std::string error = parseError("{\"apiVersion\": \"v1\",\n \"kind\": ]}", "bad.json");
  EXPECT_EQ(error.rfind("bad.json: parse error at line 2, column ", 0), 0u) << error;
  error = parseError(R"({"kind": "Namespace", "n": 1e999})", "big.json");
  EXPECT_EQ(error, "big.json: number overflow parsing '1e999'");
  error = parseError(R"({"kind": "List", "items": [{"kind": "Namespace"}, 5]})", "l.json");
  EXPECT_EQ(error, "l.json document 1 item 2: a List item must be an object (not a number)");
  error = parseError(R"({"kind": "List"})", "l.json");
  EXPECT_EQ(error, "l.json document 1 (List): items: required, a list of objects");
}

// kubectl reads a file that starts with '{' as a JSON stream, and the rest of it as YAML when
// JSON fails after at most one object (apimachinery's YAMLOrJSONDecoder). So does podnet.
TEST(ManifestTest, ReadsWhatKubectlReads) {
  const std::string a = R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}})";
  const std::string b = R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}})";
  const std::string c = R"({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "c"}})";
  auto names = [](const std::vector<Document>& docs) {
    std::vector<std::string> out;
    for (const auto& d : docs) out.push_back(d.describe());
    return out;
  };
  // A YAML stream whose documents are written as JSON.
  EXPECT_EQ(names(parse(a + "\n---\n" + b + "\n---\n" + c + "\n")),
            (std::vector<std::string>{"m.yaml document 1 (Namespace a)",
                                      "m.yaml document 2 (Namespace b)",
                                      "m.yaml document 3 (Namespace c)"}));
  EXPECT_EQ(parse("---\n" + a + "\n---\n" + b).size(), 2u);
  EXPECT_EQ(parse(a + "\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n").size(), 2u);
  // Concatenated JSON objects, on one line or one per line.
  EXPECT_EQ(names(parse(a + b + c, "m.json")),
            (std::vector<std::string>{"m.json document 1 (Namespace a)",
                                      "m.json document 2 (Namespace b)",
                                      "m.json document 3 (Namespace c)"}));
  EXPECT_EQ(parse(a + "\n" + b + "\n").size(), 2u);
  // A YAML flow mapping at the top.
  EXPECT_EQ(names(parse("{apiVersion: v1, kind: Namespace, metadata: {name: a}}")),
            (std::vector<std::string>{"m.yaml document 1 (Namespace a)"}));
  // A List written as JSON, in a YAML stream.
  const std::string list =
      R"({"apiVersion": "v1", "kind": "List", "items": [)" + b + "," + c + "]}";
  EXPECT_EQ(names(parse(a + "\n---\n" + list)),
            (std::vector<std::string>{"m.yaml document 1 (Namespace a)",
                                      "m.yaml document 2 item 1 (Namespace b)",
                                      "m.yaml document 2 item 2 (Namespace c)"}));

  // A YAML error after a JSON document names the YAML document and the file's own line.
  EXPECT_EQ(parseError(a + "\n---\n" + b + "\n---\n{\"kind\": ]\n"),
            "m.yaml document 3 line 5 column 10: did not find expected node content while parsing "
            "a flow node");
  // After two JSON objects the file is JSON only, as for kubectl.
  std::string error = parseError(a + b + "\n---\n" + c, "m.json");
  EXPECT_EQ(error.rfind("m.json: parse error at line 2, column ", 0), 0u) << error;
}

TEST(ManifestTest, AYamlListStandsForItsItems) {
  auto docs = parse(R"(apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: a}}
- {apiVersion: v1, kind: Namespace, metadata: {name: b}}
---
apiVersion: v1
kind: Namespace
metadata: {name: c}
)");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[1].describe(), "m.yaml document 1 item 2 (Namespace b)");
  EXPECT_EQ(docs[2].describe(), "m.yaml document 2 (Namespace c)");
  auto bodies = parseManifest("apiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n", "x");
  ASSERT_TRUE(bodies.ok());
  EXPECT_EQ((*bodies)[0]["metadata"]["name"], "c");
}

TEST(ManifestTest, TextThatIsNotUtf8IsRefused) {
  EXPECT_EQ(parseError("apiVersion: v1\nkind: Namespace\nx: \"\xC3\x28\"\n"),
            "m.yaml: not UTF-8 text (byte 35 is malformed)");
  EXPECT_EQ(parseError("x: \xED\xA0\x80\n"), "m.yaml: not UTF-8 text (byte 3 is malformed)");
  EXPECT_EQ(parseError("x: \xC0\xAF\n"), "m.yaml: not UTF-8 text (byte 3 is malformed)");
  auto docs =
      parse("apiVersion: v1\nkind: Namespace\nx: \"gr\xC3\xBC\xC3\x9F \xF0\x9F\x91\x8B\"\n");
  ASSERT_EQ(docs.size(), 1u);
  EXPECT_EQ(docs[0].body["x"], "gr\xC3\xBC\xC3\x9F \xF0\x9F\x91\x8B");
}

TEST(ManifestTest, ControlCharactersAreRefusedAndEscapesGiveUtf8) {
  EXPECT_EQ(parseError(std::string("apiVersion: v1\nx: a\0b\n", 22)),
            "m.yaml: control character 0x00 at byte 19 (not allowed in YAML or JSON)");
  EXPECT_EQ(parseError("x: \x1B[1m\n"),
            "m.yaml: control character 0x1B at byte 3 (not allowed in YAML or JSON)");
  // Escapes in double quotes stand for code points, written as UTF-8.
  EXPECT_EQ(valueOf(R"("a\Nb\_c\x41\u00e9\t")"),
            "a\xC2\x85"
            "b\xC2\xA0"
            "cA\xC3\xA9\t");
}

TEST(ManifestTest, AByteOrderMarkIsIgnored) {
  auto docs = parse("\xEF\xBB\xBF{\"apiVersion\":\"v1\",\"kind\":\"Namespace\"}");
  EXPECT_EQ(docs.size(), 1u);
}

TEST(ManifestTest, DecodesEachKnownKind) {
  auto docs = parse(R"(apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: 10.1.0.0/16, excludeIps: [10.1.0.2..10.1.0.9], namespaces: [shop]}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {team: a}}
)");
  ASSERT_EQ(docs.size(), 2u);
  auto subnet = decodeObject(docs[0]);
  ASSERT_TRUE(subnet.ok()) << subnet.error().message;
  ASSERT_TRUE(std::holds_alternative<Subnet>(*subnet));
  EXPECT_EQ(std::get<Subnet>(*subnet).excludeIps[0].str(), "10.1.0.2..10.1.0.9");
  EXPECT_EQ(kindOf(*subnet), "Subnet");
  EXPECT_EQ(nameOf(*subnet), "blue");
  auto ns = decodeObject(docs[1]);
  ASSERT_TRUE(ns.ok()) << ns.error().message;
  EXPECT_EQ(std::get<Namespace>(*ns).metadata.labels.at("team"), "a");
  EXPECT_EQ(kindOf(*ns), "Namespace");
  EXPECT_EQ(nameOf(*ns), "shop");
}

TEST(ManifestTest, DecodeErrorsNameTheDocumentAndTheField) {
  auto docs = parse(R"(apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: 10.1.0.0/16, gateway: 10.2.0.1}
)",
                    "subnet.yaml");
  ASSERT_EQ(docs.size(), 2u);
  auto subnet = decodeObject(docs[1]);
  ASSERT_FALSE(subnet.ok());
  EXPECT_EQ(subnet.error().message,
            "subnet.yaml document 2 (Subnet blue): spec.gateway: 10.2.0.1 is outside "
            "spec.cidrBlock 10.1.0.0/16");

  // A number where a string is wanted: the YAML file said `cidrBlock: 16`.
  docs =
      parse("apiVersion: podnet.io/v1\nkind: Subnet\nmetadata: {name: b}\nspec: {cidrBlock: 16}\n");
  EXPECT_EQ(decodeObject(docs[0]).error().message,
            "m.yaml document 1 (Subnet b): spec.cidrBlock: required, a CIDR such as 10.1.0.0/16");

  docs = parse("apiVersion: v1\nkind: Namespace\nmetadata: {name: Shop}\n");
  EXPECT_EQ(decodeObject(docs[0]).error().message.rfind(
                "m.yaml document 1 (Namespace Shop): metadata.name: \"Shop\" is not a valid "
                "namespace name",
                0),
            0u);
  docs = parse("apiVersion: v1\nkind: Namespace\nmetadata: {labels: {a: b}}\n");
  EXPECT_EQ(decodeObject(docs[0]).error().message,
            "m.yaml document 1 (Namespace): metadata.name: required");
}

TEST(ManifestTest, UnknownKindsAreRefusedNamingTheKindAndTheKnownOnes) {
  auto docs = parse(R"(apiVersion: networking.k8s.io/v2
kind: NetworkPolicy
metadata: {name: deny}
---
kind: Subnet
metadata: {name: x}
)",
                    "p.yaml");
  ASSERT_EQ(docs.size(), 2u);
  auto policy = decodeObject(docs[0]);
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.error().code, Errc::kUnsupported);
  EXPECT_EQ(policy.error().message,
            "p.yaml document 1 (NetworkPolicy deny): unknown kind \"NetworkPolicy\" of apiVersion "
            "\"networking.k8s.io/v2\" (podnet knows v1 Namespace, v1 Pod, podnet.io/v1 Subnet, "
            "networking.k8s.io/v1 NetworkPolicy, podnet.io/v1 PodnetNetworkPolicy, podnet.io/v1 "
            "PodnetClusterwideNetworkPolicy)");
  EXPECT_EQ(decodeObject(docs[1]).error().message,
            "p.yaml document 2 (Subnet x): apiVersion: required (a string)");
  EXPECT_FALSE(checkKindAndName(docs[0]).ok());
}

TEST(ManifestTest, ADeleteNeedsOnlyAKnownKindAndAName) {
  auto docs = parse(R"(apiVersion: podnet.io/v1
kind: Subnet
metadata: {name: blue}
spec: {cidrBlock: not-a-cidr}
---
apiVersion: podnet.io/v1
kind: Subnet
metadata: {}
)");
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_FALSE(decodeObject(docs[0]).ok());
  EXPECT_TRUE(checkKindAndName(docs[0]).ok());
  EXPECT_EQ(checkKindAndName(docs[1]).error().message,
            "m.yaml document 2 (Subnet): metadata.name: required");
}

TEST(ManifestTest, KindsDecodedElsewhereAreKnownFromTheOneKindsTable) {
  auto docs = parse(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny}
---
apiVersion: v1
kind: Pod
metadata: {name: web}
---
apiVersion: v1
kind: Service
metadata: {name: web}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {}
)");
  ASSERT_EQ(docs.size(), 4u);
  EXPECT_TRUE(checkKind(docs[0]).ok());
  EXPECT_TRUE(checkKindAndName(docs[0]).ok());
  // model knows the policy kinds but leaves decoding them to policy/.
  EXPECT_EQ(decodeObject(docs[0]).error().code, Errc::kUnsupported);
  EXPECT_TRUE(checkKind(docs[1]).ok());
  EXPECT_EQ(checkKind(docs[2]).error().message,
            "m.yaml document 3 (Service web): unknown kind \"Service\" of apiVersion \"v1\" "
            "(podnet knows v1 Namespace, v1 Pod, podnet.io/v1 Subnet, networking.k8s.io/v1 "
            "NetworkPolicy, podnet.io/v1 PodnetNetworkPolicy, podnet.io/v1 "
            "PodnetClusterwideNetworkPolicy)");
  EXPECT_EQ(checkKindAndName(docs[3]).error().message,
            "m.yaml document 4 (NetworkPolicy): metadata.name: required");
}

// The one table of kinds: where each kind's objects are stored is where the codecs put them.
TEST(ManifestTest, TheKindsTableMatchesTheStoreKeys) {
  EXPECT_EQ(kindInfo("Namespace").storePrefix, Namespace::kPrefix);
  EXPECT_EQ(kindInfo("Pod").storePrefix, Pod::kPrefix);
  EXPECT_EQ(kindInfo("Subnet").storePrefix, Subnet::kPrefix);
  EXPECT_TRUE(kindInfo("Pod").namespaced);
  EXPECT_FALSE(kindInfo("Subnet").namespaced);
  for (const KindInfo& kind : kKinds) {
    EXPECT_EQ(findKind(kind.apiVersion, kind.kind), &kind);
    EXPECT_TRUE(kind.storePrefix.starts_with("/podnet/") && kind.storePrefix.ends_with("/"));
  }
  EXPECT_EQ(findKind("v1", "Service"), nullptr);
}

TEST(ManifestTest, NamespacedObjectsAreNamedWithTheirNamespaceOnce) {
  auto docs = parse(R"(apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all, namespace: shop}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: deny-all}
---
apiVersion: v1
kind: Pod
metadata: {name: a, namespace: x}
spec: {containers: [{name: c, ports: [{containerPort: 0}]}]}
)",
                    "p.yaml");
  ASSERT_EQ(docs.size(), 3u);
  EXPECT_EQ(docs[0].namespace_, "shop");
  EXPECT_EQ(docs[0].describe(), "p.yaml document 1 (NetworkPolicy shop/deny-all)");
  // A decoder's "<Kind> <ns>/<name>: " is dropped like "<Kind> <name>: ".
  auto error = [](const char* message) { return makeError(Errc::kInvalidArgument, message); };
  EXPECT_EQ(docs[0].annotate(error("NetworkPolicy shop/deny-all: spec.ingress[0]: bad")).message,
            "p.yaml document 1 (NetworkPolicy shop/deny-all): spec.ingress[0]: bad");
  EXPECT_EQ(docs[0].annotate(error("NetworkPolicy other/deny-all: bad")).message,
            "p.yaml document 1 (NetworkPolicy shop/deny-all): NetworkPolicy other/deny-all: bad");
  // No namespace written: the decoders name it "default", the description does not.
  EXPECT_EQ(docs[1].describe(), "p.yaml document 2 (NetworkPolicy deny-all)");
  EXPECT_EQ(docs[1].annotate(error("NetworkPolicy default/deny-all: spec: bad")).message,
            "p.yaml document 2 (NetworkPolicy deny-all): spec: bad");
  auto nameless =
      parse("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {namespace: a}\n");
  EXPECT_EQ(nameless[0].annotate(error("NetworkPolicy: metadata.name: required")).message,
            "m.yaml document 1 (NetworkPolicy): metadata.name: required");
  // Pods too (their decoder says "Pod x/a: ").
  EXPECT_EQ(decodeObject(docs[2]).error().message,
            "p.yaml document 3 (Pod x/a): spec.containers[0].ports[0].containerPort: required, "
            "1-65535");
}

TEST(ManifestTest, ObjectsReceivedOverRpcAreNamedByPosition) {
  Document doc = documentFor(
      nlohmann::json::parse(R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"a"}})"),
      3);
  EXPECT_EQ(doc.describe(), "object 3 (Namespace a)");
  EXPECT_EQ(doc.annotate(makeError(Errc::kInvalidArgument, "Namespace a: bad")).message,
            "object 3 (Namespace a): bad");
  EXPECT_EQ(doc.annotate(makeError(Errc::kInvalidArgument, "other: bad")).message,
            "object 3 (Namespace a): other: bad");
}

}  // namespace
}  // namespace podnet::model
