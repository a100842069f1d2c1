#include "agent/attachment.h"

namespace podnet::agent {

const char* stateName(Attachment::State state) {
  switch (state) {
    case Attachment::State::kPending:
      return "pending";
    case Attachment::State::kReady:
      return "ready";
    case Attachment::State::kReleasing:
      return "releasing";
  }
  return "pending";
}

nlohmann::json toJson(const Attachment& a) {
  return {
      {"network", a.network},
      {"containerId", a.containerId},
      {"ifname", a.ifname},
      {"netns", a.netns},
      {"podNamespace", a.podNamespace},
      {"podName", a.podName},
      {"podUid", a.podUid},
      {"pool", a.pool},
      {"address", a.address.str()},
      {"gateway", a.gateway.str()},
      {"hostVeth", a.hostVeth},
      {"hostMac", a.hostMac},
      {"podMac", a.podMac},
      {"mtu", a.mtu},
      {"node", a.node},
      {"createdAt", a.createdAt},
      {"state", stateName(a.state)},
  };
}

Result<Attachment> attachmentFromJson(const std::string& text) {
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return makeError(Errc::kDecode, "attachment record is not a JSON object");
  try {
    Attachment a;
    a.network = j.at("network").get<std::string>();
    a.containerId = j.at("containerId").get<std::string>();
    a.ifname = j.at("ifname").get<std::string>();
    a.netns = j.value("netns", "");
    a.podNamespace = j.value("podNamespace", "");
    a.podName = j.value("podName", "");
    a.podUid = j.value("podUid", "");
    a.pool = j.value("pool", "");
    a.address = PODNET_TRY(Ipv4Prefix::parse(j.at("address").get<std::string>()));
    a.gateway = PODNET_TRY(Ipv4::parse(j.at("gateway").get<std::string>()));
    a.hostVeth = j.value("hostVeth", "");
    a.hostMac = j.value("hostMac", "");
    a.podMac = j.value("podMac", "");
    a.mtu = j.value("mtu", 0);
    a.node = j.value("node", "");
    a.createdAt = j.value("createdAt", int64_t{0});
    const std::string state = j.value("state", "");
    a.state = state == "ready"       ? Attachment::State::kReady
              : state == "releasing" ? Attachment::State::kReleasing
                                     : Attachment::State::kPending;
    return a;
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::kDecode, std::string("attachment record: ") + e.what());
  }
}

}  // namespace podnet::agent
