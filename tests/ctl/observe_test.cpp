#include "ctl/observe.h"

#include <netinet/in.h>

#include <gtest/gtest.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "agent/flow_log.h"
#include "rpc/unix_socket.h"
#include "support/temp_dir.h"

namespace podnet::ctl {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int64_t kT0 = 1714564800;  // 2024-05-01T12:00:00Z

void useUtc() {
  ::setenv("TZ", "UTC", 1);
  ::tzset();
}

bpf::FlowEvent flow(const std::string& node, int64_t t, int64_t ms = 0) {
  bpf::FlowEvent ev;
  ev.time = std::chrono::system_clock::time_point(std::chrono::seconds(t) + milliseconds(ms));
  ev.node = node;
  ev.src = *Ipv4::parse("10.244.1.5");
  ev.dst = *Ipv4::parse("10.244.0.7");
  ev.srcPod = bpf::PodRef{"x", "a"};
  ev.dstPod = bpf::PodRef{"y", "b"};
  ev.srcPort = 40000;
  ev.dstPort = 80;
  ev.protocol = IPPROTO_TCP;
  ev.tcpFlags = 0x02;
  ev.match = PN_MATCH_POLICY_ALLOW;
  return ev;
}

bpf::FlowEvent dropped(const std::string& node, int64_t t) {
  auto ev = flow(node, t);
  ev.verdict = PN_VERDICT_DROPPED;
  ev.dropReason = PN_DROP_POLICY_DEFAULT;
  ev.match = PN_MATCH_DEFAULT_DENY;
  return ev;
}

// A podnetd stand-in: the real flow log and drops answer behind a real RPC server.
class FakeAgent {
 public:
  FakeAgent(std::string node, const std::string& socket) : node_(std::move(node)) {
    auto server = rpc::Server::listen(socket, [this](const json& request) -> json {
      std::string op = request.value("op", "");
      if (op == "flows") return log.answer(request);
      if (op == "drops") return agent::dropsAnswer(node_, drops);
      return {{"ok", false}, {"error", {{"code", 6}, {"msg", "unknown op " + op}}}};
    });
    EXPECT_TRUE(server.ok()) << server.error().message;
    server_ = std::make_unique<rpc::Server>(std::move(*server));
    thread_ = std::thread([this] { server_->serve(); });
  }
  ~FakeAgent() {
    server_->stop();
    thread_.join();
  }

  agent::FlowLog log{1000};
  bpf::DropCounters drops{};

 private:
  std::string node_;
  std::unique_ptr<rpc::Server> server_;
  std::thread thread_;
};

class ObserveTest : public ::testing::Test {
 protected:
  void SetUp() override { useUtc(); }

  std::string socket(const std::string& name) const { return dir_.path() + "/" + name + ".sock"; }

  // runObserve without following; returns the exit code.
  int observe(const ObserveOptions& options, const std::vector<AgentTarget>& agents) {
    out_.str("");
    err_.str("");
    return runObserve(options, agents, out_, err_, {});
  }
  std::vector<json> jsonLines() const {
    std::vector<json> out;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    return out;
  }
  static std::vector<std::string> timesAndNodes(const std::vector<json>& flows) {
    std::vector<std::string> out;
    for (const auto& f : flows) {
      out.push_back(f["node"].get<std::string>() + "@" +
                    f["time"].get<std::string>().substr(17, 2));
    }
    return out;
  }

  testing::TempDir dir_;
  std::ostringstream out_, err_;
};

TEST(ParseDurationTest, AcceptsNumbersWithUnits) {
  EXPECT_EQ(*parseDuration("500ms"), milliseconds(500));
  EXPECT_EQ(*parseDuration("30s"), std::chrono::seconds(30));
  EXPECT_EQ(*parseDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(*parseDuration("1h"), std::chrono::hours(1));
  EXPECT_EQ(*parseDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(*parseDuration("250us"), std::chrono::microseconds(250));
  EXPECT_EQ(*parseDuration("0s"), std::chrono::seconds(0));
}

TEST(ParseDurationTest, RefusesAnythingElseQuotingIt) {
  for (const char* bad :
       {"", "30", "5x", "-5s", "s", "1.5h", "5 m", "m5", "99999999999999999999h", "3000000h"}) {
    auto d = parseDuration(bad);
    ASSERT_FALSE(d.ok()) << bad;
    EXPECT_EQ(d.error().message, "\"" + std::string(bad) +
                                     "\": not a duration (want a number and a unit: 500ms, 30s, "
                                     "5m, 1h)");
  }
}

// One rule for every command: the sockets given, then the local agent, then the running lab.
TEST(AgentTargetsTest, GivenSocketsWinThenTheLocalAgentThenTheLab) {
  auto layout = *lab::Layout::make("obs-lab");
  lab::LabState state;
  state.nodes = 2;
  for (bool local : {false, true}) {
    EXPECT_EQ(agentTargets({"/a.sock", "/b.sock", "/a.sock"}, local, state, layout, "/d.sock"),
              (std::vector<AgentTarget>{{"", "/a.sock"}, {"", "/b.sock"}}));
  }
  EXPECT_EQ(agentTargets({}, true, state, layout, "/d.sock"),
            (std::vector<AgentTarget>{{"", "/d.sock"}}));
  EXPECT_EQ(agentTargets({}, false, state, layout, "/d.sock"),
            (std::vector<AgentTarget>{{"n1", "/run/obs-lab/n1/podnetd.sock"},
                                      {"n2", "/run/obs-lab/n2/podnetd.sock"}}));
  EXPECT_EQ(agentTargets({}, false, std::nullopt, layout, "/d.sock"),
            (std::vector<AgentTarget>{{"", "/d.sock"}}));
  EXPECT_EQ((AgentTarget{"n1", "/s"}).label(), "n1 (/s)");
  EXPECT_EQ((AgentTarget{"", "/s"}).label(), "/s");
}

TEST(AgentTargetsTest, NoLabStateFileMeansTheDefaultSocket) {
  ::setenv("PODNET_LAB_NAME", "podnet-observe-test-none", 1);
  std::ostringstream err;
  auto agents = findAgents({}, err);
  ::unsetenv("PODNET_LAB_NAME");
  ASSERT_EQ(agents.size(), 1u);
  EXPECT_EQ(agents[0].node, "");
  EXPECT_EQ(err.str(), "");
}

TEST(FlowTableTest, RowsLineUpUnderTheHeader) {
  useUtc();
  flows::FlowRecord allowed{1, flow("n1", kT0, 123), "NetworkPolicy y/allow-web ingress[0]"};
  flows::FlowRecord drop{2, dropped("n2", kT0 + 1), "isolated by NetworkPolicy y/deny-all"};
  drop.event.srcPod.reset();
  drop.event.tcpFlags = 0x12;
  flows::FlowRecord reply{3, flow("n1", kT0 + 2), ""};
  reply.event.match = PN_MATCH_CT_REPLY;
  flows::FlowRecord ping{4, flow("n1", kT0 + 3), ""};
  ping.event.protocol = IPPROTO_ICMP;
  ping.event.icmpType = 8;
  ping.event.match = PN_MATCH_NONE;
  EXPECT_EQ(flowTableHeader() + formatFlowRow(allowed) + formatFlowRow(drop) +
                formatFlowRow(reply) + formatFlowRow(ping),
            "TIME                 NODE  SOURCE                      DESTINATION               "
            "PROTO  FLAGS    VERDICT\n"
            "May  1 12:00:00.123  n1    x/a:40000                -> y/b:80                    "
            "TCP    SYN      FORWARDED  (policy-allow: NetworkPolicy y/allow-web ingress[0])\n"
            "May  1 12:00:01.000  n2    10.244.1.5:40000         -> y/b:80                    "
            "TCP    SYN|ACK  DROPPED    (policy-default-deny: isolated by NetworkPolicy "
            "y/deny-all)\n"
            "May  1 12:00:02.000  n1    x/a:40000                -> y/b:80                    "
            "TCP    SYN      FORWARDED  (reply)\n"
            "May  1 12:00:03.000  n1    x/a                      -> y/b                       "
            "ICMP   echo-request  FORWARDED\n");
}

TEST(FlowFilterTest, SendsOnlyWhatWasAskedWithProtocolInCapitals) {
  ObserveOptions o;
  EXPECT_EQ(flowFilter(o), json::object());
  o.ns = "x";
  o.pod = "x/a";
  o.verdict = "dropped";
  o.port = 80;
  o.protocol = "tcp";
  EXPECT_EQ(flowFilter(o), json::parse(R"({"namespace":"x","pod":"x/a","verdict":"dropped",
                                           "port":80,"protocol":"TCP"})"));
}

TEST_F(ObserveTest, MergesTwoAgentsByTime) {
  FakeAgent n1("n1", socket("n1")), n2("n2", socket("n2"));
  n1.log.record(flow("n1", kT0 + 0), "");
  n1.log.record(flow("n1", kT0 + 2), "");
  n2.log.record(flow("n2", kT0 + 1), "");
  n2.log.record(flow("n2", kT0 + 3), "");
  ObserveOptions o;
  o.json = true;
  std::vector<AgentTarget> agents = {{"n1", socket("n1")}, {"n2", socket("n2")}};
  ASSERT_EQ(observe(o, agents), 0) << err_.str();
  EXPECT_EQ(err_.str(), "");
  auto lines = jsonLines();
  EXPECT_EQ(timesAndNodes(lines), (std::vector<std::string>{"n1@00", "n2@01", "n1@02", "n2@03"}));
  EXPECT_EQ(lines[0]["seq"], 1);
  EXPECT_EQ(lines[0]["source"]["pod"], "a");  // the agent's flow JSON, as sent

  o.json = false;
  ASSERT_EQ(observe(o, agents), 0);
  EXPECT_EQ(out_.str().substr(0, 4), "TIME");
  EXPECT_NE(out_.str().find("May  1 12:00:03.000  n2"), std::string::npos) << out_.str();
}

TEST_F(ObserveTest, LastIsTheNewestOverEveryAgentAndDefaultsToTwenty) {
  FakeAgent n1("n1", socket("n1")), n2("n2", socket("n2"));
  for (int i = 0; i < 30; ++i)
    (i % 2 == 0 ? n1 : n2).log.record(flow(i % 2 ? "n2" : "n1", kT0 + i), "");
  std::vector<AgentTarget> agents = {{"n1", socket("n1")}, {"n2", socket("n2")}};
  ObserveOptions o;
  o.json = true;
  o.last = 3;
  ASSERT_EQ(observe(o, agents), 0);
  EXPECT_EQ(timesAndNodes(jsonLines()), (std::vector<std::string>{"n2@27", "n1@28", "n2@29"}));
  o.last.reset();
  ASSERT_EQ(observe(o, agents), 0);
  auto lines = jsonLines();
  ASSERT_EQ(lines.size(), kDefaultLast);
  EXPECT_EQ(lines.front()["time"], "2024-05-01T12:00:10.000000000Z");
}

TEST_F(ObserveTest, SinceAndFiltersReachTheAgent) {
  FakeAgent n1("n1", socket("n1"));
  auto now = std::chrono::system_clock::now();
  auto old = flow("n1", 0);
  old.time = now - std::chrono::hours(2);
  n1.log.record(old, "");
  auto recent = dropped("n1", 0);
  recent.time = now - std::chrono::minutes(1);
  n1.log.record(recent, "");
  auto recentAllowed = flow("n1", 0);
  recentAllowed.time = now - std::chrono::seconds(30);
  n1.log.record(recentAllowed, "");
  ObserveOptions o;
  o.json = true;
  o.since = std::chrono::hours(1);
  ASSERT_EQ(observe(o, {{"n1", socket("n1")}}), 0);
  EXPECT_EQ(jsonLines().size(), 2u);
  o.verdict = "dropped";
  ASSERT_EQ(observe(o, {{"n1", socket("n1")}}), 0);
  auto lines = jsonLines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0]["dropReason"], "policy-default-deny");
}

TEST_F(ObserveTest, AnUnreachableAgentIsAWarningNotAFailure) {
  FakeAgent n1("n1", socket("n1"));
  n1.log.record(flow("n1", kT0), "");
  ObserveOptions o;
  o.json = true;
  ASSERT_EQ(observe(o, {{"n1", socket("n1")}, {"n2", socket("n2")}}), 0);
  EXPECT_EQ(jsonLines().size(), 1u);
  EXPECT_EQ(
      err_.str().rfind("podnetctl: warning: n2 (" + socket("n2") + "): cannot reach podnetd: ", 0),
      0u)
      << err_.str();
}

TEST_F(ObserveTest, NoAgentAnsweringFails) {
  ObserveOptions o;
  EXPECT_EQ(observe(o, {{"", socket("gone")}}), 1);
  EXPECT_NE(err_.str().find("podnetctl: warning: " + socket("gone") + ": cannot reach podnetd"),
            std::string::npos);
  EXPECT_NE(err_.str().find("podnetctl: podnetd did not answer"), std::string::npos) << err_.str();
  EXPECT_EQ(out_.str(), "");
}

TEST_F(ObserveTest, FollowPrintsOnlyNewFlowsFromEveryAgentUntilStopped) {
  FakeAgent n1("n1", socket("n1")), n2("n2", socket("n2"));
  n1.log.record(flow("n1", kT0), "");  // before observe started: not shown
  ObserveOptions o;
  o.json = true;
  o.follow = true;
  o.pollInterval = milliseconds(50);
  auto start = std::chrono::steady_clock::now();
  bool recorded = false;
  auto stop = [&] {
    auto elapsed = std::chrono::steady_clock::now() - start;
    if (!recorded && elapsed > milliseconds(150)) {
      n2.log.record(flow("n2", kT0 + 11), "");
      n1.log.record(flow("n1", kT0 + 10), "");
      recorded = true;
    }
    return elapsed > milliseconds(800);
  };
  ASSERT_EQ(runObserve(o, {{"n1", socket("n1")}, {"n2", socket("n2")}}, out_, err_, stop), 0);
  EXPECT_EQ(err_.str(), "");
  auto lines = jsonLines();
  EXPECT_EQ(timesAndNodes(lines), (std::vector<std::string>{"n1@10", "n2@11"}));
  EXPECT_EQ(lines[0]["seq"], 2);
}

TEST_F(ObserveTest, GetDropsListsEveryNodeAndReason) {
  FakeAgent n1("n1", socket("n1")), n2("n2", socket("n2"));
  n1.drops[PN_DROP_POLICY_DENY] = {4, 296};
  n2.drops[PN_DROP_POLICY_DEFAULT] = {2, 120};
  std::vector<AgentTarget> agents = {{"n1", socket("n1")}, {"n2", socket("n2")}};
  ASSERT_EQ(runGetDrops(agents, false, out_, err_), 0) << err_.str();
  const std::string table = out_.str();
  EXPECT_EQ(table.substr(0, table.find('\n')), "NODE   REASON                PACKETS   BYTES");
  EXPECT_NE(table.find("\nn1     policy-deny           4         296\n"), std::string::npos)
      << table;
  EXPECT_NE(table.find("\nn2     policy-default-deny   2         120\n"), std::string::npos);
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 13);  // header + 2 nodes x 6 reasons

  out_.str("");
  ASSERT_EQ(runGetDrops(agents, true, out_, err_), 0);
  auto list = json::parse(out_.str());
  ASSERT_EQ(list.size(), 12u);
  EXPECT_EQ(list[0],
            json::parse(R"({"node":"n1","reason":"policy-deny","packets":4,"bytes":296})"));

  out_.str("");
  ASSERT_EQ(runGetDrops({{"n1", socket("n1")}, {"n3", socket("n3")}}, false, out_, err_), 0);
  EXPECT_NE(err_.str().find("podnetctl: warning: n3 ("), std::string::npos);
  EXPECT_EQ(runGetDrops({{"n3", socket("n3")}}, false, out_, err_), 1);
}

// The command line: observe's own --socket repeats, and the global one still works.
class ObserveCommandsTest : public ObserveTest {
 protected:
  int run(std::vector<std::string> args) {
    CLI::App app;
    std::string socket = "/nonexistent/podnetd.sock";
    app.add_option("--socket", socket);
    auto* get = app.add_subcommand("get");
    auto commands = ObserveCommands::add(app, *get);
    args.insert(args.begin(), "podnetctl");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    app.parse(static_cast<int>(argv.size()), argv.data());
    std::ostringstream captured, capturedErr;
    auto* oldOut = std::cout.rdbuf(captured.rdbuf());
    auto* oldErr = std::cerr.rdbuf(capturedErr.rdbuf());
    auto code = commands->run();
    std::cout.rdbuf(oldOut);
    std::cerr.rdbuf(oldErr);
    out_.str(captured.str());
    err_.str(capturedErr.str());
    return code.value_or(-1);
  }
};

TEST_F(ObserveCommandsTest, GlobalSocketAndRepeatedSockets) {
  FakeAgent n1("n1", socket("n1")), n2("n2", socket("n2"));
  n1.log.record(flow("n1", kT0), "");
  n2.log.record(flow("n2", kT0 + 1), "");
  ASSERT_EQ(run({"--socket", socket("n1"), "observe", "-o", "json"}), 0) << err_.str();
  EXPECT_EQ(timesAndNodes(jsonLines()), (std::vector<std::string>{"n1@00"}));
  ASSERT_EQ(run({"observe", "--socket", socket("n1"), "--socket", socket("n2"), "-o", "json"}), 0)
      << err_.str();
  EXPECT_EQ(timesAndNodes(jsonLines()), (std::vector<std::string>{"n1@00", "n2@01"}));
  ASSERT_EQ(run({"get", "drops", "--socket", socket("n2")}), 0) << err_.str();
  EXPECT_EQ(out_.str().substr(0, 4), "NODE");
}

TEST_F(ObserveCommandsTest, BadSinceOrPodIsAUsageError) {
  EXPECT_EQ(run({"observe", "--since", "5x"}), 2);
  EXPECT_EQ(err_.str(),
            "podnetctl: observe: --since \"5x\": not a duration (want a number and a unit: 500ms, "
            "30s, 5m, 1h)\n");
  EXPECT_EQ(run({"observe", "--pod", "nope"}), 2);
  EXPECT_EQ(err_.str(), "podnetctl: observe: --pod \"nope\": want NAMESPACE/NAME\n");
}

}  // namespace
}  // namespace podnet::ctl
