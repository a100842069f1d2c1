/*
 * The fast path (pn_config.flags & PN_CONFIG_FAST_FORWARD): a packet that podnet has let through
 * and that the node would route out of another device goes straight to that device's egress
 * (FIB lookup, TTL decrement, neighbour's MAC), skipping the node's IP forwarding path; a packet
 * for a local pod enters the pod's namespace directly, its ingress judged by the caller first (the
 * pod device's own to_pod program does not see it). Anything the FIB does not resolve to a forward
 * (local delivery, no route, TTL expiring) takes the normal path.
 * It also skips netfilter, so it is off by default: kube-proxy's iptables NAT would be bypassed.
 */
#ifndef PODNET_BPF_LIB_FORWARD_H
#define PODNET_BPF_LIB_FORWARD_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "lib/parse.h"

#define PN_AF_INET 2
#define PN_IP_TTL_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, ttl))
#define PN_IP_CSUM_OFF (ETH_HLEN + __builtin_offsetof(struct iphdr, check))

/* Where the node would forward this packet: BPF_FIB_LKUP_RET_SUCCESS (next hop's MAC known) or
 * BPF_FIB_LKUP_RET_NO_NEIGH with `fib` filled in, or -1 when the normal path should take it
 * (local delivery, no route, back out of the same device). */
static __always_inline long pn_fib(struct __sk_buff *skb, const struct pn_packet *pkt,
				   struct bpf_fib_lookup *fib)
{
	long rc;

	fib->family = PN_AF_INET;
	fib->l4_protocol = pkt->protocol;
	fib->sport = pkt->sport;
	fib->dport = pkt->dport;
	/* The parsed packet's IP length against the MTU of the device it would leave by; for a GSO
	 * packet 0, which has the kernel check the skb itself, GSO-aware (its length would fail
	 * with FRAG_NEEDED). Not 0 for every packet: the skb may still carry an outer header that
	 * is about to go (pn_decap_to_pod), and a full-size inner packet would then fail instead. */
	fib->tot_len = skb->gso_size ? 0 : pkt->len - ETH_HLEN;
	fib->ipv4_src = pkt->saddr;
	fib->ipv4_dst = pkt->daddr;
	fib->ifindex = skb->ifindex;
	rc = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return -1;
	if (fib->ifindex == skb->ifindex)
		return -1;
	return rc;
}

/* Forwards as the node would after pn_fib returned rc: TTL - 1 (a TTL of 1 takes the normal way,
 * for its ICMP), MACs, and out of fib->ifindex; with `into_peer` (a veth whose far end is a local
 * pod, rc SUCCESS) straight into the pod's namespace (bpf_redirect_peer: no second pass through
 * the veth's backlog). */
static __always_inline int pn_redirect(struct __sk_buff *skb, const struct bpf_fib_lookup *fib,
				       long rc, int into_peer)
{
	__u16 old_word, new_word;

	if (bpf_skb_load_bytes(skb, PN_IP_TTL_OFF, &old_word, sizeof(old_word)) != 0)
		return TC_ACT_OK;
	if (*(__u8 *)&old_word <= 1)
		return TC_ACT_OK;
	new_word = old_word;
	*(__u8 *)&new_word -= 1;
	if (bpf_l3_csum_replace(skb, PN_IP_CSUM_OFF, old_word, new_word, sizeof(new_word)) != 0 ||
	    bpf_skb_store_bytes(skb, PN_IP_TTL_OFF, &new_word, sizeof(new_word), 0) != 0)
		return TC_ACT_SHOT; /* the header is half rewritten: never send it on */

	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		struct bpf_redir_neigh nh = { .nh_family = PN_AF_INET, .ipv4_nh = fib->ipv4_dst };

		return bpf_redirect_neigh(fib->ifindex, &nh, sizeof(nh), 0);
	}
	if (bpf_skb_store_bytes(skb, 0, fib->dmac, ETH_ALEN, 0) != 0 ||
	    bpf_skb_store_bytes(skb, ETH_ALEN, fib->smac, ETH_ALEN, 0) != 0)
		return TC_ACT_SHOT;
	return into_peer ? bpf_redirect_peer(fib->ifindex, 0) : bpf_redirect(fib->ifindex, 0);
}

#endif /* PODNET_BPF_LIB_FORWARD_H */
