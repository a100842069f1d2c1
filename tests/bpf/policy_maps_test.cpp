// PolicyMaps::open against maps pinned on a private BPF filesystem: the program's own pins open,
// and a pin of another layout (an older podnet's) is refused, naming what differs, never read.
#include "bpf/policy_maps.h"

#include <bpf/bpf.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>

#include "bpf_fixture.h"

namespace podnet::bpf {
namespace {

class PolicyMapsOpenTest : public ::testing::Test, public testing::BpfFixture {
 protected:
  void SetUp() override { setUpBpf(); }
  void TearDown() override { tearDownBpf(); }

  // Replaces the pin `name` with a new map of the given shape.
  void repin(const char* name, bpf_map_type type, uint32_t key, uint32_t value, uint32_t max) {
    std::string path = pinDir_ + "/" + name;
    ASSERT_EQ(::unlink(path.c_str()), 0) << path;
    LIBBPF_OPTS(bpf_map_create_opts, opts);
    if (type == BPF_MAP_TYPE_LPM_TRIE) opts.map_flags = BPF_F_NO_PREALLOC;
    int fd = bpf_map_create(type, name, key, value, max, &opts);
    ASSERT_GE(fd, 0) << "bpf_map_create " << name << ": " << std::strerror(errno);
    ASSERT_EQ(bpf_obj_pin(fd, path.c_str()), 0) << path;
    ::close(fd);
  }
};

TEST_F(PolicyMapsOpenTest, OpensTheMapsTheProgramPinned) {
  auto maps = PolicyMaps::open(pinDir_);
  ASSERT_TRUE(maps.ok()) << maps.error().message;
  EXPECT_TRUE(maps->setConfig(pn_config{}).ok());
}

TEST_F(PolicyMapsOpenTest, AMapOfAnotherLayoutIsRefusedNamingItTheSizesAndWhatToDo) {
  // An older pn_policy: a plain hash with a shorter key and a longer value.
  repin(PN_MAP_POLICY, BPF_MAP_TYPE_HASH, 8, 16, 1024);
  auto maps = PolicyMaps::open(pinDir_);
  ASSERT_FALSE(maps.ok()) << "a pn_policy of the wrong layout was opened";
  const std::string& msg = maps.error().message;
  EXPECT_EQ(maps.error().code, Errc::kIncompatibleVersion);
  EXPECT_NE(msg.find(pinDir_ + "/pn_policy"), std::string::npos) << msg;
  EXPECT_NE(msg.find("map type hash (expected lpm_trie)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("key size 8 (expected " + std::to_string(sizeof(pn_policy_key)) + ")"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("value size 16 (expected " + std::to_string(sizeof(pn_policy_value)) + ")"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("max entries 1024 (expected " + std::to_string(PN_POLICY_MAX) + ")"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("remove " + pinDir_ + "/pn_policy"), std::string::npos) << msg;
}

TEST_F(PolicyMapsOpenTest, ASizeOrCapacityChangeAloneIsRefused) {
  repin(PN_MAP_CT, BPF_MAP_TYPE_LRU_HASH, sizeof(pn_ct_key), sizeof(pn_ct_value) + 8, PN_CT_MAX);
  auto value = PolicyMaps::open(pinDir_);
  ASSERT_FALSE(value.ok());
  EXPECT_NE(value.error().message.find("pn_ct has another layout"), std::string::npos)
      << value.error().message;
  EXPECT_EQ(value.error().message.find("key size"), std::string::npos) << value.error().message;

  repin(PN_MAP_CT, BPF_MAP_TYPE_LRU_HASH, sizeof(pn_ct_key), sizeof(pn_ct_value), 1024);
  auto capacity = PolicyMaps::open(pinDir_);
  ASSERT_FALSE(capacity.ok());
  EXPECT_NE(capacity.error().message.find("max entries 1024"), std::string::npos)
      << capacity.error().message;
}

}  // namespace
}  // namespace podnet::bpf
