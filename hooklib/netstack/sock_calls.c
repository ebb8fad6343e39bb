/*
 * sock_calls.c - the system calls that create, connect, name, duplicate and
 * close lwIP sockets, plus fcntl/ioctl, with the kernel's arguments and
 * results (value or -errno).  No lwIP header here: the lwIP side is
 * sock_tcp.c / sock_udp.c, reached through sock.h.
 *
 * Every call takes the stack lock for itself and never holds it across
 * ns_wait (nsock_wait drops it).  In a fork child (ns_stack_owned() false)
 * lwIP belongs to the parent: close() only closes the placeholder and drops
 * the fd-table entry; every other call on an lwIP fd fails with EBADF, and
 * socket(AF_INET) with ENETDOWN.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../../netstack/stack.h"
#include "sock.h"

/* --- the raw system call ------------------------------------------------------------ */

static long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long r = syscall(nr, a1, a2, a3, a4, a5, a6);
	return r == -1 ? -errno : r;
}

ns_next_fn ns_next = raw_syscall;

void ns_sock_init(long (*next)(long, long, long, long, long, long, long))
{
	if (next)
		ns_next = next;
}

/* --- nsock lifetime ---------------------------------------------------------------------- */

static _Atomic uint64_t next_id = 1;

struct nsock *nsock_new(int type)
{
	struct nsock *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->id = atomic_fetch_add(&next_id, 1);
	s->gen = 1;
	s->type = type;
	s->keepidle_s = 7200;   /* Linux's defaults */
	s->keepintvl_s = 75;
	s->keepcnt = 9;
	s->ttl = 64;
	s->rcvlowat = 1;
	s->rcvtimeo_us = -1;
	s->sndtimeo_us = -1;
	return s;
}

void ns_sock_release(struct nsock *s)
{
	if (s->type == SOCK_STREAM)
		nst_tcp_release(s);
	else
		nst_udp_release(s);
	s->dead = true;
	if (s->holds == 0)
		nsock_free(s);
}

struct nsock *ns_enter(int fd)
{
	ns_stack_lock();
	struct nsock *s = ns_fd_lookup(fd);
	if (!s)
		ns_stack_unlock();
	return s;
}

int nsock_wait(struct nsock *s, bool (*ready)(void *), int timeout_ms)
{
	s->holds++;
	ns_stack_unlock();
	int r = ns_wait(ready, s, timeout_ms);
	ns_stack_lock();
	s->holds--;
	if (s->dead) {
		if (s->holds == 0)
			nsock_free(s);
		return -EBADF;
	}
	return r;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t ns_deadline(int64_t timeo_us)
{
	if (timeo_us < 0)
		return 0;
	return now_ns() + (uint64_t)timeo_us * 1000u;
}

int ns_ms_left(uint64_t deadline_ns)
{
	if (deadline_ns == 0)
		return -1;
	uint64_t now = now_ns();
	if (now >= deadline_ns)
		return 0;
	uint64_t ms = (deadline_ns - now + 999999) / 1000000;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

void ns_raise_sigpipe(void)
{
	long pid = NS_SYS(SYS_getpid, 0, 0, 0);
	long tid = NS_SYS(SYS_gettid, 0, 0, 0);
	NS_SYS(SYS_tgkill, pid, tid, SIGPIPE);
}

/* --- readiness ------------------------------------------------------------------------------ */

uint32_t nsock_events(struct nsock *s)
{
	return s->type == SOCK_STREAM ? nst_tcp_events(s) : nst_udp_events(s);
}

uint64_t nsock_gen(struct nsock *s)
{
	return s->gen;
}

uint64_t nsock_id(struct nsock *s)
{
	return s->id;
}

bool ns_ready_rx(void *arg)
{
	struct nsock *s = arg;
	return s->dead || (nsock_events(s) & (EPOLLIN | EPOLLERR | EPOLLHUP));
}

bool ns_ready_tx(void *arg)
{
	struct nsock *s = arg;
	return s->dead || (nsock_events(s) & (EPOLLOUT | EPOLLERR | EPOLLHUP));
}

static bool ready_accept(void *arg)
{
	struct nsock *s = arg;
	return s->dead || s->acc_head || s->state != NS_LISTEN;
}

static bool ready_connect(void *arg)
{
	struct nsock *s = arg;
	return s->dead || s->state != NS_CONNECTING;
}

static bool ready_link(void *arg)
{
	struct nsock *s = arg;
	return s->dead || ns_stack_link_up();
}

/* --- addresses ------------------------------------------------------------------------------- */

int ns_sockaddr_in(const void *addr, long len, uint32_t *ip, uint16_t *port)
{
	if (len < 0 || len > (long)sizeof(struct sockaddr_storage))
		return -EINVAL;
	if (len < (long)sizeof(struct sockaddr_in))
		return -EINVAL;
	if (!addr)
		return -EFAULT;
	const struct sockaddr_in *a = addr;
	if (a->sin_family != AF_INET)
		return -EAFNOSUPPORT;
	*ip = a->sin_addr.s_addr;
	*port = ntohs(a->sin_port);
	return 0;
}

/* move_addr_to_user: copy at most *ADDRLEN bytes, store the full size. */
long ns_put_sockaddr(void *addr, int *addrlen, uint32_t ip, uint16_t port)
{
	if (!addr)
		return 0;
	if (!addrlen)
		return -EFAULT;
	int len = *addrlen;
	if (len < 0)
		return -EINVAL;
	struct sockaddr_in sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = ip;
	if (len > (int)sizeof sa)
		len = sizeof sa;
	memcpy(addr, &sa, (size_t)len);
	*addrlen = sizeof sa;
	return 0;
}

/* --- socket ------------------------------------------------------------------------------------ */

bool ns_sys_socket_is_ours(int domain, int type)
{
	int base = type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (domain == AF_INET6)
		return true;   /* refused with EAFNOSUPPORT: IPv4 only */
	return domain == AF_INET && (base == SOCK_STREAM || base == SOCK_DGRAM);
}

long ns_sys_socket(int domain, int type, int protocol)
{
	if (domain != AF_INET)
		return -EAFNOSUPPORT;
	if (type & ~(0xf | SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	int base = type & 0xf;
	if (base == SOCK_STREAM) {
		if (protocol != 0 && protocol != IPPROTO_TCP)
			return -EPROTONOSUPPORT;
	} else if (base == SOCK_DGRAM) {
		if (protocol != 0 && protocol != IPPROTO_UDP)
			return -EPROTONOSUPPORT;
	} else {
		return -ESOCKTNOSUPPORT;
	}
	ns_stack_ensure_started();
	if (!ns_stack_owned())
		return -ENETDOWN;
	int fd = ns_placeholder_new(type & SOCK_CLOEXEC);
	if (fd < 0)
		return fd;
	ns_stack_lock();
	struct nsock *s = nsock_new(base);
	int r = s ? 0 : -ENOMEM;
	if (!r)
		r = base == SOCK_STREAM ? nst_tcp_open(s) : nst_udp_open(s);
	if (!r)
		r = ns_fd_install(fd, s);
	if (r) {
		if (s) {
			s->fdrefs = 0;
			ns_sock_release(s);
		}
		ns_stack_unlock();
		NS_SYS(SYS_close, fd, 0, 0);
		return r;
	}
	s->fdrefs = 1;
	atomic_store(&s->nonblock, (type & SOCK_NONBLOCK) != 0);
	ns_stack_unlock();
	return fd;
}

/* --- bind / listen / accept / connect ------------------------------------------------------------- */

long ns_sys_bind(int fd, const void *addr, int addrlen)
{
	if (!ns_stack_owned())
		return -EBADF;
	uint32_t ip;
	uint16_t port;
	if (addrlen < (int)sizeof(struct sockaddr_in) || addrlen > (int)sizeof(struct sockaddr_storage))
		return -EINVAL;
	if (!addr)
		return -EFAULT;
	const struct sockaddr_in *sa = addr;
	/* Linux accepts AF_UNSPEC with INADDR_ANY for compatibility. */
	if (sa->sin_family == AF_UNSPEC && sa->sin_addr.s_addr == htonl(INADDR_ANY)) {
		ip = 0;
		port = ntohs(sa->sin_port);
	} else {
		long r = ns_sockaddr_in(addr, addrlen, &ip, &port);
		if (r)
			return r;
	}
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	long r;
	if (s->bound || !s->pcb.any || (s->type == SOCK_STREAM && s->state != NS_NEW))
		r = -EINVAL;
	else if (!nst_addr_is_local(ip))
		r = -EADDRNOTAVAIL;
	else if (s->type == SOCK_STREAM)
		r = nst_tcp_bind(s, ip, port);
	else
		r = nst_udp_bind(s, ip, port);
	ns_stack_unlock();
	return r;
}

long ns_sys_listen(int fd, int backlog)
{
	if (!ns_stack_owned())
		return -EBADF;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	long r;
	if ((unsigned)backlog > 4096)   /* net.core.somaxconn */
		backlog = 4096;
	if (s->type != SOCK_STREAM)
		r = -EOPNOTSUPP;
	else if (s->state != NS_NEW && s->state != NS_LISTEN)
		r = -EINVAL;
	else
		r = nst_tcp_listen(s, backlog);
	ns_stack_unlock();
	return r;
}

long ns_sys_accept4(int fd, void *addr, int *addrlen, int flags)
{
	if (!ns_stack_owned())
		return -EBADF;
	if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
		return -EINVAL;
	if (addr && (!addrlen))
		return -EFAULT;
	if (addr && *addrlen < 0)
		return -EINVAL;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	long r;
	if (s->type != SOCK_STREAM) {
		r = -EOPNOTSUPP;
		goto out;
	}
	uint64_t deadline = ns_deadline(s->rcvtimeo_us);
	bool polled = false;
	for (;;) {
		if (s->state != NS_LISTEN) {
			r = -EINVAL;
			goto out;
		}
		if (s->acc_head) {
			int nfd = ns_placeholder_new(flags & SOCK_CLOEXEC);
			if (nfd < 0) {
				r = nfd;
				goto out;
			}
			if (ns_fd_install(nfd, s->acc_head) < 0) {
				NS_SYS(SYS_close, nfd, 0, 0);
				r = -EMFILE;
				goto out;
			}
			struct nsock *c = nst_tcp_accept_pop(s);
			c->fdrefs = 1;
			atomic_store(&c->nonblock, (flags & SOCK_NONBLOCK) != 0);
			ns_put_sockaddr(addr, addrlen, c->peer_ip, c->peer_port);
			r = nfd;
			goto out;
		}
		if (atomic_load(&s->nonblock)) {
			if (!polled) {
				polled = true;
				ns_stack_poll();
				continue;
			}
			r = -EAGAIN;
			goto out;
		}
		int w = nsock_wait(s, ready_accept, ns_ms_left(deadline));
		if (w == -EBADF)
			return ns_stack_unlock(), -EBADF;
		if (w == -ETIMEDOUT && !s->acc_head) {
			r = -EAGAIN;
			goto out;
		}
		if (w == -EINTR && !s->acc_head) {
			r = -EINTR;
			goto out;
		}
	}
out:
	ns_stack_unlock();
	return r;
}

long ns_sys_accept(int fd, void *addr, int *addrlen)
{
	return ns_sys_accept4(fd, addr, addrlen, 0);
}

/* Lock held.  The outcome of a finished connect attempt. */
static long connect_result(struct nsock *s)
{
	if (s->state == NS_CONNECTED)
		return 0;
	if (s->err) {
		int e = s->err;
		s->err = 0;
		return -e;
	}
	return -ECONNABORTED;
}

static long tcp_connect(struct nsock *s, uint32_t ip, uint16_t port)
{
	bool nonblock = atomic_load(&s->nonblock);
	switch (s->state) {
	case NS_LISTEN:
	case NS_CONNECTED:
		return -EISCONN;
	case NS_CONNECTING:
		if (nonblock)
			return -EALREADY;
		goto wait;
	case NS_CLOSED:
		if (s->err) {
			int e = s->err;
			s->err = 0;
			return -e;
		}
		if (s->established)
			return -EISCONN;
		break;
	default:
		break;
	}
	if (ip == 0)
		ip = nst_local_addr();   /* 0.0.0.0 means this host */
	if (nst_addr_is_loopback(ip))
		return -ENETUNREACH;     /* no loopback interface on the stack */
	if (!ns_stack_link_up()) {
		/* A peer started with us: do not lose the SYN to the 3 s
		 * retransmission timer. */
		int w = nsock_wait(s, ready_link, 3000);
		if (w == -EBADF)
			return -EBADF;
	}
	long r = nst_tcp_connect(s, ip, port);
	if (r)
		return r;
	if (nonblock)
		return -EINPROGRESS;
wait:;
	uint64_t deadline = ns_deadline(s->sndtimeo_us);
	while (s->state == NS_CONNECTING) {
		int w = nsock_wait(s, ready_connect, ns_ms_left(deadline));
		if (w == -EBADF)
			return -EBADF;
		if (s->state != NS_CONNECTING)
			break;
		if (w == -ETIMEDOUT)
			return -EINPROGRESS;   /* as Linux on SO_SNDTIMEO */
		if (w == -EINTR)
			return -EINTR;
	}
	return connect_result(s);
}

long ns_sys_connect(int fd, const void *addr, int addrlen)
{
	if (!ns_stack_owned())
		return -EBADF;
	if (addrlen < (int)sizeof(sa_family_t) || addrlen > (int)sizeof(struct sockaddr_storage))
		return -EINVAL;
	if (!addr)
		return -EFAULT;
	bool unspec = ((const struct sockaddr *)addr)->sa_family == AF_UNSPEC;
	uint32_t ip = 0;
	uint16_t port = 0;
	if (!unspec) {
		long r = ns_sockaddr_in(addr, addrlen, &ip, &port);
		if (r)
			return r;
	}
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	long r;
	if (s->type == SOCK_DGRAM) {
		if (unspec)
			nst_udp_disconnect(s), r = 0;
		else
			r = nst_udp_connect(s, ip, port);
	} else if (unspec) {
		/* Dissolve the association (Linux: tcp_disconnect). */
		if (s->state == NS_LISTEN)
			nst_tcp_stop_listen(s);
		else if (s->state == NS_CONNECTING || s->state == NS_CONNECTED)
			nst_tcp_disconnect(s);
		r = 0;
	} else {
		r = tcp_connect(s, ip, port);
	}
	ns_stack_unlock();
	return r;
}

/* --- shutdown / close -------------------------------------------------------------------------------- */

long ns_sys_shutdown(int fd, int how)
{
	if (!ns_stack_owned())
		return -EBADF;
	if (how < SHUT_RD || how > SHUT_RDWR)
		return -EINVAL;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	bool rd = how != SHUT_WR, wr = how != SHUT_RD;
	long r = 0;
	if (s->type == SOCK_DGRAM) {
		s->shut_rd |= rd;
		s->shut_wr |= wr;
		if (!s->has_peer)
			r = -ENOTCONN;
	} else {
		switch (s->state) {
		case NS_LISTEN:
			if (rd)
				nst_tcp_stop_listen(s);   /* wakes blocked accept() */
			break;
		case NS_CONNECTING:
			nst_tcp_disconnect(s);
			break;
		case NS_CONNECTED:
			if (rd)
				s->shut_rd = true;
			if (wr && !s->shut_wr) {
				s->shut_wr = true;
				nst_tcp_shutdown_wr(s);
			}
			break;
		default:
			s->shut_rd |= rd;
			s->shut_wr |= wr;
			r = -ENOTCONN;
			break;
		}
	}
	s->gen++;
	ns_stack_unlock();
	return r;
}

long ns_sys_close(int fd)
{
	if (!ns_stack_owned()) {
		/* Fork child: lwIP is the parent's. */
		ns_fd_remove(fd);
		NS_SYS(SYS_close, fd, 0, 0);
		return 0;
	}
	ns_stack_lock();
	struct nsock *s = ns_fd_remove(fd);
	if (!s) {
		ns_stack_unlock();
		return NS_SYS(SYS_close, fd, 0, 0);
	}
	NS_SYS(SYS_close, fd, 0, 0);
	if (--s->fdrefs == 0)
		ns_sock_release(s);
	ns_stack_unlock();
	return 0;
}

/* close_range(2): our fds in [first, last] are closed one by one (or get
 * FD_CLOEXEC on the placeholder), then the kernel does the rest. */
long ns_sys_close_range(unsigned first, unsigned last, unsigned flags)
{
	if (first > last)
		return -EINVAL;
	if (!(flags & CLOSE_RANGE_CLOEXEC)) {
		size_t lim = ns_fd_limit();
		for (size_t fd = first; fd <= last && fd < lim; fd++)
			if (ns_fd_lookup((int)fd))
				ns_sys_close((int)fd);
	}
	return ns_next(SYS_close_range, first, last, flags, 0, 0, 0);
}

/* --- names ------------------------------------------------------------------------------------------------ */

long ns_sys_getsockname(int fd, void *addr, int *addrlen)
{
	if (!ns_stack_owned())
		return -EBADF;
	if (!addr || !addrlen)
		return -EFAULT;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	long r = ns_put_sockaddr(addr, addrlen, s->local_ip, s->local_port);
	ns_stack_unlock();
	return r;
}

long ns_sys_getpeername(int fd, void *addr, int *addrlen)
{
	if (!ns_stack_owned())
		return -EBADF;
	if (!addr || !addrlen)
		return -EFAULT;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	long r;
	bool conn = s->type == SOCK_STREAM ? s->state == NS_CONNECTED : s->has_peer;
	if (!conn)
		r = -ENOTCONN;
	else
		r = ns_put_sockaddr(addr, addrlen, s->peer_ip, s->peer_port);
	ns_stack_unlock();
	return r;
}

/* --- dup ---------------------------------------------------------------------------------------------------- */

/* NFD is a kernel dup of one of S's placeholders (or -errno): make it
 * another fd of S, or close it again if the table cannot take it.  Lock held. */
static long adopt_fd(struct nsock *s, long nfd)
{
	if (nfd < 0)
		return nfd;
	if (ns_fd_install((int)nfd, s) < 0) {
		NS_SYS(SYS_close, nfd, 0, 0);
		return -EMFILE;
	}
	s->fdrefs++;
	return nfd;
}

long ns_sys_dup(int fd)
{
	if (!ns_stack_owned())
		return -EBADF;
	struct nsock *s = ns_enter(fd);
	if (!s)
		return NS_SYS(SYS_dup, fd, 0, 0);
	long nfd = adopt_fd(s, NS_SYS(SYS_dup, fd, 0, 0));
	ns_stack_unlock();
	return nfd;
}

/* OLDFD -> NEWFD where either may be ours (the caller checks oldfd != newfd). */
static long dup_to(int oldfd, int newfd, int flags)
{
	if (!ns_stack_owned()) {
		if (ns_fd_lookup(oldfd))
			return -EBADF;
		long r = NS_SYS(SYS_dup3, oldfd, newfd, flags);
		if (r >= 0)
			ns_fd_remove(newfd);
		return r;
	}
	ns_stack_lock();
	struct nsock *s = ns_fd_lookup(oldfd);
	long r = NS_SYS(SYS_dup3, oldfd, newfd, flags);
	if (r >= 0) {
		/* The kernel closed what NEWFD was: drop our entry for it. */
		struct nsock *prev = ns_fd_remove(newfd);
		if (s) {
			if (ns_fd_install(newfd, s) < 0) {
				NS_SYS(SYS_close, newfd, 0, 0);
				r = -EMFILE;
			} else {
				s->fdrefs++;
			}
		}
		if (prev && --prev->fdrefs == 0)
			ns_sock_release(prev);
	}
	ns_stack_unlock();
	return r;
}

long ns_sys_dup3(int oldfd, int newfd, int flags)
{
	if (flags & ~O_CLOEXEC)
		return -EINVAL;
	if (oldfd == newfd)
		return -EINVAL;
	return dup_to(oldfd, newfd, flags);
}

long ns_sys_dup2(int oldfd, int newfd)
{
	if (oldfd == newfd) {
		if (ns_fd_lookup(oldfd))
			return newfd;
		long r = NS_SYS(SYS_fcntl, oldfd, F_GETFD, 0);
		return r < 0 ? r : newfd;
	}
	return dup_to(oldfd, newfd, 0);
}

/* --- fcntl / ioctl ---------------------------------------------------------------------------------------------- */

long ns_sys_fcntl(int fd, int cmd, long arg)
{
	if (!ns_stack_owned())
		return -EBADF;
	struct nsock *s;
	long r;
	switch (cmd) {
	case F_GETFL:
		s = ns_enter(fd);
		if (!s)
			return -EBADF;
		r = O_RDWR | (atomic_load(&s->nonblock) ? O_NONBLOCK : 0);
		ns_stack_unlock();
		return r;
	case F_SETFL:
		s = ns_enter(fd);
		if (!s)
			return -EBADF;
		atomic_store(&s->nonblock, (arg & O_NONBLOCK) != 0);
		ns_stack_unlock();
		return 0;
	case F_DUPFD:
	case F_DUPFD_CLOEXEC:
		s = ns_enter(fd);
		if (!s)
			return -EBADF;
		r = adopt_fd(s, NS_SYS(SYS_fcntl, fd, cmd, arg));
		ns_stack_unlock();
		return r;
	default:
		/* F_GETFD/F_SETFD (FD_CLOEXEC lives on the placeholder),
		 * F_SETOWN ...: the kernel answers for the placeholder. */
		return NS_SYS(SYS_fcntl, fd, cmd, arg);
	}
}

long ns_sys_ioctl(int fd, unsigned long req, long arg)
{
	if (!ns_stack_owned())
		return -EBADF;
	int *ip = (int *)arg;
	if (req == FIOCLEX || req == FIONCLEX || req == FIOASYNC)
		return NS_SYS(SYS_ioctl, fd, req, arg);
	if (req >= 0x8910 && req <= 0x89ff) {
		/* Interface ioctls (SIOCGIFADDR ...): the kernel's view, asked
		 * through a kernel socket. */
		long k = NS_SYS(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (k < 0)
			return k;
		long r = NS_SYS(SYS_ioctl, k, req, arg);
		NS_SYS(SYS_close, k, 0, 0);
		return r;
	}
	struct nsock *s = ns_enter(fd);
	if (!s)
		return -EBADF;
	long r = 0;
	switch (req) {
	case FIONBIO:
		if (!ip)
			r = -EFAULT;
		else
			atomic_store(&s->nonblock, *ip != 0);
		break;
	case SIOCINQ:   /* FIONREAD */
		if (!ip)
			r = -EFAULT;
		else if (s->type == SOCK_STREAM && s->state == NS_LISTEN)
			r = -EINVAL;
		else if (s->type == SOCK_STREAM)
			*ip = s->rx_bytes > INT_MAX ? INT_MAX : (int)s->rx_bytes;
		else
			*ip = (int)nst_udp_next_len(s);
		break;
	case SIOCOUTQ:
	case SIOCOUTQNSD:
		if (!ip)
			r = -EFAULT;
		else if (s->type == SOCK_STREAM && s->state == NS_LISTEN)
			r = -EINVAL;
		else if (s->type == SOCK_STREAM)
			*ip = (int)nst_tcp_outq(s, req == SIOCOUTQNSD);
		else
			*ip = 0;
		break;
	case SIOCATMARK:
		if (!ip)
			r = -EFAULT;
		else
			*ip = 0;
		break;
	default:
		r = -ENOTTY;
		break;
	}
	ns_stack_unlock();
	return r;
}
