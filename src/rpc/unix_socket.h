// The agent RPC over a local unix stream socket: one JSON request and one JSON answer per
// connection, each in one frame (frame.h).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/result.h"

namespace podnet::rpc {

// Connects, writes one request frame, reads one answer frame. `timeout` bounds each send and
// receive. Connect failures (ENOENT, ECONNREFUSED, ...) and timeouts are kUnavailable with the path
// and the errno text in the message; other I/O failures are kIo; an answer that is not JSON is
// kDecode.
Result<nlohmann::json> call(const std::string& socketPath, const nlohmann::json& request,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60));

using Handler = std::function<nlohmann::json(const nlohmann::json& request)>;

// A unix socket server answering each connection's request with the handler, one thread per
// connection (at most kMaxConnections at once; further connections wait in the backlog).
// A request that is not JSON is answered {"ok": false, "error": {"code": 6, ...}} without calling
// the handler; a handler that throws is answered with code 5. Move-only; the destructor stops the
// server and removes its socket file (unless another server has since replaced it).
class Server {
 public:
  static constexpr int kMaxConnections = 1024;

  // Creates the parent directories (0755) if missing, replaces a stale socket file (one nobody
  // listens on), binds, sets the socket file to `mode` and listens. Fails with kAlreadyExists when
  // a live server listens on `path` or `path` is not a socket.
  static Result<Server> listen(const std::string& path, Handler handler, mode_t mode = 0600);

  Server(Server&&) noexcept;
  Server& operator=(Server&&) noexcept;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  ~Server();

  // Accepts until stop(); call it from one thread.
  void serve();
  // Thread-safe: makes serve() return and waits for the in-flight handlers. Do not call it from a
  // handler (it would wait for itself).
  void stop();

  const std::string& path() const;

 private:
  struct State;
  explicit Server(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace podnet::rpc
