// Maps pinned on the BPF filesystem, opened by path: the layout check that keeps a podnet from
// reading another version's map with the wrong layout, and the few map calls every map class
// needs, with errors that name the map.
#pragma once

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "common/fd.h"
#include "common/result.h"

namespace podnet::bpf {

// What a BPF program declares for one pinned map.
struct MapLayout {
  const char* name;  // also the pin's file name
  bpf_map_type type;
  uint32_t keySize;
  uint32_t valueSize;
  uint32_t maxEntries;
};

// Opens <dir>/<want.name>. Errc::kNotFound naming the pin and `loader` (the program that pins it
// there) when it is missing; Errc::kIncompatibleVersion naming the pin, every difference (type,
// key size, value size, max entries: found and expected) and what to do when its layout is not
// `want` (another podnet version pinned it).
Result<UniqueFd> openPinnedMap(const std::string& dir, const MapLayout& want,
                               const std::string& loader);

// "<map>: <what>: <strerror(err)>", Errc::kNotFound for ENOENT, else Errc::kKernel.
Error mapError(const char* map, const std::string& what, int err);

Status updateElem(int fd, const char* map, const void* key, const void* value);
Status deleteElem(int fd, const char* map, const void* key);  // no error when absent

// Every key of a hash, LRU or LPM map (get_next_key from no key walks the whole map).
template <class Key>
Result<std::vector<Key>> mapKeys(int fd, const char* map) {
  std::vector<Key> out;
  Key key{};
  Key next{};
  const void* prev = nullptr;
  while (true) {
    if (bpf_map_get_next_key(fd, prev, &next) != 0) {
      if (errno == ENOENT) break;
      return mapError(map, "iterate", errno);
    }
    out.push_back(next);
    key = next;
    prev = &key;
  }
  return out;
}

}  // namespace podnet::bpf
