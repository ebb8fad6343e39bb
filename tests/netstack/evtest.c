/*
 * evtest.c - epoll, poll and select over sets that mix kernel fds (a pipe)
 * and TCP sockets: the semantics the netstack hook must reproduce.
 *
 *   evtest                       natively: a forked peer on 127.0.0.1, then
 *                                every test (the ground truth: the kernel)
 *   evtest --server IP:PORT      the peer alone (run it natively)
 *   evtest --connect IP:PORT     the tests against a running peer (run this
 *                                one under the hook: its sockets are lwIP's)
 *
 * The peer obeys one-line commands on each connection, so the tests decide
 * when data, a FIN or a close reaches them:
 *   send N         N bytes at once          later MS N   N bytes after MS ms
 *   shutwr         shutdown(SHUT_WR)        close        close the connection
 *
 * Prints one line per test and a closing "evtest: N passed, M failed";
 * exits 1 if any failed.  Every wait is bounded.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int passed, failed;
static struct sockaddr_in peer;

#define CHECK(name, cond, ...)                                                    \
	do {                                                                      \
		if (cond) {                                                       \
			printf("ok   - %s\n", name);                              \
			passed++;                                                 \
		} else {                                                          \
			printf("FAIL - %s: ", name);                              \
			printf(__VA_ARGS__);                                      \
			printf("\n");                                             \
			failed++;                                                 \
		}                                                                 \
	} while (0)

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static bool parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || colon - s >= (long)sizeof host)
		return false;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1;
}

/* --- the peer ------------------------------------------------------------------ */

static void *serve_connection(void *arg)
{
	int fd = (int)(long)arg;
	char line[128];
	size_t len = 0;
	static char payload[65536];
	memset(payload, 'x', sizeof payload);
	for (;;) {
		ssize_t n = read(fd, line + len, 1);
		if (n <= 0)
			break;
		if (line[len] != '\n' && len + 1 < sizeof line) {
			len++;
			continue;
		}
		line[len] = 0;
		len = 0;
		int ms, count;
		if (sscanf(line, "send %d", &count) == 1) {
			if (write(fd, payload, (size_t)count) != count)
				break;
		} else if (sscanf(line, "later %d %d", &ms, &count) == 2) {
			sleep_ms(ms);
			if (write(fd, payload, (size_t)count) != count)
				break;
		} else if (strcmp(line, "shutwr") == 0) {
			shutdown(fd, SHUT_WR);
		} else if (strcmp(line, "close") == 0) {
			break;
		}
	}
	close(fd);
	return NULL;
}

static _Noreturn void run_server(int lfd)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			perror("evtest server: accept");
			exit(1);
		}
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		pthread_t t;
		if (pthread_create(&t, NULL, serve_connection, (void *)(long)fd) != 0)
			exit(1);
		pthread_detach(t);
	}
}

static int listen_on(struct sockaddr_in *a)
{
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	socklen_t alen = sizeof *a;
	/* The address may be configured just after we start (a tap that
	 * appears with the process under test): wait for it, bounded. */
	for (int i = 0; i < 200 && bind(lfd, (struct sockaddr *)a, sizeof *a) != 0 &&
			   errno == EADDRNOTAVAIL; i++)
		sleep_ms(50);
	if (listen(lfd, 128) != 0 ||
	    getsockname(lfd, (struct sockaddr *)a, &alen) != 0) {
		perror("evtest server: bind/listen");
		exit(1);
	}
	return lfd;
}

/* --- helpers for the tests ----------------------------------------------------- */

static int conn(void)
{
	/* The first connection may race the peer's start (its address comes
	 * up with our stack): retry refused/unreachable ones for 10 s. */
	static bool connected_once;
	int fd = -1;
	for (int i = 0; i < 100; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&peer, sizeof peer) == 0)
			break;
		int e = errno;
		if (fd >= 0)
			close(fd);
		fd = -1;
		if (connected_once || (e != ECONNREFUSED && e != EHOSTUNREACH && e != ENETUNREACH &&
				       e != ETIMEDOUT)) {
			errno = e;
			break;
		}
		sleep_ms(100);
	}
	if (fd < 0) {
		perror("evtest: connect");
		exit(1);
	}
	connected_once = true;
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
}

static void say(int fd, const char *cmd)
{
	char buf[128];
	int n = snprintf(buf, sizeof buf, "%s\n", cmd);
	if (write(fd, buf, (size_t)n) != n) {
		perror("evtest: write command");
		exit(1);
	}
}

/* Wait (bounded) until FD has N bytes to read, without consuming them. */
static bool wait_bytes(int fd, int n)
{
	char buf[65536];
	long end = now_ms() + 3000;
	while (now_ms() < end) {
		struct pollfd p = { fd, POLLIN, 0 };
		poll(&p, 1, 100);
		if (recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT) >= n)
			return true;
	}
	return false;
}

static void drain(int fd, int n)
{
	char buf[65536];
	while (n > 0) {
		ssize_t got = read(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf);
		if (got <= 0)
			return;
		n -= (int)got;
	}
}

static void add(int ep, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = 1000u + (unsigned)fd };
	if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
		perror("evtest: epoll_ctl ADD");
		exit(1);
	}
}

/* Events of FD in a result, 0 if absent; *count how often it appears. */
static uint32_t events_of(const struct epoll_event *ev, int n, int fd, int *count)
{
	uint32_t got = 0;
	*count = 0;
	for (int i = 0; i < n; i++)
		if (ev[i].data.u64 == 1000u + (unsigned)fd) {
			got |= ev[i].events;
			(*count)++;
		}
	return got;
}

static void on_signal(int sig)
{
	(void)sig;
}

/* --- epoll ------------------------------------------------------------------------ */

static void test_epoll_level_edge_oneshot(int pipe_r)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int lt = conn(), et = conn(), os = conn();
	add(ep, lt, EPOLLIN);
	add(ep, et, EPOLLIN | EPOLLET);
	add(ep, os, EPOLLIN | EPOLLONESHOT);
	add(ep, pipe_r, EPOLLIN);
	say(lt, "send 10");
	say(et, "send 10");
	say(os, "send 10");
	wait_bytes(lt, 10);
	wait_bytes(et, 10);
	wait_bytes(os, 10);

	struct epoll_event ev[16];
	int c1, c2, c3, c4;
	int n = epoll_wait(ep, ev, 16, 1000);
	uint32_t e_lt = events_of(ev, n, lt, &c1), e_et = events_of(ev, n, et, &c2);
	uint32_t e_os = events_of(ev, n, os, &c3), e_pp = events_of(ev, n, pipe_r, &c4);
	CHECK("epoll: three ready sockets in one call, the idle pipe absent", n == 3 &&
	      e_lt == EPOLLIN && e_et == EPOLLIN && e_os == EPOLLIN && !e_pp,
	      "n=%d lt=%x et=%x os=%x pipe=%x", n, e_lt, e_et, e_os, e_pp);

	n = epoll_wait(ep, ev, 16, 50);
	e_lt = events_of(ev, n, lt, &c1);
	e_et = events_of(ev, n, et, &c2);
	e_os = events_of(ev, n, os, &c3);
	CHECK("epoll: level-triggered again, edge and oneshot silent", n == 1 && e_lt == EPOLLIN,
	      "n=%d lt=%x et=%x os=%x", n, e_lt, e_et, e_os);

	say(et, "send 5");
	wait_bytes(et, 15);
	n = epoll_wait(ep, ev, 16, 1000);
	e_et = events_of(ev, n, et, &c2);
	CHECK("epoll: edge-triggered reports new data", e_et == EPOLLIN && c2 == 1, "n=%d et=%x", n, e_et);

	struct epoll_event mod = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 1000u + (unsigned)os };
	int rc = epoll_ctl(ep, EPOLL_CTL_MOD, os, &mod);
	n = epoll_wait(ep, ev, 16, 1000);
	e_os = events_of(ev, n, os, &c3);
	CHECK("epoll: EPOLL_CTL_MOD re-arms a oneshot item", rc == 0 && e_os == EPOLLIN,
	      "rc=%d n=%d os=%x", rc, n, e_os);

	/* ET item modified: reported afresh although no new data came. */
	mod.events = EPOLLIN | EPOLLET;
	mod.data.u64 = 1000u + (unsigned)et;
	epoll_ctl(ep, EPOLL_CTL_MOD, et, &mod);
	n = epoll_wait(ep, ev, 16, 1000);
	e_et = events_of(ev, n, et, &c2);
	CHECK("epoll: EPOLL_CTL_MOD re-reports a ready edge-triggered item", e_et == EPOLLIN,
	      "n=%d et=%x", n, e_et);

	/* Write interest: an idle connected socket is writable. */
	mod.events = EPOLLOUT;
	mod.data.u64 = 1000u + (unsigned)os;
	epoll_ctl(ep, EPOLL_CTL_MOD, os, &mod);
	n = epoll_wait(ep, ev, 16, 1000);
	e_os = events_of(ev, n, os, &c3);
	CHECK("epoll: EPOLLOUT on a connected socket", e_os == EPOLLOUT, "n=%d os=%x", n, e_os);

	close(lt);
	close(et);
	close(os);
	close(ep);
}

static void test_epoll_many_and_maxevents(void)
{
	enum { N = 8 };
	int ep = epoll_create1(0), fds[N];
	for (int i = 0; i < N; i++) {
		fds[i] = conn();
		add(ep, fds[i], EPOLLIN);
		say(fds[i], "send 1");
	}
	for (int i = 0; i < N; i++)
		wait_bytes(fds[i], 1);
	struct epoll_event ev[N * 2];
	int n = epoll_wait(ep, ev, N * 2, 1000);
	CHECK("epoll: all 8 ready sockets in one call", n == N, "n=%d", n);

	/* maxevents 3: three at a time, and every socket comes round. */
	int seen[N] = { 0 }, calls_ok = 1;
	for (int call = 0; call < 3; call++) {
		n = epoll_wait(ep, ev, 3, 1000);
		calls_ok &= n == 3;
		for (int i = 0; i < n; i++)
			for (int j = 0; j < N; j++)
				if (ev[i].data.u64 == 1000u + (unsigned)fds[j])
					seen[j]++;
	}
	int all = 1;
	for (int j = 0; j < N; j++)
		all &= seen[j] >= 1;
	CHECK("epoll: maxevents 3 gives 3, no socket starved over 3 calls", calls_ok && all,
	      "calls_ok=%d all=%d", calls_ok, all);
	for (int i = 0; i < N; i++)
		close(fds[i]);
	close(ep);
}

static void test_epoll_mixed_and_wakeups(int pipe_r, int pipe_w)
{
	int ep = epoll_create1(0);
	int s = conn();
	add(ep, s, EPOLLIN);
	add(ep, pipe_r, EPOLLIN);
	struct epoll_event ev[8];
	int c;

	long t0 = now_ms();
	int n = epoll_wait(ep, ev, 8, 150);
	long dt = now_ms() - t0;
	CHECK("epoll: idle mixed set times out after 150 ms", n == 0 && dt >= 149 && dt < 400,
	      "n=%d dt=%ld", n, dt);

	n = epoll_wait(ep, ev, 8, 0);
	CHECK("epoll: timeout 0 on an idle set returns 0", n == 0, "n=%d", n);

	say(s, "later 60 4");
	t0 = now_ms();
	n = epoll_wait(ep, ev, 8, 3000);
	dt = now_ms() - t0;
	CHECK("epoll: idle wait woken by the socket", n == 1 && events_of(ev, n, s, &c) == EPOLLIN &&
	      dt >= 40 && dt < 1000, "n=%d dt=%ld", n, dt);
	drain(s, 4);

	/* A kernel fd must wake a wait that sleeps on lwIP too. */
	pid_t writer = fork();
	if (writer == 0) {
		sleep_ms(60);
		if (write(pipe_w, "p", 1) != 1)
			_exit(1);
		_exit(0);
	}
	t0 = now_ms();
	n = epoll_wait(ep, ev, 8, 3000);
	dt = now_ms() - t0;
	waitpid(writer, NULL, 0);
	CHECK("epoll: idle wait woken by the pipe", n == 1 && events_of(ev, n, pipe_r, &c) == EPOLLIN &&
	      dt >= 40 && dt < 1000, "n=%d dt=%ld", n, dt);

	/* Both kinds ready at once: one call returns both. */
	say(s, "send 3");
	wait_bytes(s, 3);
	n = epoll_wait(ep, ev, 8, 1000);
	uint32_t es = events_of(ev, n, s, &c), epp = events_of(ev, n, pipe_r, &c);
	CHECK("epoll: socket and pipe ready together, one call", n == 2 && es == EPOLLIN && epp == EPOLLIN,
	      "n=%d s=%x pipe=%x", n, es, epp);
	drain(s, 3);
	char b;
	if (read(pipe_r, &b, 1) != 1)
		perror("read pipe");

	/* Peer's FIN: EPOLLIN|EPOLLRDHUP. */
	struct epoll_event mod = { .events = EPOLLIN | EPOLLRDHUP, .data.u64 = 1000u + (unsigned)s };
	epoll_ctl(ep, EPOLL_CTL_MOD, s, &mod);
	say(s, "shutwr");
	n = epoll_wait(ep, ev, 8, 1000);
	es = events_of(ev, n, s, &c);
	CHECK("epoll: peer's FIN gives EPOLLIN|EPOLLRDHUP", es == (EPOLLIN | EPOLLRDHUP), "n=%d s=%x", n, es);

	/* A socket closed while registered disappears from the set. */
	close(s);
	n = epoll_wait(ep, ev, 8, 50);
	CHECK("epoll: a closed socket is gone from the set", n == 0, "n=%d", n);
	close(ep);
}

static void test_epoll_errors(int pipe_r)
{
	int ep = epoll_create1(0), s = conn();
	struct epoll_event ev = { .events = EPOLLIN };
	int r1 = epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev);
	int r2 = epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev), e2 = errno;
	CHECK("epoll_ctl: ADD twice is EEXIST", r1 == 0 && r2 == -1 && e2 == EEXIST, "r1=%d r2=%d errno=%d", r1, r2, e2);
	int s2 = conn();
	int r3 = epoll_ctl(ep, EPOLL_CTL_MOD, s2, &ev), e3 = errno;
	int r4 = epoll_ctl(ep, EPOLL_CTL_DEL, s2, NULL), e4 = errno;
	CHECK("epoll_ctl: MOD/DEL of an unregistered socket is ENOENT",
	      r3 == -1 && e3 == ENOENT && r4 == -1 && e4 == ENOENT, "r3=%d/%d r4=%d/%d", r3, e3, r4, e4);
	int r5 = epoll_ctl(ep, 99, s, &ev), e5 = errno;
	CHECK("epoll_ctl: bad op is EINVAL", r5 == -1 && e5 == EINVAL, "r5=%d errno=%d", r5, e5);
	int r6 = epoll_ctl(pipe_r, EPOLL_CTL_ADD, s, &ev), e6 = errno;
	CHECK("epoll_ctl: epfd not an epoll is EINVAL", r6 == -1 && e6 == EINVAL, "r6=%d errno=%d", r6, e6);
	int r7 = epoll_ctl(1000, EPOLL_CTL_ADD, s, &ev), e7 = errno;
	CHECK("epoll_ctl: closed epfd is EBADF", r7 == -1 && e7 == EBADF, "r7=%d errno=%d", r7, e7);
	struct epoll_event ex = { .events = EPOLLIN | EPOLLEXCLUSIVE };
	int r8 = epoll_ctl(ep, EPOLL_CTL_MOD, s, &ex), e8 = errno;
	CHECK("epoll_ctl: MOD with EPOLLEXCLUSIVE is EINVAL", r8 == -1 && e8 == EINVAL, "r8=%d errno=%d", r8, e8);
	int r9 = epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
	int r10 = epoll_ctl(ep, EPOLL_CTL_ADD, s, &ex);
	CHECK("epoll_ctl: DEL, then ADD with EPOLLEXCLUSIVE", r9 == 0 && r10 == 0, "r9=%d r10=%d", r9, r10);
	close(s2);
	int r11 = epoll_ctl(ep, EPOLL_CTL_ADD, s2, &ev), e11 = errno;
	CHECK("epoll_ctl: closed target fd is EBADF", r11 == -1 && e11 == EBADF, "r11=%d errno=%d", r11, e11);
	struct epoll_event out[4];
	int r12 = epoll_wait(ep, out, 0, 0), e12 = errno;
	CHECK("epoll_wait: maxevents 0 is EINVAL", r12 == -1 && e12 == EINVAL, "r12=%d errno=%d", r12, e12);

	/* epoll fds dup'd share the set; closing one leaves the other. */
	int ep2 = dup(ep);
	close(ep);
	say(s, "send 1");
	wait_bytes(s, 1);
	int n = epoll_wait(ep2, out, 4, 1000);
	CHECK("epoll: a dup of the epoll fd keeps the set after close", n == 1, "n=%d", n);
	close(ep2);
	close(s);
}

static void test_epoll_signals(void)
{
	int ep = epoll_create1(0), s = conn();
	add(ep, s, EPOLLIN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { .it_value = { 0, 80000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	struct epoll_event ev[4];
	long t0 = now_ms();
	int n = epoll_wait(ep, ev, 4, 3000), e = errno;
	long dt = now_ms() - t0;
	CHECK("epoll_wait: a signal interrupts the wait (EINTR)", n == -1 && e == EINTR && dt < 1500,
	      "n=%d errno=%d dt=%ld", n, e, dt);

	/* epoll_pwait's mask lets a blocked, pending signal in: EINTR at once. */
	sigset_t block, old, during;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigaction(SIGUSR1, &sa, NULL);
	sigprocmask(SIG_BLOCK, &block, &old);
	raise(SIGUSR1);
	sigemptyset(&during);
	t0 = now_ms();
	n = epoll_pwait(ep, ev, 4, 2000, &during);
	e = errno;
	dt = now_ms() - t0;
	sigprocmask(SIG_SETMASK, &old, NULL);
	CHECK("epoll_pwait: the mask unblocks a pending signal (EINTR)", n == -1 && e == EINTR && dt < 1000,
	      "n=%d errno=%d dt=%ld", n, e, dt);
	close(s);
	close(ep);
}

/* --- poll and select -------------------------------------------------------------- */

static void test_poll(int pipe_r, int pipe_w)
{
	int a = conn(), b = conn(), closed = conn();
	close(closed);
	say(a, "send 2");
	wait_bytes(a, 2);
	if (write(pipe_w, "q", 1) != 1)
		perror("write pipe");
	struct pollfd p[5] = {
		{ a, POLLIN, 0 }, { b, POLLIN | POLLOUT, 0 }, { pipe_r, POLLIN, 0 },
		{ closed, POLLIN, 0 }, { -1, POLLIN, 0 },
	};
	int n = poll(p, 5, 1000);
	CHECK("poll: mixed set, socket/pipe readable, socket writable, POLLNVAL, fd -1 ignored",
	      n == 4 && p[0].revents == POLLIN && p[1].revents == POLLOUT && p[2].revents == POLLIN &&
	      p[3].revents == POLLNVAL && p[4].revents == 0,
	      "n=%d %x %x %x %x %x", n, p[0].revents, p[1].revents, p[2].revents, p[3].revents, p[4].revents);
	char c;
	if (read(pipe_r, &c, 1) != 1)
		perror("read pipe");
	drain(a, 2);

	struct pollfd q[2] = { { a, POLLIN, 0 }, { pipe_r, POLLIN, 0 } };
	long t0 = now_ms();
	n = poll(q, 2, 120);
	long dt = now_ms() - t0;
	CHECK("poll: idle mixed set times out after 120 ms", n == 0 && dt >= 119 && dt < 400, "n=%d dt=%ld", n, dt);

	say(a, "later 50 1");
	t0 = now_ms();
	n = poll(q, 2, 3000);
	dt = now_ms() - t0;
	CHECK("poll: woken by the socket", n == 1 && q[0].revents == POLLIN && dt >= 30 && dt < 1000,
	      "n=%d revents=%x dt=%ld", n, q[0].revents, dt);
	drain(a, 1);

	struct pollfd r[1] = { { a, POLLIN | POLLRDHUP, 0 } };
	say(a, "close");
	n = poll(r, 1, 1000);
	CHECK("poll: peer closed: POLLIN|POLLRDHUP", n == 1 && (r[0].revents & (POLLIN | POLLRDHUP)) ==
	      (POLLIN | POLLRDHUP), "n=%d revents=%x", n, r[0].revents);

	struct timespec ts = { 0, 30 * 1000000 };
	struct pollfd t[1] = { { b, POLLIN, 0 } };
	n = ppoll(t, 1, &ts, NULL);
	CHECK("ppoll: idle socket, 30 ms timeout", n == 0, "n=%d", n);
	close(a);
	close(b);
}

static void test_select(int pipe_r, int pipe_w)
{
	int a = conn(), b = conn();
	say(a, "send 1");
	wait_bytes(a, 1);
	if (write(pipe_w, "s", 1) != 1)
		perror("write pipe");
	fd_set rd, wr, ex;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	FD_SET(a, &rd);
	FD_SET(b, &rd);
	FD_SET(pipe_r, &rd);
	FD_SET(b, &wr);
	FD_SET(a, &ex);
	int maxfd = a > b ? a : b;
	maxfd = maxfd > pipe_r ? maxfd : pipe_r;
	struct timeval tv = { 1, 0 };
	int n = select(maxfd + 1, &rd, &wr, &ex, &tv);
	CHECK("select: mixed set: 2 readable, 1 writable, no exception (3 bits)",
	      n == 3 && FD_ISSET(a, &rd) && !FD_ISSET(b, &rd) && FD_ISSET(pipe_r, &rd) &&
	      FD_ISSET(b, &wr) && !FD_ISSET(a, &ex),
	      "n=%d", n);
	char c;
	if (read(pipe_r, &c, 1) != 1)
		perror("read pipe");
	drain(a, 1);

	FD_ZERO(&rd);
	FD_SET(a, &rd);
	FD_SET(pipe_r, &rd);
	say(a, "later 50 1");
	tv.tv_sec = 0;
	tv.tv_usec = 400000;
	n = select(maxfd + 1, &rd, NULL, NULL, &tv);
	long left_ms = tv.tv_sec * 1000 + tv.tv_usec / 1000;
	CHECK("select: woken by the socket; timeval holds the time left",
	      n == 1 && FD_ISSET(a, &rd) && left_ms > 100 && left_ms < 380, "n=%d left=%ld ms", n, left_ms);
	drain(a, 1);

	int dead = conn();
	close(dead);
	FD_ZERO(&rd);
	FD_SET(a, &rd);
	FD_SET(dead, &rd);
	tv.tv_sec = 0;
	tv.tv_usec = 100000;
	n = select((a > dead ? a : dead) + 1, &rd, NULL, NULL, &tv);
	int e = errno;
	CHECK("select: a closed fd in a set is EBADF", n == -1 && e == EBADF, "n=%d errno=%d", n, e);

	FD_ZERO(&rd);
	FD_SET(a, &rd);
	FD_SET(pipe_r, &rd);
	struct timespec ts = { 0, 80 * 1000000 };
	long t0 = now_ms();
	n = pselect(maxfd + 1, &rd, NULL, NULL, &ts, NULL);
	long dt = now_ms() - t0;
	CHECK("pselect: idle mixed set times out after 80 ms", n == 0 && dt >= 79 && dt < 400,
	      "n=%d dt=%ld", n, dt);
	close(a);
	close(b);
}

/* --- processes sharing the sockets ------------------------------------------------- */

extern char **environ;

/* Children that close our socket (their copy) must leave it working. */
static void test_children(void)
{
	int s = conn();
	pid_t child = fork();
	if (child == 0) {
		close(s);
		_exit(0);
	}
	int status = -1;
	waitpid(child, &status, 0);
	say(s, "send 3");
	bool got = wait_bytes(s, 3);
	CHECK("fork: a child closing the socket and exiting leaves it working",
	      WIFEXITED(status) && WEXITSTATUS(status) == 0 && got, "status=%d got=%d", status, got);
	drain(s, 3);

	/* posix_spawn is clone(CLONE_VM|CLONE_VFORK): the child shares our
	 * memory until it execs. */
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addclose(&fa, s);
	posix_spawn_file_actions_adddup2(&fa, 2, 9);
	char *argv[] = { "sh", "-c", "exit 0", NULL };
	pid_t pid;
	int rc = posix_spawn(&pid, "/bin/sh", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	status = -1;
	if (rc == 0)
		waitpid(pid, &status, 0);
	say(s, "send 4");
	got = wait_bytes(s, 4);
	CHECK("posix_spawn: a vfork child closing the socket leaves it working",
	      rc == 0 && WIFEXITED(status) && got, "rc=%d status=%d got=%d", rc, status, got);
	close(s);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	pid_t server = -1;
	if (argc == 3 && strcmp(argv[1], "--server") == 0) {
		if (!parse_addr(argv[2], &peer))
			return 2;
		run_server(listen_on(&peer));
	} else if (argc == 3 && strcmp(argv[1], "--connect") == 0) {
		if (!parse_addr(argv[2], &peer))
			return 2;
	} else if (argc == 1) {
		parse_addr("127.0.0.1:0", &peer);
		int lfd = listen_on(&peer);
		server = fork();
		if (server == 0)
			run_server(lfd);
		close(lfd);
	} else {
		fprintf(stderr, "usage: evtest [--server IP:PORT | --connect IP:PORT]\n");
		return 2;
	}

	int pipefd[2];
	if (pipe(pipefd) != 0)
		return 1;
	test_epoll_level_edge_oneshot(pipefd[0]);
	test_epoll_many_and_maxevents();
	test_epoll_mixed_and_wakeups(pipefd[0], pipefd[1]);
	test_epoll_errors(pipefd[0]);
	test_epoll_signals();
	test_poll(pipefd[0], pipefd[1]);
	test_select(pipefd[0], pipefd[1]);
	test_children();

	if (server > 0) {
		kill(server, SIGTERM);
		waitpid(server, NULL, 0);
	}
	printf("evtest: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
