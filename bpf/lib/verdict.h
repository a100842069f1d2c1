/*
 * The end of every decision: drop counters by reason and flow events on the ring buffer.
 */
#ifndef PODNET_BPF_LIB_VERDICT_H
#define PODNET_BPF_LIB_VERDICT_H

#include "maps.h"

/* enum pn_event_level; set by the loader before load. */
const volatile __u32 event_level = PN_EVENTS_FLOWS;

/* Whether a policy match drops (enum pn_match). */
static __always_inline int pn_match_denies(__u8 match)
{
	return match == PN_MATCH_POLICY_DENY || match == PN_MATCH_DEFAULT_DENY ||
	       match == PN_MATCH_HOST_DEFAULT_DENY;
}

/* The drop reason of a denying match. */
static __always_inline __u8 pn_drop_reason_of(__u8 match)
{
	return match == PN_MATCH_POLICY_DENY ? PN_DROP_POLICY_DENY : PN_DROP_POLICY_DEFAULT;
}

static __always_inline void pn_count_drop(__u8 reason, __u32 len)
{
	__u32 slot = reason;
	struct pn_counter *counter = bpf_map_lookup_elem(&pn_drops, &slot);

	if (counter) {
		counter->packets += 1;
		counter->bytes += len;
	}
}

static __always_inline void pn_emit(const struct pn_flow_event *event)
{
	struct pn_flow_event *slot = bpf_ringbuf_reserve(&pn_events, sizeof(*slot), 0);
	__u32 stat = PN_STAT_EVENTS_LOST;
	__u64 *lost;

	if (!slot) {
		lost = bpf_map_lookup_elem(&pn_stats, &stat);
		if (lost)
			*lost += 1;
		return;
	}
	__builtin_memcpy(slot, event, sizeof(*slot));
	bpf_ringbuf_submit(slot, 0);
}

#endif /* PODNET_BPF_LIB_VERDICT_H */
