/*
 * sud.c - Syscall User Dispatch: zpoline mode's catch-all (ZP_SUD=1) and
 * the sud mechanism (ZP_MECHANISM=sud).
 *
 * Linux (>= 5.11) sends SIGSYS (si_code SYS_USER_DISPATCH) for every system
 * call made from outside an allowed address range while the thread's
 * selector byte says BLOCK (Documentation/admin-guide/syscall-user-dispatch.rst).
 * The setting is per thread and is cleared in every child (fork, vfork,
 * clone, threads) and by execve (checked on 6.18): each child turns it on
 * for itself (zp_child_started, zp_sud_child), and a new program gets it
 * from libzpoline again.
 *
 * The allowed range is libzpoline's own text: its raw `syscall` and the
 * rt_sigreturn of our handlers.  Everything else, the hook library's private
 * libc included, is outside it, so the selector is ALLOW while any of our
 * code or the hook runs and BLOCK while the application runs.
 *
 * zpoline mode (ZP_SUD=1): a catch-all for code that was never rewritten
 * (JIT code): its first call traps, the site joins the site set and becomes
 * `call *%rax`, as lazypoline does, and the hook runs; dispatch.c toggles the
 * selector around every hooked call.  Calls that must run where they were
 * made (zp_must_run_in_place) run in place, unhooked, with the selector at
 * ALLOW; the next hooked call sets it back to BLOCK.
 *
 * sud mechanism: nothing is rewritten; every call of the application traps
 * and runs through sigpath.c.  The handler sets ALLOW, runs the call, sets
 * BLOCK.  Application signal handlers are wrapped (sigactions.c) so that
 * they run at BLOCK even when they interrupt the hook.  A thread made with
 * clone(CLONE_VM) but without CLONE_SETTLS shares its creator's TLS, so it
 * would share the selector byte; it gets one of its own from a small table
 * keyed by thread id, and a TLS that has such sharers pays a gettid per trap
 * to find the right byte.
 *
 * The handler is installed with the raw rt_sigaction: glibc's sigaction
 * would install its own restorer, outside the allowed range.
 */
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "zpoline.h"

#ifndef PR_SET_SYSCALL_USER_DISPATCH
#define PR_SET_SYSCALL_USER_DISPATCH 59
#define PR_SYS_DISPATCH_OFF 0
#define PR_SYS_DISPATCH_ON 1
#endif
#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2
#endif
#define SELECTOR_ALLOW 0
#define SELECTOR_BLOCK 1

int zp_sud_enabled;

static __thread volatile char selector __attribute__((tls_model("initial-exec")));
/* Set in a TLS block that threads without a TLS of their own share. */
static __thread int tls_shared __attribute__((tls_model("initial-exec")));
static __thread long tls_owner __attribute__((tls_model("initial-exec")));  /* its thread id */

/* Selector bytes of threads that share another thread's TLS. */
#define SHARED_SLOTS 128
static struct {
	long tid;
	volatile char selector;
} shared_slots[SHARED_SLOTS];
static unsigned shared_next;

void zp_sud_allow(void)
{
	selector = SELECTOR_ALLOW;
}

void zp_sud_block(void)
{
	selector = SELECTOR_BLOCK;
}

static long gettid_raw(void)
{
	return zp_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

/* This thread's selector byte (sud mechanism). */
static volatile char *my_selector(void)
{
	if (__builtin_expect(!tls_shared, 1))
		return &selector;
	long tid = gettid_raw();
	if (tid == tls_owner)
		return &selector;
	for (int i = 0; i < SHARED_SLOTS; i++)
		if (__atomic_load_n(&shared_slots[i].tid, __ATOMIC_ACQUIRE) == tid)
			return &shared_slots[i].selector;
	return &selector;
}

static long register_selector(volatile char *sel)
{
	return zp_raw_syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
			      (long)zp_self_start, (long)(zp_self_end - zp_self_start), (long)sel, 0);
}

static long thread_enable(void)
{
	long r = register_selector(&selector);
	if (r == 0)
		selector = SELECTOR_BLOCK;
	return r;
}

/* Called by the child of clone-with-a-new-stack in zpoline mode before it
 * returns to the application: its selector byte is its own (new TLS). */
void zp_child_started(void)
{
	if (zp_sud_enabled)
		thread_enable();
}

/* A child of a trapped clone/fork/vfork (sud mechanism): SUD for itself. */
void zp_sud_child(unsigned flags)
{
	if ((flags & ZP_CHILD_SHARES_TLS) && !(flags & ZP_CHILD_VFORK)) {
		/* Runs alongside its creator in the same TLS: a byte of its own. */
		long tid = gettid_raw();
		unsigned i = __atomic_fetch_add(&shared_next, 1, __ATOMIC_RELAXED) % SHARED_SLOTS;
		shared_slots[i].selector = SELECTOR_BLOCK;  /* it returns to the application */
		__atomic_store_n(&shared_slots[i].tid, tid, __ATOMIC_RELEASE);
		/* The creator (tls_owner, set when it registered) keeps the TLS byte. */
		__atomic_store_n(&tls_shared, 1, __ATOMIC_RELEASE);
		register_selector(&shared_slots[i].selector);
		return;
	}
	if ((flags & ZP_CHILD_NEW_STACK) && !(flags & ZP_CHILD_SHARES_TLS)) {
		/* A thread (or process) with its own TLS, returning to the application. */
		tls_owner = gettid_raw();
		tls_shared = 0;
		thread_enable();
		return;
	}
	if (flags & ZP_CHILD_NEW_STACK) {
		/* posix_spawn's child: the sleeping parent's TLS, returning to the
		 * application; the parent sets ALLOW again when it resumes. */
		thread_enable();
		return;
	}
	/*
	 * fork (its own copy of our TLS) or vfork (the parent's TLS, while the
	 * parent sleeps): still inside the handler, at ALLOW; the handler sets
	 * BLOCK on its way out.
	 */
	if (!(flags & ZP_CHILD_VFORK))
		tls_owner = gettid_raw();
	register_selector(&selector);
}

int zp_sud_enter_app(void)
{
	if (zp_mechanism != ZP_MECH_SUD)
		return SELECTOR_BLOCK;
	volatile char *sel = my_selector();
	int old = *sel;
	*sel = SELECTOR_BLOCK;
	return old;
}

void zp_sud_leave_app(int old)
{
	if (zp_mechanism == ZP_MECH_SUD)
		*my_selector() = (char)old;
}

/* zpoline mode: rewrite the site that trapped, then hook it. */
static void catch_all(long nr, siginfo_t *info, greg_t *g)
{
	selector = SELECTOR_ALLOW;
	if (zp_must_run_in_place(nr, g)) {
		/* Back up over the 2-byte `syscall` and run it for real. */
		g[REG_RIP] -= 2;
		g[REG_RAX] = nr;
		return;
	}
	/* Make the trapping `syscall` a call, now that we know it is an
	 * instruction; it joins the site set first. */
	uint64_t site = (uint64_t)(uintptr_t)info->si_call_addr - 2;
	if (zp_sites_add(site) == 0)
		zp_patch_site(site, 0xd0ff);
	g[REG_RAX] = zp_hook(nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
	selector = SELECTOR_BLOCK;
}

static void on_sigsys(int sig, siginfo_t *info, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	if (info->si_code != SYS_USER_DISPATCH) {
		zp_sig_foreign(sig, info, uc);
		return;
	}
	long nr = info->si_syscall;
	if (zp_mechanism == ZP_MECH_ZPOLINE) {
		catch_all(nr, info, g);
		return;
	}
	volatile char *sel = my_selector();
	*sel = SELECTOR_ALLOW;
	uint64_t ip = (uint64_t)g[REG_RIP];
	if (zp_in_hook_code(ip)) {
		/*
		 * The hook's own code ran at BLOCK: a thread that shares its
		 * selector with another set it.  Run the call in place, at ALLOW.
		 */
		g[REG_RIP] -= 2;
		g[REG_RAX] = nr;
		return;
	}
	if (nr == SYS_rt_sigreturn) {
		/* Back into the application at BLOCK, or into our code or the
		 * hook (a handler that was not wrapped interrupted them) at ALLOW. */
		uint64_t to = zp_sig_sigreturn(uc);
		*sel = (zp_in_self(to) || zp_in_hook_code(to)) ? SELECTOR_ALLOW : SELECTOR_BLOCK;
		return;
	}
	zp_sig_syscall(uc, nr, 1);
	*my_selector() = SELECTOR_BLOCK;
}

int zp_sud_setup(void)
{
	/* Test first: old kernels answer EINVAL. */
	if (zp_sig_install(SIGSYS, on_sigsys) != 0)
		return -1;
	zp_sud_enabled = 1;
	if (thread_enable() != 0) {
		zp_sud_enabled = 0;
		return -1;
	}
	return 0;
}

int zp_sud_mech_setup(void)
{
	tls_owner = gettid_raw();
	return zp_sud_setup();
}
