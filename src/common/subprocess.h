// Subprocess: the one owner of a child process that podnet starts (a CNI plugin, a lab daemon, an
// `ip` command). It starts the program as the spec says (argv, environment, stdin, where stdout
// and stderr go, a network namespace to enter, its own process group or session), reports why
// the child could not reach exec as an error naming the stage, and either runs it to completion
// (input in, output collected, bounded by a timeout) or lets it go on as a daemon. Move-only; the
// destructor kills (its group, if it has one) and reaps a child it still owns.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace podnet {

struct ProcessSpec {
  // argv[0]: the program's path; with searchPath, a bare name is looked up on the caller's PATH.
  std::vector<std::string> argv;
  bool searchPath = false;
  // The child's whole environment ("KEY=value"); nullopt: the caller's.
  std::optional<std::vector<std::string>> env;
  // A network namespace file (/run/netns/n1) the child enters before exec; empty: the caller's.
  std::string netns;
  // The directory the child runs in; empty: the caller's.
  std::string workDir;

  enum class Input { kNull, kPipe };
  // kMerged (stderr only): wherever stdout goes. kLogFile: appended to logFile (created 0644).
  enum class Output { kNull, kPipe, kLogFile, kMerged };
  Input in = Input::kNull;
  Output out = Output::kPipe;
  Output err = Output::kPipe;
  std::string logFile;

  // kProcessGroup: a group of its own, so kill() also reaches what the program started.
  // kSession: a session of its own (a daemon, apart from our terminal and our signals).
  enum class Group { kInherit, kProcessGroup, kSession };
  Group group = Group::kInherit;

  // Names the child in errors ("plugin /opt/cni/bin/x"); empty: argv[0].
  std::string what;
};

struct Completed {
  int exitCode = 0;  // the exit status, or 128 + signal number if a signal ended it
  std::string out;   // stdout (and stderr when merged), if piped
  std::string err;   // stderr, if piped
};

class Subprocess {
 public:
  // Starts spec's program. Errors name spec.what and the stage that failed: "open netns <path>"
  // and "exec" are kNotFound, "setns <path>" and "open log <file>" kKernel.
  static Result<Subprocess> spawn(const ProcessSpec& spec);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // Gives `input` to its stdin (then closes it; a child that stops reading is not an error) and
  // collects the piped output until it exits, then reaps it. Past `timeout` the child (and its
  // group) is killed and reaped: kUnavailable "<what> timed out after N ms". Output written by
  // descendants that outlive it is not waited for.
  Result<Completed> communicate(std::string_view input = {},
                                std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Sends `signal` to the child, or to its whole group when it has one of its own.
  void kill(int signal) const;
  // Waits for the child to exit and reaps it; its exit code as Completed::exitCode.
  int wait();
  // Lets the child go on by itself: it is neither killed nor reaped here (it stays our child
  // until we exit, then init reaps it). Returns its pid.
  pid_t detach();

 private:
  Subprocess() = default;
  void killAndReap();

  std::string what_;
  pid_t pid_ = -1;
  bool ownGroup_ = false;
  UniqueFd stdin_, stdout_, stderr_;
};

}  // namespace podnet
