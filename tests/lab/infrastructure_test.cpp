// The lab's own machinery, without podnet's agents: the underlay in namespaces only, etcd on the
// bridge, the node servers, probes, exec, and `down` from every state (complete, crashed half-way
// through `up`, nothing there at all).
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "lab/lab.h"
#include "lab_fixture.h"

namespace podnet::testing {
namespace {

using lab::Lab;
using lab::LabState;

class LabInfrastructureTest : public LabFixture {
 protected:
  // Builds what `lab up` builds, except for the agents and the controller.
  void buildWithoutAgents(int nodes) {
    for (const auto& dir : {layout_->libDir(), layout_->logDir()}) {
      std::filesystem::create_directories(dir);
    }
    Lab lab(*layout_, std::string(PODNET_BUILD_DIR) + "/bin");
    LabState state;
    state.backend = Backend::kVxlan;
    auto st = lab.createNetwork(state, nodes);
    ASSERT_TRUE(st) << st.error().message;
    st = lab.startEtcd(state);
    ASSERT_TRUE(st) << st.error().message;
    st = lab.startNodeServers(state);
    ASSERT_TRUE(st) << st.error().message;
  }
};

TEST_F(LabInfrastructureTest, NodesReachEachOtherAndEtcdOverTheUnderlayOnly) {
  buildWithoutAgents(3);
  if (HasFatalFailure()) return;

  EXPECT_EQ(probe("n1", "n2", 80), "connected");
  EXPECT_EQ(probe("n1", "n3", 81), "connected");
  EXPECT_EQ(probe("n3", "n1", 80, "udp"), "connected");
  EXPECT_EQ(probe("n2", "n1", 81, "udp"), "connected");
  EXPECT_EQ(probe("n2", "172.30.0.13", 80), "connected");   // an IP literal
  EXPECT_EQ(probe("n1", "n2", 82), "blocked");              // nobody listens: refused
  EXPECT_EQ(probe("n1", "n2", 82, "udp"), "blocked");       // no reply
  EXPECT_EQ(probe("n2", "172.30.0.1", 2379), "connected");  // etcd listens on the bridge
  EXPECT_EQ(probe("n1", "172.30.0.99", 80), "blocked");     // no such node
  if (!lab::sctpAvailable()) {
    auto sctp = lab("probe n1 n2 --port 80 --proto sctp");
    EXPECT_EQ(sctp.status, 2);
    EXPECT_NE(sctp.out.find("no SCTP"), std::string::npos) << sctp.out;
  } else {
    EXPECT_EQ(probe("n1", "n2", 80, "sctp"), "connected");
  }

  // Nothing of the lab in the root namespace: no bridge, no underlay address, no route. Each
  // listing must have run: an empty output of a failed command proves nothing.
  auto rootOutput = [](std::vector<std::string> argv) {
    std::string out;
    auto status = lab::runCommand(argv, &out);
    EXPECT_TRUE(status.ok() && *status == 0) << argv.back() << ": " << out;
    return out;
  };
  std::string links = rootOutput({"ip", "-o", "link", "show"});
  EXPECT_NE(links.find(": lo:"), std::string::npos) << links;
  EXPECT_EQ(links.find(": lab0:"), std::string::npos) << links;
  std::string addresses = rootOutput({"ip", "-4", "-o", "addr"});
  EXPECT_NE(addresses.find("127.0.0.1"), std::string::npos) << addresses;
  EXPECT_EQ(addresses.find("172.30.0."), std::string::npos) << addresses;
  std::string routes = rootOutput({"ip", "-4", "route", "show", "table", "all"});
  EXPECT_NE(routes.find("127.0.0.0/8"), std::string::npos) << routes;
  EXPECT_EQ(routes.find("172.30.0."), std::string::npos) << routes;
}

TEST_F(LabInfrastructureTest, ExecRunsInTheNodeNamespaceAndPassesTheExitCode) {
  buildWithoutAgents(2);
  if (HasFatalFailure()) return;

  auto addr = lab("exec n2 -- ip -4 -o addr show dev eth0");
  EXPECT_EQ(addr.status, 0) << addr.out;
  EXPECT_NE(addr.out.find("172.30.0.12/24"), std::string::npos) << addr.out;
  // /sys shows the node's devices, as under `ip netns exec`.
  auto sys = lab("exec n1 -- ls /sys/class/net");
  EXPECT_EQ(sys.status, 0) << sys.out;
  EXPECT_NE(sys.out.find("eth0"), std::string::npos) << sys.out;
  EXPECT_EQ(lab("exec n1 -- sh -c 'exit 7'").status, 7);
  auto unknown = lab("exec n9 -- true");
  EXPECT_NE(unknown.status, 0);
  EXPECT_NE(unknown.out.find("n9"), std::string::npos) << unknown.out;
  EXPECT_EQ(lab("exec n1 -- /nonexistent/command").status, 127);
}

TEST_F(LabInfrastructureTest, DownRemovesEverythingAndIsIdempotent) {
  buildWithoutAgents(2);
  if (HasFatalFailure()) return;
  EXPECT_NE(leftovers(), std::vector<std::string>{});

  auto down = lab("down");
  EXPECT_EQ(down.status, 0) << down.out;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
  auto again = lab("down");
  EXPECT_EQ(again.status, 0) << again.out;
  EXPECT_NE(again.out.find("nothing to remove"), std::string::npos) << again.out;
  EXPECT_EQ(lab("status").status, 1);
}

TEST_F(LabInfrastructureTest, DownFindsProcessesWithoutTheStateFile) {
  buildWithoutAgents(2);
  if (HasFatalFailure()) return;
  // A crash that lost the record: down still finds every process by its namespace or its tag.
  std::filesystem::remove(layout_->stateFile());
  auto down = lab("down");
  EXPECT_EQ(down.status, 0) << down.out;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

TEST_F(LabInfrastructureTest, DownCleansUpAfterUpIsKilledHalfWay) {
  // `up` is killed once it has recorded its first process (etcd), before it finishes.
  std::string cmd =
      "PODNET_LAB_NAME=" + name_ + " exec " + podnetctl() + " lab up --nodes 3 >/dev/null 2>&1";
  pid_t up = ::fork();
  if (up == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  bool started = false;
  for (int i = 0; i < 4000 && !started; ++i) {
    std::ifstream state(layout_->stateFile());
    std::string text((std::istreambuf_iterator<char>(state)), std::istreambuf_iterator<char>());
    started = text.find("\"etcd\"") != std::string::npos;
    if (!started) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(up, SIGKILL);
  ::waitpid(up, nullptr, 0);
  ASSERT_TRUE(started) << "lab up never started etcd";
  EXPECT_NE(leftovers(), std::vector<std::string>{});

  auto down = lab("down");
  EXPECT_EQ(down.status, 0) << down.out;
  EXPECT_EQ(leftovers(), std::vector<std::string>{});
}

TEST_F(LabInfrastructureTest, UpRefusesWhenTheLabExists) {
  buildWithoutAgents(1);
  if (HasFatalFailure()) return;
  auto up = lab("up --nodes 2");
  EXPECT_NE(up.status, 0);
  EXPECT_NE(up.out.find("lab down"), std::string::npos) << up.out;
  // ... and leaves the existing lab alone.
  EXPECT_EQ(probe("n1", "172.30.0.1", 2379), "connected");
}

}  // namespace
}  // namespace podnet::testing
