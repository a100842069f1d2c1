// Network namespace handles. A Netns is an open fd of a namespace; a NetnsScope moves the calling
// thread into one and back. Only the calling thread moves: setns(CLONE_NEWNET) is per thread.
#pragma once

#include <string>

#include "common/fd.h"
#include "common/result.h"

namespace podnet::netlink {

class Netns {
 public:
  // Opens a netns file such as /var/run/netns/x or /proc/<pid>/ns/net. Errc::kNotFound when the
  // path does not exist, kInvalidArgument when it is not a network namespace.
  static Result<Netns> open(const std::string& path);
  // The calling thread's namespace.
  static Result<Netns> current();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }

 private:
  Netns(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  UniqueFd fd_;
  std::string path_;
};

class NetnsScope {
 public:
  static Result<NetnsScope> enter(const Netns& target);

  NetnsScope(NetnsScope&& other) noexcept = default;
  NetnsScope& operator=(NetnsScope&&) = delete;
  ~NetnsScope();

 private:
  explicit NetnsScope(Netns origin) : origin_(std::move(origin)) {}

  Netns origin_;  // an invalid fd once moved from: nothing to restore
};

}  // namespace podnet::netlink
