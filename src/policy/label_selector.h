// Kubernetes label selectors (metav1.LabelSelector): matchLabels and matchExpressions, ANDed.
// The same type serves NetworkPolicy's podSelector/namespaceSelector and the podnet kinds'
// endpointSelector/fromEndpoints/nodeSelector.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "model/objects.h"

namespace podnet::policy {

struct LabelRequirement {
  enum class Operator { kIn, kNotIn, kExists, kDoesNotExist };
  std::string key;
  Operator op = Operator::kExists;
  std::vector<std::string> values;  // sorted, unique; empty for Exists/DoesNotExist

  bool matches(const model::Labels& labels) const;
  bool operator==(const LabelRequirement&) const = default;
};

const char* operatorName(LabelRequirement::Operator op);

class LabelSelector {
 public:
  // How keys are read. kKubernetes: keys are Kubernetes label keys. kCilium (the podnet kinds):
  // a key may carry Cilium's source prefix "k8s:", which is dropped ("k8s:app" is "app"); other
  // sources ("reserved:", "cidr:", ...) are refused.
  enum class Dialect { kKubernetes, kCilium };

  // Decodes {"matchLabels": {...}, "matchExpressions": [{"key", "operator", "values"}]} with
  // Kubernetes' validation: keys are label keys, matchLabels values and In/NotIn values are
  // label values; In and NotIn need at least one value; Exists and DoesNotExist take none;
  // unknown fields are errors. field names the selector in messages ("spec.podSelector"), and
  // every error names the offending field below it ("spec.podSelector.matchExpressions[1].values").
  static Result<LabelSelector> fromJson(const nlohmann::json& j, const std::string& field,
                                        Dialect dialect = Dialect::kKubernetes);

  static LabelSelector everything() { return {}; }
  static LabelSelector withLabels(model::Labels labels);

  // Every requirement holds. An empty selector matches every label set, including an empty one.
  bool matches(const model::Labels& labels) const;
  // No requirement at all: the selector matches everything ({} in a manifest).
  bool selectsEverything() const { return matchLabels_.empty() && matchExpressions_.empty(); }
  // Some requirement names key (matchLabels or matchExpressions).
  bool constrains(const std::string& key) const;

  const model::Labels& matchLabels() const { return matchLabels_; }
  const std::vector<LabelRequirement>& matchExpressions() const { return matchExpressions_; }
  void addRequirement(LabelRequirement r) { matchExpressions_.push_back(std::move(r)); }

  nlohmann::json toJson() const;  // {} when empty
  bool operator==(const LabelSelector&) const = default;

 private:
  model::Labels matchLabels_;
  std::vector<LabelRequirement> matchExpressions_;
};

// Label key and value syntax (Kubernetes): a key is an optional DNS-subdomain prefix and '/', then
// a name of at most 63 characters of [A-Za-z0-9._-], alphanumeric at both ends; a value is empty
// or such a name.
bool isLabelKey(const std::string& key);
bool isLabelValue(const std::string& value);

}  // namespace podnet::policy
