/*
 * seccomp.c - the seccomp mechanism (ZP_MECHANISM=seccomp).
 *
 * A seccomp filter (after PR_SET_NO_NEW_PRIVS, which an unprivileged
 * process needs to install one) answers SECCOMP_RET_TRAP for every system
 * call whose instruction pointer lies outside libzpoline's own text: the
 * kernel sends SIGSYS (si_code SYS_SECCOMP) and our handler runs the hook
 * through sigpath.c.  Our raw `syscall` and the restorer of our handlers lie
 * inside the text and go through.
 *
 * Unlike Syscall User Dispatch there is no selector to flip while the hook
 * runs: the hook's private libc traps too.  Such calls go straight to the
 * kernel from the handler (zp_sig_next, unhooked):
 *   - calls from the code of the hook's namespace (its libc, DPDK, ...), by
 *     instruction pointer (hookload.c records those ranges);
 *   - every call of a thread the hook's code created (DPDK's interrupt
 *     thread), marked when its clone trapped (sigpath.c);
 *   - calls from ld.so, which both namespaces share, while the hook is
 *     running on this thread (a per-thread depth); from the application's
 *     code ld.so's calls stay hooked (dlopen's mmap).
 * A call from the application's code is hooked at any depth: that is an
 * application signal handler that interrupted the hook.
 *
 * The filter is inherited by every child and survives execve, so execve is
 * refused (signext.c).  The filter checks the architecture first: a call
 * through the 32-bit entry (int $0x80, AUDIT_ARCH_I386) has other numbers
 * and argument registers than our handler and every hook assume, and
 * running it unhooked would let it pass the hook silently, so it kills the
 * process (SECCOMP_RET_KILL_PROCESS), as a sandbox would.
 *
 * SECCOMP_FILTER_FLAG_SPEC_ALLOW: the filter is not a security boundary, so
 * it must not switch on the Speculative Store Bypass mitigation that
 * kernels booted with spec_store_bypass_disable=seccomp apply to filtered
 * tasks (it slows every memory access of the program).
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "zpoline.h"

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1
#endif
/* SECCOMP_RET_DATA of our traps ("zp"): a SIGSYS from a filter the
 * application installed itself carries its own data and is passed on. */
#define ZP_SECCOMP_DATA 0x7a70

static void on_sigsys(int sig, siginfo_t *info, void *ucv)
{
	ucontext_t *uc = ucv;
	if (info->si_code != SYS_SECCOMP || info->si_errno != ZP_SECCOMP_DATA) {
		zp_sig_foreign(sig, info, uc);
		return;
	}
	uint64_t ip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	int hooked = !(zp_sig_hook_thread() || zp_in_hook_code(ip) ||
		       (zp_sig_depth() > 0 && zp_in_ldso(ip)));
	zp_sig_syscall(uc, info->si_syscall, hooked);
}

#define LD_ABS(off) BPF_STMT(BPF_LD | BPF_W | BPF_ABS, (off))
#define RET(v) BPF_STMT(BPF_RET | BPF_K, (v))
#define JUMP(op, k, jt, jf) BPF_JUMP(BPF_JMP | (op) | BPF_K, (k), (jt), (jf))

int zp_seccomp_setup(void)
{
	/* seccomp_data.instruction_pointer as two 32-bit words (little-endian). */
	const uint32_t ip_lo = offsetof(struct seccomp_data, instruction_pointer);
	const uint32_t ip_hi = ip_lo + 4;
	const uint32_t s_hi = (uint32_t)(zp_self_start >> 32), s_lo = (uint32_t)zp_self_start;
	const uint32_t e_hi = (uint32_t)(zp_self_end >> 32), e_lo = (uint32_t)zp_self_end;
	const uint32_t trap = SECCOMP_RET_TRAP | ZP_SECCOMP_DATA;
	/* Jump offsets count instructions after the jump. */
	struct sock_filter code[] = {
		/* 0 */ LD_ABS(offsetof(struct seccomp_data, arch)),
		/* 1 */ JUMP(BPF_JEQ, AUDIT_ARCH_X86_64, 1, 0),
		/* 2 */ RET(SECCOMP_RET_KILL_PROCESS),
		/* ip >= start (64-bit, unsigned) */
		/* 3 */ LD_ABS(ip_hi),
		/* 4 */ JUMP(BPF_JGT, s_hi, 4, 0),     /* -> 9 */
		/* 5 */ JUMP(BPF_JEQ, s_hi, 0, 9),     /* -> 6 : 15 */
		/* 6 */ LD_ABS(ip_lo),
		/* 7 */ JUMP(BPF_JGE, s_lo, 1, 0),     /* -> 9 : 8 */
		/* 8 */ RET(trap),
		/* ip < end */
		/* 9 */ LD_ABS(ip_hi),
		/* 10 */ JUMP(BPF_JGT, e_hi, 4, 0),    /* -> 15 : 11 */
		/* 11 */ JUMP(BPF_JEQ, e_hi, 0, 2),    /* -> 12 : 14 */
		/* 12 */ LD_ABS(ip_lo),
		/* 13 */ JUMP(BPF_JGE, e_lo, 1, 0),    /* -> 15 : 14 */
		/* 14 */ RET(SECCOMP_RET_ALLOW),
		/* 15 */ RET(trap),
	};
	struct sock_fprog prog = { .len = sizeof code / sizeof code[0], .filter = code };

	if (zp_sig_install(SIGSYS, on_sigsys) != 0)
		return -1;
	if (zp_raw_syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0) != 0)
		return -1;
	long r = zp_raw_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_SPEC_ALLOW,
				(long)&prog, 0, 0, 0);
	if (r == -22)  /* EINVAL: a kernel without SPEC_ALLOW (< 4.17) */
		r = zp_raw_syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, (long)&prog, 0, 0, 0);
	return r == 0 ? 0 : -1;
}
