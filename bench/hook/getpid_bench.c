/*
 * getpid_bench.c - time one getpid() call: natively, or under whatever
 * mechanism the program is started with (loaders/zprun --mechanism M).
 *
 *   getpid_bench [-n CALLS]
 *
 * Makes min(CALLS/10, 10000) untimed warm-up calls (lazy binding, caches, the
 * first trap of each kind), then CALLS timed calls of libc's getpid(), and
 * checks every result against the pid read from /proc/self (a readlink, so
 * the truth does not come from the mechanism being measured).  No other
 * code here calls getpid: under the count hook the getpid row must read
 * warmup + CALLS exactly, which bench/hook/run.py checks.  Prints one line
 *
 *   warmup=W iters=N ns_per_call=X bad_returns=B pid=P status=ok|FAIL
 *
 * and exits 0 only if every result was right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long parse_iters(int argc, char **argv)
{
	long iters = 2000000;
	for (int i = 1; i < argc; i++) {
		char *end;
		if (strcmp(argv[i], "-n") != 0 || i + 1 >= argc) {
			fprintf(stderr, "usage: %s [-n CALLS]\n", argv[0]);
			exit(2);
		}
		iters = strtol(argv[++i], &end, 10);
		if (*end != '\0' || iters <= 0) {
			fprintf(stderr, "%s: bad -n value '%s' (a positive number of calls)\n", argv[0], argv[i]);
			exit(2);
		}
	}
	return iters;
}

static pid_t pid_from_proc(void)
{
	char buf[32];
	ssize_t len = readlink("/proc/self", buf, sizeof(buf) - 1);
	if (len <= 0) {
		perror("getpid_bench: readlink /proc/self");
		exit(1);
	}
	buf[len] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

int main(int argc, char **argv)
{
	long iters = parse_iters(argc, argv);
	long warmup = iters / 10 > 10000 ? 10000 : iters / 10;
	pid_t expect = pid_from_proc();
	long bad = 0;

	for (long i = 0; i < warmup; i++)
		bad += getpid() != expect;

	/*
	 * clock_gettime is served by the vDSO (no system call), so it adds
	 * nothing a mechanism could intercept, and its cost is amortised over
	 * the whole loop.
	 */
	struct timespec start, stop;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < iters; i++)
		bad += getpid() != expect;
	clock_gettime(CLOCK_MONOTONIC, &stop);

	printf("warmup=%ld iters=%ld ns_per_call=%.2f bad_returns=%ld pid=%ld status=%s\n", warmup,
	       iters, elapsed_ns(&start, &stop) / (double)iters, bad, (long)expect,
	       bad ? "FAIL reason=getpid_returned_a_wrong_pid" : "ok");
	return bad ? 1 : 0;
}
