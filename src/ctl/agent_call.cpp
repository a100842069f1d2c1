#include "ctl/agent_call.h"

#include "rpc/unix_socket.h"

namespace podnet::ctl {

Result<nlohmann::json> askAgent(const std::string& socket, const nlohmann::json& request,
                                std::chrono::milliseconds timeout) {
  auto reply = rpc::call(socket, request, timeout);
  if (!reply) {
    return makeError(reply.error().code, "cannot reach podnetd: " + reply.error().message);
  }
  if (!reply->is_object() || !reply->value("ok", false)) {
    std::string msg = "unknown error";
    if (reply->is_object() && reply->contains("error") && (*reply)["error"].is_object()) {
      const auto& error = (*reply)["error"];
      if (error.contains("msg") && error["msg"].is_string()) msg = error["msg"];
    }
    return makeError(Errc::kInvalidArgument, "podnetd: " + msg);
  }
  return std::move(reply).value();
}

}  // namespace podnet::ctl
