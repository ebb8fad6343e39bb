/*
 * getpid_loop.h - what every hook-cost program shares.
 *
 * Each mechanism is one program (getpid_<mechanism>.c).  It installs its
 * mechanism, then calls getpid_loop(), which times N calls of libc's getpid()
 * with clock_gettime(CLOCK_MONOTONIC) and checks every return value against
 * the pid read from /proc/self (a readlink, so the truth does not come from
 * the mechanism being measured).  The program then checks its own counter
 * (how many getpid calls its hook saw) and prints one line:
 *
 *   mechanism=NAME iters=N ns_per_call=X hooked=H expected_hooked=E
 *       bad_returns=B pid=P status=ok|FAIL[ reason=...]
 *
 * and exits 0 only if status=ok.  bench/hook/run.py parses that line.
 */
#ifndef BENCH_HOOK_GETPID_LOOP_H
#define BENCH_HOOK_GETPID_LOOP_H

#include <stddef.h>
#include <sys/types.h>

struct getpid_loop_result {
	long warmup;          /* untimed calls made first (caches, lazy binding) */
	long iters;           /* timed calls */
	double ns_per_call;   /* elapsed time of the timed loop / iters */
	long bad_returns;     /* calls (warm-up included) that returned != pid */
};

/*
 * Parse "-n N" (the number of timed calls, default_iters if absent).
 * Exits with a usage message on anything else.
 */
long getpid_loop_parse_iters(int argc, char **argv, long default_iters);

/* The process's pid from readlink("/proc/self"); exits on failure. */
pid_t pid_from_proc(void);

/* Untimed calls made before the timed loop for a given iteration count. */
long getpid_loop_warmup_for(long iters);

/*
 * Call getpid() warmup_for(iters) times untimed, then iters times timed;
 * count returns that differ from expect.  Every call is a real call of
 * libc's getpid() (an external function: the compiler cannot drop it).
 */
void getpid_loop(long iters, pid_t expect, struct getpid_loop_result *res);

/*
 * Print the result line.  status is ok if reason is NULL, bad_returns is 0
 * and hooked == expected_hooked; otherwise FAIL.  Returns the exit code the
 * program should end with (0 or 1).  For native, pass hooked ==
 * expected_hooked == -1 (nothing to count).
 */
int getpid_loop_report(const char *mechanism, const struct getpid_loop_result *res,
		       long hooked, long expected_hooked, pid_t pid, const char *reason);

/*
 * A system call made right here with the `syscall` instruction, not through
 * libc, so it bypasses whatever the mechanism did to libc's getpid (used by
 * the signal handlers and hooks to perform the real call).
 */
static inline long raw_syscall6(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline long raw_syscall0(long nr)
{
	return raw_syscall6(nr, 0, 0, 0, 0, 0, 0);
}

#endif
