/*
 * page_zero.c - what is at virtual address 0 after libzpoline's set-up.
 *
 * Prints, one per line:
 *     mapping <perms>            the /proc/self/maps entry covering address
 *                                0 ("mapping none" if there is none)
 *     write <outcome>            a child writes one byte to address 0
 *     read <outcome>             a child reads one byte from address 0
 * where <outcome> is "ok" or "signal <SIG>".
 *
 * Under libzpoline the trampoline must be mapped there (so the mapping line
 * proves the test ran with it), never writable (write -> signal 11), and,
 * where the CPU has protection keys (pku/ospke), execute-only so that NULL
 * reads still fault (read -> signal 11).  The runner judges the lines.
 */
#include <signal.h>
#include <stdint.h>
#include <sys/wait.h>

#include "testutil.h"

/* volatile: the compiler must not know the address is NULL */
static volatile uintptr_t zero_address = 0;

static void print_mapping(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		fail("open /proc/self/maps");
	char line[512];
	const char *perms = NULL;
	static char found[8];
	while (fgets(line, sizeof(line), f)) {
		unsigned long start, end;
		char p[8];
		if (sscanf(line, "%lx-%lx %7s", &start, &end, p) == 3 && start == 0) {
			snprintf(found, sizeof(found), "%s", p);
			perms = found;
			break;
		}
	}
	fclose(f);
	printf("mapping %s\n", perms ? perms : "none");
}

/* Run the access in a child, report how it ended. */
static void try_access(const char *what, int is_write)
{
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0)
		fail("fork");
	if (pid == 0) {
		volatile char *p = (volatile char *)zero_address;
		if (is_write)
			*p = 1;
		else
			(void)*p;
		_exit(0);
	}
	int status;
	if (waitpid(pid, &status, 0) != pid)
		fail("waitpid");
	if (WIFSIGNALED(status))
		printf("%s signal %d\n", what, WTERMSIG(status));
	else
		printf("%s ok\n", what);
}

int main(void)
{
	print_mapping();
	try_access("write", 1);
	try_access("read", 0);
	return 0;
}
