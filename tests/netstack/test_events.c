/*
 * test_events.c - unit tests of the netstack hook's waiting side
 * (hooklib/netstack/{epoll,poll_select,wait}.c) without lwIP or a device.
 *
 * The socket layer is replaced by a fake with the same contract (nsock.h):
 * a fake socket is a placeholder eventfd (so its number is a real, unique
 * kernel fd) mapped to a struct nsock whose events and gen the test sets.
 * The stack is a mutex and a ns_stack_poll() that can make a socket ready
 * at a given time (a frame "arriving" while a wait polls).  The kernel side
 * is real: pipes, kernel epoll fds, ppoll.
 *
 * Prints one line per test and "test_events: N passed, M failed".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "nsock.h"
#include "stack.h"

/* --- the fake socket layer and stack -------------------------------------------- */

struct nsock {
	uint32_t events;
	uint64_t gen, id;
};

#define MAX_FD 4096
static struct nsock *_Atomic fdmap[MAX_FD];
static uint64_t next_id = 1;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned polls;

/* A scripted arrival: at `when` (ms, monotonic) the socket gets `events`. */
static struct {
	long when;
	struct nsock *s;
	uint32_t events;
} arrival;

struct nsock *ns_fd_lookup(int fd)
{
	return fd >= 0 && fd < MAX_FD ? atomic_load(&fdmap[fd]) : NULL;
}

uint32_t nsock_events(struct nsock *s) { return s->events; }
uint64_t nsock_gen(struct nsock *s) { return s->gen; }
uint64_t nsock_id(struct nsock *s) { return s->id; }
bool ns_stack_owned(void) { return true; }
void ns_stack_ensure_started(void) {}
void ns_stack_lock(void) { pthread_mutex_lock(&lock); }
void ns_stack_unlock(void) { pthread_mutex_unlock(&lock); }

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

unsigned ns_stack_poll(void)
{
	polls++;
	if (arrival.s && now_ms() >= arrival.when) {
		arrival.s->events |= arrival.events;
		arrival.s->gen++;
		arrival.s = NULL;
		return 1;
	}
	return 0;
}

static long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long rc = syscall(nr, a1, a2, a3, a4, a5, a6);
	return rc == -1 ? -errno : rc;
}

zphook_fn ns_kernel = raw_syscall;

static int fake_socket(uint32_t events)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct nsock *s = calloc(1, sizeof *s);
	s->events = events;
	s->id = next_id++;
	atomic_store(&fdmap[fd], s);
	return fd;
}

static struct nsock *sock(int fd) { return ns_fd_lookup(fd); }

static void fake_close(int fd)
{
	ns_stack_lock();
	struct nsock *s = atomic_exchange(&fdmap[fd], NULL);
	ns_stack_unlock();
	free(s);
	close(fd);
}

static void make_ready(int fd, uint32_t events)
{
	ns_stack_lock();
	sock(fd)->events |= events;
	sock(fd)->gen++;
	ns_stack_unlock();
}

/* --- helpers ----------------------------------------------------------------------- */

static int passed, failed;

#define CHECK(name, cond, ...)                                               \
	do {                                                                 \
		if (cond) {                                                  \
			printf("ok   - %s\n", name);                         \
			passed++;                                            \
		} else {                                                     \
			printf("FAIL - %s: ", name);                         \
			printf(__VA_ARGS__);                                 \
			printf("\n");                                        \
			failed++;                                            \
		}                                                            \
	} while (0)

static long ctl(int ep, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u64 = 5000u + (unsigned)fd };
	return ns_epoll_ctl(ep, op, fd, &ev);
}

static long wait_ms(int ep, struct epoll_event *ev, int max, int ms)
{
	return ns_epoll_pwait2(ep, ev, max, ms < 0 ? -1 : (int64_t)ms * 1000000, NULL, 0);
}

static uint32_t events_of(const struct epoll_event *ev, long n, int fd)
{
	for (long i = 0; i < n; i++)
		if (ev[i].data.u64 == 5000u + (unsigned)fd)
			return ev[i].events;
	return 0;
}

/* --- epoll -------------------------------------------------------------------------- */

static void test_ctl_rules(void)
{
	int ep = (int)ns_epoll_create1(EPOLL_CLOEXEC);
	int p[2];
	if (pipe(p) != 0)
		exit(1);
	int s = fake_socket(0);
	CHECK("new epoll fd: no lwIP members (kernel fast path)", ep >= 0 && !ns_epoll_has_lwip(ep), "ep=%d", ep);
	CHECK("kernel fd goes to the kernel epoll", ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN) == 0 &&
	      !ns_epoll_has_lwip(ep), "has_lwip=%d", ns_epoll_has_lwip(ep));
	long r1 = ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN), r2 = ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN);
	CHECK("lwIP ADD, then ADD again: EEXIST", r1 == 0 && r2 == -EEXIST && ns_epoll_has_lwip(ep),
	      "r1=%ld r2=%ld", r1, r2);
	int s2 = fake_socket(0);
	long r3 = ctl(ep, EPOLL_CTL_MOD, s2, EPOLLIN), r4 = ns_epoll_ctl(ep, EPOLL_CTL_DEL, s2, NULL);
	CHECK("MOD/DEL of an unregistered socket: ENOENT", r3 == -ENOENT && r4 == -ENOENT, "%ld %ld", r3, r4);
	CHECK("bad op: EINVAL", ctl(ep, 7, s, EPOLLIN) == -EINVAL, "-");
	CHECK("ADD with a NULL event: EFAULT", ns_epoll_ctl(ep, EPOLL_CTL_ADD, s2, NULL) == -EFAULT, "-");
	CHECK("epfd is a pipe: EINVAL", ctl(p[0], EPOLL_CTL_ADD, s2, EPOLLIN) == -EINVAL, "-");
	CHECK("epfd closed: EBADF", ctl(3999, EPOLL_CTL_ADD, s2, EPOLLIN) == -EBADF, "-");
	CHECK("EPOLLEXCLUSIVE with MOD: EINVAL", ctl(ep, EPOLL_CTL_MOD, s, EPOLLIN | EPOLLEXCLUSIVE) == -EINVAL, "-");
	CHECK("EPOLLEXCLUSIVE with EPOLLONESHOT: EINVAL",
	      ctl(ep, EPOLL_CTL_ADD, s2, EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT) == -EINVAL, "-");
	long r5 = ctl(ep, EPOLL_CTL_ADD, s2, EPOLLIN | EPOLLEXCLUSIVE);
	long r6 = ctl(ep, EPOLL_CTL_MOD, s2, EPOLLIN);
	CHECK("item added EPOLLEXCLUSIVE cannot be modified: EINVAL", r5 == 0 && r6 == -EINVAL, "%ld %ld", r5, r6);
	long r7 = ns_epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL), r8 = ns_epoll_ctl(ep, EPOLL_CTL_DEL, s, NULL);
	CHECK("DEL, then DEL again: ENOENT", r7 == 0 && r8 == -ENOENT, "%ld %ld", r7, r8);

	/* An epoll fd we did not create (e.g. inherited) is adopted. */
	int raw = (int)syscall(SYS_epoll_create1, 0);
	CHECK("an unknown kernel epoll fd is adopted on the first lwIP ADD",
	      ctl(raw, EPOLL_CTL_ADD, s, EPOLLIN) == 0 && ns_epoll_has_lwip(raw), "-");
	make_ready(s, EPOLLIN);
	struct epoll_event ev[4];
	long n = wait_ms(raw, ev, 4, 100);
	CHECK("... and waits over it work", n == 1 && events_of(ev, n, s) == EPOLLIN, "n=%ld", n);
	ns_epoll_forget(raw);
	close(raw);

	/* A socket closed while registered, its number reused by a new one. */
	fake_close(s);
	int s3 = fake_socket(EPOLLIN);
	CHECK("number reused by a new socket: ADD is not EEXIST", s3 == s &&
	      ctl(ep, EPOLL_CTL_ADD, s3, EPOLLIN) == 0, "s=%d s3=%d", s, s3);
	fake_close(s2);
	fake_close(s3);
	ns_epoll_forget(ep);
	close(ep);
	close(p[0]);
	close(p[1]);
}

static void test_triggers(void)
{
	int ep = (int)ns_epoll_create1(0);
	int lt = fake_socket(0), et = fake_socket(0), os = fake_socket(0);
	ctl(ep, EPOLL_CTL_ADD, lt, EPOLLIN);
	ctl(ep, EPOLL_CTL_ADD, et, EPOLLIN | EPOLLET);
	ctl(ep, EPOLL_CTL_ADD, os, EPOLLIN | EPOLLONESHOT);
	struct epoll_event ev[8];
	long n = wait_ms(ep, ev, 8, 0);
	CHECK("nothing ready, timeout 0: 0 events", n == 0, "n=%ld", n);

	make_ready(lt, EPOLLIN | EPOLLOUT);  /* OUT not asked for: not reported */
	make_ready(et, EPOLLIN);
	make_ready(os, EPOLLIN);
	n = wait_ms(ep, ev, 8, 0);
	CHECK("three ready: all in one call, only the asked bits", n == 3 && events_of(ev, n, lt) == EPOLLIN &&
	      events_of(ev, n, et) == EPOLLIN && events_of(ev, n, os) == EPOLLIN, "n=%ld", n);
	n = wait_ms(ep, ev, 8, 0);
	CHECK("again: only the level-triggered one", n == 1 && events_of(ev, n, lt) == EPOLLIN, "n=%ld", n);
	make_ready(et, EPOLLIN);  /* new data: gen moves */
	n = wait_ms(ep, ev, 8, 0);
	CHECK("edge-triggered reported again after its gen moved", n == 2 && events_of(ev, n, et) == EPOLLIN,
	      "n=%ld", n);
	ctl(ep, EPOLL_CTL_MOD, os, EPOLLIN | EPOLLONESHOT);
	n = wait_ms(ep, ev, 8, 0);
	CHECK("oneshot re-armed by MOD", events_of(ev, n, os) == EPOLLIN, "n=%ld", n);

	ns_stack_lock();
	sock(lt)->events = EPOLLERR | EPOLLHUP;
	ns_stack_unlock();
	n = wait_ms(ep, ev, 8, 0);
	CHECK("EPOLLERR|EPOLLHUP reported without being asked", events_of(ev, n, lt) == (EPOLLERR | EPOLLHUP),
	      "got %x", events_of(ev, n, lt));

	/* A closed registered socket disappears. */
	fake_close(lt);
	fake_close(os);
	n = wait_ms(ep, ev, 8, 0);
	CHECK("closed sockets vanish from the set", n == 0, "n=%ld", n);
	ctl(ep, EPOLL_CTL_MOD, et, EPOLLOUT);
	n = wait_ms(ep, ev, 8, 0);
	CHECK("MOD to EPOLLOUT (not ready): nothing", n == 0, "n=%ld", n);
	fake_close(et);
	ns_epoll_forget(ep);
	close(ep);
}

static void test_round_robin(void)
{
	enum { N = 100, MAX = 10 };
	int ep = (int)ns_epoll_create1(0), fds[N], seen[N] = { 0 };
	for (int i = 0; i < N; i++) {
		fds[i] = fake_socket(EPOLLIN);
		ctl(ep, EPOLL_CTL_ADD, fds[i], EPOLLIN);
	}
	struct epoll_event ev[MAX];
	int full = 1;
	for (int call = 0; call < N / MAX; call++) {
		long n = wait_ms(ep, ev, MAX, 0);
		full &= n == MAX;
		for (long k = 0; k < n; k++)
			for (int i = 0; i < N; i++)
				if (ev[k].data.u64 == 5000u + (unsigned)fds[i])
					seen[i]++;
	}
	int once = 1;
	for (int i = 0; i < N; i++)
		once &= seen[i] == 1;
	CHECK("100 ready, maxevents 10: 10 calls report each exactly once", full && once, "full=%d once=%d", full, once);
	for (int i = 0; i < N; i++)
		fake_close(fds[i]);
	ns_epoll_forget(ep);
	close(ep);
}

static void *write_pipe_later(void *arg)
{
	int fd = (int)(long)arg;
	struct timespec ts = { 0, 40 * 1000000 };
	nanosleep(&ts, NULL);
	if (write(fd, "x", 1) != 1)
		perror("write");
	return NULL;
}

static void test_mixed_and_timing(void)
{
	int ep = (int)ns_epoll_create1(0), p[2];
	if (pipe(p) != 0)
		exit(1);
	int s = fake_socket(0);
	ctl(ep, EPOLL_CTL_ADD, s, EPOLLIN);
	ctl(ep, EPOLL_CTL_ADD, p[0], EPOLLIN);
	struct epoll_event ev[8];

	long t0 = now_ms();
	long n = wait_ms(ep, ev, 8, 50);
	long dt = now_ms() - t0;
	CHECK("idle mixed set: timeout 50 ms honoured", n == 0 && dt >= 50 && dt <= 60, "n=%ld dt=%ld", n, dt);

	if (write(p[1], "x", 1) != 1)
		exit(1);
	t0 = now_ms();
	n = wait_ms(ep, ev, 8, 1000);
	dt = now_ms() - t0;
	CHECK("a ready pipe is seen on the first round (no wait)", n == 1 && events_of(ev, n, p[0]) == EPOLLIN &&
	      dt < 2, "n=%ld dt=%ld", n, dt);
	make_ready(s, EPOLLIN);
	n = wait_ms(ep, ev, 8, 1000);
	CHECK("lwIP ready: the ready kernel members come in the same call", n == 2 &&
	      events_of(ev, n, p[0]) == EPOLLIN && events_of(ev, n, s) == EPOLLIN, "n=%ld", n);
	char c;
	if (read(p[0], &c, 1) != 1)
		exit(1);
	ns_stack_lock();
	sock(s)->events = 0;
	ns_stack_unlock();

	pthread_t t;
	pthread_create(&t, NULL, write_pipe_later, (void *)(long)p[1]);
	t0 = now_ms();
	n = wait_ms(ep, ev, 8, 2000);
	dt = now_ms() - t0;
	pthread_join(t, NULL);
	CHECK("sleeping wait woken by the pipe at once", n == 1 && events_of(ev, n, p[0]) == EPOLLIN &&
	      dt >= 39 && dt < 55, "n=%ld dt=%ld", n, dt);
	if (read(p[0], &c, 1) != 1)
		exit(1);

	arrival.when = now_ms() + 30;
	arrival.events = EPOLLIN;
	arrival.s = sock(s);
	t0 = now_ms();
	unsigned polls0 = polls;
	n = wait_ms(ep, ev, 8, 2000);
	dt = now_ms() - t0;
	unsigned rounds = polls - polls0;
	CHECK("a frame arriving at 30 ms ends the wait within a slice", n == 1 && events_of(ev, n, s) == EPOLLIN &&
	      dt >= 30 && dt <= 40, "n=%ld dt=%ld", n, dt);
	/* Spin 200 us, then ~1 ms slices: some tens of rounds, not millions. */
	CHECK("idle: sleeps in slices instead of spinning", rounds < 5000, "rounds=%u", rounds);

	/* A dup of the epoll fd shares the set; the original closes. */
	int ep2 = dup(ep);
	ns_epoll_alias(ep, ep2);
	ns_epoll_forget(ep);
	close(ep);
	n = wait_ms(ep2, ev, 8, 0);
	CHECK("dup'd epoll fd keeps the lwIP members", ns_epoll_has_lwip(ep2) && n == 1, "n=%ld", n);
	ns_epoll_forget(ep2);
	CHECK("closed epoll fd: no instance left", !ns_epoll_is_instance(ep2), "-");
	close(ep2);
	fake_close(s);
	close(p[0]);
	close(p[1]);
}

static void on_alarm(int sig)
{
	(void)sig;
}

static bool never(void *arg)
{
	(void)arg;
	return false;
}

static bool flag_set(void *arg)
{
	return *(volatile int *)arg != 0;
}

static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

/* READY callback that raises SIG from user space on its AT-th call. */
struct raiser {
	int sig;
	int at;
	int calls;
};

static bool raise_on_round(void *arg)
{
	struct raiser *r = arg;
	if (++r->calls == r->at)
		raise(r->sig);
	return false;
}

static void test_ns_wait(void)
{
	long t0 = now_ms();
	int rc = ns_wait(never, NULL, 20);
	long dt = now_ms() - t0;
	CHECK("ns_wait: -ETIMEDOUT after exactly 20 ms", rc == -ETIMEDOUT && dt >= 20 && dt <= 30, "rc=%d dt=%ld", rc, dt);
	int flag = 1;
	CHECK("ns_wait: ready at once, timeout 0", ns_wait(flag_set, &flag, 0) == 0, "-");
	struct sigaction sa = { .sa_handler = on_alarm };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval it = { .it_value = { 0, 30000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	t0 = now_ms();
	rc = ns_wait(never, NULL, -1);
	dt = now_ms() - t0;
	CHECK("ns_wait: a signal while sleeping gives -EINTR", rc == -EINTR && dt >= 29 && dt < 40, "rc=%d dt=%ld", rc, dt);

	/* A signal that arrives while the wait runs in user space (between
	 * two polls, not in a kernel sleep) must end it too: nginx's SIGQUIT
	 * only sets a flag that it tests after epoll_wait(-1) returns. */
	struct sigaction su = { .sa_handler = on_usr1 };
	sigaction(SIGUSR1, &su, NULL);
	sigset_t before, after;
	sigemptyset(&before);
	sigemptyset(&after);
	sigprocmask(SIG_BLOCK, NULL, &before);
	struct raiser r = { .sig = SIGUSR1, .at = 3 };
	usr1_seen = 0;
	t0 = now_ms();
	rc = ns_wait(raise_on_round, &r, 2000);
	dt = now_ms() - t0;
	sigprocmask(SIG_BLOCK, NULL, &after);
	CHECK("ns_wait: a signal raised between two polls gives -EINTR (no lost wake-up)",
	      rc == -EINTR && usr1_seen == 1 && dt < 100, "rc=%d handler ran %d times dt=%ld",
	      rc, (int)usr1_seen, dt);
	CHECK("ns_wait: the thread's signal mask is restored after a wait",
	      memcmp(&before, &after, NS_SIGSET_SIZE) == 0, "before %#lx after %#lx",
	      *(unsigned long *)&before, *(unsigned long *)&after);
	/* An ignored signal must not end a wait (it is discarded). */
	signal(SIGUSR2, SIG_IGN);
	r = (struct raiser){ .sig = SIGUSR2, .at = 3 };
	t0 = now_ms();
	rc = ns_wait(raise_on_round, &r, 30);
	dt = now_ms() - t0;
	CHECK("ns_wait: an ignored signal between two polls does not end the wait",
	      rc == -ETIMEDOUT && dt >= 30, "rc=%d dt=%ld", rc, dt);
	signal(SIGUSR2, SIG_DFL);
}

/* --- poll / select ------------------------------------------------------------------- */

static void test_poll_select(void)
{
	int p[2];
	if (pipe(p) != 0)
		exit(1);
	int a = fake_socket(EPOLLIN | EPOLLOUT), b = fake_socket(EPOLLOUT), gone = fake_socket(0);
	fake_close(gone);
	int gone_fd = dup(p[0]);  /* a number certainly closed below */
	close(gone_fd);
	if (write(p[1], "x", 1) != 1)
		exit(1);
	struct pollfd fds[5] = {
		{ a, POLLIN, 0 }, { b, POLLIN | POLLOUT, 0 }, { p[0], POLLIN, 0 }, { gone_fd, POLLIN, 0 }, { -1, POLLIN, 0 },
	};
	CHECK("poll fast-path check sees the lwIP fds", ns_pollfds_have_lwip(fds, 5) &&
	      !ns_pollfds_have_lwip(&fds[2], 3), "-");
	long n = ns_poll(fds, 5, 0, NULL, 0);
	CHECK("poll: lwIP IN (with RDNORM only if asked), OUT, pipe IN, POLLNVAL, fd -1",
	      n == 4 && fds[0].revents == POLLIN && fds[1].revents == POLLOUT && fds[2].revents == POLLIN &&
	      fds[3].revents == POLLNVAL && fds[4].revents == 0,
	      "n=%ld %x %x %x %x %x", n, fds[0].revents, fds[1].revents, fds[2].revents, fds[3].revents, fds[4].revents);
	struct pollfd norm = { a, POLLRDNORM, 0 };
	n = ns_poll(&norm, 1, 0, NULL, 0);
	CHECK("poll: POLLRDNORM derived from EPOLLIN", n == 1 && norm.revents == POLLRDNORM, "rev=%x", norm.revents);

	fd_set rd, wr, ex;
	FD_ZERO(&rd);
	FD_ZERO(&wr);
	FD_ZERO(&ex);
	FD_SET(a, &rd);
	FD_SET(b, &rd);
	FD_SET(p[0], &rd);
	FD_SET(b, &wr);
	FD_SET(a, &ex);
	int nfds = (a > b ? a : b) + 1;
	nfds = nfds > p[0] + 1 ? nfds : p[0] + 1;
	struct timeval tv = { 1, 0 };
	CHECK("select fast-path check sees the lwIP fds", ns_select_has_lwip(nfds, &rd, &wr, &ex), "-");
	n = ns_select(nfds, &rd, &wr, &ex, &tv, true, NULL);
	CHECK("select: 3 bits (a, pipe readable; b writable), no exception",
	      n == 3 && FD_ISSET(a, &rd) && FD_ISSET(p[0], &rd) && !FD_ISSET(b, &rd) && FD_ISSET(b, &wr) &&
	      !FD_ISSET(a, &ex), "n=%ld", n);

	FD_ZERO(&rd);
	FD_SET(a, &rd);
	FD_SET(gone_fd, &rd);
	n = ns_select((a > gone_fd ? a : gone_fd) + 1, &rd, NULL, NULL, NULL, true, NULL);
	CHECK("select: closed fd in a set: EBADF", n == -EBADF, "n=%ld", n);

	/* Time left written back by select. */
	ns_stack_lock();
	sock(a)->events = 0;
	ns_stack_unlock();
	arrival.when = now_ms() + 30;
	arrival.events = EPOLLIN;
	arrival.s = sock(a);
	FD_ZERO(&rd);
	FD_SET(a, &rd);
	tv.tv_sec = 0;
	tv.tv_usec = 200000;
	n = ns_select(a + 1, &rd, NULL, NULL, &tv, true, NULL);
	long left = tv.tv_sec * 1000 + tv.tv_usec / 1000;
	CHECK("select: woken at 30 ms, timeval says ~170 ms left", n == 1 && FD_ISSET(a, &rd) && left >= 155 &&
	      left <= 170, "n=%ld left=%ld", n, left);
	/* pselect6's timespec too: glibc's select() reads it back. */
	ns_stack_lock();
	sock(a)->events = 0;
	ns_stack_unlock();
	arrival.when = now_ms() + 30;
	arrival.events = EPOLLIN;
	arrival.s = sock(a);
	FD_ZERO(&rd);
	FD_SET(a, &rd);
	struct timespec ts = { 0, 200000000 };
	n = ns_select(a + 1, &rd, NULL, NULL, &ts, false, NULL);
	left = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	CHECK("pselect6: woken at 30 ms, timespec says ~170 ms left", n == 1 && left >= 155 && left <= 170,
	      "n=%ld left=%ld", n, left);
	struct timeval bad = { 0, 2000000 };
	CHECK("select: tv_usec out of range: EINVAL", ns_select(a + 1, &rd, NULL, NULL, &bad, true, NULL) == -EINVAL, "-");

	fake_close(a);
	fake_close(b);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	ns_wait_configure("200");
	test_ctl_rules();
	test_triggers();
	test_round_robin();
	test_mixed_and_timing();
	test_ns_wait();
	test_poll_select();
	printf("test_events: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
