#include "agent/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <filesystem>
#include <thread>

#include <spdlog/spdlog.h>

#include "agent/cni_service.h"
#include "agent/flow_log.h"
#include "agent/node_registration.h"
#include "agent/overlay_sync.h"
#include "agent/policy_agent.h"
#include "agent/subnet_table.h"
#include "common/fd.h"
#include "dataplane/node_network.h"
#include "dataplane/overlay.h"
#include "registry/service.h"
#include "rpc/unix_socket.h"
#include "store/etcd_store.h"
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

// etcd may come up after the agent (the lab starts them together; a node reboots faster than
// the control plane): keep trying until it answers or a signal arrives (nullptr then).
Result<std::unique_ptr<store::Store>> openStore(const AgentOptions& o, const sigset_t& signals) {
  if (o.store == StoreKind::kSqlite) {
    return std::unique_ptr<store::Store>(
        PODNET_TRY(store::SqliteStore::open(o.stateDir + "/podnet.db")));
  }
  while (true) {
    auto etcd = store::EtcdStore::connect(o.etcdEndpoints, std::chrono::seconds(5));
    if (etcd) return std::unique_ptr<store::Store>(std::move(*etcd));
    spdlog::warn("etcd: {}; retrying", etcd.error().message);
    timespec wait{1, 0};
    if (sigtimedwait(&signals, nullptr, &wait) > 0) return std::unique_ptr<store::Store>();
  }
}

// Several nodes: the overlay to the other nodes, this node's registration, and the watch that
// programs the overlay. Members are destroyed in reverse: the watch stops before the overlay.
struct Cluster {
  dataplane::OverlayConfig config;
  std::optional<dataplane::Overlay> overlay;
  std::unique_ptr<NodeRegistration> registration;
  std::unique_ptr<OverlaySync> sync;
};

Result<std::unique_ptr<Cluster>> joinCluster(const AgentOptions& o, store::Store& store) {
  auto uplink = PODNET_TRY(dataplane::findUplink(o.uplink));
  auto cluster = std::make_unique<Cluster>();
  dataplane::OverlayConfig config;
  config.backend = o.backend;
  config.uplink = uplink.device;
  config.underlayIp = uplink.address;
  cluster->overlay = PODNET_TRY(dataplane::Overlay::create(config));
  cluster->config = config;
  cluster->sync = PODNET_TRY(OverlaySync::start(store, *cluster->overlay, o.nodeName, o.backend));
  model::Node node;
  node.name = o.nodeName;
  node.underlayIp = uplink.address;
  node.vtepMac = cluster->overlay->localVtepMac();
  node.backend = o.backend;
  cluster->registration = PODNET_TRY(NodeRegistration::start(store, node, o.leaseTtl));
  spdlog::info("node {}: {} over {} ({}), pod MTU {}", o.nodeName, backendName(o.backend),
               uplink.device, uplink.address.str(), cluster->overlay->podMtu());
  return cluster;
}

Status run(const AgentOptions& o, const sigset_t& signals) {
  auto lock = PODNET_TRY(lockStateDir(o.stateDir));
  auto store = PODNET_TRY(openStore(o, signals));
  if (!store) return okStatus();  // stopped while waiting for etcd
  auto subnets = PODNET_TRY(SubnetTable::start(*store, o.pool, o.bridge));
  auto wiring = PODNET_TRY(dataplane::PodWiring::create());
  std::unique_ptr<Cluster> cluster;
  if (o.store == StoreKind::kEtcd) cluster = PODNET_TRY(joinCluster(o, *store));
  int mtu = o.mtu > 0 ? o.mtu : cluster ? cluster->overlay->podMtu() : 1500;
  PolicyOptions policyOptions;
  policyOptions.nodeName = o.nodeName;
  policyOptions.mode = o.policyEnforcement;
  policyOptions.pinDir = o.bpfPinDir;
  policyOptions.fastPath = o.fastPath;
  if (cluster) {
    policyOptions.hostDevices.push_back(cluster->config.uplink);
    if (cluster->config.backend == Backend::kVxlan) {
      policyOptions.hostDevices.push_back(cluster->config.device);
      policyOptions.tunnelPort = cluster->config.port;
    }
  }
  FlowLog flows;
  auto policy = PODNET_TRY(PolicyAgent::start(
      *store, policyOptions,
      [&flows](const bpf::FlowEvent& e, const std::string& by) { flows.record(e, by); }));
  CniService service(*store, *subnets, wiring, o.nodeName, mtu, policy.get());
  // A failure here concerns one attachment or veth, which reconcile left alone: serving the
  // other pods (and DEL, GC, a later restart retrying) beats refusing to start.
  if (auto report = service.reconcile(); !report.failures.empty()) {
    spdlog::warn("podnetd: starting although reconcile left {} problem(s) (logged above)",
                 report.failures.size());
  }

  // CNI and pod listings go to the CNI service; apply/delete/get of cluster objects to the
  // registry, which validates them against the store.
  auto server = PODNET_TRY(rpc::Server::listen(o.socketPath, [&](const nlohmann::json& request) {
    std::string op = request.is_object() ? request.value("op", "") : "";
    if (registry::servesOp(op)) return registry::answer(*store, request);
    if (op == "flows") return flows.answer(request);
    if (op == "drops") {
      auto counters = policy->dropCounters();
      if (!counters) return registry::errorAnswer(counters.error());
      return dropsAnswer(o.nodeName, *counters);
    }
    return service.handle(request);
  }));
  spdlog::info("podnetd on node {}: store {}, listening on {}", o.nodeName,
               o.store == StoreKind::kSqlite ? o.stateDir + "/podnet.db" : o.etcdEndpoints.front(),
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
