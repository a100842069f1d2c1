/*
 * The socket-level service load balancer: cgroup hooks that translate a service's frontend
 * (ClusterIP, port, protocol) to one of its backends where the socket call is made, so no packet
 * ever carries the frontend address and nothing has to be translated back on the wire.
 *
 *   connect4      connect() of TCP and UDP sockets: the destination becomes the backend
 *   sendmsg4      sendto()/sendmsg() of unconnected UDP sockets: likewise, per datagram; a
 *                 socket's datagrams to a frontend stay on one backend while it is in the service
 *   recvmsg4      recvfrom()/recvmsg() of UDP sockets: an answer from the backend appears to
 *                 come from the frontend
 *   getpeername4  getpeername(): the peer is the frontend the socket asked for
 *
 * and the same four for IPv6 sockets that use a v4-mapped address (connect6, sendmsg6, recvmsg6,
 * getpeername6).
 *
 * A frontend with no backend refuses at once (ECONNREFUSED from connect or sendmsg, as
 * kube-proxy's REJECT does), or drops (EPERM) when its flags say so. Maps and the choice of a
 * backend: lib/lb.h; layouts: service_lb.h; design: docs/services-datapath.md.
 */
#include <linux/bpf.h>
#include <linux/errno.h>
#include <linux/in.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "service_lb.h"
#include "lib/lb.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define PN_SOCK_ALLOW 1
#define PN_SOCK_REJECT 0

/*
 * The backend for a connect or sendmsg of `ctx` to addr (its port is ctx->user_port); `sock`: the
 * socket's cookie when its choice sticks to the socket (sendmsg), else 0. Returns
 * PN_SOCK_REJECT for a frontend without backends (the errno set), else PN_SOCK_ALLOW, with
 * *backend set and recorded for the socket when addr is a frontend (*translated = 1).
 */
static __always_inline int pn_translate(struct bpf_sock_addr *ctx, __u32 addr, __u64 sock,
					struct pn_svc_backend *backend, int *translated)
{
	struct pn_svc_frontend_key key = {
		.addr = addr,
		.port = (__u16)ctx->user_port,
		.protocol = (__u8)ctx->protocol,
	};
	struct pn_svc_reverse_key rev_key = {};
	struct pn_svc_reverse_value rev = {};

	*translated = 0;
	if (key.protocol != IPPROTO_TCP && key.protocol != IPPROTO_UDP)
		return PN_SOCK_ALLOW;

	switch (pn_lb_choose(&key, bpf_get_netns_cookie(ctx), sock, bpf_get_prandom_u32(),
			     backend)) {
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
	rev_key.addr = backend->addr;
	rev_key.port = backend->port;
	rev.addr = key.addr;
	rev.port = key.port;
	bpf_map_update_elem(&pn_svc_reverse, &rev_key, &rev, BPF_ANY);
	*translated = 1;
	return PN_SOCK_ALLOW;
}

/* The frontend a translated socket asked for, given the backend addr (port: ctx->user_port) it
 * talks to; NULL when the socket was not translated to it. */
static __always_inline struct pn_svc_reverse_value *pn_frontend_of(struct bpf_sock_addr *ctx,
								   __u32 addr)
{
	struct pn_svc_reverse_key key = {
		.cookie = bpf_get_socket_cookie(ctx),
		.addr = addr,
		.port = (__u16)ctx->user_port,
	};

	return bpf_map_lookup_elem(&pn_svc_reverse, &key);
}

/* IPv4 sockets. */

static __always_inline int pn_translate4(struct bpf_sock_addr *ctx, __u64 sock)
{
	struct pn_svc_backend backend = {};
	int translated;
	int verdict = pn_translate(ctx, ctx->user_ip4, sock, &backend, &translated);

	if (translated) {
		ctx->user_ip4 = backend.addr;
		ctx->user_port = backend.port;
	}
	return verdict;
}

static __always_inline int pn_translate_back4(struct bpf_sock_addr *ctx)
{
	struct pn_svc_reverse_value *rev = pn_frontend_of(ctx, ctx->user_ip4);

	if (rev) {
		ctx->user_ip4 = rev->addr;
		ctx->user_port = rev->port;
	}
	return PN_SOCK_ALLOW;
}

SEC("cgroup/connect4")
int svc_connect4(struct bpf_sock_addr *ctx)
{
	return pn_translate4(ctx, 0);
}

SEC("cgroup/sendmsg4")
int svc_sendmsg4(struct bpf_sock_addr *ctx)
{
	return pn_translate4(ctx, bpf_get_socket_cookie(ctx));
}

SEC("cgroup/recvmsg4")
int svc_recvmsg4(struct bpf_sock_addr *ctx)
{
	return pn_translate_back4(ctx);
}

SEC("cgroup/getpeername4")
int svc_getpeername4(struct bpf_sock_addr *ctx)
{
	return pn_translate_back4(ctx);
}

/*
 * IPv6 sockets that talk IPv4 through a v4-mapped address (::ffff:a.b.c.d), as Java and other
 * runtimes do by default: the same translation on the address's last 32 bits. Other IPv6
 * destinations are left alone (services are IPv4 only).
 */

static __always_inline int pn_v4_mapped(const struct bpf_sock_addr *ctx)
{
	return ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 &&
	       ctx->user_ip6[2] == bpf_htonl(0x0000ffff);
}

static __always_inline int pn_translate6(struct bpf_sock_addr *ctx, __u64 sock)
{
	struct pn_svc_backend backend = {};
	int translated;
	int verdict;

	if (!pn_v4_mapped(ctx))
		return PN_SOCK_ALLOW;
	verdict = pn_translate(ctx, ctx->user_ip6[3], sock, &backend, &translated);
	if (translated) {
		ctx->user_ip6[3] = backend.addr;
		ctx->user_port = backend.port;
	}
	return verdict;
}

static __always_inline int pn_translate_back6(struct bpf_sock_addr *ctx)
{
	struct pn_svc_reverse_value *rev;

	if (!pn_v4_mapped(ctx))
		return PN_SOCK_ALLOW;
	rev = pn_frontend_of(ctx, ctx->user_ip6[3]);
	if (rev) {
		ctx->user_ip6[3] = rev->addr;
		ctx->user_port = rev->port;
	}
	return PN_SOCK_ALLOW;
}

SEC("cgroup/connect6")
int svc_connect6(struct bpf_sock_addr *ctx)
{
	return pn_translate6(ctx, 0);
}

SEC("cgroup/sendmsg6")
int svc_sendmsg6(struct bpf_sock_addr *ctx)
{
	return pn_translate6(ctx, bpf_get_socket_cookie(ctx));
}

SEC("cgroup/recvmsg6")
int svc_recvmsg6(struct bpf_sock_addr *ctx)
{
	return pn_translate_back6(ctx);
}

SEC("cgroup/getpeername6")
int svc_getpeername6(struct bpf_sock_addr *ctx)
{
	return pn_translate_back6(ctx);
}
