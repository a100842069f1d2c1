#include "runtime/exec.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/fd.h"

namespace podnet::runtime {
namespace {

using Clock = std::chrono::steady_clock;

Error sysError(Errc code, const std::string& what) {
  return makeError(code, what + ": " + std::strerror(errno));
}

// What the child reports through the close-on-exec pipe when it fails before exec.
struct ChildFailure {
  int stage;  // 0: setns, 1: execve
  int err;
};

[[noreturn]] void runChild(int stdinFd, int outFd, int errFd, int netnsFd, int reportFd,
                           char* const argv[], char* const envp[]) {
  // Only async-signal-safe calls from here on: the parent may have other threads.
  auto fail = [reportFd](int stage) {
    ChildFailure failure{stage, errno};
    (void)!::write(reportFd, &failure, sizeof failure);
    ::_exit(127);
  };
  // Own process group, so a timeout also kills whatever the plugin started.
  ::setpgid(0, 0);
  // The caller may block or ignore signals (an agent handling SIGTERM through signalfd); the
  // plugin must start with the defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);
  if (netnsFd >= 0 && ::setns(netnsFd, CLONE_NEWNET) != 0) fail(0);
  ::dup2(stdinFd, STDIN_FILENO);
  ::dup2(outFd, STDOUT_FILENO);
  ::dup2(errFd, STDERR_FILENO);
  // Descriptors the caller opened without O_CLOEXEC must not leak into the plugin.
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(argv[0], argv, envp);
  fail(1);
  ::_exit(127);  // not reached: fail() exits; tells the compiler so
}

Result<std::pair<UniqueFd, UniqueFd>> makePipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sysError(Errc::kIo, "pipe2");
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

int exitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// Reads what is available; resets `fd` at end of file.
void readSome(UniqueFd& fd, std::string& into) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n > 0) {
      into.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) fd.reset();
    return;
  }
}

}  // namespace

Result<ExecResult> execPlugin(const std::string& binary,
                              const std::map<std::string, std::string>& env,
                              std::string_view stdinText, std::chrono::milliseconds timeout,
                              const std::string& hostNetns) {
  const std::string what = "plugin " + binary;
  UniqueFd netns;
  if (!hostNetns.empty()) {
    netns.reset(::open(hostNetns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns.valid()) return sysError(Errc::kNotFound, what + ": open netns " + hostNetns);
  }

  // Everything the child needs is built before fork: it must not allocate.
  std::vector<std::string> envStrings;
  for (const auto& [key, value] : env) envStrings.push_back(key + "=" + value);
  if (!env.contains("PATH")) envStrings.push_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
  std::vector<char*> envp;
  for (auto& s : envStrings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string argv0 = binary;
  char* argv[] = {argv0.data(), nullptr};

  // stdin is a socket pair rather than a pipe: a plugin that exits without reading its input then
  // gives EPIPE through MSG_NOSIGNAL instead of a process-wide SIGPIPE.
  int stdinPair[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, stdinPair) != 0) {
    return sysError(Errc::kIo, what + ": socketpair");
  }
  UniqueFd stdinParent(stdinPair[0]), stdinChild(stdinPair[1]);
  auto [outParent, outChild] = PODNET_TRY(makePipe());
  auto [errParent, errChild] = PODNET_TRY(makePipe());
  auto [reportRead, reportWrite] = PODNET_TRY(makePipe());

  const pid_t pid = ::fork();
  if (pid < 0) return sysError(Errc::kIo, what + ": fork");
  if (pid == 0) {
    runChild(stdinChild.get(), outChild.get(), errChild.get(), netns.get(), reportWrite.get(), argv,
             envp.data());
  }
  stdinChild.reset();
  outChild.reset();
  errChild.reset();
  reportWrite.reset();

  // The report pipe closes on a successful exec, or carries why the child could not get there.
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(reportRead.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    ::waitpid(pid, nullptr, 0);
    errno = failure.err;
    return sysError(failure.stage == 0 ? Errc::kKernel : Errc::kNotFound,
                    what + (failure.stage == 0 ? ": setns " + hostNetns : ": exec"));
  }

  UniqueFd pidFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidFd.valid()) {
    Error error = sysError(Errc::kIo, what + ": pidfd_open");
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return error;
  }
  for (int fd : {stdinParent.get(), outParent.get(), errParent.get()}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  if (stdinText.empty()) stdinParent.reset();

  ExecResult result;
  const auto deadline = Clock::now() + timeout;
  size_t written = 0;
  bool exited = false;
  while (!exited) {
    auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return makeError(Errc::kUnavailable,
                       what + " timed out after " + std::to_string(timeout.count()) + " ms");
    }
    pollfd fds[4];
    nfds_t count = 0;
    auto watch = [&](const UniqueFd& fd, short events) {
      if (fd.valid()) fds[count++] = pollfd{fd.get(), events, 0};
    };
    watch(stdinParent, POLLOUT);
    watch(outParent, POLLIN);
    watch(errParent, POLLIN);
    watch(pidFd, POLLIN);
    if (::poll(fds, count, static_cast<int>(left.count())) < 0 && errno != EINTR) {
      Error error = sysError(Errc::kIo, what + ": poll");
      ::kill(-pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
      return error;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == stdinParent.get()) {
        ssize_t sent = ::send(fds[i].fd, stdinText.data() + written, stdinText.size() - written,
                              MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) written += static_cast<size_t>(sent);
        // Done, or the plugin closed its stdin: either way there is nothing more to give it.
        if (written == stdinText.size() || (sent < 0 && errno != EAGAIN && errno != EINTR)) {
          stdinParent.reset();
        }
      } else if (fds[i].fd == outParent.get()) {
        readSome(outParent, result.out);
      } else if (fds[i].fd == errParent.get()) {
        readSome(errParent, result.err);
      } else {
        exited = true;
      }
    }
  }
  // Everything the plugin wrote is in the pipes by now. Descendants that still hold them open
  // (a daemonizing plugin) are not waited for.
  if (outParent.valid()) readSome(outParent, result.out);
  if (errParent.valid()) readSome(errParent, result.err);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exitCode = exitCodeOf(status);
  return result;
}

}  // namespace podnet::runtime
