#include "netlink/netns.h"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include "netlink/link.h"
#include "support/netns_fixture.h"

namespace podnet::netlink {
namespace {

ino_t inodeOf(int fd) {
  struct stat st {};
  ::fstat(fd, &st);
  return st.st_ino;
}

ino_t currentInode() {
  auto ns = Netns::current();
  return ns.ok() ? inodeOf(ns->fd()) : 0;
}

class NetnsTest : public testing::NetnsFixture {};

TEST_F(NetnsTest, OpenOfAMissingPathIsNotFoundAndNamesThePath) {
  auto ns = Netns::open("/var/run/netns/pnt-does-not-exist");
  ASSERT_FALSE(ns.ok());
  EXPECT_EQ(ns.error().code, Errc::kNotFound);
  EXPECT_NE(ns.error().message.find("/var/run/netns/pnt-does-not-exist"), std::string::npos)
      << ns.error().message;
}

TEST_F(NetnsTest, OpenRefusesFilesThatAreNotNetworkNamespaces) {
  auto ns = Netns::open("/proc/self/ns/uts");
  ASSERT_FALSE(ns.ok());
  EXPECT_EQ(ns.error().code, Errc::kInvalidArgument);
}

TEST_F(NetnsTest, ScopeEntersAndGoesBack) {
  std::string name = addNetns();
  auto target = Netns::open(netnsPath(name));
  ASSERT_TRUE(target.ok()) << target.error().message;
  ino_t before = currentInode();
  {
    auto scope = NetnsScope::enter(*target);
    ASSERT_TRUE(scope.ok()) << scope.error().message;
    EXPECT_EQ(currentInode(), inodeOf(target->fd()));
    NetnsScope moved = std::move(scope).value();  // the moved-from scope must not go back early
    EXPECT_EQ(currentInode(), inodeOf(target->fd()));
  }
  EXPECT_EQ(currentInode(), before);
}

TEST_F(NetnsTest, SocketOpenedInANetnsSeesThatNetnsOnly) {
  std::string node = addNetns();
  std::string other = addNetns();
  ASSERT_EQ(run("ip -n " + other + " link add pnt-dummy type bridge"), 0);
  enterNetns(node);

  auto otherNs = Netns::open(netnsPath(other));
  ASSERT_TRUE(otherNs.ok());
  auto there = Socket::openIn(*otherNs);
  ASSERT_TRUE(there.ok()) << there.error().message;
  auto here = Socket::open();
  ASSERT_TRUE(here.ok()) << here.error().message;

  auto found = findLink(*there, "pnt-dummy");
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_TRUE(found->has_value());
  auto absent = findLink(*here, "pnt-dummy");
  ASSERT_TRUE(absent.ok()) << absent.error().message;
  EXPECT_FALSE(absent->has_value());
}

}  // namespace
}  // namespace podnet::netlink
