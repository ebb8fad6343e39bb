/*
 * testutil.h - small helpers shared by the integration test programs.
 *
 * The programs count their own getpid calls exactly, so helpers here never
 * call getpid: the process id comes from /proc/self (a readlink system call).
 */
#ifndef EXITLESS_TESTUTIL_H
#define EXITLESS_TESTUTIL_H

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Print a message and exit with status 1 (a test failure, not a crash). */
static inline void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("FAIL: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(1);
}

/* The process id without calling getpid: /proc/self is a link to it. */
static inline long pid_from_proc(void)
{
	char buf[32];
	ssize_t n = readlink("/proc/self", buf, sizeof(buf) - 1);
	if (n <= 0)
		fail("readlink /proc/self: %s", strerror(errno));
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Parse a non-negative count from argv; exits on garbage. */
static inline long parse_count(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0)
		fail("bad count '%s'", s);
	return v;
}

/* Does /proc/cpuinfo list this CPU flag (as a whole word)? */
static inline int cpu_has_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return 0;
	char line[8192];
	int found = 0;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		char *save = NULL;
		for (char *tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
			if (strcmp(tok, flag) == 0)
				found = 1;
		break;
	}
	fclose(f);
	return found;
}

#endif
