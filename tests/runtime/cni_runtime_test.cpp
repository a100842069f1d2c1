#include "runtime/cni_runtime.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

namespace podnet::runtime {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using namespace std::chrono_literals;

std::string readFile(const fs::path& path) {
  std::ifstream file(path);
  std::stringstream buf;
  buf << file.rdbuf();
  return buf.str();
}

NetworkConfigList mustParse(const std::string& text) {
  auto list = NetworkConfigList::parse(text);
  EXPECT_TRUE(list.ok()) << list.error().message;
  return list.ok() ? *list : NetworkConfigList{};
}

TEST(NetworkConfigList, ParsesAConflist) {
  auto list = NetworkConfigList::parse(R"({
    "cniVersion": "1.1.0", "name": "podnet", "disableCheck": true, "disableGC": true,
    "plugins": [{"type": "podnet-cni", "socket": "/run/podnet.sock"},
                {"type": "portmap", "capabilities": {"portMappings": true}}]})");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->cniVersion, "1.1.0");
  EXPECT_EQ(list->name, "podnet");
  EXPECT_TRUE(list->disableCheck);
  EXPECT_TRUE(list->disableGC);
  ASSERT_EQ(list->plugins.size(), 2u);
  EXPECT_EQ(list->plugins[0]["socket"], "/run/podnet.sock");
  EXPECT_EQ(list->plugins[1]["type"], "portmap");
}

TEST(NetworkConfigList, WrapsASingleConfIntoAOnePluginList) {
  auto list = NetworkConfigList::parse(
      R"({"cniVersion": "0.4.0", "name": "br", "type": "bridge", "bridge": "cni0"})");
  ASSERT_TRUE(list.ok()) << list.error().message;
  EXPECT_EQ(list->cniVersion, "0.4.0");
  EXPECT_EQ(list->name, "br");
  EXPECT_FALSE(list->disableCheck);
  ASSERT_EQ(list->plugins.size(), 1u);
  EXPECT_EQ(list->plugins[0]["bridge"], "cni0");
}

TEST(NetworkConfigList, ErrorsNameTheField) {
  struct Case {
    const char* json;
    Errc code;
    const char* field;
  };
  const Case cases[] = {
      {"{not json", Errc::kDecode, "not valid JSON"},
      {"[1]", Errc::kDecode, "not a JSON object"},
      {R"({"name": "n", "plugins": [{"type": "a"}]})", Errc::kInvalidArgument, "\"cniVersion\""},
      {R"({"cniVersion": "one", "name": "n", "type": "a"})", Errc::kInvalidArgument,
       "\"cniVersion\""},
      {R"({"cniVersion": "1.0.0", "plugins": [{"type": "a"}]})", Errc::kInvalidArgument,
       "\"name\""},
      {R"({"cniVersion": "1.0.0", "name": "../etc", "type": "a"})", Errc::kInvalidArgument,
       "\"name\""},
      {R"({"cniVersion": "1.0.0", "name": "n", "plugins": []})", Errc::kInvalidArgument,
       "\"plugins\""},
      {R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "a"}, {"mtu": 1}]})",
       Errc::kInvalidArgument, "\"plugins[1].type\""},
      {R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "../bin/sh"}]})",
       Errc::kInvalidArgument, "\"plugins[0].type\""},
      {R"({"cniVersion": "1.0.0", "name": "n", "plugins": [{"type": "a", "capabilities": 1}]})",
       Errc::kInvalidArgument, "\"plugins[0].capabilities\""},
      {R"({"cniVersion": "1.0.0", "name": "n", "disableCheck": "yes", "plugins": [{"type": "a"}]})",
       Errc::kInvalidArgument, "\"disableCheck\""},
      {R"({"cniVersion": "1.0.0", "name": "n"})", Errc::kInvalidArgument, "\"type\""},
  };
  for (const Case& c : cases) {
    auto list = NetworkConfigList::parse(c.json);
    ASSERT_FALSE(list.ok()) << c.json;
    EXPECT_EQ(list.error().code, c.code) << c.json;
    EXPECT_NE(list.error().message.find(c.field), std::string::npos)
        << c.json << " -> " << list.error().message;
  }
}

// Fake plugins are shell scripts that record the configuration and environment they were given
// and answer like a plugin would.
class CniRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "podnet-runtime-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    fs::create_directories(dir_ / "bin1");
    fs::create_directories(dir_ / "bin2");
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A plugin that records its input under <dir>/<COMMAND>-<name>.{conf,env}, logs the call and,
  // on ADD, returns a result naming itself.
  void writeRecorder(const std::string& binDir, const std::string& name) {
    writePlugin(binDir, name, R"(
me=$(basename "$0")
cat > "$REC/$CNI_COMMAND-$me.conf"
env > "$REC/$CNI_COMMAND-$me.env"
echo "$CNI_COMMAND $me $CNI_CONTAINERID" >> "$REC/log"
if [ "$CNI_COMMAND" = ADD ]; then
  printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s"}]}' "$me"
fi
)");
  }
  void writePlugin(const std::string& binDir, const std::string& name, const std::string& body) {
    const fs::path path = dir_ / binDir / name;
    std::ofstream(path) << "#!/bin/sh\nREC='" << dir_.string() << "'\n" << body;
    fs::permissions(path, fs::perms::owner_all);
  }
  CniRuntime makeRuntime(std::chrono::milliseconds timeout = 10s) {
    return CniRuntime({{(dir_ / "bin1").string(), (dir_ / "bin2").string()},
                       (dir_ / "cache").string(),
                       "",
                       timeout});
  }
  json recorded(const std::string& file) { return json::parse(readFile(dir_ / file)); }
  std::string log() { return readFile(dir_ / "log"); }
  fs::path cacheFile(const std::string& id) {
    return dir_ / "cache/results" / ("net-" + id + "-eth0");
  }

  RuntimeConf pod(const std::string& id) {
    RuntimeConf rt;
    rt.containerId = id;
    rt.netns = "/run/netns/" + id;
    return rt;
  }

  fs::path dir_;
};

TEST_F(CniRuntimeTest, AddChainsResultsAndInjectsNameVersionAndCapabilities) {
  writeRecorder("bin1", "first");
  writeRecorder("bin2", "second");
  auto list = mustParse(R"({"cniVersion": "1.0.0", "name": "net", "plugins": [
      {"type": "first", "capabilities": {"portMappings": true, "mac": false}},
      {"type": "second", "capabilities": {"bandwidth": true}, "runtimeConfig": {"keep": 1}}]})");
  RuntimeConf rt = pod("ctr1");
  rt.args = {{"IgnoreUnknown", "1"}, {"K8S_POD_NAME", "web"}};
  rt.capabilityArgs = {{"portMappings", json::array({{{"hostPort", 8080}}})}, {"mac", "0a:00"}};

  CniRuntime runtime = makeRuntime();
  auto result = runtime.add(list, rt);
  ASSERT_TRUE(result.ok()) << result.error().message;
  EXPECT_EQ((*result)["interfaces"][0]["name"], "second");

  json first = recorded("ADD-first.conf");
  EXPECT_EQ(first["name"], "net");
  EXPECT_EQ(first["cniVersion"], "1.0.0");
  EXPECT_FALSE(first.contains("prevResult"));
  // Only declared and enabled capabilities reach the plugin.
  EXPECT_EQ(first["runtimeConfig"], json({{"portMappings", rt.capabilityArgs["portMappings"]}}));

  json second = recorded("ADD-second.conf");
  EXPECT_EQ(second["prevResult"]["interfaces"][0]["name"], "first");
  EXPECT_EQ(second["runtimeConfig"], json({{"keep", 1}})) << "nothing to inject: left as written";

  const std::string env = readFile(dir_ / "ADD-first.env");
  for (const std::string& expected : std::vector<std::string>{
           "CNI_COMMAND=ADD\n", "CNI_CONTAINERID=ctr1\n", "CNI_NETNS=/run/netns/ctr1\n",
           "CNI_IFNAME=eth0\n", "CNI_ARGS=IgnoreUnknown=1;K8S_POD_NAME=web\n",
           "CNI_PATH=" + (dir_ / "bin1").string() + ":" + (dir_ / "bin2").string() + "\n"}) {
    EXPECT_NE(env.find(expected), std::string::npos) << expected << " not in\n" << env;
  }

  json cache = json::parse(readFile(cacheFile("ctr1")));
  EXPECT_EQ(cache["result"], *result);
  EXPECT_EQ(cache["containerId"], "ctr1");
  EXPECT_EQ(cache["ifName"], "eth0");
  EXPECT_EQ(cache["networkName"], "net");
}

TEST_F(CniRuntimeTest, UsesTheFirstPluginDirThatHasTheType) {
  writePlugin("bin1", "dup", "cat >/dev/null; echo '{\"from\":\"bin1\"}'\n");
  writePlugin("bin2", "dup", "cat >/dev/null; echo '{\"from\":\"bin2\"}'\n");
  writePlugin("bin2", "only2", "cat >/dev/null; echo '{\"from\":\"bin2\"}'\n");
  CniRuntime runtime = makeRuntime();
  auto dup =
      runtime.add(mustParse(R"({"cniVersion":"1.0.0","name":"net","type":"dup"})"), pod("a"));
  ASSERT_TRUE(dup.ok()) << dup.error().message;
  EXPECT_EQ((*dup)["from"], "bin1");
  auto only =
      runtime.add(mustParse(R"({"cniVersion":"1.0.0","name":"net","type":"only2"})"), pod("b"));
  ASSERT_TRUE(only.ok()) << only.error().message;
  EXPECT_EQ((*only)["from"], "bin2");

  auto missing =
      runtime.add(mustParse(R"({"cniVersion":"1.0.0","name":"net","type":"nope"})"), pod("c"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, Errc::kNotFound);
  EXPECT_NE(missing.error().message.find("nope"), std::string::npos);
}

TEST_F(CniRuntimeTest, DelRunsInReverseWithTheCachedResultAndIsIdempotent) {
  writeRecorder("bin1", "first");
  writeRecorder("bin1", "second");
  auto list = mustParse(R"({"cniVersion": "1.0.0", "name": "net", "plugins": [
      {"type": "first"}, {"type": "second"}]})");
  CniRuntime runtime = makeRuntime();
  auto added = runtime.add(list, pod("ctr1"));
  ASSERT_TRUE(added.ok()) << added.error().message;

  Status deleted = runtime.del(list, pod("ctr1"));
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(log(), "ADD first ctr1\nADD second ctr1\nDEL second ctr1\nDEL first ctr1\n");
  EXPECT_EQ(recorded("DEL-first.conf")["prevResult"], *added);
  EXPECT_EQ(recorded("DEL-second.conf")["prevResult"], *added);
  EXPECT_FALSE(fs::exists(cacheFile("ctr1")));

  // Nothing cached any more: plugins still run (they must tolerate it), without prevResult.
  Status again = runtime.del(list, pod("ctr1"));
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(recorded("DEL-first.conf").contains("prevResult"));
}

TEST_F(CniRuntimeTest, DelBefore040PassesNoPrevResult) {
  writeRecorder("bin1", "first");
  auto list = mustParse(R"({"cniVersion": "0.3.1", "name": "net", "type": "first"})");
  CniRuntime runtime = makeRuntime();
  ASSERT_TRUE(runtime.add(list, pod("ctr1")).ok());
  ASSERT_TRUE(runtime.del(list, pod("ctr1")).ok());
  EXPECT_FALSE(recorded("DEL-first.conf").contains("prevResult"));
}

TEST_F(CniRuntimeTest, CheckUsesTheCachedResultAndHonoursDisableCheck) {
  writeRecorder("bin1", "first");
  auto list =
      mustParse(R"({"cniVersion": "1.0.0", "name": "net", "plugins": [{"type": "first"}]})");
  CniRuntime runtime = makeRuntime();

  Status unknown = runtime.check(list, pod("ctr1"));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, Errc::kNotFound);

  auto added = runtime.add(list, pod("ctr1"));
  ASSERT_TRUE(added.ok()) << added.error().message;
  Status checked = runtime.check(list, pod("ctr1"));
  ASSERT_TRUE(checked.ok()) << checked.error().message;
  EXPECT_EQ(recorded("CHECK-first.conf")["prevResult"], *added);

  fs::remove(dir_ / "CHECK-first.conf");
  list.disableCheck = true;
  ASSERT_TRUE(runtime.check(list, pod("ctr1")).ok());
  EXPECT_FALSE(fs::exists(dir_ / "CHECK-first.conf"));
}

TEST_F(CniRuntimeTest, APluginErrorStopsTheChainAndKeepsItsCniCode) {
  writeRecorder("bin1", "first");
  writePlugin("bin1", "failing", R"(cat >/dev/null
echo '{"cniVersion":"1.0.0","code":7,"msg":"invalid subnet","details":"10.0.0.0/33"}'
exit 1
)");
  writeRecorder("bin1", "third");
  auto list = mustParse(R"({"cniVersion": "1.0.0", "name": "net", "plugins": [
      {"type": "first"}, {"type": "failing"}, {"type": "third"}]})");
  CniRuntime runtime = makeRuntime();
  auto added = runtime.add(list, pod("ctr1"));
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, Errc::kInvalidArgument);
  EXPECT_NE(added.error().message.find("plugin failing ADD failed: CNI error 7: invalid subnet"),
            std::string::npos)
      << added.error().message;
  ASSERT_TRUE(runtime.lastError().has_value());
  EXPECT_EQ(runtime.lastError()->plugin, "failing");
  EXPECT_EQ(runtime.lastError()->code, 7);
  EXPECT_EQ(runtime.lastError()->msg, "invalid subnet");
  EXPECT_EQ(runtime.lastError()->details, "10.0.0.0/33");
  EXPECT_EQ(log(), "ADD first ctr1\n");
  EXPECT_FALSE(fs::exists(cacheFile("ctr1")));

  // A success clears it.
  writeRecorder("bin1", "failing");
  ASSERT_TRUE(runtime.add(list, pod("ctr1")).ok());
  EXPECT_FALSE(runtime.lastError().has_value());
}

TEST_F(CniRuntimeTest, APluginCrashIsReportedWithItsStderr) {
  writePlugin("bin1", "crash", "echo 'panic: nil map' >&2; exit 2\n");
  CniRuntime runtime = makeRuntime();
  auto added =
      runtime.add(mustParse(R"({"cniVersion":"1.0.0","name":"net","type":"crash"})"), pod("a"));
  ASSERT_FALSE(added.ok());
  EXPECT_NE(added.error().message.find("panic: nil map"), std::string::npos);
  ASSERT_TRUE(runtime.lastError().has_value());
  EXPECT_EQ(runtime.lastError()->code, 0);
}

TEST_F(CniRuntimeTest, AHangingPluginTimesOut) {
  writePlugin("bin1", "hang", "sleep 30\n");
  CniRuntime runtime = makeRuntime(300ms);
  auto added =
      runtime.add(mustParse(R"({"cniVersion":"1.0.0","name":"net","type":"hang"})"), pod("a"));
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().code, Errc::kUnavailable);
  EXPECT_NE(added.error().message.find("timed out"), std::string::npos);
}

TEST_F(CniRuntimeTest, RejectsContainerIdsAndIfnamesThatCouldEscapeTheCache) {
  writeRecorder("bin1", "first");
  auto list = mustParse(R"({"cniVersion":"1.0.0","name":"net","type":"first"})");
  CniRuntime runtime = makeRuntime();
  RuntimeConf bad = pod("ctr1");
  bad.containerId = "../../etc";
  EXPECT_EQ(runtime.add(list, bad).error().code, Errc::kInvalidArgument);
  bad = pod("ctr1");
  bad.ifname = "a/b";
  EXPECT_EQ(runtime.del(list, bad).error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir_ / "log"));
}

TEST_F(CniRuntimeTest, GcDeletesStaleCachedAttachmentsThenSendsValidAttachments) {
  writeRecorder("bin1", "first");
  auto list =
      mustParse(R"({"cniVersion": "1.1.0", "name": "net", "plugins": [{"type": "first"}]})");
  CniRuntime runtime = makeRuntime();
  ASSERT_TRUE(runtime.add(list, pod("keep")).ok());
  ASSERT_TRUE(runtime.add(list, pod("stale")).ok());

  Status collected = runtime.gc(list, {{"keep", "eth0"}});
  ASSERT_TRUE(collected.ok()) << collected.error().message;
  EXPECT_EQ(log(), "ADD first keep\nADD first stale\nDEL first stale\nGC first \n");
  EXPECT_TRUE(fs::exists(cacheFile("keep")));
  EXPECT_FALSE(fs::exists(cacheFile("stale")));
  EXPECT_EQ(recorded("DEL-first.conf")["prevResult"]["interfaces"][0]["name"], "first");

  json gc = recorded("GC-first.conf");
  const json expected = json::array({{{"containerID", "keep"}, {"ifname", "eth0"}}});
  EXPECT_EQ(gc["cni.dev/valid-attachments"], expected);
  EXPECT_EQ(gc["cni.dev/attachments"], expected);
  EXPECT_EQ(gc["name"], "net");
  const std::string env = readFile(dir_ / "GC-first.env");
  EXPECT_NE(env.find("CNI_COMMAND=GC\n"), std::string::npos);
  EXPECT_EQ(env.find("CNI_CONTAINERID"), std::string::npos);

  fs::remove(dir_ / "log");
  list.disableGC = true;
  ASSERT_TRUE(runtime.gc(list, {}).ok());
  EXPECT_FALSE(fs::exists(dir_ / "log"));
}

TEST_F(CniRuntimeTest, StatusReportsAPluginThatIsNotReady) {
  writePlugin("bin1", "notready", R"(cat >/dev/null
echo "$CNI_COMMAND" >> "$REC/log"
echo '{"cniVersion":"1.1.0","code":50,"msg":"agent not reachable"}'
exit 1
)");
  CniRuntime runtime = makeRuntime();
  Status down =
      runtime.status(mustParse(R"({"cniVersion":"1.1.0","name":"net","type":"notready"})"));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, Errc::kUnavailable);
  EXPECT_EQ(runtime.lastError()->code, 50);
  EXPECT_EQ(log(), "STATUS\n");

  // 1.0.0 has no STATUS: nothing is run.
  ASSERT_TRUE(
      runtime.status(mustParse(R"({"cniVersion":"1.0.0","name":"net","type":"notready"})")).ok());
  EXPECT_EQ(log(), "STATUS\n");
}

}  // namespace
}  // namespace podnet::runtime
