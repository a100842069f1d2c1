#include "ipam/allocator.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "store/sqlite_store.h"
#include "support/temp_dir.h"

namespace podnet::ipam {
namespace {

using store::Compare;
using store::Op;

Ipv4 ip(const char* text) {
  return *Ipv4::parse(text);
}

Pool makePool(const char* cidr, const char* name = "default", std::vector<IpRange> exclude = {}) {
  PoolConfig c;
  c.name = name;
  c.cidr = *Ipv4Prefix::parse(cidr);
  c.exclude = std::move(exclude);
  auto pool = Pool::create(c);
  EXPECT_TRUE(pool.ok()) << pool.error().message;
  return *pool;
}

std::vector<Op> noOps(Ipv4) {
  return {};
}

std::string attachKey(const std::string& owner) {
  return "/podnet/test/attach/" + owner;
}

// The caller's attachment record, written in the same transaction as the reservation.
std::function<std::vector<Op>(Ipv4)> attach(const std::string& owner) {
  return [owner](Ipv4 ip) { return std::vector<Op>{Op::put(attachKey(owner), ip.str())}; };
}

std::unique_ptr<store::SqliteStore> openStore(const std::string& path) {
  auto opened = store::SqliteStore::open(path);
  EXPECT_TRUE(opened.ok()) << opened.error().message;
  return opened ? std::move(opened).value() : nullptr;
}

class AllocatorTest : public ::testing::Test {
 protected:
  testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_ = openStore(dir_.path() + "/podnet.db");
};

TEST_F(AllocatorTest, ReservationKeyNamesPoolAndAddress) {
  EXPECT_EQ(reservationKey(makePool("10.244.0.0/16", "blue"), ip("10.244.3.4")),
            "/podnet/ipam/blue/10.244.3.4");
}

TEST_F(AllocatorTest, HandsOutDistinctAddressesAfterTheGatewayWithTheOwnerRecorded) {
  Allocator allocator(*store_, makePool("10.244.0.0/16"));
  auto first = allocator.allocate("net/c1/eth0", {}, attach("net/c1/eth0"));
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_EQ(*first, ip("10.244.0.2"));
  auto second = allocator.allocate("net/c2/eth0", {}, attach("net/c2/eth0"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, ip("10.244.0.3"));

  auto reservation = **store_->get("/podnet/ipam/default/10.244.0.2");
  EXPECT_EQ(reservation.value, "net/c1/eth0");
  // The attachment record was written by the same transaction.
  auto record = **store_->get(attachKey("net/c1/eth0"));
  EXPECT_EQ(record.value, "10.244.0.2");
  EXPECT_EQ(record.modRevision, reservation.modRevision);
}

TEST_F(AllocatorTest, ReservationsAreSortedByAddress) {
  Allocator allocator(*store_, makePool("10.0.0.0/24"));
  for (int i = 0; i < 12; ++i) {
    ASSERT_TRUE(allocator.allocate("o" + std::to_string(i), {}, noOps).ok());
  }
  auto held = allocator.reservations();
  ASSERT_TRUE(held.ok());
  ASSERT_EQ(held->size(), 12u);
  for (size_t i = 0; i < held->size(); ++i) {
    EXPECT_EQ((*held)[i].first, Ipv4{ip("10.0.0.2").value + static_cast<uint32_t>(i)});
    EXPECT_EQ((*held)[i].second, "o" + std::to_string(i));
  }
}

TEST_F(AllocatorTest, NeverHandsOutExcludedAddressesAndFillsTheRest) {
  Pool pool = makePool("10.0.0.0/28", "default",
                       {*IpRange::parse("10.0.0.3..10.0.0.5"), *IpRange::parse("10.0.0.9")});
  ASSERT_EQ(pool.capacity(), 16u - 3 - 4);
  Allocator allocator(*store_, pool);
  std::set<Ipv4> got;
  for (uint64_t i = 0; i < pool.capacity(); ++i) {
    auto a = allocator.allocate("o" + std::to_string(i), {}, noOps);
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_TRUE(pool.usable(*a)) << a->str();
    got.insert(*a);
  }
  EXPECT_EQ(got.size(), pool.capacity());
  auto full = allocator.allocate("one-too-many", {}, noOps);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, Errc::kExhausted);
}

TEST_F(AllocatorTest, ExhaustedSlash30NamesThePool) {
  Allocator allocator(*store_, makePool("192.168.7.4/30", "tiny"));
  auto only = allocator.allocate("a", {}, noOps);
  ASSERT_TRUE(only.ok());
  EXPECT_EQ(*only, ip("192.168.7.6"));
  int64_t revision = *store_->revision();
  auto none = allocator.allocate("b", {}, attach("b"));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.error().code, Errc::kExhausted);
  EXPECT_EQ(none.error().message, "pool tiny (192.168.7.4/30): no free address (1 in use)");
  EXPECT_EQ(*store_->revision(), revision);
  EXPECT_FALSE(store_->get(attachKey("b"))->has_value());
}

TEST_F(AllocatorTest, PoolsSharingAStoreDoNotSeeEachOther) {
  Allocator tiny(*store_, makePool("192.168.7.4/30", "tiny"));
  Allocator tiny2(*store_, makePool("192.168.7.4/30", "tiny2"));
  ASSERT_TRUE(tiny.allocate("a", {}, noOps).ok());
  auto other = tiny2.allocate("b", {}, noOps);
  ASSERT_TRUE(other.ok()) << other.error().message;
  EXPECT_EQ(tiny.reservations()->size(), 1u);
}

TEST_F(AllocatorTest, ReleasedAddressIsNotReusedAtOnce) {
  Allocator allocator(*store_, makePool("10.0.0.0/24"));
  auto a = allocator.allocate("a", {}, noOps);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(allocator.release(*a, "a").ok());
  auto b = allocator.allocate("b", {}, noOps);
  ASSERT_TRUE(b.ok());
  EXPECT_NE(*b, *a);
  EXPECT_EQ(*b, Ipv4{a->value + 1});
}

TEST_F(AllocatorTest, CursorWrapsAroundToFreedAddresses) {
  Pool pool = makePool("10.0.0.0/29");  // usable: .2 .. .6
  Allocator allocator(*store_, pool);
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(allocator.allocate("o" + std::to_string(i), {}, noOps).ok());
  ASSERT_TRUE(allocator.release(ip("10.0.0.3"), "o1").ok());
  auto again = allocator.allocate("late", {}, noOps);
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(*again, ip("10.0.0.3"));
}

TEST_F(AllocatorTest, AllocatorsSharingAStoreContinueFromEachOther) {
  Pool pool = makePool("10.0.0.0/24");
  Allocator one(*store_, pool);
  Allocator two(*store_, pool);
  EXPECT_EQ(*one.allocate("a", {}, noOps), ip("10.0.0.2"));
  EXPECT_EQ(*two.allocate("b", {}, noOps), ip("10.0.0.3"));
  EXPECT_EQ(*one.allocate("c", {}, noOps), ip("10.0.0.4"));
}

TEST_F(AllocatorTest, ReleaseByAnotherOwnerKeepsTheReservationButAppliesAlsoOps) {
  Allocator allocator(*store_, makePool("10.0.0.0/24"));
  auto a = allocator.allocate("owner", {}, noOps);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(store_->txn({}, {Op::put(attachKey("intruder"), "x")}).ok());
  auto released = allocator.release(*a, "intruder", {Op::del(attachKey("intruder"))});
  ASSERT_TRUE(released.ok()) << released.error().message;
  auto held = allocator.reservations();
  ASSERT_EQ(held->size(), 1u);
  EXPECT_EQ((*held)[0], std::make_pair(*a, std::string("owner")));
  EXPECT_FALSE(store_->get(attachKey("intruder"))->has_value());
}

TEST_F(AllocatorTest, ReleaseByTheOwnerFreesTogetherWithAlsoOps) {
  Allocator allocator(*store_, makePool("10.0.0.0/24"));
  auto a = allocator.allocate("owner", {}, attach("owner"));
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(allocator.release(*a, "owner", {Op::del(attachKey("owner"))}).ok());
  EXPECT_TRUE(allocator.reservations()->empty());
  EXPECT_FALSE(store_->get(attachKey("owner"))->has_value());
}

TEST_F(AllocatorTest, ReleaseOfAMissingReservationSucceedsAndAppliesAlsoOps) {
  Allocator allocator(*store_, makePool("10.0.0.0/24"));
  ASSERT_TRUE(store_->txn({}, {Op::put(attachKey("gone"), "10.0.0.9")}).ok());
  auto released = allocator.release(ip("10.0.0.9"), "gone", {Op::del(attachKey("gone"))});
  ASSERT_TRUE(released.ok()) << released.error().message;
  EXPECT_FALSE(store_->get(attachKey("gone"))->has_value());
}

TEST_F(AllocatorTest, FailingAlsoCompareWritesNothing) {
  Allocator allocator(*store_, makePool("10.0.0.0/24"));
  ASSERT_TRUE(store_->txn({}, {Op::put(attachKey("c1"), "10.0.0.50")}).ok());
  int64_t revision = *store_->revision();
  auto a = allocator.allocate("c1", {Compare::absent(attachKey("c1"))}, attach("c1"));
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, Errc::kAlreadyExists);
  EXPECT_EQ(a.error().message, "precondition failed");
  EXPECT_EQ(*store_->revision(), revision);
  EXPECT_TRUE(allocator.reservations()->empty());
  EXPECT_EQ((**store_->get(attachKey("c1"))).value, "10.0.0.50");
}

TEST_F(AllocatorTest, HoldingAlsoCompareStillRetriesPastATakenAddress) {
  Pool pool = makePool("10.0.0.0/24");
  Allocator allocator(*store_, pool);
  auto a = allocator.allocate("a", {Compare::absent(attachKey("a"))}, attach("a"));
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(*a, ip("10.0.0.2"));
}

// Many agents (one Allocator each) on one store, all at once: no address is handed out twice.
TEST_F(AllocatorTest, SixtyFourConcurrentAllocatorsGetDistinctAddresses) {
  constexpr int kThreads = 64;
  Pool pool = makePool("10.244.0.0/16");
  std::vector<Result<Ipv4>> got(kThreads, makeError(Errc::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Allocator allocator(*store_, pool);
      std::string owner = "net/c" + std::to_string(t) + "/eth0";
      got[t] = allocator.allocate(owner, {Compare::absent(attachKey(owner))}, attach(owner));
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<Ipv4> distinct;
  for (const auto& r : got) {
    ASSERT_TRUE(r.ok()) << r.error().message;
    distinct.insert(*r);
  }
  EXPECT_EQ(distinct.size(), size_t{kThreads});
  EXPECT_EQ(Allocator(*store_, pool).reservations()->size(), size_t{kThreads});
}

// Threads sharing one Allocator (one agent serving many CNI requests).
TEST_F(AllocatorTest, SixtyFourThreadsOnOneAllocatorGetDistinctAddresses) {
  constexpr int kThreads = 64;
  Allocator allocator(*store_, makePool("10.244.0.0/16"));
  std::vector<Result<Ipv4>> got(kThreads, makeError(Errc::kInternal, "not run"));
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back(
        [&, t] { got[t] = allocator.allocate("c" + std::to_string(t), {}, noOps); });
  }
  for (auto& thread : threads) thread.join();
  std::set<Ipv4> distinct;
  for (const auto& r : got) {
    ASSERT_TRUE(r.ok()) << r.error().message;
    distinct.insert(*r);
  }
  EXPECT_EQ(distinct.size(), size_t{kThreads});
}

// The child allocates in a loop and reports each address only after allocate returned; it is
// SIGKILLed mid-run. Whatever it reported must still be reserved after reopening the file.
[[noreturn]] void allocateUntilKilled(const std::string& path, int round, int reportFd) {
  auto opened = store::SqliteStore::open(path);
  if (!opened) _exit(2);
  Allocator allocator(**opened, makePool("10.244.0.0/16"));
  for (int i = 0; i < 60000; ++i) {
    std::string owner = "crash/" + std::to_string(round) + "/" + std::to_string(i);
    auto a = allocator.allocate(owner, {Compare::absent(attachKey(owner))}, attach(owner));
    if (!a) _exit(3);
    std::string line = a->str() + " " + owner + "\n";
    if (write(reportFd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
  }
  _exit(0);
}

std::string integrityCheck(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE, nullptr);
  store::SqliteDb db(raw);
  if (rc != SQLITE_OK) return "open failed";
  std::string result;
  auto collect = [](void* out, int, char** values, char**) {
    *static_cast<std::string*>(out) += values[0] ? values[0] : "NULL";
    return 0;
  };
  if (sqlite3_exec(db.get(), "PRAGMA integrity_check", collect, &result, nullptr) != SQLITE_OK) {
    return sqlite3_errmsg(db.get());
  }
  return result;
}

TEST(AllocatorCrashTest, KilledAllocatorLosesNoReportedAddress) {
  testing::TempDir dir;
  std::string path = dir.path() + "/podnet.db";
  std::map<Ipv4, std::string> reported;  // ip -> owner, across all rounds
  for (int round = 0; round < 4; ++round) {
    int fds[2];
    ASSERT_EQ(pipe2(fds, O_CLOEXEC), 0);
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      close(fds[0]);
      allocateUntilKilled(path, round, fds[1]);
    }
    close(fds[1]);
    FILE* reports = fdopen(fds[0], "r");
    ASSERT_NE(reports, nullptr);
    char ipText[32], owner[64];
    int thisRound = 0;
    bool killed = false;
    while (fscanf(reports, "%31s %63s", ipText, owner) == 2) {
      auto [it, fresh] = reported.emplace(ip(ipText), owner);
      EXPECT_TRUE(fresh) << ipText << " reported twice";
      if (++thisRound == 50 + 10 * round && !killed) {
        kill(child, SIGKILL);
        killed = true;  // keep reading what the child wrote before it died
      }
    }
    fclose(reports);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "child status " << status;

    EXPECT_EQ(integrityCheck(path), "ok");
    auto store = openStore(path);
    ASSERT_NE(store, nullptr);
    auto held = Allocator(*store, makePool("10.244.0.0/16")).reservations();
    ASSERT_TRUE(held.ok());
    std::map<Ipv4, std::string> reserved(held->begin(), held->end());
    EXPECT_GE(reserved.size(), reported.size());
    for (const auto& [address, who] : reported) {
      auto it = reserved.find(address);
      ASSERT_NE(it, reserved.end()) << address.str() << " was reported but is not reserved";
      EXPECT_EQ(it->second, who);
    }
    // Reservation and attachment record were one transaction: each has the other.
    auto records = store->list("/podnet/test/attach/");
    ASSERT_TRUE(records.ok());
    EXPECT_EQ(records->size(), reserved.size());
    std::set<std::string> recordIps;
    for (const auto& kv : *records) {
      recordIps.insert(kv.value);
      auto it = reserved.find(ip(kv.value.c_str()));
      ASSERT_NE(it, reserved.end()) << kv.key;
      EXPECT_EQ(attachKey(it->second), kv.key);
    }
    EXPECT_EQ(recordIps.size(), records->size()) << "an address appears in two records";
  }
}

}  // namespace
}  // namespace podnet::ipam
