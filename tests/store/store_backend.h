// A store backend under test, so the same behaviour tests run against every backend: it owns what
// the store needs (a database file, an etcd server) and opens connections to it.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "store/event_log.h"
#include "store/store.h"

namespace podnet::testing {

class StoreBackend {
 public:
  virtual ~StoreBackend() = default;
  // A new connection to the same data, as another process or node would open.
  virtual std::unique_ptr<store::Store> connect() = 0;
};

struct BackendParam {
  std::string name;
  std::function<std::unique_ptr<StoreBackend>()> start;
};

// Names the backend in test output (and ctest's test names) instead of dumping its bytes.
inline void PrintTo(const BackendParam& param, std::ostream* os) {
  *os << param.name;
}

inline std::string backendName(const ::testing::TestParamInfo<BackendParam>& info) {
  return info.param.name;
}

// A test against one backend with one connection open.
class StoreTest : public ::testing::TestWithParam<BackendParam> {
 protected:
  void SetUp() override {
    backend_ = GetParam().start();
    ASSERT_NE(backend_, nullptr);
    store_ = backend_->connect();
    ASSERT_NE(store_, nullptr);
  }

  int64_t put(const std::string& key, const std::string& value) {
    auto r = store_->txn({}, {store::Op::put(key, value)});
    EXPECT_TRUE(r.ok() && r->succeeded) << (r.ok() ? "compare failed" : r.error().message);
    return r ? r->revision : -1;
  }

  int64_t del(const std::string& key) {
    auto r = store_->txn({}, {store::Op::del(key)});
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r ? r->revision : -1;
  }

  int64_t revision() {
    auto r = store_->revision();
    EXPECT_TRUE(r.ok()) << r.error().message;
    return r ? *r : -1;
  }

  std::unique_ptr<StoreBackend> backend_;
  std::unique_ptr<store::Store> store_;
};

// The suites every backend instantiates (store_semantics_test.cpp, watch_semantics_test.cpp).
class StoreSemanticsTest : public StoreTest {
 protected:
  std::vector<std::string> keys(const std::string& prefix) {
    auto listed = store_->list(prefix);
    EXPECT_TRUE(listed.ok()) << listed.error().message;
    std::vector<std::string> out;
    if (listed) {
      for (const store::KeyValue& kv : *listed) out.push_back(kv.key);
    }
    return out;
  }
};

class WatchSemanticsTest : public StoreTest {
 protected:
  std::unique_ptr<store::Watch> watch(const std::string& prefix, int64_t after, EventLog& log) {
    auto w = store_->watch(prefix, after, log.onEvents(), log.onError());
    EXPECT_TRUE(w.ok()) << w.error().message;
    return w ? std::move(w).value() : nullptr;
  }
  static std::string at(int64_t revision) { return "@" + std::to_string(revision); }
};

}  // namespace podnet::testing
