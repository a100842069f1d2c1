// Store::watch, run against every backend (instantiated in sqlite_store_test.cpp and
// etcd_store_test.cpp).
#include <gtest/gtest.h>

#include "store/store_backend.h"

namespace podnet::testing {
namespace {

using store::Op;
using store::WatchEvent;
using Strings = std::vector<std::string>;

TEST_P(WatchSemanticsTest, DeliversEveryChangeInRevisionOrder) {
  EventLog log;
  auto w = watch("/n/", revision(), log);
  int64_t r1 = put("/n/a", "1");
  auto multi = store_->txn({}, {Op::put("/n/b", "2"), Op::put("/n/c", "3")});
  ASSERT_TRUE(multi.ok());
  int64_t r2 = multi->revision;
  int64_t r3 = put("/n/a", "4");
  EXPECT_EQ(describe(log.waitFor(4)), (Strings{"put /n/a=1" + at(r1), "put /n/b=2" + at(r2),
                                               "put /n/c=3" + at(r2), "put /n/a=4" + at(r3)}));
  // A put carries the key's whole record, creation included.
  auto events = log.events();
  EXPECT_EQ(events[3].kv.createRevision, r1);
}

TEST_P(WatchSemanticsTest, ReplaysChangesAfterTheGivenRevisionThenFollows) {
  int64_t r1 = put("/n/a", "1");
  int64_t r2 = put("/n/b", "2");
  int64_t r3 = del("/n/a");
  EventLog log;
  auto w = watch("/n/", r1, log);  // r1 itself is already known to the caller
  int64_t r4 = put("/n/c", "3");
  EXPECT_EQ(describe(log.waitFor(3)),
            (Strings{"put /n/b=2" + at(r2), "delete /n/a" + at(r3), "put /n/c=3" + at(r4)}));
}

TEST_P(WatchSemanticsTest, AWatchFromAListingsRevisionContinuesTheListing) {
  put("/n/a", "1");
  put("/n/b", "1");
  auto listing = store_->listWithRevision("/n/");
  ASSERT_TRUE(listing.ok()) << listing.error().message;
  ASSERT_EQ(listing->kvs.size(), 2u);
  EXPECT_EQ(listing->revision, revision());
  int64_t after = put("/n/a", "2");
  EventLog log;
  auto w = watch("/n/", listing->revision, log);
  EXPECT_EQ(describe(log.waitFor(1)), (Strings{"put /n/a=2" + at(after)}));
}

TEST_P(WatchSemanticsTest, DeleteEventsCarryTheKeyAndTheDeletionRevision) {
  EventLog log;
  int64_t created = put("/n/a", "1");
  auto w = watch("/n/", created, log);
  del("/n/missing");  // deleting nothing is no event
  int64_t deleted = del("/n/a");
  auto events = log.waitFor(1);
  ASSERT_EQ(describe(events), (Strings{"delete /n/a" + at(deleted)}));
  EXPECT_EQ(events[0].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events[0].kv.value, "");
}

TEST_P(WatchSemanticsTest, SeesOnlyItsPrefix) {
  EventLog log;
  auto w = watch("/a/", revision(), log);
  put("/ab", "x");
  put("/b/1", "x");
  put("/a", "x");
  int64_t mine = put("/a/1", "x");
  EXPECT_EQ(describe(log.waitFor(1)), (Strings{"put /a/1=x" + at(mine)}));
  // Sync on a later event through a second watch: nothing else reached the first.
  EventLog later;
  auto w2 = watch("/a/", mine, later);
  int64_t last = put("/a/2", "y");
  later.waitFor(1);
  EXPECT_EQ(describe(log.waitFor(2)), (Strings{"put /a/1=x" + at(mine), "put /a/2=y" + at(last)}));
}

TEST_P(WatchSemanticsTest, StopsDeliveringOnceDestroyed) {
  EventLog gone;
  auto w = watch("/n/", revision(), gone);
  put("/n/a", "1");
  gone.waitFor(1);
  w.reset();
  EventLog still;
  auto w2 = watch("/n/", revision(), still);
  put("/n/b", "2");
  still.waitFor(1);
  EXPECT_EQ(gone.events().size(), 1u);
}

TEST_P(WatchSemanticsTest, CallbacksMayUseTheStore) {
  std::string read;
  EventLog log;
  auto w = store_->watch(
      "/n/", revision(),
      [&](const std::vector<WatchEvent>& events) {
        auto kv = store_->get(events.front().kv.key);  // re-entrant: no deadlock
        if (kv.ok() && kv->has_value()) read = (*kv)->value;
        log.onEvents()(events);
      },
      log.onError());
  ASSERT_TRUE(w.ok());
  put("/n/a", "1");
  log.waitFor(1);
  EXPECT_EQ(read, "1");
}

}  // namespace
}  // namespace podnet::testing
