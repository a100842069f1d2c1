#include "runtime/exec.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace podnet::runtime {
namespace {

using namespace std::chrono_literals;

// Fake plugins are /bin/sh reading their script from stdin.
Result<ExecResult> runScript(std::string_view script,
                             const std::map<std::string, std::string>& env = {},
                             std::chrono::milliseconds timeout = 10s) {
  return execPlugin("/bin/sh", env, script, timeout);
}

TEST(ExecPlugin, ReportsExitCodeAndSeparatesStdoutFromStderr) {
  auto r = runScript("echo result; echo oops >&2; exit 3");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exitCode, 3);
  EXPECT_EQ(r->out, "result\n");
  EXPECT_EQ(r->err, "oops\n");
}

TEST(ExecPlugin, GivesExactlyTheRequestedEnvironmentPlusPath) {
  ::setenv("PODNET_EXEC_TEST_LEAK", "1", 1);
  auto r = runScript("env", {{"CNI_COMMAND", "ADD"}});
  ::unsetenv("PODNET_EXEC_TEST_LEAK");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_NE(r->out.find("CNI_COMMAND=ADD\n"), std::string::npos);
  EXPECT_NE(r->out.find("PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"), std::string::npos);
  EXPECT_EQ(r->out.find("PODNET_EXEC_TEST_LEAK"), std::string::npos);

  auto custom = runScript("echo $PATH", {{"PATH", "/opt/cni/bin"}});
  ASSERT_TRUE(custom.ok()) << custom.error().message;
  EXPECT_EQ(custom->out, "/opt/cni/bin\n");
}

TEST(ExecPlugin, PassesLargeStdinAndCollectsLargeStdoutAndStderrWithoutDeadlock) {
  const std::string input(3 << 20, 'x');  // 3 MiB, far beyond a pipe's buffer
  auto echoed = execPlugin("/bin/cat", {}, input, 30s);
  ASSERT_TRUE(echoed.ok()) << echoed.error().message;
  EXPECT_EQ(echoed->exitCode, 0);
  EXPECT_EQ(echoed->out.size(), input.size());
  EXPECT_EQ(echoed->out, input);

  // Interleaved large writes to both streams.
  auto both = runScript(
      "i=0; while [ $i -lt 40 ]; do head -c 32768 /dev/zero; head -c 32768 /dev/zero >&2; "
      "i=$((i+1)); done");
  ASSERT_TRUE(both.ok()) << both.error().message;
  EXPECT_EQ(both->out.size(), 40u * 32768);
  EXPECT_EQ(both->err.size(), 40u * 32768);
}

TEST(ExecPlugin, SurvivesAPluginThatIgnoresItsStdin) {
  auto r = execPlugin("/bin/true", {}, std::string(2 << 20, 'x'), 10s);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->exitCode, 0);
}

TEST(ExecPlugin, TimeoutKillsAndReapsThePlugin) {
  const std::filesystem::path pidFile = std::filesystem::temp_directory_path() /
                                        ("podnet-exec-test-" + std::to_string(::getpid()) + ".pid");
  auto r = runScript("echo $$ > " + pidFile.string() + "; sleep 30; echo never", {}, 300ms);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kUnavailable);
  EXPECT_NE(r.error().message.find("timed out after 300 ms"), std::string::npos)
      << r.error().message;
  pid_t pid = 0;
  std::ifstream(pidFile) >> pid;
  std::filesystem::remove(pidFile);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(::kill(pid, 0), -1) << "the plugin is still running";
  EXPECT_EQ(errno, ESRCH);
}

TEST(ExecPlugin, MissingBinaryIsNotFound) {
  auto r = execPlugin("/nonexistent/podnet-plugin", {}, "", 5s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kNotFound);
  EXPECT_NE(r.error().message.find("/nonexistent/podnet-plugin"), std::string::npos);
}

TEST(ExecPlugin, MissingNetnsIsNotFound) {
  auto r = execPlugin("/bin/true", {}, "", 5s, "/run/netns/podnet-no-such-netns");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kNotFound);
  EXPECT_NE(r.error().message.find("podnet-no-such-netns"), std::string::npos);
}

}  // namespace
}  // namespace podnet::runtime
