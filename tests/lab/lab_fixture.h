// A lab of the test's own for each test: its name is "pnlt<pid>", so the tests never touch a
// developer's lab ("podnet-lab") and two test runs never touch each other. The real podnetctl runs
// every command (with PODNET_LAB_NAME set), as a user would run it. TearDown runs `lab down`, even
// when the test failed, and checks that nothing of the lab is left. SetUp first removes the labs
// of earlier test processes that died before their TearDown.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "lab/layout.h"
#include "lab/processes.h"
#include "lab/underlay.h"
#include "support/eventually.h"

namespace podnet::testing {

// What `lab up` is told after --backend in the parameterized lab tests.
inline const std::vector<std::string> kLabBackends = {"vxlan", "host-gw", "vxlan --fast-path",
                                                      "host-gw --fast-path"};
inline std::string labBackendName(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param.substr(0, info.param.find(' '));
  name = name == "host-gw" ? "hostgw" : name;
  return info.param.find("--fast-path") == std::string::npos ? name : name + "_fastpath";
}

struct CtlRun {
  int status = -1;
  std::string out;  // stdout and stderr
};

class LabFixture : public ::testing::Test {
 protected:
  static std::string podnetctl() { return std::string(PODNET_BUILD_DIR) + "/bin/podnetctl"; }

  // Runs `podnetctl lab <args>` for this test's lab (args are shell words).
  CtlRun lab(const std::string& args) const { return labNamed(name_, args); }
  // Runs `podnetctl <args>` with this test's lab as the running lab.
  CtlRun ctl(const std::string& args) const { return ctlNamed(name_, args); }

  static CtlRun labNamed(const std::string& name, const std::string& args) {
    return ctlNamed(name, "lab " + args);
  }
  static CtlRun ctlNamed(const std::string& name, const std::string& args) {
    CtlRun run;
    std::string cmd = "PODNET_LAB_NAME=" + name + " " + podnetctl() + " " + args + " 2>&1";
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (pipe == nullptr) return run;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) run.out.append(buf.data(), n);
    int status = ::pclose(pipe);
    run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  // "connected" / "blocked" (or the error) of one probe.
  std::string probe(const std::string& from, const std::string& to, int port,
                    const std::string& proto = "tcp") const {
    auto run = lab("probe " + from + " " + to + " --port " + std::to_string(port) + " --proto " +
                   proto + " --timeout-ms 3000");
    std::string out = run.out;
    while (!out.empty() && out.back() == '\n') out.pop_back();
    if ((run.status == 0 && out == "connected") || (run.status == 1 && out == "blocked"))
      return out;
    return "exit " + std::to_string(run.status) + ": " + out;
  }

  // A pod or route that was just added reaches the other nodes in the background (the watch
  // delivers, the overlay programs it): probe until the expected answer, up to a generous limit,
  // and return the last answer.
  std::string probeSettled(const std::string& from, const std::string& to, int port,
                           const std::string& expected, const std::string& proto = "tcp") const {
    std::string last;
    eventually([&] { return (last = probe(from, to, port, proto)) == expected; },
               std::chrono::seconds(10));
    return last;
  }

  void SetUp() override {
    removeLabsOfDeadTestProcesses();
    name_ = "pnlt" + std::to_string(::getpid());
    layout_ = lab::Layout::make(name_).value();
    ASSERT_EQ(lab("down").status, 0);
  }

  void TearDown() override {
    auto down = lab("down");
    EXPECT_EQ(down.status, 0) << down.out;
    EXPECT_EQ(leftovers(), std::vector<std::string>{});
  }

  // The lab's record (lab.json) and a pod's address from it ("" when unknown).
  nlohmann::json state() const {
    std::ifstream in(layout_->stateFile());
    std::stringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str(), nullptr, false);
  }
  std::string ipOf(const std::string& pod) const {
    auto s = state();
    if (!s.is_object() || !s["pods"].is_object() || !s["pods"].contains(pod)) return "";
    return s["pods"][pod].value("ip", "");
  }

  // Everything of this lab that still exists: namespaces, processes, directories.
  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    for (const auto& ns : lab::listNetns()) {
      if (layout_->ownsNetns(ns)) out.push_back("netns " + ns);
    }
    for (pid_t pid : lab::findLabProcesses({}, name_)) out.push_back("pid " + std::to_string(pid));
    for (const auto& dir : {layout_->runDir(), layout_->libDir(), layout_->logDir()}) {
      if (std::filesystem::exists(dir)) out.push_back("dir " + dir);
    }
    return out;
  }

  std::string name_;
  std::optional<lab::Layout> layout_;

 private:
  static void removeLabsOfDeadTestProcesses() {
    for (const auto& ns : lab::listNetns()) {
      if (!ns.starts_with("pnlt")) continue;
      std::string digits =
          ns.substr(4, ns.find('-') == std::string::npos ? std::string::npos : ns.find('-') - 4);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) continue;
      pid_t pid = std::stoi(digits);
      if (pid != ::getpid() && ::kill(pid, 0) != 0) labNamed("pnlt" + digits, "down");
    }
  }
};

}  // namespace podnet::testing
