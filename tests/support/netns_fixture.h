// Throwaway network namespaces for kernel tests. Each gets a unique name ("pnt-<pid>-<n>") and is
// deleted in TearDown even when the test failed. enterNetns() moves the test thread (and so every
// thread it starts later) into one of them until TearDown; it uses setns directly so that the
// fixture does not depend on the code under test.
#pragma once

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace podnet::testing {

class NetnsFixture : public ::testing::Test {
 protected:
  // Creates a namespace with lo up and returns its name.
  std::string addNetns() {
    static int counter = 0;
    std::string name = "pnt-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
    if (run("ip netns add " + name) != 0) {
      ADD_FAILURE() << "ip netns add " << name << " failed";
      return name;
    }
    names_.push_back(name);
    run("ip -n " + name + " link set lo up");
    return name;
  }

  void deleteNetns(const std::string& name) { run("ip netns del " + name + " 2>/dev/null"); }

  static std::string netnsPath(const std::string& name) { return "/var/run/netns/" + name; }

  void enterNetns(const std::string& name) {
    if (origin_ < 0) origin_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int fd = ::open(netnsPath(name).c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << name;
    ASSERT_EQ(::setns(fd, CLONE_NEWNET), 0) << name;
    ::close(fd);
  }

  void TearDown() override {
    if (origin_ >= 0) {
      EXPECT_EQ(::setns(origin_, CLONE_NEWNET), 0);
      ::close(origin_);
      origin_ = -1;
    }
    for (const auto& name : names_) deleteNetns(name);
    names_.clear();
  }

  // Exit status of a shell command.
  static int run(const std::string& cmd) {
    int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  static int runIn(const std::string& ns, const std::string& cmd) {
    return run("ip netns exec " + ns + " " + cmd);
  }
  // Standard output of a shell command.
  static std::string output(const std::string& cmd) { return capture(cmd).out; }
  // Standard output of a command that must succeed. A negative check on a tool's output ("no
  // route") means something only when the tool ran: a failure fails the test, naming the command.
  static std::string checkedOutput(const std::string& cmd) {
    Captured c = capture(cmd);
    EXPECT_EQ(c.status, 0) << "command failed: " << cmd;
    return c.out;
  }

  struct Captured {
    int status = -1;  // exit status, -1 when the shell did not exit normally
    std::string out;
  };
  static Captured capture(const std::string& cmd) {
    Captured c;
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (pipe == nullptr) return c;
    std::array<char, 4096> buf;
    size_t n;
    while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) c.out.append(buf.data(), n);
    int status = ::pclose(pipe);
    c.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return c;
  }

 private:
  std::vector<std::string> names_;
  int origin_ = -1;
};

}  // namespace podnet::testing
