#include "common/result.h"

namespace podnet {

const char* errcName(Errc code) {
  switch (code) {
    case Errc::kInvalidArgument:
      return "invalid argument";
    case Errc::kDecode:
      return "decode failure";
    case Errc::kUnsupported:
      return "unsupported";
    case Errc::kIncompatibleVersion:
      return "incompatible version";
    case Errc::kNotFound:
      return "not found";
    case Errc::kAlreadyExists:
      return "already exists";
    case Errc::kConflict:
      return "conflict";
    case Errc::kExhausted:
      return "exhausted";
    case Errc::kUnavailable:
      return "unavailable";
    case Errc::kPermissionDenied:
      return "permission denied";
    case Errc::kIo:
      return "I/O failure";
    case Errc::kKernel:
      return "kernel error";
    case Errc::kInternal:
      return "internal error";
  }
  return "unknown";
}

}  // namespace podnet
