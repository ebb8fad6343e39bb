/*
 * redzone_trap.c - system call sites that trap with int3: zpoline mode's
 * red-zone sites, and every site under ZP_MECHANISM=int3.
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
 * Under ZP_MECHANISM=int3 every site becomes `int3; nop` (rewrite_maps.c),
 * there is no page-0 trampoline, and the handler runs each call through
 * sigpath.c (its next, signext.c, handles clone, vfork, signal masks).
 *
 * Our int3 sites are kept in the site set with bit 63 set (user addresses
 * never have it), so the handler knows them.  A SIGTRAP from anywhere else
 * (a debugger's breakpoint without a debugger, a program's own int3, kill)
 * goes to the application's SIGTRAP action (sigactions.c; int3 mode only,
 * in zpoline mode the application may take SIGTRAP over) or the default
 * action, as if we were not there.
 *
 * zpoline mode: calls that must run exactly where they were made
 * (zp_must_run_in_place) are not made from the handler: the original
 * `syscall` is put back and run in place, so that one site is not hooked
 * from then on.  None of the known red-zone sites makes such a call.
 */
#include <signal.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "zpoline.h"

#define TRAP_TAG (1ULL << 63)

static int handler_installed;

static void on_sigtrap(int sig, siginfo_t *info, void *ucv)
{
	ucontext_t *uc = ucv;
	greg_t *g = uc->uc_mcontext.gregs;
	uint64_t site = (uint64_t)g[REG_RIP] - 1;  /* int3 leaves rip after itself */
	if (info->si_code != SI_KERNEL || !zp_sites_contains(site | TRAP_TAG)) {
		/* Not ours: the program gets what it would get without us. */
		zp_sig_foreign(sig, info, uc);
		return;
	}
	long nr = g[REG_RAX];
	if (zp_mechanism == ZP_MECH_INT3) {
		g[REG_RIP] = (greg_t)(site + 2);  /* where `syscall` would have returned */
		zp_sig_syscall(uc, nr, 1);
		return;
	}
	if (zp_must_run_in_place(nr, g)) {
		zp_patch_site(site, 0x050f);  /* syscall, little-endian 0f 05 */
		g[REG_RIP] = (greg_t)site;
		return;
	}
	g[REG_RAX] = zp_hook(nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
	g[REG_RIP] = (greg_t)(site + 2);
}

int zp_trap_install(void)
{
	if (!handler_installed) {
		if (zp_sig_install(SIGTRAP, on_sigtrap) != 0)
			return -1;
		handler_installed = 1;
	}
	return 0;
}

int zp_trap_site_add(uint64_t site)
{
	if (zp_trap_install() != 0)
		return -1;
	if (zp_sites_add(site | TRAP_TAG) != 0)
		return -1;
	/* int3; nop - the caller made the page writable */
	__atomic_store_n((uint16_t *)(uintptr_t)site, (uint16_t)0x90cc, __ATOMIC_RELEASE);
	return 0;
}
