// Key ranges shared by the backends: a prefix is the half-open range [prefix, prefixEnd(prefix)).
#pragma once

#include <string>

namespace podnet::store {

// The smallest string greater than every string that starts with prefix, or "" when there is
// none (prefix empty or all 0xff). This is etcd's "prefix + 1" range end.
inline std::string prefixEnd(std::string prefix) {
  while (!prefix.empty() && static_cast<unsigned char>(prefix.back()) == 0xff) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(prefix.back() + 1);
  return prefix;
}

}  // namespace podnet::store
