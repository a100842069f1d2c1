// A private BPF filesystem per test (mounted on a temp dir, unmounted in TearDown even when the
// test failed, so no pin outlives the test), the pod device program loaded with its pins there,
// its maps, and a flow reader that collects events.
#pragma once

#include <sys/mount.h>

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "bpf/bpffs.h"
#include "bpf/flow_events.h"
#include "bpf/pod_policy_program.h"
#include "bpf/policy_maps.h"
#include "support/temp_dir.h"

namespace podnet::bpf::testing {

class BpfFixture {
 public:
  void setUpBpf(ProgramOptions options = {}) {
    pinDir_ = tmp_.path() + "/bpffs";
    auto mounted = ensureBpffs(pinDir_);
    ASSERT_TRUE(mounted.ok()) << mounted.error().message;
    mounted_ = true;
    options.pinDir = pinDir_;
    auto program = PodPolicyProgram::load(options);
    ASSERT_TRUE(program.ok()) << program.error().message;
    program_.emplace(std::move(program).value());
    auto maps = PolicyMaps::open(pinDir_);
    ASSERT_TRUE(maps.ok()) << maps.error().message;
    maps_.emplace(std::move(maps).value());
    auto reader = FlowReader::open(maps_->eventsFd(), "node-1",
                                   [this](const FlowEvent& e) { events_.push_back(e); });
    ASSERT_TRUE(reader.ok()) << reader.error().message;
    reader_.emplace(std::move(reader).value());
  }

  void tearDownBpf() {
    reader_.reset();
    maps_.reset();
    program_.reset();
    if (mounted_) ::umount2(pinDir_.c_str(), MNT_DETACH);
    mounted_ = false;
  }

  // Events delivered since the last call.
  std::vector<FlowEvent> takeEvents() {
    auto polled = reader_->poll(std::chrono::milliseconds(0));
    EXPECT_TRUE(polled.ok()) << polled.error().message;
    return std::exchange(events_, {});
  }

  podnet::testing::TempDir tmp_;
  std::string pinDir_;
  bool mounted_ = false;
  std::optional<PodPolicyProgram> program_;
  std::optional<PolicyMaps> maps_;
  std::optional<FlowReader> reader_;
  std::vector<FlowEvent> events_;
};

}  // namespace podnet::bpf::testing
