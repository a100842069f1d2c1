#include "agent/attachment.h"

#include <gtest/gtest.h>

namespace podnet::agent {
namespace {

TEST(AttachmentTest, RecordRoundTripsThroughTheStoreEncoding) {
  Attachment a;
  a.network = "podnet";
  a.containerId = "ctr1";
  a.ifname = "eth0";
  a.netns = "/var/run/netns/p";
  a.podNamespace = "shop";
  a.podName = "web-0";
  a.pool = "default";
  a.address = *Ipv4Prefix::parse("10.244.0.9/16");
  a.gateway = *Ipv4::parse("10.244.0.1");
  a.hostVeth = "pn0123456789ab";
  a.mtu = 1450;
  a.state = Attachment::State::kReady;
  auto back = attachmentFromJson(toJson(a).dump());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->key(), "/podnet/attachments/podnet/ctr1/eth0");
  EXPECT_EQ(back->owner(), "podnet/ctr1/eth0");
  EXPECT_EQ(back->address, a.address);
  EXPECT_EQ(back->podName, "web-0");
  EXPECT_EQ(back->mtu, 1450);
  EXPECT_EQ(back->state, Attachment::State::kReady);
}

TEST(AttachmentTest, CorruptRecordsAreErrorsNotCrashes) {
  EXPECT_FALSE(attachmentFromJson("").ok());
  EXPECT_FALSE(attachmentFromJson("[]").ok());
  EXPECT_FALSE(attachmentFromJson(R"({"network":"n"})").ok());
  EXPECT_FALSE(attachmentFromJson(
                   R"({"network":"n","containerId":"c","ifname":"e","address":"x","gateway":"y"})")
                   .ok());
}

}  // namespace
}  // namespace podnet::agent
