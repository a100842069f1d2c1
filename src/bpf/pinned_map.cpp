#include "bpf/pinned_map.h"

#include <bpf/libbpf.h>

#include <cstring>

namespace podnet::bpf {
namespace {

std::string typeName(uint32_t type) {
  const char* name = libbpf_bpf_map_type_str(static_cast<bpf_map_type>(type));
  return name ? name : "type " + std::to_string(type);
}

}  // namespace

Error mapError(const char* map, const std::string& what, int err) {
  return makeError(err == ENOENT ? Errc::kNotFound : Errc::kKernel,
                   std::string(map) + ": " + what + ": " + std::strerror(err));
}

Result<UniqueFd> openPinnedMap(const std::string& dir, const MapLayout& want,
                               const std::string& loader) {
  std::string path = dir + "/" + want.name;
  UniqueFd fd(bpf_obj_get(path.c_str()));
  if (!fd.valid()) {
    int err = errno;
    return makeError(
        err == ENOENT ? Errc::kNotFound : Errc::kKernel,
        "pinned map " + path + ": " + std::strerror(err) +
            (err == ENOENT ? " (load the " + loader + " with this pin directory)" : ""));
  }
  bpf_map_info info{};
  uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &length) != 0) {
    return makeError(Errc::kKernel,
                     "pinned map " + path + ": " + std::strerror(errno) + " (is it a BPF map?)");
  }
  std::string found;
  auto differs = [&](const std::string& what, const std::string& is, const std::string& expected) {
    if (is == expected) return;
    found +=
        std::string(found.empty() ? "" : ", ") + what + " " + is + " (expected " + expected + ")";
  };
  differs("map type", typeName(info.type), typeName(want.type));
  differs("key size", std::to_string(info.key_size), std::to_string(want.keySize));
  differs("value size", std::to_string(info.value_size), std::to_string(want.valueSize));
  differs("max entries", std::to_string(info.max_entries), std::to_string(want.maxEntries));
  if (!found.empty()) {
    return makeError(Errc::kIncompatibleVersion,
                     "pinned map " + path + " has another layout than this podnet's: " + found +
                         ". An incompatible podnet version pinned it, and it is not read: stop "
                         "podnetd, remove " +
                         path +
                         ", and start podnetd, which creates it with this layout and writes its "
                         "entries again");
  }
  return fd;
}

Status updateElem(int fd, const char* map, const void* key, const void* value) {
  if (bpf_map_update_elem(fd, key, value, BPF_ANY) != 0) return mapError(map, "update", errno);
  return okStatus();
}

Status deleteElem(int fd, const char* map, const void* key) {
  if (bpf_map_delete_elem(fd, key) != 0 && errno != ENOENT) return mapError(map, "delete", errno);
  return okStatus();
}

}  // namespace podnet::bpf
