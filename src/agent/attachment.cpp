#include "agent/attachment.h"

#include "common/enum_names.h"

namespace podnet::agent {
namespace {

constexpr EnumNames<Attachment::State, 3> kStateNames{
    {{Attachment::State::kPending, "pending"},
     {Attachment::State::kReady, "ready"},
     {Attachment::State::kReleasing, "releasing"}}};
static_assert(kStateNames.size() == static_cast<size_t>(Attachment::State::kCount));

Result<Attachment::State> stateFromName(const std::string& name) {
  auto state = parseEnum(kStateNames, name, "state");
  if (state) return state;
  return makeError(Errc::kDecode, "attachment record: state \"" + name + "\" is not " +
                                      enumChoices(kStateNames) + " (written by a newer podnet?)");
}

// "" (a pending attachment has no veth yet) is no MAC; anything else must parse.
Result<std::optional<MacAddress>> macField(const nlohmann::json& j, const char* field) {
  const std::string text = j.value(field, "");
  if (text.empty()) return std::optional<MacAddress>();
  auto mac = MacAddress::parse(text);
  if (!mac)
    return makeError(Errc::kDecode,
                     std::string("attachment record: ") + field + ": " + mac.error().message);
  return std::optional<MacAddress>(*mac);
}

}  // namespace

const char* stateName(Attachment::State state) {
  // The table's names are string literals, so each view ends in a NUL.
  return enumName(kStateNames, state).data();
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
      {"hostMac", a.hostMac ? a.hostMac->str() : ""},
      {"podMac", a.podMac ? a.podMac->str() : ""},
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
    a.hostMac = PODNET_TRY(macField(j, "hostMac"));
    a.podMac = PODNET_TRY(macField(j, "podMac"));
    a.mtu = j.value("mtu", 0);
    a.node = j.value("node", "");
    a.createdAt = j.value("createdAt", int64_t{0});
    a.state = PODNET_TRY(stateFromName(j.at("state").get<std::string>()));
    return a;
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::kDecode, std::string("attachment record: ") + e.what());
  }
}

}  // namespace podnet::agent
