/*
 * sock_io.c - moving data: read/write/readv/writev, recvfrom/sendto,
 * recvmsg/sendmsg (and the mmsg forms) on lwIP sockets, with Linux's semantics:
 *
 *  TCP receive: what is queued, up to the request (MSG_WAITALL: all of
 *  it); 0 at the peer's FIN or after SHUT_RD; a pending error (ECONNRESET
 *  after a reset) once, then 0; EAGAIN when non-blocking and empty;
 *  ENOTCONN when never connected.  Data is copied once, straight from the
 *  pbufs into the user's buffers, and tcp_recved opens the window by what
 *  was consumed.  MSG_PEEK leaves it queued.
 *
 *  TCP send: as much as fits the send buffer is queued (tcp_write, copy)
 *  and tcp_output'd; non-blocking returns the count (EAGAIN if nothing
 *  fit); blocking waits for room until everything is queued (or
 *  SO_SNDTIMEO: the count, or EAGAIN).  After our SHUT_WR or the end of
 *  the connection: EPIPE and SIGPIPE unless MSG_NOSIGNAL; a pending error
 *  is returned once first (ECONNRESET, without SIGPIPE).
 *
 *  UDP: one datagram per call, message boundaries kept, MSG_TRUNC (flag
 *  in recvmsg, real length with the MSG_TRUNC argument), source address.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "../../netstack/stack.h"
#include "sock.h"

#define NS_MAX_RW 0x7ffff000UL   /* Linux's MAX_RW_COUNT */
#define NS_IOV_MAX 1024

struct rx_out {
	bool has_addr;
	uint32_t ip;
	uint16_t port;
	int msg_flags;
};

static long iov_total(const struct iovec *iov, int iovcnt, size_t *total)
{
	size_t t = 0;
	if (iovcnt < 0 || iovcnt > NS_IOV_MAX)
		return -EINVAL;
	if (iovcnt && !iov)
		return -EFAULT;
	for (int i = 0; i < iovcnt; i++) {
		if ((ssize_t)iov[i].iov_len < 0)
			return -EINVAL;
		if (iov[i].iov_len > NS_MAX_RW - t) {
			t = NS_MAX_RW;
			break;
		}
		t += iov[i].iov_len;
	}
	*total = t;
	return 0;
}

static bool nonblocking(struct nsock *s, int flags)
{
	return (flags & MSG_DONTWAIT) || atomic_load(&s->nonblock);
}

/* Lock held.  -EBADF means S was closed and freed meanwhile. */
static long tcp_recv(struct nsock *s, const struct iovec *iov, int iovcnt, size_t total, int flags)
{
	if (s->state == NS_LISTEN)
		return -ENOTCONN;
	if (flags & MSG_OOB)
		return -EINVAL;   /* no urgent data, ever */
	if (flags & MSG_ERRQUEUE)
		return -EAGAIN;
	if (total == 0)
		return 0;
	bool peek = flags & MSG_PEEK;
	bool waitall = (flags & MSG_WAITALL) && !peek;
	bool nonblock = nonblocking(s, flags);
	uint64_t deadline = ns_deadline(s->rcvtimeo_us);
	size_t copied = 0;
	bool polled = false;
	for (;;) {
		if (s->rx_bytes) {
			copied += nst_tcp_recv(s, iov, iovcnt, copied, total - copied, peek, 0);
			if (copied == total || !waitall)
				return (long)copied;
			continue;
		}
		if (s->err) {
			if (copied)
				return (long)copied;
			int e = s->err;
			s->err = 0;
			return -e;
		}
		if (s->rx_fin || s->shut_rd || s->state == NS_CLOSED)
			return (long)copied;
		if (s->state == NS_NEW)
			return copied ? (long)copied : -ENOTCONN;
		if (nonblock) {
			if (!polled) {
				polled = true;
				ns_stack_poll();
				continue;
			}
			return copied ? (long)copied : -EAGAIN;
		}
		int w = nsock_wait(s, ns_ready_rx, ns_ms_left(deadline));
		if (w == -EBADF)
			return copied ? (long)copied : -EBADF;
		if (w < 0 && !ns_ready_rx(s))
			return copied ? (long)copied : (w == -ETIMEDOUT ? -EAGAIN : w);
	}
}

static long udp_recv(struct nsock *s, const struct iovec *iov, int iovcnt, size_t total,
                     int flags, struct rx_out *o)
{
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (flags & MSG_ERRQUEUE)
		return -EAGAIN;
	bool peek = flags & MSG_PEEK;
	bool nonblock = nonblocking(s, flags);
	uint64_t deadline = ns_deadline(s->rcvtimeo_us);
	bool polled = false;
	for (;;) {
		size_t full;
		uint32_t ip;
		uint16_t port;
		long r = nst_udp_recv(s, iov, iovcnt, total, peek, &full, &ip, &port);
		if (r >= 0) {
			o->has_addr = true;
			o->ip = ip;
			o->port = port;
			if (full > (size_t)r)
				o->msg_flags |= MSG_TRUNC;
			return (flags & MSG_TRUNC) ? (long)full : r;
		}
		if (s->err) {
			int e = s->err;
			s->err = 0;
			return -e;
		}
		if (s->shut_rd)
			return 0;
		if (nonblock) {
			if (!polled) {
				polled = true;
				ns_stack_poll();
				continue;
			}
			return -EAGAIN;
		}
		int w = nsock_wait(s, ns_ready_rx, ns_ms_left(deadline));
		if (w == -EBADF)
			return -EBADF;
		if (w < 0 && !ns_ready_rx(s))
			return w == -ETIMEDOUT ? -EAGAIN : w;
	}
}

static long do_recv(int fd, const struct iovec *iov, int iovcnt, int flags, struct rx_out *o)
{
	if (!ns_stack_owned())
		return -EBADF;
	size_t total;
	long r = iov_total(iov, iovcnt, &total);
	if (r)
		return r;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	if (s->type == SOCK_STREAM)
		r = tcp_recv(s, iov, iovcnt, total, flags);
	else
		r = udp_recv(s, iov, iovcnt, total, flags, o);
	ns_stack_unlock();
	return r;
}

static long tcp_send(struct nsock *s, const struct iovec *iov, int iovcnt, size_t total, int flags)
{
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	bool nonblock = nonblocking(s, flags);
	bool more = (flags & MSG_MORE) || s->cork;
	uint64_t deadline = ns_deadline(s->sndtimeo_us);
	size_t sent = 0;
	bool polled = false;
	for (;;) {
		if (s->err) {
			if (sent)
				return (long)sent;
			int e = s->err;
			s->err = 0;
			return -e;
		}
		if (s->shut_wr || s->state == NS_CLOSED || s->state == NS_NEW || s->state == NS_LISTEN)
			return sent ? (long)sent : -EPIPE;
		if (s->state == NS_CONNECTED) {
			if (total == 0)
				return 0;
			sent += nst_tcp_send(s, iov, iovcnt, sent, total, more);
			if (sent == total)
				return (long)sent;
		}
		if (nonblock) {
			if (sent)
				return (long)sent;
			if (!polled) {
				polled = true;
				ns_stack_poll();
				continue;
			}
			return -EAGAIN;
		}
		int w = nsock_wait(s, ns_ready_tx, ns_ms_left(deadline));
		if (w == -EBADF)
			return sent ? (long)sent : -EBADF;
		if (w < 0 && !ns_ready_tx(s))
			return sent ? (long)sent : (w == -ETIMEDOUT ? -EAGAIN : w);
	}
}

static long udp_send(struct nsock *s, const struct iovec *iov, int iovcnt, size_t total,
                     int flags, const void *name, int namelen)
{
	uint32_t ip;
	uint16_t port;
	if (flags & MSG_OOB)
		return -EOPNOTSUPP;
	if (name) {
		const struct sockaddr_in *a = name;
		if (namelen < (int)sizeof(struct sockaddr_in))
			return -EINVAL;
		if (a->sin_family != AF_INET && a->sin_family != AF_UNSPEC)
			return -EAFNOSUPPORT;
		ip = a->sin_addr.s_addr;
		port = ntohs(a->sin_port);
		if (port == 0)
			return -EINVAL;
	} else if (s->has_peer) {
		ip = s->peer_ip;
		port = s->peer_port;
	} else {
		return -EDESTADDRREQ;
	}
	if (s->shut_wr)
		return -EPIPE;
	return nst_udp_send(s, iov, iovcnt, total, ip, port);
}

static long do_send(int fd, const struct iovec *iov, int iovcnt, int flags,
                    const void *name, int namelen)
{
	if (!ns_stack_owned())
		return -EBADF;
	size_t total;
	long r = iov_total(iov, iovcnt, &total);
	if (r)
		return r;
	if (name && (namelen < 0 || namelen > (int)sizeof(struct sockaddr_storage)))
		return -EINVAL;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	if (s->type == SOCK_STREAM)
		r = tcp_send(s, iov, iovcnt, total, flags);
	else
		r = udp_send(s, iov, iovcnt, total, flags, name, namelen);
	ns_stack_unlock();
	if (r == -EPIPE && !(flags & MSG_NOSIGNAL))
		ns_raise_sigpipe();
	return r;
}

/* --- the system calls ---------------------------------------------------------------------- */

long ns_sys_read(int fd, void *buf, unsigned long count)
{
	struct iovec v = { buf, count };
	struct rx_out o = { 0 };
	return do_recv(fd, &v, 1, 0, &o);
}

long ns_sys_write(int fd, const void *buf, unsigned long count)
{
	struct iovec v = { (void *)buf, count };
	return do_send(fd, &v, 1, 0, NULL, 0);
}

long ns_sys_readv(int fd, const struct iovec *iov, int iovcnt)
{
	struct rx_out o = { 0 };
	return do_recv(fd, iov, iovcnt, 0, &o);
}

long ns_sys_writev(int fd, const struct iovec *iov, int iovcnt)
{
	return do_send(fd, iov, iovcnt, 0, NULL, 0);
}

long ns_sys_recvfrom(int fd, void *buf, unsigned long len, int flags, void *addr, int *addrlen)
{
	struct iovec v = { buf, len };
	struct rx_out o = { 0 };
	if (addr && !addrlen)
		return -EFAULT;
	if (addr && *addrlen < 0)
		return -EINVAL;
	long r = do_recv(fd, &v, 1, flags, &o);
	if (r >= 0 && addr) {
		if (o.has_addr)
			ns_put_sockaddr(addr, addrlen, o.ip, o.port);
		else
			*addrlen = 0;
	}
	return r;
}

long ns_sys_sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, int addrlen)
{
	struct iovec v = { (void *)buf, len };
	return do_send(fd, &v, 1, flags, addr, addrlen);
}

long ns_sys_recvmsg(int fd, struct msghdr *msg, int flags)
{
	struct rx_out o = { 0 };
	if (!msg)
		return -EFAULT;
	if (msg->msg_iovlen > NS_IOV_MAX)
		return -EMSGSIZE;
	if (msg->msg_name && (int)msg->msg_namelen < 0)
		return -EINVAL;
	long r = do_recv(fd, msg->msg_iov, (int)msg->msg_iovlen, flags, &o);
	if (r < 0)
		return r;
	if (msg->msg_name) {
		if (o.has_addr) {
			int len = (int)msg->msg_namelen;
			ns_put_sockaddr(msg->msg_name, &len, o.ip, o.port);
			msg->msg_namelen = (socklen_t)len;
		} else {
			msg->msg_namelen = 0;
		}
	}
	msg->msg_controllen = 0;
	msg->msg_flags = o.msg_flags;
	return r;
}

long ns_sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!msg)
		return -EFAULT;
	if (msg->msg_iovlen > NS_IOV_MAX)
		return -EMSGSIZE;
	return do_send(fd, msg->msg_iov, (int)msg->msg_iovlen, flags,
	               msg->msg_namelen ? msg->msg_name : NULL, (int)msg->msg_namelen);
}

/* The mmsg forms: one message after another; after the first, do not
 * block (MSG_WAITFORONE behaviour for receive; Linux blocks for each of
 * VLEN on a blocking socket without it, which a timeout-less emulation
 * cannot bound: documented).  TIMEOUT is ignored. */
long ns_sys_recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags, void *timeout)
{
	(void)timeout;
	if (!vec)
		return -EFAULT;
	if (vlen > NS_IOV_MAX)
		vlen = NS_IOV_MAX;
	unsigned i;
	for (i = 0; i < vlen; i++) {
		int f = (flags & ~MSG_WAITFORONE) | (i ? MSG_DONTWAIT : 0);
		long r = ns_sys_recvmsg(fd, &vec[i].msg_hdr, f);
		if (r < 0)
			return i ? (long)i : r;
		vec[i].msg_len = (unsigned)r;
	}
	return (long)i;
}

long ns_sys_sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags)
{
	if (!vec)
		return -EFAULT;
	if (vlen > NS_IOV_MAX)
		vlen = NS_IOV_MAX;
	unsigned i;
	for (i = 0; i < vlen; i++) {
		long r = ns_sys_sendmsg(fd, &vec[i].msg_hdr, flags);
		if (r < 0)
			return i ? (long)i : r;
		vec[i].msg_len = (unsigned)r;
	}
	return (long)i;
}
