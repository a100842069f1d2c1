// ServiceMaps against the maps the service program pins on a private BPF filesystem: what sync
// writes (read back from the kernel, slot by slot), what it refuses, and what a reopen finds.
#include "services/service_maps.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <sys/mount.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <optional>
#include <set>

#include "bpf/bpffs.h"
#include "service_lb.h"
#include "services/service_program.h"
#include "support/temp_dir.h"

namespace podnet::services {
namespace {

const Ipv4 kVip = *Ipv4::parse("10.96.0.10");
const Backend kA{*Ipv4::parse("10.244.0.1"), 8080};
const Backend kB{*Ipv4::parse("10.244.0.2"), 8080};
const Backend kC{*Ipv4::parse("10.244.0.3"), 8080};
const Backend kD{*Ipv4::parse("10.244.0.4"), 8080};

Frontend frontend(uint16_t port, Protocol protocol, std::vector<Backend> backends) {
  Frontend f;
  f.address = kVip;
  f.port = port;
  f.protocol = protocol;
  f.backends = std::move(backends);
  return f;
}

class ServiceMapsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pinDir_ = tmp_.path() + "/bpffs";
    auto mounted = bpf::ensureBpffs(pinDir_);
    ASSERT_TRUE(mounted.ok()) << mounted.error().message;
    mounted_ = true;
    auto program = ServiceProgram::load(pinDir_);
    ASSERT_TRUE(program.ok()) << program.error().message;
    program_.emplace(std::move(program).value());
    maps_.emplace(openMaps());
  }
  void TearDown() override {
    maps_.reset();
    program_.reset();
    if (mounted_) ::umount2(pinDir_.c_str(), MNT_DETACH);
  }

  ServiceMaps openMaps() {
    auto maps = ServiceMaps::open(pinDir_);
    EXPECT_TRUE(maps.ok()) << maps.error().message;
    return std::move(maps).value();
  }

  std::vector<Frontend> held() {
    auto held = maps_->frontends();
    EXPECT_TRUE(held.ok()) << held.error().message;
    return held.ok() ? *held : std::vector<Frontend>{};
  }

  UniqueFd pinned(const char* name) {
    return UniqueFd(bpf_obj_get((pinDir_ + "/" + name).c_str()));
  }

  // Every (service id, slot) in pn_svc_backends.
  std::vector<pn_svc_backend_key> slots() {
    UniqueFd fd = pinned(PN_MAP_SVC_BACKENDS);
    std::vector<pn_svc_backend_key> out;
    pn_svc_backend_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd.get(), prev, &next) == 0) {
      out.push_back(next);
      key = next;
      prev = &key;
    }
    return out;
  }

  // The service ids in pn_svc_frontends.
  std::set<uint32_t> serviceIds() {
    UniqueFd fd = pinned(PN_MAP_SVC_FRONTENDS);
    std::set<uint32_t> out;
    pn_svc_frontend_key key{}, next{};
    const void* prev = nullptr;
    while (bpf_map_get_next_key(fd.get(), prev, &next) == 0) {
      pn_svc_frontend_value value{};
      EXPECT_EQ(bpf_map_lookup_elem(fd.get(), &next, &value), 0);
      out.insert(value.service_id);
      key = next;
      prev = &key;
    }
    return out;
  }

  podnet::testing::TempDir tmp_;
  std::string pinDir_;
  bool mounted_ = false;
  std::optional<ServiceProgram> program_;
  std::optional<ServiceMaps> maps_;
};

TEST_F(ServiceMapsTest, SyncWritesEveryFieldAndTheKernelHoldsIt) {
  Frontend web = frontend(80, Protocol::kTcp, {kA, kB});
  web.affinityTimeoutSeconds = 10800;
  Frontend dns = frontend(53, Protocol::kUdp, {});
  dns.dropWhenEmpty = true;
  ASSERT_TRUE(maps_->sync({web, dns}).ok());
  EXPECT_EQ(held(), (std::vector<Frontend>{dns, web}));  // ordered by port
  EXPECT_EQ(slots().size(), 2u);

  UniqueFd fd = pinned(PN_MAP_SVC_FRONTENDS);
  pn_svc_frontend_key key{htonl(kVip.value), htons(80), IPPROTO_TCP, 0};
  pn_svc_frontend_value value{};
  ASSERT_EQ(bpf_map_lookup_elem(fd.get(), &key, &value), 0);
  EXPECT_EQ(value.backend_count, 2);
  EXPECT_EQ(value.affinity_timeout_s, 10800u);
  EXPECT_EQ(value.flags, 0);
}

TEST_F(ServiceMapsTest, ABackendThatStaysKeepsItsSlot) {
  ASSERT_TRUE(maps_->sync({frontend(80, Protocol::kTcp, {kA, kB, kC})}).ok());
  // B leaves and D comes: D takes B's slot, A and C stay where they were.
  ASSERT_TRUE(maps_->sync({frontend(80, Protocol::kTcp, {kA, kC, kD})}).ok());
  EXPECT_EQ(held(), (std::vector<Frontend>{frontend(80, Protocol::kTcp, {kA, kD, kC})}));
  // A and D leave: C moves into the first hole and the list stays dense.
  ASSERT_TRUE(maps_->sync({frontend(80, Protocol::kTcp, {kC})}).ok());
  EXPECT_EQ(held(), (std::vector<Frontend>{frontend(80, Protocol::kTcp, {kC})}));
  EXPECT_EQ(slots().size(), 1u);
}

TEST_F(ServiceMapsTest, RemovedFrontendsFreeTheirIdsAndSlots) {
  ASSERT_TRUE(
      maps_->sync({frontend(80, Protocol::kTcp, {kA, kB}), frontend(81, Protocol::kTcp, {kC})})
          .ok());
  EXPECT_EQ(serviceIds(), (std::set<uint32_t>{1, 2}));
  ASSERT_TRUE(maps_->sync({}).ok());
  EXPECT_TRUE(held().empty());
  EXPECT_TRUE(slots().empty());
  ASSERT_TRUE(
      maps_->sync({frontend(82, Protocol::kUdp, {kD}), frontend(83, Protocol::kUdp, {kD})}).ok());
  EXPECT_EQ(serviceIds(), (std::set<uint32_t>{1, 2}));  // reused, not 3 and 4
}

TEST_F(ServiceMapsTest, BadInputIsRefusedNamingTheFrontendAndChangesNothing) {
  std::vector<Frontend> working = {frontend(80, Protocol::kTcp, {kA})};
  ASSERT_TRUE(maps_->sync(working).ok());

  auto twice = maps_->sync({frontend(80, Protocol::kTcp, {kB}), frontend(80, Protocol::kTcp, {})});
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, Errc::kInvalidArgument);
  EXPECT_EQ(twice.error().message, "frontend 10.96.0.10:80/TCP: listed twice");

  auto noPort = maps_->sync({frontend(0, Protocol::kUdp, {kA})});
  ASSERT_FALSE(noPort.ok());
  EXPECT_EQ(noPort.error().message, "frontend 10.96.0.10:0/UDP: port: 0 is not a port");

  auto backendPort = maps_->sync({frontend(80, Protocol::kTcp, {{kB.address, 0}})});
  ASSERT_FALSE(backendPort.ok());
  EXPECT_EQ(backendPort.error().message,
            "frontend 10.96.0.10:80/TCP: backend 10.244.0.2: port: 0 is not a port");

  auto sctp = maps_->sync({frontend(80, static_cast<Protocol>(132), {kA})});
  ASSERT_FALSE(sctp.ok());
  EXPECT_EQ(sctp.error().message,
            "frontend 10.96.0.10:80/protocol 132: protocol: only TCP and UDP are balanced");

  EXPECT_EQ(held(), working);
}

TEST_F(ServiceMapsTest, AReopenReadsWhatTheMapsHoldAndSweepsStraySlots) {
  ASSERT_TRUE(maps_->sync({frontend(80, Protocol::kTcp, {kA, kB})}).ok());
  // A slot an interrupted sync left behind (no frontend uses service 77).
  UniqueFd fd = pinned(PN_MAP_SVC_BACKENDS);
  pn_svc_backend_key stray{77, 0};
  pn_svc_backend value{htonl(kD.address.value), htons(kD.port), 0};
  ASSERT_EQ(bpf_map_update_elem(fd.get(), &stray, &value, BPF_ANY), 0);

  maps_.emplace(openMaps());  // an agent restart; opening writes nothing
  EXPECT_EQ(held(), (std::vector<Frontend>{frontend(80, Protocol::kTcp, {kA, kB})}));
  EXPECT_EQ(slots().size(), 3u);
  // The next sync sweeps and writes only the difference: A keeps slot 0, the id stays.
  ASSERT_TRUE(
      maps_->sync({frontend(80, Protocol::kTcp, {kC, kA}), frontend(81, Protocol::kTcp, {kD})})
          .ok());
  EXPECT_EQ(slots().size(), 3u);  // two for port 80, one for port 81, no stray
  EXPECT_EQ(held(), (std::vector<Frontend>{frontend(80, Protocol::kTcp, {kA, kC}),
                                           frontend(81, Protocol::kTcp, {kD})}));
  EXPECT_EQ(serviceIds(), (std::set<uint32_t>{1, 2}));
}

TEST_F(ServiceMapsTest, OpeningWithoutAProgramCreatesThePinsTheProgramThenUses) {
  std::string fresh = tmp_.path() + "/fresh";
  ASSERT_TRUE(bpf::ensureBpffs(fresh).ok());
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{fresh};
  auto maps = ServiceMaps::open(fresh);
  ASSERT_TRUE(maps.ok()) << maps.error().message;
  ASSERT_TRUE(maps->sync({frontend(80, Protocol::kTcp, {kA})}).ok());
  // A program loaded later finds the frontend in the maps it pins by name.
  auto program = ServiceProgram::load(fresh);
  ASSERT_TRUE(program.ok()) << program.error().message;
  auto reopened = ServiceMaps::open(fresh);
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_EQ(*reopened->frontends(), (std::vector<Frontend>{frontend(80, Protocol::kTcp, {kA})}));

  auto notBpffs = ServiceMaps::open(tmp_.path());
  ASSERT_FALSE(notBpffs.ok());
  EXPECT_NE(notBpffs.error().message.find(tmp_.path() + " is not on a BPF filesystem"),
            std::string::npos)
      << notBpffs.error().message;
}

TEST_F(ServiceMapsTest, APinnedMapOfAnotherLayoutIsRefusedNamingIt) {
  std::string path = pinDir_ + "/" + PN_MAP_SVC_BACKENDS;
  ASSERT_EQ(::unlink(path.c_str()), 0);
  int fd = bpf_map_create(BPF_MAP_TYPE_HASH, PN_MAP_SVC_BACKENDS, sizeof(pn_svc_backend_key), 4,
                          1024, nullptr);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  ASSERT_EQ(bpf_obj_pin(fd, path.c_str()), 0);
  ::close(fd);
  auto maps = ServiceMaps::open(pinDir_);
  ASSERT_FALSE(maps.ok());
  EXPECT_EQ(maps.error().code, Errc::kIncompatibleVersion);
  EXPECT_NE(maps.error().message.find(path + " has another layout"), std::string::npos)
      << maps.error().message;
  EXPECT_NE(maps.error().message.find("value size 4 (expected 8)"), std::string::npos)
      << maps.error().message;
}

}  // namespace
}  // namespace podnet::services
