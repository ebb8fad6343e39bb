/*
 * redzone_trap.c - system call sites that must not become calls.
 *
 * `call *%rax` stores its return address at -8(%rsp).  A site whose function
 * keeps data there (rewrite.c marks it ZP_SITE_REDZONE) would lose it; worse,
 * glibc's __longjmp_chk hands the kernel a buffer at -0x18(%rsp), so the
 * kernel itself would overwrite our return address.  Such sites (3 in
 * glibc 2.36 + ld.so) become `int3; nop` (cc 90) instead: the kernel builds
 * the SIGTRAP frame below the 128-byte red zone and saves every register,
 * so the handler can run the hook and put the result in %rax, and the
 * program goes on after the nop.  This costs a signal (~2 us) but only when
 * such a site runs; Syscall User Dispatch would cost every system call of
 * the process ~30 ns in the kernel, even those it lets through.
 *
 * Our int3 sites are kept in the site set with bit 63 set (user addresses
 * never have it), so the handler knows them.  A SIGTRAP from anywhere else
 * (a debugger's breakpoint without a debugger, a program's own int3) gets
 * the default action, as if we were not there.
 *
 * Calls that must run exactly where they were made (clone/clone3 with a new
 * stack or CLONE_VM, vfork, rt_sigreturn) are not made from the handler: the
 * original `syscall` is put back and run in place, so that one site is not
 * hooked from then on.  None of the known red-zone sites makes such a call.
 */
#include <linux/sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "zpoline.h"

#define TRAP_TAG (1ULL << 63)

static int handler_installed;

static int must_run_in_place(long nr, const greg_t *g)
{
	switch (nr) {
	case SYS_clone:
		return g[REG_RSI] != 0 || (g[REG_RDI] & CLONE_VM);
	case SYS_clone3:
	case SYS_vfork:
	case SYS_rt_sigreturn:
		return 1;
	default:
		return 0;
	}
}

static void on_sigtrap(int sig, siginfo_t *info, void *ucv)
{
	(void)info;
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t site = (uint64_t)g[REG_RIP] - 1;  /* int3 leaves rip after itself */
	if (!zp_sites_contains(site | TRAP_TAG)) {
		/* Not ours: the program gets what it would get without us.
		 * Returning re-executes nothing (rip is past the int3), so
		 * deliver SIGTRAP again with the default action. */
		zp_raise_default(sig);
		return;
	}
	long nr = g[REG_RAX];
	if (must_run_in_place(nr, g)) {
		zp_patch_site(site, 0x050f);  /* syscall, little-endian 0f 05 */
		g[REG_RIP] = (greg_t)site;
		return;
	}
	g[REG_RAX] = zp_hook(nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
	g[REG_RIP] = (greg_t)(site + 2);
}

int zp_trap_site_add(uint64_t site)
{
	if (!handler_installed) {
		if (zp_raw_sigaction(SIGTRAP, on_sigtrap, SA_ONSTACK | SA_RESTART) != 0)
			return -1;
		handler_installed = 1;
	}
	if (zp_sites_add(site | TRAP_TAG) != 0)
		return -1;
	/* int3; nop - the caller made the page writable */
	__atomic_store_n((uint16_t *)(uintptr_t)site, (uint16_t)0x90cc, __ATOMIC_RELEASE);
	return 0;
}
