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

long ns_wait_mixed(bool (*ready)(void *arg), void *arg, int64_t timeout_ns,
		   ns_kwait_fn kwait, void *karg, const void *sigmask)
{
	/* A fork child must not touch the device: it only tests READY. */
	bool owned = ns_stack_owned();
	int64_t start = ns_now_ns();
	int64_t deadline = timeout_ns < 0 ? INT64_MAX : start + timeout_ns;
	int64_t last_frame = start;
	/* The first round looks at the kernel fds too: one that is ready
	 * already must not wait for the first kernel check. */
	int64_t last_kernel_check = start - KERNEL_CHECK_NS;

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
			long rc = kwait ? kwait(karg, 0) : 0;
			return rc != 0 ? rc : -ETIMEDOUT;
		}

		if (now - last_frame < spin_ns) {
			if (kwait && now - last_kernel_check >= KERNEL_CHECK_NS) {
				last_kernel_check = now;
				long rc = kwait(karg, 0);
				if (rc != 0)
					return rc;
			}
			__builtin_ia32_pause();
			continue;
		}

		int64_t slice = deadline - now < SLICE_NS ? deadline - now : SLICE_NS;
		long rc = kwait ? kwait(karg, slice) : ns_sleep_ns(slice, sigmask);
		if (rc != 0)
			return rc;
		last_kernel_check = ns_now_ns();
	}
}

int ns_wait(bool (*ready)(void *arg), void *arg, int timeout_ms)
{
	int64_t timeout_ns = timeout_ms < 0 ? -1 : (int64_t)timeout_ms * NSEC_PER_MSEC;
	return (int)ns_wait_mixed(ready, arg, timeout_ns, NULL, NULL, NULL);
}
