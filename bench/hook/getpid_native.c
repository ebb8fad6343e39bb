/*
 * getpid_native.c - the baseline: libc's getpid() straight into the kernel,
 * nothing installed.  There is no hook, so nothing to count (hooked = -1);
 * only the return values are checked.
 */
#include "getpid_loop.h"

int main(int argc, char **argv)
{
	long iters = getpid_loop_parse_iters(argc, argv, 2000000);
	pid_t pid = pid_from_proc();
	struct getpid_loop_result res;

	getpid_loop(iters, pid, &res);
	return getpid_loop_report("native", &res, -1, -1, pid, NULL);
}
