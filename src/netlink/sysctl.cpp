#include "netlink/sysctl.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"

namespace podnet::netlink {

Status writeSysctl(const std::string& key, const std::string& value) {
  std::string path = "/proc/sys/" + key;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    return makeError(err == ENOENT ? Errc::kNotFound : Errc::kIo,
                     "sysctl " + key + ": open: " + std::strerror(err));
  }
  if (::write(fd.get(), value.data(), value.size()) != static_cast<ssize_t>(value.size())) {
    return makeError(Errc::kIo,
                     "sysctl " + key + " = " + value + ": write: " + std::strerror(errno));
  }
  return okStatus();
}

Result<std::string> readSysctl(const std::string& key) {
  std::string path = "/proc/sys/" + key;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    int err = errno;
    return makeError(err == ENOENT ? Errc::kNotFound : Errc::kIo,
                     "sysctl " + key + ": open: " + std::strerror(err));
  }
  char buf[256];
  ssize_t n = ::read(fd.get(), buf, sizeof(buf));
  if (n < 0) return makeError(Errc::kIo, "sysctl " + key + ": read: " + std::strerror(errno));
  std::string value(buf, static_cast<size_t>(n));
  while (!value.empty() && (value.back() == '\n' || value.back() == ' ')) value.pop_back();
  return value;
}

}  // namespace podnet::netlink
