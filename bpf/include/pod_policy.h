/*
 * The whole kernel/user contract of the pod device program (bpf/pod_policy.bpf.c): every map key
 * and value, the flow event, the drop reasons and the reserved identities. Included as is by the
 * BPF C side and by the C++ side (src/bpf/), so there is never a second, hand-synced copy.
 *
 * Rules for this file: fixed-width types only, explicit padding, every size asserted, no
 * pointers, no bitfields. A layout change is an ABI change: the loader refuses pinned maps whose
 * key or value size differs (see docs/policy-datapath.md, "Upgrades").
 * Every enum of a closed set ends with <PREFIX>__MAX: one past its last value (for flags, the bit
 * after the last), so user space loops over every value (0 .. __MAX) and its tests cover each.
 * Values are appended before __MAX, never renumbered. pn_identity has none: it names reserved
 * values of an open range.
 */
#ifndef PODNET_BPF_POD_POLICY_H
#define PODNET_BPF_POD_POLICY_H

#include <linux/types.h>

#ifdef __cplusplus
#define PN_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define PN_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Map names; libbpf pins each map as <pin dir>/<name> (LIBBPF_PIN_BY_NAME). */
#define PN_MAP_IPCACHE "pn_ipcache"
#define PN_MAP_ENDPOINTS "pn_endpoints"
#define PN_MAP_POLICY "pn_policy"
#define PN_MAP_CT "pn_ct"
#define PN_MAP_CONFIG "pn_config"
#define PN_MAP_DROPS "pn_drops"
#define PN_MAP_STATS "pn_stats"
#define PN_MAP_EVENTS "pn_events"
#define PN_MAP_IPBLOCKS "pn_ipblocks"

/* Capacities. Changing one changes the pinned maps' shape (an ABI change). */
#define PN_IPCACHE_MAX 524288
#define PN_ENDPOINTS_MAX 65536
#define PN_POLICY_MAX 1048576
#define PN_CT_MAX 262144
#define PN_EVENTS_BYTES (4 * 1024 * 1024)
#define PN_IPBLOCKS_MAX 65536

/*
 * Identities. A pod identity stands for one set of (namespace labels, pod labels) and is
 * allocated cluster-wide by the controller, from PN_IDENTITY_FIRST_POD up. CIDR identities (one
 * per distinct prefix named by a policy) are node-local and have PN_IDENTITY_LOCAL_CIDR set.
 * Entities: "host" is PN_IDENTITY_HOST, "remote-node" PN_IDENTITY_REMOTE_NODE, "world" is
 * PN_IDENTITY_WORLD plus every CIDR identity, "cluster" every pod identity plus host and
 * remote-node; user space expands entities into identities when it compiles policy.
 * ipBlock identities (PN_IDENTITY_LOCAL_IPBLOCK set, node-local, one per distinct prefix a
 * NetworkPolicy ipBlock names) are never a packet's identity: they come from pn_ipblocks, which
 * matches every address (pods, nodes, world) by prefix, and are only ever a pn_policy peer.
 */
enum pn_identity {
	PN_IDENTITY_ANY = 0, /* policy key wildcard; never a packet's identity */
	PN_IDENTITY_HOST = 1, /* this node (every local address of the node) */
	PN_IDENTITY_WORLD = 2, /* outside the cluster: an ipcache miss */
	PN_IDENTITY_REMOTE_NODE = 6, /* another node of the cluster */
	PN_IDENTITY_FIRST_POD = 256,
	PN_IDENTITY_LOCAL_CIDR = 1 << 24,
	PN_IDENTITY_LOCAL_IPBLOCK = 1 << 27,
};

/* Direction as seen by the pod. Pod egress = the host veth's tc ingress hook. */
enum pn_direction {
	PN_DIR_INGRESS = 0, /* towards the pod */
	PN_DIR_EGRESS = 1, /* from the pod */
	PN_DIR__MAX = 2,
};

/* Every reason a packet is dropped: the programs, the flow events and the counters use this. */
enum pn_drop_reason {
	PN_DROP_NONE = 0, /* forwarded */
	PN_DROP_POLICY_DENY = 1, /* a deny rule matched */
	PN_DROP_POLICY_DEFAULT = 2, /* the pod is isolated in this direction and nothing allows it */
	PN_DROP_MALFORMED = 3, /* truncated or invalid headers */
	PN_DROP_UNSUPPORTED_L3 = 4, /* not IPv4 or ARP, while enforcing */
	PN_DROP_FRAGMENT = 5, /* a non-first IPv4 fragment, while enforcing */
	PN_DROP_NO_ENDPOINT = 6, /* the device is not in pn_endpoints and the mode is "always" */
	PN_DROP__MAX = 7,
};

enum pn_verdict {
	PN_VERDICT_FORWARDED = 0,
	PN_VERDICT_DROPPED = 1,
	PN_VERDICT__MAX = 2,
};

/* What decided a verdict (flow event field "match"). */
enum pn_match {
	PN_MATCH_NONE = 0, /* not enforced in this direction */
	PN_MATCH_POLICY_ALLOW = 1, /* an allow entry (policy_id says which) */
	PN_MATCH_POLICY_DENY = 2, /* a deny entry (policy_id says which) */
	PN_MATCH_DEFAULT_DENY = 3, /* isolated, no entry matched */
	PN_MATCH_CT_ESTABLISHED = 4, /* a packet of a tracked flow, original direction */
	PN_MATCH_CT_REPLY = 5, /* a reply of a tracked flow */
	PN_MATCH_HOST = 6, /* from the pod's own node: always allowed */
	PN_MATCH_INVALID = 7, /* dropped before any policy decision (see drop reason) */
	PN_MATCH_HOST_DEFAULT_DENY = 8, /* a pod -> its node: the node is isolated, nothing allows it */
	PN_MATCH__MAX = 9,
};

/* Agent-wide enforcement mode (Cilium's policy-enforcement). */
enum pn_enforcement_mode {
	PN_ENFORCE_DEFAULT = 0, /* enforce a direction once a policy selects the pod in it */
	PN_ENFORCE_ALWAYS = 1, /* enforce both directions on every pod (default deny) */
	PN_ENFORCE_NEVER = 2, /* never drop for policy; verdicts are still reported */
	PN_ENFORCE__MAX = 3,
};

/* ---- pn_ipcache: LPM trie, IPv4 prefix -> identity. Miss = PN_IDENTITY_WORLD. ---- */
struct pn_ipcache_key {
	__u32 prefixlen; /* 0..32 */
	__u32 addr; /* network byte order */
};
PN_STATIC_ASSERT(sizeof(struct pn_ipcache_key) == 8, "pn_ipcache_key layout");

struct pn_ipcache_value {
	__u32 identity;
	__u32 flags; /* reserved, 0 */
};
PN_STATIC_ASSERT(sizeof(struct pn_ipcache_value) == 8, "pn_ipcache_value layout");

/*
 * ---- pn_ipblocks: LPM trie, IPv4 prefix -> ipBlock identity. Miss = no ipBlock names it. ----
 * Key and value are pn_ipcache_key / pn_ipcache_value. Unlike pn_ipcache, a pod's or a node's
 * /32 does not hide a prefix here: the longest prefix among those NetworkPolicy ipBlocks name
 * (cidr and except alike) gives the identity, and pn_policy has an entry for that identity under
 * every rule whose cidr holds the prefix and none of whose excepts does. Looked up once per new
 * enforced flow, with the peer's address (docs/policy-datapath.md).
 */

/*
 * ---- pn_endpoints: hash, host-side ifindex -> endpoint. ----
 * The host firewall: the node's own devices (uplink, VXLAN device) carry an endpoint whose
 * identity is PN_IDENTITY_HOST; on them the programs judge only packets to or from an address of
 * the node (the ipcache says PN_IDENTITY_HOST) and pass everything else untouched. The entry under
 * PN_HOST_ENDPOINT_KEY (no device has ifindex 0) is the same host endpoint, consulted when a local
 * pod sends to its node: after the pod's egress decision, the node's ingress decides too.
 */
#define PN_HOST_ENDPOINT_KEY 0

enum pn_endpoint_flags {
	PN_EP_ENFORCE_INGRESS = 1 << 0, /* a policy selects the pod for ingress */
	PN_EP_ENFORCE_EGRESS = 1 << 1, /* a policy selects the pod for egress */
	PN_EP__MAX = 1 << 2,
};

struct pn_endpoint_key {
	__u32 ifindex; /* the host-side veth */
};
PN_STATIC_ASSERT(sizeof(struct pn_endpoint_key) == 4, "pn_endpoint_key layout");

struct pn_endpoint_value {
	__u32 endpoint_id; /* the agent's id of the pod attachment, reported in events */
	__u32 identity; /* the pod's identity, reported in events */
	__u32 subject; /* the pn_policy key's subject; the agent uses the identity */
	__u32 flags; /* pn_endpoint_flags */
	__u32 addr; /* the pod's IPv4 address, network byte order */
	__u32 pad;
};
PN_STATIC_ASSERT(sizeof(struct pn_endpoint_value) == 24, "pn_endpoint_value layout");

/*
 * ---- pn_policy: LPM trie. ----
 * {subject, peer, direction} always match exactly (prefixlen >= PN_POLICY_PREFIX_PROTO);
 * the protocol matches exactly when prefixlen >= PN_POLICY_PREFIX_PORT (else any protocol and
 * any port); the port's top (prefixlen - PN_POLICY_PREFIX_PORT) bits match, so a port range is a
 * handful of entries (at most 30), one per aligned block. The program probes up to three times per
 * new flow: with the peer's identity, with the peer address's ipBlock identity (pn_ipblocks; only
 * on a hit) and with PN_IDENTITY_ANY; a deny from any probe wins, then an allow in that order.
 * Within one probe the longest prefix wins, so user space stores an allow that lies inside a
 * deny of the same subject/peer/direction as a deny (see docs/policy-datapath.md).
 */
#define PN_POLICY_PREFIX_PROTO 72 /* subject + peer + direction */
#define PN_POLICY_PREFIX_PORT 80 /* ... + protocol */
#define PN_POLICY_PREFIX_FULL 96 /* ... + port */

struct pn_policy_key {
	__u32 prefixlen;
	__u32 subject; /* the endpoint's subject (its identity) */
	__u32 peer; /* the remote identity, or PN_IDENTITY_ANY */
	__u8 direction; /* pn_direction */
	__u8 protocol; /* IPPROTO_TCP, IPPROTO_UDP, IPPROTO_SCTP, IPPROTO_ICMP */
	__u16 dport; /* network byte order (ICMP: the type in the high byte) */
};
PN_STATIC_ASSERT(sizeof(struct pn_policy_key) == 16, "pn_policy_key layout");

enum pn_policy_action {
	PN_POLICY_ALLOW = 1,
	PN_POLICY_DENY = 2,
	PN_POLICY_ACTION__MAX = 3, /* not PN_POLICY__MAX: too close to the map size PN_POLICY_MAX */
};

struct pn_policy_value {
	__u32 policy_id; /* the agent's id of the rule that produced the entry */
	__u8 action; /* pn_policy_action */
	__u8 pad[3];
};
PN_STATIC_ASSERT(sizeof(struct pn_policy_value) == 8, "pn_policy_value layout");

/*
 * ---- pn_ct: LRU hash, one entry per flow and endpoint and direction of the first packet. ----
 * The key is the first packet's tuple as seen at the hook that allowed it. A later packet is
 * "established" when its own tuple is found with the same direction, and a "reply" when its
 * reversed tuple is found with the opposite direction.
 */
struct pn_ct_key {
	__u32 ifindex; /* the endpoint's host-side device */
	__u32 saddr; /* network byte order */
	__u32 daddr;
	__u16 sport; /* network byte order; ICMP echo: the id as sport of the request */
	__u16 dport;
	__u8 protocol;
	__u8 direction; /* pn_direction of the first packet */
	__u16 pad;
};
PN_STATIC_ASSERT(sizeof(struct pn_ct_key) == 20, "pn_ct_key layout");

enum pn_ct_flags {
	PN_CT_FIN_ORIG = 1 << 0, /* FIN seen in the original direction */
	PN_CT_FIN_REPLY = 1 << 1,
	PN_CT_RST = 1 << 2,
	PN_CT_SEEN_REPLY = 1 << 3,
	PN_CT__MAX = 1 << 4,
};

struct pn_ct_value {
	__u64 expires_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns); an expired entry is a miss */
	__u64 created_ns;
	__u32 policy_id; /* the rule that decided the flow (0: not enforced) */
	__u32 src_identity; /* identities at creation, reported for established packets */
	__u32 dst_identity;
	__u8 flags; /* pn_ct_flags */
	__u8 tcp_flags_orig; /* union of TCP flags seen, original direction */
	__u8 tcp_flags_reply; /* ... reply direction */
	__u8 match; /* pn_match of the first packet, or of its re-judging (lib/conntrack.h) */
};
PN_STATIC_ASSERT(sizeof(struct pn_ct_value) == 32, "pn_ct_value layout");

/* ---- pn_config: array of one entry, written by the agent at any time. ---- */
enum pn_config_flags {
	PN_CONFIG_FAST_FORWARD = 1 << 0, /* forwarded packets skip the node's IP stack (forward.h) */
	PN_CONFIG__MAX = 1 << 1,
};

struct pn_config {
	__u32 enforcement_mode; /* pn_enforcement_mode */
	__u16 flags; /* pn_config_flags */
	/* The overlay's UDP port, network byte order (0: no overlay). Node devices pass its packets
	 * between this node and another untouched: no conntrack, no event (the host firewall always
	 * lets them through). Was the high half of a __u32 flags, so older entries read 0. */
	__u16 tunnel_port;
	__u64 policy_revision; /* bumped by the agent after each policy batch; in every event */
};
PN_STATIC_ASSERT(sizeof(struct pn_config) == 16, "pn_config layout");

/* ---- pn_drops: per-CPU array indexed by pn_drop_reason (slot 0 counts nothing). ---- */
struct pn_counter {
	__u64 packets;
	__u64 bytes;
};
PN_STATIC_ASSERT(sizeof(struct pn_counter) == 16, "pn_counter layout");

/* ---- pn_stats: per-CPU array of __u64 by pn_stat. ---- */
enum pn_stat {
	PN_STAT_EVENTS_LOST = 0, /* the ring buffer was full */
	PN_STAT_CT_CREATED = 1,
	PN_STAT__MAX = 2,
};

/* ---- pn_events: ring buffer of struct pn_flow_event. ---- */
/*
 * Which verdicts become events (read-only data "event_level", set before load):
 * PN_EVENTS_FLOWS (default) reports every drop, every new flow and every packet of a tracked flow
 * that carries a TCP flag not seen before in its direction (SYN-ACK, FIN, RST); PN_EVENTS_ALL
 * reports every packet.
 */
enum pn_event_level {
	PN_EVENTS_DROPS = 0,
	PN_EVENTS_FLOWS = 1,
	PN_EVENTS_ALL = 2,
	PN_EVENTS__MAX = 3,
};

struct pn_flow_event {
	__u64 time_ns; /* CLOCK_MONOTONIC */
	__u64 policy_revision; /* pn_config.policy_revision when decided */
	__u32 ifindex; /* the host-side device */
	__u32 endpoint_id; /* 0 when the device has no endpoint entry */
	__u32 src_identity;
	__u32 dst_identity;
	__u32 saddr; /* network byte order */
	__u32 daddr;
	__u16 sport; /* network byte order; ICMP: id (echo) or 0 */
	__u16 dport;
	__u32 policy_id; /* the rule that decided (allow or deny), 0 when none */
	__u32 pkt_len;
	__u8 protocol;
	__u8 tcp_flags; /* FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 URG 0x20 ECE 0x40 CWR 0x80 */
	__u8 direction; /* pn_direction */
	__u8 verdict; /* pn_verdict */
	__u8 drop_reason; /* pn_drop_reason */
	__u8 match; /* pn_match */
	__u8 icmp_type;
	__u8 pad;
	__u32 reserved;
};
PN_STATIC_ASSERT(sizeof(struct pn_flow_event) == 64, "pn_flow_event layout");

#endif /* PODNET_BPF_POD_POLICY_H */
