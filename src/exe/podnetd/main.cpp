#include "agent/daemon.h"

int main(int argc, char** argv) {
  auto parsed = podnet::agent::parseAgentArgs(argc, argv);
  if (parsed.exitNow) return *parsed.exitNow;
  return podnet::agent::runDaemon(parsed.options);
}
