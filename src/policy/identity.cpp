#include "policy/identity.h"

#include <charconv>

namespace podnet::policy {
namespace {

constexpr int kAllocateAttempts = 16;

Result<model::Labels> labelsFrom(const nlohmann::json& j, const char* field) {
  model::Labels out;
  auto it = j.find(field);
  if (it == j.end()) return out;
  if (!it->is_object()) return makeError(Errc::kDecode, std::string(field) + ": not a map");
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) return makeError(Errc::kDecode, std::string(field) + "." + k);
    out[k] = v.get<std::string>();
  }
  return out;
}

// Percent-encoding of everything but [A-Za-z0-9._-]: a store key segment with no '/'.
std::string encodeKeySegment(const std::string& s) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '.' || c == '_' || c == '-') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Result<uint32_t> parseId(const std::string& text, const std::string& what) {
  uint32_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return makeError(Errc::kDecode, what + ": \"" + text + "\" is not an identity number");
  }
  return v;
}

}  // namespace

model::Labels IdentityLabels::namespaceView() const {
  model::Labels out = namespaceLabels;
  out[kNamespaceNameLabel] = namespace_;
  return out;
}

model::Labels IdentityLabels::endpointView() const {
  model::Labels out = podLabels;
  for (const auto& [k, v] : namespaceLabels) out[kNamespaceLabelsPrefix + k] = v;
  out[kPodNamespaceLabel] = namespace_;
  return out;
}

nlohmann::json IdentityLabels::toJson() const {
  return {
      {"namespace", namespace_}, {"namespaceLabels", namespaceLabels}, {"podLabels", podLabels}};
}

Result<IdentityLabels> IdentityLabels::fromJson(const nlohmann::json& j) {
  if (!j.is_object() || !j.contains("namespace") || !j["namespace"].is_string()) {
    return makeError(Errc::kDecode, "identity labels: namespace: required");
  }
  IdentityLabels l;
  l.namespace_ = j["namespace"].get<std::string>();
  l.namespaceLabels = PODNET_TRY(labelsFrom(j, "namespaceLabels"));
  l.podLabels = PODNET_TRY(labelsFrom(j, "podLabels"));
  return l;
}

std::string IdentityLabels::canonical() const {
  // JSON objects are sorted by key (std::map), so the dump is canonical.
  return toJson().dump();
}

IdentityLabels identityLabelsOf(const model::Namespace& ns, const model::Pod& pod) {
  return {pod.metadata.namespace_, ns.metadata.labels, pod.metadata.labels};
}

IdentityLabels identityLabelsOf(const model::Pod& pod) {
  return {pod.metadata.namespace_, {}, pod.metadata.labels};
}

std::set<uint32_t> reservedIdentities(Entity e) {
  switch (e) {
    case Entity::kHost:
      return {PN_IDENTITY_HOST};
    case Entity::kRemoteNode:
      return {PN_IDENTITY_REMOTE_NODE};
    case Entity::kWorld:
      return {PN_IDENTITY_WORLD};
    case Entity::kCluster:
      return {PN_IDENTITY_HOST, PN_IDENTITY_REMOTE_NODE};
    case Entity::kAll:
      return {PN_IDENTITY_ANY};
  }
  return {};
}

std::string IdentityAllocator::idKey(uint32_t id) {
  return kPrefix + std::to_string(id);
}

std::string IdentityAllocator::labelsKey(const IdentityLabels& labels) {
  return kLabelsPrefix + encodeKeySegment(labels.canonical());
}

store::Compare IdentityAllocator::stillAllocated(uint32_t id, const IdentityLabels& labels) {
  return store::Compare::valueIs(idKey(id), labels.canonical());
}

Result<std::optional<uint32_t>> IdentityAllocator::find(const IdentityLabels& labels) {
  auto kv = PODNET_TRY(store_.get(labelsKey(labels)));
  if (!kv) return std::optional<uint32_t>();
  return std::optional<uint32_t>(PODNET_TRY(parseId(kv->value, kv->key)));
}

Result<uint32_t> IdentityAllocator::allocate(const IdentityLabels& labels) {
  const std::string byLabels = labelsKey(labels);
  for (int attempt = 0; attempt < kAllocateAttempts; ++attempt) {
    if (auto existing = PODNET_TRY(find(labels))) return *existing;

    auto cursor = PODNET_TRY(store_.get(kNextKey));
    uint32_t next = first_;
    if (cursor) next = PODNET_TRY(parseId(cursor->value, kNextKey));
    if (next < first_ || next >= end_) next = first_;

    std::set<uint32_t> used;
    for (const auto& kv : PODNET_TRY(store_.list(kPrefix))) {
      auto id = parseId(kv.key.substr(std::string(kPrefix).size()), kv.key);
      if (id) used.insert(*id);
    }
    // The first free number from the cursor up, then from the bottom.
    std::optional<uint32_t> id;
    for (uint32_t c = next; c < end_ && !id; ++c) {
      if (!used.count(c)) id = c;
    }
    for (uint32_t c = first_; c < next && !id; ++c) {
      if (!used.count(c)) id = c;
    }
    if (!id) {
      return makeError(Errc::kExhausted, "identities: every number from " + std::to_string(first_) +
                                             " to " + std::to_string(end_ - 1) + " is taken");
    }

    std::vector<store::Compare> compares = {store::Compare::absent(byLabels),
                                            store::Compare::absent(idKey(*id))};
    compares.push_back(cursor ? store::Compare::modRevisionIs(kNextKey, cursor->modRevision)
                              : store::Compare::absent(kNextKey));
    auto txn =
        PODNET_TRY(store_.txn(compares, {store::Op::put(idKey(*id), labels.canonical()),
                                         store::Op::put(byLabels, std::to_string(*id)),
                                         store::Op::put(kNextKey, std::to_string(*id + 1))}));
    if (txn.succeeded) return *id;
    // Someone else allocated meanwhile (maybe these very labels): look again.
  }
  return makeError(Errc::kConflict, "identity for " + labels.canonical() +
                                        ": still contended after " +
                                        std::to_string(kAllocateAttempts) + " attempts");
}

Result<std::optional<IdentityLabels>> IdentityAllocator::labelsOf(uint32_t id) {
  auto kv = PODNET_TRY(store_.get(idKey(id)));
  if (!kv) return std::optional<IdentityLabels>();
  nlohmann::json j = nlohmann::json::parse(kv->value, nullptr, false);
  auto labels = IdentityLabels::fromJson(j);
  if (!labels) return labels.error().context(kv->key);
  return std::optional<IdentityLabels>(std::move(*labels));
}

Result<std::map<uint32_t, IdentityLabels>> IdentityAllocator::list() {
  std::map<uint32_t, IdentityLabels> out;
  for (const auto& kv : PODNET_TRY(store_.list(kPrefix))) {
    uint32_t id = PODNET_TRY(parseId(kv.key.substr(std::string(kPrefix).size()), kv.key));
    nlohmann::json j = nlohmann::json::parse(kv.value, nullptr, false);
    auto labels = IdentityLabels::fromJson(j);
    if (!labels) return labels.error().context(kv.key);
    out.emplace(id, std::move(*labels));
  }
  return out;
}

Status IdentityAllocator::release(uint32_t id, const IdentityLabels& labels) {
  PODNET_TRY(store_.txn({stillAllocated(id, labels)},
                        {store::Op::del(idKey(id)), store::Op::del(labelsKey(labels))}));
  return okStatus();
}

Result<std::set<uint32_t>> IdentityAllocator::releaseUnused(const std::set<IdentityLabels>& inUse) {
  std::set<uint32_t> released;
  for (const auto& [id, labels] : PODNET_TRY(list())) {
    if (inUse.count(labels)) continue;
    PODNET_TRY_STATUS(release(id, labels));
    released.insert(id);
  }
  return released;
}

}  // namespace podnet::policy
