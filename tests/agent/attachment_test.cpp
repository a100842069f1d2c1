#include "agent/attachment.h"

#include <gtest/gtest.h>

#include <set>

namespace podnet::agent {
namespace {

// Every field set to a value that differs from its default, so a field the codec drops or
// mixes up with another makes the round trip differ.
Attachment everyFieldSet() {
  Attachment a;
  a.network = "podnet";
  a.containerId = "ctr1";
  a.ifname = "eth0";
  a.netns = "/var/run/netns/p";
  a.podNamespace = "shop";
  a.podName = "web-0";
  a.podUid = "6c0f5c1e-0c5a-4a8e-9d3b-2f1e0c9b8a7d";
  a.pool = "blue";
  a.address = *Ipv4Prefix::parse("10.244.0.9/16");
  a.gateway = *Ipv4::parse("10.244.0.1");
  a.hostVeth = "pn0123456789ab";
  a.hostMac = *MacAddress::parse("0a:00:00:00:00:01");
  a.podMac = *MacAddress::parse("0a:00:00:00:00:02");
  a.mtu = 1450;
  a.node = "node-1";
  a.createdAt = 1764806400;
  a.state = Attachment::State::kReady;
  return a;
}

TEST(AttachmentTest, EveryFieldRoundTripsThroughTheStoreEncoding) {
  Attachment a = everyFieldSet();
  nlohmann::json encoded = toJson(a);
  EXPECT_EQ(encoded.size(), 17u) << encoded.dump();
  auto back = attachmentFromJson(encoded.dump());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, a) << "encoded as " << encoded.dump() << ", decoded as " << toJson(*back).dump();
  EXPECT_EQ(back->key(), "/podnet/attachments/podnet/ctr1/eth0");
  EXPECT_EQ(back->owner(), "podnet/ctr1/eth0");
  EXPECT_EQ(encoded["hostMac"], "0a:00:00:00:00:01");
}

TEST(AttachmentTest, EveryStateRoundTripsUnderItsOwnName) {
  std::set<std::string> names;
  for (int i = 0; i < static_cast<int>(Attachment::State::kCount); ++i) {
    Attachment a = everyFieldSet();
    a.state = static_cast<Attachment::State>(i);
    names.insert(stateName(a.state));
    auto back = attachmentFromJson(toJson(a).dump());
    ASSERT_TRUE(back.ok()) << stateName(a.state) << ": " << back.error().message;
    EXPECT_EQ(back->state, a.state) << stateName(a.state);
    EXPECT_EQ(*back, a) << stateName(a.state);
  }
  EXPECT_EQ(names, (std::set<std::string>{"pending", "ready", "releasing"}));
}

TEST(AttachmentTest, APendingRecordHasNoMacsYet) {
  Attachment a = everyFieldSet();
  a.state = Attachment::State::kPending;
  a.hostMac.reset();
  a.podMac.reset();
  auto back = attachmentFromJson(toJson(a).dump());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back, a);
}

// Reconcile removes pending attachments: a state this podnet does not know (a newer writer, a
// hand edit) must not read as pending, or a restart would remove a working pod.
TEST(AttachmentTest, AnUnknownOrMissingStateIsADecodeErrorNamingIt) {
  nlohmann::json j = toJson(everyFieldSet());
  j["state"] = "paused";
  auto unknown = attachmentFromJson(j.dump());
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kDecode);
  EXPECT_NE(unknown.error().message.find("state \"paused\""), std::string::npos)
      << unknown.error().message;
  j.erase("state");
  auto missing = attachmentFromJson(j.dump());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("state"), std::string::npos) << missing.error().message;
}

TEST(AttachmentTest, CorruptRecordsAreErrorsNotCrashes) {
  EXPECT_FALSE(attachmentFromJson("").ok());
  EXPECT_FALSE(attachmentFromJson("[]").ok());
  EXPECT_FALSE(attachmentFromJson(R"({"network":"n"})").ok());
  EXPECT_FALSE(attachmentFromJson(
                   R"({"network":"n","containerId":"c","ifname":"e","address":"x","gateway":"y"})")
                   .ok());
  nlohmann::json badMac = toJson(everyFieldSet());
  badMac["podMac"] = "0a:00:00:00:00";
  auto mac = attachmentFromJson(badMac.dump());
  ASSERT_FALSE(mac.ok());
  EXPECT_NE(mac.error().message.find("podMac"), std::string::npos) << mac.error().message;
}

}  // namespace
}  // namespace podnet::agent
