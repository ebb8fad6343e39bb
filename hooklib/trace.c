/*
 * trace.c - libzphook_trace.so: an strace-like log of every system call.
 *
 *   [4711] openat(AT_FDCWD, "/etc/passwd", O_RDONLY|O_CLOEXEC) = 3
 *   [4711] openat(AT_FDCWD, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)
 *
 * Lines go to stderr, or to the file named by ZP_TRACE_FILE.  Each line is
 * formatted on the stack and written with one write(), so lines of threads
 * and child processes do not mix.  The hook may be re-entered by a signal
 * handler at any point: there is no global mutable state on the call path.
 *
 * Output descriptor: the first process opens (or dups stderr to) a
 * descriptor far from the application's numbers, without close-on-exec, and
 * exports its number and identity (ZP_TRACE_FD, ZP_TRACE_ID = dev:ino), so
 * every child, forked or executed, writes to the same open file, like
 * strace -f -o.  A child that finds the descriptor gone or replaced opens
 * its own (appending to ZP_TRACE_FILE, or a dup of its stderr).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linebuf.h"
#include "trace_format.h"
#include "zphook.h"

/* One line on the stack: long enough for a path, small for signal stacks. */
#define TRACE_LINE_MAX 1024
/* Our descriptor is moved to this number or above, out of the way. */
#define TRACE_FD_LOW 1000

/* Set once by zphook_init, read-only afterwards. */
static zphook_fn next_syscall;
static int trace_fd = 2;

static void write_line(struct linebuf *lb)
{
	size_t len = lb_finish(lb);
	size_t done = 0;

	/* Our libc's write() is never hooked: it goes straight to the kernel. */
	while (done < len) {
		ssize_t n = write(trace_fd, lb->buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;          /* nowhere to write: drop the line */
		done += (size_t)n;
	}
}

static void begin_line(struct linebuf *lb, char *storage, size_t size)
{
	lb_init(lb, storage, size);
	lb_char(lb, '[');
	lb_dec(lb, gettid());      /* not cached: a fork child has a new tid */
	lb_str(lb, "] ");
}

/*
 * Perform the call, keeping the application from closing our output
 * descriptor: it is not the application's, so for it the number is free
 * (close gives EBADF, close_range skips it).
 */
static long call_keeping_trace_fd(long nr, const long a[6])
{
	if (nr == SYS_close && (int)a[0] == trace_fd)
		return -EBADF;

	if (nr == SYS_close_range) {
		unsigned first = (unsigned)a[0], last = (unsigned)a[1];
		unsigned ours = (unsigned)trace_fd;
		if (first <= ours && ours <= last) {
			long ret = 0;
			if (ours > first)
				ret = next_syscall(nr, first, ours - 1, a[2], 0, 0, 0);
			if (ret == 0 && ours < last)
				ret = next_syscall(nr, ours + 1, last, a[2], 0, 0, 0);
			return ret;
		}
	}
	return next_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static long trace_hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	const long args[6] = { a1, a2, a3, a4, a5, a6 };
	enum trace_call_end end = trace_call_end(nr);
	char storage[TRACE_LINE_MAX];
	struct linebuf lb;

	/* Calls that may not come back are shown before they are made. */
	if (end != TRACE_RETURNS) {
		begin_line(&lb, storage, sizeof(storage));
		trace_format_call(&lb, nr, args, 0, 0);
		if (end == TRACE_NEVER_RETURNS) {
			lb_pad_to(&lb, 39);
			lb_str(&lb, " = ?");
		} else {
			lb_str(&lb, " <unfinished ...>");
		}
		write_line(&lb);
	}

	long ret = call_keeping_trace_fd(nr, args);

	if (end == TRACE_NEVER_RETURNS)
		return ret;
	/* The child of fork/vfork/clone returns here too: the parent's line is enough. */
	if (ret == 0 && trace_is_fork_like(nr))
		return ret;

	begin_line(&lb, storage, sizeof(storage));
	if (end == TRACE_RETURNS_ON_ERROR)
		trace_format_resumed(&lb, nr);      /* execve failed */
	else
		trace_format_call(&lb, nr, args, ret, 1);
	trace_format_result(&lb, nr, ret);
	write_line(&lb);
	return ret;
}

/* "dev:ino" of an open descriptor, to recognize it after execve. */
static int fd_identity(int fd, char *out, size_t size)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -1;
	snprintf(out, size, "%lu:%lu", (unsigned long)st.st_dev, (unsigned long)st.st_ino);
	return 0;
}

/* The descriptor a process of this run exported, if it is still that file. */
static int inherited_trace_fd(const struct zphook_api *api)
{
	const char *number = api->getenv("ZP_TRACE_FD");
	const char *identity = api->getenv("ZP_TRACE_ID");
	char now[64];

	if (!number || !identity)
		return -1;
	int fd = atoi(number);
	if (fd < 0 || fd_identity(fd, now, sizeof(now)) != 0 || strcmp(now, identity) != 0)
		return -1;
	return fd;
}

static int open_trace_fd(const struct zphook_api *api)
{
	int fd = inherited_trace_fd(api);
	if (fd >= 0)
		return fd;

	const char *path = api->getenv("ZP_TRACE_FILE");
	if (path && *path) {
		/* The first process of the run starts the file afresh, like strace -o. */
		int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
		if (!api->getenv("ZP_TRACE_FD"))
			flags |= O_TRUNC;
		fd = open(path, flags, 0644);
		if (fd < 0)
			fprintf(stderr, "libzphook_trace: %s: %m; tracing to stderr\n", path);
	}
	if (fd < 0)
		fd = fcntl(2, F_DUPFD_CLOEXEC, 0);
	if (fd < 0)
		return 2;

	/* Far from the numbers programs use; inherited across execve (no CLOEXEC). */
	int high = fcntl(fd, F_DUPFD, TRACE_FD_LOW);
	if (high < 0)
		high = fcntl(fd, F_DUPFD, 10);
	if (high >= 0) {
		close(fd);
		fd = high;
	}

	char number[16], identity[64];
	snprintf(number, sizeof(number), "%d", fd);
	if (fd_identity(fd, identity, sizeof(identity)) == 0) {
		api->export_env("ZP_TRACE_FD", number);
		api->export_env("ZP_TRACE_ID", identity);
	}
	return fd;
}

__attribute__((visibility("default")))
int zphook_init(const struct zphook_api *api, zphook_fn *hook)
{
	if (api->version < 1)
		return -1;
	next_syscall = api->next;
	trace_fd = open_trace_fd(api);
	/* Not ZPHOOK_NO_VECTOR: formatting uses libc, which may use SSE. */
	*hook = trace_hook;
	return 0;
}
