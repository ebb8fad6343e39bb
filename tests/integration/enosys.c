/*
 * enosys.c - system call numbers the kernel does not have.
 *
 *   enosys NR...
 *
 * For each NR, a child process calls syscall(NR) and prints
 *     nr=<NR> ret=<return value> errno=<errno>
 * or, if it died, the parent prints
 *     nr=<NR> killed by signal <SIG>
 * Natively every line reads ret=-1 errno=38 (ENOSYS).  Under libzpoline a
 * rewritten site becomes `call *%rax`, so a number beyond the trampoline's
 * sled (1000) or a negative one (-1, a kernel address) would jump outside
 * it; the output must still be identical to the native run.
 */
#include <signal.h>
#include <sys/wait.h>

#include "testutil.h"

int main(int argc, char **argv)
{
	if (argc < 2)
		fail("usage: %s NR...", argv[0]);
	for (int i = 1; i < argc; i++) {
		long nr = strtol(argv[i], NULL, 0);
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			fail("fork");
		if (pid == 0) {
			errno = 0;
			long ret = syscall(nr);
			int err = errno;
			char line[128];
			int len = snprintf(line, sizeof(line), "nr=%ld ret=%ld errno=%d\n", nr, ret, err);
			if (write(1, line, len) != len)
				_exit(2);
			_exit(0);
		}
		int status;
		if (waitpid(pid, &status, 0) != pid)
			fail("waitpid");
		if (WIFSIGNALED(status))
			printf("nr=%ld killed by signal %d\n", nr, WTERMSIG(status));
		else if (WEXITSTATUS(status) != 0)
			printf("nr=%ld exit status %d\n", nr, WEXITSTATUS(status));
		fflush(stdout);
	}
	return 0;
}
