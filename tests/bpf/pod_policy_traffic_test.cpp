// Real traffic through the pod device program: a "pod" netns and a "node" netns joined by a veth,
// the program on the node's side, a TCP connection blocked and then allowed by a map update.
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "bpf/tc_attach.h"
#include "bpf_fixture.h"
#include "common/fd.h"
#include "support/netns_fixture.h"

namespace podnet::bpf::testing {
namespace {

constexpr uint32_t kPod = 1000;
constexpr uint32_t kServer = 2000;
constexpr uint16_t kPort = 8080;
const char* const kHostVeth = "pnt0host";

sockaddr_in addressOf(const char* ip, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(Ipv4::parse(ip)->value);
  return sa;
}

class PodPolicyTrafficTest : public podnet::testing::NetnsFixture, public BpfFixture {
 protected:
  void SetUp() override {
    setUpBpf();
    if (HasFatalFailure()) return;
    pod_ = addNetns();
    node_ = addNetns();
    ASSERT_EQ(run("ip -n " + node_ + " link add " + kHostVeth + " type veth peer name eth0 netns " +
                  pod_),
              0);
    ASSERT_EQ(runIn(node_, std::string("ip addr add 10.99.0.1/24 dev ") + kHostVeth), 0);
    ASSERT_EQ(runIn(node_, std::string("ip link set ") + kHostVeth + " up"), 0);
    ASSERT_EQ(runIn(pod_, "ip addr add 10.99.0.2/24 dev eth0"), 0);
    ASSERT_EQ(runIn(pod_, "ip link set eth0 up"), 0);
  }
  void TearDown() override {
    NetnsFixture::TearDown();  // leaves the namespaces; deleting them removes veth and filters
    tearDownBpf();
  }

  // A TCP connect from the pod to the server; true when it completes within the wait.
  bool connectFromPod(std::chrono::milliseconds wait, UniqueFd* keep = nullptr) {
    enterNetns(pod_);
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    EXPECT_TRUE(fd.valid());
    sockaddr_in server = addressOf("10.99.0.1", kPort);
    int rc = ::connect(fd.get(), reinterpret_cast<sockaddr*>(&server), sizeof(server));
    if (rc != 0 && errno != EINPROGRESS) return false;
    pollfd p{fd.get(), POLLOUT, 0};
    if (::poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return false;
    if (keep != nullptr) *keep = std::move(fd);
    return true;
  }

  std::string pod_;
  std::string node_;
};

TEST_F(PodPolicyTrafficTest, TcpConnectIsBlockedThenAllowedAndSurvivesTheAllowsRemoval) {
  enterNetns(node_);
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in bindAt = addressOf("10.99.0.1", kPort);
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&bindAt), sizeof(bindAt)), 0);
  ASSERT_EQ(::listen(listener.get(), 8), 0);

  // Before any policy the pod reaches the server.
  ASSERT_TRUE(connectFromPod(std::chrono::seconds(10)));
  UniqueFd first(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(first.valid());

  // The pod's device gets the program; the pod is isolated for egress with no allow.
  enterNetns(node_);
  uint32_t ifindex = ::if_nametoindex(kHostVeth);
  ASSERT_NE(ifindex, 0u);
  ASSERT_TRUE(maps_->setIdentity(*Ipv4Prefix::parse("10.99.0.2/32"), kPod).ok());
  ASSERT_TRUE(maps_->setIdentity(*Ipv4Prefix::parse("10.99.0.1/32"), kServer).ok());
  ASSERT_TRUE(
      maps_->setEndpoint(ifindex, {21, kPod, 0, false, true, *Ipv4::parse("10.99.0.2")}).ok());
  auto attached = attachPodDevice(kHostVeth, *program_);
  ASSERT_TRUE(attached.ok()) << attached.error().message;
  takeEvents();

  EXPECT_FALSE(connectFromPod(std::chrono::milliseconds(1500)));
  auto drops = maps_->dropCounters();
  ASSERT_TRUE(drops.ok());
  EXPECT_GE((*drops)[PN_DROP_POLICY_DEFAULT].packets, 1u);
  bool sawDrop = false;
  for (const auto& ev : takeEvents()) {
    if (ev.verdict == PN_VERDICT_DROPPED && ev.dstPort == kPort) {
      sawDrop = true;
      EXPECT_EQ(ev.dropReason, PN_DROP_POLICY_DEFAULT);
      EXPECT_EQ(ev.srcIdentity, kPod);
      EXPECT_EQ(ev.dstIdentity, kServer);
      EXPECT_EQ(ev.direction, PN_DIR_EGRESS);
      EXPECT_EQ(ev.endpointId, 21u);
      EXPECT_EQ(ev.ifindex, ifindex);
    }
  }
  EXPECT_TRUE(sawDrop);

  // One map update allows it.
  PolicyEntry allow{PolicyKey{kPod, kServer, PN_DIR_EGRESS, uint8_t{6}, kPort, 16}, PN_POLICY_ALLOW,
                    99};
  ASSERT_TRUE(maps_->setPolicy(allow).ok());
  UniqueFd client;
  ASSERT_TRUE(connectFromPod(std::chrono::seconds(10), &client));
  UniqueFd served(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  ASSERT_TRUE(served.valid());
  bool sawAllow = false;
  for (const auto& ev : takeEvents()) {
    if (ev.verdict == PN_VERDICT_FORWARDED && ev.match == PN_MATCH_POLICY_ALLOW) {
      sawAllow = true;
      EXPECT_EQ(ev.policyId, 99u);
    }
  }
  EXPECT_TRUE(sawAllow);

  // Removing the allow does not break the established connection, both ways.
  ASSERT_TRUE(maps_->removePolicy(allow.key).ok());
  ASSERT_EQ(::send(client.get(), "ping", 4, MSG_NOSIGNAL), 4);
  char buf[8] = {};
  pollfd p{served.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  ASSERT_EQ(::recv(served.get(), buf, sizeof(buf), 0), 4);
  ASSERT_EQ(::send(served.get(), "pong", 4, MSG_NOSIGNAL), 4);
  pollfd q{client.get(), POLLIN, 0};
  ASSERT_EQ(::poll(&q, 1, 10000), 1);
  ASSERT_EQ(::recv(client.get(), buf, sizeof(buf), 0), 4);
  EXPECT_EQ(std::string(buf, 4), "pong");
  // ... while a new connection is blocked again.
  EXPECT_FALSE(connectFromPod(std::chrono::milliseconds(1500)));
}

TEST_F(PodPolicyTrafficTest, AttachAndDetachAreIdempotent) {
  enterNetns(node_);
  ASSERT_TRUE(attachPodDevice(kHostVeth, *program_).ok());
  auto again = attachPodDevice(kHostVeth, *program_);
  ASSERT_TRUE(again.ok()) << again.error().message;
  auto hooks = podDeviceHooks(kHostVeth);
  ASSERT_TRUE(hooks.ok()) << hooks.error().message;
  EXPECT_TRUE(hooks->ingress);
  EXPECT_TRUE(hooks->egress);
  // tc sees exactly one podnet filter per hook.
  EXPECT_EQ(
      output(std::string("tc filter show dev ") + kHostVeth + " ingress | grep -c 'from_pod'"),
      "1\n");
  EXPECT_EQ(output(std::string("tc filter show dev ") + kHostVeth + " egress | grep -c 'to_pod'"),
            "1\n");

  ASSERT_TRUE(detachPodDevice(kHostVeth).ok());
  hooks = podDeviceHooks(kHostVeth);
  ASSERT_TRUE(hooks.ok());
  EXPECT_FALSE(hooks->ingress);
  EXPECT_FALSE(hooks->egress);
  auto twice = detachPodDevice(kHostVeth);
  EXPECT_TRUE(twice.ok()) << twice.error().message;
  EXPECT_TRUE(detachPodDevice("pnt-missing").ok());

  auto missing = attachPodDevice("pnt-missing", *program_);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_NE(missing.error().message.find("pnt-missing"), std::string::npos);
}

}  // namespace
}  // namespace podnet::bpf::testing
