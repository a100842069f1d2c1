#include "bpf/libbpf_log.h"

#include <bpf/libbpf.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <mutex>

namespace podnet::bpf {
namespace {

constexpr size_t kMaxLog = 4096;
thread_local std::string tLog;

int printToThreadLog(enum libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  int n = std::vsnprintf(line, sizeof(line), format, args);
  if (n <= 0) return 0;
  tLog.append(line);
  if (tLog.size() > kMaxLog) tLog.erase(0, tLog.size() - kMaxLog);
  return n;
}

}  // namespace

void captureLibbpfLog() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(printToThreadLog); });
}

void clearLibbpfLog() {
  tLog.clear();
}

std::string takeLibbpfLog() {
  std::string out = std::move(tLog);
  tLog.clear();
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

Error libbpfError(const std::string& what, int err) {
  std::string message = what + ": " + std::strerror(err < 0 ? -err : err);
  std::string log = takeLibbpfLog();
  if (!log.empty()) message += " (libbpf: " + log + ")";
  return makeError(Errc::kKernel, std::move(message));
}

}  // namespace podnet::bpf
