/*
 * getpid_int3.c - int3 rewriting: the `syscall` instruction (0f 05) of
 * libc's getpid is overwritten with `int3; nop` (cc 90), and the SIGTRAP
 * handler is the hook.
 *
 * Why this works: int3 is one byte, so it fits in the two bytes of
 * `syscall`; the nop fills the second byte so the code stays decodable.
 * Executing int3 raises a breakpoint trap; the kernel delivers SIGTRAP with
 * the saved rip pointing just *after* the int3 (site + 1).  At that point
 * the registers hold exactly what the `syscall` would have used: rax = the
 * number, rdi, rsi, rdx, r10, r8, r9 = the arguments.  The handler performs
 * the call with its own `syscall` instruction (not the patched one), puts the
 * result into the saved rax, and moves rip past the nop (site + 2), so the
 * interrupted code continues as if `syscall` had just returned.
 *
 * This is how rewriting-based tools worked before zpoline: the rewrite is
 * cheap, but every call still pays for a trap and a signal delivery.
 */
#include "getpid_loop.h"

#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static uint8_t *getpid_site;            /* the `syscall` inside libc's getpid */
static volatile long int3_getpid_traps;
static volatile long int3_other_traps;  /* a trap anywhere else: a failure */

static void int3_sigtrap(int sig, siginfo_t *info, void *ctx)
{
	ucontext_t *uc = ctx;
	greg_t *regs = uc->uc_mcontext.gregs;

	(void)sig;
	(void)info;
	if ((uint8_t *)regs[REG_RIP] != getpid_site + 1) {
		int3_other_traps++;
		return;
	}
	if (regs[REG_RAX] == SYS_getpid)
		int3_getpid_traps++;
	else
		int3_other_traps++;

	/* The hook: perform the call, deliver its result, step over the nop. */
	regs[REG_RAX] = raw_syscall6(regs[REG_RAX], regs[REG_RDI], regs[REG_RSI], regs[REG_RDX],
				     regs[REG_R10], regs[REG_R8], regs[REG_R9]);
	regs[REG_RIP] = (greg_t)(getpid_site + 2);
}

/*
 * Find the `syscall` of libc's getpid.  glibc's getpid is
 * `mov $39,%eax; syscall; ret`; we insist on the whole
 * `mov $39,%eax; syscall` sequence (b8 27 00 00 00 0f 05) so the two bytes we
 * patch are certainly that instruction and not the middle of another one.
 */
static uint8_t *find_getpid_syscall(void)
{
	static const uint8_t pattern[] = { 0xb8, SYS_getpid, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	uint8_t *fn = dlsym(RTLD_DEFAULT, "getpid");

	if (fn == NULL)
		return NULL;
	for (int off = 0; off < 32; off++) {
		if (memcmp(fn + off, pattern, sizeof(pattern)) == 0)
			return fn + off + 5;
	}
	return NULL;
}

/* Write two bytes into libc's code (read-only-executable, so unprotect). */
static int patch_code(uint8_t *at, uint8_t b0, uint8_t b1)
{
	long page = sysconf(_SC_PAGESIZE);
	uintptr_t first = (uintptr_t)at & ~(uintptr_t)(page - 1);
	size_t len = (uintptr_t)at + 2 - first;   /* may straddle two pages */

	if (mprotect((void *)first, len, PROT_READ | PROT_WRITE | PROT_EXEC) != 0)
		return -1;
	at[0] = b0;
	at[1] = b1;
	return mprotect((void *)first, len, PROT_READ | PROT_EXEC);
}

int main(int argc, char **argv)
{
	long iters = getpid_loop_parse_iters(argc, argv, 200000);
	pid_t pid = pid_from_proc();
	struct getpid_loop_result res = { 0 };
	struct sigaction sa;

	getpid_site = find_getpid_syscall();
	if (getpid_site == NULL) {
		fprintf(stderr, "getpid_int3: libc's getpid is not `mov $39,%%eax; syscall`\n");
		return getpid_loop_report("int3", &res, -1, 0, pid, "getpid_site_not_found");
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = int3_sigtrap;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTRAP, &sa, NULL) != 0) {
		perror("getpid_int3: sigaction");
		return getpid_loop_report("int3", &res, -1, 0, pid, "sigaction_failed");
	}

	if (patch_code(getpid_site, 0xcc, 0x90) != 0) {     /* int3; nop */
		perror("getpid_int3: mprotect");
		return getpid_loop_report("int3", &res, -1, 0, pid, "patch_failed");
	}
	getpid_loop(iters, pid, &res);
	if (patch_code(getpid_site, 0x0f, 0x05) != 0) {     /* syscall again */
		perror("getpid_int3: mprotect");
		return getpid_loop_report("int3", &res, -1, 0, pid, "unpatch_failed");
	}

	return getpid_loop_report("int3", &res, int3_getpid_traps, res.warmup + res.iters, pid,
				  int3_other_traps ? "unexpected_sigtrap" : NULL);
}
