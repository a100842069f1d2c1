// podnet-cni: the CNI plugin binary. Reads the CNI environment and stdin, forwards the request to
// podnetd over its unix socket (cni/plugin.h) and prints the answer.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <iterator>
#include <string>

#include "cni/plugin.h"
#include "cni/result_codec.h"
#include "cni/version.h"
#include "rpc/unix_socket.h"

namespace {

class UnixTransport final : public podnet::cni::AgentTransport {
 public:
  podnet::Result<nlohmann::json> call(const std::string& socketPath,
                                      const nlohmann::json& request) override {
    return podnet::rpc::call(socketPath, request);
  }
};

}  // namespace

int main() {
  using namespace podnet::cni;
  std::string input{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  PluginOutput out;
  if (std::cin.bad()) {
    CniError error{kIoFailure, std::string("reading stdin: ") + std::strerror(errno), ""};
    out = {1, errorJson(error, kLatestVersion).dump() + "\n"};
  } else {
    UnixTransport transport;
    out = runPlugin(
        [](const std::string& name) -> std::optional<std::string> {
          const char* value = std::getenv(name.c_str());
          if (!value) return std::nullopt;
          return std::string(value);
        },
        input, transport);
  }
  std::cout << out.stdoutText << std::flush;
  return out.exitCode;
}
