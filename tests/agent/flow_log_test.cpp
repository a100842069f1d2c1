#include "agent/flow_log.h"

#include <netinet/in.h>

#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "bpf/policy_maps.h"
#include "flows/flow_json.h"

namespace podnet::agent {
namespace {

using nlohmann::json;
using std::chrono::seconds;
using std::chrono::system_clock;

system_clock::time_point at(int64_t unixSeconds) {
  return system_clock::time_point(seconds(unixSeconds));
}

// A TCP flow x/a:40000 -> y/b:80 at unix time t.
bpf::FlowEvent tcpFlow(int64_t t, uint16_t dport = 80) {
  bpf::FlowEvent ev;
  ev.time = at(t);
  ev.node = "n1";
  ev.ifindex = 7;
  ev.endpointId = 3;
  ev.srcIdentity = 300;
  ev.dstIdentity = 256;
  ev.src = *Ipv4::parse("10.244.1.5");
  ev.dst = *Ipv4::parse("10.244.0.7");
  ev.srcPod = bpf::PodRef{"x", "a"};
  ev.dstPod = bpf::PodRef{"y", "b"};
  ev.srcPort = 40000;
  ev.dstPort = dport;
  ev.protocol = IPPROTO_TCP;
  ev.tcpFlags = 0x02;
  ev.direction = PN_DIR_INGRESS;
  ev.match = PN_MATCH_POLICY_ALLOW;
  ev.policyId = 9;
  ev.policyRevision = 4;
  ev.length = 74;
  return ev;
}

std::vector<uint64_t> seqs(const json& answer) {
  std::vector<uint64_t> out;
  for (const auto& f : answer.at("flows")) out.push_back(f.at("seq").get<uint64_t>());
  return out;
}

json ask(const FlowLog& log, json request) {
  request["op"] = "flows";
  return log.answer(request);
}

TEST(FlowLogTest, NumbersRecordsFromOneAndDropsTheOldestWhenFull) {
  FlowLog log(3);
  for (int i = 0; i < 5; ++i) log.record(tcpFlow(1000 + i), "");
  auto answer = ask(log, json::object());
  ASSERT_TRUE(answer["ok"]) << answer.dump();
  EXPECT_EQ(seqs(answer), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(answer["flows"][0]["time"], "1970-01-01T00:16:42.000000000Z");  // 1002
  EXPECT_EQ(answer["next"], 5);
  EXPECT_EQ(answer["missed"], 2);  // 1 and 2 were overwritten before anyone read them
}

TEST(FlowLogTest, EmptyLogAnswersNothingAndNextZero) {
  FlowLog log;
  auto answer = ask(log, json::object());
  EXPECT_EQ(answer, json::parse(R"({"ok":true,"flows":[],"next":0,"missed":0})"));
}

TEST(FlowLogTest, AfterPagesOnWithNextAndLimit) {
  FlowLog log(100);
  for (int i = 0; i < 10; ++i) log.record(tcpFlow(1000 + i), "");
  auto first = ask(log, {{"limit", 4}});
  EXPECT_EQ(seqs(first), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(first["next"], 4);
  auto second = ask(log, {{"after", first["next"]}, {"limit", 4}});
  EXPECT_EQ(seqs(second), (std::vector<uint64_t>{5, 6, 7, 8}));
  auto third = ask(log, {{"after", second["next"]}, {"limit", 4}});
  EXPECT_EQ(seqs(third), (std::vector<uint64_t>{9, 10}));
  EXPECT_EQ(third["next"], 10);
  // A follower that is up to date gets nothing and keeps its place; a new record comes next.
  auto idle = ask(log, {{"after", 10}});
  EXPECT_TRUE(idle["flows"].empty());
  EXPECT_EQ(idle["next"], 10);
  log.record(tcpFlow(2000), "");
  EXPECT_EQ(seqs(ask(log, {{"after", 10}})), (std::vector<uint64_t>{11}));
}

TEST(FlowLogTest, NextSkipsRecordsTheFilterRejected) {
  FlowLog log(100);
  log.record(tcpFlow(1000, 80), "");
  log.record(tcpFlow(1001, 443), "");
  auto answer = ask(log, {{"filter", {{"port", 80}}}});
  EXPECT_EQ(seqs(answer), (std::vector<uint64_t>{1}));
  EXPECT_EQ(answer["next"], 2);  // 2 was scanned: a follower does not see it again
}

TEST(FlowLogTest, AfterBeyondTheNewestReadsFromTheStart) {
  FlowLog log(100);  // a restarted agent numbers from 1 again
  log.record(tcpFlow(1000), "");
  log.record(tcpFlow(1001), "");
  EXPECT_EQ(seqs(ask(log, {{"after", 500}})), (std::vector<uint64_t>{1, 2}));
}

TEST(FlowLogTest, LastGivesTheNewestMatchingRecords) {
  FlowLog log(100);
  for (int i = 0; i < 10; ++i) log.record(tcpFlow(1000 + i, i % 2 == 0 ? 80 : 443), "");
  auto answer = ask(log, {{"last", 3}, {"filter", {{"port", 80}}}});
  EXPECT_EQ(seqs(answer), (std::vector<uint64_t>{5, 7, 9}));
  EXPECT_EQ(answer["next"], 10);
  auto none = ask(log, {{"last", 0}});  // a follower starting at the end
  EXPECT_TRUE(none["flows"].empty());
  EXPECT_EQ(none["next"], 10);
  EXPECT_EQ(seqs(ask(log, {{"last", 50}, {"after", 8}})), (std::vector<uint64_t>{9, 10}));
}

TEST(FlowLogTest, SinceKeepsRecordsNoOlderThanIt) {
  FlowLog log(100);
  for (int i = 0; i < 5; ++i) log.record(tcpFlow(1000 + i), "");
  uint64_t since = 1003ULL * 1'000'000'000ULL;
  EXPECT_EQ(seqs(ask(log, {{"since_ns", since}})), (std::vector<uint64_t>{4, 5}));
}

class FlowLogFilterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_.record(tcpFlow(1000), "NetworkPolicy y/allow-web ingress[0]");  // 1: x/a -> y/b:80
    auto reply = tcpFlow(1001);                                          // 2: y/b:80 -> x/a
    std::swap(reply.src, reply.dst);
    std::swap(reply.srcPod, reply.dstPod);
    std::swap(reply.srcPort, reply.dstPort);
    reply.match = PN_MATCH_CT_REPLY;
    log_.record(reply, "");
    auto denied = tcpFlow(1002, 5432);  // 3: x/a -> y/c:5432 dropped
    denied.dstPod = bpf::PodRef{"y", "c"};
    denied.verdict = PN_VERDICT_DROPPED;
    denied.dropReason = PN_DROP_POLICY_DEFAULT;
    denied.match = PN_MATCH_DEFAULT_DENY;
    log_.record(denied, "isolated by NetworkPolicy y/deny-all");
    auto ping = tcpFlow(1003);  // 4: 10.0.0.1 -> z/d ICMP echo
    ping.protocol = IPPROTO_ICMP;
    ping.icmpType = 8;
    ping.srcPod.reset();
    ping.src = *Ipv4::parse("10.0.0.1");
    ping.dstPod = bpf::PodRef{"z", "d"};
    ping.srcPort = 80;  // an echo id that looks like a port: not a port
    log_.record(ping, "");
    auto dns = tcpFlow(1004, 53);  // 5: x/a -> 10.96.0.10:53 UDP
    dns.protocol = IPPROTO_UDP;
    dns.dstPod.reset();
    dns.dst = *Ipv4::parse("10.96.0.10");
    log_.record(dns, "");
  }
  std::vector<uint64_t> filtered(const json& filter) {
    auto answer = ask(log_, {{"filter", filter}});
    EXPECT_TRUE(answer["ok"]) << answer.dump();
    return seqs(answer);
  }

  FlowLog log_{100};
};

TEST_F(FlowLogFilterTest, NamespaceMatchesEitherEnd) {
  EXPECT_EQ(filtered({{"namespace", "x"}}), (std::vector<uint64_t>{1, 2, 3, 5}));
  EXPECT_EQ(filtered({{"namespace", "z"}}), (std::vector<uint64_t>{4}));
  EXPECT_EQ(filtered({{"namespace", "nope"}}), (std::vector<uint64_t>{}));
}

TEST_F(FlowLogFilterTest, PodMatchesEitherEnd) {
  EXPECT_EQ(filtered({{"pod", "y/b"}}), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(filtered({{"pod", "y/c"}}), (std::vector<uint64_t>{3}));
  EXPECT_EQ(filtered({{"pod", "x/b"}}), (std::vector<uint64_t>{}));  // name of y/b, other ns
}

TEST_F(FlowLogFilterTest, Verdict) {
  EXPECT_EQ(filtered({{"verdict", "dropped"}}), (std::vector<uint64_t>{3}));
  EXPECT_EQ(filtered({{"verdict", "forwarded"}}), (std::vector<uint64_t>{1, 2, 4, 5}));
}

TEST_F(FlowLogFilterTest, PortMatchesEitherEndOfPortedProtocols) {
  EXPECT_EQ(filtered({{"port", 80}}), (std::vector<uint64_t>{1, 2}));  // not the ICMP id
  EXPECT_EQ(filtered({{"port", 40000}}), (std::vector<uint64_t>{1, 2, 3, 5}));
  EXPECT_EQ(filtered({{"port", 53}}), (std::vector<uint64_t>{5}));
}

TEST_F(FlowLogFilterTest, ProtocolInEitherCase) {
  EXPECT_EQ(filtered({{"protocol", "ICMP"}}), (std::vector<uint64_t>{4}));
  EXPECT_EQ(filtered({{"protocol", "udp"}}), (std::vector<uint64_t>{5}));
  EXPECT_EQ(filtered({{"protocol", "TCP"}}), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(filtered({{"protocol", "SCTP"}}), (std::vector<uint64_t>{}));
}

TEST_F(FlowLogFilterTest, FiltersCombine) {
  EXPECT_EQ(filtered({{"namespace", "x"}, {"verdict", "forwarded"}, {"port", 80}}),
            (std::vector<uint64_t>{1, 2}));
}

TEST_F(FlowLogFilterTest, BadValuesAreRefusedNamingTheField) {
  struct Case {
    json request;
    std::string msg;
  };
  const Case cases[] = {
      {{{"filter", {{"verdict", "maybe"}}}},
       R"(flows: filter.verdict: "maybe" (want forwarded or dropped))"},
      {{{"filter", {{"port", 70000}}}}, "flows: filter.port: 70000 (want a port from 0 to 65535)"},
      {{{"filter", {{"port", "80"}}}}, R"(flows: filter.port: "80" (want a port from 0 to 65535))"},
      {{{"filter", {{"protocol", "GRE"}}}},
       R"(flows: filter.protocol: "GRE" (want TCP, UDP, SCTP or ICMP))"},
      {{{"filter", {{"protocol", "47"}}}},
       R"(flows: filter.protocol: "47" (want TCP, UDP, SCTP or ICMP))"},
      {{{"filter", {{"pod", "just-a-name"}}}},
       R"(flows: filter.pod: "just-a-name" (want NAMESPACE/NAME))"},
      {{{"filter", {{"namespace", 3}}}}, "flows: filter.namespace: 3 (want a namespace name)"},
      {{{"filter", {{"color", "red"}}}},
       R"(flows: filter.color: "red" (unknown filter; want namespace, pod, verdict, port or protocol))"},
      {{{"filter", "x"}}, R"(flows: filter: "x" (want an object))"},
      {{{"after", -1}}, "flows: after: -1 (want a sequence number)"},
      {{{"limit", 0}}, "flows: limit: 0 (want a positive count)"},
      {{{"since_ns", "yesterday"}},
       R"(flows: since_ns: "yesterday" (want unix time in nanoseconds))"},
  };
  for (const auto& c : cases) {
    auto answer = ask(log_, c.request);
    EXPECT_EQ(answer, (json{{"ok", false}, {"error", {{"code", 6}, {"msg", c.msg}}}}))
        << c.request.dump();
  }
}

TEST(FlowLogTest, RecordsFromManyThreadsGetDistinctSequenceNumbers) {
  FlowLog log(10000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&log] {
      for (int i = 0; i < 500; ++i) log.record(tcpFlow(1000), "");
    });
  }
  for (auto& t : threads) t.join();
  auto got = seqs(ask(log, json::object()));
  ASSERT_EQ(got.size(), 2000u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], i + 1);
}

TEST(FlowJsonTest, MatchesTheDocumentedShape) {
  flows::FlowRecord r{12, tcpFlow(1714564800), "NetworkPolicy y/allow-web ingress[0]"};
  r.event.time += std::chrono::nanoseconds(123456789);
  r.event.dstPod.reset();
  EXPECT_EQ(flows::toJson(r), json::parse(R"({
    "seq": 12, "time": "2024-05-01T12:00:00.123456789Z", "node": "n1",
    "verdict": "forwarded", "match": "policy-allow", "direction": "ingress",
    "protocol": "TCP", "tcpFlags": "SYN",
    "source": {"ip": "10.244.1.5", "port": 40000, "identity": 300, "namespace": "x", "pod": "a"},
    "destination": {"ip": "10.244.0.7", "port": 80, "identity": 256},
    "policy": "NetworkPolicy y/allow-web ingress[0]", "policyId": 9, "policyRevision": 4,
    "ifindex": 7, "endpointId": 3, "length": 74})"));
}

TEST(FlowJsonTest, DropsAndIcmpCarryTheirOwnFields) {
  flows::FlowRecord r{1, tcpFlow(1000), ""};
  r.event.protocol = IPPROTO_ICMP;
  r.event.icmpType = 8;
  r.event.verdict = PN_VERDICT_DROPPED;
  r.event.dropReason = PN_DROP_POLICY_DENY;
  r.event.match = PN_MATCH_POLICY_DENY;
  r.event.policyId = 0;
  json j = flows::toJson(r);
  EXPECT_EQ(j["dropReason"], "policy-deny");
  EXPECT_EQ(j["icmpType"], 8);
  EXPECT_FALSE(j.contains("tcpFlags"));
  EXPECT_FALSE(j.contains("policy"));
  EXPECT_FALSE(j.contains("policyId"));
  EXPECT_FALSE(j["source"].contains("port"));  // ICMP has no ports
}

TEST(FlowJsonTest, RoundTripsEveryField) {
  std::vector<flows::FlowRecord> records;
  records.push_back({1, tcpFlow(1714564800), "NetworkPolicy y/allow-web ingress[0]"});
  records.back().event.time += std::chrono::nanoseconds(5);
  records.push_back({2, tcpFlow(1714564801), "isolated by NetworkPolicy y/deny-all"});
  records.back().event.verdict = PN_VERDICT_DROPPED;
  records.back().event.dropReason = PN_DROP_POLICY_DEFAULT;
  records.back().event.match = PN_MATCH_DEFAULT_DENY;
  records.back().event.direction = PN_DIR_EGRESS;
  records.back().event.tcpFlags = 0xff;
  records.push_back({3, tcpFlow(1714564802), ""});
  records.back().event.protocol = IPPROTO_ICMP;
  records.back().event.icmpType = 0;
  records.back().event.srcPort = 0;
  records.back().event.dstPort = 0;
  records.back().event.tcpFlags = 0;
  records.back().event.srcPod.reset();
  records.push_back({4, tcpFlow(1714564803), ""});
  records.back().event.protocol = 47;  // GRE
  records.back().event.srcPort = records.back().event.dstPort = 0;
  records.back().event.tcpFlags = 0;
  for (const auto& r : records) {
    auto back = flows::flowFromJson(flows::toJson(r));
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->seq, r.seq);
    EXPECT_EQ(back->policy, r.policy);
    const auto& a = back->event;
    const auto& b = r.event;
    EXPECT_EQ(a.time, b.time);
    EXPECT_EQ(a.node, b.node);
    EXPECT_EQ(a.ifindex, b.ifindex);
    EXPECT_EQ(a.endpointId, b.endpointId);
    EXPECT_EQ(a.srcIdentity, b.srcIdentity);
    EXPECT_EQ(a.dstIdentity, b.dstIdentity);
    EXPECT_EQ(a.src, b.src);
    EXPECT_EQ(a.dst, b.dst);
    EXPECT_EQ(a.srcPod, b.srcPod);
    EXPECT_EQ(a.dstPod, b.dstPod);
    EXPECT_EQ(a.srcPort, b.srcPort);
    EXPECT_EQ(a.dstPort, b.dstPort);
    EXPECT_EQ(a.protocol, b.protocol);
    EXPECT_EQ(a.tcpFlags, b.tcpFlags);
    EXPECT_EQ(a.icmpType, b.icmpType);
    EXPECT_EQ(a.direction, b.direction);
    EXPECT_EQ(a.verdict, b.verdict);
    EXPECT_EQ(a.dropReason, b.dropReason);
    EXPECT_EQ(a.match, b.match);
    EXPECT_EQ(a.policyId, b.policyId);
    EXPECT_EQ(a.policyRevision, b.policyRevision);
    EXPECT_EQ(a.length, b.length);
  }
}

// Every value of every enum of the contract that a flow carries, 0 .. __MAX (the value a newer
// program may send, named "unknown"), keeps its own name through JSON.
TEST(FlowJsonTest, EveryValueOfEveryEnumRoundTrips) {
  auto roundTrip = [](const flows::FlowRecord& r) {
    auto back = flows::flowFromJson(flows::toJson(r));
    EXPECT_TRUE(back.ok()) << back.error().message << "\n" << flows::toJson(r).dump();
    return back.ok() ? back->event : bpf::FlowEvent{};
  };
  std::set<std::string> names;
  for (int v = 0; v <= PN_MATCH__MAX; ++v) {
    flows::FlowRecord r{1, tcpFlow(1000), ""};
    r.event.match = static_cast<pn_match>(v);
    EXPECT_EQ(roundTrip(r).match, v) << "match " << v;
    EXPECT_TRUE(names.insert(flows::matchName(r.event.match)).second) << "match " << v;
  }
  EXPECT_EQ(flows::toJson({1, tcpFlow(1000), ""})["match"], "policy-allow");
  names.clear();
  for (int v = 0; v <= PN_DROP__MAX; ++v) {
    flows::FlowRecord r{1, tcpFlow(1000), ""};
    r.event.verdict = PN_VERDICT_DROPPED;
    r.event.dropReason = static_cast<pn_drop_reason>(v);
    EXPECT_EQ(roundTrip(r).dropReason, v) << "drop reason " << v;
    EXPECT_TRUE(names.insert(flows::dropReasonText(r.event.dropReason)).second) << "reason " << v;
  }
  for (int v = 0; v < PN_VERDICT__MAX; ++v) {
    flows::FlowRecord r{1, tcpFlow(1000), ""};
    r.event.verdict = static_cast<pn_verdict>(v);
    EXPECT_EQ(roundTrip(r).verdict, v) << "verdict " << v;
  }
  for (int v = 0; v < PN_DIR__MAX; ++v) {
    flows::FlowRecord r{1, tcpFlow(1000), ""};
    r.event.direction = static_cast<pn_direction>(v);
    EXPECT_EQ(roundTrip(r).direction, v) << "direction " << v;
  }
}

TEST(FlowJsonTest, DecodingNamesTheBadField) {
  json j = flows::toJson({1, tcpFlow(1000), ""});
  j["source"]["port"] = "http";
  auto r = flows::flowFromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "flow: source.port: want an integer from 0 to 65535");
  j = flows::toJson({1, tcpFlow(1000), ""});
  j["time"] = "yesterday";
  EXPECT_EQ(flows::flowFromJson(j).error().message,
            "flow: time: want RFC 3339 UTC (2024-05-01T12:00:00.5Z), not yesterday");
  j = flows::toJson({1, tcpFlow(1000), ""});
  j.erase("verdict");
  EXPECT_EQ(flows::flowFromJson(j).error().message, "flow: verdict: required");
}

TEST(FlowJsonTest, TimeParsingAcceptsShortFractions) {
  auto t = flows::parseTime("2024-05-01T12:00:00.5Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(flows::formatTime(*t), "2024-05-01T12:00:00.500000000Z");
  EXPECT_TRUE(flows::parseTime("2024-05-01T12:00:00Z").has_value());
  EXPECT_FALSE(flows::parseTime("2024-05-01 12:00:00Z").has_value());
  EXPECT_FALSE(flows::parseTime("2024-05-01T12:00:00.Z").has_value());
  EXPECT_FALSE(flows::parseTime("2024-05-01T12:00:00+02:00").has_value());
}

TEST(DropsAnswerTest, OneEntryPerReasonWithCounters) {
  bpf::DropCounters counters{};
  counters[PN_DROP_POLICY_DENY] = {3, 222};
  counters[PN_DROP_NO_ENDPOINT] = {1, 60};
  auto answer = dropsAnswer("n2", counters);
  EXPECT_EQ(answer, json::parse(R"({"ok": true, "node": "n2", "drops": [
    {"reason": "policy-deny", "packets": 3, "bytes": 222},
    {"reason": "policy-default-deny", "packets": 0, "bytes": 0},
    {"reason": "malformed", "packets": 0, "bytes": 0},
    {"reason": "unsupported-l3", "packets": 0, "bytes": 0},
    {"reason": "fragment", "packets": 0, "bytes": 0},
    {"reason": "no-endpoint", "packets": 1, "bytes": 60}]})"));
}

}  // namespace
}  // namespace podnet::agent
