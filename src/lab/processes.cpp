#include "lab/processes.h"

#include <dirent.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/subprocess.h"
#include "lab/layout.h"

extern char** environ;

namespace podnet::lab {
namespace {

namespace fs = std::filesystem;

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
  ProcessSpec process;
  process.argv = spec.argv;
  process.env.emplace();
  const std::string tagPrefix = std::string(kProcessTag) + "=";
  for (char** e = environ; *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with(tagPrefix)) process.env->emplace_back(*e);
  }
  process.env->push_back(tagPrefix + spec.labName);
  process.netns = spec.netnsPath;
  process.workDir = "/";
  process.out = ProcessSpec::Output::kLogFile;
  process.err = ProcessSpec::Output::kLogFile;
  process.logFile = spec.logFile;
  process.group = ProcessSpec::Group::kSession;
  process.what = spec.role + " (" + spec.argv.at(0) + ")";
  auto child = PODNET_TRY(Subprocess::spawn(process));
  ProcessRecord record{spec.role, child.detach(), 0};
  if (auto start = startTimeOf(record.pid)) record.startTime = *start;
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

Result<int> runCommand(const std::vector<std::string>& argv, std::string* output) {
  ProcessSpec spec;
  spec.argv = argv;
  spec.searchPath = true;
  spec.err = ProcessSpec::Output::kMerged;
  auto child = PODNET_TRY(Subprocess::spawn(spec));
  auto done = PODNET_TRY(child.communicate());
  if (output != nullptr) *output = done.out;
  // 127: a shell or `ip netns exec` could not run the command it was given.
  if (done.exitCode == 127) {
    return makeError(Errc::kNotFound, argv[0] + ": cannot run it: " + done.out);
  }
  return done.exitCode;
}

}  // namespace podnet::lab
