/*
 * The whole kernel/user contract of the socket-level service load balancer
 * (bpf/service_lb.bpf.c): every map key and value and the flags. Included as is by the BPF C side
 * and by the C++ side (src/services/service_maps.cpp). Same rules as pod_policy.h: fixed-width
 * types, explicit padding, every size asserted; a layout change is an ABI change, and the loader
 * refuses pinned maps whose type, key size, value size or capacity differ.
 *
 * Addresses and ports are in network byte order everywhere in this file.
 */
#ifndef PODNET_BPF_SERVICE_LB_H
#define PODNET_BPF_SERVICE_LB_H

#include <linux/types.h>

#ifdef __cplusplus
#define PN_SVC_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
#else
#define PN_SVC_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* Map names; libbpf pins each map as <pin dir>/<name> (LIBBPF_PIN_BY_NAME). */
#define PN_MAP_SVC_FRONTENDS "pn_svc_frontends"
#define PN_MAP_SVC_BACKENDS "pn_svc_backends"
#define PN_MAP_SVC_AFFINITY "pn_svc_affinity"
#define PN_MAP_SVC_REVERSE "pn_svc_reverse"

/* Capacities. Changing one changes the pinned maps' shape (an ABI change). */
#define PN_SVC_FRONTENDS_MAX 65536 /* also the highest service id */
#define PN_SVC_BACKENDS_MAX 524288 /* backend slots of every frontend together */
#define PN_SVC_BACKENDS_PER_FRONTEND 65535 /* backend_count is 16 bits */
#define PN_SVC_AFFINITY_MAX 65536
#define PN_SVC_REVERSE_MAX 262144

enum pn_svc_flags {
	PN_SVC_DROP_WHEN_EMPTY = 1 << 0, /* no backend: drop (EPERM) instead of refusing */
	PN_SVC__MAX = 1 << 1,
};

/*
 * ---- pn_svc_frontends: hash, (address, port, protocol) -> service entry. ----
 * A miss means "not a service": the socket call goes on untouched. backend_count 0 refuses
 * (ECONNREFUSED) or, with PN_SVC_DROP_WHEN_EMPTY, drops (EPERM).
 */
struct pn_svc_frontend_key {
	__u32 addr;
	__u16 port;
	__u8 protocol; /* IPPROTO_TCP or IPPROTO_UDP */
	__u8 pad; /* 0 */
};
PN_SVC_STATIC_ASSERT(sizeof(struct pn_svc_frontend_key) == 8, "pn_svc_frontend_key layout");

struct pn_svc_frontend_value {
	__u32 service_id; /* 1 .. PN_SVC_FRONTENDS_MAX; names its slots and affinity entries */
	__u16 backend_count; /* slots 0 .. backend_count - 1 are in use */
	__u16 flags; /* enum pn_svc_flags */
	__u32 affinity_timeout_s; /* sessionAffinity ClientIP timeoutSeconds; 0: no affinity */
	__u32 pad; /* 0 */
};
PN_SVC_STATIC_ASSERT(sizeof(struct pn_svc_frontend_value) == 16, "pn_svc_frontend_value layout");

/*
 * ---- pn_svc_backends: hash, (service id, slot) -> backend. ----
 * User space changes a backend list so that a reader never finds a slot below backend_count
 * empty for long: new slots are written before the count grows, slots beyond a smaller count are
 * deleted after it shrinks, and a slot that stays in use is overwritten in place. A program that
 * read the old count just before it shrank and then misses its slot reads the entry again.
 */
struct pn_svc_backend_key {
	__u32 service_id;
	__u32 slot;
};
PN_SVC_STATIC_ASSERT(sizeof(struct pn_svc_backend_key) == 8, "pn_svc_backend_key layout");

struct pn_svc_backend {
	__u32 addr;
	__u16 port;
	__u16 pad; /* 0 */
};
PN_SVC_STATIC_ASSERT(sizeof(struct pn_svc_backend) == 8, "pn_svc_backend layout");

/*
 * ---- pn_svc_affinity: LRU hash, (client, service id, kind) -> backend chosen, last use. ----
 * Two kinds of entries:
 * - PN_SVC_AFFINITY_CLIENT, sessionAffinity ClientIP: client is the client socket's network
 *   namespace cookie. At connect time the client's address is not chosen yet, and a pod is one
 *   network namespace (one address). An entry older than the frontend's affinity_timeout_s
 *   chooses again.
 * - PN_SVC_AFFINITY_SOCKET, an unconnected UDP socket's flow: client is the socket cookie. Its
 *   datagrams to a frontend stay on one backend while it is in the service, as conntrack keeps a
 *   UDP flow on its backend under kube-proxy; no timeout (the LRU evicts).
 * Either way, an entry whose slot no longer holds its backend (it left the service) chooses again.
 */
enum pn_svc_affinity_kind {
	PN_SVC_AFFINITY_CLIENT = 0,
	PN_SVC_AFFINITY_SOCKET = 1,
	PN_SVC_AFFINITY__MAX = 2,
};

struct pn_svc_affinity_key {
	__u64 client; /* bpf_get_netns_cookie (CLIENT) or bpf_get_socket_cookie (SOCKET) */
	__u32 service_id;
	__u32 kind; /* enum pn_svc_affinity_kind */
};
PN_SVC_STATIC_ASSERT(sizeof(struct pn_svc_affinity_key) == 16, "pn_svc_affinity_key layout");

struct pn_svc_affinity_value {
	__u64 last_used_ns; /* bpf_ktime_get_ns of the last connection that used it */
	__u32 addr; /* the backend */
	__u16 port;
	__u16 slot; /* where it was found: still valid while that slot holds it */
};
PN_SVC_STATIC_ASSERT(sizeof(struct pn_svc_affinity_value) == 16, "pn_svc_affinity_value layout");

/*
 * ---- pn_svc_reverse: LRU hash, (socket cookie, backend) -> frontend. ----
 * Written when a socket is translated (connect, sendmsg); read by recvmsg (a UDP answer appears
 * to come from the frontend) and getpeername (the peer is the frontend).
 */
struct pn_svc_reverse_key {
	__u64 cookie; /* bpf_get_socket_cookie */
	__u32 addr; /* the backend */
	__u16 port;
	__u16 pad; /* 0 */
};
PN_SVC_STATIC_ASSERT(sizeof(struct pn_svc_reverse_key) == 16, "pn_svc_reverse_key layout");

struct pn_svc_reverse_value {
	__u32 addr; /* the frontend */
	__u16 port;
	__u16 pad; /* 0 */
};
PN_SVC_STATIC_ASSERT(sizeof(struct pn_svc_reverse_value) == 8, "pn_svc_reverse_value layout");

#endif /* PODNET_BPF_SERVICE_LB_H */
