// libbpf reports details (verifier logs, netlink messages) through a print callback, not through
// return values. This routes them into podnet's errors: warnings of the calling thread are kept,
// and the last few lines are appended to the error that follows.
#pragma once

#include <string>

#include "common/result.h"

namespace podnet::bpf {

// Installs the callback once per process. Safe to call from many threads.
void captureLibbpfLog();

// Clears the calling thread's captured lines.
void clearLibbpfLog();

// The calling thread's captured warnings, last lines first trimmed to a readable size; empty if
// none.
std::string takeLibbpfLog();

// Errc::kKernel "<what>: <strerror(err)> (libbpf: <the calling thread's captured lines>)"; err
// may be negative (libbpf's convention) or an errno.
Error libbpfError(const std::string& what, int err);

}  // namespace podnet::bpf
