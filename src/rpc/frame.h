// Length-prefixed frames on a stream socket: a 4-byte big-endian length, then the payload. The
// agent RPC carries one JSON document per frame.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"

namespace podnet::rpc {

inline constexpr size_t kMaxFrameSize = size_t{16} << 20;  // 16 MiB

// Writes the whole frame, retrying on EINTR and short writes. A payload over kMaxFrameSize is
// kInvalidArgument; a write failure is kIo.
Status writeFrame(int fd, std::string_view payload);

// Reads one whole frame. A length over kMaxFrameSize is kDecode; the peer closing early is kIo; a
// receive timeout (SO_RCVTIMEO) is kUnavailable.
Result<std::string> readFrame(int fd);

}  // namespace podnet::rpc
