#include "netlink/netns.h"

#include <fcntl.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace podnet::netlink {

Result<Netns> Netns::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return makeError(err == ENOENT ? Errc::kNotFound : Errc::kIo,
                     "netns " + path + ": open: " + std::strerror(err));
  }
  UniqueFd owned(fd);
  if (::ioctl(fd, NS_GET_NSTYPE) != CLONE_NEWNET) {
    return makeError(Errc::kInvalidArgument, "netns " + path + ": not a network namespace");
  }
  return Netns(std::move(owned), path);
}

Result<Netns> Netns::current() {
  return open("/proc/thread-self/ns/net");
}

Result<NetnsScope> NetnsScope::enter(const Netns& target) {
  Netns origin = PODNET_TRY(Netns::current());
  if (::setns(target.fd(), CLONE_NEWNET) != 0) {
    return makeError(Errc::kKernel, "netns " + target.path() + ": setns: " + std::strerror(errno));
  }
  return NetnsScope(std::move(origin));
}

NetnsScope::~NetnsScope() {
  if (origin_.fd() < 0) return;
  // A thread stranded in a pod's namespace would silently program the wrong kernel state from
  // then on; going back to a namespace we hold open cannot fail short of a kernel bug.
  if (::setns(origin_.fd(), CLONE_NEWNET) != 0) {
    std::fprintf(stderr, "podnet: cannot return to netns %s: %s\n", origin_.path().c_str(),
                 std::strerror(errno));
    std::abort();
  }
}

}  // namespace podnet::netlink
