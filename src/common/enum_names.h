// Closed sets (a backend, a store, an enforcement mode) are enums in memory and names only at the
// edges: a flag, a stored record, a printed line. One table per enum gives both directions, so a
// name is never compared deep inside.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "common/result.h"

namespace podnet {

template <class E, size_t N>
using EnumNames = std::array<std::pair<E, std::string_view>, N>;

// The name of `value` in `names` (every value of the enum has one: the tests walk every value).
template <class E, size_t N>
constexpr std::string_view enumName(const EnumNames<E, N>& names, E value) {
  for (const auto& [v, name] : names) {
    if (v == value) return name;
  }
  return "?";
}

// "a, b or c": the allowed names, for help texts and errors.
template <class E, size_t N>
std::string enumChoices(const EnumNames<E, N>& names) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " or " : ", ";
    out += names[i].second;
  }
  return out;
}

// The value named `text`; an unknown name is kInvalidArgument naming `what` (a flag such as
// "--backend", or a field such as "node n1: spec.backend") and the allowed names.
template <class E, size_t N>
Result<E> parseEnum(const EnumNames<E, N>& names, std::string_view text, std::string_view what) {
  for (const auto& [value, name] : names) {
    if (name == text) return value;
  }
  return makeError(Errc::kInvalidArgument, std::string(what) + ": unknown value '" +
                                               std::string(text) + "': use " + enumChoices(names));
}

}  // namespace podnet
