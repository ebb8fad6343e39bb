/*
 * getpid_dl.c - built as libgetpid_dl.so and dlopen()ed by getpid_modes.
 *
 * Its getpid calls use an inline `syscall` instruction that lives in this
 * library, not in libc: the site exists only once the library is mapped, so
 * it is hooked only if libzpoline rewrites code loaded after start-up.
 */
#include <sys/syscall.h>

long dl_getpid_loop(long n, long expected_pid);

/* Issue n getpid calls; return how many returned expected_pid. */
long dl_getpid_loop(long n, long expected_pid)
{
	long right = 0;
	for (long i = 0; i < n; i++) {
		long ret;
		__asm__ volatile("syscall"
				 : "=a"(ret)
				 : "a"((long)SYS_getpid)
				 : "rcx", "r11", "memory");
		if (ret == expected_pid)
			right++;
	}
	return right;
}
