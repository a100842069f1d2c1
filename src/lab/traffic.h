// The lab's traffic: a small server every pod and node runs (TCP and UDP, and SCTP where the
// kernel has it, on ports 80 and 81), and probes that say whether a connection or a reply got
// through. Hand-written: a few sockets, and no library does "connect or answer, then tell".
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip.h"
#include "common/result.h"

namespace podnet::lab {

enum class Protocol { kTcp, kUdp, kSctp };

inline constexpr uint16_t kServerPorts[] = {80, 81};

Result<Protocol> parseProtocol(const std::string& text);  // tcp, udp, sctp
std::string protocolName(Protocol);                       // "tcp"
// Whether this kernel can open SCTP sockets (this may load the sctp module, as any SCTP user
// would).
bool sctpAvailable();
// The protocols the lab servers answer on this machine.
std::vector<Protocol> serverProtocols();

// Serves on ports 80 and 81 in the calling thread's network namespace until killed: TCP and SCTP
// connections get one line ("<who> <port>/<proto>") and are closed; every UDP datagram gets that
// line back. Once every port listens, creates `readyFile` (when not empty) so that whoever started
// it knows it answers. Returns only when it cannot listen.
Status serve(const std::string& who, const std::string& readyFile);

struct ProbeSpec {
  Ipv4 destination;
  uint16_t port = 0;
  Protocol protocol = Protocol::kTcp;
  std::chrono::milliseconds timeout{2000};
  // Bind to this source address first (several addresses in one namespace); none: the kernel's.
  std::optional<Ipv4> source = std::nullopt;
};

// true: a TCP connection was established, or a UDP/SCTP reply came back within the timeout.
// false: refused, unreachable or silent. An error only when the probe itself could not run
// (no SCTP in this kernel, no sockets).
Result<bool> probe(const ProbeSpec&);
// The same from inside the network namespace at netnsPath (in a thread of its own, so the caller
// never changes namespace).
Result<bool> probeFrom(const std::string& netnsPath, const ProbeSpec&);

}  // namespace podnet::lab
