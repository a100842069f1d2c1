#include "agent/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/cni_service.h"
#include "common/fd.h"
#include "dataplane/node_network.h"
#include "rpc/unix_socket.h"
#include "store/sqlite_store.h"

namespace podnet::agent {
namespace {

// One agent per state directory: a second podnetd on the same store would hand out the same
// addresses twice.
Result<UniqueFd> lockStateDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return makeError(Errc::kIo, "state dir " + dir + ": " + ec.message());
  std::string path = dir + "/podnetd.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd.valid()) return makeError(Errc::kIo, path + ": " + std::strerror(errno));
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    return makeError(Errc::kConflict,
                     "another podnetd already uses state dir " + dir + " (" + path + " is locked)");
  }
  return fd;
}

Status run(const AgentOptions& o, const sigset_t& signals) {
  auto lock = PODNET_TRY(lockStateDir(o.stateDir));
  auto store = PODNET_TRY(store::SqliteStore::open(o.stateDir + "/podnet.db"));
  auto pool = PODNET_TRY(ipam::Pool::create(o.pool));
  PODNET_TRY_STATUS(
      dataplane::ensureNodeNetwork({o.bridge, pool.interfaceAddress(pool.gateway())}));
  auto wiring = PODNET_TRY(dataplane::PodWiring::create());
  ipam::Allocator allocator(*store, pool);
  CniService service(*store, allocator, wiring, o.nodeName, o.mtu);
  PODNET_TRY_STATUS(service.reconcile());

  auto server = PODNET_TRY(rpc::Server::listen(
      o.socketPath, [&](const nlohmann::json& request) { return service.handle(request); }));
  spdlog::info("podnetd on node {}: pool {} gateway {}, store {}/podnet.db, listening on {}",
               o.nodeName, pool.config().cidr.str(), pool.gateway().str(), o.stateDir,
               o.socketPath);

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    spdlog::info("podnetd: signal {}, stopping (pods keep their network)", sig);
    server.stop();
  });
  server.serve();
  // serve() also returns if the server fails on its own: wake the waiter so it can be joined.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  return okStatus();
}

}  // namespace

int runDaemon(const AgentOptions& o) {
  spdlog::set_level(spdlog::level::from_str(o.logLevel));
  // Signals are taken by one thread with sigwait; every other thread inherits the block.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  ::umask(0022);

  auto st = run(o, signals);
  if (!st) {
    spdlog::error("podnetd: {}", st.error().message);
    return 1;
  }
  return 0;
}

}  // namespace podnet::agent
