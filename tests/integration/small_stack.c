/*
 * small_stack.c - system calls made on small stacks: a sigaltstack signal
 * handler's and a coroutine's (as a goroutine's would be).
 *
 *   small_stack N    N getpid calls on each small stack; prints the total
 *
 * Each small stack is exactly as big as it needs to be natively (a few KiB:
 * the kernel's signal frame, or nothing) plus little slack, with a PROT_NONE
 * guard page below it.  A hook that runs on the application's stack pushes
 * its frame, the saved vector state (2-3 KiB with AVX-512) and its own C
 * frames there, runs into the guard page and dies with SIGSEGV.  libzpoline
 * runs the hook on a stack of its own (zpoline/thread.c), so the program
 * must not notice anything; ZP_HOOK_STACK=0 is the negative control.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "testutil.h"

#define SLACK 1024

static long calls_per_stack;
static volatile long done_calls;

/* A stack of `size` usable bytes above a guard page. */
static void *small_stack(size_t size)
{
	size_t page = 4096, len = page + ((size + page - 1) & ~(page - 1));
	char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	if (mprotect(m, page, PROT_NONE) != 0)
		fail("mprotect: %s", strerror(errno));
	/* Usable: exactly `size` bytes below the end. */
	return m + len - size;
}

static void make_calls(void)
{
	for (long i = 0; i < calls_per_stack; i++) {
		syscall(SYS_getpid);
		done_calls++;
	}
}

static void on_signal(int sig)
{
	(void)sig;
	make_calls();
}

static ucontext_t main_ctx, coro_ctx;

static void coroutine(void)
{
	make_calls();
	/* returns to main_ctx through uc_link */
}

int main(int argc, char **argv)
{
	if (argc != 2)
		fail("usage: small_stack N");
	calls_per_stack = parse_count(argv[1]);

	/* 1. sigaltstack: the kernel's frame needs AT_MINSIGSTKSZ. */
	size_t minsig = getauxval(AT_MINSIGSTKSZ);
	if (minsig < (size_t)MINSIGSTKSZ)
		minsig = (size_t)MINSIGSTKSZ;
	size_t alt_size = minsig + SLACK;
	stack_t ss = { .ss_sp = small_stack(alt_size), .ss_size = alt_size, .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) != 0)
		fail("sigaltstack: %s", strerror(errno));
	struct sigaction sa = { 0 };
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_ONSTACK;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		fail("sigaction: %s", strerror(errno));
	/* raise() would call getpid itself: name the thread directly. */
	if (syscall(SYS_tgkill, pid_from_proc(), syscall(SYS_gettid), SIGUSR1) != 0)
		fail("tgkill: %s", strerror(errno));

	/* 2. a coroutine on a stack of a few KiB, like a goroutine's. */
	size_t coro_size = 2 * SLACK;
	if (getcontext(&coro_ctx) != 0)
		fail("getcontext: %s", strerror(errno));
	coro_ctx.uc_stack.ss_sp = small_stack(coro_size);
	coro_ctx.uc_stack.ss_size = coro_size;
	coro_ctx.uc_link = &main_ctx;
	makecontext(&coro_ctx, coroutine, 0);
	if (swapcontext(&main_ctx, &coro_ctx) != 0)
		fail("swapcontext: %s", strerror(errno));

	if (done_calls != 2 * calls_per_stack)
		fail("%ld calls made, expected %ld", done_calls, 2 * calls_per_stack);
	printf("getpid_calls=%ld\n", done_calls);
	return 0;
}
