// A connected NETLINK_ROUTE socket. The kernel binds it to the netns it was created in, so one
// socket per namespace is enough to program that namespace from any thread.
// (Not named socket.h: <netlink/socket.h> is libnl's, and src/ comes first on the include path.)
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "netlink/netns.h"

struct nl_sock;
struct nlmsgerr;
struct sockaddr_nl;

namespace podnet::netlink {

class Socket {
 public:
  static Result<Socket> open();
  // Enters ns, connects, and goes back: the socket keeps talking to ns.
  static Result<Socket> openIn(const Netns& ns);

  Socket(Socket&&) noexcept;
  Socket& operator=(Socket&&) noexcept;
  ~Socket();

  nl_sock* get() const;

  // Turns a libnl return code into a Status. The kernel's own errno and extended-ack text are kept
  // (libnl's codes lose them), so messages read "RTM_NEWLINK: File exists" with `what` in front.
  Status check(int rc, const std::string& what, const char* op);

 private:
  struct State;
  explicit Socket(std::unique_ptr<State> state);
  static int onKernelError(sockaddr_nl*, nlmsgerr* err, void* arg);

  std::unique_ptr<State> state_;  // on the heap: libnl's error callback holds its address
};

}  // namespace podnet::netlink
