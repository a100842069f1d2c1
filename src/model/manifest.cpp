#include "model/manifest.h"

#include <yaml.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <map>
#include <optional>
#include <sstream>

namespace podnet::model {
namespace {

// Bounds on one document, so a hostile file cannot exhaust memory or the stack: YAML aliases can
// expand exponentially ("billion laughs"), and the JSON encoder recurses once per level.
constexpr size_t kMaxNodes = 100'000;
constexpr size_t kMaxDepth = 64;

constexpr const char* kYamlTag = "tag:yaml.org,2002:";

std::string where(const std::string& source, int index) {
  return (source.empty() ? "object " : source + " document ") + std::to_string(index);
}

std::string lineOf(const yaml_mark_t& mark) {
  return " line " + std::to_string(mark.line + 1) + " column " + std::to_string(mark.column + 1);
}

// ---- YAML 1.2 core schema: what a plain (unquoted) scalar means ----

bool oneOf(std::string_view s, std::initializer_list<std::string_view> options) {
  for (auto option : options)
    if (s == option) return true;
  return false;
}

bool isNull(std::string_view s) {
  return oneOf(s, {"", "~", "null", "Null", "NULL"});
}

std::optional<bool> asBool(std::string_view s) {
  if (oneOf(s, {"true", "True", "TRUE"})) return true;
  if (oneOf(s, {"false", "False", "FALSE"})) return false;
  return std::nullopt;
}

bool allOf(std::string_view s, bool (*pred)(char)) {
  if (s.empty()) return false;
  for (char c : s)
    if (!pred(c)) return false;
  return true;
}

bool isDigit(char c) {
  return c >= '0' && c <= '9';
}
bool isOctal(char c) {
  return c >= '0' && c <= '7';
}
bool isHex(char c) {
  return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. A decimal too large for 64 bits becomes a float, as a
// JSON reader would take it.
std::optional<nlohmann::json> asInt(std::string_view s) {
  int base = 10;
  bool negative = false;
  std::string_view digits = s;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'x')) {
    base = s[1] == 'o' ? 8 : 16;
    digits = s.substr(2);
    if (!allOf(digits, base == 8 ? isOctal : isHex)) return std::nullopt;
  } else {
    if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
      negative = s[0] == '-';
      digits = s.substr(1);
    }
    if (!allOf(digits, isDigit)) return std::nullopt;
  }
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (ec == std::errc{} && end == digits.data() + digits.size()) {
    if (!negative) {
      if (magnitude <= uint64_t{INT64_MAX}) return nlohmann::json(static_cast<int64_t>(magnitude));
      return nlohmann::json(magnitude);
    }
    if (magnitude <= uint64_t{INT64_MAX}) return nlohmann::json(-static_cast<int64_t>(magnitude));
    if (magnitude == uint64_t{INT64_MAX} + 1) return nlohmann::json(INT64_MIN);
  }
  if (base != 10) return std::nullopt;  // beyond 64 bits: left a string
  double value = 0;
  auto parsed = std::from_chars(digits.data(), digits.data() + digits.size(), value);
  if (parsed.ec != std::errc{}) return std::nullopt;
  return nlohmann::json(negative ? -value : value);
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?. The core schema's .inf and .nan have no JSON
// form, so they stay strings.
std::optional<nlohmann::json> asFloat(std::string_view s) {
  size_t i = 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && isDigit(s[i])) ++i;
    return i - start;
  };
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  size_t whole = digits();
  size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) return std::nullopt;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
    if (digits() == 0) return std::nullopt;
  }
  if (i != s.size()) return std::nullopt;
  std::string_view body = s[0] == '+' ? s.substr(1) : s;
  double value = 0;
  auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), value);
  // Out of a double's range: left a string rather than turned into infinity or zero.
  if (ec != std::errc{} || end != body.data() + body.size()) return std::nullopt;
  return nlohmann::json(value);
}

nlohmann::json resolvePlain(const std::string& value) {
  if (isNull(value)) return nullptr;
  if (auto b = asBool(value)) return *b;
  if (auto i = asInt(value)) return *i;
  if (auto f = asFloat(value)) return *f;
  return value;
}

// The offset of the first byte that is not well-formed UTF-8, or npos. YAML and JSON text is
// UTF-8, and nlohmann::json refuses to encode a string that is not (the manifest goes to the agent
// as JSON), so such a file is refused here, where the message can say where.
size_t invalidUtf8At(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (len == 0 || i + len > text.size()) return i;
    uint32_t cp = len == 1 ? c : c & (0x7F >> len);
    for (size_t k = 1; k < len; ++k) {
      auto cont = static_cast<unsigned char>(text[i + k]);
      if ((cont & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (cont & 0x3F);
    }
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return i;
    i += len;
  }
  return std::string_view::npos;
}

// ---- YAML events -> JSON ----
//
// libyaml's parser gives a stream of events that still say whether a scalar was quoted (a loaded
// tree would not) and where each document starts, so the JSON is built straight from them. The
// first error is recorded and the rest of the document is ignored.
class JsonBuilder {
 public:
  explicit JsonBuilder(int documentsBefore) : documents_(documentsBefore) {}

  void startDocument() {
    ++documents_;
    inDocument_ = true;
    stack_.clear();
    skippedDepth_ = 0;
    anchors_.clear();
    root_.reset();
    error_.clear();
    nodes_ = 0;
  }

  void alias(const yaml_mark_t& mark, const std::string& anchor) {
    if (failed()) return;
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) return fail(mark, "alias to an anchor that is not complete");
    if (expectingKey()) {
      const nlohmann::json& key = it->second.first;
      if (key.is_string()) return setKey(key.get<std::string>(), mark);
      if (key.is_primitive() && !key.is_null()) return setKey(key.dump(), mark);
      return fail(mark, "a mapping key must be a scalar");
    }
    add(it->second.first, it->second.second, mark, "");
  }

  // tag: "?" for a plain scalar without a tag, "!" for a quoted or block one, else its tag.
  void scalar(const yaml_mark_t& mark, const std::string& tag, const std::string& anchor,
              std::string value) {
    if (failed()) return;
    if (tag == "?" && isNull(value)) {
      if (expectingKey()) return fail(mark, "a mapping key must be a string, not null");
      return add(nullptr, 1, mark, anchor);
    }
    if (expectingKey()) {
      // Keys are strings in JSON: take the text as written (`80: x` has the key "80").
      if (!anchor.empty()) anchors_[anchor] = {value, 1};
      return setKey(std::move(value), mark);
    }
    auto resolved = resolve(tag, value, mark);
    if (!resolved) return;
    add(std::move(*resolved), 1, mark, anchor);
  }

  void open(nlohmann::json value, const yaml_mark_t& mark, const std::string& anchor) {
    if (failed()) {
      ++skippedDepth_;
      return;
    }
    if (expectingKey()) {
      ++skippedDepth_;
      return fail(mark, "a mapping key must be a string, not a list or a map");
    }
    if (stack_.size() >= kMaxDepth) {
      ++skippedDepth_;
      return fail(mark, "nested more than " + std::to_string(kMaxDepth) + " levels deep");
    }
    stack_.push_back(Frame{std::move(value), anchor, mark, nodes_, std::nullopt});
  }

  void close() {
    if (skippedDepth_ > 0) {
      --skippedDepth_;
      return;
    }
    if (failed() || stack_.empty()) return;
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    size_t inside = nodes_ - frame.nodesBefore;
    nodes_ = frame.nodesBefore;
    add(std::move(frame.value), inside + 1, frame.mark, frame.anchor);
  }

  int documents() const { return documents_; }
  bool inDocument() const { return inDocument_; }
  void leaveDocument() { inDocument_ = false; }
  const std::string& error() const { return error_; }
  std::optional<nlohmann::json>& root() { return root_; }

 private:
  struct Frame {
    nlohmann::json value;
    std::string anchor;
    yaml_mark_t mark;
    size_t nodesBefore;
    std::optional<std::string> key;  // a map's key waiting for its value
  };

  bool failed() const { return !error_.empty(); }
  void fail(const yaml_mark_t& mark, const std::string& message) {
    if (error_.empty()) error_ = lineOf(mark) + ": " + message;
  }
  bool expectingKey() const {
    return !stack_.empty() && stack_.back().value.is_object() && !stack_.back().key;
  }
  void setKey(std::string key, const yaml_mark_t& mark) {
    if (stack_.back().value.contains(key)) return fail(mark, "duplicate key \"" + key + "\"");
    stack_.back().key = std::move(key);
  }

  std::optional<nlohmann::json> resolve(const std::string& tag, const std::string& value,
                                        const yaml_mark_t& mark) {
    if (tag == "!") return nlohmann::json(value);  // quoted or block scalar: a string
    if (tag == "?") return resolvePlain(value);
    if (tag.rfind(kYamlTag, 0) == 0) {
      std::string type = tag.substr(std::string_view(kYamlTag).size());
      if (type == "str") return nlohmann::json(value);
      std::optional<nlohmann::json> typed;
      if (type == "int") typed = asInt(value);
      if (type == "float") typed = asFloat(value);
      if (type == "bool") {
        if (auto b = asBool(value)) typed = nlohmann::json(*b);
      }
      if (type == "null" && isNull(value)) typed = nlohmann::json(nullptr);
      if (typed) return typed;
      fail(mark, "\"" + value + "\" is not a valid !!" + type);
      return std::nullopt;
    }
    fail(mark, "unsupported tag \"" + tag + "\"");
    return std::nullopt;
  }

  // Places a finished node (of `count` nodes in all) into its parent or as the root.
  void add(nlohmann::json value, size_t count, const yaml_mark_t& mark, const std::string& anchor) {
    nodes_ += count;
    if (nodes_ > kMaxNodes) {
      return fail(mark, "more than " + std::to_string(kMaxNodes) +
                            " values in one document (are aliases expanding?)");
    }
    if (!anchor.empty()) anchors_[anchor] = {value, count};
    if (stack_.empty()) {
      root_ = std::move(value);
      return;
    }
    Frame& parent = stack_.back();
    if (parent.value.is_array()) {
      parent.value.push_back(std::move(value));
    } else {
      parent.value[*parent.key] = std::move(value);
      parent.key.reset();
    }
  }

  int documents_;
  bool inDocument_ = false;
  std::vector<Frame> stack_;
  size_t skippedDepth_ = 0;
  size_t nodes_ = 0;
  std::map<std::string, std::pair<nlohmann::json, size_t>> anchors_;
  std::optional<nlohmann::json> root_;
  std::string error_;
};

// RAII for libyaml's parser and its events.
struct YamlParser {
  yaml_parser_t parser;
  bool ok;
  YamlParser() : ok(yaml_parser_initialize(&parser) != 0) {}
  ~YamlParser() {
    if (ok) yaml_parser_delete(&parser);
  }
  YamlParser(const YamlParser&) = delete;
  YamlParser& operator=(const YamlParser&) = delete;
};
struct YamlEvent {
  yaml_event_t event{};
  ~YamlEvent() { yaml_event_delete(&event); }
};

std::string text(const yaml_char_t* s) {
  return s == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(s));
}

// The parsed documents, with their 1-based index; null documents are left out.
using RawDocuments = std::vector<std::pair<int, nlohmann::json>>;

// documentsBefore: how many documents of the file came before input (read as JSON).
Result<RawDocuments> parseYaml(std::string_view input, const std::string& source,
                               int documentsBefore = 0) {
  RawDocuments out;
  YamlParser p;
  if (!p.ok) return makeError(Errc::kIo, source + ": cannot start the YAML parser");
  yaml_parser_set_input_string(&p.parser, reinterpret_cast<const unsigned char*>(input.data()),
                               input.size());
  JsonBuilder builder(documentsBefore);
  for (;;) {
    YamlEvent e;
    if (yaml_parser_parse(&p.parser, &e.event) == 0) {
      // A syntax error before the next document's first event belongs to that next document.
      int index = builder.inDocument() ? builder.documents() : builder.documents() + 1;
      std::string message = p.parser.problem != nullptr ? p.parser.problem : "cannot parse";
      if (p.parser.context != nullptr) message += " " + std::string(p.parser.context);
      return makeError(Errc::kDecode,
                       where(source, index) + lineOf(p.parser.problem_mark) + ": " + message);
    }
    const yaml_event_t& ev = e.event;
    switch (ev.type) {
      case YAML_STREAM_END_EVENT:
        return out;
      case YAML_DOCUMENT_START_EVENT:
        builder.startDocument();
        break;
      case YAML_DOCUMENT_END_EVENT: {
        builder.leaveDocument();
        if (!builder.error().empty()) {
          return makeError(Errc::kDecode, where(source, builder.documents()) + builder.error());
        }
        auto& root = builder.root();
        if (root && !root->is_null()) out.emplace_back(builder.documents(), std::move(*root));
        break;
      }
      case YAML_ALIAS_EVENT:
        builder.alias(ev.start_mark, text(ev.data.alias.anchor));
        break;
      case YAML_SCALAR_EVENT: {
        const auto& sc = ev.data.scalar;
        std::string tag = sc.tag != nullptr                     ? text(sc.tag)
                          : sc.style == YAML_PLAIN_SCALAR_STYLE ? "?"
                                                                : "!";
        builder.scalar(ev.start_mark, tag, text(sc.anchor),
                       std::string(reinterpret_cast<const char*>(sc.value), sc.length));
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
        builder.open(nlohmann::json::array(), ev.start_mark, text(ev.data.sequence_start.anchor));
        break;
      case YAML_MAPPING_START_EVENT:
        builder.open(nlohmann::json::object(), ev.start_mark, text(ev.data.mapping_start.anchor));
        break;
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        builder.close();
        break;
      default:
        break;
    }
  }
}

size_t depthOf(const nlohmann::json& j, size_t limit) {
  if (limit == 0 || !j.is_structured()) return 0;
  size_t deepest = 0;
  for (const auto& child : j) deepest = std::max(deepest, depthOf(child, limit - 1));
  return deepest + 1;
}

// "m.json: parse error at line 2, column 10: ...", without nlohmann's "[json.exception...] ".
Error jsonErrorOf(const nlohmann::json::exception& e, const std::string& source) {
  std::string what = e.what();
  auto bracket = what.find("] ");
  if (what.rfind("[json.exception", 0) == 0 && bracket != std::string::npos) {
    what = what.substr(bracket + 2);
  }
  return makeError(Errc::kDecode, source + ": " + what);
}

bool isSpace(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// A file that starts with '{', read as kubectl's reader (apimachinery's YAMLOrJSONDecoder) reads
// it: a stream of JSON objects, concatenated or one per line. When a JSON syntax error comes after
// at most one object, the rest is read as YAML from the line after that object: a YAML stream
// whose documents are written as JSON (`{...}` `---` `{...}`), or a YAML flow mapping. After two
// objects the file is JSON only. When the YAML reading fails too and no object was read, the JSON
// error is the one reported, as kubectl reports it.
Result<RawDocuments> parseJsonOrYaml(std::string_view text, const std::string& source) {
  RawDocuments out;
  size_t consumed = 0;  // the end of the last object read as JSON
  std::optional<Error> jsonError;
  std::istringstream in{std::string(text)};
  for (;;) {
    size_t next = consumed;
    while (next < text.size() && isSpace(text[next])) ++next;
    if (next == text.size()) return out;
    in.clear();
    in.seekg(static_cast<std::streamoff>(next));
    nlohmann::json j;
    try {
      in >> j;  // one value; the stream stops right after its closing brace
    } catch (const nlohmann::json::parse_error& e) {
      // nlohmann counts lines and columns from where this object started: the file's own.
      jsonError = jsonErrorOf(e, source);
      std::string& message = jsonError->message;
      size_t at = message.find("parse error at line ");
      size_t rest = message.find(": ", at == std::string::npos ? 0 : at);
      if (at != std::string::npos && rest != std::string::npos && e.byte > 0) {
        size_t offset = std::min(next + e.byte - 1, text.size());
        size_t lineStart = text.rfind('\n', offset == 0 ? 0 : offset - 1);
        lineStart = lineStart == std::string_view::npos || offset == 0 ? 0 : lineStart + 1;
        auto line = std::count(text.begin(), text.begin() + static_cast<ptrdiff_t>(offset), '\n');
        message = message.substr(0, at) + "parse error at line " + std::to_string(line + 1) +
                  ", column " + std::to_string(offset - lineStart + 1) + message.substr(rest);
      }
      break;
    } catch (const nlohmann::json::exception& e) {  // out_of_range for 1e999: JSON, but too big
      return jsonErrorOf(e, source);
    }
    // nlohmann's parser is iterative, so a deeply nested file is refused here before anything
    // recurses over it.
    if (depthOf(j, kMaxDepth + 1) > kMaxDepth) {
      return makeError(Errc::kDecode, where(source, static_cast<int>(out.size()) + 1) +
                                          ": nested more than " + std::to_string(kMaxDepth) +
                                          " levels deep");
    }
    out.emplace_back(static_cast<int>(out.size()) + 1, std::move(j));
    consumed = static_cast<size_t>(in.tellg());
  }
  if (out.size() > 1) return std::move(*jsonError);
  // Whitespace up to and including the first line break after the object is skipped; the lines
  // read as JSON stay as empty lines, so YAML errors give the file's own line numbers.
  size_t from = consumed;
  while (from < text.size() && isSpace(text[from]) && text[from] != '\n') ++from;
  if (from < text.size() && text[from] == '\n') ++from;
  std::string rest(static_cast<size_t>(std::count(text.begin(), text.begin() + from, '\n')), '\n');
  rest.append(text.substr(from));
  auto yaml = parseYaml(rest, source, static_cast<int>(out.size()));
  if (!yaml) return out.empty() ? std::move(*jsonError) : yaml.error();
  for (auto& doc : *yaml) out.push_back(std::move(doc));
  return out;
}

std::string typeName(const nlohmann::json& j) {
  if (j.is_array()) return "a list";
  if (j.is_string()) return "a string";
  if (j.is_number()) return "a number";
  if (j.is_boolean()) return "a boolean";
  return j.type_name();
}

std::string stringField(const nlohmann::json& j, const char* field) {
  auto it = j.find(field);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

Document makeDocument(nlohmann::json body, std::string source, int index, int item) {
  Document doc;
  doc.source = std::move(source);
  doc.index = index;
  doc.item = item;
  if (body.is_object()) {
    doc.apiVersion = stringField(body, "apiVersion");
    doc.kind = stringField(body, "kind");
    auto meta = body.find("metadata");
    if (meta != body.end() && meta->is_object()) {
      doc.name = stringField(*meta, "name");
      doc.namespace_ = stringField(*meta, "namespace");
    }
  }
  doc.body = std::move(body);
  return doc;
}

// ---- kinds ----

using Decoder = Result<Object> (*)(const nlohmann::json&);

Result<Object> decodeNamespace(const nlohmann::json& body) {
  auto ns = PODNET_TRY(namespaceFromJson(body));
  // The name becomes a store key segment and a label value: Kubernetes' rule for namespaces.
  if (!isDnsLabel(ns.metadata.name)) {
    return makeError(Errc::kInvalidArgument,
                     "Namespace " + ns.metadata.name + ": metadata.name: \"" + ns.metadata.name +
                         "\" is not a valid namespace name (lowercase letters, digits and '-', "
                         "at most 63 characters, alphanumeric at both ends)");
  }
  return Object{std::move(ns)};
}

Result<Object> decodeSubnet(const nlohmann::json& body) {
  auto subnet = PODNET_TRY(subnetFromJson(body));
  PODNET_TRY_STATUS(validate(subnet));
  return Object{std::move(subnet)};
}

Result<Object> decodePod(const nlohmann::json& body) {
  auto pod = PODNET_TRY(podFromJson(body));
  if (!isDnsLabel(pod.metadata.namespace_)) {
    return makeError(Errc::kInvalidArgument,
                     "Pod " + pod.metadata.name + ": metadata.namespace: \"" +
                         pod.metadata.namespace_ + "\" is not a valid namespace name");
  }
  if (!isDnsSubdomain(pod.metadata.name)) {
    return makeError(Errc::kInvalidArgument, "Pod " + pod.metadata.name + ": metadata.name: \"" +
                                                 pod.metadata.name +
                                                 "\" is not a valid pod name (lowercase RFC 1123)");
  }
  return Object{std::move(pod)};
}

// The kinds of kKinds that Object holds; the policy kinds are decoded by policy/.
Decoder decoderOf(const KindInfo& kind) {
  if (kind.kind == "Namespace") return decodeNamespace;
  if (kind.kind == "Pod") return decodePod;
  if (kind.kind == "Subnet") return decodeSubnet;
  return nullptr;
}

// The row of doc's kind in kKinds: an error naming every kind podnet knows when it has none.
Result<const KindInfo*> findKind(const Document& doc) {
  if (doc.apiVersion.empty() || doc.kind.empty()) {
    return doc.annotate(makeError(
        Errc::kInvalidArgument,
        std::string(doc.apiVersion.empty() ? "apiVersion" : "kind") + ": required (a string)"));
  }
  if (const KindInfo* kind = model::findKind(doc.apiVersion, doc.kind)) return kind;
  return doc.annotate(makeError(Errc::kUnsupported, "unknown kind \"" + doc.kind +
                                                        "\" of apiVersion \"" + doc.apiVersion +
                                                        "\" (podnet knows " + knownKinds() + ")"));
}

}  // namespace

std::string Document::describe() const {
  std::string out = where(source, index);
  if (item > 0) out += " item " + std::to_string(item);
  if (!kind.empty()) {
    out += " (" + kind;
    if (!name.empty()) out += " " + (namespace_.empty() ? "" : namespace_ + "/") + name;
    out += ")";
  }
  return out;
}

Error Document::annotate(Error error) const {
  if (kind.empty()) return std::move(error).context(describe());
  // The decoders name the object "<Kind> <name>" (cluster-scoped) or "<Kind> <ns>/<name>", with
  // the namespace as written or defaulted; "<Kind>" alone when the name is missing.
  std::vector<std::string> own = {kind + (name.empty() ? "" : " " + name) + ": ",
                                  kind + " " + namespace_ + "/" + name + ": "};
  if (namespace_.empty()) own.push_back(kind + " default/" + name + ": ");
  for (const auto& prefix : own) {
    if (error.message.rfind(prefix, 0) == 0) {
      error.message.erase(0, prefix.size());
      break;
    }
  }
  return std::move(error).context(describe());
}

Result<std::vector<Document>> parseDocuments(std::string_view text, const std::string& source) {
  // kubectl reads a UTF-8 byte order mark as whitespace; so does podnet.
  if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
  if (size_t bad = invalidUtf8At(text); bad != std::string_view::npos) {
    return makeError(Errc::kDecode,
                     source + ": not UTF-8 text (byte " + std::to_string(bad) + " is malformed)");
  }
  // YAML allows no control characters but tab and line breaks (nor does JSON outside escapes):
  // refused here with the byte that is wrong, for YAML and JSON alike.
  for (size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "0x%02X", c);
      return makeError(Errc::kDecode, source + ": control character " + hex + " at byte " +
                                          std::to_string(i) + " (not allowed in YAML or JSON)");
    }
  }
  // JSON first when the first character is '{', as kubectl decides.
  size_t first = text.find_first_not_of(" \t\r\n");
  bool json = first != std::string_view::npos && text[first] == '{';
  auto raw = PODNET_TRY(json ? parseJsonOrYaml(text, source) : parseYaml(text, source));

  std::vector<Document> docs;
  for (auto& [index, body] : raw) {
    if (!body.is_object()) {
      return makeError(Errc::kInvalidArgument,
                       where(source, index) + ": must be an object with apiVersion and kind, not " +
                           typeName(body));
    }
    if (stringField(body, "kind") != "List") {
      docs.push_back(makeDocument(std::move(body), source, index, 0));
      continue;
    }
    auto items = body.find("items");
    if (items == body.end() || !items->is_array()) {
      return makeError(Errc::kInvalidArgument,
                       where(source, index) + " (List): items: required, a list of objects");
    }
    for (size_t i = 0; i < items->size(); ++i) {
      Document doc = makeDocument(std::move((*items)[i]), source, index, static_cast<int>(i + 1));
      if (!doc.body.is_object() || doc.kind == "List") {
        return makeError(Errc::kInvalidArgument,
                         doc.describe() + ": a List item must be an object (not " +
                             (doc.kind == "List" ? "another List" : typeName(doc.body)) + ")");
      }
      docs.push_back(std::move(doc));
    }
  }
  return docs;
}

Result<std::vector<nlohmann::json>> parseManifest(std::string_view text,
                                                  const std::string& source) {
  auto docs = PODNET_TRY(parseDocuments(text, source));
  std::vector<nlohmann::json> out;
  out.reserve(docs.size());
  for (auto& doc : docs) out.push_back(std::move(doc.body));
  return out;
}

Document documentFor(nlohmann::json body, int index) {
  return makeDocument(std::move(body), "", index, 0);
}

Result<Object> decodeObject(const Document& doc) {
  const KindInfo* kind = PODNET_TRY(findKind(doc));
  Decoder decode = decoderOf(*kind);
  if (decode == nullptr) {
    return doc.annotate(makeError(Errc::kUnsupported,
                                  std::string(kind->kind) + " is decoded by the policy library"));
  }
  auto object = decode(doc.body);
  if (!object) return doc.annotate(object.error());
  return object;
}

Status checkKind(const Document& doc) {
  PODNET_TRY(findKind(doc));
  return okStatus();
}

Status checkKindAndName(const Document& doc) {
  PODNET_TRY_STATUS(checkKind(doc));
  if (doc.name.empty()) {
    return doc.annotate(makeError(Errc::kInvalidArgument, "metadata.name: required"));
  }
  return okStatus();
}

namespace {

// One overload per Object alternative: a kind added to Object without one here fails to compile.
struct KindOf {
  std::string operator()(const Namespace&) const { return "Namespace"; }
  std::string operator()(const Pod&) const { return "Pod"; }
  std::string operator()(const Subnet&) const { return "Subnet"; }
};
struct NameOf {
  std::string operator()(const Namespace& ns) const { return ns.metadata.name; }
  std::string operator()(const Pod& pod) const {
    return pod.metadata.namespace_ + "/" + pod.metadata.name;
  }
  std::string operator()(const Subnet& subnet) const { return subnet.name; }
};

}  // namespace

std::string kindOf(const Object& object) {
  return std::visit(KindOf{}, object);
}

std::string nameOf(const Object& object) {
  return std::visit(NameOf{}, object);
}

}  // namespace podnet::model
