/*
 * Packet parsing for the pod device: Ethernet, IPv4 and the first bytes of TCP, UDP, SCTP and
 * ICMP, into the few fields policy, conntrack and flow events need.
 */
#ifndef PODNET_BPF_LIB_PARSE_H
#define PODNET_BPF_LIB_PARSE_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

enum pn_parse_result {
	PN_PARSE_IPV4 = 0,
	PN_PARSE_ARP = 1, /* always passes: the node answers the pod's ARP (proxy ARP) */
	PN_PARSE_OTHER_L3 = 2,
	PN_PARSE_MALFORMED = 3,
};

struct pn_packet {
	__u32 saddr; /* network byte order, like every address and port below */
	__u32 daddr;
	__u16 sport; /* conntrack ports */
	__u16 dport;
	__u16 policy_port; /* the port policy matches: dport, or the ICMP type in the high byte */
	__u8 protocol;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 later_fragment; /* a non-first fragment: no L4 header */
	__u8 has_ipv4; /* the IPv4 header was read (addresses valid), even if L4 was not */
	__u8 pad[3];
	__u32 len;
};

/* The 8-bit flags field of the TCP header (byte 13): FIN SYN RST PSH ACK URG ECE CWR. */
#define PN_TCP_FIN 0x01
#define PN_TCP_SYN 0x02
#define PN_TCP_RST 0x04
#define PN_TCP_ACK 0x10

#define PN_IPPROTO_SCTP 132

/* linux/icmp.h pulls in libc headers, which a BPF target cannot build: the 8 bytes we read. */
struct pn_icmphdr {
	__u8 type;
	__u8 code;
	__u16 checksum;
	__u16 id; /* echo request and reply */
	__u16 sequence;
};
#define PN_ICMP_ECHOREPLY 0
#define PN_ICMP_ECHO 8

/* Parses the Ethernet frame that starts `offset` bytes into the packet (0, or past an outer
 * header that is about to be removed). */
static __always_inline int pn_parse_at(struct __sk_buff *skb, struct pn_packet *pkt, __u32 offset)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data + offset;
	struct iphdr *ip;
	void *l4;
	__u32 ihl;

	pkt->len = skb->len - offset; /* the frame's length */
	if ((void *)(eth + 1) > data_end)
		return PN_PARSE_MALFORMED;
	if (eth->h_proto == bpf_htons(ETH_P_ARP))
		return PN_PARSE_ARP;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return PN_PARSE_OTHER_L3;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return PN_PARSE_MALFORMED;
	ihl = ip->ihl * 4;
	if (ip->version != 4 || ihl < sizeof(*ip))
		return PN_PARSE_MALFORMED;
	pkt->saddr = ip->saddr;
	pkt->daddr = ip->daddr;
	pkt->protocol = ip->protocol;
	pkt->has_ipv4 = 1;
	if (ip->frag_off & bpf_htons(0x1fff)) {
		pkt->later_fragment = 1;
		return PN_PARSE_IPV4;
	}

	l4 = (void *)ip + ihl;
	switch (ip->protocol) {
	case IPPROTO_TCP: {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end)
			return PN_PARSE_MALFORMED;
		pkt->sport = tcp->source;
		pkt->dport = tcp->dest;
		pkt->tcp_flags = ((__u8 *)tcp)[13];
		pkt->policy_port = tcp->dest;
		break;
	}
	case IPPROTO_UDP:
	case PN_IPPROTO_SCTP: {
		/* SCTP's common header starts with the same two ports as UDP. */
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return PN_PARSE_MALFORMED;
		pkt->sport = udp->source;
		pkt->dport = udp->dest;
		pkt->policy_port = udp->dest;
		break;
	}
	case IPPROTO_ICMP: {
		struct pn_icmphdr *icmp = l4;

		if ((void *)(icmp + 1) > data_end)
			return PN_PARSE_MALFORMED;
		pkt->icmp_type = icmp->type;
		pkt->policy_port = bpf_htons((__u16)icmp->type << 8);
		/* Echo: the id plays the client port, so a reply is the reversed tuple. */
		if (icmp->type == PN_ICMP_ECHO)
			pkt->sport = icmp->id;
		else if (icmp->type == PN_ICMP_ECHOREPLY)
			pkt->dport = icmp->id;
		break;
	}
	default:
		break;
	}
	return PN_PARSE_IPV4;
}

static __always_inline int pn_parse(struct __sk_buff *skb, struct pn_packet *pkt)
{
	return pn_parse_at(skb, pkt, 0);
}

#endif /* PODNET_BPF_LIB_PARSE_H */
