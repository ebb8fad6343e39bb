/*
 * calls.c - a deterministic program with a known set of system calls, built
 * three ways (tests/out/calls_static, calls_static_pie, calls_dynamic) so
 * that the loader's count can be compared with `strace -f -c` of a native run
 * row by row (tests/loaders/run.sh).
 *
 *   calls run N M FILE STATUS
 *       main thread: N getppid calls, split over three paths (libc getppid(),
 *       syscall(2), an inline `syscall` instruction); openat + read to EOF +
 *       close of FILE; one clock_nanosleep of 1 ms; fork + wait4 (the child
 *       _exits with 7 at once); then one thread (pthread_create) making M
 *       getppid calls over the same three paths and sleeping 20 ms before it
 *       returns, so the join always waits in futex once.  Finally one
 *       write(2) of the summary line to stdout and exit(STATUS).
 *       Every call is made exactly once per run whatever stdout is (the
 *       summary is written with one write, not stdio), so the per-call
 *       counts do not depend on timing or on where stdout goes.
 *
 *   calls exe
 *       readlink("/proc/self/exe") must equal realpath(argv[0]): prints
 *       "exe: ok PATH" (exit 0) or what differs (exit 1).  Under the loader
 *       /proc/self/exe must still name the program, not the loader.
 *
 * The summary line: `calls: getppid=N+M bytes=B child_status=7 ppid_same=1`.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "calls: %s: %s\n", what, strerror(errno));
	if (n > 0)
		(void)!write(2, buf, (size_t)n);
	_exit(1);
}

static long parse_count(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v < 0) {
		errno = EINVAL;
		die(s);
	}
	return v;
}

/* getppid through the inline `syscall` instruction of this program. */
static long asm_getppid(void)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
	return ret;
}

/* COUNT getppid calls, a third through each path; 1 if all answers agree. */
static int getppid_calls(long count, long *first)
{
	int same = 1;
	for (long i = 0; i < count; i++) {
		long p;
		switch (i % 3) {
		case 0:  p = getppid(); break;
		case 1:  p = syscall(SYS_getppid); break;
		default: p = asm_getppid(); break;
		}
		if (*first < 0)
			*first = p;
		else if (p != *first)
			same = 0;
	}
	return same;
}

static long thread_calls;
static long thread_first = -1;
static int thread_same;

static void *thread_main(void *arg)
{
	(void)arg;
	thread_same = getppid_calls(thread_calls, &thread_first);
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	/* clock_nanosleep returns the error, it does not set errno */
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;
	return NULL;
}

static int run(long n, long m, const char *file, int status)
{
	long first = -1;
	int same = getppid_calls(n, &first);

	int fd = openat(AT_FDCWD, file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(file);
	char buf[4096];
	long bytes = 0;
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0)
			die("read");
		if (r == 0)
			break;
		bytes += r;
	}
	if (close(fd) != 0)
		die("close");

	struct timespec ts = { 0, 1000 * 1000 };
	while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) == EINTR)
		;

	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		_exit(7);
	int wstatus = 0;
	if (wait4(child, &wstatus, 0, NULL) != child)
		die("wait4");

	pthread_t t;
	thread_calls = m;
	errno = pthread_create(&t, NULL, thread_main, NULL);
	if (errno != 0)
		die("pthread_create");
	errno = pthread_join(t, NULL);
	if (errno != 0)
		die("pthread_join");
	if (m > 0 && thread_first != first)
		same = 0;

	char line[160];
	int len = snprintf(line, sizeof(line), "calls: getppid=%ld bytes=%ld child_status=%d ppid_same=%d\n",
			   n + m, bytes, WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1,
			   same && thread_same);
	if (len <= 0 || write(1, line, (size_t)len) != len)
		die("write");
	return status;
}

static int exe_check(const char *argv0)
{
	char link[PATH_MAX], real[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", link, sizeof(link) - 1);
	if (n < 0)
		die("readlink /proc/self/exe");
	link[n] = '\0';
	if (!realpath(argv0, real))
		die(argv0);
	if (strcmp(link, real) != 0) {
		printf("exe: differs: /proc/self/exe -> %s, realpath(argv[0]) = %s\n", link, real);
		return 1;
	}
	printf("exe: ok %s\n", link);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && strcmp(argv[1], "run") == 0)
		return run(parse_count(argv[2]), parse_count(argv[3]), argv[4], (int)parse_count(argv[5]));
	if (argc == 2 && strcmp(argv[1], "exe") == 0)
		return exe_check(argv[0]);
	fprintf(stderr, "usage: %s run N M FILE STATUS | %s exe\n", argv[0], argv[0]);
	return 2;
}
