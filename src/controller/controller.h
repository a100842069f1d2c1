// podnet-controller: cluster-wide work that belongs to no single node. Today: releasing the
// addresses of nodes whose lease expired (node_cleanup.h) and compacting etcd's history.
// Runs anywhere it can reach etcd; one instance per cluster (no leader election yet).
#pragma once

namespace podnet::controller {

// The whole command line; returns the process exit code.
int runController(int argc, char** argv);

}  // namespace podnet::controller
