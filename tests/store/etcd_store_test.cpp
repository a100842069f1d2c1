#include "store/etcd_store.h"

#include <gtest/gtest.h>

#include <thread>

#include "store/etcd_server.h"
#include "store/event_log.h"
#include "store/store_backend.h"

namespace podnet::store {
namespace {

using podnet::testing::describe;
using podnet::testing::EtcdServer;
using podnet::testing::EventLog;
using podnet::testing::StoreSemanticsTest;
using podnet::testing::WatchSemanticsTest;
using Strings = std::vector<std::string>;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kTimeout{5000};

std::unique_ptr<EtcdStore> connectTo(const std::string& endpoint, milliseconds timeout = kTimeout) {
  auto connected = EtcdStore::connect({endpoint}, timeout);
  EXPECT_TRUE(connected.ok()) << connected.error().message;
  return connected ? std::move(connected).value() : nullptr;
}

class EtcdBackend final : public podnet::testing::StoreBackend {
 public:
  std::unique_ptr<Store> connect() override {
    if (server_.endpoint().empty()) return nullptr;
    return connectTo(server_.endpoint());
  }

 private:
  EtcdServer server_;
};

const podnet::testing::BackendParam kEtcd{"etcd", [] { return std::make_unique<EtcdBackend>(); }};
INSTANTIATE_TEST_SUITE_P(Etcd, StoreSemanticsTest, ::testing::Values(kEtcd),
                         podnet::testing::backendName);
INSTANTIATE_TEST_SUITE_P(Etcd, WatchSemanticsTest, ::testing::Values(kEtcd),
                         podnet::testing::backendName);

class EtcdStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(server_.endpoint().empty());
    store_ = connectTo(server_.endpoint());
    ASSERT_NE(store_, nullptr);
  }

  int64_t put(const std::string& key, const std::string& value, int64_t lease = 0) {
    auto r = store_->txn({}, {Op::put(key, value, lease)});
    EXPECT_TRUE(r.ok() && r->succeeded) << (r.ok() ? "compare failed" : r.error().message);
    return r ? r->revision : -1;
  }

  std::unique_ptr<Watch> watch(const std::string& prefix, int64_t after, EventLog& log) {
    auto w = store_->watch(prefix, after, log.onEvents(), log.onError());
    EXPECT_TRUE(w.ok()) << w.error().message;
    return w ? std::move(w).value() : nullptr;
  }

  EtcdServer server_;
  std::unique_ptr<EtcdStore> store_;
};

TEST_F(EtcdStoreTest, AFreshClusterStartsAtRevisionOne) {
  EXPECT_EQ(*store_->revision(), 1);
  EXPECT_EQ(put("/a", "1"), 2);
}

TEST(EtcdConnectTest, UnreachableEtcdIsUnavailableAndNamesTheEndpoint) {
  // A port nothing listens on: bound for the test and never listened on.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string endpoint = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  auto connected = EtcdStore::connect({"http://" + endpoint}, milliseconds(300));
  ::close(fd);
  ASSERT_FALSE(connected.ok());
  EXPECT_EQ(connected.error().code, Errc::kUnavailable);
  EXPECT_NE(connected.error().message.find("etcd http://" + endpoint), std::string::npos)
      << connected.error().message;
}

TEST(EtcdConnectTest, RejectsEndpointsItCannotUse) {
  auto tls = EtcdStore::connect({"https://127.0.0.1:2379"}, milliseconds(100));
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.error().code, Errc::kUnsupported);
  auto names = EtcdStore::connect({"etcd-a:2379", "etcd-b:2379"}, milliseconds(100));
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.error().code, Errc::kInvalidArgument);
  auto noPort = EtcdStore::connect({"127.0.0.1"}, milliseconds(100));
  ASSERT_FALSE(noPort.ok());
  EXPECT_EQ(noPort.error().code, Errc::kInvalidArgument);
}

TEST_F(EtcdStoreTest, CallsFailWhileEtcdIsDownAndWorkAgainAfterItRestarts) {
  int64_t rev = put("/a", "1");
  auto impatient = connectTo(server_.endpoint(), milliseconds(300));
  ASSERT_NE(impatient, nullptr);
  server_.stop();
  auto down = impatient->get("/a");
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.error().code, Errc::kUnavailable);
  EXPECT_NE(down.error().message.find("get /a"), std::string::npos) << down.error().message;
  ASSERT_TRUE(server_.start());
  // The same connections, no reconnect by the caller.
  auto got = store_->get("/a");
  ASSERT_TRUE(got.ok()) << got.error().message;
  ASSERT_TRUE(got->has_value());
  EXPECT_EQ((*got)->value, "1");
  EXPECT_EQ((*got)->modRevision, rev);
  EXPECT_EQ(put("/b", "2"), rev + 1);
}

TEST_F(EtcdStoreTest, WatchResumesAcrossAnEtcdRestartWithoutLosingOrRepeatingEvents) {
  EventLog log;
  auto w = watch("/n/", *store_->revision(), log);
  Strings expected;
  for (const char* key : {"/n/a", "/n/b", "/n/c"}) {
    expected.push_back("put " + std::string(key) + "=1@" + std::to_string(put(key, "1")));
  }
  ASSERT_EQ(describe(log.waitFor(3)), expected);
  server_.stop();
  ASSERT_TRUE(server_.start());
  // Written at once, while the watch is still reconnecting: it must catch up from its revision.
  for (const char* key : {"/n/d", "/n/a", "/n/e"}) {
    expected.push_back("put " + std::string(key) + "=2@" + std::to_string(put(key, "2")));
  }
  auto del = store_->txn({}, {Op::del("/n/b")});
  ASSERT_TRUE(del.ok());
  expected.push_back("delete /n/b@" + std::to_string(del->revision));
  EXPECT_EQ(describe(log.waitFor(expected.size())), expected);
  // And nothing more comes in behind them: a later event is the very next one.
  expected.push_back("put /n/f=3@" + std::to_string(put("/n/f", "3")));
  EXPECT_EQ(describe(log.waitFor(expected.size())), expected);
}

TEST_F(EtcdStoreTest, AWatchWaitingForEtcdCanBeDestroyed) {
  EventLog log;
  auto w = watch("/n/", *store_->revision(), log);
  server_.stop();
  w.reset();  // returns: the reconnecting stream is cancelled, not waited out
  EXPECT_TRUE(log.events().empty());
}

TEST_F(EtcdStoreTest, WatchFromACompactedRevisionIsAConflict) {
  int64_t first = put("/n/a", "1");
  put("/n/a", "2");
  int64_t last = put("/n/a", "3");
  ASSERT_TRUE(store_->compact(last).ok());
  EventLog log;
  auto w = watch("/n/", first, log);
  auto error = log.waitForError();
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, Errc::kConflict);
  EXPECT_NE(error->message.find("compacted"), std::string::npos) << error->message;
  // Listing and watching from the revision the list saw works.
  EventLog fresh;
  auto w2 = watch("/n/", last, fresh);
  int64_t next = put("/n/b", "4");
  EXPECT_EQ(describe(fresh.waitFor(1)), (Strings{"put /n/b=4@" + std::to_string(next)}));
}

TEST_F(EtcdStoreTest, AKeyWithALeaseIsDeletedWhenTheLeaseExpires) {
  auto lease = store_->grantLease(seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  EventLog log;
  auto w = watch("/nodes/", *store_->revision(), log);
  int64_t created = put("/nodes/n1", "up", *lease);
  auto events = log.waitFor(2);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(describe(events[0]), "put /nodes/n1=up@" + std::to_string(created));
  EXPECT_EQ(events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[1].kv.key, "/nodes/n1");
  EXPECT_GT(events[1].kv.modRevision, created);
  EXPECT_FALSE(store_->get("/nodes/n1")->has_value());
  auto expired = store_->keepAlive(*lease);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, Errc::kNotFound);
}

TEST_F(EtcdStoreTest, KeepAliveKeepsALeaseAndRevokeDeletesItsKeys) {
  auto lease = store_->grantLease(seconds(2));
  ASSERT_TRUE(lease.ok()) << lease.error().message;
  put("/nodes/n1", "up", *lease);
  // Twice the ttl, refreshed as an agent would.
  for (int i = 0; i < 8; ++i) {
    std::this_thread::sleep_for(milliseconds(500));
    auto kept = store_->keepAlive(*lease);
    ASSERT_TRUE(kept.ok()) << kept.error().message;
  }
  EXPECT_TRUE(store_->get("/nodes/n1")->has_value());
  EventLog log;
  auto w = watch("/nodes/", *store_->revision(), log);
  ASSERT_TRUE(store_->revokeLease(*lease).ok());
  auto events = log.waitFor(1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].type, WatchEvent::Type::kDelete);
  EXPECT_FALSE(store_->get("/nodes/n1")->has_value());
}

}  // namespace
}  // namespace podnet::store
