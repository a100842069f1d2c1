/*
 * Policy decisions for a new flow: who the peer is (ipcache) and what pn_policy says about it.
 * Two LPM lookups per new flow, whatever the number of rules.
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

struct pn_policy_verdict {
	__u32 policy_id;
	__u8 match; /* PN_MATCH_POLICY_ALLOW, PN_MATCH_POLICY_DENY or PN_MATCH_DEFAULT_DENY */
};

static __always_inline struct pn_policy_verdict
pn_policy_decide(__u32 subject, __u32 peer, __u8 direction, const struct pn_packet *pkt)
{
	struct pn_policy_verdict verdict = { .match = PN_MATCH_DEFAULT_DENY };
	struct pn_policy_key key = {
		.prefixlen = PN_POLICY_PREFIX_FULL,
		.subject = subject,
		.peer = peer,
		.direction = direction,
		.protocol = pkt->protocol,
		.dport = pkt->policy_port,
	};
	struct pn_policy_value *exact, *any;

	exact = bpf_map_lookup_elem(&pn_policy, &key);
	key.peer = PN_IDENTITY_ANY;
	any = bpf_map_lookup_elem(&pn_policy, &key);

	/* A deny beats every allow, whichever probe found it. */
	if (exact && exact->action == PN_POLICY_DENY) {
		verdict.match = PN_MATCH_POLICY_DENY;
		verdict.policy_id = exact->policy_id;
	} else if (any && any->action == PN_POLICY_DENY) {
		verdict.match = PN_MATCH_POLICY_DENY;
		verdict.policy_id = any->policy_id;
	} else if (exact && exact->action == PN_POLICY_ALLOW) {
		verdict.match = PN_MATCH_POLICY_ALLOW;
		verdict.policy_id = exact->policy_id;
	} else if (any && any->action == PN_POLICY_ALLOW) {
		verdict.match = PN_MATCH_POLICY_ALLOW;
		verdict.policy_id = any->policy_id;
	}
	return verdict;
}

#endif /* PODNET_BPF_LIB_POLICY_H */
