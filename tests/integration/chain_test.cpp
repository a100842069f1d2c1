// podnet first in a chain ahead of Debian's reference plugins: tuning and portmap consume
// podnet's prevResult, and DEL runs back through the chain.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "harness.h"
#include "runtime/cni_runtime.h"

namespace podnet::testing {
namespace {

TEST(ChainTest, TuningAndPortmapWorkOnPodnetsResult) {
  TempDir dir;
  TestNetns node("node");
  AgentProcess agent(node, dir.path());
  TestNetns server("pod");
  TestNetns client("pod");

  auto list = runtime::NetworkConfigList::parse(nlohmann::json{
      {"cniVersion", "1.0.0"},
      {"name", "podnet"},
      {"plugins",
       {{{"type", "podnet-cni"}, {"socket", agent.socket()}},
        {{"type", "tuning"}, {"sysctl", {{"net.ipv4.conf.eth0.accept_local", "1"}}}},
        {{"type", "portmap"}, {"capabilities", {{"portMappings", true}}}, {"snat", true}}}}}
                                                    .dump());
  ASSERT_TRUE(list.ok()) << list.error().message;
  runtime::CniRuntime rt({{buildPath("bin"), "/usr/lib/cni"},
                          dir.path() + "/cache",
                          node.path(),
                          std::chrono::seconds(60)});

  runtime::RuntimeConf serverConf{
      "chain-server", server.path(), "eth0", {}, nlohmann::json::object()};
  serverConf.capabilityArgs["portMappings"] = {
      {{"hostPort", 8080}, {"containerPort", 80}, {"protocol", "tcp"}}};
  auto added = rt.add(*list, serverConf);
  ASSERT_TRUE(added.ok()) << added.error().message;
  runtime::RuntimeConf clientConf{
      "chain-client", client.path(), "eth0", {}, nlohmann::json::object()};
  ASSERT_TRUE(rt.add(*list, clientConf).ok());

  // tuning changed the pod interface podnet created and named in its result.
  EXPECT_EQ(server.exec("sysctl -n net.ipv4.conf.eth0.accept_local").out, "1\n");

  // portmap forwards node port 8080 to the pod's port 80 (address taken from podnet's result).
  std::string serverIp = (*added)["ips"][0]["address"];
  serverIp = serverIp.substr(0, serverIp.find('/'));
  Shell listener;
  std::thread serve([&] {
    listener = server.exec("timeout 10 socat TCP-LISTEN:80,reuseaddr SYSTEM:'echo hello-from-pod'");
  });
  std::string reply;
  for (int i = 0; i < 50 && reply.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    reply = client.exec("socat -T2 - TCP:10.244.0.1:8080,connect-timeout=1 </dev/null").out;
  }
  serve.join();
  EXPECT_EQ(reply, "hello-from-pod\n") << "connecting through the host port did not reach the pod";
  EXPECT_NE(node.exec("iptables-save -t nat").out.find(serverIp), std::string::npos);

  // DEL runs back through the chain: portmap's rules and podnet's wiring are gone.
  ASSERT_TRUE(rt.del(*list, serverConf).ok());
  ASSERT_TRUE(rt.del(*list, clientConf).ok());
  auto nat = node.exec("iptables-save -t nat");
  EXPECT_EQ(nat.status, 0) << nat.out;
  EXPECT_EQ(nat.out.find(serverIp), std::string::npos) << nat.out;
  EXPECT_TRUE(eventually([&] { return podnetVeths(node).empty(); }));
  EXPECT_EQ(server.exec("ip link show eth0").status, 1);
}

}  // namespace
}  // namespace podnet::testing
