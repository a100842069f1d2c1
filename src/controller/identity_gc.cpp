#include "controller/identity_gc.h"

#include <map>

#include "agent/attachment.h"
#include "model/objects.h"
#include "policy/identity.h"

namespace podnet::controller {
namespace {

// Every stored object under prefix that decodes, by its key; the others are skipped (an agent
// logs them; here they only mean fewer identities in use, which the second sweep confirms).
template <class T, class Decode>
Result<std::map<std::string, T>> decodeAll(store::Store& store, const std::string& prefix,
                                           Decode decode) {
  std::map<std::string, T> out;
  for (const auto& kv : PODNET_TRY(store.list(prefix))) {
    auto j = nlohmann::json::parse(kv.value, nullptr, false);
    if (j.is_discarded()) continue;
    auto object = decode(j);
    if (object) out.emplace(kv.key, std::move(*object));
  }
  return out;
}

}  // namespace

Result<std::set<uint32_t>> IdentityCollector::sweep() {
  auto namespaces =
      PODNET_TRY(decodeAll<model::Namespace>(store_, model::Namespace::kPrefix, [](const auto& j) {
        return model::namespaceFromJson(j);
      }));
  auto pods = PODNET_TRY(decodeAll<model::Pod>(
      store_, model::Pod::kPrefix, [](const auto& j) { return model::podFromJson(j); }));
  std::set<policy::IdentityLabels> inUse;
  for (const auto& kv : PODNET_TRY(store_.list(agent::Attachment::kPrefix))) {
    auto a = agent::attachmentFromJson(kv.value);
    if (!a || a->state == agent::Attachment::State::kReleasing || a->podName.empty()) continue;
    model::Pod pod;
    if (auto it = pods.find(model::Pod::keyFor(a->podNamespace, a->podName)); it != pods.end()) {
      pod = it->second;
    } else {
      pod.metadata.namespace_ = a->podNamespace;
      pod.metadata.name = a->podName;
    }
    auto ns = namespaces.find(model::Namespace::kPrefix + a->podNamespace);
    inUse.insert(ns == namespaces.end() ? policy::identityLabelsOf(pod)
                                        : policy::identityLabelsOf(ns->second, pod));
  }

  policy::IdentityAllocator identities(store_);
  std::set<uint32_t> unused, released;
  for (const auto& [id, labels] : PODNET_TRY(identities.list())) {
    if (inUse.count(labels)) continue;
    if (!unusedBefore_.count(id)) {
      unused.insert(id);
      continue;
    }
    // release() checks that the number still stands for these labels.
    PODNET_TRY_STATUS(identities.release(id, labels));
    released.insert(id);
  }
  unusedBefore_ = std::move(unused);
  return released;
}

}  // namespace podnet::controller
