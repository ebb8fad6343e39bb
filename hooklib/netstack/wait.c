/*
 * wait.c - how a thread blocks on the user-space stack.
 *
 * Nothing wakes a thread when a frame arrives: the device is a poll-mode
 * driver and lwIP runs only when someone calls ns_stack_poll().  So a
 * blocked thread polls, and tests its condition after every poll:
 *
 *   loop { lock; ns_stack_poll(); ready?; unlock }
 *
 * While frames keep coming it spins (a request is usually followed by the
 * next within microseconds, and a sleep costs tens of them).  After
 * ZP_NET_SPIN_US (default 1000) µs without a received frame it sleeps in
 * slices of at most 1 ms, so an idle server does not burn a core and a new
 * request waits at most about a millisecond.  The sleep is the kernel wait
 * of the caller's kernel fds when there are some (epoll_pwait2/ppoll on
 * them), so those wake it at once; otherwise ppoll with no fds (a plain
 * sleep that a signal interrupts, with the caller's signal mask).
 *
 * The lock is released between rounds: other threads' socket calls and
 * polls get in, and a thread blocked in accept() does not stop another
 * from reading.
 *
 * Signals.  A kernel wait ends with EINTR when a handler runs during it;
 * servers rely on that (nginx's SIGQUIT/SIGTERM handlers only set a flag
 * that its loop tests after epoll_wait returns).  A handler that runs
 * while this loop is in user space (spinning, or between two sleep
 * slices) would be lost: the loop does not know it ran, and an
 * epoll_wait(-1) never returns.  So a wait that does not finish on its
 * first round blocks the asynchronous signals for its duration (one
 * rt_sigprocmask each way) and lets them in only inside its kernel sleeps,
 * with the application's mask (then the sleep ends with EINTR, as the
 * kernel's own would); while spinning it asks rt_sigpending every
 * millisecond.  Synchronous signals (SIGSEGV, SIGSYS, SIGTRAP ...) are
 * never blocked: the trap-based mechanisms and faults need them.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>

#include "events.h"
#include "nsock.h"
#include "stack.h"

#define NSEC_PER_MSEC 1000000LL
#define NSEC_PER_USEC 1000LL

/* A sleep slice: short enough that frames are picked up soon after an
 * idle period, long enough that sleeping costs next to nothing. */
#define SLICE_NS (1 * NSEC_PER_MSEC)
/* While spinning, kernel fds are looked at this often. */
#define KERNEL_CHECK_NS (1 * NSEC_PER_MSEC)

static int64_t spin_ns = 1000 * NSEC_PER_USEC;
static uint64_t device_signals;  /* bit N-1: signal N */

void ns_wait_configure(const char *spin_us)
{
	if (!spin_us || !*spin_us)
		return;
	char *end;
	long long us = strtoll(spin_us, &end, 10);
	if (*end == '\0' && us >= 0 && us <= 10 * 1000 * 1000)
		spin_ns = us * NSEC_PER_USEC;
}

int64_t ns_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void ns_wait_block_signals(uint64_t sigbits)
{
	device_signals = sigbits;
}

#define SIGBIT(sig) (1ULL << ((sig) - 1))
/* Never blocked by a wait: the kernel forces these (faults, traps, the
 * trap-based mechanisms' SIGSYS/SIGTRAP) or cannot block them at all. */
#define SYNC_SIGNALS (SIGBIT(SIGILL) | SIGBIT(SIGTRAP) | SIGBIT(SIGBUS) | SIGBIT(SIGFPE) | \
		      SIGBIT(SIGSEGV) | SIGBIT(SIGSYS) | SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))

uint64_t ns_block_async_signals(uint64_t except)
{
	uint64_t block = ~SYNC_SIGNALS & ~except, old = 0;
	ns_kernel(SYS_rt_sigprocmask, SIG_BLOCK, (long)&block, (long)&old, NS_SIGSET_SIZE, 0, 0);
	return old;
}

void ns_restore_signals(uint64_t old)
{
	ns_kernel(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, NS_SIGSET_SIZE, 0, 0);
}

/* A wait that does not finish at once blocks the asynchronous signals in
 * its thread (guard_begin) and applies the application's mask only inside
 * its kernel sleeps. */
struct guard {
	uint64_t old;               /* the thread's mask before the wait */
	uint64_t app;               /* the mask the application waits with */
	bool on;
};

static void guard_begin(struct guard *g, const void *sigmask)
{
	/* The device's own signals stay open: DPDK's tap driver counts
	 * received frames in its signal handler and reads nothing until it
	 * ran. */
	uint64_t block = ~SYNC_SIGNALS & ~device_signals;
	g->on = ns_kernel(SYS_rt_sigprocmask, SIG_BLOCK, (long)&block, (long)&g->old,
			  NS_SIGSET_SIZE, 0, 0) == 0;
	if (!g->on)
		return;
	g->app = sigmask ? *(const uint64_t *)sigmask : g->old;
}

/* Pending signals the handlers of which run once they are unblocked. */
static void guard_end(struct guard *g)
{
	if (!g->on)
		return;
	ns_kernel(SYS_rt_sigprocmask, SIG_SETMASK, (long)&g->old, 0, NS_SIGSET_SIZE, 0, 0);
}

/* While spinning: did a signal arrive that the application's wait would
 * have been interrupted by (one with a handler, not blocked by it, not
 * the device's)?  Ignored or default-action ones are let through to the
 * kernel (discarded, or the process ends/stops as it would have). */
static bool guard_signal_pending(struct guard *g)
{
	uint64_t pending = 0;
	if (!g->on || ns_kernel(SYS_rt_sigpending, (long)&pending, NS_SIGSET_SIZE, 0, 0, 0, 0) != 0)
		return false;
	pending &= ~g->app & ~device_signals;
	if (!pending)
		return false;
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } sa;
	for (int sig = 1; sig <= 64; sig++)
		if ((pending & SIGBIT(sig)) &&
		    ns_kernel(SYS_rt_sigaction, sig, 0, (long)&sa, NS_SIGSET_SIZE, 0, 0) == 0 &&
		    sa.handler != SIG_DFL && sa.handler != SIG_IGN)
			return true;
	uint64_t block = ~SYNC_SIGNALS & ~device_signals;
	ns_kernel(SYS_rt_sigprocmask, SIG_SETMASK, (long)&g->old, 0, NS_SIGSET_SIZE, 0, 0);
	ns_kernel(SYS_rt_sigprocmask, SIG_BLOCK, (long)&block, 0, NS_SIGSET_SIZE, 0, 0);
	return false;
}

const void *ns_wait_sigmask(const void *app_mask, bool sleeping, uint64_t *buf)
{
	if (!device_signals || (!sleeping && !app_mask))
		return app_mask;
	uint64_t base = 0;
	if (app_mask)
		base = *(const uint64_t *)app_mask;
	else if (ns_kernel(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&base, NS_SIGSET_SIZE, 0, 0) != 0)
		return NULL;
	*buf = base | device_signals;
	return buf;
}

long ns_sleep_ns(int64_t timeout_ns, const void *sigmask)
{
	struct timespec ts = {
		.tv_sec = timeout_ns / 1000000000LL,
		.tv_nsec = timeout_ns % 1000000000LL,
	};
	/* ppoll with no fds: nanosleep's precision, but it takes a signal
	 * mask, and it returns -EINTR when a handler ran (never restarted). */
	uint64_t buf;
	const void *mask = ns_wait_sigmask(sigmask, true, &buf);
	long rc = ns_kernel(SYS_ppoll, 0, 0, (long)&ts, (long)mask, mask ? NS_SIGSET_SIZE : 0, 0);
	return rc < 0 ? rc : 0;
}

/* One round: poll the device (only the process that owns it may) and test. */
static bool poll_round(bool (*ready)(void *), void *arg, bool owned, unsigned *frames)
{
	ns_stack_lock();
	*frames = owned ? ns_stack_poll() : 0;
	bool r = ready(arg);
	ns_stack_unlock();
	return r;
}

static long wait_loop(bool (*ready)(void *arg), void *arg, int64_t start, int64_t deadline,
		      ns_kwait_fn kwait, void *karg, const void *sigmask, struct guard *g)
{
	bool owned = ns_stack_owned();
	int64_t last_frame = start;
	/* The first round looks at the kernel fds too: one that is ready
	 * already must not wait for the first kernel check. */
	int64_t last_kernel_check = start - KERNEL_CHECK_NS;
	int64_t last_signal_check = start;

	for (;;) {
		unsigned frames;
		if (poll_round(ready, arg, owned, &frames))
			return 0;
		int64_t now = ns_now_ns();
		if (frames)
			last_frame = now;

		if (now >= deadline) {
			/* Look at the kernel fds one last time: a zero timeout
			 * must see them as well as the lwIP ones. */
			long rc = kwait ? kwait(karg, 0, sigmask) : 0;
			return rc != 0 ? rc : -ETIMEDOUT;
		}

		if (now - last_frame < spin_ns) {
			if (kwait && now - last_kernel_check >= KERNEL_CHECK_NS) {
				last_kernel_check = now;
				long rc = kwait(karg, 0, sigmask);
				if (rc != 0)
					return rc;
			}
			if (now - last_signal_check >= KERNEL_CHECK_NS) {
				last_signal_check = now;
				if (guard_signal_pending(g))
					return -EINTR;
			}
			__builtin_ia32_pause();
			continue;
		}

		/* A look that does not sleep keeps the thread's mask (under the
		 * guard it blocks everything; guard_signal_pending sees what
		 * came); a sleep lets the application's signals in. */
		int64_t slice = deadline - now < SLICE_NS ? deadline - now : SLICE_NS;
		const void *sleep_mask = g->on ? &g->app : sigmask;
		long rc = kwait ? kwait(karg, slice, sleep_mask) : ns_sleep_ns(slice, sleep_mask);
		if (rc != 0)
			return rc;
		last_kernel_check = last_signal_check = ns_now_ns();
	}
}

long ns_wait_mixed(bool (*ready)(void *arg), void *arg, int64_t timeout_ns,
		   ns_kwait_fn kwait, void *karg, const void *sigmask)
{
	int64_t start = ns_now_ns();
	int64_t deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
	/* Most waits of a busy server end here, at no cost beyond a poll. */
	if (timeout_ns == 0) {
		struct guard none = { .on = false };
		return wait_loop(ready, arg, start, start, kwait, karg, sigmask, &none);
	}
	unsigned frames;
	if (poll_round(ready, arg, ns_stack_owned(), &frames))
		return 0;
	struct guard g;
	guard_begin(&g, sigmask);
	long rc = wait_loop(ready, arg, start, deadline, kwait, karg, sigmask, &g);
	guard_end(&g);
	return rc;
}

int ns_wait(bool (*ready)(void *arg), void *arg, int timeout_ms)
{
	int64_t timeout_ns = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * NSEC_PER_MSEC;
	return (int)ns_wait_mixed(ready, arg, timeout_ns, NULL, NULL, NULL);
}
