#include "bpf/flow_events.h"

#include <arpa/inet.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.h"

namespace podnet::bpf {
namespace {

int64_t nowNs(clockid_t clock) {
  timespec ts{};
  ::clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

struct FlowReader::State {
  UniqueFd fd;
  std::string node;
  Handler handler;
  PodResolver resolver;
  int64_t monotonicToWall = 0;
  ring_buffer* ring = nullptr;
  std::atomic<bool> stop{false};
  std::thread thread;

  ~State() {
    stop = true;
    if (thread.joinable()) thread.join();
    if (ring != nullptr) ring_buffer__free(ring);
  }

  static int onRecord(void* ctx, void* data, size_t size) {
    auto* self = static_cast<State*>(ctx);
    if (size < sizeof(pn_flow_event)) return 0;  // from a newer program: skip, never misread
    pn_flow_event raw;
    std::memcpy(&raw, data, sizeof(raw));
    self->handler(decodeFlowEvent(raw, self->node, self->monotonicToWall, self->resolver));
    return 0;
  }
};

FlowEvent decodeFlowEvent(const pn_flow_event& raw, const std::string& node,
                          int64_t monotonicToWall, const PodResolver& resolver) {
  FlowEvent ev;
  ev.time = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(static_cast<int64_t>(raw.time_ns) + monotonicToWall)));
  ev.node = node;
  ev.ifindex = raw.ifindex;
  ev.endpointId = raw.endpoint_id;
  ev.srcIdentity = raw.src_identity;
  ev.dstIdentity = raw.dst_identity;
  ev.src = Ipv4{ntohl(raw.saddr)};
  ev.dst = Ipv4{ntohl(raw.daddr)};
  ev.srcPort = ntohs(raw.sport);
  ev.dstPort = ntohs(raw.dport);
  ev.protocol = raw.protocol;
  ev.tcpFlags = raw.tcp_flags;
  ev.icmpType = raw.icmp_type;
  ev.direction = static_cast<pn_direction>(raw.direction);
  ev.verdict = static_cast<pn_verdict>(raw.verdict);
  ev.dropReason =
      raw.drop_reason < PN_DROP__MAX ? static_cast<pn_drop_reason>(raw.drop_reason) : PN_DROP__MAX;
  ev.match = raw.match < PN_MATCH__MAX ? static_cast<pn_match>(raw.match) : PN_MATCH__MAX;
  ev.policyId = raw.policy_id;
  ev.policyRevision = raw.policy_revision;
  ev.length = raw.pkt_len;
  if (resolver) {
    ev.srcPod = resolver(ev.src);
    ev.dstPod = resolver(ev.dst);
  }
  return ev;
}

FlowReader::FlowReader(std::unique_ptr<State> state) : state_(std::move(state)) {}
FlowReader::FlowReader(FlowReader&&) noexcept = default;
FlowReader& FlowReader::operator=(FlowReader&&) noexcept = default;
FlowReader::~FlowReader() = default;

Result<FlowReader> FlowReader::open(int eventsFd, std::string node, Handler handler,
                                    PodResolver resolver) {
  auto state = std::make_unique<State>();
  state->fd.reset(::fcntl(eventsFd, F_DUPFD_CLOEXEC, 0));
  if (!state->fd.valid()) {
    return makeError(Errc::kKernel, std::string("pn_events: dup: ") + std::strerror(errno));
  }
  state->node = std::move(node);
  state->handler = std::move(handler);
  state->resolver = std::move(resolver);
  state->monotonicToWall = nowNs(CLOCK_REALTIME) - nowNs(CLOCK_MONOTONIC);
  state->ring = ring_buffer__new(state->fd.get(), &State::onRecord, state.get(), nullptr);
  if (state->ring == nullptr) {
    return makeError(Errc::kKernel,
                     std::string("pn_events: open ring buffer: ") + std::strerror(errno));
  }
  return FlowReader(std::move(state));
}

Result<int> FlowReader::poll(std::chrono::milliseconds timeout) {
  int n = ring_buffer__poll(state_->ring, static_cast<int>(timeout.count()));
  if (n < 0 && n != -EINTR) {
    return makeError(Errc::kKernel, std::string("pn_events: poll: ") + std::strerror(-n));
  }
  return n < 0 ? 0 : n;
}

void FlowReader::start() {
  State* state = state_.get();
  if (state->thread.joinable()) return;
  state->thread = std::thread([state] {
    while (!state->stop.load()) ring_buffer__poll(state->ring, 100);
  });
}

}  // namespace podnet::bpf
