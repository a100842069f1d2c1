// Errors as values: every expected failure (bad input, a missing netns, a busy store) travels as a
// Result<T> that carries a code and a message with context. Exceptions stay at the edges.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace podnet {

enum class Errc {
  kInvalidArgument,  // the caller's input is wrong; the message names the field
  kDecode,           // input could not be decoded (not JSON, wrong type)
  kUnsupported,      // a valid request for something podnet does not do
  kIncompatibleVersion,
  kNotFound,
  kAlreadyExists,
  kConflict,          // a concurrent change won; retrying may succeed
  kExhausted,         // no free address left in a pool
  kUnavailable,       // a peer (agent, store) cannot be reached now; try again later
  kPermissionDenied,  // the peer refused the caller (unauthenticated, or not authorized)
  kIo,
  kKernel,  // a netlink or syscall request failed
  kInternal,
};

const char* errcName(Errc code);

struct Error {
  Errc code = Errc::kInternal;
  std::string message;

  // Adds outer context in front: Error{kKernel, "File exists"}.context("veth pn12") gives
  // "veth pn12: File exists".
  Error context(const std::string& what) const& { return Error{code, what + ": " + message}; }
  Error context(const std::string& what) && {
    message = what + ": " + message;
    return std::move(*this);
  }
};

inline Error makeError(Errc code, std::string message) {
  return Error{code, std::move(message)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }
  Error takeError() && { return std::get<1>(std::move(v_)); }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: success carries nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT: implicit on purpose

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  Error takeError() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status okStatus() {
  return Status{};
}

}  // namespace podnet

// Propagates an error to the caller: PODNET_TRY(wire(x)); or auto v = PODNET_TRY(parse(y));
// (A GCC/Clang statement expression: the only way for a macro to both return and yield a value.)
#define PODNET_TRY(expr)                                                            \
  __extension__({                                                                   \
    auto podnet_try_result_ = (expr);                                               \
    if (!podnet_try_result_.ok()) return std::move(podnet_try_result_).takeError(); \
    std::move(podnet_try_result_).value();                                          \
  })
#define PODNET_TRY_STATUS(expr)                                                     \
  do {                                                                              \
    auto podnet_try_status_ = (expr);                                               \
    if (!podnet_try_status_.ok()) return std::move(podnet_try_status_).takeError(); \
  } while (0)
