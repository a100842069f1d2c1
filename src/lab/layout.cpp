#include "lab/layout.h"

#include <cctype>

namespace podnet::lab {

Result<Layout> Layout::make(const std::string& name) {
  bool valid =
      !name.empty() && name.size() <= 24 && std::islower(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    if (!std::islower(static_cast<unsigned char>(c)) &&
        !std::isdigit(static_cast<unsigned char>(c)) && c != '-') {
      valid = false;
    }
  }
  if (!valid || name.back() == '-') {
    return makeError(Errc::kInvalidArgument,
                     "lab name \"" + name +
                         "\": use at most 24 lowercase letters, digits and '-', starting with a "
                         "letter");
  }
  return Layout(name);
}

bool Layout::ownsNetns(const std::string& netns) const {
  return netns == name_ || netns.starts_with(name_ + "-");
}

}  // namespace podnet::lab
