/*
 * The pod device program: network policy, connection tracking and flow events on the host side
 * of each pod's veth. Two entry points, attached with tc (clsact, direct action):
 *
 *   from_pod  on the host veth's ingress hook: packets the pod sends (the pod's egress)
 *   to_pod    on the host veth's egress hook: packets for the pod (the pod's ingress)
 *
 * Both look the device up in pn_endpoints, the peer's address in pn_ipcache, the flow in pn_ct
 * and, for a new flow that is enforced, pn_ipblocks and pn_policy (lib/policy.h). Layouts:
 * pod_policy.h.
 * Node devices (the uplink, the VXLAN device) carry the same two programs the other way round:
 * to_pod on their tc ingress, from_pod on their tc egress, as the host firewall. With the fast
 * path (lib/forward.h) a packet entering the node may be judged for the local pod it is going to
 * (pn_judge with that pod's device) and delivered straight into the pod.
 * Design and semantics: docs/policy-datapath.md.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "pod_policy.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/conntrack.h"
#include "lib/verdict.h"
#include "lib/forward.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int pn_drop(struct pn_flow_event *ev, __u8 reason, __u8 match)
{
	ev->verdict = PN_VERDICT_DROPPED;
	ev->drop_reason = reason;
	ev->match = match;
	pn_count_drop(reason, ev->pkt_len);
	pn_emit(ev);
	return TC_ACT_SHOT;
}

/* Whether the endpoint `ep` (NULL: a device without an entry) enforces policy in `direction`.
 * "always" isolates pods, never the node: only a host policy does (its endpoint flags). */
static __always_inline int pn_enforces(__u32 mode, const struct pn_endpoint_value *ep,
				       __u32 direction)
{
	__u32 flag = direction == PN_DIR_INGRESS ? PN_EP_ENFORCE_INGRESS : PN_EP_ENFORCE_EGRESS;
	int host_device = ep && ep->identity == PN_IDENTITY_HOST;

	return (mode == PN_ENFORCE_ALWAYS && !host_device) ||
	       (mode != PN_ENFORCE_NEVER && ep && (ep->flags & flag));
}

/* The verdict on a flow whose first packet `pkt` travels `direction` at the endpoint (`enforce`:
 * it enforces that direction): PN_MATCH_NONE when nothing enforces it, PN_MATCH_HOST,
 * PN_MATCH_POLICY_ALLOW, or a deny (pn_match_denies), with the deciding rule in policy_id. */
static __always_inline struct pn_policy_verdict
pn_decide_flow(__u32 direction, int enforce, __u32 mode, int host_device, __u32 subject,
	       __u32 self_identity, __u32 peer_identity, __u32 peer_addr,
	       const struct pn_packet *pkt)
{
	struct pn_policy_verdict decision = { .match = PN_MATCH_NONE };

	if (enforce && direction == PN_DIR_INGRESS && peer_identity == PN_IDENTITY_HOST) {
		decision.match = PN_MATCH_HOST;
	} else if (enforce) {
		decision = pn_policy_decide(subject, peer_identity, peer_addr, direction, pkt);
		if (decision.match != PN_MATCH_POLICY_ALLOW)
			return decision;
	}

	/* A local pod -> its node: the host firewall's ingress decides as well. */
	if (direction == PN_DIR_EGRESS && peer_identity == PN_IDENTITY_HOST && !host_device &&
	    mode != PN_ENFORCE_NEVER) {
		struct pn_endpoint_key host_key = { .ifindex = PN_HOST_ENDPOINT_KEY };
		struct pn_endpoint_value *host = bpf_map_lookup_elem(&pn_endpoints, &host_key);

		if (host && (host->flags & PN_EP_ENFORCE_INGRESS)) {
			decision = pn_policy_decide(host->subject, self_identity, pkt->saddr,
						    PN_DIR_INGRESS, pkt);
			if (decision.match == PN_MATCH_DEFAULT_DENY)
				decision.match = PN_MATCH_HOST_DEFAULT_DENY;
		}
	}
	return decision;
}

/* A tracked flow recorded while nothing enforced its direction (match PN_MATCH_NONE), or denied
 * since, met again by a packet (`reply`: of the reverse direction): judged as its first packet
 * would be now. Allowed: the entry takes the rule and is never judged again. Denied: the entry
 * becomes a closing tombstone of the deny, so that the flow's packets and its replies are dropped
 * while the deny holds (a new SYN is a new flow). Nothing enforcing it (again): unjudged. */
static __always_inline void pn_ct_rejudge(struct pn_ct_value *entry, int reply, __u32 direction,
					  __u32 mode, const struct pn_endpoint_value *ep,
					  int host_device, __u32 self_identity,
					  __u32 peer_identity, const struct pn_packet *pkt,
					  __u64 now)
{
	struct pn_policy_verdict decision;
	struct pn_packet first = *pkt;
	__u32 flow_direction = direction;

	if (reply) {
		/* The flow's first packet went the other way: the identities stay on their sides. */
		flow_direction = direction == PN_DIR_INGRESS ? PN_DIR_EGRESS : PN_DIR_INGRESS;
		first.saddr = pkt->daddr;
		first.daddr = pkt->saddr;
		first.sport = pkt->dport;
		first.dport = pkt->sport;
		first.policy_port = pkt->sport;
		if (pkt->protocol == IPPROTO_ICMP)
			first.policy_port = pkt->icmp_type == PN_ICMP_ECHOREPLY ?
						    bpf_htons((__u16)PN_ICMP_ECHO << 8) :
						    pkt->policy_port;
	}
	decision = pn_decide_flow(flow_direction, pn_enforces(mode, ep, flow_direction), mode,
				  host_device, ep ? ep->subject : self_identity, self_identity,
				  peer_identity,
				  flow_direction == PN_DIR_EGRESS ? first.daddr : first.saddr, &first);
	if (decision.match == entry->match && decision.policy_id == entry->policy_id)
		return;
	if (pn_match_denies(decision.match) && !pn_match_denies(entry->match)) {
		entry->flags |= PN_CT_RST;
		entry->expires_ns = now + ct_lifetime_close_ns;
	}
	entry->policy_id = decision.policy_id;
	entry->match = decision.match;
}

/* The decision for one packet at the endpoint on device `ifindex` (its entry `ep`, or NULL) in
 * `direction`: policy, conntrack, drop counters and events. TC_ACT_OK or TC_ACT_SHOT. */
static __noinline int pn_judge(__u32 ifindex, __u32 direction, __u32 parsed,
			       const struct pn_packet *pkt, const struct pn_endpoint_value *ep)
{
	__u32 key0 = 0;
	struct pn_config *cfg = bpf_map_lookup_elem(&pn_config, &key0);
	__u32 mode = cfg ? cfg->enforcement_mode : PN_ENFORCE_DEFAULT;
	int host_device = ep && ep->identity == PN_IDENTITY_HOST;
	struct pn_flow_event ev = {};
	struct pn_ct_state ct = {};
	struct pn_policy_verdict decision;
	__u32 self_identity, peer_identity, peer_addr, subject;
	int enforce, ct_result;
	__u64 now = bpf_ktime_get_ns();

	enforce = pn_enforces(mode, ep, direction);

	ev.time_ns = now;
	ev.policy_revision = cfg ? cfg->policy_revision : 0;
	ev.ifindex = ifindex;
	ev.endpoint_id = ep ? ep->endpoint_id : 0;
	ev.direction = direction;
	ev.pkt_len = pkt->len;
	ev.saddr = pkt->saddr;
	ev.daddr = pkt->daddr;
	ev.sport = pkt->sport;
	ev.dport = pkt->dport;
	ev.protocol = pkt->protocol;
	ev.tcp_flags = pkt->tcp_flags;
	ev.icmp_type = pkt->icmp_type;

	if (parsed == PN_PARSE_OTHER_L3 || (parsed == PN_PARSE_MALFORMED && !pkt->has_ipv4)) {
		if (!enforce)
			return TC_ACT_OK;
		return pn_drop(&ev, parsed == PN_PARSE_MALFORMED ? PN_DROP_MALFORMED :
								   PN_DROP_UNSUPPORTED_L3,
			       PN_MATCH_INVALID);
	}

	/* Identities: the endpoint's own, and the peer's from the ipcache. */
	if (direction == PN_DIR_EGRESS) {
		self_identity = ep ? ep->identity : pn_identity_of(pkt->saddr);
		peer_addr = pkt->daddr;
		peer_identity = pn_identity_of(peer_addr);
		ev.src_identity = self_identity;
		ev.dst_identity = peer_identity;
	} else {
		self_identity = ep ? ep->identity : pn_identity_of(pkt->daddr);
		peer_addr = pkt->saddr;
		peer_identity = pn_identity_of(peer_addr);
		ev.src_identity = peer_identity;
		ev.dst_identity = self_identity;
	}

	if (parsed == PN_PARSE_MALFORMED) {
		if (!enforce)
			return TC_ACT_OK;
		return pn_drop(&ev, PN_DROP_MALFORMED, PN_MATCH_INVALID);
	}

	if (!ep && mode == PN_ENFORCE_ALWAYS)
		return pn_drop(&ev, PN_DROP_NO_ENDPOINT, PN_MATCH_INVALID);

	if (pkt->later_fragment) {
		if (enforce)
			return pn_drop(&ev, PN_DROP_FRAGMENT, PN_MATCH_INVALID);
		if (event_level == PN_EVENTS_ALL)
			pn_emit(&ev);
		return TC_ACT_OK;
	}

	ct_result = pn_ct_lookup(ifindex, direction, pkt, now, &ct);
	if (ct_result != PN_CT_NEW && ct.entry) {
		/* A flow recorded while nothing enforced its direction is judged again until something
		 * allows it (pn_ct_rejudge); while denied it is dropped, its replies too. */
		if (ct.entry->match == PN_MATCH_NONE || pn_match_denies(ct.entry->match))
			pn_ct_rejudge(ct.entry, ct_result == PN_CT_REPLY, direction, mode, ep,
				      host_device, self_identity, peer_identity, pkt, now);
		if (pn_match_denies(ct.entry->match)) {
			ev.policy_id = ct.entry->policy_id;
			return pn_drop(&ev, pn_drop_reason_of(ct.entry->match), ct.entry->match);
		}
		ev.policy_id = ct.entry->policy_id;
		ev.match = ct_result == PN_CT_REPLY ? PN_MATCH_CT_REPLY : PN_MATCH_CT_ESTABLISHED;
		if (event_level == PN_EVENTS_ALL ||
		    (event_level == PN_EVENTS_FLOWS && (ct.new_tcp_flags || ct.first_reply)))
			pn_emit(&ev);
		return TC_ACT_OK;
	}

	/* A new flow: decide. */
	subject = ep ? ep->subject : self_identity;
	decision = pn_decide_flow(direction, enforce, mode, host_device, subject, self_identity,
				  peer_identity, peer_addr, pkt);
	ev.policy_id = decision.policy_id;
	if (pn_match_denies(decision.match))
		return pn_drop(&ev, pn_drop_reason_of(decision.match), decision.match);
	ev.match = decision.match;

	pn_ct_create(ifindex, direction, pkt, now, ev.policy_id, ev.src_identity, ev.dst_identity,
		     ev.match);
	if (event_level >= PN_EVENTS_FLOWS)
		pn_emit(&ev);
	return TC_ACT_OK;
}

static __always_inline int pn_fast_path(const struct pn_config *cfg)
{
	return cfg && (cfg->flags & PN_CONFIG_FAST_FORWARD);
}

/* The local pod behind the device pn_fib chose, when the FIB also knows the pod's MAC (rc
 * SUCCESS), so the packet can go straight into it; NULL otherwise. */
static __always_inline struct pn_endpoint_value *pn_local_pod(const struct bpf_fib_lookup *fib,
							      long rc)
{
	struct pn_endpoint_key key = { .ifindex = fib->ifindex };
	struct pn_endpoint_value *ep;

	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return NULL;
	ep = bpf_map_lookup_elem(&pn_endpoints, &key);
	return ep && ep->identity != PN_IDENTITY_HOST ? ep : NULL;
}

/* An IPv4 packet podnet has let through, on a hook where it enters the node (a pod's send on its
 * veth's tc ingress, or a node device's tc ingress): the fast path may forward it straight on,
 * into a local pod once that pod's ingress allows it. */
static __always_inline int pn_pass(struct __sk_buff *skb, const struct pn_packet *pkt,
				   const struct pn_config *cfg, int entering)
{
	struct bpf_fib_lookup fib = {};
	struct pn_endpoint_value *pod;
	long rc;
	int verdict;

	if (!entering || !pn_fast_path(cfg) || pkt->later_fragment)
		return TC_ACT_OK;
	rc = pn_fib(skb, pkt, &fib);
	if (rc < 0)
		return TC_ACT_OK;
	pod = pn_local_pod(&fib, rc);
	if (!pod)
		return pn_redirect(skb, &fib, rc, 0);
	verdict = pn_judge(fib.ifindex, PN_DIR_INGRESS, PN_PARSE_IPV4, pkt, pod);
	return verdict != TC_ACT_OK ? verdict : pn_redirect(skb, &fib, rc, 1);
}

/* The overlay's own packets between this node and another (pn_config.tunnel_port): the host
 * firewall always lets them through, so they skip conntrack and events. */
static __always_inline int pn_is_tunnel(const struct pn_config *cfg, const struct pn_packet *pkt,
					__u8 direction)
{
	if (!cfg || !cfg->tunnel_port || pkt->protocol != IPPROTO_UDP ||
	    pkt->dport != cfg->tunnel_port)
		return 0;
	return pn_identity_of(direction == PN_DIR_INGRESS ? pkt->saddr : pkt->daddr) ==
	       PN_IDENTITY_REMOTE_NODE;
}

/* Outer Ethernet, IPv4 without options, UDP and VXLAN headers: where the inner frame starts. */
#define PN_VXLAN_INNER (ETH_HLEN + 20 + 8 + 8)
#define PN_VXLAN_FLAG_VNI 0x08 /* the VXLAN header's I flag: a valid VNI follows */

/* The fast path's receive side of the overlay: a VXLAN packet from another node for a local pod,
 * on a node device's tc ingress, is judged as that pod's ingress, decapsulated here and handed
 * straight to the pod (no outer IP/UDP receive, no VXLAN device, no GRO cell). Anything unusual,
 * or not for a local pod, passes on (TC_ACT_OK) to the kernel's VXLAN device. */
static __always_inline int pn_decap_to_pod(struct __sk_buff *skb, const struct pn_config *cfg)
{
	const __u32 headers = PN_VXLAN_INNER + ETH_HLEN + 20 + 20; /* through the inner L4 ports */
	struct pn_packet inner = {};
	struct bpf_fib_lookup fib = {};
	struct pn_endpoint_value *pod;
	void *data, *data_end;
	struct iphdr *outer;
	__u8 *vxlan;
	long rc;
	int verdict;

	if (!pn_fast_path(cfg))
		return TC_ACT_OK;
	/* A GSO packet may hold the inner headers in its fragments: into the linear area (as much
	 * of them as a short packet has). */
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	if (data + headers > data_end) {
		if (bpf_skb_pull_data(skb, skb->len < headers ? skb->len : headers) != 0)
			return TC_ACT_OK;
		data = (void *)(long)skb->data;
		data_end = (void *)(long)skb->data_end;
	}
	outer = data + ETH_HLEN;
	vxlan = data + PN_VXLAN_INNER - 8;
	if ((void *)(vxlan + 8) > data_end || outer->ihl != 5 || vxlan[0] != PN_VXLAN_FLAG_VNI)
		return TC_ACT_OK;
	if (pn_parse_at(skb, &inner, PN_VXLAN_INNER) != PN_PARSE_IPV4 || inner.later_fragment)
		return TC_ACT_OK;
	rc = pn_fib(skb, &inner, &fib);
	pod = pn_local_pod(&fib, rc);
	if (!pod)
		return TC_ACT_OK;
	verdict = pn_judge(fib.ifindex, PN_DIR_INGRESS, PN_PARSE_IPV4, &inner, pod);
	if (verdict != TC_ACT_OK)
		return verdict;
	/* Outer IPv4, UDP, VXLAN and the inner Ethernet header go; the outer Ethernet header stays
	 * (pn_redirect rewrites its addresses). A GSO packet keeps its segment size, and its tunnel
	 * GSO bits, which only matter if it were segmented again; it is delivered locally. */
	if (bpf_skb_adjust_room(skb, -PN_VXLAN_INNER, BPF_ADJ_ROOM_MAC, BPF_F_ADJ_ROOM_FIXED_GSO))
		return TC_ACT_OK;
	return pn_redirect(skb, &fib, rc, 1);
}

static __always_inline int pn_handle(struct __sk_buff *skb, __u8 direction)
{
	__u32 key0 = 0;
	struct pn_config *cfg = bpf_map_lookup_elem(&pn_config, &key0);
	struct pn_endpoint_key ep_key = { .ifindex = skb->ifindex };
	struct pn_endpoint_value *ep = bpf_map_lookup_elem(&pn_endpoints, &ep_key);
	struct pn_packet pkt = {};
	int parsed, verdict, host_device, entering;

	host_device = ep && ep->identity == PN_IDENTITY_HOST;
	entering = (direction == PN_DIR_EGRESS) != host_device;
	parsed = pn_parse(skb, &pkt);
	if (parsed == PN_PARSE_ARP)
		return TC_ACT_OK;
	if (host_device) {
		/* Only the node's own IPv4 traffic is the host firewall's: forwarded pod traffic and
		 * other protocols pass untouched. */
		if (parsed != PN_PARSE_IPV4)
			return TC_ACT_OK;
		if (pn_identity_of(direction == PN_DIR_INGRESS ? pkt.daddr : pkt.saddr) !=
		    PN_IDENTITY_HOST)
			return pn_pass(skb, &pkt, cfg, entering);
		if (pn_is_tunnel(cfg, &pkt, direction))
			return direction == PN_DIR_INGRESS ? pn_decap_to_pod(skb, cfg) : TC_ACT_OK;
	}
	verdict = pn_judge(skb->ifindex, direction, parsed, &pkt, ep);
	if (verdict != TC_ACT_OK || parsed != PN_PARSE_IPV4)
		return verdict;
	return pn_pass(skb, &pkt, cfg, entering);
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	return pn_handle(skb, PN_DIR_EGRESS);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	return pn_handle(skb, PN_DIR_INGRESS);
}
