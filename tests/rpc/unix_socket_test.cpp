#include "rpc/unix_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "rpc/frame.h"

namespace podnet::rpc {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class UnixSocketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "podnet-rpc-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs a server answering {"echo": request} on its own thread until the test ends.
  Server& start(const std::string& path, Handler handler = echo) {
    auto server = Server::listen(path, std::move(handler));
    EXPECT_TRUE(server.ok()) << server.error().message;
    server_ = std::make_unique<Server>(std::move(*server));
    thread_ = std::thread([this] { server_->serve(); });
    return *server_;
  }
  void stopServer() {
    if (!server_) return;
    server_->stop();
    thread_.join();
    server_.reset();
  }
  ~UnixSocketTest() override { stopServer(); }

  static json echo(const json& request) { return json{{"ok", true}, {"echo", request}}; }

  fs::path dir_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(UnixSocketTest, CallGetsTheHandlersAnswer) {
  std::string path = (dir_ / "run/podnet/podnetd.sock").string();  // parents are created
  start(path);
  auto answer = call(path, json{{"op", "cni"}, {"n", 1}});
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ(*answer, json::parse(R"({"ok": true, "echo": {"op": "cni", "n": 1}})"));
}

TEST_F(UnixSocketTest, SocketIsOwnerOnlyAndParentIs0755) {
  std::string path = (dir_ / "sub/podnetd.sock").string();
  start(path);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  ASSERT_EQ(::stat((dir_ / "sub").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(UnixSocketTest, ConcurrentCallsAreAllAnswered) {
  std::string path = (dir_ / "podnetd.sock").string();
  start(path, [](const json& req) {
    std::this_thread::yield();
    return json{{"ok", true}, {"id", req["id"]}};
  });
  constexpr int kThreads = 64;
  std::atomic<int> right{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      for (int j = 0; j < 5; ++j) {
        auto answer = call(path, json{{"id", i * 100 + j}});
        if (answer.ok() && (*answer)["id"] == i * 100 + j) ++right;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(right.load(), kThreads * 5);
}

TEST_F(UnixSocketTest, MissingSocketIsUnavailableNamingThePath) {
  std::string path = (dir_ / "nobody.sock").string();
  auto answer = call(path, json::object());
  ASSERT_FALSE(answer.ok());
  EXPECT_EQ(answer.error().code, Errc::kUnavailable);
  EXPECT_NE(answer.error().message.find(path), std::string::npos) << answer.error().message;
  EXPECT_NE(answer.error().message.find("No such file or directory"), std::string::npos)
      << answer.error().message;
}

TEST_F(UnixSocketTest, BadJsonIsAnsweredWithCode6WithoutTheHandler) {
  std::string path = (dir_ / "podnetd.sock").string();
  std::atomic<int> handled{0};
  start(path, [&](const json&) {
    ++handled;
    return json{{"ok", true}};
  });
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  ASSERT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_TRUE(writeFrame(fd.get(), "{not json").ok());
  auto answer = readFrame(fd.get());
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  json j = json::parse(*answer);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["error"]["code"], 6);
  EXPECT_EQ(handled.load(), 0);
}

TEST_F(UnixSocketTest, ThrowingHandlerIsAnsweredAndTheServerLives) {
  std::string path = (dir_ / "podnetd.sock").string();
  start(path, [](const json& req) -> json {
    if (req["boom"] == true) throw std::runtime_error("kaboom");
    return json{{"ok", true}};
  });
  auto answer = call(path, json{{"boom", true}});
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ((*answer)["error"]["code"], 5);
  EXPECT_NE((*answer)["error"]["msg"].get<std::string>().find("kaboom"), std::string::npos);
  answer = call(path, json{{"boom", false}});
  ASSERT_TRUE(answer.ok()) << answer.error().message;
  EXPECT_EQ((*answer)["ok"], true);
}

TEST_F(UnixSocketTest, StaleSocketIsReplacedButALiveServerIsNot) {
  std::string path = (dir_ / "podnetd.sock").string();
  {
    // A socket file nobody listens on, as a crashed agent leaves it.
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  start(path);
  EXPECT_TRUE(call(path, json::object()).ok());

  auto second = Server::listen(path, echo);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, Errc::kAlreadyExists);
  EXPECT_TRUE(call(path, json::object()).ok()) << "the live server's socket must survive";
}

TEST_F(UnixSocketTest, RefusesToReplaceARegularFile) {
  std::string path = (dir_ / "file").string();
  { std::ofstream(path) << "data"; }
  auto server = Server::listen(path, echo);
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.error().code, Errc::kAlreadyExists);
  EXPECT_TRUE(fs::is_regular_file(path));
}

TEST_F(UnixSocketTest, StopWaitsForInFlightHandlersAndDestructionRemovesTheSocket) {
  std::string path = (dir_ / "podnetd.sock").string();
  std::atomic<bool> entered{false}, release{false}, finished{false};
  start(path, [&](const json&) {
    entered = true;
    while (!release) std::this_thread::yield();
    finished = true;
    return json{{"ok", true}};
  });
  std::thread client([&] { EXPECT_TRUE(call(path, json::object()).ok()); });
  while (!entered) std::this_thread::yield();
  std::thread releaser([&] {
    std::this_thread::yield();
    release = true;
  });
  stopServer();
  EXPECT_TRUE(finished.load()) << "stop() returned before the handler finished";
  client.join();
  releaser.join();
  EXPECT_FALSE(fs::exists(path));
}

}  // namespace
}  // namespace podnet::rpc
