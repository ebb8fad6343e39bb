/*
 * count.c - libzphook_count.so: `strace -c` for a whole process tree.
 *
 * Every call is timed with CLOCK_MONOTONIC (the vDSO: no system call)
 * around api->next, and added to the shared counters of count.h.  The
 * process that started the tree prints the table (count_table.c) to stderr,
 * or to the file named by ZP_COUNT_FILE, when it calls exit_group, then
 * removes the shared file.
 *
 * Time is wall-clock latency of each call (strace -c -w), not the kernel
 * CPU time that plain strace -c shows.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "count.h"
#include "zphook.h"

/* Set once by zphook_init, read-only afterwards (fork children inherit them). */
static zphook_fn next_syscall;
static struct count_shared *counters;
static int started_as_root;          /* this process image created the counters */
static char shared_path[256];        /* the file in /dev/shm, "" if private */
static char output_path[256];        /* ZP_COUNT_FILE, "" for stderr */

static uint64_t now_nsec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int is_error(long ret)
{
	return ret < 0 && ret >= -4095;
}

static void add(_Atomic uint64_t *counter, uint64_t n)
{
	atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

/* The root prints the table and removes the shared file. */
static void finish_run(void)
{
	int fd = 2;

	if (output_path[0]) {
		fd = open(output_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd < 0)
			fd = 2;
	}
	count_table_write(fd, counters);
	if (fd != 2)
		close(fd);
	if (shared_path[0])
		unlink(shared_path);
}

static int is_fork_like(long nr)
{
	return nr == SYS_fork || nr == SYS_vfork || nr == SYS_clone || nr == SYS_clone3;
}

/* exit, exit_group, rt_sigreturn never come back; execve only on failure. */
static int may_not_return(long nr)
{
	return nr == SYS_exit || nr == SYS_exit_group || nr == SYS_rt_sigreturn ||
	       nr == SYS_execve || nr == SYS_execveat;
}

static long count_hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	struct count_slot *slot = &counters->slot[count_slot_of(nr)];

	if (may_not_return(nr)) {
		/* Counted before: after the call there may be nobody to count it. */
		add(&slot->calls, 1);
		/* A fork child inherits started_as_root: the pid tells them apart. */
		if (nr == SYS_exit_group && started_as_root && getpid() == counters->root_pid)
			finish_run();
		uint64_t start = now_nsec();
		long ret = next_syscall(nr, a1, a2, a3, a4, a5, a6);
		/* Back from execve: it failed. */
		add(&slot->nsec, now_nsec() - start);
		if (is_error(ret))
			add(&slot->errors, 1);
		return ret;
	}

	uint64_t start = now_nsec();
	long ret = next_syscall(nr, a1, a2, a3, a4, a5, a6);
	uint64_t elapsed = now_nsec() - start;

	/* The child of fork/vfork/clone comes back here too: count the call once. */
	if (ret == 0 && is_fork_like(nr))
		return ret;

	add(&slot->calls, 1);
	add(&slot->nsec, elapsed);
	if (is_error(ret))
		add(&slot->errors, 1);
	return ret;
}

/* Without counters (not even private ones could be mapped): just pass through. */
static long uncounted_hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return next_syscall(nr, a1, a2, a3, a4, a5, a6);
}

__attribute__((visibility("default")))
int zphook_init(const struct zphook_api *api, zphook_fn *hook)
{
	if (api->version < 1)
		return -1;
	next_syscall = api->next;

	const char *output = api->getenv("ZP_COUNT_FILE");
	if (output)
		snprintf(output_path, sizeof(output_path), "%s", output);

	counters = count_shared_attach(api->getenv("ZP_COUNT_SHM"), shared_path,
				       sizeof(shared_path), &started_as_root);
	if (!counters) {
		*hook = uncounted_hook;
		return 0;
	}
	/* Processes executed from now on join these counters. */
	if (shared_path[0] && api->export_env("ZP_COUNT_SHM", shared_path) != 0)
		fprintf(stderr, "libzphook_count: cannot export ZP_COUNT_SHM; "
			"executed children will not be counted\n");
	*hook = count_hook;
	return 0;
}
