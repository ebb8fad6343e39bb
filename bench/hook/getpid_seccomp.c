/*
 * getpid_seccomp.c - seccomp with SECCOMP_RET_TRAP: a classic-BPF filter
 * run by the kernel on every system call decides to deliver SIGSYS instead
 * of performing the call, and the SIGSYS handler is the hook.
 *
 * The handler must itself call getpid to perform the call, and that call
 * would be filtered and trap again.  A seccomp filter cannot look at the
 * calling address reliably, but it can look at the arguments: getpid takes
 * none, so the handler passes a 64-bit magic cookie in the first argument
 * register and the filter lets a getpid with that cookie through.  Any other
 * getpid (the application's, whatever garbage is in rdi) traps.
 *
 * When the filter returns SECCOMP_RET_TRAP the kernel skips the call, so the
 * handler writes the result into the saved rax and the interrupted code
 * resumes after its `syscall` instruction with it.
 */
#include "getpid_loop.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1 /* si_code of a seccomp SIGSYS; glibc 2.36 lacks it */
#endif

#define HANDLER_COOKIE 0x5ec0de5ec0de1234L

static volatile long seccomp_getpid_traps;
static volatile long seccomp_other_traps;   /* any other call or si_code: a failure */

static void seccomp_sigsys(int sig, siginfo_t *info, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *regs = uc->uc_mcontext.gregs;

	(void)sig;
	if (info->si_code == SYS_SECCOMP && info->si_syscall == SYS_getpid) {
		seccomp_getpid_traps++;
		/* The hook: the real getpid, let through by its cookie. */
		regs[REG_RAX] = raw_syscall6(SYS_getpid, HANDLER_COOKIE, 0, 0, 0, 0, 0);
	} else {
		seccomp_other_traps++;
		regs[REG_RAX] = -ENOSYS;
	}
}

/* Offsets into struct seccomp_data of the words the filter loads. */
#define SD_NR      offsetof(struct seccomp_data, nr)
#define SD_ARCH    offsetof(struct seccomp_data, arch)
#define SD_ARG0_LO offsetof(struct seccomp_data, args[0])
#define SD_ARG0_HI (offsetof(struct seccomp_data, args[0]) + 4)

static int install_getpid_trap_filter(void)
{
	/*
	 *   if arch != x86_64:                       allow
	 *   if nr != getpid:                         allow
	 *   if arg0 == HANDLER_COOKIE (both halves): allow
	 *   trap
	 * (jump offsets count instructions after the jump; targets in comments)
	 */
	struct sock_filter filter[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARCH),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, 7),        /* no: 9 */
		/* 2 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_NR),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getpid, 0, 5),               /* no: 9 */
		/* 4 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG0_LO),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
				 (unsigned)(HANDLER_COOKIE & 0xffffffff), 0, 2),             /* no: 8 */
		/* 6 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SD_ARG0_HI),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
				 (unsigned)((unsigned long)HANDLER_COOKIE >> 32), 1, 0),      /* yes: 9 */
		/* 8 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
		/* 9 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = {
		.len = sizeof(filter) / sizeof(filter[0]),
		.filter = filter,
	};

	/* Unprivileged processes need no_new_privs to install a filter. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog);
}

int main(int argc, char **argv)
{
	long iters = getpid_loop_parse_iters(argc, argv, 200000);
	pid_t pid = pid_from_proc();
	struct getpid_loop_result res = { 0 };
	struct sigaction sa;

	/* No restorer constraint here: glibc's sigaction is fine. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = seccomp_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) != 0) {
		perror("getpid_seccomp: sigaction");
		return getpid_loop_report("seccomp_trap", &res, -1, 0, pid, "sigaction_failed");
	}
	if (install_getpid_trap_filter() != 0) {
		perror("getpid_seccomp: seccomp(SECCOMP_SET_MODE_FILTER)");
		return getpid_loop_report("seccomp_trap", &res, -1, 0, pid, "seccomp_failed");
	}

	/* The filter stays for the rest of the process; only getpid is trapped. */
	getpid_loop(iters, pid, &res);
	return getpid_loop_report("seccomp_trap", &res, seccomp_getpid_traps, res.warmup + res.iters,
				  pid, seccomp_other_traps ? "unexpected_sigsys" : NULL);
}
