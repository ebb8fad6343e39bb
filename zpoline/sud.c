/*
 * sud.c - Syscall User Dispatch for what `call *%rax` cannot cover.
 *
 * Linux (>= 5.11) can send SIGSYS for every system call made from outside
 * an allowed address range while a per-thread selector byte says BLOCK
 * (Documentation/admin-guide/syscall-user-dispatch.rst).  We use it for:
 *
 *  - red-zone sites (rewrite.c): left as real `syscall` instructions, they
 *    trap here.  The kernel builds the signal frame below the 128-byte red
 *    zone and saves every register, so nothing of the caller is lost;
 *  - with ZP_SUD=1, a catch-all: any system call from code that was never
 *    rewritten (JIT code, code written at run time) traps once, and the
 *    site is then rewritten in place, as lazypoline does, so later calls
 *    take the fast path.
 *
 * The allowed range is libzpoline's own text: its raw `syscall` and the
 * rt_sigreturn of our SIGSYS handler.  Everything else, including the hook
 * library's private libc, is outside it, so the selector is ALLOW while any
 * of our code or the hook runs and BLOCK while the application runs
 * (dispatch.c toggles it around every hooked call).
 *
 * Calls that must run where they were made - clone/clone3/vfork (a new
 * stack or a shared one), rt_sigreturn - are not hooked on this path: the
 * handler lets them run in place with the selector at ALLOW; the next hooked
 * call sets it back to BLOCK.
 *
 * The handler is installed with the raw rt_sigaction: glibc's sigaction
 * would install its own restorer, outside the allowed range, and the
 * handler's return would trap.
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
#define SELECTOR_ALLOW 0
#define SELECTOR_BLOCK 1

int zp_sud_enabled;

static __thread volatile char selector __attribute__((tls_model("initial-exec")));

void zp_sud_allow(void)
{
	selector = SELECTOR_ALLOW;
}

void zp_sud_block(void)
{
	selector = SELECTOR_BLOCK;
}

static long thread_enable(void)
{
	long r = zp_raw_syscall(SYS_prctl, PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
				(long)zp_self_start, (long)(zp_self_end - zp_self_start),
				(long)&selector, 0);
	if (r == 0)
		selector = SELECTOR_BLOCK;
	return r;
}

/* Called by the child of clone-with-a-new-stack before it returns to the
 * application: its selector byte is its own (new TLS), so register it. */
void zp_child_started(void)
{
	if (zp_sud_enabled)
		thread_enable();
}

static int runs_in_place(long nr)
{
	return nr == SYS_clone || nr == SYS_clone3 || nr == SYS_vfork || nr == SYS_fork ||
	       nr == SYS_rt_sigreturn;
}

static void on_sigsys(int sig, siginfo_t *info, void *ucv)
{
	(void)sig;
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	selector = SELECTOR_ALLOW;
	long nr = info->si_syscall;
	if (runs_in_place(nr)) {
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

int zp_sud_setup(void)
{
	/* Test first: old kernels answer EINVAL. */
	if (zp_raw_sigaction(SIGSYS, on_sigsys, SA_ONSTACK) != 0)
		return -1;
	zp_sud_enabled = 1;
	if (thread_enable() != 0) {
		zp_sud_enabled = 0;
		return -1;
	}
	return 0;
}
