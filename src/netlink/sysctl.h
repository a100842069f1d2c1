// Kernel parameters under /proc/sys.
#pragma once

#include <string>

#include "common/result.h"

namespace podnet::netlink {

// key is "net/ipv4/ip_forward" style. /proc/sys/net resolves against the calling thread's netns,
// so a thread inside a NetnsScope writes that namespace's value.
Status writeSysctl(const std::string& key, const std::string& value);
// The value without its trailing newline.
Result<std::string> readSysctl(const std::string& key);

}  // namespace podnet::netlink
