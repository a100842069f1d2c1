/*
 * The socket-level service load balancer: cgroup hooks that translate a service's frontend
 * (ClusterIP, port, protocol) to one of its backends where the socket call is made, so no packet
 * ever carries the frontend address and nothing has to be translated back on the wire.
 *
 *   connect4      connect() of TCP and UDP sockets: the destination becomes the backend
 *   sendmsg4      sendto()/sendmsg() of unconnected UDP sockets: likewise, per datagram
 *   recvmsg4      recvfrom()/recvmsg() of UDP sockets: an answer from the backend appears to
 *                 come from the frontend
 *   getpeername4  getpeername(): the peer is the frontend the socket asked for
 *
 * A frontend with no backend refuses at once (ECONNREFUSED from connect or sendmsg, as
 * kube-proxy's REJECT does), or drops (EPERM) when its flags say so. Maps and the choice of a
 * backend: lib/lb.h; layouts: service_lb.h; design: docs/services-datapath.md.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>

#include "service_lb.h"
#include "lib/lb.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PN_SOCK_ALLOW 1
#define PN_SOCK_REJECT 0

/* A socket's datagrams stay on one backend while the backend list is unchanged. */
static __always_inline __u32 pn_spread(__u64 cookie)
{
	return (__u32)((cookie * 0x9E3779B97F4A7C15ULL) >> 32);
}

/* Translates the destination of a connect or sendmsg in `ctx` when it is a frontend. */
static __always_inline int pn_translate(struct bpf_sock_addr *ctx, __u32 seed)
{
	struct pn_svc_frontend_key key = {
		.addr = ctx->user_ip4,
		.port = (__u16)ctx->user_port,
		.protocol = (__u8)ctx->protocol,
	};
	struct pn_svc_reverse_key rev_key = {};
	struct pn_svc_reverse_value rev = {};
	struct pn_svc_backend backend = {};

	if (key.protocol != IPPROTO_TCP && key.protocol != IPPROTO_UDP)
		return PN_SOCK_ALLOW;

	switch (pn_lb_choose(&key, bpf_get_netns_cookie(ctx), seed, &backend)) {
	case PN_LB_NOT_SERVICE:
		return PN_SOCK_ALLOW;
	case PN_LB_EMPTY:
		bpf_set_retval(-ECONNREFUSED);
		return PN_SOCK_REJECT;
	case PN_LB_EMPTY_DROP:
		return PN_SOCK_REJECT; /* EPERM */
	default:
		break;
	}

	rev_key.cookie = bpf_get_socket_cookie(ctx);
	rev_key.addr = backend.addr;
	rev_key.port = backend.port;
	rev.addr = key.addr;
	rev.port = key.port;
	bpf_map_update_elem(&pn_svc_reverse, &rev_key, &rev, BPF_ANY);

	ctx->user_ip4 = backend.addr;
	ctx->user_port = backend.port;
	return PN_SOCK_ALLOW;
}

/* Shows the frontend instead of the backend a translated socket talks to. */
static __always_inline void pn_translate_back(struct bpf_sock_addr *ctx)
{
	struct pn_svc_reverse_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.addr = ctx->user_ip4,
		.port = (__u16)ctx->user_port,
	};
	struct pn_svc_reverse_value *rev = bpf_map_lookup_elem(&pn_svc_reverse, &key);

	if (!rev)
		return;
	ctx->user_ip4 = rev->addr;
	ctx->user_port = rev->port;
}

SEC("cgroup/connect4")
int svc_connect4(struct bpf_sock_addr *ctx)
{
	return pn_translate(ctx, bpf_get_prandom_u32());
}

SEC("cgroup/sendmsg4")
int svc_sendmsg4(struct bpf_sock_addr *ctx)
{
	return pn_translate(ctx, pn_spread(bpf_get_socket_cookie(ctx)));
}

SEC("cgroup/recvmsg4")
int svc_recvmsg4(struct bpf_sock_addr *ctx)
{
	pn_translate_back(ctx);
	return PN_SOCK_ALLOW;
}

SEC("cgroup/getpeername4")
int svc_getpeername4(struct bpf_sock_addr *ctx)
{
	pn_translate_back(ctx);
	return PN_SOCK_ALLOW;
}
