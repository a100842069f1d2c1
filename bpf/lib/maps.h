/*
 * The pod device program's maps. Layouts come from pod_policy.h (the contract); every map is
 * pinned by name under the loader's pin directory so that a restarted agent reuses them and
 * attached programs keep their state.
 */
#ifndef PODNET_BPF_LIB_MAPS_H
#define PODNET_BPF_LIB_MAPS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "pod_policy.h"

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pn_ipcache_key);
	__type(value, struct pn_ipcache_value);
	__uint(max_entries, PN_IPCACHE_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_ipcache SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__type(key, struct pn_endpoint_key);
	__type(value, struct pn_endpoint_value);
	__uint(max_entries, PN_ENDPOINTS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_endpoints SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pn_policy_key);
	__type(value, struct pn_policy_value);
	__uint(max_entries, PN_POLICY_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_policy SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__type(key, struct pn_ct_key);
	__type(value, struct pn_ct_value);
	__uint(max_entries, PN_CT_MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, struct pn_config);
	__uint(max_entries, 1);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, struct pn_counter);
	__uint(max_entries, PN_DROP__MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, PN_STAT__MAX);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, PN_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__type(key, struct pn_ipcache_key);
	__type(value, struct pn_ipcache_value);
	__uint(max_entries, PN_IPBLOCKS_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pn_ipblocks SEC(".maps");

#endif /* PODNET_BPF_LIB_MAPS_H */
