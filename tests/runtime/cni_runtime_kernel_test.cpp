// CniRuntime against Debian's reference plugins (containernetworking-plugins) in throwaway
// network namespaces: a "node" netns where the plugins run and a "pod" netns they wire.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "runtime/cni_runtime.h"
#include "runtime/exec.h"

namespace podnet::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

constexpr const char* kReferencePlugins = "/usr/lib/cni";

class ReferencePluginsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root to create network namespaces";
    if (!fs::exists(std::string(kReferencePlugins) + "/bridge")) {
      GTEST_SKIP() << "containernetworking-plugins not installed";
    }
    const std::string id = std::to_string(::getpid());
    node_ = "pnrt-" + id + "-node";
    pod_ = "pnrt-" + id + "-pod";
    network_ = "pnrt-" + id;
    std::string tmpl = (fs::temp_directory_path() / "podnet-runtime-kernel-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    for (const std::string& ns : {node_, pod_}) {
      ASSERT_EQ(std::system(("ip netns add " + ns).c_str()), 0) << ns;
      created_.push_back(ns);
    }
    ASSERT_EQ(std::system(("ip -n " + node_ + " link set lo up").c_str()), 0);
  }

  void TearDown() override {
    for (const std::string& ns : created_) {
      (void)std::system(("ip netns del " + ns + " 2>/dev/null").c_str());
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Runs a shell script inside a netns of this test.
  ExecResult shellIn(const std::string& ns, const std::string& script) {
    auto r = execPlugin("/bin/sh", {}, script, 20s, "/run/netns/" + ns);
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r.ok() ? *r : ExecResult{-1, "", ""};
  }

  NetworkConfigList conflist(const std::string& subnet) {
    json list = {
        {"cniVersion", "1.0.0"},
        {"name", network_},
        {"plugins",
         {{{"type", "bridge"},
           {"bridge", "pnrtbr0"},
           {"isGateway", true},
           {"ipam",
            {{"type", "host-local"}, {"subnet", subnet}, {"dataDir", (dir_ / "ipam").string()}}}},
          {{"type", "tuning"},
           {"capabilities", {{"mac", true}}},
           {"sysctl", {{"net.ipv4.conf.eth0.rp_filter", "2"}}}}}}};
    auto parsed = NetworkConfigList::parse(list.dump());
    EXPECT_TRUE(parsed.ok()) << parsed.error().message;
    return parsed.ok() ? *parsed : NetworkConfigList{};
  }

  CniRuntime makeRuntime() {
    return CniRuntime({{kReferencePlugins}, (dir_ / "cache").string(), "/run/netns/" + node_, 30s});
  }

  RuntimeConf podConf() {
    RuntimeConf rt;
    rt.containerId = "ctr-" + std::to_string(::getpid());
    rt.netns = "/run/netns/" + pod_;
    rt.args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAMESPACE", "default"}, {"K8S_POD_NAME", "web"}};
    rt.capabilityArgs = {{"mac", "0a:58:0a:63:00:42"}};
    return rt;
  }

  std::string node_, pod_, network_;
  std::vector<std::string> created_;
  fs::path dir_;
};

TEST_F(ReferencePluginsTest, ExecInHostNetnsSeesThatNetnsLinks) {
  ASSERT_EQ(std::system(("ip -n " + node_ + " link add pnrtv0 type veth peer name pnrtv1").c_str()),
            0);
  EXPECT_NE(shellIn(node_, "ip -o link show").out.find("pnrtv0"), std::string::npos);
  auto inPod = shellIn(pod_, "ip -o link show");
  EXPECT_EQ(inPod.exitCode, 0) << inPod.err;
  EXPECT_NE(inPod.out.find(": lo:"), std::string::npos) << inPod.out;
  EXPECT_EQ(inPod.out.find("pnrtv0"), std::string::npos) << inPod.out;
}

TEST_F(ReferencePluginsTest, AddCheckDelWithBridgeHostLocalAndTuning) {
  const NetworkConfigList list = conflist("10.99.0.0/24");
  const RuntimeConf rt = podConf();
  CniRuntime runtime = makeRuntime();

  auto added = runtime.add(list, rt);
  ASSERT_TRUE(added.ok()) << added.error().message;
  ASSERT_TRUE((*added)["ips"].is_array() && !(*added)["ips"].empty()) << added->dump();
  const std::string address = (*added)["ips"][0]["address"];
  EXPECT_EQ(address.rfind("10.99.0.", 0), 0u) << address;
  EXPECT_EQ((*added)["ips"][0]["gateway"], "10.99.0.1");
  const std::string podIp = address.substr(0, address.find('/'));

  // The tuning plugin ran in the pod: its sysctl and the MAC from the "mac" capability.
  EXPECT_EQ(shellIn(pod_, "cat /proc/sys/net/ipv4/conf/eth0/rp_filter").out, "2\n");
  EXPECT_NE(shellIn(pod_, "ip -o link show eth0").out.find("0a:58:0a:63:00:42"), std::string::npos);
  // The bridge lives in the node netns, not in ours.
  EXPECT_EQ(shellIn(node_, "ip -o link show pnrtbr0").exitCode, 0);

  EXPECT_TRUE(fs::exists(dir_ / "cache/results" / (network_ + "-" + rt.containerId + "-eth0")));

  Status checked = runtime.check(list, rt);
  EXPECT_TRUE(checked.ok()) << checked.error().message;

  ExecResult ping = shellIn(node_, "ping -c 1 -W 5 " + podIp);
  EXPECT_EQ(ping.exitCode, 0) << ping.out << ping.err;

  Status deleted = runtime.del(list, rt);
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_NE(shellIn(pod_, "ip -o link show eth0 2>&1").exitCode, 0) << "eth0 still in the pod";
  EXPECT_FALSE(fs::exists(dir_ / "cache/results" / (network_ + "-" + rt.containerId + "-eth0")));

  Status again = runtime.del(list, rt);
  EXPECT_TRUE(again.ok()) << again.error().message;
}

TEST_F(ReferencePluginsTest, APluginErrorSurfacesWithItsCniCode) {
  CniRuntime runtime = makeRuntime();
  // host-local rejects the subnet; bridge passes its error on (skel's code 999, "internal").
  auto badSubnet = runtime.add(conflist("10.99.0.0/33"), podConf());
  ASSERT_FALSE(badSubnet.ok());
  ASSERT_TRUE(runtime.lastError().has_value()) << badSubnet.error().message;
  EXPECT_EQ(runtime.lastError()->plugin, "bridge");
  EXPECT_EQ(runtime.lastError()->code, 999);
  EXPECT_NE(runtime.lastError()->msg.find("10.99.0.0/33"), std::string::npos);
  EXPECT_NE(badSubnet.error().message.find("CNI error 999"), std::string::npos)
      << badSubnet.error().message;

  // A spec version the plugins do not speak: the well-known code 1.
  NetworkConfigList future = conflist("10.99.0.0/24");
  future.cniVersion = "9.0.0";
  auto incompatible = runtime.add(future, podConf());
  ASSERT_FALSE(incompatible.ok());
  EXPECT_EQ(incompatible.error().code, Errc::kIncompatibleVersion) << incompatible.error().message;
  ASSERT_TRUE(runtime.lastError().has_value());
  EXPECT_EQ(runtime.lastError()->code, 1);
}

}  // namespace
}  // namespace podnet::runtime
