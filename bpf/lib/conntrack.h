/*
 * Connection tracking for pod devices: an LRU hash of flows that were allowed, so that replies
 * and established flows pass without a policy lookup and survive policy changes.
 *
 * One entry per flow and endpoint and direction of the first packet (see pn_ct_key). A packet is
 * "established" when its tuple is found with its own direction, a "reply" when the reversed tuple
 * is found with the opposite direction, "new" otherwise. Entries expire: lifetimes come from
 * read-only data set by the loader. TCP is tracked simply: a SYN seen with no reply yet, open,
 * and closing once a RST or a FIN in each direction was seen; a SYN for a closing entry starts a
 * new flow (and a new policy decision).
 *
 * An entry whose match is PN_MATCH_NONE was recorded while nothing enforced its direction (no
 * endpoint entry yet, or no policy isolating the pod): it is judged again on each packet until
 * something does (pn_ct_rejudge in pod_policy.bpf.c), so no flow accepted unjudged outlives a
 * policy that isolates the pod. An entry whose match denies (PN_MATCH_POLICY_DENY,
 * PN_MATCH_DEFAULT_DENY, PN_MATCH_HOST_DEFAULT_DENY) is such a flow denied since: a closing
 * tombstone that drops the flow's packets and replies while the deny holds (judged again too).
 */
#ifndef PODNET_BPF_LIB_CONNTRACK_H
#define PODNET_BPF_LIB_CONNTRACK_H

#include "maps.h"
#include "parse.h"

#define PN_NSEC_PER_SEC 1000000000ULL

const volatile __u64 ct_lifetime_tcp_ns = 21600 * PN_NSEC_PER_SEC;
const volatile __u64 ct_lifetime_syn_ns = 60 * PN_NSEC_PER_SEC;
const volatile __u64 ct_lifetime_close_ns = 10 * PN_NSEC_PER_SEC;
const volatile __u64 ct_lifetime_other_ns = 60 * PN_NSEC_PER_SEC;

enum pn_ct_result {
	PN_CT_NEW = 0,
	PN_CT_ESTABLISHED = 1,
	PN_CT_REPLY = 2,
};

struct pn_ct_state {
	struct pn_ct_value *entry; /* set unless PN_CT_NEW */
	__u8 new_tcp_flags; /* flags of this packet not seen before in its direction */
	__u8 first_reply; /* the first packet of the reply direction */
};

static __always_inline void pn_ct_key_of(struct pn_ct_key *key, __u32 ifindex, __u8 direction,
					 const struct pn_packet *pkt, int reverse)
{
	key->ifindex = ifindex;
	key->protocol = pkt->protocol;
	key->pad = 0;
	if (!reverse) {
		key->saddr = pkt->saddr;
		key->daddr = pkt->daddr;
		key->sport = pkt->sport;
		key->dport = pkt->dport;
		key->direction = direction;
	} else {
		key->saddr = pkt->daddr;
		key->daddr = pkt->saddr;
		key->sport = pkt->dport;
		key->dport = pkt->sport;
		key->direction = direction == PN_DIR_INGRESS ? PN_DIR_EGRESS : PN_DIR_INGRESS;
	}
}

static __always_inline int pn_ct_closing(__u8 flags)
{
	return (flags & PN_CT_RST) ||
	       ((flags & PN_CT_FIN_ORIG) && (flags & PN_CT_FIN_REPLY));
}

static __always_inline __u64 pn_ct_lifetime(__u8 protocol, __u8 flags)
{
	if (protocol != IPPROTO_TCP)
		return ct_lifetime_other_ns;
	if (pn_ct_closing(flags))
		return ct_lifetime_close_ns;
	if (!(flags & PN_CT_SEEN_REPLY))
		return ct_lifetime_syn_ns;
	return ct_lifetime_tcp_ns;
}

/*
 * Updates a found entry for one more packet; reply says which direction it travels. The writes are
 * plain, not atomic: two CPUs racing on one flow can at worst lose a flag bit, which costs one
 * extra flow event or a lifetime refreshed a packet later, never a verdict.
 */
static __always_inline void pn_ct_touch(struct pn_ct_value *ct, const struct pn_packet *pkt,
					int reply, __u64 now, struct pn_ct_state *state)
{
	__u8 flags = ct->flags;
	__u64 expires;

	if (reply) {
		state->first_reply = !(flags & PN_CT_SEEN_REPLY);
		state->new_tcp_flags = pkt->tcp_flags & ~ct->tcp_flags_reply;
		if (state->new_tcp_flags)
			ct->tcp_flags_reply |= pkt->tcp_flags;
		flags |= PN_CT_SEEN_REPLY;
		if (pkt->tcp_flags & PN_TCP_FIN)
			flags |= PN_CT_FIN_REPLY;
	} else {
		state->new_tcp_flags = pkt->tcp_flags & ~ct->tcp_flags_orig;
		if (state->new_tcp_flags)
			ct->tcp_flags_orig |= pkt->tcp_flags;
		if (pkt->tcp_flags & PN_TCP_FIN)
			flags |= PN_CT_FIN_ORIG;
	}
	if (pkt->tcp_flags & PN_TCP_RST)
		flags |= PN_CT_RST;

	/* Write the expiry only when the state changed or it moved by a second or more, so that
	 * a busy flow does not dirty its entry's cache line on every packet. */
	expires = now + pn_ct_lifetime(pkt->protocol, flags);
	if (flags != ct->flags || expires > ct->expires_ns + PN_NSEC_PER_SEC) {
		ct->flags = flags;
		ct->expires_ns = expires;
	}
}

static __always_inline int pn_ct_is_new_syn(const struct pn_packet *pkt)
{
	return pkt->protocol == IPPROTO_TCP &&
	       (pkt->tcp_flags & (PN_TCP_SYN | PN_TCP_ACK)) == PN_TCP_SYN;
}

static __always_inline int pn_ct_lookup(__u32 ifindex, __u8 direction,
					const struct pn_packet *pkt, __u64 now,
					struct pn_ct_state *state)
{
	struct pn_ct_key key;
	struct pn_ct_value *ct;

	pn_ct_key_of(&key, ifindex, direction, pkt, 0);
	ct = bpf_map_lookup_elem(&pn_ct, &key);
	if (ct && ct->expires_ns > now) {
		/* A SYN on a closing flow is a new connection reusing the tuple. */
		if (pn_ct_closing(ct->flags) && pn_ct_is_new_syn(pkt))
			return PN_CT_NEW;
		pn_ct_touch(ct, pkt, 0, now, state);
		state->entry = ct;
		return PN_CT_ESTABLISHED;
	}

	pn_ct_key_of(&key, ifindex, direction, pkt, 1);
	ct = bpf_map_lookup_elem(&pn_ct, &key);
	if (ct && ct->expires_ns > now) {
		if (pn_ct_closing(ct->flags) && pn_ct_is_new_syn(pkt))
			return PN_CT_NEW;
		pn_ct_touch(ct, pkt, 1, now, state);
		state->entry = ct;
		return PN_CT_REPLY;
	}
	return PN_CT_NEW;
}

/* Starts tracking a flow whose first packet was just allowed. */
static __always_inline void pn_ct_create(__u32 ifindex, __u8 direction,
					 const struct pn_packet *pkt, __u64 now,
					 __u32 policy_id, __u32 src_identity,
					 __u32 dst_identity, __u8 match)
{
	struct pn_ct_key key;
	struct pn_ct_value value = {
		.created_ns = now,
		.policy_id = policy_id,
		.src_identity = src_identity,
		.dst_identity = dst_identity,
		.tcp_flags_orig = pkt->tcp_flags,
		.match = match,
	};
	__u32 stat = PN_STAT_CT_CREATED;
	__u64 *created;

	/* A RST never opens a flow. */
	if (pkt->tcp_flags & PN_TCP_RST)
		return;
	if (pkt->tcp_flags & PN_TCP_FIN)
		value.flags |= PN_CT_FIN_ORIG;
	/* A flow first seen mid-stream (its entry was lost) is open, not half-open. */
	if (pkt->protocol == IPPROTO_TCP && !pn_ct_is_new_syn(pkt))
		value.flags |= PN_CT_SEEN_REPLY;
	value.expires_ns = now + pn_ct_lifetime(pkt->protocol, value.flags);

	pn_ct_key_of(&key, ifindex, direction, pkt, 0);
	if (bpf_map_update_elem(&pn_ct, &key, &value, BPF_ANY) == 0) {
		created = bpf_map_lookup_elem(&pn_stats, &stat);
		if (created)
			*created += 1;
	}
}

#endif /* PODNET_BPF_LIB_CONNTRACK_H */
