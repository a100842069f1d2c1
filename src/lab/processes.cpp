#include "lab/processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/fd.h"
#include "lab/layout.h"

extern char** environ;

namespace podnet::lab {
namespace {

namespace fs = std::filesystem;

Error sysError(Errc code, const std::string& what) {
  return makeError(code, what + ": " + std::strerror(errno));
}

// Why a child could not reach exec, sent through a close-on-exec pipe.
struct ChildFailure {
  int stage;  // 0: open log, 1: setns, 2: exec
  int err;
};

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

bool carriesTag(pid_t pid, const std::string& tag) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(in, entry, '\0')) {
    if (entry == tag) return true;
  }
  return false;
}

std::optional<ino_t> netnsInodeOf(pid_t pid) {
  struct stat st {};
  if (::stat(("/proc/" + std::to_string(pid) + "/ns/net").c_str(), &st) != 0) return std::nullopt;
  return st.st_ino;
}

// /proc/<pid>/stat: "pid (comm) state ppid ... starttime(22) ...". comm may hold spaces and ')',
// so fields are counted from the last ')'.
std::optional<std::pair<char, uint64_t>> stateAndStartTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  char state = '?';
  rest >> state;
  std::string field;
  for (int i = 4; i < 22 && rest >> field; ++i) {
  }
  uint64_t start = 0;
  if (!(rest >> start)) return std::nullopt;
  return std::pair{state, start};
}

}  // namespace

Result<ProcessRecord> spawnDetached(const SpawnSpec& spec) {
  const std::string what = spec.role + " (" + spec.argv.at(0) + ")";
  UniqueFd netns(::open(spec.netnsPath.c_str(), O_RDONLY | O_CLOEXEC));
  if (!netns.valid()) return sysError(Errc::kNotFound, what + ": open netns " + spec.netnsPath);

  // Everything the child needs is built before fork: it must not allocate.
  std::vector<std::string> args = spec.argv;
  std::vector<std::string> env;
  const std::string tagPrefix = std::string(kProcessTag) + "=";
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with(tagPrefix)) env.emplace_back(*e);
  }
  env.push_back(tagPrefix + spec.labName);
  auto argv = pointers(args);
  auto envp = pointers(env);
  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) return sysError(Errc::kIo, what + ": pipe2");
  UniqueFd reportRead(report[0]), reportWrite(report[1]);

  pid_t pid = ::fork();
  if (pid < 0) return sysError(Errc::kIo, what + ": fork");
  if (pid == 0) {
    auto fail = [&](int stage) {
      ChildFailure failure{stage, errno};
      (void)!::write(reportWrite.get(), &failure, sizeof failure);
      ::_exit(127);
    };
    ::setsid();
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    int log = ::open(spec.logFile.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log < 0) fail(0);
    int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null >= 0) ::dup2(null, STDIN_FILENO);
    ::dup2(log, STDOUT_FILENO);
    ::dup2(log, STDERR_FILENO);
    if (::setns(netns.get(), CLONE_NEWNET) != 0) fail(1);
    if (::chdir("/") != 0) fail(2);
    ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(argv[0], argv.data(), envp.data());
    fail(2);
    ::_exit(127);
  }
  reportWrite.reset();
  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(reportRead.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    ::waitpid(pid, nullptr, 0);
    errno = failure.err;
    const char* stage = failure.stage == 0   ? ": open log "
                        : failure.stage == 1 ? ": setns "
                                             : ": exec";
    std::string object = failure.stage == 0   ? spec.logFile
                         : failure.stage == 1 ? spec.netnsPath
                                              : std::string();
    return sysError(failure.stage == 2 ? Errc::kNotFound : Errc::kKernel, what + stage + object);
  }
  ProcessRecord record{spec.role, pid, 0};
  if (auto start = startTimeOf(pid)) record.startTime = *start;
  return record;
}

std::optional<uint64_t> startTimeOf(pid_t pid) {
  auto s = stateAndStartTime(pid);
  if (!s) return std::nullopt;
  return s->second;
}

bool isAlive(const ProcessRecord& process) {
  if (process.pid <= 0) return false;
  auto s = stateAndStartTime(process.pid);
  return s && s->second == process.startTime && s->first != 'Z' && s->first != 'X';
}

std::vector<pid_t> findLabProcesses(const std::set<ino_t>& netnsInodes,
                                    const std::string& labName) {
  std::vector<pid_t> out;
  const std::string tag = std::string(kProcessTag) + "=" + labName;
  const pid_t self = ::getpid();
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) return out;
  while (dirent* entry = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end == entry->d_name || *end != '\0' || pid <= 0 || pid == self) continue;
    auto inode = netnsInodeOf(static_cast<pid_t>(pid));
    if ((inode && netnsInodes.contains(*inode)) || carriesTag(static_cast<pid_t>(pid), tag)) {
      out.push_back(static_cast<pid_t>(pid));
    }
  }
  ::closedir(dir);
  return out;
}

void terminate(const std::vector<ProcessRecord>& processes, std::chrono::milliseconds grace) {
  auto running = [&] {
    std::vector<ProcessRecord> alive;
    for (const auto& p : processes) {
      if (isAlive(p)) alive.push_back(p);
    }
    return alive;
  };
  for (const auto& p : running()) ::kill(p.pid, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + grace;
  // Our own children become zombies until reaped: reap whatever exited.
  auto reap = [] {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  };
  while (std::chrono::steady_clock::now() < deadline) {
    reap();
    if (running().empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& p : running()) ::kill(p.pid, SIGKILL);
  for (int i = 0; i < 500; ++i) {
    reap();
    if (running().empty()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string selfDirectory() {
  std::error_code ec;
  auto path = fs::read_symlink("/proc/self/exe", ec);
  return ec ? std::string() : path.parent_path().string();
}

Result<std::string> findBinary(const std::string& name, const std::string& here) {
  if (!here.empty() && ::access((here + "/" + name).c_str(), X_OK) == 0) return here + "/" + name;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (!dir.empty() && ::access((dir + "/" + name).c_str(), X_OK) == 0) return dir + "/" + name;
  }
  return makeError(Errc::kNotFound,
                   name + ": not found in " + here + " nor on PATH; build it or install it");
}

Result<int> runCommand(const std::vector<std::string>& argvIn, std::string* output) {
  std::vector<std::string> args = argvIn;
  auto argv = pointers(args);
  int out[2];
  if (::pipe2(out, O_CLOEXEC) != 0) return sysError(Errc::kIo, args[0] + ": pipe2");
  UniqueFd outRead(out[0]), outWrite(out[1]);
  pid_t pid = ::fork();
  if (pid < 0) return sysError(Errc::kIo, args[0] + ": fork");
  if (pid == 0) {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ::dup2(null, STDIN_FILENO);
    ::dup2(outWrite.get(), STDOUT_FILENO);
    ::dup2(outWrite.get(), STDERR_FILENO);
    ::execvp(argv[0], argv.data());
    ::_exit(127);
  }
  outWrite.reset();
  std::string collected;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(outRead.get(), buf, sizeof buf);
    if (n > 0) {
      collected.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (output != nullptr) *output = collected;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return makeError(Errc::kNotFound, args[0] + ": cannot run it: " + collected);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace podnet::lab
