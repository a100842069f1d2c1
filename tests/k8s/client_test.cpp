// The Kubernetes client against a real etcd 3.6 and kube-apiserver (never recorded answers):
// verbs, lists with pagination, the reflector's watch through bookmarks, 410 Gone, an API server
// crash, creation conflicts and RBAC refusals.
#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "k8s/client.h"
#include "k8s/control_plane.h"
#include "k8s/reflector.h"
#include "support/eventually.h"

namespace podnet::k8s {
namespace {

using testing::ControlPlane;
using Type = WatchEvent::Type;

// One control plane for the suite: starting kube-apiserver takes seconds. Each test works in a
// namespace of its own.
class K8sClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::missingK8sTools().empty()) return;
    plane_ = new ControlPlane();
  }
  static void TearDownTestSuite() {
    delete plane_;
    plane_ = nullptr;
  }

  void SetUp() override {
    std::string missing = testing::missingK8sTools();
    if (!missing.empty()) GTEST_SKIP() << missing;
    ASSERT_TRUE(plane_->ok()) << plane_->error();
    admin_ = std::make_unique<Client>(plane_->config("admin"));
    namespace_ = "t-" + std::to_string(++serial_);
    auto created =
        admin_->create(resourcePath("v1", "namespaces"), {{"metadata", {{"name", namespace_}}}});
    ASSERT_TRUE(created.ok()) << created.error().message;
  }

  std::string configMaps() const { return resourcePath("v1", "configmaps", namespace_); }
  std::string configMap(const std::string& name) const {
    return resourcePath("v1", "configmaps", namespace_, name);
  }
  json newConfigMap(const std::string& name, const std::string& value,
                    const std::map<std::string, std::string>& labels = {}) const {
    json object = {{"metadata", {{"name", name}, {"namespace", namespace_}}},
                   {"data", {{"value", value}}}};
    if (!labels.empty()) object["metadata"]["labels"] = labels;
    return object;
  }
  void createConfigMap(const std::string& name, const std::string& value) {
    auto created = admin_->create(configMaps(), newConfigMap(name, value));
    ASSERT_TRUE(created.ok()) << created.error().message;
  }
  void setValue(const std::string& path, const std::string& value) {
    auto patched = admin_->patch(path, {{"data", {{"value", value}}}});
    ASSERT_TRUE(patched.ok()) << patched.error().message;
  }

  static ControlPlane* plane_;
  static int serial_;
  std::unique_ptr<Client> admin_;
  std::string namespace_;
};

ControlPlane* K8sClientTest::plane_ = nullptr;
int K8sClientTest::serial_ = 0;

// What a reflector delivered: every event, in order, and the view it implies.
class Recorder {
 public:
  WatchHandlers handlers() {
    return {[this](const std::vector<WatchEvent>& batch) {
              std::lock_guard lock(mutex_);
              ++batches_;
              for (const auto& event : batch) {
                std::string name = event.object["metadata"]["name"];
                events_.push_back(std::string(watchEventTypeName(event.type)) + " " + name);
                if (event.type == Type::kDeleted) {
                  view_.erase(name);
                } else {
                  view_[name] = event.object.value("data", json::object()).value("value", "");
                }
              }
            },
            [this](const std::string& version) {
              std::lock_guard lock(mutex_);
              bookmarks_.push_back(version);
            },
            [this](const Error& error) {
              std::lock_guard lock(mutex_);
              errors_.push_back(error.message);
            }};
  }
  std::vector<std::string> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::map<std::string, std::string> view() {
    std::lock_guard lock(mutex_);
    return view_;
  }
  std::vector<std::string> bookmarks() {
    std::lock_guard lock(mutex_);
    return bookmarks_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mutex_);
    return errors_;
  }
  bool has(const std::string& event) {
    auto all = events();
    return std::find(all.begin(), all.end(), event) != all.end();
  }
  // The events after the first n.
  std::vector<std::string> eventsAfter(size_t n) {
    auto all = events();
    return {all.begin() + static_cast<std::ptrdiff_t>(std::min(n, all.size())), all.end()};
  }

 private:
  std::mutex mutex_;
  int batches_ = 0;
  std::vector<std::string> events_;
  std::map<std::string, std::string> view_;
  std::vector<std::string> bookmarks_;
  std::vector<std::string> errors_;
};

// The tools were built with the version ldflags: the API server says which release it is.
TEST_F(K8sClientTest, ApiServerReportsItsRelease) {
  auto version = admin_->get("/version");
  ASSERT_TRUE(version.ok()) << version.error().message;
  EXPECT_EQ(version->value("gitVersion", "").rfind("v1.34.", 0), 0u) << version->dump();
  EXPECT_EQ(version->value("minor", ""), "34") << version->dump();
}

TEST_F(K8sClientTest, GetCreateUpdatePatchDelete) {
  createConfigMap("a", "1");
  auto got = admin_->get(configMap("a"));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ((*got)["data"]["value"], "1");

  json object = *got;
  object["data"]["value"] = "2";
  auto updated = admin_->update(configMap("a"), object);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ((*updated)["data"]["value"], "2");
  // The same update again carries a stale resourceVersion: refused as a conflict.
  auto stale = admin_->update(configMap("a"), object);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, Errc::kConflict) << stale.error().message;
  EXPECT_NE(stale.error().message.find("update configmaps " + namespace_ + "/a"), std::string::npos)
      << stale.error().message;

  setValue(configMap("a"), "3");
  auto patchedJson = admin_->patch(
      configMap("a"), json::array({{{"op", "replace"}, {"path", "/data/value"}, {"value", "4"}}}),
      PatchType::kJson);
  ASSERT_TRUE(patchedJson.ok()) << patchedJson.error().message;
  EXPECT_EQ((*patchedJson)["data"]["value"], "4");

  ASSERT_TRUE(admin_->remove(configMap("a")).ok());
  auto gone = admin_->get(configMap("a"));
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.error().code, Errc::kNotFound);
  EXPECT_EQ(gone.error().message.rfind("not found: get configmaps " + namespace_ + "/a: ", 0), 0u)
      << gone.error().message;
}

TEST_F(K8sClientTest, ListPagesAndSelects) {
  for (int i = 0; i < 5; ++i) {
    auto created = admin_->create(
        configMaps(), newConfigMap("c" + std::to_string(i), "v", {{"odd", i % 2 ? "yes" : "no"}}));
    ASSERT_TRUE(created.ok()) << created.error().message;
  }
  ListOptions page;
  page.limit = 2;
  auto first = admin_->list(configMaps(), page);
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(first->items.size(), 2u);
  EXPECT_FALSE(first->continueToken.empty());
  EXPECT_FALSE(first->resourceVersion.empty());

  auto all = admin_->listAll(configMaps(), {}, 2);
  ASSERT_TRUE(all.ok()) << all.error().message;
  std::set<std::string> names;
  for (const auto& item : all->items) names.insert(item["metadata"]["name"]);
  // The namespace's kube-root-ca.crt needs the controller manager, which does not run here.
  EXPECT_EQ(names, (std::set<std::string>{"c0", "c1", "c2", "c3", "c4"}));

  ListOptions odd;
  odd.labelSelector = "odd=yes";
  auto selected = admin_->list(configMaps(), odd);
  ASSERT_TRUE(selected.ok()) << selected.error().message;
  EXPECT_EQ(selected->items.size(), 2u);
}

TEST_F(K8sClientTest, WatchDeliversAddModifyDelete) {
  createConfigMap("before", "0");
  Recorder recorder;
  Reflector reflector(*admin_, configMaps(), recorder.handlers());
  ASSERT_TRUE(testing::eventually([&] { return reflector.synced(); }));
  EXPECT_EQ(recorder.events(), std::vector<std::string>{"added before"});

  createConfigMap("a", "1");
  setValue(configMap("a"), "2");
  ASSERT_TRUE(admin_->remove(configMap("before")).ok());
  ASSERT_TRUE(testing::eventually([&] { return recorder.events().size() == 4; }))
      << ::testing::PrintToString(recorder.events());
  EXPECT_EQ(recorder.events(),
            (std::vector<std::string>{"added before", "added a", "modified a", "deleted before"}));
  EXPECT_EQ(recorder.view(), (std::map<std::string, std::string>{{"a", "2"}}));
  EXPECT_TRUE(recorder.errors().empty()) << recorder.errors().front();
}

// A bookmark carries the API server's progress where the watch itself sees no event: a change in
// another namespace moves the watch cache on, and the bookmark before the watch's timeout says so.
TEST_F(K8sClientTest, BookmarksArrive) {
  Recorder recorder;
  WatchOptions options;
  // The API server sends a bookmark 2 s before a watch's timeout (and otherwise once a minute).
  options.watchTimeout = std::chrono::seconds(5);
  Reflector reflector(*admin_, configMaps(), recorder.handlers(), options);
  ASSERT_TRUE(testing::eventually([&] { return reflector.synced(); }));
  auto elsewhere = admin_->create(resourcePath("v1", "configmaps", "default"),
                                  {{"metadata", {{"name", "elsewhere-" + namespace_}}}});
  ASSERT_TRUE(elsewhere.ok()) << elsewhere.error().message;
  uint64_t elsewhereVersion =
      std::stoull((*elsewhere)["metadata"]["resourceVersion"].get<std::string>());
  ASSERT_TRUE(testing::eventually(
      [&] {
        auto versions = recorder.bookmarks();
        return !versions.empty() && std::stoull(versions.back()) >= elsewhereVersion;
      },
      std::chrono::seconds(30)));
  EXPECT_FALSE(recorder.has("added elsewhere-" + namespace_));
  // The watch went on after its timeout, from the bookmark, and still delivers.
  createConfigMap("after", "1");
  EXPECT_TRUE(testing::eventually([&] { return recorder.has("added after"); }));
  EXPECT_EQ(reflector.relists(), 0);
}

// The watch is cut (a proxy killed) while objects change and etcd compacts its history: the
// reflector's next watch is answered 410 Gone, it lists again and delivers only the difference.
TEST_F(K8sClientTest, GoneIsHandledByARelistThatDeliversOnlyTheDifference) {
  // podtemplates: the control plane runs them without a watch cache, so a watch reaches etcd.
  std::string templates = resourcePath("v1", "podtemplates", namespace_);
  auto podTemplate = [&](const std::string& name, const std::string& value) {
    return json{{"metadata", {{"name", name}, {"labels", {{"v", value}}}}},
                {"template", {{"spec", {{"containers", {{{"name", "c"}, {"image", "i"}}}}}}}}};
  };
  for (const char* name : {"keep", "change", "drop"}) {
    ASSERT_TRUE(admin_->create(templates, podTemplate(name, "1")).ok());
  }

  int proxyPort = testing::freeLoopbackPort();
  std::string proxyLog = plane_->dir() + "/proxy.log";
  std::vector<std::string> proxyArgs{
      "/usr/bin/socat",
      "TCP-LISTEN:" + std::to_string(proxyPort) + ",bind=127.0.0.1,reuseaddr,fork",
      "TCP:127.0.0.1:" + std::to_string(plane_->apiPort())};
  testing::ChildProcess proxy;
  ASSERT_TRUE(proxy.start(proxyArgs, proxyLog));
  ClientConfig viaProxy = plane_->config("admin");
  viaProxy.server = "https://127.0.0.1:" + std::to_string(proxyPort);
  Client client(viaProxy);

  std::vector<std::string> events;
  std::mutex mutex;
  WatchHandlers handlers;
  handlers.onEvents = [&](const std::vector<WatchEvent>& batch) {
    std::lock_guard lock(mutex);
    for (const auto& event : batch) {
      events.push_back(std::string(watchEventTypeName(event.type)) + " " +
                       event.object["metadata"]["name"].get<std::string>());
    }
  };
  auto seen = [&] {
    std::lock_guard lock(mutex);
    return events;
  };
  Reflector reflector(client, templates, handlers);
  ASSERT_TRUE(testing::eventually([&] { return seen().size() == 3; }))
      << ::testing::PrintToString(seen());

  proxy.kill();  // the watch's connection breaks; reconnections fail while the proxy is down
  ASSERT_TRUE(admin_
                  ->patch(resourcePath("v1", "podtemplates", namespace_, "change"),
                          {{"metadata", {{"labels", {{"v", "2"}}}}}})
                  .ok());
  ASSERT_TRUE(admin_->remove(resourcePath("v1", "podtemplates", namespace_, "drop")).ok());
  ASSERT_TRUE(admin_->create(templates, podTemplate("new", "1")).ok());
  ASSERT_TRUE(plane_->compactEtcd()) << plane_->error();
  ASSERT_TRUE(proxy.start(proxyArgs, proxyLog));

  ASSERT_TRUE(testing::eventually([&] { return reflector.relists() >= 1 && seen().size() >= 6; }))
      << "relists " << reflector.relists() << ", events " << ::testing::PrintToString(seen());
  auto after = seen();
  std::vector<std::string> difference(after.begin() + 3, after.end());
  std::sort(difference.begin(), difference.end());
  EXPECT_EQ(difference, (std::vector<std::string>{"added new", "deleted drop", "modified change"}));
}

// kube-apiserver is SIGKILLed and started again: the watch resumes (relisting if its revision is
// gone) and no change is lost, neither those made just before the crash nor those right after.
TEST_F(K8sClientTest, WatchSurvivesAnApiServerCrash) {
  Recorder recorder;
  Reflector reflector(*admin_, configMaps(), recorder.handlers());
  ASSERT_TRUE(testing::eventually([&] { return reflector.synced(); }));
  createConfigMap("a", "1");
  createConfigMap("b", "1");
  plane_->killApiServer();
  ASSERT_TRUE(testing::eventually([&] { return !recorder.errors().empty(); }))
      << "the crash is reported";
  ASSERT_TRUE(plane_->startApiServer()) << plane_->error();
  setValue(configMap("a"), "2");
  ASSERT_TRUE(admin_->remove(configMap("b")).ok());
  createConfigMap("c", "1");

  std::map<std::string, std::string> expected{{"a", "2"}, {"c", "1"}};
  EXPECT_TRUE(
      testing::eventually([&] { return recorder.view() == expected; }, std::chrono::seconds(60)))
      << ::testing::PrintToString(recorder.events());
  EXPECT_NE(recorder.errors().front().find("watch configmaps in namespace " + namespace_),
            std::string::npos)
      << recorder.errors().front();
}

// Names are unique: the second create of one name fails as AlreadyExists, which lock-free
// allocation (one object per address) relies on.
TEST_F(K8sClientTest, CreatingAnExistingNameIsAlreadyExists) {
  createConfigMap("10.0.0.5", "node-a");
  auto second = admin_->create(configMaps(), newConfigMap("10.0.0.5", "node-b"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(second.error().message.rfind(
                "already exists: create configmaps in namespace " + namespace_ + ": ", 0),
            0u)
      << second.error().message;
  auto kept = admin_->get(configMap("10.0.0.5"));
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ((*kept)["data"]["value"], "node-a");
}

TEST_F(K8sClientTest, RbacRefusalNamesVerbAndResource) {
  Client nobody(plane_->config("nobody"));
  auto listed = nobody.list(resourcePath("networking.k8s.io/v1", "networkpolicies"));
  ASSERT_FALSE(listed.ok());
  EXPECT_EQ(listed.error().code, Errc::kPermissionDenied);
  EXPECT_EQ(listed.error().message.rfind("forbidden: list networkpolicies at cluster scope: ", 0),
            0u)
      << listed.error().message;
  EXPECT_NE(listed.error().message.find("User \"nobody\""), std::string::npos)
      << listed.error().message;

  // A reflector reports the refusal and keeps trying.
  Recorder recorder;
  Reflector reflector(nobody, resourcePath("v1", "pods", namespace_), recorder.handlers());
  ASSERT_TRUE(testing::eventually([&] { return !recorder.errors().empty(); }));
  EXPECT_EQ(recorder.errors().front().rfind("forbidden: list pods in namespace " + namespace_, 0),
            0u)
      << recorder.errors().front();
  EXPECT_FALSE(reflector.synced());
}

// A service account's token, used as in a pod: the in-cluster configuration authenticates.
TEST_F(K8sClientTest, InClusterConfigAuthenticatesWithAServiceAccountToken) {
  ASSERT_TRUE(admin_
                  ->create(resourcePath("v1", "serviceaccounts", namespace_),
                           {{"metadata", {{"name", "agent"}}}})
                  .ok());
  auto token = admin_->create(resourcePath("v1", "serviceaccounts", namespace_, "agent") + "/token",
                              {{"apiVersion", "authentication.k8s.io/v1"},
                               {"kind", "TokenRequest"},
                               {"spec", {{"expirationSeconds", 3600}}}});
  ASSERT_TRUE(token.ok()) << token.error().message;
  std::string account = plane_->dir() + "/account-" + namespace_;
  std::filesystem::create_directories(account);
  std::ofstream(account + "/token") << (*token)["status"]["token"].get<std::string>();
  std::filesystem::copy_file(plane_->dir() + "/ca.crt", account + "/ca.crt");

  auto config = inClusterConfig({{"KUBERNETES_SERVICE_HOST", "127.0.0.1"},
                                 {"KUBERNETES_SERVICE_PORT", std::to_string(plane_->apiPort())}},
                                account);
  ASSERT_TRUE(config.ok()) << config.error().message;
  Client agent(*config);
  auto refused = agent.list(resourcePath("v1", "nodes"));
  ASSERT_FALSE(refused.ok());
  // Authenticated (not 401) as the service account, which has no rights.
  EXPECT_NE(refused.error().message.find("system:serviceaccount:" + namespace_ + ":agent"),
            std::string::npos)
      << refused.error().message;
}

}  // namespace
}  // namespace podnet::k8s
