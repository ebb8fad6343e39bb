/*
 * jit_getpid.c - system calls from code written at run time.
 *
 *   jit_getpid N     writes `mov $39,%eax; syscall; ret` into an RWX page
 *                    *after* mapping it, calls it N times, checks each pid
 *
 * libzpoline rewrites code when it is mapped executable; code written into
 * an already executable page is not seen then.  With ZP_SUD=1 its first
 * system call traps (Syscall User Dispatch) and the site is rewritten, so
 * the count hook must see all N calls; without it, none (they go straight
 * to the kernel).  Prints "jit_getpid_calls=N".
 */
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "testutil.h"

int main(int argc, char **argv)
{
	if (argc != 2)
		fail("usage: %s N", argv[0]);
	long n = parse_count(argv[1]);
	long pid = pid_from_proc();
	static const unsigned char code[] = {
		0xb8, 0x27, 0x00, 0x00, 0x00,  /* mov $39 (getpid), %eax */
		0x0f, 0x05,                    /* syscall */
		0xc3,                          /* ret */
	};
	unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	memcpy(page, code, sizeof code);  /* written after the mapping was made */
	long (*jit_getpid)(void) = (long (*)(void))page;
	for (long i = 0; i < n; i++)
		if (jit_getpid() != pid)
			fail("JIT getpid returned a wrong pid");
	printf("jit_getpid_calls=%ld\n", n);
	return 0;
}
