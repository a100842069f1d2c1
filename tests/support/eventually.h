// Polls a condition until it holds or a generous limit passes: for effects that happen in the
// background (a watch delivering, a lease expiring, the kernel removing a veth). Not a timing
// assertion: the limit is far above any expected delay and only bounds a failing test.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace podnet::testing {

inline bool eventually(const std::function<bool()>& cond,
                       std::chrono::milliseconds limit = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return cond();
}

}  // namespace podnet::testing
