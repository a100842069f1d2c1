#pragma once

namespace podnet::ctl {

// podnetctl's whole command line; returns the process exit code.
int runCtl(int argc, char** argv);

}  // namespace podnet::ctl
