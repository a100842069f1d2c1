// Subprocess, the one fork/exec: what the CNI runtime (tests/runtime/exec_test.cpp) and the lab
// rely on beyond a plugin run: PATH lookup, merged output, log files, daemons, kill and reaping.
#include "common/subprocess.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

namespace podnet {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

fs::path tempFile(const std::string& name) {
  return fs::temp_directory_path() /
         ("podnet-subprocess-" + std::to_string(::getpid()) + "-" + name);
}

TEST(SubprocessTest, FindsABareNameOnPathAndMergesStderrIntoStdout) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "echo out; echo err >&2; exit 4"};
  spec.searchPath = true;
  spec.err = ProcessSpec::Output::kMerged;
  auto child = Subprocess::spawn(spec);
  ASSERT_TRUE(child.ok()) << child.error().message;
  auto done = child->communicate();
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_EQ(done->exitCode, 4);
  EXPECT_EQ(done->out, "out\nerr\n");
  EXPECT_EQ(done->err, "");
}

TEST(SubprocessTest, WithoutPathSearchABareNameIsNotFound) {
  ProcessSpec spec;
  spec.argv = {"sh", "-c", "true"};
  auto child = Subprocess::spawn(spec);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().code, Errc::kNotFound);
  EXPECT_EQ(child.error().message.rfind("sh: exec: ", 0), 0u) << child.error().message;
}

TEST(SubprocessTest, ADaemonWritesItsLogInItsOwnSessionAndOutlivesItsHandle) {
  const fs::path log = tempFile("log");
  fs::remove(log);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "pwd; echo $PODNET_SUBPROCESS_TEST; exec sleep 30"};
  spec.env = std::vector<std::string>{"PODNET_SUBPROCESS_TEST=tagged"};
  spec.workDir = "/";
  spec.out = ProcessSpec::Output::kLogFile;
  spec.err = ProcessSpec::Output::kLogFile;
  spec.logFile = log.string();
  spec.group = ProcessSpec::Group::kSession;
  pid_t pid = -1;
  {
    auto child = Subprocess::spawn(spec);
    ASSERT_TRUE(child.ok()) << child.error().message;
    pid = child->detach();
  }
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), 0) << "a detached child must outlive its handle";
  EXPECT_EQ(::getsid(pid), pid);
  std::string text;
  for (int i = 0; i < 200 && text != "/\ntagged\n"; ++i) {
    std::this_thread::sleep_for(10ms);
    std::ifstream in(log);
    std::stringstream s;
    s << in.rdbuf();
    text = s.str();
  }
  EXPECT_EQ(text, "/\ntagged\n");
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  fs::remove(log);
}

TEST(SubprocessTest, AnUnwritableLogNamesTheStage) {
  ProcessSpec spec;
  spec.argv = {"/bin/true"};
  spec.out = ProcessSpec::Output::kLogFile;
  spec.logFile = "/nonexistent/podnet/x.log";
  spec.what = "server n1";
  auto child = Subprocess::spawn(spec);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().code, Errc::kKernel);
  EXPECT_EQ(child.error().message.rfind("server n1: open log /nonexistent/podnet/x.log: ", 0), 0u)
      << child.error().message;
}

TEST(SubprocessTest, TheDestructorKillsAndReapsAChildItOwns) {
  pid_t pid = -1;
  {
    ProcessSpec spec;
    spec.argv = {"/bin/sleep", "30"};
    spec.group = ProcessSpec::Group::kProcessGroup;
    auto child = Subprocess::spawn(spec);
    ASSERT_TRUE(child.ok()) << child.error().message;
    pid = child->pid();
  }
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(SubprocessTest, KillThenWaitGivesTheSignal) {
  ProcessSpec spec;
  spec.argv = {"/bin/sleep", "30"};
  auto child = Subprocess::spawn(spec);
  ASSERT_TRUE(child.ok()) << child.error().message;
  child->kill(SIGTERM);
  EXPECT_EQ(child->wait(), 128 + SIGTERM);
}

}  // namespace
}  // namespace podnet
