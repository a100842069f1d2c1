// How `podnetctl get policies` shows the stored policies of the three kinds: a kubectl-style table,
// or a Kubernetes List of the objects as stored (defaults filled in), which `podnetctl apply -f`
// takes back unchanged.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "ctl/pods_view.h"
#include "policy/label_selector.h"

namespace podnet::ctl {

// policies: the agent's "policies" array (policy objects as policy::toJson writes them). Rows are
// sorted by kind, namespace and name; a non-empty namespace_ keeps only the policies of that
// namespace (a clusterwide policy has none). Columns: KIND, NAMESPACE, NAME, SELECTOR (the pod or
// endpoint selector, or "node:<selector>" for a clusterwide nodeSelector), TYPES (NetworkPolicy's
// policyTypes; the sections a podnet kind has: ingress, egress, ingressDeny, egressDeny). A policy
// this podnetctl cannot decode is listed with "?" in the last two columns. kWide is shown as
// kTable. No AGE column: the store keeps no creation time for policies.
std::string renderPolicies(const nlohmann::json& policies, OutputFormat format,
                           const std::string& namespace_ = "");

// kubectl's short form of a selector: "app=web,tier in (a,b),!legacy"; "<all>" when it selects
// everything.
std::string selectorText(const policy::LabelSelector& selector);

}  // namespace podnet::ctl
