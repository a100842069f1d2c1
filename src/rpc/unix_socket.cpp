#include "rpc/unix_socket.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "cni/types.h"
#include "common/fd.h"
#include "rpc/frame.h"

namespace podnet::rpc {

namespace {

// How long the server waits for a connected client to send its request or take its answer, so a
// stuck client cannot hold a thread (and stop()) forever.
constexpr std::chrono::seconds kServerIoTimeout{30};

std::string errnoText() {
  return std::strerror(errno);
}

Result<sockaddr_un> unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    return makeError(Errc::kInvalidArgument, "unix socket path \"" + path + "\" must be 1.." +
                                                 std::to_string(sizeof addr.sun_path - 1) +
                                                 " characters");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

Result<UniqueFd> newSocket() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return makeError(Errc::kIo, "socket(AF_UNIX): " + errnoText());
  return fd;
}

void setTimeouts(int fd, std::chrono::milliseconds timeout) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
  timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::string dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

nlohmann::json errorAnswer(int code, const std::string& msg) {
  return {{"ok", false}, {"error", {{"code", code}, {"msg", msg}}}};
}

Status makeParentDirs(const std::string& path) {
  for (size_t slash = path.find('/', 1); slash != std::string::npos;
       slash = path.find('/', slash + 1)) {
    std::string dir = path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return makeError(Errc::kIo, "mkdir " + dir + ": " + errnoText());
    }
  }
  return okStatus();
}

}  // namespace

Result<nlohmann::json> call(const std::string& socketPath, const nlohmann::json& request,
                            std::chrono::milliseconds timeout) {
  auto addr = PODNET_TRY(unixAddress(socketPath));
  auto fd = PODNET_TRY(newSocket());
  setTimeouts(fd.get(), timeout);
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    return makeError(Errc::kUnavailable, "connect " + socketPath + ": " + errnoText());
  }
  auto sent = writeFrame(fd.get(), dump(request));
  if (!sent) return std::move(sent).takeError().context("sending to " + socketPath);
  auto answer = readFrame(fd.get());
  if (!answer) return std::move(answer).takeError().context("waiting for " + socketPath);
  try {
    return nlohmann::json::parse(*answer);
  } catch (const nlohmann::json::exception& e) {
    return makeError(Errc::kDecode,
                     "answer from " + socketPath + " is not valid JSON: " + std::string(e.what()));
  }
}

struct Server::State {
  std::string path;
  Handler handler;
  UniqueFd listenFd;
  UniqueFd wakeFd;  // eventfd: stop() makes it readable so serve() leaves poll()
  ino_t inode = 0;  // of our socket file, so we never unlink a successor's

  std::mutex mu;
  std::condition_variable cv;
  int active = 0;
  bool stopping = false;

  void handle(int connFd) {
    UniqueFd conn(connFd);
    setTimeouts(conn.get(), kServerIoTimeout);
    auto request = readFrame(conn.get());
    if (!request) return;  // the client went away or sent a broken frame; nobody to answer
    nlohmann::json parsed = nlohmann::json::parse(*request, nullptr, /*allow_exceptions=*/false);
    nlohmann::json answer;
    try {
      answer = parsed.is_discarded() ? errorAnswer(cni::kDecodeFailure, "request is not valid JSON")
                                     : handler(parsed);
    } catch (const std::exception& e) {
      answer = errorAnswer(cni::kIoFailure, "internal error in podnetd: " + std::string(e.what()));
    } catch (...) {
      answer = errorAnswer(cni::kIoFailure, "internal error in podnetd");
    }
    (void)writeFrame(conn.get(), dump(answer));  // a client that left early is not our error
  }
};

Server::Server(std::shared_ptr<State> state) : state_(std::move(state)) {}
Server::Server(Server&&) noexcept = default;

Server& Server::operator=(Server&& other) noexcept {
  if (this != &other) {
    Server old(std::move(*this));  // stops and cleans up what this held
    state_ = std::move(other.state_);
  }
  return *this;
}

Server::~Server() {
  if (!state_) return;
  stop();
  struct stat st {};
  if (::stat(state_->path.c_str(), &st) == 0 && st.st_ino == state_->inode) {
    ::unlink(state_->path.c_str());
  }
}

const std::string& Server::path() const {
  return state_->path;
}

Result<Server> Server::listen(const std::string& path, Handler handler, mode_t mode) {
  auto addr = PODNET_TRY(unixAddress(path));
  PODNET_TRY_STATUS(makeParentDirs(path));

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return makeError(Errc::kAlreadyExists,
                       path + " exists and is not a socket; not replacing it");
    }
    auto probe = PODNET_TRY(newSocket());
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0 ||
        (errno != ECONNREFUSED && errno != ENOENT)) {
      return makeError(Errc::kAlreadyExists, "another server is listening on " + path);
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return makeError(Errc::kIo, "removing stale socket " + path + ": " + errnoText());
    }
  }

  auto state = std::make_shared<State>();
  state->path = path;
  state->handler = std::move(handler);
  state->listenFd = PODNET_TRY(newSocket());
  state->wakeFd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!state->wakeFd.valid()) return makeError(Errc::kIo, "eventfd: " + errnoText());
  int fd = state->listenFd.get();
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return makeError(Errc::kIo, "bind " + path + ": " + errnoText());
  }
  Server server(state);  // from here on the destructor removes the socket file on failure
  // Nobody can connect before listen(), so setting the mode in between leaves no window.
  if (::chmod(path.c_str(), mode) != 0 || ::stat(path.c_str(), &st) != 0) {
    return makeError(Errc::kIo, "chmod " + path + ": " + errnoText());
  }
  state->inode = st.st_ino;
  if (::listen(fd, SOMAXCONN) != 0)
    return makeError(Errc::kIo, "listen " + path + ": " + errnoText());
  return server;
}

void Server::serve() {
  std::shared_ptr<State> s = state_;
  pollfd fds[2] = {{s->listenFd.get(), POLLIN, 0}, {s->wakeFd.get(), POLLIN, 0}};
  for (;;) {
    {
      std::unique_lock lock(s->mu);
      s->cv.wait(lock, [&] { return s->stopping || s->active < kMaxConnections; });
      if (s->stopping) return;
    }
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents != 0) return;
    int conn = ::accept4(s->listenFd.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) continue;  // the client gave up, or a transient resource shortage
    {
      std::lock_guard lock(s->mu);
      if (s->stopping) {
        ::close(conn);
        return;
      }
      ++s->active;
    }
    auto finish = [s] {
      std::lock_guard lock(s->mu);
      --s->active;
      s->cv.notify_all();
    };
    try {
      std::thread([s, conn, finish] {
        s->handle(conn);
        finish();
      }).detach();
    } catch (const std::system_error&) {
      ::close(conn);
      finish();
    }
  }
}

void Server::stop() {
  std::unique_lock lock(state_->mu);
  if (!state_->stopping) {
    state_->stopping = true;
    uint64_t one = 1;
    (void)!::write(state_->wakeFd.get(), &one, sizeof one);
    state_->cv.notify_all();
  }
  state_->cv.wait(lock, [&] { return state_->active == 0; });
}

}  // namespace podnet::rpc
