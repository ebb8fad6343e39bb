/*
 * getpid_sud.c - Syscall User Dispatch (prctl PR_SET_SYSCALL_USER_DISPATCH,
 * Linux 5.11+): the kernel turns every system call into a SIGSYS, and the
 * SIGSYS handler is the hook.
 *
 * How it works and why it is set up this way:
 *
 *  - The kernel consults a one-byte *selector* in our memory on every system
 *    call: ALLOW lets the call through, BLOCK makes the kernel skip it and
 *    send SIGSYS (si_code SYS_USER_DISPATCH) with the registers as they were
 *    at the call (rax = number, rdi.. = arguments).  The handler performs
 *    the call and puts the result into the saved rax, so the interrupted
 *    code resumes after its `syscall` with the result, as if nothing
 *    happened.
 *
 *  - The handler flips the selector to ALLOW on entry, so it (and whatever
 *    libc function a real hook would call) can make system calls without
 *    trapping again, and back to BLOCK just before it returns.
 *
 *  - But returning from a signal handler is itself a system call
 *    (rt_sigreturn), made after the selector is BLOCK again.  So the prctl
 *    also names a code range that is always allowed, and the rt_sigreturn
 *    "restorer" lives inside it.  glibc's sigaction() always installs
 *    glibc's own restorer (outside our range), so we install the handler
 *    with the raw rt_sigaction system call and our own SA_RESTORER.
 *
 *  - The kernel tests the address *after* the `syscall` instruction
 *    (the saved rip) against [start, start + len), so the range must
 *    extend past the instruction: hence the ud2 after it.
 */
#include "getpid_loop.h"

#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#ifndef SYS_USER_DISPATCH
#define SYS_USER_DISPATCH 2 /* <asm-generic/siginfo.h>; glibc 2.36 lacks it */
#endif
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000 /* x86 <asm/signal.h>; glibc hides it */
#endif

/*
 * The always-allowed range: the signal-return trampoline and nothing else.
 * It is only ever entered by the kernel as the handler's return address.
 */
extern const char sud_allowed_start[], sud_allowed_end[];
extern void sud_restorer(void);
__asm__(".pushsection .text.sud_allowed, \"ax\", @progbits\n"
	".globl sud_allowed_start, sud_allowed_end, sud_restorer\n"
	"sud_allowed_start:\n"
	"sud_restorer:\n"
	"	mov $" "15" ", %eax\n"   /* SYS_rt_sigreturn */
	"	syscall\n"
	"	ud2\n"                   /* keeps rip-after-syscall inside the range */
	"sud_allowed_end:\n"
	".popsection\n");

static volatile char sud_selector = SYSCALL_DISPATCH_FILTER_ALLOW;
static volatile long sud_getpid_traps;
static volatile long sud_other_traps;   /* any other call or si_code: a failure */
static volatile long sud_other_nr;      /* the number of the last such call */

static void sud_sigsys(int sig, siginfo_t *info, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *regs = uc->uc_mcontext.gregs;

	(void)sig;
	sud_selector = SYSCALL_DISPATCH_FILTER_ALLOW;

	if (info->si_code == SYS_USER_DISPATCH && info->si_syscall == SYS_getpid &&
	    regs[REG_RAX] == SYS_getpid)
		sud_getpid_traps++;
	else {
		/*
		 * Nothing else may run in the BLOCK window: e.g. a clock_gettime
		 * that falls back from the vDSO to a real system call would
		 * trap here and distort the timing, so it is reported.
		 */
		sud_other_traps++;
		sud_other_nr = regs[REG_RAX];
	}

	/* The hook: perform the intercepted call, deliver its result in rax. */
	regs[REG_RAX] = raw_syscall6(regs[REG_RAX], regs[REG_RDI], regs[REG_RSI], regs[REG_RDX],
				     regs[REG_R10], regs[REG_R8], regs[REG_R9]);

	sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
	/* Returning jumps to sud_restorer: rt_sigreturn from the allowed range. */
}

/* The kernel's struct sigaction for rt_sigaction (not glibc's). */
struct kernel_sigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	unsigned long mask;
};

static int install_sigsys_handler(void)
{
	struct kernel_sigaction ksa = {
		.handler = sud_sigsys,
		.flags = SA_SIGINFO | SA_RESTORER,
		.restorer = sud_restorer,
		.mask = 0,  /* SIGSYS itself stays blocked while the handler runs */
	};

	return (int)raw_syscall6(SYS_rt_sigaction, SIGSYS, (long)&ksa, 0, sizeof(ksa.mask), 0, 0);
}

int main(int argc, char **argv)
{
	long iters = getpid_loop_parse_iters(argc, argv, 200000);
	pid_t pid = pid_from_proc();
	struct getpid_loop_result res = { 0 };
	long rc;

	rc = install_sigsys_handler();
	if (rc != 0) {
		fprintf(stderr, "getpid_sud: rt_sigaction: error %ld\n", -rc);
		return getpid_loop_report("sud", &res, -1, 0, pid, "rt_sigaction_failed");
	}
	if (prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_ON,
		  (unsigned long)sud_allowed_start,
		  (unsigned long)(sud_allowed_end - sud_allowed_start),
		  (unsigned long)&sud_selector) != 0) {
		perror("getpid_sud: prctl(PR_SET_SYSCALL_USER_DISPATCH)");
		return getpid_loop_report("sud", &res, -1, 0, pid, "prctl_failed");
	}

	/* Only the loop runs with BLOCK: every getpid() in it must trap. */
	sud_selector = SYSCALL_DISPATCH_FILTER_BLOCK;
	getpid_loop(iters, pid, &res);
	sud_selector = SYSCALL_DISPATCH_FILTER_ALLOW;

	prctl(PR_SET_SYSCALL_USER_DISPATCH, PR_SYS_DISPATCH_OFF, 0, 0, 0);

	char reason[64];
	snprintf(reason, sizeof(reason), "unexpected_sigsys_%ld_times_last_nr_%ld",
		 (long)sud_other_traps, (long)sud_other_nr);
	return getpid_loop_report("sud", &res, sud_getpid_traps, res.warmup + res.iters, pid,
				  sud_other_traps ? reason : NULL);
}
