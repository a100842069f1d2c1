#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <tuple>
#include <utility>

extern char** environ;

namespace podnet {
namespace {

using Clock = std::chrono::steady_clock;

Error sysError(Errc code, const std::string& what) {
  return makeError(code, what + ": " + std::strerror(errno));
}

// Why the child could not reach exec, sent through a close-on-exec pipe that closes unread on a
// successful exec.
enum class Stage : int { kOpenLog, kSetns, kChdir, kExec };
struct ChildFailure {
  Stage stage;
  int err;
};

Result<std::pair<UniqueFd, UniqueFd>> makePipe(const std::string& what) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return sysError(Errc::kIo, what + ": pipe2");
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// A bare name on the caller's PATH, as execvp would find it; looked up before fork, since the
// child must not allocate. The name itself when nothing matches (exec then reports ENOENT).
std::string resolve(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path != nullptr ? path : "/bin:/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;
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

// Everything the child does between fork and exec; only async-signal-safe calls, since the
// parent may have other threads.
struct ChildPlan {
  const ProcessSpec* spec;
  int netnsFd, stdinFd, stdoutFd, stderrFd, reportFd;
  char* const* argv;
  char* const* envp;
};

[[noreturn]] void runChild(const ChildPlan& plan) {
  const ProcessSpec& spec = *plan.spec;
  auto fail = [&plan](Stage stage) {
    ChildFailure failure{stage, errno};
    (void)!::write(plan.reportFd, &failure, sizeof failure);
    ::_exit(127);
  };
  if (spec.group == ProcessSpec::Group::kProcessGroup) ::setpgid(0, 0);
  if (spec.group == ProcessSpec::Group::kSession) ::setsid();
  // The caller may block or ignore signals (an agent handling SIGTERM through signalfd); the
  // program must start with the defaults.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGPIPE, &dfl, nullptr);

  int null = -1;
  auto devNull = [&null] {
    if (null < 0) null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    return null;
  };
  int log = -1;
  if (spec.out == ProcessSpec::Output::kLogFile || spec.err == ProcessSpec::Output::kLogFile) {
    log = ::open(spec.logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) fail(Stage::kOpenLog);
  }
  auto target = [&](ProcessSpec::Output output, int pipeFd) {
    switch (output) {
      case ProcessSpec::Output::kNull:
        return devNull();
      case ProcessSpec::Output::kPipe:
        return pipeFd;
      case ProcessSpec::Output::kLogFile:
        return log;
      case ProcessSpec::Output::kMerged:
        return STDOUT_FILENO;
    }
    return devNull();
  };
  ::dup2(spec.in == ProcessSpec::Input::kPipe ? plan.stdinFd : devNull(), STDIN_FILENO);
  ::dup2(target(spec.out, plan.stdoutFd), STDOUT_FILENO);
  ::dup2(target(spec.err, plan.stderrFd), STDERR_FILENO);
  if (plan.netnsFd >= 0 && ::setns(plan.netnsFd, CLONE_NEWNET) != 0) fail(Stage::kSetns);
  if (!spec.workDir.empty() && ::chdir(spec.workDir.c_str()) != 0) fail(Stage::kChdir);
  // Descriptors the caller opened without O_CLOEXEC must not leak into the program.
  ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
  ::execve(plan.argv[0], plan.argv, plan.envp);
  fail(Stage::kExec);
  ::_exit(127);  // not reached: fail() exits; tells the compiler so
}

}  // namespace

Result<Subprocess> Subprocess::spawn(const ProcessSpec& spec) {
  if (spec.argv.empty()) return makeError(Errc::kInvalidArgument, "subprocess: argv is empty");
  const std::string what = spec.what.empty() ? spec.argv[0] : spec.what;
  UniqueFd netns;
  if (!spec.netns.empty()) {
    netns.reset(::open(spec.netns.c_str(), O_RDONLY | O_CLOEXEC));
    if (!netns.valid()) return sysError(Errc::kNotFound, what + ": open netns " + spec.netns);
  }

  // Everything the child needs is built before fork: it must not allocate.
  std::vector<std::string> args = spec.argv;
  if (spec.searchPath) args[0] = resolve(args[0]);
  std::vector<std::string> env;
  if (spec.env) {
    env = *spec.env;
  } else {
    for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  }
  auto argv = pointers(args);
  auto envp = pointers(env);

  // stdin is a socket pair rather than a pipe: a child that exits without reading its input then
  // gives EPIPE through MSG_NOSIGNAL instead of a process-wide SIGPIPE.
  UniqueFd stdinParent, stdinChild, outParent, outChild, errParent, errChild;
  if (spec.in == ProcessSpec::Input::kPipe) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      return sysError(Errc::kIo, what + ": socketpair");
    }
    stdinParent.reset(pair[0]);
    stdinChild.reset(pair[1]);
  }
  if (spec.out == ProcessSpec::Output::kPipe) {
    std::tie(outParent, outChild) = PODNET_TRY(makePipe(what));
  }
  if (spec.err == ProcessSpec::Output::kPipe) {
    std::tie(errParent, errChild) = PODNET_TRY(makePipe(what));
  }
  auto [reportRead, reportWrite] = PODNET_TRY(makePipe(what));

  const ChildPlan plan{&spec,          netns.get(),       stdinChild.get(), outChild.get(),
                       errChild.get(), reportWrite.get(), argv.data(),      envp.data()};
  const pid_t pid = ::fork();
  if (pid < 0) return sysError(Errc::kIo, what + ": fork");
  if (pid == 0) runChild(plan);
  stdinChild.reset();
  outChild.reset();
  errChild.reset();
  reportWrite.reset();

  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(reportRead.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    ::waitpid(pid, nullptr, 0);
    errno = failure.err;
    switch (failure.stage) {
      case Stage::kOpenLog:
        return sysError(Errc::kKernel, what + ": open log " + spec.logFile);
      case Stage::kSetns:
        return sysError(Errc::kKernel, what + ": setns " + spec.netns);
      case Stage::kChdir:
        return sysError(Errc::kKernel, what + ": chdir " + spec.workDir);
      case Stage::kExec:
        break;
    }
    return sysError(Errc::kNotFound, what + ": exec");
  }

  Subprocess child;
  child.what_ = what;
  child.pid_ = pid;
  child.ownGroup_ = spec.group != ProcessSpec::Group::kInherit;
  child.stdin_ = std::move(stdinParent);
  child.stdout_ = std::move(outParent);
  child.stderr_ = std::move(errParent);
  return child;
}

Subprocess::Subprocess(Subprocess&& other) noexcept
    : what_(std::move(other.what_)),
      pid_(std::exchange(other.pid_, -1)),
      ownGroup_(other.ownGroup_),
      stdin_(std::move(other.stdin_)),
      stdout_(std::move(other.stdout_)),
      stderr_(std::move(other.stderr_)) {}

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this != &other) {
    killAndReap();
    what_ = std::move(other.what_);
    pid_ = std::exchange(other.pid_, -1);
    ownGroup_ = other.ownGroup_;
    stdin_ = std::move(other.stdin_);
    stdout_ = std::move(other.stdout_);
    stderr_ = std::move(other.stderr_);
  }
  return *this;
}

Subprocess::~Subprocess() {
  killAndReap();
}

void Subprocess::killAndReap() {
  if (pid_ <= 0) return;
  kill(SIGKILL);
  wait();
}

void Subprocess::kill(int signal) const {
  if (pid_ > 0) ::kill(ownGroup_ ? -pid_ : pid_, signal);
}

int Subprocess::wait() {
  if (pid_ <= 0) return -1;
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
  return exitCodeOf(status);
}

pid_t Subprocess::detach() {
  stdin_.reset();
  stdout_.reset();
  stderr_.reset();
  return std::exchange(pid_, -1);
}

Result<Completed> Subprocess::communicate(std::string_view input,
                                          std::optional<std::chrono::milliseconds> timeout) {
  UniqueFd pidFd(static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0)));
  if (!pidFd.valid()) {
    Error error = sysError(Errc::kIo, what_ + ": pidfd_open");
    killAndReap();
    return error;
  }
  for (const UniqueFd* fd : {&stdin_, &stdout_, &stderr_}) {
    if (fd->valid()) ::fcntl(fd->get(), F_SETFL, ::fcntl(fd->get(), F_GETFL) | O_NONBLOCK);
  }
  if (input.empty()) stdin_.reset();

  Completed result;
  const auto deadline = timeout ? Clock::now() + *timeout : Clock::time_point::max();
  size_t written = 0;
  bool exited = false;
  while (!exited) {
    int wait = -1;
    if (timeout) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        killAndReap();
        return makeError(Errc::kUnavailable,
                         what_ + " timed out after " + std::to_string(timeout->count()) + " ms");
      }
      wait = static_cast<int>(left.count());
    }
    pollfd fds[4];
    nfds_t count = 0;
    auto watch = [&](const UniqueFd& fd, short events) {
      if (fd.valid()) fds[count++] = pollfd{fd.get(), events, 0};
    };
    watch(stdin_, POLLOUT);
    watch(stdout_, POLLIN);
    watch(stderr_, POLLIN);
    watch(pidFd, POLLIN);
    if (::poll(fds, count, wait) < 0 && errno != EINTR) {
      Error error = sysError(Errc::kIo, what_ + ": poll");
      killAndReap();
      return error;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (fds[i].revents == 0) continue;
      if (fds[i].fd == stdin_.get()) {
        ssize_t sent = ::send(fds[i].fd, input.data() + written, input.size() - written,
                              MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) written += static_cast<size_t>(sent);
        // Done, or the child closed its stdin: either way there is nothing more to give it.
        if (written == input.size() || (sent < 0 && errno != EAGAIN && errno != EINTR)) {
          stdin_.reset();
        }
      } else if (fds[i].fd == stdout_.get()) {
        readSome(stdout_, result.out);
      } else if (fds[i].fd == stderr_.get()) {
        readSome(stderr_, result.err);
      } else {
        exited = true;
      }
    }
  }
  // Everything the child wrote is in the pipes by now. Descendants that still hold them open (a
  // daemonizing plugin) are not waited for.
  if (stdout_.valid()) readSome(stdout_, result.out);
  if (stderr_.valid()) readSome(stderr_, result.err);
  stdin_.reset();
  stdout_.reset();
  stderr_.reset();
  result.exitCode = wait();
  return result;
}

}  // namespace podnet
