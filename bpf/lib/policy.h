/*
 * Policy decisions for a new flow: who the peer is (ipcache), which ipBlock prefix holds its
 * address (pn_ipblocks) and what pn_policy says about them. At most four LPM lookups per new flow
 * (ipblocks, then pn_policy two or three times), whatever the number of rules.
 */
#ifndef PODNET_BPF_LIB_POLICY_H
#define PODNET_BPF_LIB_POLICY_H

#include "maps.h"
#include "parse.h"

static __always_inline __u32 pn_identity_of(__u32 addr)
{
	struct pn_ipcache_key key = { .prefixlen = 32, .addr = addr };
	struct pn_ipcache_value *v = bpf_map_lookup_elem(&pn_ipcache, &key);

	return v ? v->identity : PN_IDENTITY_WORLD;
}

/* The ipBlock identity of an address: the longest prefix a NetworkPolicy ipBlock names, whoever
 * owns the address. 0 (PN_IDENTITY_ANY, never probed) when no ipBlock names it. */
static __always_inline __u32 pn_ipblock_of(__u32 addr)
{
	struct pn_ipcache_key key = { .prefixlen = 32, .addr = addr };
	struct pn_ipcache_value *v = bpf_map_lookup_elem(&pn_ipblocks, &key);

	return v ? v->identity : PN_IDENTITY_ANY;
}

struct pn_policy_verdict {
	__u32 policy_id;
	__u8 match; /* PN_MATCH_POLICY_ALLOW, PN_MATCH_POLICY_DENY or PN_MATCH_DEFAULT_DENY */
};

/* One probe's entry may decide: a deny always, an allow when nothing decided before it. */
static __always_inline void pn_policy_consider(struct pn_policy_verdict *verdict,
					       const struct pn_policy_value *v)
{
	if (!v || verdict->match == PN_MATCH_POLICY_DENY)
		return;
	if (v->action == PN_POLICY_DENY) {
		verdict->match = PN_MATCH_POLICY_DENY;
		verdict->policy_id = v->policy_id;
	} else if (v->action == PN_POLICY_ALLOW && verdict->match != PN_MATCH_POLICY_ALLOW) {
		verdict->match = PN_MATCH_POLICY_ALLOW;
		verdict->policy_id = v->policy_id;
	}
}

/* The decision for subject's new flow with the peer `peer` at `peer_addr` (network byte order).
 * A deny from any probe wins; else the first allow of: the peer's identity, its address's ipBlock
 * identity, any peer. So a pod that a selector rule and an ipBlock rule both allow is allowed once,
 * naming the selector rule. */
static __always_inline struct pn_policy_verdict
pn_policy_decide(__u32 subject, __u32 peer, __u32 peer_addr, __u8 direction,
		 const struct pn_packet *pkt)
{
	struct pn_policy_verdict verdict = { .match = PN_MATCH_DEFAULT_DENY };
	__u32 ipblock = pn_ipblock_of(peer_addr);
	struct pn_policy_key key = {
		.prefixlen = PN_POLICY_PREFIX_FULL,
		.subject = subject,
		.peer = peer,
		.direction = direction,
		.protocol = pkt->protocol,
		.dport = pkt->policy_port,
	};

	pn_policy_consider(&verdict, bpf_map_lookup_elem(&pn_policy, &key));
	if (ipblock != PN_IDENTITY_ANY) {
		key.peer = ipblock;
		pn_policy_consider(&verdict, bpf_map_lookup_elem(&pn_policy, &key));
	}
	key.peer = PN_IDENTITY_ANY;
	pn_policy_consider(&verdict, bpf_map_lookup_elem(&pn_policy, &key));
	return verdict;
}

#endif /* PODNET_BPF_LIB_POLICY_H */
