/*
 * syscall_mix.c - a small dynamic program with a known mix of system calls,
 * for cross-checking the count hook against strace.
 *
 *   syscall_mix N
 *
 * Makes N rounds of: getpid, getppid, write (to stdout), lseek, dup + close,
 * from the main thread and from one extra thread.  The counts of getpid,
 * getppid, write, lseek and dup seen by `strace -f -c` must equal the count
 * hook's: these calls happen only after start-up, when every site is hooked.
 */
#include <pthread.h>

#include "testutil.h"

static long rounds;

static void *work(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		(void)getpid();
		(void)getppid();
		if (write(1, "line\n", 5) != 5)
			fail("write");
		(void)lseek(0, 0, SEEK_CUR);
		int fd = dup(1);
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		fail("usage: %s N", argv[0]);
	rounds = parse_count(argv[1]);
	pthread_t t;
	if (pthread_create(&t, NULL, work, NULL) != 0)
		fail("pthread_create");
	work(NULL);
	pthread_join(t, NULL);
	return 0;
}
