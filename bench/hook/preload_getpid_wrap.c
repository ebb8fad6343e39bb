/*
 * preload_getpid_wrap.c - libgetpid_wrap.so, the LD_PRELOAD symbol-wrapping
 * mechanism: the paper's "minimum overhead" case.
 *
 * Loaded with LD_PRELOAD, this library comes before libc in the symbol
 * search order, so the program's calls to getpid() bind to the getpid()
 * below instead of libc's.  It hands the call to a hook function with the
 * same shape as a zpoline hook (number + six arguments), and the hook
 * performs the real system call itself with a `syscall` instruction.
 *
 * It is cheap but not exhaustive: only calls that go through this symbol are
 * seen; a raw `syscall` instruction, or libc calling its own internal
 * __getpid, bypasses it.  That is why the benchmark reports it as a
 * reference point and not as a competitor of the exhaustive mechanisms.
 */
#include "getpid_loop.h"

#include <sys/syscall.h>
#include <unistd.h>

/* Calls the hook saw; read by getpid_preload_wrap through dlsym. */
long getpid_wrap_calls;

static long count_and_forward(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (nr == SYS_getpid)
		getpid_wrap_calls++;
	return raw_syscall6(nr, a1, a2, a3, a4, a5, a6);
}

/*
 * The hook is called through a pointer, as in a real interposition library
 * where the hook is chosen at run time: the compiler cannot inline it into
 * getpid(), so we measure a real hook call and not a fused fast path.
 */
long (*getpid_wrap_hook)(long, long, long, long, long, long, long) = count_and_forward;

pid_t getpid(void)
{
	return (pid_t)getpid_wrap_hook(SYS_getpid, 0, 0, 0, 0, 0, 0);
}
