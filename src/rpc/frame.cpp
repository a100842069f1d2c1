#include "rpc/frame.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace podnet::rpc {

namespace {

Error ioError(const char* what) {
  int err = errno;
  Errc code = err == EAGAIN || err == EWOULDBLOCK ? Errc::kUnavailable : Errc::kIo;
  if (code == Errc::kUnavailable) return makeError(code, std::string(what) + ": timed out");
  return makeError(code, std::string(what) + ": " + std::strerror(err));
}

// send() with MSG_NOSIGNAL so a vanished peer is an EPIPE error, not a SIGPIPE that kills the
// process; plain write() for fds that are not sockets (pipes in tests).
ssize_t writeSome(int fd, const char* data, size_t size) {
  ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
  if (n < 0 && errno == ENOTSOCK) n = ::write(fd, data, size);
  return n;
}

Status writeAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = writeSome(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("write frame");
    }
    data += n;
    size -= size_t(n);
  }
  return okStatus();
}

Status readAll(int fd, char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ioError("read frame");
    }
    if (n == 0) return makeError(Errc::kIo, "read frame: connection closed by the peer");
    data += n;
    size -= size_t(n);
  }
  return okStatus();
}

}  // namespace

Status writeFrame(int fd, std::string_view payload) {
  if (payload.size() > kMaxFrameSize) {
    return makeError(Errc::kInvalidArgument, "write frame: payload of " +
                                                 std::to_string(payload.size()) +
                                                 " bytes exceeds the 16 MiB limit");
  }
  uint32_t n = uint32_t(payload.size());
  const char header[4] = {char(n >> 24), char(n >> 16), char(n >> 8), char(n)};
  // One buffer, one write in the common case: the peer never sees a header without its payload.
  std::string frame(header, sizeof header);
  frame.append(payload);
  return writeAll(fd, frame.data(), frame.size());
}

Result<std::string> readFrame(int fd) {
  unsigned char header[4];
  PODNET_TRY_STATUS(readAll(fd, reinterpret_cast<char*>(header), sizeof header));
  size_t n = size_t(header[0]) << 24 | size_t(header[1]) << 16 | size_t(header[2]) << 8 | header[3];
  if (n > kMaxFrameSize) {
    return makeError(Errc::kDecode,
                     "read frame: length " + std::to_string(n) + " exceeds the 16 MiB limit");
  }
  std::string payload(n, '\0');
  PODNET_TRY_STATUS(readAll(fd, payload.data(), n));
  return payload;
}

}  // namespace podnet::rpc
