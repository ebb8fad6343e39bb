/*
 * getpid_loop.c - the timed getpid loop and the result line (see getpid_loop.h).
 */
#include "getpid_loop.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

long getpid_loop_parse_iters(int argc, char **argv, long default_iters)
{
	long iters = default_iters;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-n") == 0 && i + 1 < argc) {
			char *end;
			iters = strtol(argv[++i], &end, 10);
			if (*end != '\0' || iters <= 0) {
				fprintf(stderr, "%s: bad -n value '%s'\n", argv[0], argv[i]);
				exit(2);
			}
		} else {
			fprintf(stderr, "usage: %s [-n CALLS]\n", argv[0]);
			exit(2);
		}
	}
	return iters;
}

pid_t pid_from_proc(void)
{
	char buf[32];
	ssize_t len = readlink("/proc/self", buf, sizeof(buf) - 1);

	if (len <= 0) {
		perror("readlink /proc/self");
		exit(1);
	}
	buf[len] = '\0';
	return (pid_t)strtol(buf, NULL, 10);
}

long getpid_loop_warmup_for(long iters)
{
	long warmup = iters / 10;

	return warmup > 10000 ? 10000 : warmup;
}

static double elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e9 + (double)(b->tv_nsec - a->tv_nsec);
}

void getpid_loop(long iters, pid_t expect, struct getpid_loop_result *res)
{
	struct timespec start, stop;
	long warmup = getpid_loop_warmup_for(iters);
	long bad = 0;

	for (long i = 0; i < warmup; i++) {
		if (getpid() != expect)
			bad++;
	}

	/*
	 * clock_gettime is served by the vDSO (no system call), so it adds
	 * nothing a mechanism could intercept, and its cost is amortised
	 * over the whole loop.
	 */
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < iters; i++) {
		if (getpid() != expect)
			bad++;
	}
	clock_gettime(CLOCK_MONOTONIC, &stop);

	res->warmup = warmup;
	res->iters = iters;
	res->ns_per_call = elapsed_ns(&start, &stop) / (double)iters;
	res->bad_returns = bad;
}

int getpid_loop_report(const char *mechanism, const struct getpid_loop_result *res,
		       long hooked, long expected_hooked, pid_t pid, const char *reason)
{
	char why[128];

	if (reason == NULL && res->bad_returns != 0) {
		snprintf(why, sizeof(why), "getpid_returned_wrong_pid_%ld_times", res->bad_returns);
		reason = why;
	}
	if (reason == NULL && hooked != expected_hooked) {
		snprintf(why, sizeof(why), "hook_saw_%ld_of_%ld_calls", hooked, expected_hooked);
		reason = why;
	}
	printf("mechanism=%s iters=%ld ns_per_call=%.2f hooked=%ld expected_hooked=%ld "
	       "bad_returns=%ld pid=%ld status=%s%s%s\n",
	       mechanism, res->iters, res->ns_per_call, hooked, expected_hooked,
	       res->bad_returns, (long)pid, reason ? "FAIL" : "ok",
	       reason ? " reason=" : "", reason ? reason : "");
	fflush(stdout);
	return reason ? 1 : 0;
}
