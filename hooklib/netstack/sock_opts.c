/*
 * sock_opts.c - setsockopt/getsockopt on lwIP sockets.
 *
 * Options live in struct nsock (the pcb may be replaced by listen() or
 * vanish after a reset) and are pushed to the pcb by nst_*_apply_opts.
 * What each does here:
 *   SOL_SOCKET  SO_REUSEADDR (lwIP SOF_REUSEADDR), SO_REUSEPORT (accepted,
 *               stored), SO_KEEPALIVE (SOF_KEEPALIVE), SO_SNDBUF/SO_RCVBUF
 *               (+FORCE; stored and reported doubled as Linux does; lwIP's
 *               buffers stay as configured), SO_LINGER (l_linger 0: close
 *               sends RST; otherwise close does not block), SO_RCVTIMEO/
 *               SO_SNDTIMEO (honoured by blocking calls), SO_BROADCAST,
 *               SO_OOBINLINE, SO_PRIORITY, SO_RCVLOWAT, SO_DONTROUTE
 *               (stored); get-only SO_TYPE, SO_DOMAIN, SO_PROTOCOL,
 *               SO_ERROR (read and clear), SO_ACCEPTCONN, SO_SNDLOWAT.
 *   IPPROTO_TCP TCP_NODELAY (Nagle off), TCP_KEEPIDLE/KEEPINTVL/KEEPCNT,
 *               TCP_MAXSEG, TCP_INFO (state and MSS), and, accepted
 *               without effect: TCP_CORK, TCP_QUICKACK, TCP_DEFER_ACCEPT,
 *               TCP_USER_TIMEOUT, TCP_FASTOPEN, TCP_SYNCNT, TCP_LINGER2,
 *               TCP_WINDOW_CLAMP, TCP_NOTSENT_LOWAT, TCP_CONGESTION.
 *   IPPROTO_IP  IP_TOS, IP_TTL (applied), IP_RECVERR, IP_MTU_DISCOVER,
 *               IP_FREEBIND, IP_BIND_ADDRESS_NO_PORT (accepted).
 *   Anything else: ENOPROTOOPT.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>

#include "../../netstack/stack.h"
#include "sock.h"

#define WMEM_MAX 212992   /* net.core.wmem_max / rmem_max defaults */
#define SOCK_MIN_SNDBUF 4608
#define SOCK_MIN_RCVBUF 2304

static void apply(struct nsock *s)
{
	if (s->type == SOCK_STREAM)
		nst_tcp_apply_opts(s);
	else
		nst_udp_apply_opts(s);
}

static long set_timeo(int64_t *dst, const void *optval, int optlen)
{
	struct timeval tv;
	if (optlen < (int)sizeof tv)
		return -EINVAL;
	memcpy(&tv, optval, sizeof tv);
	if (tv.tv_usec < 0 || tv.tv_usec >= 1000000)
		return -EDOM;
	if (tv.tv_sec < 0)
		*dst = 0;
	else if (tv.tv_sec == 0 && tv.tv_usec == 0)
		*dst = -1;
	else if (tv.tv_sec > INT64_MAX / 2000000)
		*dst = -1;
	else
		*dst = (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
	return 0;
}

static long set_sol_socket(struct nsock *s, int name, int v, const void *optval, int optlen)
{
	switch (name) {
	case SO_REUSEADDR: s->reuseaddr = v != 0; break;
	case SO_REUSEPORT: s->reuseport = v != 0; break;
	case SO_KEEPALIVE: s->keepalive = v != 0; break;
	case SO_BROADCAST: s->broadcast = v != 0; break;
	case SO_OOBINLINE: s->oobinline = v != 0; break;
	case SO_DONTROUTE: break;
	case SO_PRIORITY:
		if (v < 0 || v > 6)
			return -EPERM;
		s->priority = v;
		break;
	case SO_RCVLOWAT:
		s->rcvlowat = v < 0 ? INT_MAX : (v ? v : 1);
		break;
	case SO_SNDBUF:
	case SO_SNDBUFFORCE: {
		unsigned u = (unsigned)v;
		if (name == SO_SNDBUF && u > WMEM_MAX)
			u = WMEM_MAX;
		if (u > INT_MAX / 2)
			u = INT_MAX / 2;
		s->sndbuf = (int)u * 2 < SOCK_MIN_SNDBUF ? SOCK_MIN_SNDBUF : (int)u * 2;
		break;
	}
	case SO_RCVBUF:
	case SO_RCVBUFFORCE: {
		unsigned u = (unsigned)v;
		if (name == SO_RCVBUF && u > WMEM_MAX)
			u = WMEM_MAX;
		if (u > INT_MAX / 2)
			u = INT_MAX / 2;
		s->rcvbuf = (int)u * 2 < SOCK_MIN_RCVBUF ? SOCK_MIN_RCVBUF : (int)u * 2;
		break;
	}
	case SO_LINGER: {
		struct linger l;
		if (optlen < (int)sizeof l)
			return -EINVAL;
		memcpy(&l, optval, sizeof l);
		s->linger_on = l.l_onoff != 0;
		s->linger_s = l.l_linger < 0 ? 0 : l.l_linger;
		break;
	}
	case SO_RCVTIMEO_OLD:
	case SO_RCVTIMEO_NEW:
		return set_timeo(&s->rcvtimeo_us, optval, optlen);
	case SO_SNDTIMEO_OLD:
	case SO_SNDTIMEO_NEW:
		return set_timeo(&s->sndtimeo_us, optval, optlen);
	default:
		return -ENOPROTOOPT;
	}
	apply(s);
	return 0;
}

static long set_tcp(struct nsock *s, int name, int v)
{
	if (s->type != SOCK_STREAM)
		return -ENOPROTOOPT;
	switch (name) {
	case TCP_NODELAY: s->nodelay = v != 0; break;
	case TCP_KEEPIDLE:
		if (v < 1 || v > 32767)
			return -EINVAL;
		s->keepidle_s = v;
		break;
	case TCP_KEEPINTVL:
		if (v < 1 || v > 32767)
			return -EINVAL;
		s->keepintvl_s = v;
		break;
	case TCP_KEEPCNT:
		if (v < 1 || v > 127)
			return -EINVAL;
		s->keepcnt = v;
		break;
	case TCP_MAXSEG:
		if (v && (v < 88 || v > 32767))
			return -EINVAL;
		s->maxseg = v;
		break;
	case TCP_CORK: s->cork = v != 0; break;
	case TCP_USER_TIMEOUT:
		if (v < 0)
			return -EINVAL;
		s->user_timeout = v;
		break;
	case TCP_QUICKACK: case TCP_DEFER_ACCEPT: case TCP_FASTOPEN: case TCP_SYNCNT:
	case TCP_LINGER2: case TCP_WINDOW_CLAMP: case TCP_NOTSENT_LOWAT:
		break;
	default:
		return -ENOPROTOOPT;
	}
	apply(s);
	return 0;
}

static long set_ip(struct nsock *s, int name, int v)
{
	switch (name) {
	case IP_TOS:
		s->tos = v & 0xfc;
		break;
	case IP_TTL:
		if (v == -1)
			v = 64;
		if (v < 1 || v > 255)
			return -EINVAL;
		s->ttl = v;
		break;
	case IP_RECVERR: case IP_MTU_DISCOVER: case IP_FREEBIND: case IP_BIND_ADDRESS_NO_PORT:
		break;
	default:
		return -ENOPROTOOPT;
	}
	apply(s);
	return 0;
}

long ns_sys_setsockopt(int fd, int level, int name, const void *optval, int optlen)
{
	if (!ns_stack_owned())
		return -EBADF;
	if (optlen < 0)
		return -EINVAL;
	int v = 0;
	if (level == IPPROTO_TCP && name == TCP_CONGESTION) {
		/* A string; lwIP has one congestion control. */
		struct nsock *s = ns_enter(fd);
		if (!s)
			return -EBADF;
		long r = s->type == SOCK_STREAM ? 0 : -ENOPROTOOPT;
		ns_stack_unlock();
		return r;
	}
	bool struct_opt = level == SOL_SOCKET &&
	                  (name == SO_LINGER || name == SO_RCVTIMEO_OLD || name == SO_SNDTIMEO_OLD ||
	                   name == SO_RCVTIMEO_NEW || name == SO_SNDTIMEO_NEW);
	if (!struct_opt) {
		if (level == IPPROTO_IP && optlen >= 1 && optlen < (int)sizeof(int)) {
			if (!optval)
				return -EFAULT;
			v = *(const unsigned char *)optval;   /* Linux takes one byte too */
		} else {
			if (optlen < (int)sizeof(int))
				return -EINVAL;
			if (!optval)
				return -EFAULT;
			memcpy(&v, optval, sizeof v);
		}
	} else if (!optval) {
		return -EFAULT;
	}
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	long r;
	switch (level) {
	case SOL_SOCKET: r = set_sol_socket(s, name, v, optval, optlen); break;
	case IPPROTO_TCP: r = set_tcp(s, name, v); break;
	case IPPROTO_IP: r = set_ip(s, name, v); break;
	default: r = -ENOPROTOOPT; break;
	}
	ns_stack_unlock();
	return r;
}

static void put_timeo(struct timeval *tv, int64_t us)
{
	if (us < 0) {
		tv->tv_sec = 0;
		tv->tv_usec = 0;
	} else {
		tv->tv_sec = us / 1000000;
		tv->tv_usec = us % 1000000;
	}
}

long ns_sys_getsockopt(int fd, int level, int name, void *optval, int *optlen)
{
	if (!ns_stack_owned())
		return -EBADF;
	if (!optlen)
		return -EFAULT;
	int len = *optlen;
	if (len < 0)
		return -EINVAL;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	union {
		int i;
		struct linger l;
		struct timeval tv;
		struct tcp_info ti;
		char name[16];
	} u;
	memset(&u, 0, sizeof u);
	int lv = sizeof(int);
	long r = 0;
	bool tcp = s->type == SOCK_STREAM;
	if (level == SOL_SOCKET) {
		switch (name) {
		case SO_TYPE: u.i = s->type; break;
		case SO_PROTOCOL: u.i = tcp ? IPPROTO_TCP : IPPROTO_UDP; break;
		case SO_DOMAIN: u.i = AF_INET; break;
		case SO_ERROR: u.i = s->err; s->err = 0; break;
		case SO_ACCEPTCONN: u.i = tcp && s->state == NS_LISTEN; break;
		case SO_REUSEADDR: u.i = s->reuseaddr; break;
		case SO_REUSEPORT: u.i = s->reuseport; break;
		case SO_KEEPALIVE: u.i = s->keepalive; break;
		case SO_BROADCAST: u.i = s->broadcast; break;
		case SO_OOBINLINE: u.i = s->oobinline; break;
		case SO_DONTROUTE: u.i = 0; break;
		case SO_PRIORITY: u.i = s->priority; break;
		case SO_RCVLOWAT: u.i = s->rcvlowat; break;
		case SO_SNDLOWAT: u.i = 1; break;
		case SO_SNDBUF: u.i = s->sndbuf; break;
		case SO_RCVBUF: u.i = s->rcvbuf; break;
		case SO_LINGER:
			u.l.l_onoff = s->linger_on;
			u.l.l_linger = s->linger_s;
			lv = sizeof u.l;
			break;
		case SO_RCVTIMEO_OLD:
		case SO_RCVTIMEO_NEW:
			put_timeo(&u.tv, s->rcvtimeo_us);
			lv = sizeof u.tv;
			break;
		case SO_SNDTIMEO_OLD:
		case SO_SNDTIMEO_NEW:
			put_timeo(&u.tv, s->sndtimeo_us);
			lv = sizeof u.tv;
			break;
		default: r = -ENOPROTOOPT; break;
		}
	} else if (level == IPPROTO_TCP && tcp) {
		switch (name) {
		case TCP_NODELAY: u.i = s->nodelay; break;
		case TCP_KEEPIDLE: u.i = s->keepidle_s; break;
		case TCP_KEEPINTVL: u.i = s->keepintvl_s; break;
		case TCP_KEEPCNT: u.i = s->keepcnt; break;
		case TCP_MAXSEG: u.i = s->maxseg && s->state != NS_CONNECTED ? s->maxseg : nst_tcp_mss(s); break;
		case TCP_CORK: u.i = s->cork; break;
		case TCP_USER_TIMEOUT: u.i = s->user_timeout; break;
		case TCP_QUICKACK: u.i = 1; break;
		case TCP_CONGESTION:
			memcpy(u.name, "reno", 5);
			lv = sizeof u.name;
			break;
		case TCP_INFO:
			u.ti.tcpi_state = (uint8_t)nst_tcp_linux_state(s);
			u.ti.tcpi_snd_mss = (uint32_t)nst_tcp_mss(s);
			u.ti.tcpi_rcv_mss = (uint32_t)nst_tcp_mss(s);
			lv = sizeof u.ti;
			break;
		default: r = -ENOPROTOOPT; break;
		}
	} else if (level == IPPROTO_IP) {
		switch (name) {
		case IP_TOS: u.i = s->tos; break;
		case IP_TTL: u.i = s->ttl; break;
		default: r = -ENOPROTOOPT; break;
		}
	} else {
		r = -ENOPROTOOPT;
	}
	ns_stack_unlock();
	if (r)
		return r;
	if (len > lv)
		len = lv;
	if (len) {
		if (!optval)
			return -EFAULT;
		memcpy(optval, &u, (size_t)len);
	}
	*optlen = len;
	return 0;
}
