// podnet-bench-lab's policy section: what network policy costs the pods it selects, and how soon a
// policy is enforced on every node (the issue "network policy benchmark"). See lab_policy.cpp.
#pragma once

#include <string>
#include <vector>

#include "common/result.h"
#include "lab/lab.h"

namespace podnet::bench {

struct PolicyOptions {
  std::string backend = "host-gw";
  int rounds = 15;              // rounds of every configuration, in rotating order
  int seconds = 2;              // per iperf3 run
  double latencySeconds = 1.0;  // of round trips per configuration and round
  // The policy configurations beside "no policy", in rules, ascending; the last one is also the
  // size the enforcement time is measured at.
  std::vector<int> rules = {100, 10000};
  int repeats = 5;  // of each policy change whose enforcement is timed
  std::string binDir;
  std::string labName;
};

// Brings up a lab of its own (options.labName), measures, prints the figures and the targets, and
// removes the lab, also on an error or an interruption.
Status runPolicyBenchmark(lab::Lab& lab, const PolicyOptions& options);

}  // namespace podnet::bench
