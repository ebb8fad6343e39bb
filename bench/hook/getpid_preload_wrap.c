/*
 * getpid_preload_wrap.c - the timed loop, run with
 * LD_PRELOAD=bench/hook/libgetpid_wrap.so (see preload_getpid_wrap.c).
 *
 * Check: the wrapper library really is loaded and interposed (its counter
 * symbol is found and it saw every single getpid() call of the loop).
 */
#include "getpid_loop.h"

#include <dlfcn.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	long iters = getpid_loop_parse_iters(argc, argv, 2000000);
	pid_t pid = pid_from_proc();
	struct getpid_loop_result res;
	long *calls = dlsym(RTLD_DEFAULT, "getpid_wrap_calls");

	if (calls == NULL) {
		fprintf(stderr, "getpid_preload_wrap: libgetpid_wrap.so is not preloaded "
			"(run with LD_PRELOAD=.../bench/hook/libgetpid_wrap.so)\n");
		res = (struct getpid_loop_result){ 0 };
		return getpid_loop_report("preload_wrap", &res, -1, 0, pid, "wrapper_not_preloaded");
	}
	*calls = 0;
	getpid_loop(iters, pid, &res);
	return getpid_loop_report("preload_wrap", &res, *calls, res.warmup + res.iters, pid, NULL);
}
