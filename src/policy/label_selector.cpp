#include "policy/label_selector.h"

#include <algorithm>
#include <cctype>

#include "common/json_fields.h"

namespace podnet::policy {
namespace {

using namespace json_fields;

// A policy is an object a user applies: a field of the wrong type is an invalid argument.
constexpr FieldReader kRead{Errc::kInvalidArgument};

constexpr std::string_view kLabelKeyRule =
    "an optional DNS prefix and '/', then at most 63 characters of letters, digits, '-', '_' or "
    "'.', alphanumeric at both ends";
constexpr std::string_view kLabelValueRule =
    "empty or at most 63 characters of letters, digits, '-', '_' or '.', alphanumeric at both ends";

Result<std::string> readKey(const nlohmann::json& j, const std::string& field,
                            LabelSelector::Dialect dialect) {
  std::string key = PODNET_TRY(kRead.string(j, field));
  if (dialect == LabelSelector::Dialect::kCilium) {
    auto colon = key.find(':');
    if (colon != std::string::npos) {
      std::string source = key.substr(0, colon);
      if (source != "k8s") {
        return kRead.error(field, "\"" + key + "\": label source \"" + source +
                                      ":\" is not supported (only \"k8s:\" or none)");
      }
      key.erase(0, colon + 1);
    }
  }
  // Cilium's view of a namespace's labels: "io.cilium.k8s.namespace.labels.<namespace label key>".
  constexpr std::string_view kNsLabels = "io.cilium.k8s.namespace.labels.";
  bool nsLabel = dialect == LabelSelector::Dialect::kCilium && key.rfind(kNsLabels, 0) == 0;
  if (!isLabelKey(nsLabel ? key.substr(kNsLabels.size()) : key)) {
    return kRead.error(
        field, "\"" + key + "\" is not a valid label key (" + std::string(kLabelKeyRule) + ")");
  }
  return key;
}

Result<std::string> readValue(const nlohmann::json& j, const std::string& field) {
  std::string value = PODNET_TRY(kRead.string(j, field));
  if (!isLabelValue(value)) {
    return kRead.error(field, "\"" + value + "\" is not a valid label value (" +
                                  std::string(kLabelValueRule) + ")");
  }
  return value;
}

Result<LabelRequirement::Operator> readOperator(const nlohmann::json& j, const std::string& field) {
  std::string op = PODNET_TRY(kRead.string(j, field));
  using Op = LabelRequirement::Operator;
  for (Op o : {Op::kIn, Op::kNotIn, Op::kExists, Op::kDoesNotExist}) {
    if (op == operatorName(o)) return o;
  }
  return kRead.error(field, "\"" + op + "\" is not In, NotIn, Exists or DoesNotExist");
}

}  // namespace

const char* operatorName(LabelRequirement::Operator op) {
  switch (op) {
    case LabelRequirement::Operator::kIn:
      return "In";
    case LabelRequirement::Operator::kNotIn:
      return "NotIn";
    case LabelRequirement::Operator::kExists:
      return "Exists";
    case LabelRequirement::Operator::kDoesNotExist:
      return "DoesNotExist";
  }
  return "?";
}

bool isLabelKey(const std::string& key) {
  return model::isLabelKey(key);
}

bool isLabelValue(const std::string& value) {
  return model::isLabelValue(value);
}

bool LabelRequirement::matches(const model::Labels& labels) const {
  auto it = labels.find(key);
  bool in = it != labels.end() && std::binary_search(values.begin(), values.end(), it->second);
  switch (op) {
    case Operator::kIn:
      return in;
    case Operator::kNotIn:  // Kubernetes: an absent key satisfies NotIn
      return !in;
    case Operator::kExists:
      return it != labels.end();
    case Operator::kDoesNotExist:
      return it == labels.end();
  }
  return false;
}

LabelSelector LabelSelector::withLabels(model::Labels labels) {
  LabelSelector s;
  s.matchLabels_ = std::move(labels);
  return s;
}

Result<LabelSelector> LabelSelector::fromJson(const nlohmann::json& j, const std::string& field,
                                              Dialect dialect) {
  PODNET_TRY_STATUS(kRead.checkObject(j, field, {"matchLabels", "matchExpressions"}));
  LabelSelector s;
  if (const nlohmann::json* ml = member(j, "matchLabels")) {
    const std::string f = dot(field, "matchLabels");
    if (!ml->is_object()) return kRead.error(f, std::string("must be a map, not ") + typeName(*ml));
    for (const auto& [k, v] : ml->items()) {
      std::string key = PODNET_TRY(readKey(nlohmann::json(k), dot(f, k), dialect));
      std::string value = PODNET_TRY(readValue(v, dot(f, k)));
      auto [it, inserted] = s.matchLabels_.emplace(key, value);
      if (!inserted && it->second != value) {
        // "k8s:app" and "app" both given, with different values: nothing could match.
        return kRead.error(dot(f, k), "the key \"" + key + "\" is given twice");
      }
    }
  }
  const nlohmann::json* exprs = PODNET_TRY(kRead.list(j, "matchExpressions", field));
  if (exprs) {
    for (size_t i = 0; i < exprs->size(); ++i) {
      const std::string f = at(dot(field, "matchExpressions"), i);
      const nlohmann::json& e = (*exprs)[i];
      PODNET_TRY_STATUS(kRead.checkObject(e, f, {"key", "operator", "values"}));
      LabelRequirement r;
      const nlohmann::json* key = member(e, "key");
      if (!key) return kRead.error(dot(f, "key"), "required");
      r.key = PODNET_TRY(readKey(*key, dot(f, "key"), dialect));
      const nlohmann::json* op = member(e, "operator");
      if (!op) return kRead.error(dot(f, "operator"), "required");
      r.op = PODNET_TRY(readOperator(*op, dot(f, "operator")));
      const nlohmann::json* values = PODNET_TRY(kRead.list(e, "values", f));
      if (values) {
        for (size_t v = 0; v < values->size(); ++v) {
          r.values.push_back(PODNET_TRY(readValue((*values)[v], at(dot(f, "values"), v))));
        }
      }
      std::sort(r.values.begin(), r.values.end());
      r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
      bool takesValues =
          r.op == LabelRequirement::Operator::kIn || r.op == LabelRequirement::Operator::kNotIn;
      if (takesValues && r.values.empty()) {
        return kRead.error(dot(f, "values"),
                           std::string("must be non-empty when operator is ") + operatorName(r.op));
      }
      if (!takesValues && !r.values.empty()) {
        return kRead.error(dot(f, "values"), std::string("may not be specified when operator is ") +
                                                 operatorName(r.op));
      }
      s.matchExpressions_.push_back(std::move(r));
    }
  }
  return s;
}

bool LabelSelector::matches(const model::Labels& labels) const {
  for (const auto& [key, value] : matchLabels_) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  for (const auto& r : matchExpressions_) {
    if (!r.matches(labels)) return false;
  }
  return true;
}

bool LabelSelector::constrains(const std::string& key) const {
  if (matchLabels_.count(key)) return true;
  return std::any_of(matchExpressions_.begin(), matchExpressions_.end(),
                     [&](const LabelRequirement& r) { return r.key == key; });
}

nlohmann::json LabelSelector::toJson() const {
  nlohmann::json j = nlohmann::json::object();
  if (!matchLabels_.empty()) j["matchLabels"] = matchLabels_;
  if (!matchExpressions_.empty()) {
    nlohmann::json exprs = nlohmann::json::array();
    for (const auto& r : matchExpressions_) {
      nlohmann::json e = {{"key", r.key}, {"operator", operatorName(r.op)}};
      if (!r.values.empty()) e["values"] = r.values;
      exprs.push_back(std::move(e));
    }
    j["matchExpressions"] = std::move(exprs);
  }
  return j;
}

}  // namespace podnet::policy
