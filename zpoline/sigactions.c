/*
 * sigactions.c - the application's signal actions where they are not the
 * kernel's (the signal-based mechanisms).
 *
 * The mechanism's own signal (SIGTRAP for int3, SIGSYS for sud and seccomp)
 * must keep our handler.  An application that sets an action for it gets it
 * remembered here and reported back as the old action, as if installed; our
 * handler passes every such signal it did not cause (a SIGSYS from the
 * application's own seccomp filter, a SIGTRAP from a breakpoint) to that
 * action, or to the default action if there is none (zp_sig_foreign).
 *
 * The kernel delivers a forced signal (int3's SIGTRAP, SUD's and seccomp's
 * SIGSYS) that is blocked by resetting it to its default action: the
 * process dies.  So our signal is taken out of the sa_mask of every handler
 * the application installs (and out of every mask, signext.c); the
 * application's action is remembered where it differs from the kernel's.
 *
 * Under sud every other handler the application installs is wrapped: the
 * kernel gets sud_wrapper, which sets the selector to BLOCK while the
 * application's handler runs and back afterwards.  Without it a handler that
 * interrupts the hook (selector ALLOW) would make its system calls unhooked.
 * The wrapper returns through our restorer, inside the allowed range.
 *
 * Built with -mgeneral-regs-only, no libc (hooked path).
 */
#include <sys/syscall.h>

#include "zpoline.h"

#define NSIG_ 64
#define SA_RESTORER_ 0x04000000UL

/* The kernel's struct sigaction (rt_sigaction, x86-64). */
struct ksigaction {
	uint64_t handler;
	uint64_t flags;
	uint64_t restorer;
	uint64_t mask;
};

static struct ksigaction app[NSIG_ + 1];  /* the application's view */
static uint8_t remembered[NSIG_ + 1];      /* app[sig] holds something the app set */
static int lock;                           /* serialises zp_sigaction_next */

/*
 * Signals stay blocked while the lock is held: an application handler that
 * calls sigaction (re-arming itself, as old code does) must not run on a
 * thread that holds it.  Our own signal stays open (it is forced anyway).
 */
static uint64_t lock_take(void)
{
	uint64_t all = ~(1ULL << (zp_own_signal() - 1)), old = 0;
	zp_raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&old, 8, 0, 0);
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		;
	return old;
}

static void lock_give(uint64_t old)
{
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
	zp_raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&old, 0, 8, 0, 0);
}

int zp_own_signal(void)
{
	return zp_mechanism == ZP_MECH_INT3 ? SIGTRAP : SIGSYS;
}

/* Run the application's handler with the selector at BLOCK under sud. */
static void call_app(const struct ksigaction *a, int sig, siginfo_t *info, void *uc)
{
	int old = zp_sud_enter_app();
	((void (*)(int, siginfo_t *, void *))(uintptr_t)a->handler)(sig, info, uc);
	zp_sud_leave_app(old);
}

/*
 * A snapshot of the action for a signal being delivered now.  No lock: the
 * signal may have interrupted zp_sigaction_next on this very thread, which
 * holds it; a torn read can only mix an old and a new action of a signal
 * the application is changing while it arrives.
 */
static struct ksigaction delivered(int sig)
{
	struct ksigaction a = app[sig];
	if (!__atomic_load_n(&remembered[sig], __ATOMIC_ACQUIRE))
		a.handler = (uint64_t)(uintptr_t)SIG_DFL;
	else if (a.flags & SA_RESETHAND) {
		/* one-shot: the kernel reset its action (wrapped case), we reset ours */
		__atomic_store_n(&remembered[sig], 0, __ATOMIC_RELEASE);
		app[sig].handler = (uint64_t)(uintptr_t)SIG_DFL;
	}
	return a;
}

static void sud_wrapper(int sig, siginfo_t *info, void *uc)
{
	struct ksigaction a = delivered(sig);
	if (a.handler == (uint64_t)(uintptr_t)SIG_DFL || a.handler == (uint64_t)(uintptr_t)SIG_IGN)
		return;  /* changed since the signal was sent */
	call_app(&a, sig, info, uc);
}

void zp_sig_foreign(int sig, siginfo_t *info, ucontext_t *uc)
{
	struct ksigaction a = delivered(sig);
	if (a.handler == (uint64_t)(uintptr_t)SIG_IGN)
		return;
	if (a.handler == (uint64_t)(uintptr_t)SIG_DFL) {
		zp_raise_default(sig);
		return;
	}
	/* The mask the kernel would have set for that handler; our handler's
	 * rt_sigreturn puts the interrupted code's mask back. */
	uint64_t mask = *(const uint64_t *)(const void *)&uc->uc_sigmask | a.mask;
	if (!(a.flags & SA_NODEFER))
		mask |= 1ULL << (sig - 1);
	/* Never our own signal, even while its handler runs: the
	 * application's handler would die at its first system call. */
	mask &= ~(1ULL << (zp_own_signal() - 1));
	zp_raw_syscall(SYS_rt_sigprocmask, SIG_SETMASK, (long)&mask, 0, 8, 0, 0);
	call_app(&a, sig, info, uc);
}

long zp_sigaction_next(long sig, long act, long oact, long size)
{
	if (size != 8 || sig < 1 || sig > NSIG_ || sig == SIGKILL || sig == SIGSTOP)
		return zp_raw_syscall(SYS_rt_sigaction, sig, act, oact, size, 0, 0);

	struct ksigaction want = { 0 }, kold = { 0 };
	if (act)
		want = *(const struct ksigaction *)(uintptr_t)act;
	int handler = want.handler != (uint64_t)(uintptr_t)SIG_DFL &&
		      want.handler != (uint64_t)(uintptr_t)SIG_IGN;
	uint64_t own_bit = 1ULL << (zp_own_signal() - 1);
	long r = 0;

	uint64_t mask = lock_take();
	struct ksigaction prev = app[sig];
	int had = remembered[sig];
	if (sig == zp_own_signal()) {
		/* Never installed: the kernel keeps our handler. */
		if (!had)
			prev = (struct ksigaction){ 0 };  /* SIG_DFL, the initial action */
		if (act) {
			app[sig] = want;
			__atomic_store_n(&remembered[sig], 1, __ATOMIC_RELEASE);
		}
	} else {
		/*
		 * The kernel resets a forced signal that is blocked to its
		 * default action (force_sig_info_to_task): our signal must not
		 * be in any handler's mask.  Under sud the handler is wrapped.
		 */
		struct ksigaction k = want;
		k.mask &= ~own_bit;
		if (act && handler && zp_mechanism == ZP_MECH_SUD) {
			k.handler = (uint64_t)(uintptr_t)sud_wrapper;
			k.flags |= SA_SIGINFO | SA_RESTORER_;
			k.restorer = (uint64_t)(uintptr_t)zp_signal_restorer;
		}
		r = zp_raw_syscall(SYS_rt_sigaction, sig, act ? (long)&k : 0, (long)&kold, 8, 0, 0);
		if (r == 0) {
			if (!had)
				prev = kold;
			if (act) {
				/* Remembered only where the kernel's differs from the app's. */
				app[sig] = want;
				__atomic_store_n(&remembered[sig],
						 k.handler != want.handler || k.mask != want.mask,
						 __ATOMIC_RELEASE);
			}
		}
	}
	lock_give(mask);
	if (r == 0 && oact)
		*(struct ksigaction *)(uintptr_t)oact = prev;
	return r;
}
