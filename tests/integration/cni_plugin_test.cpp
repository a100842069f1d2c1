// The real podnet-cni binary against a real podnetd in a throwaway node namespace, checked with
// real traffic and with what is left in the kernel and the store.
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <memory>

#include "harness.h"

namespace podnet::testing {
namespace {

class CniPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    node_ = std::make_unique<TestNetns>("node");
    agent_ = std::make_unique<AgentProcess>(*node_, dir_.path());
  }
  void TearDown() override {
    agent_.reset();
    pods_.clear();
    node_.reset();
  }

  TestNetns& newPod() {
    pods_.push_back(std::make_unique<TestNetns>("pod"));
    return *pods_.back();
  }

  CniCall add(const TestNetns& pod, const std::string& id, const std::string& version = "1.1.0",
              const std::string& args = "") {
    return runCni(cniEnv("ADD", id, pod.path(), "eth0", args), netconf(agent_->socket(), version));
  }
  CniCall del(const TestNetns& pod, const std::string& id) {
    return runCni(cniEnv("DEL", id, pod.path()), netconf(agent_->socket()));
  }

  nlohmann::json pods() {
    auto r = sh(podnetctlBinary() + " --socket " + agent_->socket() + " get pods -o json");
    EXPECT_EQ(r.status, 0);
    return nlohmann::json::parse(r.out, nullptr, false).value("pods", nlohmann::json::array());
  }

  static std::string ipOf(const CniCall& call) {
    std::string a = call.json["ips"][0]["address"];
    return a.substr(0, a.find('/'));
  }

  TempDir dir_;
  std::unique_ptr<TestNetns> node_;
  std::unique_ptr<AgentProcess> agent_;
  std::vector<std::unique_ptr<TestNetns>> pods_;
};

TEST_F(CniPluginTest, AddWiresPodsThatReachEachOtherAndTheNode) {
  auto& a = newPod();
  auto& b = newPod();
  auto ra = add(a, "ctr-a", "1.1.0", "IgnoreUnknown=1;K8S_POD_NAMESPACE=shop;K8S_POD_NAME=web-0");
  auto rb = add(b, "ctr-b");
  ASSERT_EQ(ra.exitCode, 0) << ra.out;
  ASSERT_EQ(rb.exitCode, 0) << rb.out;

  // The result, as CNI 1.1.0 defines it.
  const auto& r = ra.json;
  EXPECT_EQ(r["cniVersion"], "1.1.0");
  ASSERT_EQ(r["interfaces"].size(), 2u);
  EXPECT_EQ(r["interfaces"][0]["name"].get<std::string>().rfind("pn", 0), 0u);
  EXPECT_FALSE(r["interfaces"][0].contains("sandbox"));
  EXPECT_EQ(r["interfaces"][1]["name"], "eth0");
  EXPECT_EQ(r["interfaces"][1]["sandbox"], a.path());
  EXPECT_EQ(r["interfaces"][1]["mtu"], 1500);
  ASSERT_EQ(r["ips"].size(), 1u);
  EXPECT_EQ(r["ips"][0]["interface"], 1);
  EXPECT_EQ(r["ips"][0]["gateway"], "10.244.0.1");
  EXPECT_FALSE(r["ips"][0].contains("version"));
  EXPECT_EQ(r["ips"][0]["address"].get<std::string>().substr(
                r["ips"][0]["address"].get<std::string>().find('/')),
            "/16");
  EXPECT_EQ(r["routes"][0]["dst"], "0.0.0.0/0");
  EXPECT_EQ(r["routes"][0]["gw"], "10.244.0.1");

  // The MAC in the result is the pod interface's real MAC.
  std::string mac = r["interfaces"][1]["mac"];
  EXPECT_NE(a.exec("ip link show eth0").out.find(mac), std::string::npos);

  // Real traffic: pod to pod, pod to node, node to pod.
  std::string ipA = ipOf(ra), ipB = ipOf(rb);
  EXPECT_NE(ipA, ipB);
  EXPECT_TRUE(a.ping(ipB));
  EXPECT_TRUE(b.ping(ipA));
  EXPECT_TRUE(a.ping("10.244.0.1"));
  EXPECT_TRUE(node_->ping(ipA));

  // The agent records who the pod is.
  auto list = pods();
  ASSERT_EQ(list.size(), 2u);
  bool found = false;
  for (const auto& p : list) {
    if (p["containerId"] == "ctr-a") {
      found = true;
      EXPECT_EQ(p["podNamespace"], "shop");
      EXPECT_EQ(p["podName"], "web-0");
      EXPECT_EQ(p["ifname"], "eth0");
      EXPECT_EQ(p["address"], r["ips"][0]["address"]);
    }
  }
  EXPECT_TRUE(found);
  auto table = sh(podnetctlBinary() + " --socket " + agent_->socket() + " get pods");
  EXPECT_NE(table.out.find("web-0"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find(ipA), std::string::npos) << table.out;
}

TEST_F(CniPluginTest, DelRemovesEverythingAndIsIdempotent) {
  auto& a = newPod();
  auto ra = add(a, "ctr-del");
  ASSERT_EQ(ra.exitCode, 0) << ra.out;
  std::string ip = ipOf(ra);
  ASSERT_EQ(podnetVeths(*node_).size(), 1u);

  auto d = del(a, "ctr-del");
  EXPECT_EQ(d.exitCode, 0) << d.out;
  EXPECT_EQ(d.out, "");
  // DEL answers once the attachment is marked releasing; the kernel removes the veth right after.
  EXPECT_TRUE(eventually([&] { return pods().empty(); })) << pods().dump();
  EXPECT_TRUE(podnetVeths(*node_).empty());
  EXPECT_EQ(a.exec("ip link show eth0").status, 1) << "pod interface survived DEL";
  EXPECT_EQ(node_->exec("ip route show " + ip).out, "");
  EXPECT_FALSE(node_->ping(ip));

  auto again = del(a, "ctr-del");
  EXPECT_EQ(again.exitCode, 0) << again.out;
}

TEST_F(CniPluginTest, AddRightAfterDelOfTheSameAttachmentSucceeds) {
  auto& a = newPod();
  ASSERT_EQ(add(a, "ctr-again").exitCode, 0);
  ASSERT_EQ(del(a, "ctr-again").exitCode, 0);
  auto again = add(a, "ctr-again");
  ASSERT_EQ(again.exitCode, 0) << again.out;
  EXPECT_TRUE(a.ping("10.244.0.1"));
  EXPECT_TRUE(node_->ping(ipOf(again)));
  auto list = pods();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["state"], "ready");
}

TEST_F(CniPluginTest, DelSucceedsWhenTheNetnsIsAlreadyGone) {
  auto& a = newPod();
  ASSERT_EQ(add(a, "ctr-gone").exitCode, 0);
  std::string path = a.path();
  pods_.clear();  // the runtime removed the sandbox before calling DEL
  auto d = runCni(cniEnv("DEL", "ctr-gone", path), netconf(agent_->socket()));
  EXPECT_EQ(d.exitCode, 0) << d.out;
  EXPECT_TRUE(eventually([&] { return pods().empty(); })) << pods().dump();
  EXPECT_TRUE(podnetVeths(*node_).empty());
  // DEL without CNI_NETNS at all is allowed too.
  auto d2 = runCni(cniEnv("DEL", "ctr-gone", ""), netconf(agent_->socket()));
  EXPECT_EQ(d2.exitCode, 0) << d2.out;
}

TEST_F(CniPluginTest, ResultIsWrittenInTheConfigsVersion) {
  for (std::string version : {"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}) {
    SCOPED_TRACE(version);
    auto& pod = newPod();
    std::string id = "ctr-v" + version;
    auto r = add(pod, id, version);
    ASSERT_EQ(r.exitCode, 0) << r.out;
    EXPECT_EQ(r.json["cniVersion"], version);
    bool legacy = version < "1.0.0";
    EXPECT_EQ(r.json["ips"][0].contains("version"), legacy);
    if (legacy) {
      EXPECT_EQ(r.json["ips"][0]["version"], "4");
    }
    EXPECT_EQ(r.json["interfaces"][1].contains("mtu"), version == "1.1.0");
    EXPECT_TRUE(pod.ping("10.244.0.1"));
    EXPECT_EQ(del(pod, id).exitCode, 0);
  }
}

TEST_F(CniPluginTest, VersionListsEverySupportedVersion) {
  auto r = runCni({{"CNI_COMMAND", "VERSION"}}, R"({"cniVersion":"1.0.0"})");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(r.json["cniVersion"], "1.0.0");
  EXPECT_EQ(r.json["supportedVersions"],
            nlohmann::json({"0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"}));
}

// Each bad request gets the spec's code and leaves nothing behind.
TEST_F(CniPluginTest, BadInputGetsTheSpecCodeAndChangesNothing) {
  auto& pod = newPod();
  auto& live = newPod();
  auto good = add(live, "ctr-live");
  ASSERT_EQ(good.exitCode, 0) << good.out;

  struct Case {
    const char* what;
    std::map<std::string, std::string> env;
    std::string config;
    int code;
    const char* mentions;
  };
  std::string sock = agent_->socket();
  std::vector<Case> cases = {
      {"no CNI_NETNS", cniEnv("ADD", "c1", ""), netconf(sock), 4, "CNI_NETNS"},
      {"no CNI_CONTAINERID", cniEnv("ADD", "", pod.path()), netconf(sock), 4, "CNI_CONTAINERID"},
      {"bad CNI_IFNAME", cniEnv("ADD", "c1", pod.path(), "eth/0"), netconf(sock), 4, "CNI_IFNAME"},
      {"bad CNI_ARGS", cniEnv("ADD", "c1", pod.path(), "eth0", "K8S_POD_NAME"), netconf(sock), 4,
       "CNI_ARGS"},
      {"not JSON", cniEnv("ADD", "c1", pod.path()), "{nope", 6, ""},
      {"mtu of the wrong type", cniEnv("ADD", "c1", pod.path()),
       netconf(sock, "1.1.0", {{"mtu", "big"}}), 6, "mtu"},
      {"unsupported version", cniEnv("ADD", "c1", pod.path()), netconf(sock, "9.9.9"), 1, "9.9.9"},
      {"ipam is not podnet's", cniEnv("ADD", "c1", pod.path()),
       netconf(sock, "1.1.0", {{"ipam", {{"type", "host-local"}}}}), 2, "ipam"},
      {"bad name", cniEnv("ADD", "c1", pod.path()), netconf(sock, "1.1.0", {{"name", "-x"}}), 7,
       "name"},
      {"mtu out of range", cniEnv("ADD", "c1", pod.path()), netconf(sock, "1.1.0", {{"mtu", 10}}),
       7, "mtu"},
      {"missing netns path", cniEnv("ADD", "c1", "/var/run/netns/pnt-does-not-exist"),
       netconf(sock), 4, "pnt-does-not-exist"},
      {"CHECK on 0.3.1", cniEnv("CHECK", "c1", pod.path()), netconf(sock, "0.3.1"), 1, "CHECK"},
      {"agent not running", cniEnv("ADD", "c1", pod.path()), netconf(dir_.path() + "/nobody.sock"),
       11, "nobody.sock"},
      {"STATUS, agent not running", cniEnv("STATUS", "", "", ""),
       netconf(dir_.path() + "/nobody.sock"), 50, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto r = runCni(c.env, c.config);
    EXPECT_NE(r.exitCode, 0) << r.out;
    ASSERT_TRUE(r.json.is_object()) << r.out;
    EXPECT_EQ(r.json["code"], c.code) << r.out;
    EXPECT_TRUE(r.json.contains("cniVersion")) << r.out;
    std::string msg = r.json.value("msg", "") + " " + r.json.value("details", "");
    EXPECT_NE(msg.find(c.mentions), std::string::npos) << r.out;
  }
  EXPECT_EQ(pod.exec("ip link show eth0").status, 1) << "a failed ADD left an interface";
  EXPECT_EQ(podnetVeths(*node_).size(), 1u) << "a failed ADD left a veth";
  ASSERT_EQ(pods().size(), 1u) << "a failed ADD left an allocation";
  EXPECT_TRUE(live.ping("10.244.0.1")) << "a failed ADD broke a working pod";
}

TEST_F(CniPluginTest, AddingAnExistingAttachmentFailsAndKeepsTheOriginal) {
  auto& pod = newPod();
  auto first = add(pod, "ctr-twice");
  ASSERT_EQ(first.exitCode, 0) << first.out;
  auto second = add(pod, "ctr-twice");
  EXPECT_NE(second.exitCode, 0);
  EXPECT_EQ(second.json["code"], 100) << second.out;
  EXPECT_NE(second.json.value("msg", "").find(ipOf(first)), std::string::npos) << second.out;
  EXPECT_TRUE(pod.ping("10.244.0.1"));
  EXPECT_TRUE(node_->ping(ipOf(first)));
  EXPECT_EQ(pods().size(), 1u);

  // A different container asking for an interface name the sandbox already has: refused, and
  // the existing interface keeps working.
  auto clash = add(pod, "ctr-other");
  EXPECT_NE(clash.exitCode, 0);
  EXPECT_EQ(clash.json["code"], 100) << clash.out;
  EXPECT_TRUE(node_->ping(ipOf(first)));
  EXPECT_EQ(pods().size(), 1u);
}

TEST_F(CniPluginTest, CheckPassesOnAHealthyPodAndFailsOnABrokenOne) {
  auto& pod = newPod();
  auto r = add(pod, "ctr-check");
  ASSERT_EQ(r.exitCode, 0) << r.out;
  nlohmann::json conf = nlohmann::json::parse(netconf(agent_->socket()));
  conf["prevResult"] = r.json;
  auto ok = runCni(cniEnv("CHECK", "ctr-check", pod.path()), conf.dump());
  EXPECT_EQ(ok.exitCode, 0) << ok.out;
  EXPECT_EQ(ok.out, "");

  pod.exec("ip route del default");
  auto broken = runCni(cniEnv("CHECK", "ctr-check", pod.path()), conf.dump());
  EXPECT_NE(broken.exitCode, 0);
  EXPECT_EQ(broken.json["code"], 104) << broken.out;
  EXPECT_NE(broken.json.value("msg", "").find("route"), std::string::npos) << broken.out;

  auto unknown = runCni(cniEnv("CHECK", "ctr-nobody", pod.path()), conf.dump());
  EXPECT_EQ(unknown.json["code"], 3) << unknown.out;
}

TEST_F(CniPluginTest, GcReleasesEveryAttachmentThatIsNotValid) {
  auto& a = newPod();
  auto& b = newPod();
  auto& c = newPod();
  ASSERT_EQ(add(a, "ctr-keep").exitCode, 0);
  ASSERT_EQ(add(b, "ctr-stale1").exitCode, 0);
  ASSERT_EQ(add(c, "ctr-stale2").exitCode, 0);
  ASSERT_EQ(pods().size(), 3u);

  // A podnet-named veth that no attachment owns (left by a crash, or by hand) is a device GC
  // must remove too.
  ASSERT_EQ(node_->exec("ip link add pn00000000dead type veth peer name stray0").status, 0);
  ASSERT_EQ(podnetVeths(*node_).size(), 4u);

  nlohmann::json conf = nlohmann::json::parse(netconf(agent_->socket()));
  conf["cni.dev/valid-attachments"] = {{{"containerID", "ctr-keep"}, {"ifname", "eth0"}}};
  auto gc = runCni({{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/usr/lib/cni"}}, conf.dump());
  EXPECT_EQ(gc.exitCode, 0) << gc.out;
  auto left = pods();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0]["containerId"], "ctr-keep");
  EXPECT_EQ(podnetVeths(*node_).size(), 1u);
  EXPECT_TRUE(a.ping("10.244.0.1"));
  EXPECT_EQ(b.exec("ip link show eth0").status, 1);

  // The older key name works the same way; an empty list releases everything.
  conf.erase("cni.dev/valid-attachments");
  conf["cni.dev/attachments"] = nlohmann::json::array();
  gc = runCni({{"CNI_COMMAND", "GC"}, {"CNI_PATH", "/usr/lib/cni"}}, conf.dump());
  EXPECT_EQ(gc.exitCode, 0) << gc.out;
  EXPECT_TRUE(pods().empty());
  EXPECT_TRUE(podnetVeths(*node_).empty());
}

TEST_F(CniPluginTest, StatusIsReadyWhileTheAgentRuns) {
  auto r =
      runCni({{"CNI_COMMAND", "STATUS"}, {"CNI_PATH", "/usr/lib/cni"}}, netconf(agent_->socket()));
  EXPECT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(r.out, "");
}

TEST_F(CniPluginTest, OnlyRootCanOpenTheAgentSocket) {
  struct stat st {};
  ASSERT_EQ(::stat(agent_->socket().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
}

TEST_F(CniPluginTest, MtuFromTheConfigReachesThePod) {
  auto& pod = newPod();
  auto r = runCni(cniEnv("ADD", "ctr-mtu", pod.path()),
                  netconf(agent_->socket(), "1.1.0", {{"mtu", 1400}}));
  ASSERT_EQ(r.exitCode, 0) << r.out;
  EXPECT_EQ(r.json["interfaces"][1]["mtu"], 1400);
  EXPECT_NE(pod.exec("ip link show eth0").out.find("mtu 1400"), std::string::npos);
}

}  // namespace
}  // namespace podnet::testing
