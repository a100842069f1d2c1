// `podnetctl lab ...`: the command line of the lab (lab.h), added to podnetctl's own.
#pragma once

#include <memory>
#include <optional>

namespace CLI {
class App;
}

namespace podnet::lab {

class Commands {
 public:
  virtual ~Commands() = default;
  // After the command line is parsed: runs the lab command that was chosen and returns the exit
  // code; nullopt when no lab command was chosen.
  virtual std::optional<int> run() = 0;
};

// Adds `lab` and its subcommands to app. Keep the result until run().
std::unique_ptr<Commands> addCommands(CLI::App& app);

}  // namespace podnet::lab
