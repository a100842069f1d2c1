/*
 * Service load balancing: the maps (layouts in service_lb.h) and the choice of a backend for a
 * frontend. Shared by every program that translates services (today the socket-level one,
 * service_lb.bpf.c); each lookup is O(1) whatever the number of services and backends.
 */
#ifndef PODNET_BPF_LIB_LB_H
#define PODNET_BPF_LIB_LB_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "service_lb.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct pn_svc_frontend_key);
	__type(value, struct pn_svc_frontend_value);
	__uint(max_entries, PN_SVC_FRONTENDS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_svc_frontends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct pn_svc_backend_key);
	__type(value, struct pn_svc_backend);
	__uint(max_entries, PN_SVC_BACKENDS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_svc_backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct pn_svc_affinity_key);
	__type(value, struct pn_svc_affinity_value);
	__uint(max_entries, PN_SVC_AFFINITY_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_svc_affinity SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct pn_svc_reverse_key);
	__type(value, struct pn_svc_reverse_value);
	__uint(max_entries, PN_SVC_REVERSE_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_svc_reverse SEC(".maps");

enum pn_lb_result {
	PN_LB_NOT_SERVICE = 0, /* no frontend: leave the call alone */
	PN_LB_BACKEND = 1, /* *backend holds the choice */
	PN_LB_EMPTY = 2, /* the frontend has no backend: refuse */
	PN_LB_EMPTY_DROP = 3, /* no backend and PN_SVC_DROP_WHEN_EMPTY: drop */
};

/* The backend in `slot` of service `id`, NULL when the slot is empty. */
static __always_inline struct pn_svc_backend *pn_lb_slot(__u32 id, __u32 slot)
{
	struct pn_svc_backend_key key = { .service_id = id, .slot = slot };

	return bpf_map_lookup_elem(&pn_svc_backends, &key);
}

/* The backend the affinity entry `key` still names: none when there is no entry, it is older
 * than timeout_ns (0: never too old) or its slot holds another backend now (the backend left the
 * service). Refreshes its last use. */
static __always_inline int pn_lb_affine(const struct pn_svc_frontend_value *fe,
					 const struct pn_svc_affinity_key *key, __u64 now,
					 __u64 timeout_ns, struct pn_svc_backend *backend)
{
	struct pn_svc_affinity_value *aff = bpf_map_lookup_elem(&pn_svc_affinity, key);
	struct pn_svc_backend *in_slot;

	if (!aff || (timeout_ns && now - aff->last_used_ns >= timeout_ns))
		return 0;
	if (aff->slot >= fe->backend_count)
		return 0;
	in_slot = pn_lb_slot(fe->service_id, aff->slot);
	if (!in_slot || in_slot->addr != aff->addr || in_slot->port != aff->port)
		return 0;
	aff->last_used_ns = now;
	backend->addr = aff->addr;
	backend->port = aff->port;
	backend->pad = 0;
	return 1;
}

/*
 * Chooses the backend of frontend `key`. `client` is the client's netns cookie (sessionAffinity
 * ClientIP); `sock` is the socket's cookie when its choice should stick to the socket (an
 * unconnected UDP socket's datagrams), else 0; `seed` picks the slot when no affinity decides.
 * A slot found empty means user space shrank the list after the entry was read: the entry is
 * read once more.
 */
static __always_inline enum pn_lb_result pn_lb_choose(const struct pn_svc_frontend_key *key,
						      __u64 client, __u64 sock, __u32 seed,
						      struct pn_svc_backend *backend)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		struct pn_svc_frontend_value *fe = bpf_map_lookup_elem(&pn_svc_frontends, key);
		struct pn_svc_affinity_key aff_key = {};
		struct pn_svc_affinity_value aff = {};
		struct pn_svc_backend *chosen;
		__u64 timeout_ns;
		__u64 now;
		__u32 slot;

		if (!fe)
			return PN_LB_NOT_SERVICE;
		if (fe->backend_count == 0)
			return (fe->flags & PN_SVC_DROP_WHEN_EMPTY) ? PN_LB_EMPTY_DROP : PN_LB_EMPTY;

		now = bpf_ktime_get_ns();
		timeout_ns = (__u64)fe->affinity_timeout_s * 1000000000ULL;
		aff_key.service_id = fe->service_id;
		if (timeout_ns) {
			aff_key.client = client;
			aff_key.kind = PN_SVC_AFFINITY_CLIENT;
		} else if (sock) {
			aff_key.client = sock;
			aff_key.kind = PN_SVC_AFFINITY_SOCKET;
		}
		if (aff_key.client && pn_lb_affine(fe, &aff_key, now, timeout_ns, backend))
			return PN_LB_BACKEND;

		slot = seed % fe->backend_count;
		chosen = pn_lb_slot(fe->service_id, slot);
		if (!chosen)
			continue;
		*backend = *chosen;
		if (aff_key.client) {
			aff.last_used_ns = now;
			aff.addr = chosen->addr;
			aff.port = chosen->port;
			aff.slot = slot;
			bpf_map_update_elem(&pn_svc_affinity, &aff_key, &aff, BPF_ANY);
		}
		return PN_LB_BACKEND;
	}
	return PN_LB_EMPTY;
}

#endif /* PODNET_BPF_LIB_LB_H */
