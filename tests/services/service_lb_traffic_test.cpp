// The socket-level service load balancer with real sockets: a client process in the throwaway
// cgroup reaches backends in other namespaces through a service address that no namespace routes.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <thread>

#include "service_fixture.h"

namespace podnet::services::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

Frontend tcp(uint16_t port, std::vector<Backend> backends) {
  Frontend f;
  f.address = kVip;
  f.port = port;
  f.protocol = Protocol::kTcp;
  f.backends = std::move(backends);
  return f;
}

Frontend udp(uint16_t port, std::vector<Backend> backends) {
  Frontend f = tcp(port, std::move(backends));
  f.protocol = Protocol::kUdp;
  return f;
}

const std::string kConnRefused = "err " + std::to_string(ECONNREFUSED);

class ServiceTrafficTest : public ServiceFixture {};

TEST_F(ServiceTrafficTest, TcpToTheServiceReachesTheBackendWhichSeesTheRealClient) {
  startServer(b1_, kB1, 8080, "b1");
  // Nothing routes the service address: without a frontend the call cannot go anywhere.
  EXPECT_EQ(ask("tcp " + at(kVip, 80)), "err " + std::to_string(ENETUNREACH));

  sync({tcp(80, {{kB1, 8080}})});
  std::string answer = ask("tcp " + at(kVip, 80));
  ASSERT_EQ(answer.rfind("ok b1 seen 10.210.1.1:", 0), 0u) << answer;
  // getpeername shows the service, not the backend.
  EXPECT_NE(answer.find(" peer=10.96.0.10:80"), std::string::npos) << answer;
  // Another port of the same address is no frontend.
  EXPECT_EQ(ask("tcp " + at(kVip, 81)), "err " + std::to_string(ENETUNREACH));
}

TEST_F(ServiceTrafficTest, TenThousandServicesAreTranslatedLikeOne) {
  startServer(b1_, kB1, 8080, "b1");
  startServer(b2_, kB2, 8080, "b2");
  std::vector<Frontend> many;
  for (uint32_t i = 0; i < 10000; ++i) {
    Frontend f = tcp(80, {{kB1, 8080}, {kB2, 8080}});
    f.address = Ipv4{kVip.value + i};
    many.push_back(std::move(f));
  }
  sync(many);
  for (uint32_t i : {0u, 4999u, 9999u}) {
    std::string answer = ask("tcp " + at(Ipv4{kVip.value + i}, 80));
    EXPECT_EQ(answer.rfind("ok b", 0), 0u) << answer;
    EXPECT_NE(answer.find(" peer=" + Ipv4{kVip.value + i}.str() + ":80"), std::string::npos)
        << answer;
  }
  // Back to one: the other 9,999 are gone, their addresses no frontend.
  sync({many[0]});
  EXPECT_EQ(ask("tcp " + at(Ipv4{kVip.value + 9999}, 80)), "err " + std::to_string(ENETUNREACH));
  EXPECT_EQ(ask("tcp " + at(kVip, 80)).rfind("ok b", 0), 0u);
}

TEST_F(ServiceTrafficTest, TwoBackendsBothGetTraffic) {
  startServer(b1_, kB1, 8080, "b1");
  startServer(b2_, kB2, 8080, "b2");
  sync({tcp(80, {{kB1, 8080}, {kB2, 8080}})});
  std::map<std::string, int> served;
  for (int i = 0; i < 40; ++i) ++served[serverOf(ask("tcp " + at(kVip, 80)))];
  EXPECT_EQ(served.size(), 2u);
  EXPECT_GE(served["b1"], 1);
  EXPECT_GE(served["b2"], 1);
}

TEST_F(ServiceTrafficTest, EachPortOfAServiceGoesToItsOwnTargetPort) {
  startServer(b1_, kB1, 8080, "web");
  startServer(b1_, kB1, 9090, "metrics");
  sync({tcp(80, {{kB1, 8080}}), tcp(81, {{kB1, 9090}})});
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(serverOf(ask("tcp " + at(kVip, 80))), "web");
    EXPECT_EQ(serverOf(ask("tcp " + at(kVip, 81))), "metrics");
  }
}

TEST_F(ServiceTrafficTest, UdpAnswersComeFromTheServiceAddress) {
  startServer(b1_, kB1, 5353, "dns");
  sync({udp(53, {{kB1, 5353}})});
  // An unconnected socket: sendto the service, recvfrom names the service as the source.
  std::string unconnected = ask("udp " + at(kVip, 53));
  ASSERT_EQ(unconnected.rfind("ok dns seen 10.210.1.1:", 0), 0u) << unconnected;
  EXPECT_NE(unconnected.find(" from=10.96.0.10:53"), std::string::npos) << unconnected;
  // A connected socket: getpeername and the answer's source are the service too.
  std::string connected = ask("udpc " + at(kVip, 53));
  ASSERT_EQ(connected.rfind("ok dns seen 10.210.1.1:", 0), 0u) << connected;
  EXPECT_NE(connected.find(" peer=10.96.0.10:53"), std::string::npos) << connected;
  // TCP on the same port is another frontend, and there is none.
  EXPECT_EQ(ask("tcp " + at(kVip, 53)), "err " + std::to_string(ENETUNREACH));
}

TEST_F(ServiceTrafficTest, AUdpSocketStaysOnItsBackendAndMovesWhenItGoesAway) {
  startServer(b1_, kB1, 5353, "b1");
  startServer(b2_, kB2, 5353, "b2");
  // Refused while the service is empty; the same socket gets through once backends arrive.
  sync({udp(53, {})});
  EXPECT_EQ(ask("usock " + at(kVip, 53)), kConnRefused);
  sync({udp(53, {{kB1, 5353}, {kB2, 5353}})});
  std::string first = serverOf(ask("usock " + at(kVip, 53)));
  ASSERT_TRUE(first == "b1" || first == "b2") << first;
  // One socket's datagrams stay on one backend, also while others join the service...
  Backend mine = first == "b1" ? Backend{kB1, 5353} : Backend{kB2, 5353};
  Backend other = first == "b1" ? Backend{kB2, 5353} : Backend{kB1, 5353};
  for (int i = 0; i < 10; ++i) {
    std::vector<Backend> list = {other, mine};
    for (uint16_t extra = 0; extra < i; ++extra) list.push_back({kB2, uint16_t(6000 + extra)});
    sync({udp(53, list)});
    EXPECT_EQ(serverOf(ask("usock " + at(kVip, 53))), first) << i;
  }
  // ...until it leaves the service: the next datagram goes to the other, answered as the service.
  sync({udp(53, {other})});
  std::string moved = ask("usock " + at(kVip, 53));
  EXPECT_NE(serverOf(moved), first) << moved;
  EXPECT_NE(moved.find(" from=10.96.0.10:53"), std::string::npos) << moved;
}

TEST_F(ServiceTrafficTest, AnIpv6SocketReachesTheServiceThroughItsV4MappedAddress) {
  startServer(b1_, kB1, 8080, "b1");
  startServer(b1_, kB1, 5353, "dns");
  sync({tcp(80, {{kB1, 8080}}), udp(53, {{kB1, 5353}}), tcp(81, {})});
  std::string stream = ask("tcp6 " + at(kVip, 80));
  ASSERT_EQ(stream.rfind("ok b1 seen 10.210.1.1:", 0), 0u) << stream;
  EXPECT_NE(stream.find(" peer=[::ffff:10.96.0.10]:80"), std::string::npos) << stream;
  std::string datagram = ask("udp6 " + at(kVip, 53));
  ASSERT_EQ(datagram.rfind("ok dns seen 10.210.1.1:", 0), 0u) << datagram;
  EXPECT_NE(datagram.find(" from=[::ffff:10.96.0.10]:53"), std::string::npos) << datagram;
  EXPECT_EQ(ask("tcp6 " + at(kVip, 81)), kConnRefused);
}

TEST_F(ServiceTrafficTest, ClientIpAffinitySticksToOneBackendAndExpires) {
  startServer(b1_, kB1, 8080, "b1");
  startServer(b2_, kB2, 8080, "b2");
  Frontend sticky = tcp(80, {{kB1, 8080}, {kB2, 8080}});
  sticky.affinityTimeoutSeconds = 1;
  sync({sticky});
  std::string first = serverOf(ask("tcp " + at(kVip, 80)));
  ASSERT_TRUE(first == "b1" || first == "b2") << first;
  for (int i = 0; i < 30; ++i) ASSERT_EQ(serverOf(ask("tcp " + at(kVip, 80))), first) << i;

  // Once the timeout passes without a connection, the client chooses again: the other backend
  // comes up within a few rounds (each round picks it with probability 1/2).
  bool moved = false;
  for (int round = 0; round < 16 && !moved; ++round) {
    std::this_thread::sleep_for(milliseconds(1200));
    moved = serverOf(ask("tcp " + at(kVip, 80))) != first;
  }
  EXPECT_TRUE(moved) << "every choice after expiry was " << first;
}

TEST_F(ServiceTrafficTest, AffinityToARemovedBackendChoosesAgain) {
  startServer(b1_, kB1, 8080, "b1");
  startServer(b2_, kB2, 8080, "b2");
  Frontend sticky = tcp(80, {{kB1, 8080}, {kB2, 8080}});
  sticky.affinityTimeoutSeconds = 3600;
  sync({sticky});
  std::string first = serverOf(ask("tcp " + at(kVip, 80)));
  Backend other = first == "b1" ? Backend{kB2, 8080} : Backend{kB1, 8080};
  sticky.backends = {other};
  sync({sticky});
  EXPECT_NE(serverOf(ask("tcp " + at(kVip, 80))), first);
}

TEST_F(ServiceTrafficTest, APodReachesItselfThroughItsService) {
  startServer(client_, kClient1, 8080, "self");
  sync({tcp(80, {{kClient1, 8080}}), udp(80, {{kClient1, 8080}})});
  std::string answer = ask("tcp " + at(kVip, 80));
  EXPECT_EQ(answer.rfind("ok self seen 10.210.1.1:", 0), 0u) << answer;
  std::string datagram = ask("udp " + at(kVip, 80));
  EXPECT_EQ(datagram.rfind("ok self seen 10.210.1.1:", 0), 0u) << datagram;
  EXPECT_NE(datagram.find(" from=10.96.0.10:80"), std::string::npos) << datagram;
}

TEST_F(ServiceTrafficTest, AServiceWithoutBackendsRefusesAtOnce) {
  sync({tcp(80, {}), udp(53, {})});
  for (const char* command : {"tcp", "udp", "udpc"}) {
    uint16_t port = std::string(command) == "tcp" ? 80 : 53;
    auto start = steady_clock::now();
    EXPECT_EQ(ask(std::string(command) + " " + at(kVip, port)), kConnRefused) << command;
    EXPECT_LT(steady_clock::now() - start, milliseconds(1000)) << command
                                                               << " was not refused "
                                                                  "at once";
  }
  // Backends arrive: the next call gets through, nothing remembers the refusal.
  startServer(b1_, kB1, 8080, "b1");
  sync({tcp(80, {{kB1, 8080}}), udp(53, {{kB1, 8080}})});
  EXPECT_EQ(serverOf(ask("tcp " + at(kVip, 80))), "b1");
  EXPECT_EQ(serverOf(ask("udp " + at(kVip, 53))), "b1");
}

TEST_F(ServiceTrafficTest, DropWhenEmptyDropsInsteadOfRefusing) {
  Frontend local = tcp(80, {});
  local.dropWhenEmpty = true;
  Frontend localUdp = udp(53, {});
  localUdp.dropWhenEmpty = true;
  sync({local, localUdp});
  EXPECT_EQ(ask("tcp " + at(kVip, 80)), "err " + std::to_string(EPERM));
  EXPECT_EQ(ask("udp " + at(kVip, 53)), "err " + std::to_string(EPERM));
}

TEST_F(ServiceTrafficTest, ReplacingTheBackendListNeverFailsAConnect) {
  std::vector<Backend> all;
  for (uint16_t port = 8080; port < 8084; ++port) {
    startServer(b1_, kB1, port, "b1-" + std::to_string(port));
    startServer(b2_, kB2, port, "b2-" + std::to_string(port));
    all.push_back({kB1, port});
    all.push_back({kB2, port});
  }
  sync({tcp(80, {all[0]})});
  send("loop " + at(kVip, 80) + " 600");
  // While the client connects in a loop, the list grows, shrinks and is replaced entirely.
  int syncs = 0;
  std::optional<std::string> done;
  while (!done) {
    size_t start = static_cast<size_t>(syncs) % all.size();
    size_t count = 1 + static_cast<size_t>(syncs * 3) % all.size();
    std::vector<Backend> list;
    for (size_t i = 0; i < count; ++i) list.push_back(all[(start + i) % all.size()]);
    sync({tcp(80, list)});
    ++syncs;
    done = readLine(channel_.get(), 0);
  }
  EXPECT_EQ(*done, "ok 0 0") << "connections failed while the backends changed " << syncs
                             << " times";
  EXPECT_GT(syncs, 50);
}

TEST_F(ServiceTrafficTest, AnEstablishedConnectionStaysWithItsBackendWhenItIsRemoved) {
  startServer(b1_, kB1, 8080, "b1");
  startServer(b2_, kB2, 8080, "b2");
  sync({tcp(80, {{kB1, 8080}})});
  std::string opened = ask("open " + at(kVip, 80));
  ASSERT_EQ(serverOf(opened), "b1") << opened;

  sync({tcp(80, {{kB2, 8080}})});
  EXPECT_EQ(ask("talk"), "ok b1 again");
  EXPECT_EQ(serverOf(ask("tcp " + at(kVip, 80))), "b2");
  EXPECT_EQ(ask("talk"), "ok b1 again");
}

TEST_F(ServiceTrafficTest, AttachingAgainReplacesTheProgramsAndDetachStopsTranslation) {
  startServer(b1_, kB1, 8080, "b1");
  sync({tcp(80, {{kB1, 8080}})});
  // An agent restart: a new load reuses the pinned maps and takes over the pinned links.
  program_.reset();
  auto reloaded = ServiceProgram::load(pinDir_);
  ASSERT_TRUE(reloaded.ok()) << reloaded.error().message;
  program_.emplace(std::move(reloaded).value());
  auto attached = program_->attach(cgroup_);
  ASSERT_TRUE(attached.ok()) << attached.error().message;
  EXPECT_EQ(serverOf(ask("tcp " + at(kVip, 80))), "b1");
  EXPECT_EQ(output("bpftool cgroup show " + cgroup_ + " | grep -c connect4"), "1\n");

  ASSERT_TRUE(ServiceProgram::detach(pinDir_).ok());
  EXPECT_EQ(ask("tcp " + at(kVip, 80)), "err " + std::to_string(ENETUNREACH));
  EXPECT_TRUE(ServiceProgram::detach(pinDir_).ok());

  auto missing = program_->attach(cgroup_ + "-missing");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_NE(missing.error().message.find(cgroup_ + "-missing"), std::string::npos);
}

TEST_F(ServiceTrafficTest, AttachingToAnotherCgroupMovesTheHooks) {
  startServer(b1_, kB1, 8080, "b1");
  sync({tcp(80, {{kB1, 8080}})});
  ASSERT_EQ(serverOf(ask("tcp " + at(kVip, 80))), "b1");
  std::string other = cgroup_ + "-other";
  ASSERT_EQ(::mkdir(other.c_str(), 0755), 0) << other;
  struct RemoveWhenDone {
    std::string dir;
    ~RemoveWhenDone() { EXPECT_EQ(::rmdir(dir.c_str()), 0) << dir; }
  } removeOther{other};
  auto moved = program_->attach(other);
  EXPECT_TRUE(moved.ok()) << moved.error().message;
  // The client's cgroup is no longer translated; the other one is.
  EXPECT_EQ(ask("tcp " + at(kVip, 80)), "err " + std::to_string(ENETUNREACH));
  EXPECT_EQ(output("bpftool cgroup show " + other + " | grep -c connect4"), "1\n");
  EXPECT_EQ(output("bpftool cgroup show " + cgroup_ + " | grep -c connect4"), "0\n");
}

}  // namespace
}  // namespace podnet::services::testing
