#include "controller/controller.h"

#include <signal.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "controller/identity_gc.h"
#include "controller/node_cleanup.h"
#include "store/etcd_store.h"

namespace podnet::controller {
namespace {

struct Options {
  std::vector<std::string> etcdEndpoints;
  int graceSeconds = 10;
  int sweepSeconds = 10;
  int compactSeconds = 300;
  int64_t keepRevisions = 10000;
  std::string logLevel = "info";
};

// Connects, retrying until etcd answers or a signal arrives: the controller may start first.
std::unique_ptr<store::EtcdStore> connect(const Options& o, const sigset_t& signals) {
  while (true) {
    auto etcd = store::EtcdStore::connect(o.etcdEndpoints, std::chrono::seconds(5));
    if (etcd) return std::move(*etcd);
    spdlog::warn("etcd: {}; retrying", etcd.error().message);
    timespec wait{1, 0};
    if (sigtimedwait(&signals, nullptr, &wait) > 0) return nullptr;
  }
}

int run(const Options& o, const sigset_t& signals) {
  auto etcd = connect(o, signals);
  if (!etcd) return 0;
  auto cleanup = NodeCleanup::start(
      *etcd, {std::chrono::seconds(o.graceSeconds), std::chrono::seconds(o.sweepSeconds)});
  if (!cleanup) {
    spdlog::error("podnet-controller: {}", cleanup.error().message);
    return 1;
  }
  spdlog::info("podnet-controller: watching nodes on {}", o.etcdEndpoints.front());
  IdentityCollector identities(*etcd);
  // etcd keeps every revision until compacted; keep the last keepRevisions, which is far more
  // than a restarted agent's watch needs to resume (and it lists again if not). Identities no pod
  // uses are collected on the same beat.
  while (true) {
    timespec wait{o.compactSeconds, 0};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig > 0) {
      spdlog::info("podnet-controller: signal {}, stopping", sig);
      return 0;
    }
    auto rev = etcd->revision();
    if (rev && *rev > o.keepRevisions) {
      if (auto st = etcd->compact(*rev - o.keepRevisions); !st) {
        spdlog::warn("compacting etcd: {}", st.error().message);
      }
    }
    if (auto released = identities.sweep(); !released) {
      spdlog::warn("collecting identities: {}", released.error().message);
    } else if (!released->empty()) {
      spdlog::info("released {} identities no pod uses", released->size());
    }
  }
}

}  // namespace

int runController(int argc, char** argv) {
  Options o;
  CLI::App app{"podnet-controller: cluster-wide reconciliation for podnet (etcd)."};
  app.add_option("--etcd-endpoints", o.etcdEndpoints, "etcd client endpoints, host:port")
      ->delimiter(',')
      ->required();
  app.add_option("--startup-grace", o.graceSeconds,
                 "Seconds after start before releasing addresses of unregistered nodes")
      ->capture_default_str();
  app.add_option("--sweep-interval", o.sweepSeconds, "Seconds between full sweeps")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  app.add_option("--compact-interval", o.compactSeconds, "Seconds between etcd compactions")
      ->check(CLI::Range(1, 86400))
      ->capture_default_str();
  app.add_option("--log-level", o.logLevel, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  spdlog::set_level(spdlog::level::from_str(o.logLevel));
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return run(o, signals);
}

}  // namespace podnet::controller
