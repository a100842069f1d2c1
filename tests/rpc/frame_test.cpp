#include "rpc/frame.h"

#include <sys/socket.h>

#include <gtest/gtest.h>

#include <thread>

#include "common/fd.h"

namespace podnet::rpc {
namespace {

struct SocketPair {
  SocketPair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    a.reset(fds[0]);
    b.reset(fds[1]);
  }
  UniqueFd a, b;
};

TEST(FrameTest, RoundTripsEmptySmallAndLargePayloads) {
  for (size_t size : {size_t{0}, size_t{5}, size_t{3} << 20, kMaxFrameSize}) {
    SocketPair p;
    std::string payload(size, '\0');
    for (size_t i = 0; i < size; ++i) payload[i] = char(i * 7);
    // Large frames exceed the socket buffer: write and read concurrently.
    std::thread writer([&] { EXPECT_TRUE(writeFrame(p.a.get(), payload).ok()); });
    auto got = readFrame(p.b.get());
    writer.join();
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got == payload, true) << size;
  }
}

TEST(FrameTest, KeepsConsecutiveFramesApart) {
  SocketPair p;
  ASSERT_TRUE(writeFrame(p.a.get(), "one").ok());
  ASSERT_TRUE(writeFrame(p.a.get(), "").ok());
  ASSERT_TRUE(writeFrame(p.a.get(), "three").ok());
  EXPECT_EQ(*readFrame(p.b.get()), "one");
  EXPECT_EQ(*readFrame(p.b.get()), "");
  EXPECT_EQ(*readFrame(p.b.get()), "three");
}

TEST(FrameTest, RejectsOversizeFramesBothWays) {
  std::string big(kMaxFrameSize + 1, 'x');
  SocketPair p;
  auto w = writeFrame(p.a.get(), big);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, Errc::kInvalidArgument);

  const unsigned char header[4] = {0x01, 0x00, 0x00, 0x01};  // 16 MiB + 1
  ASSERT_EQ(::write(p.a.get(), header, 4), 4);
  auto r = readFrame(p.b.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kDecode);
}

TEST(FrameTest, TruncatedFrameIsAnIoError) {
  SocketPair p;
  const unsigned char partial[6] = {0, 0, 0, 10, 'a', 'b'};
  ASSERT_EQ(::write(p.a.get(), partial, sizeof partial), 6);
  p.a.reset();
  auto r = readFrame(p.b.get());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kIo);
  EXPECT_NE(r.error().message.find("closed"), std::string::npos) << r.error().message;
}

TEST(FrameTest, WritingToAClosedPeerIsAnErrorNotASignal) {
  SocketPair p;
  p.b.reset();
  auto w = writeFrame(p.a.get(), "hello");
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.error().code, Errc::kIo);
}

}  // namespace
}  // namespace podnet::rpc
