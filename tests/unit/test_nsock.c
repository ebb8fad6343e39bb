/*
 * test_nsock.c - cmocka tests of the socket layer (hooklib/netstack/
 * fdtable.c, sock_*.c) on lwIP without DPDK.
 *
 * The stack here is a test double of netstack/stack.h: one lwIP netif
 * (10.0.0.1/24) whose output queues each IP packet and whose "device"
 * (ns_stack_poll) feeds the queue back into ip4_input, so a client and a
 * server socket in this one process talk TCP/UDP to each other through
 * lwIP exactly as they would over a wire.  ns_wait polls that loop.  The
 * lock is a flag that catches recursive locking and waiting with the lock
 * held.  Placeholders are real eventfds (the raw-syscall `next` is libc's
 * syscall()).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "lwip/init.h"
#include "lwip/ip4.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"

#include "../../netstack/stack.h"
#include "../../hooklib/netstack/nsock.h"

/* --- the test double of the stack ------------------------------------------------ */

static bool owned = true;
static bool started;
static struct netif nif;

struct frame {
	struct frame *next;
	size_t len;
	unsigned char data[];
};
static struct frame *q_head, *q_tail;
static unsigned long frames_sent, frames_dropped;
static bool drop_all;   /* the wire is cut */

uint32_t sys_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
}

uint32_t ns_stack_now_ms(void) { return sys_now(); }
uint32_t ns_lwip_rand(void) { return (uint32_t)random(); }

void ns_lwip_assert(const char *msg, int line, const char *file)
{
	fprintf(stderr, "lwIP assertion \"%s\" failed at %s:%d\n", msg, file, line);
	abort();
}

/* A real mutex (threaded tests), plus the owner, to catch recursive locking,
 * unlocking what we do not hold, polling without it, waiting with it. */
static pthread_mutex_t stack_mutex = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int lock_held;
static pthread_t lock_owner;

static bool i_hold_lock(void)
{
	return lock_held && pthread_equal(lock_owner, pthread_self());
}

void ns_stack_lock(void)
{
	if (i_hold_lock()) {
		fprintf(stderr, "ns_stack_lock: already held (recursive lock)\n");
		abort();
	}
	pthread_mutex_lock(&stack_mutex);
	lock_owner = pthread_self();
	lock_held = 1;
}

void ns_stack_unlock(void)
{
	if (!i_hold_lock()) {
		fprintf(stderr, "ns_stack_unlock: not held\n");
		abort();
	}
	lock_held = 0;
	pthread_mutex_unlock(&stack_mutex);
}

static err_t wire_output(struct netif *n, struct pbuf *p, const ip4_addr_t *dst)
{
	(void)n;
	(void)dst;
	frames_sent++;
	if (drop_all) {
		frames_dropped++;
		return ERR_OK;
	}
	struct frame *f = malloc(sizeof *f + p->tot_len);
	f->next = NULL;
	f->len = p->tot_len;
	pbuf_copy_partial(p, f->data, p->tot_len, 0);
	if (q_tail)
		q_tail->next = f;
	else
		q_head = f;
	q_tail = f;
	return ERR_OK;
}

static err_t wire_init(struct netif *n)
{
	n->output = wire_output;
	n->mtu = 1500;
	n->name[0] = 't';
	n->name[1] = 'w';
	n->flags = NETIF_FLAG_LINK_UP;
	return ERR_OK;
}

unsigned ns_stack_poll(void)
{
	if (!i_hold_lock()) {
		fprintf(stderr, "ns_stack_poll without the lock\n");
		abort();
	}
	struct frame *f = q_head;
	q_head = q_tail = NULL;
	unsigned n = 0;
	while (f) {
		struct frame *nx = f->next;
		struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)f->len, PBUF_RAM);
		memcpy(p->payload, f->data, f->len);
		if (nif.input(p, &nif) != ERR_OK)
			pbuf_free(p);
		free(f);
		f = nx;
		n++;
	}
	sys_check_timeouts();
	return n;
}

bool ns_stack_link_up(void) { return true; }
bool ns_stack_owned(void) { return owned; }

void ns_stack_ensure_started(void)
{
	if (started)
		return;
	started = true;
	lwip_init();
	ip4_addr_t ip, mask, gw;
	IP4_ADDR(&ip, 10, 0, 0, 1);
	IP4_ADDR(&mask, 255, 255, 255, 0);
	IP4_ADDR(&gw, 0, 0, 0, 0);
	netif_add(&nif, &ip, &mask, &gw, NULL, wire_init, ip4_input);
	netif_set_default(&nif);
	netif_set_up(&nif);
}

int ns_wait(bool (*ready)(void *), void *arg, int timeout_ms)
{
	if (i_hold_lock()) {
		fprintf(stderr, "ns_wait with the lock held\n");
		abort();
	}
	uint32_t start = sys_now();
	for (;;) {
		ns_stack_lock();
		unsigned n = ns_stack_poll();
		bool ok = ready(arg);
		ns_stack_unlock();
		if (ok)
			return 0;
		if (timeout_ms >= 0 && (int)(sys_now() - start) >= timeout_ms)
			return -ETIMEDOUT;
		if (!n)
			usleep(200);
	}
}

/* Run the wire until nothing moves (a few idle rounds). */
static void pump(void)
{
	int idle = 0;
	while (idle < 3) {
		ns_stack_lock();
		unsigned n = ns_stack_poll();
		ns_stack_unlock();
		idle = n ? 0 : idle + 1;
	}
}

/* Run the wire for MS milliseconds (lwIP's timers fire: delayed ACKs). */
static void pump_for(int ms)
{
	uint32_t t0 = sys_now();
	while ((int)(sys_now() - t0) < ms) {
		ns_stack_lock();
		unsigned n = ns_stack_poll();
		ns_stack_unlock();
		if (!n)
			usleep(1000);
	}
}

static uint32_t events(int fd)
{
	ns_stack_lock();
	struct nsock *s = ns_fd_lookup(fd);
	uint32_t e = s ? nsock_events(s) : 0xffffffffu;
	ns_stack_unlock();
	return e;
}

static uint64_t gen(int fd)
{
	ns_stack_lock();
	uint64_t g = nsock_gen(ns_fd_lookup(fd));
	ns_stack_unlock();
	return g;
}

/* --- helpers ------------------------------------------------------------------------- */

#define SERVER_IP 0x0a000001u   /* 10.0.0.1, host order */

static struct sockaddr_in sin_of(uint32_t ip_host, uint16_t port)
{
	struct sockaddr_in a;
	memset(&a, 0, sizeof a);
	a.sin_family = AF_INET;
	a.sin_port = htons(port);
	a.sin_addr.s_addr = htonl(ip_host);
	return a;
}

static uint16_t next_port = 5000;

/* A non-blocking listener on 10.0.0.1:port. */
static int listener(uint16_t *port_out, int backlog)
{
	int fd = (int)ns_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	int one = 1;
	assert_int_equal(ns_sys_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	uint16_t port = next_port++;
	struct sockaddr_in a = sin_of(0, port);
	assert_int_equal(ns_sys_bind(fd, &a, sizeof a), 0);
	assert_int_equal(ns_sys_listen(fd, backlog), 0);
	*port_out = port;
	return fd;
}

/* A connected pair: *cli (non-blocking) and *srv (non-blocking). */
static void pair(int *cli, int *srv, int *lfd_out)
{
	uint16_t port;
	int lfd = listener(&port, 16);
	int c = (int)ns_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(c >= 0);
	struct sockaddr_in a = sin_of(SERVER_IP, port);
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), -EINPROGRESS);
	pump();
	int s = (int)ns_sys_accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	assert_true(s >= 0);
	*cli = c;
	*srv = s;
	if (lfd_out)
		*lfd_out = lfd;
	else
		ns_sys_close(lfd);
}

static void fill(unsigned char *b, size_t n, size_t base)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (unsigned char)((base + i) * 7 + 3);
}

static bool check(const unsigned char *b, size_t n, size_t base)
{
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)((base + i) * 7 + 3))
			return false;
	return true;
}

static volatile sig_atomic_t sigpipes;
static void on_sigpipe(int sig) { (void)sig; sigpipes++; }

/* --- tests ------------------------------------------------------------------------------ */

static void test_socket_domains(void **st)
{
	(void)st;
	assert_true(ns_sys_socket_is_ours(AF_INET, SOCK_STREAM | SOCK_CLOEXEC));
	assert_true(ns_sys_socket_is_ours(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK));
	assert_true(ns_sys_socket_is_ours(AF_INET6, SOCK_STREAM));
	assert_false(ns_sys_socket_is_ours(AF_UNIX, SOCK_STREAM));
	assert_false(ns_sys_socket_is_ours(AF_INET, SOCK_RAW));
	assert_int_equal(ns_sys_socket(AF_INET6, SOCK_STREAM, 0), -EAFNOSUPPORT);
	assert_int_equal(ns_sys_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), -EPROTONOSUPPORT);
	/* The placeholder is a real kernel fd with FD_CLOEXEC per SOCK_CLOEXEC. */
	int fd = (int)ns_sys_socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_non_null(ns_fd_lookup(fd));
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
	assert_int_equal(ns_sys_fcntl(fd, F_GETFD, 0), FD_CLOEXEC);
	assert_int_equal(ns_sys_fcntl(fd, F_GETFL, 0), O_RDWR);
	/* A fresh TCP socket: EPOLLOUT|EPOLLHUP as on Linux. */
	assert_int_equal(events(fd), EPOLLOUT | EPOLLHUP);
	char b[4];
	assert_int_equal(ns_sys_read(fd, b, sizeof b), -ENOTCONN);
	assert_int_equal(ns_sys_sendto(fd, b, sizeof b, MSG_NOSIGNAL, NULL, 0), -EPIPE);
	int l = sizeof(struct sockaddr_in);
	struct sockaddr_in a;
	assert_int_equal(ns_sys_getpeername(fd, &a, &l), -ENOTCONN);
	assert_int_equal(ns_sys_close(fd), 0);
	assert_null(ns_fd_lookup(fd));
	assert_int_equal(fcntl(fd, F_GETFD), -1);   /* placeholder closed */
}

static void test_connect_accept_echo(void **st)
{
	(void)st;
	uint16_t port;
	int lfd = listener(&port, 16);
	assert_int_equal(events(lfd), 0);
	int v = 0, l = sizeof v;
	assert_int_equal(ns_sys_getsockopt(lfd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ns_sys_accept4(lfd, NULL, NULL, 0), -EAGAIN);

	int c = (int)ns_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = sin_of(SERVER_IP, port);
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), -EINPROGRESS);
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), -EALREADY);
	assert_int_equal(events(c) & EPOLLOUT, 0);
	uint64_t g = gen(lfd);
	pump();
	assert_true(gen(lfd) > g);
	assert_int_equal(events(lfd), EPOLLIN);
	assert_int_equal(events(c), EPOLLOUT);
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), -EISCONN);
	v = -1;
	assert_int_equal(ns_sys_getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &l), 0);
	assert_int_equal(v, 0);

	struct sockaddr_in peer;
	int plen = sizeof peer;
	int s = (int)ns_sys_accept4(lfd, &peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	assert_true(s >= 0);
	assert_int_equal(plen, sizeof peer);
	assert_int_equal(events(lfd), 0);
	assert_int_equal(ns_sys_fcntl(s, F_GETFL, 0), O_RDWR | O_NONBLOCK);
	assert_int_equal(fcntl(s, F_GETFD), FD_CLOEXEC);

	/* Names on both ends agree. */
	struct sockaddr_in cl, sl, sp;
	int len = sizeof cl;
	assert_int_equal(ns_sys_getsockname(c, &cl, &len), 0);
	assert_int_equal(cl.sin_addr.s_addr, htonl(SERVER_IP));
	assert_int_equal(peer.sin_port, cl.sin_port);
	assert_int_equal(peer.sin_addr.s_addr, cl.sin_addr.s_addr);
	len = sizeof sl;
	assert_int_equal(ns_sys_getsockname(s, &sl, &len), 0);
	assert_int_equal(ntohs(sl.sin_port), port);
	len = sizeof sp;
	assert_int_equal(ns_sys_getpeername(c, &sp, &len), 0);
	assert_int_equal(ntohs(sp.sin_port), port);

	/* Echo. */
	assert_int_equal(ns_sys_write(c, "hello", 5), 5);
	pump();
	assert_int_equal(events(s), EPOLLIN | EPOLLOUT);
	char buf[64];
	assert_int_equal(ns_sys_read(s, buf, sizeof buf), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(ns_sys_read(s, buf, sizeof buf), -EAGAIN);
	struct iovec iov[3] = { { "wor", 3 }, { "", 0 }, { "ld!", 3 } };
	assert_int_equal(ns_sys_writev(s, iov, 3), 6);
	pump();
	char b1[2], b2[10];
	struct iovec riov[2] = { { b1, 2 }, { b2, 10 } };
	assert_int_equal(ns_sys_readv(c, riov, 2), 6);
	assert_memory_equal(b1, "wo", 2);
	assert_memory_equal(b2, "rld!", 4);

	ns_sys_close(c);
	ns_sys_close(s);
	ns_sys_close(lfd);
	pump();
}

static void test_blocking_connect_accept(void **st)
{
	(void)st;
	uint16_t port;
	int lfd = listener(&port, 16);
	ns_sys_fcntl(lfd, F_SETFL, 0);   /* blocking accept */
	int c = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = sin_of(SERVER_IP, port);
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), 0);   /* ns_wait drives */
	int s = (int)ns_sys_accept4(lfd, NULL, NULL, 0);
	assert_true(s >= 0);
	assert_int_equal(ns_sys_fcntl(s, F_GETFL, 0), O_RDWR);   /* not inherited */
	/* Blocking read waits for data. */
	assert_int_equal(ns_sys_write(c, "x", 1), 1);
	char ch;
	assert_int_equal(ns_sys_read(s, &ch, 1), 1);
	assert_int_equal(ch, 'x');
	/* SO_RCVTIMEO: a blocking read gives up with EAGAIN. */
	struct timeval tv = { 0, 100000 };
	assert_int_equal(ns_sys_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	uint32_t t0 = sys_now();
	assert_int_equal(ns_sys_read(s, &ch, 1), -EAGAIN);
	uint32_t dt = sys_now() - t0;
	assert_true(dt >= 90 && dt < 1000);
	struct timeval got;
	int gl = sizeof got;
	assert_int_equal(ns_sys_getsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &got, &gl), 0);
	assert_int_equal(got.tv_usec, 100000);
	/* MSG_DONTWAIT on a blocking socket. */
	assert_int_equal(ns_sys_recvfrom(s, &ch, 1, MSG_DONTWAIT, NULL, NULL), -EAGAIN);
	/* Blocking accept with SO_RCVTIMEO. */
	assert_int_equal(ns_sys_setsockopt(lfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	assert_int_equal(ns_sys_accept4(lfd, NULL, NULL, 0), -EAGAIN);
	/* MSG_WAITALL gathers across segments (Nagle holds "cd" until the
	 * delayed ACK: longer than the 100 ms timeout, so clear it). */
	tv.tv_usec = 0;
	assert_int_equal(ns_sys_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	assert_int_equal(ns_sys_write(c, "ab", 2), 2);
	assert_int_equal(ns_sys_write(c, "cd", 2), 2);
	char w[4];
	assert_int_equal(ns_sys_recvfrom(s, w, 4, MSG_WAITALL, NULL, NULL), 4);
	assert_memory_equal(w, "abcd", 4);
	ns_sys_close(c);
	ns_sys_close(s);
	ns_sys_close(lfd);
	pump();
}

static void test_partial_write_eagain(void **st)
{
	(void)st;
	int c, s;
	pair(&c, &s, NULL);
	size_t chunk = 4u << 20;
	unsigned char *buf = malloc(chunk);
	size_t total = 0;
	int eagain_rounds = 0;
	/* The server reads nothing: its window (1 MiB) and our send buffer
	 * (1 MiB) fill up, then writes return EAGAIN. */
	while (eagain_rounds < 3) {
		fill(buf, chunk, total);
		long r = ns_sys_write(c, buf, chunk);
		if (r == -EAGAIN) {
			eagain_rounds++;
		} else {
			assert_true(r > 0);
			assert_true((size_t)r < chunk);   /* partial */
			total += (size_t)r;
			eagain_rounds = 0;
		}
		pump();
	}
	assert_true(total >= (1u << 20));
	assert_true(total <= (3u << 20));
	assert_int_equal(events(c) & EPOLLOUT, 0);
	int outq = -1;
	assert_int_equal(ns_sys_ioctl(c, SIOCOUTQ, (long)&outq), 0);
	assert_true(outq > 0);
	int inq = -1;
	assert_int_equal(ns_sys_ioctl(s, FIONREAD, (long)&inq), 0);
	assert_true(inq > 0);
	/* Drain and check every byte. */
	size_t got = 0;
	uint64_t g = gen(c);
	unsigned char *rb = malloc(300000);
	while (got < total) {
		long r = ns_sys_read(s, rb, 300000);
		if (r == -EAGAIN) {
			pump();
			continue;
		}
		assert_true(r > 0);
		assert_true(check(rb, (size_t)r, got));
		got += (size_t)r;
	}
	pump();
	assert_int_equal(got, total);
	assert_true(gen(c) > g);              /* room again: edge reported */
	assert_true(events(c) & EPOLLOUT);
	assert_int_equal(ns_sys_ioctl(c, SIOCOUTQ, (long)&outq), 0);
	assert_int_equal(outq, 0);
	free(buf);
	free(rb);
	ns_sys_close(c);
	ns_sys_close(s);
	pump();
}

static void test_blocking_write_all(void **st)
{
	(void)st;
	int c, s;
	pair(&c, &s, NULL);
	ns_sys_fcntl(c, F_SETFL, 0);
	/* 3 MiB in one blocking write cannot be queued at once: it waits for
	 * room until the reader below... which runs after it returns, so use
	 * SO_SNDTIMEO to bound it and check it returns what was queued. */
	size_t n = 3u << 20;
	unsigned char *buf = malloc(n);
	fill(buf, n, 0);
	struct timeval tv = { 0, 200000 };
	assert_int_equal(ns_sys_setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv), 0);
	long r = ns_sys_write(c, buf, n);
	assert_true(r > 0 && (size_t)r < n);
	/* Now a blocking write that fits after the reader drains: read all,
	 * then a 64 KiB blocking write completes whole. */
	size_t got = 0;
	unsigned char *rb = malloc(n);
	while (got < (size_t)r) {
		long k = ns_sys_read(s, rb + got, n - got);
		if (k == -EAGAIN) {
			pump();
			continue;
		}
		assert_true(k > 0);
		got += (size_t)k;
	}
	assert_true(check(rb, got, 0));
	assert_int_equal(ns_sys_write(c, buf, 65536), 65536);
	free(buf);
	free(rb);
	ns_sys_close(c);
	ns_sys_close(s);
	pump();
}

static void test_peek_fionread(void **st)
{
	(void)st;
	int c, s;
	pair(&c, &s, NULL);
	unsigned char data[100];
	fill(data, sizeof data, 0);
	assert_int_equal(ns_sys_write(c, data, 60), 60);
	assert_int_equal(ns_sys_write(c, data + 60, 40), 40);
	pump();
	/* Nagle holds the second segment until the (delayed) ACK. */
	int n0 = -1;
	assert_int_equal(ns_sys_ioctl(s, FIONREAD, (long)&n0), 0);
	assert_int_equal(n0, 60);
	pump_for(600);
	int n = -1;
	assert_int_equal(ns_sys_ioctl(s, FIONREAD, (long)&n), 0);
	assert_int_equal(n, 100);
	unsigned char p[80];
	assert_int_equal(ns_sys_recvfrom(s, p, 80, MSG_PEEK, NULL, NULL), 80);
	assert_true(check(p, 80, 0));
	assert_int_equal(ns_sys_ioctl(s, SIOCINQ, (long)&n), 0);
	assert_int_equal(n, 100);
	unsigned char r[100];
	assert_int_equal(ns_sys_read(s, r, 30), 30);
	assert_int_equal(ns_sys_recvfrom(s, p, 80, MSG_PEEK, NULL, NULL), 70);
	assert_true(check(p, 70, 30));
	assert_int_equal(ns_sys_read(s, r + 30, 100), 70);
	assert_true(check(r, 100, 0));
	assert_int_equal(ns_sys_ioctl(s, FIONREAD, (long)&n), 0);
	assert_int_equal(n, 0);
	ns_sys_close(c);
	ns_sys_close(s);
	pump();
}

static void test_fin_read0_epipe(void **st)
{
	(void)st;
	int c, s;
	pair(&c, &s, NULL);
	assert_int_equal(ns_sys_write(c, "bye", 3), 3);
	assert_int_equal(ns_sys_shutdown(c, SHUT_WR), 0);
	pump();
	uint32_t e = events(s);
	assert_true(e & EPOLLIN);
	assert_true(e & EPOLLRDHUP);
	assert_false(e & EPOLLHUP);
	char b[8];
	assert_int_equal(ns_sys_read(s, b, sizeof b), 3);
	assert_int_equal(ns_sys_read(s, b, sizeof b), 0);
	assert_int_equal(ns_sys_read(s, b, sizeof b), 0);
	/* Half-closed: the server can still talk. */
	assert_int_equal(ns_sys_write(s, "ok", 2), 2);
	pump();
	assert_int_equal(ns_sys_read(c, b, sizeof b), 2);
	/* Our SHUT_WR: EPIPE, SIGPIPE unless MSG_NOSIGNAL. */
	struct sigaction sa = { .sa_handler = on_sigpipe }, old;
	sigaction(SIGPIPE, &sa, &old);
	sigpipes = 0;
	assert_int_equal(ns_sys_sendto(c, "x", 1, MSG_NOSIGNAL, NULL, 0), -EPIPE);
	assert_int_equal(sigpipes, 0);
	assert_int_equal(ns_sys_write(c, "x", 1), -EPIPE);
	assert_int_equal(sigpipes, 1);
	sigaction(SIGPIPE, &old, NULL);
	/* Server closes too: both FINs; the client sees HUP, reads 0. */
	ns_sys_close(s);
	pump();
	e = events(c);
	assert_true(e & EPOLLHUP);
	assert_true(e & EPOLLIN);
	assert_int_equal(ns_sys_read(c, b, sizeof b), 0);
	ns_sys_close(c);
	pump();
}

static void test_rst_econnreset(void **st)
{
	(void)st;
	int c, s;
	pair(&c, &s, NULL);
	struct linger lg = { 1, 0 };
	assert_int_equal(ns_sys_setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	assert_int_equal(ns_sys_write(c, "abc", 3), 3);
	pump();
	uint64_t g = gen(s);
	ns_sys_close(c);   /* SO_LINGER 0: RST */
	pump();
	assert_true(gen(s) > g);
	uint32_t e = events(s);
	assert_true(e & EPOLLERR);
	assert_true(e & EPOLLHUP);
	char b[8];
	/* Data that arrived first is still readable, then the error once, then 0. */
	assert_int_equal(ns_sys_read(s, b, sizeof b), 3);
	assert_int_equal(ns_sys_read(s, b, sizeof b), -ECONNRESET);
	assert_int_equal(ns_sys_read(s, b, sizeof b), 0);
	assert_int_equal(ns_sys_sendto(s, "x", 1, MSG_NOSIGNAL, NULL, 0), -EPIPE);
	ns_sys_close(s);
	pump();

	/* Close with unread data sends RST too (as Linux). */
	pair(&c, &s, NULL);
	assert_int_equal(ns_sys_write(c, "unread", 6), 6);
	pump();
	ns_sys_close(s);
	pump();
	assert_int_equal(ns_sys_read(c, b, sizeof b), -ECONNRESET);
	/* First write after a reset: the error is already consumed -> EPIPE. */
	assert_int_equal(ns_sys_sendto(c, "x", 1, MSG_NOSIGNAL, NULL, 0), -EPIPE);
	ns_sys_close(c);
	pump();
}

static void test_refused(void **st)
{
	(void)st;
	int c = (int)ns_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = sin_of(SERVER_IP, 4999);   /* nobody listens */
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), -EINPROGRESS);
	pump();
	uint32_t e = events(c);
	assert_true(e & EPOLLERR);
	assert_true(e & EPOLLHUP);
	assert_true(e & EPOLLOUT);
	int v = 0, l = sizeof v;
	assert_int_equal(ns_sys_getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &l), 0);
	assert_int_equal(v, ECONNREFUSED);
	assert_int_equal(ns_sys_getsockopt(c, SOL_SOCKET, SO_ERROR, &v, &l), 0);
	assert_int_equal(v, 0);
	assert_false(events(c) & EPOLLERR);
	ns_sys_close(c);
	/* Blocking connect reports it directly. */
	c = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), -ECONNREFUSED);
	/* ... and the socket can try again. */
	uint16_t port;
	int lfd = listener(&port, 4);
	a = sin_of(SERVER_IP, port);
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), 0);
	ns_sys_close(c);
	ns_sys_close(lfd);
	pump();
	/* Loopback is not on this stack. */
	c = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	a = sin_of(0x7f000001, 80);
	assert_int_equal(ns_sys_connect(c, &a, sizeof a), -ENETUNREACH);
	ns_sys_close(c);
}

static void test_dup_refcount(void **st)
{
	(void)st;
	int c, s;
	pair(&c, &s, NULL);
	int d = (int)ns_sys_dup(c);
	assert_true(d >= 0 && d != c);
	assert_ptr_equal(ns_fd_lookup(d), ns_fd_lookup(c));
	int f = (int)ns_sys_fcntl(c, F_DUPFD_CLOEXEC, 100);
	assert_true(f >= 100);
	assert_ptr_equal(ns_fd_lookup(f), ns_fd_lookup(c));
	assert_int_equal(fcntl(f, F_GETFD), FD_CLOEXEC);
	assert_int_equal(fcntl(d, F_GETFD), 0);
	/* O_NONBLOCK is shared by the open socket. */
	assert_int_equal(ns_sys_fcntl(d, F_SETFL, 0), 0);
	assert_int_equal(ns_sys_fcntl(c, F_GETFL, 0), O_RDWR);
	int on = 1;
	assert_int_equal(ns_sys_ioctl(c, FIONBIO, (long)&on), 0);
	assert_int_equal(ns_sys_fcntl(f, F_GETFL, 0), O_RDWR | O_NONBLOCK);
	/* Closing some numbers keeps the connection. */
	ns_sys_close(c);
	ns_sys_close(f);
	assert_null(ns_fd_lookup(c));
	assert_int_equal(ns_sys_write(d, "still", 5), 5);
	pump();
	char b[8];
	assert_int_equal(ns_sys_read(s, b, sizeof b), 5);
	/* dup2 over another lwIP socket closes that one (its last ref). */
	int u = (int)ns_sys_socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(ns_sys_dup2(d, u), u);
	assert_ptr_equal(ns_fd_lookup(u), ns_fd_lookup(d));
	assert_int_equal(ns_sys_dup2(u, u), u);
	assert_int_equal(ns_sys_dup3(u, u, 0), -EINVAL);
	/* dup2 of a kernel fd over one of ours drops our entry. */
	int k = open("/dev/null", O_RDONLY);
	assert_int_equal(ns_sys_dup2(k, u), u);
	assert_null(ns_fd_lookup(u));
	close(u);
	close(k);
	ns_sys_close(d);   /* the last: FIN */
	pump();
	assert_int_equal(ns_sys_read(s, b, sizeof b), 0);
	ns_sys_close(s);
	pump();
}

static void test_names(void **st)
{
	(void)st;
	int fd = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = sin_of(SERVER_IP, 0);
	assert_int_equal(ns_sys_bind(fd, &a, sizeof a), 0);
	assert_int_equal(ns_sys_bind(fd, &a, sizeof a), -EINVAL);
	struct sockaddr_in got;
	int len = sizeof got;
	assert_int_equal(ns_sys_getsockname(fd, &got, &len), 0);
	assert_int_equal(len, sizeof got);
	assert_int_equal(got.sin_family, AF_INET);
	assert_true(ntohs(got.sin_port) >= 0xc000);   /* ephemeral */
	assert_int_equal(got.sin_addr.s_addr, htonl(SERVER_IP));
	/* Truncation: 4 bytes copied, the full size reported. */
	unsigned char small[8];
	memset(small, 0xee, sizeof small);
	len = 4;
	assert_int_equal(ns_sys_getsockname(fd, small, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(small[0], AF_INET);
	assert_int_equal(small[4], 0xee);
	len = -1;
	assert_int_equal(ns_sys_getsockname(fd, small, &len), -EINVAL);
	/* bind errors */
	int fd2 = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	a = sin_of(SERVER_IP, ntohs(got.sin_port));
	assert_int_equal(ns_sys_bind(fd2, &a, sizeof a), -EADDRINUSE);
	a = sin_of(0x0a000063, 0);   /* 10.0.0.99: not ours */
	assert_int_equal(ns_sys_bind(fd2, &a, sizeof a), -EADDRNOTAVAIL);
	assert_int_equal(ns_sys_bind(fd2, &a, 8), -EINVAL);
	struct sockaddr_in6x { unsigned short f; char pad[26]; } a6 = { AF_INET6, { 0 } };
	assert_int_equal(ns_sys_bind(fd2, &a6, sizeof a6), -EAFNOSUPPORT);
	/* listen on an unbound socket picks a port */
	assert_int_equal(ns_sys_listen(fd2, 5), 0);
	len = sizeof got;
	assert_int_equal(ns_sys_getsockname(fd2, &got, &len), 0);
	assert_true(ntohs(got.sin_port) != 0);
	ns_sys_close(fd);
	ns_sys_close(fd2);
	/* bad fd */
	assert_int_equal(ns_sys_listen(fd2, 5), -EBADF);
}

static void test_sockopts(void **st)
{
	(void)st;
	int fd = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	int v, l;
	int one = 1;
	v = 0; l = sizeof v;
	assert_int_equal(ns_sys_getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ns_sys_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
	assert_int_equal(ns_sys_getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
	assert_int_equal(v, 1);
	assert_int_equal(ns_sys_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one), 0);
	int idle = 300;
	assert_int_equal(ns_sys_setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle), 0);
	assert_int_equal(ns_sys_getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &l), 0);
	assert_int_equal(v, 300);
	int bad = 0;
	assert_int_equal(ns_sys_setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &bad, sizeof bad), -EINVAL);
	int sz = 10000;
	assert_int_equal(ns_sys_setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz), 0);
	assert_int_equal(ns_sys_getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &v, &l), 0);
	assert_int_equal(v, 20000);
	assert_int_equal(ns_sys_getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &l), 0);
	assert_int_equal(v, SOCK_STREAM);
	assert_int_equal(ns_sys_getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &l), 0);
	assert_int_equal(v, AF_INET);
	assert_int_equal(ns_sys_getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &l), 0);
	assert_int_equal(v, 0);
	assert_int_equal(ns_sys_setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one), 0);
	int tos = 0x10;
	assert_int_equal(ns_sys_setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos), 0);
	assert_int_equal(ns_sys_getsockopt(fd, IPPROTO_IP, IP_TOS, &v, &l), 0);
	assert_int_equal(v, 0x10);
	assert_int_equal(ns_sys_setsockopt(fd, SOL_SOCKET, 9999, &one, sizeof one), -ENOPROTOOPT);
	assert_int_equal(ns_sys_setsockopt(fd, 12345, 1, &one, sizeof one), -ENOPROTOOPT);
	assert_int_equal(ns_sys_getsockopt(fd, IPPROTO_TCP, 9999, &v, &l), -ENOPROTOOPT);
	assert_int_equal(ns_sys_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, 2), -EINVAL);
	/* short optlen: truncated copy, length updated */
	unsigned char c1 = 0;
	l = 1;
	assert_int_equal(ns_sys_getsockopt(fd, SOL_SOCKET, SO_TYPE, &c1, &l), 0);
	assert_int_equal(l, 1);
	assert_int_equal(c1, SOCK_STREAM);
	struct linger lg = { 1, 5 }, lg2;
	assert_int_equal(ns_sys_setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
	l = sizeof lg2;
	assert_int_equal(ns_sys_getsockopt(fd, SOL_SOCKET, SO_LINGER, &lg2, &l), 0);
	assert_int_equal(lg2.l_onoff, 1);
	assert_int_equal(lg2.l_linger, 5);
	/* Options are inherited by accepted sockets. */
	uint16_t port;
	int lfd = listener(&port, 4);
	assert_int_equal(ns_sys_setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one), 0);
	int c = (int)ns_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in a = sin_of(SERVER_IP, port);
	ns_sys_connect(c, &a, sizeof a);
	pump();
	int s = (int)ns_sys_accept4(lfd, NULL, NULL, 0);
	assert_true(s >= 0);
	l = sizeof v;
	assert_int_equal(ns_sys_getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &l), 0);
	assert_int_equal(v, 1);
	struct tcp_info ti;
	l = sizeof ti;
	assert_int_equal(ns_sys_getsockopt(s, IPPROTO_TCP, TCP_INFO, &ti, &l), 0);
	assert_int_equal(ti.tcpi_state, 1);   /* TCP_ESTABLISHED */
	ns_sys_close(s);
	ns_sys_close(c);
	ns_sys_close(lfd);
	ns_sys_close(fd);
	pump();
}

static void test_backlog_and_listener_close(void **st)
{
	(void)st;
	uint16_t port;
	int lfd = listener(&port, 1);   /* Linux queues backlog + 1 = 2 */
	int c[4];
	struct sockaddr_in a = sin_of(SERVER_IP, port);
	for (int i = 0; i < 4; i++) {
		c[i] = (int)ns_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_int_equal(ns_sys_connect(c[i], &a, sizeof a), -EINPROGRESS);
	}
	pump();
	int connected = 0;
	for (int i = 0; i < 4; i++)
		if (events(c[i]) & EPOLLOUT)
			connected++;
	assert_int_equal(connected, 2);   /* the rest wait for a SYN retry */
	/* Close the listener with 2 pending: they are reset. */
	ns_sys_close(lfd);
	pump();
	int reset = 0;
	for (int i = 0; i < 4; i++) {
		char b;
		if (ns_sys_read(c[i], &b, 1) == -ECONNRESET)
			reset++;
		ns_sys_close(c[i]);
	}
	assert_int_equal(reset, 2);
	pump();
}

static void test_shutdown_listener_wakes_accept(void **st)
{
	(void)st;
	uint16_t port;
	int lfd = listener(&port, 4);
	assert_int_equal(ns_sys_shutdown(lfd, SHUT_RDWR), 0);
	assert_int_equal(ns_sys_accept4(lfd, NULL, NULL, 0), -EINVAL);
	ns_sys_close(lfd);
	int u = (int)ns_sys_socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(ns_sys_listen(u, 1), -EOPNOTSUPP);
	assert_int_equal(ns_sys_accept4(u, NULL, NULL, 0), -EOPNOTSUPP);
	assert_int_equal(ns_sys_shutdown(u, 7), -EINVAL);
	ns_sys_close(u);
}

static void test_udp(void **st)
{
	(void)st;
	int a = (int)ns_sys_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int b = (int)ns_sys_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in ab = sin_of(SERVER_IP, 7000), bb = sin_of(0, 7001);
	assert_int_equal(ns_sys_bind(a, &ab, sizeof ab), 0);
	assert_int_equal(ns_sys_bind(b, &bb, sizeof bb), 0);
	assert_int_equal(events(a), EPOLLOUT);
	char buf[2000];
	assert_int_equal(ns_sys_read(a, buf, sizeof buf), -EAGAIN);
	/* three datagrams, boundaries kept */
	struct sockaddr_in to_a = sin_of(SERVER_IP, 7000);
	assert_int_equal(ns_sys_sendto(b, "one", 3, 0, &to_a, sizeof to_a), 3);
	assert_int_equal(ns_sys_sendto(b, "second", 6, 0, &to_a, sizeof to_a), 6);
	assert_int_equal(ns_sys_sendto(b, "", 0, 0, &to_a, sizeof to_a), 0);
	pump();
	assert_int_equal(events(a), EPOLLIN | EPOLLOUT);
	int n = -1;
	assert_int_equal(ns_sys_ioctl(a, FIONREAD, (long)&n), 0);
	assert_int_equal(n, 3);
	struct sockaddr_in from;
	int flen = sizeof from;
	assert_int_equal(ns_sys_recvfrom(a, buf, sizeof buf, 0, &from, &flen), 3);
	assert_memory_equal(buf, "one", 3);
	assert_int_equal(flen, sizeof from);
	assert_int_equal(ntohs(from.sin_port), 7001);
	assert_int_equal(from.sin_addr.s_addr, htonl(SERVER_IP));
	/* truncation: MSG_TRUNC flag in recvmsg; the rest is discarded */
	char small[4];
	struct iovec iov = { small, sizeof small };
	struct msghdr mh;
	memset(&mh, 0, sizeof mh);
	mh.msg_name = &from;
	mh.msg_namelen = sizeof from;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	assert_int_equal(ns_sys_recvmsg(a, &mh, MSG_PEEK), 4);
	assert_true(mh.msg_flags & MSG_TRUNC);
	assert_int_equal(ns_sys_recvfrom(a, small, 2, MSG_TRUNC, NULL, NULL), 6);   /* real length */
	assert_memory_equal(small, "se", 2);
	assert_int_equal(ns_sys_recvfrom(a, buf, sizeof buf, 0, NULL, NULL), 0);   /* empty datagram */
	assert_int_equal(ns_sys_recvfrom(a, buf, sizeof buf, 0, NULL, NULL), -EAGAIN);
	/* connected UDP: no address needed, and only the peer is heard */
	struct sockaddr_in to_b = sin_of(SERVER_IP, 7001);
	assert_int_equal(ns_sys_connect(a, &to_b, sizeof to_b), 0);
	struct sockaddr_in pn;
	int pl = sizeof pn;
	assert_int_equal(ns_sys_getpeername(a, &pn, &pl), 0);
	assert_int_equal(ntohs(pn.sin_port), 7001);
	assert_int_equal(ns_sys_write(a, "reply", 5), 5);
	pump();
	assert_int_equal(ns_sys_read(b, buf, sizeof buf), 5);
	assert_memory_equal(buf, "reply", 5);
	int c = (int)ns_sys_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_int_equal(ns_sys_sendto(c, "stranger", 8, 0, &to_a, sizeof to_a), 8);
	pump();
	assert_int_equal(ns_sys_read(a, buf, sizeof buf), -EAGAIN);
	/* errors */
	assert_int_equal(ns_sys_write(c, "x", 1), -EDESTADDRREQ);
	memset(buf, 'x', sizeof buf);
	assert_int_equal(ns_sys_sendto(b, buf, 1473, 0, &to_a, sizeof to_a), -EMSGSIZE);
	assert_int_equal(ns_sys_sendto(b, buf, 1472, 0, &to_b, sizeof to_b), 1472);
	struct sockaddr_in zero = sin_of(SERVER_IP, 0);
	assert_int_equal(ns_sys_sendto(b, buf, 1, 0, &zero, sizeof zero), -EINVAL);
	/* sendmsg with a gather list; recvmsg scatters */
	struct iovec gv[2] = { { "ab", 2 }, { "cde", 3 } };
	memset(&mh, 0, sizeof mh);
	mh.msg_name = &to_b;
	mh.msg_namelen = sizeof to_b;
	mh.msg_iov = gv;
	mh.msg_iovlen = 2;
	int d = (int)ns_sys_socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	assert_int_equal(ns_sys_sendmsg(d, &mh, 0), 5);
	pump();
	char r1[3], r2[8];
	struct iovec rv[2] = { { r1, 3 }, { r2, 8 } };
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = rv;
	mh.msg_iovlen = 2;
	/* b also got the 1472-byte datagram first */
	assert_int_equal(ns_sys_recvfrom(b, buf, sizeof buf, 0, NULL, NULL), 1472);
	assert_int_equal(ns_sys_recvmsg(b, &mh, 0), 5);
	assert_memory_equal(r1, "abc", 3);
	assert_memory_equal(r2, "de", 2);
	assert_int_equal(mh.msg_flags, 0);
	/* getsockname of an implicitly bound socket */
	struct sockaddr_in dn;
	int dl = sizeof dn;
	assert_int_equal(ns_sys_getsockname(d, &dn, &dl), 0);
	assert_true(ntohs(dn.sin_port) != 0);
	/* SO_TYPE */
	int v, l = sizeof v;
	assert_int_equal(ns_sys_getsockopt(d, SOL_SOCKET, SO_TYPE, &v, &l), 0);
	assert_int_equal(v, SOCK_DGRAM);
	assert_int_equal(ns_sys_getsockopt(d, IPPROTO_TCP, TCP_NODELAY, &v, &l), -ENOPROTOOPT);
	/* blocking recv with a timeout */
	ns_sys_fcntl(d, F_SETFL, 0);
	struct timeval tv = { 0, 50000 };
	assert_int_equal(ns_sys_setsockopt(d, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
	assert_int_equal(ns_sys_read(d, buf, sizeof buf), -EAGAIN);
	ns_sys_close(a);
	ns_sys_close(b);
	ns_sys_close(c);
	ns_sys_close(d);
}

static void test_fork_child_semantics(void **st)
{
	(void)st;
	int fd = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	owned = false;   /* as in a fork child */
	char b;
	assert_int_equal(ns_sys_read(fd, &b, 1), -EBADF);
	assert_int_equal(ns_sys_listen(fd, 1), -EBADF);
	assert_int_equal(ns_sys_close(fd), 0);
	assert_null(ns_fd_lookup(fd));
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(ns_sys_socket(AF_INET, SOCK_STREAM, 0), -ENETDOWN);
	owned = true;
}

static void test_close_range(void **st)
{
	(void)st;
	int a = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	int b = (int)ns_sys_socket(AF_INET, SOCK_DGRAM, 0);
	int lo = a < b ? a : b, hi = a < b ? b : a;
	assert_int_equal(ns_sys_close_range((unsigned)lo, (unsigned)hi, 0), 0);
	assert_null(ns_fd_lookup(a));
	assert_null(ns_fd_lookup(b));
	assert_int_equal(fcntl(a, F_GETFD), -1);
}

static void test_ioctl_misc(void **st)
{
	(void)st;
	int fd = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	int on = 1;
	assert_int_equal(ns_sys_ioctl(fd, FIONBIO, (long)&on), 0);
	assert_int_equal(ns_sys_fcntl(fd, F_GETFL, 0), O_RDWR | O_NONBLOCK);
	assert_int_equal(ns_sys_ioctl(fd, 0x1234, 0), -ENOTTY);
	assert_int_equal(ns_sys_ioctl(fd, FIOCLEX, 0), 0);
	assert_int_equal(fcntl(fd, F_GETFD), FD_CLOEXEC);
	uint16_t port;
	int lfd = listener(&port, 1);
	int n;
	assert_int_equal(ns_sys_ioctl(lfd, FIONREAD, (long)&n), -EINVAL);
	ns_sys_close(lfd);
	ns_sys_close(fd);
}

struct th_arg {
	int fd;
	long r;
};

static void *th_read(void *p)
{
	struct th_arg *a = p;
	char b[16];
	a->r = ns_sys_read(a->fd, b, sizeof b);
	return NULL;
}

static void *th_accept(void *p)
{
	struct th_arg *a = p;
	a->r = ns_sys_accept4(a->fd, NULL, NULL, 0);
	return NULL;
}

/* Another thread blocked on a socket: data wakes it; close from here ends
 * its wait with EBADF and the socket is freed only after it let go. */
static void test_threads_block_and_close(void **st)
{
	(void)st;
	int c, s;
	pair(&c, &s, NULL);
	ns_sys_fcntl(s, F_SETFL, 0);
	struct th_arg a = { s, 0 };
	pthread_t t;
	pthread_create(&t, NULL, th_read, &a);
	usleep(50000);
	assert_int_equal(ns_sys_write(c, "wake", 4), 4);
	pthread_join(t, NULL);
	assert_int_equal(a.r, 4);
	/* blocked again; closed under it */
	a.r = 0;
	pthread_create(&t, NULL, th_read, &a);
	usleep(50000);
	assert_int_equal(ns_sys_close(s), 0);
	pthread_join(t, NULL);
	assert_int_equal(a.r, -EBADF);
	pump();
	char b[4];
	assert_int_equal(ns_sys_read(c, b, sizeof b), 0);   /* our close sent FIN */
	ns_sys_close(c);
	/* blocking accept in a thread, connection from here */
	uint16_t port;
	int lfd = listener(&port, 4);
	ns_sys_fcntl(lfd, F_SETFL, 0);
	struct th_arg aa = { lfd, 0 };
	pthread_create(&t, NULL, th_accept, &aa);
	usleep(20000);
	int k = (int)ns_sys_socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = sin_of(SERVER_IP, port);
	assert_int_equal(ns_sys_connect(k, &sa, sizeof sa), 0);
	pthread_join(t, NULL);
	assert_true(aa.r >= 0);
	ns_sys_close((int)aa.r);
	ns_sys_close(k);
	/* shutdown(SHUT_RD) of a listener wakes a blocked accept with EINVAL */
	aa.r = 0;
	pthread_create(&t, NULL, th_accept, &aa);
	usleep(20000);
	assert_int_equal(ns_sys_shutdown(lfd, SHUT_RD), 0);
	pthread_join(t, NULL);
	assert_int_equal(aa.r, -EINVAL);
	ns_sys_close(lfd);
	pump();
}

int main(void)
{
	ns_sock_init(NULL);
	ns_stack_ensure_started();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket_domains),
		cmocka_unit_test(test_connect_accept_echo),
		cmocka_unit_test(test_blocking_connect_accept),
		cmocka_unit_test(test_partial_write_eagain),
		cmocka_unit_test(test_blocking_write_all),
		cmocka_unit_test(test_peek_fionread),
		cmocka_unit_test(test_fin_read0_epipe),
		cmocka_unit_test(test_rst_econnreset),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_dup_refcount),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_sockopts),
		cmocka_unit_test(test_backlog_and_listener_close),
		cmocka_unit_test(test_shutdown_listener_wakes_accept),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_fork_child_semantics),
		cmocka_unit_test(test_close_range),
		cmocka_unit_test(test_ioctl_misc),
		cmocka_unit_test(test_threads_block_and_close),
	};
	const size_t total = sizeof(tests) / sizeof(tests[0]);
	int failed = cmocka_run_group_tests_name("nsock", tests, NULL, NULL);
	/* cmocka's own summary goes to stderr; this is the suite's closing line. */
	fflush(stderr);
	printf("tests: %zu passed, %d failed\n", total - (size_t)failed, failed);
	return failed ? 1 : 0;
}
