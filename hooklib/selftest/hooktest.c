/*
 * hooktest.c - drive a hook library without libzpoline.
 *
 *   hooktest LIB.so passthrough|calls|rootexec
 *
 * Loads LIB.so the way libzpoline does (dlmopen into a new namespace),
 * hands it a stand-in struct zphook_api whose next() executes the `syscall`
 * instruction itself, and sends a fixed script of system calls through the
 * hook.  Only those calls reach the hook (the harness's own libc is not
 * rewritten), so the counts seen by libzphook_count are exact; run.sh
 * checks them and the lines of libzphook_trace.
 *
 * The "calls" script, through the hook:
 *   root:        getpid x1, a few file/memory/socket calls, 2 forks,
 *                2 wait4, a failing execve, then exit_group
 *   fork child:  getpid x10, then either exit_group (first child) or
 *                execve of "hooktest LIB child" (second child)
 *   exec child:  getpid x100, exit_group
 *   4 threads:   getuid x1000 each, while SIGALRM handlers re-enter the
 *                hook with getppid
 * so the merged table must show getpid 121, getuid 4000, fork 2 (the
 * children's 0 returns are not counted), execve 2 with 1 error,
 * exit_group 3.
 *
 * The "rootexec" script: getpid x5, then the root itself executes
 * "hooktest LIB child" (getpid x100): the new image must find it is still
 * the root and print getpid 105, execve 1, exit_group 1.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include "zphook.h"

/* ---- the stand-in for libzpoline's side of the API ---- */

/* The raw kernel convention: result or -errno, no libc errno. */
static long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static __thread void *thread_slot_value;
static unsigned declared_flags;

static void **fake_thread_slot(void)
{
	return &thread_slot_value;
}

static void fake_set_flags(unsigned flags)
{
	declared_flags |= flags;
}

static const char *fake_getenv(const char *name)
{
	return getenv(name);
}

/* Our children execve with environ, so setenv is enough to carry a variable. */
static int fake_export_env(const char *name, const char *value)
{
	return setenv(name, value, 1) == 0 ? 0 : -1;
}

static const struct zphook_api fake_api = {
	.version = ZPHOOK_API_VERSION,
	.next = raw_syscall,
	.thread_slot = fake_thread_slot,
	.set_flags = fake_set_flags,
	.getenv = fake_getenv,
	.export_env = fake_export_env,
};

static zphook_fn hook;

/* A system call through the hook under test. */
#define HOOK(...) hook(__VA_ARGS__)

static void load_hook(const char *path)
{
	void *lib = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "hooktest: dlmopen: %s\n", dlerror());
		exit(2);
	}
	int (*init)(const struct zphook_api *, zphook_fn *) =
		(int (*)(const struct zphook_api *, zphook_fn *))dlsym(lib, "zphook_init");
	if (!init) {
		fprintf(stderr, "hooktest: %s has no zphook_init\n", path);
		exit(2);
	}
	if (init(&fake_api, &hook) != 0 || !hook) {
		fprintf(stderr, "hooktest: zphook_init failed\n");
		exit(2);
	}
}

static void fail(const char *what, long got, long want)
{
	fprintf(stderr, "hooktest: FAIL %s: got %ld, want %ld\n", what, got, want);
	exit(1);
}

/* ---- scripts ---- */

static int passthrough_script(void)
{
	if (!(declared_flags & ZPHOOK_NO_VECTOR))
		fail("ZPHOOK_NO_VECTOR declared", declared_flags, ZPHOOK_NO_VECTOR);
	long pid = HOOK(SYS_getpid, 0, 0, 0, 0, 0, 0);
	if (pid != getpid())
		fail("getpid through the hook", pid, getpid());
	long ret = HOOK(SYS_close, -1, 0, 0, 0, 0, 0);
	if (ret != -EBADF)
		fail("close(-1) through the hook", ret, -EBADF);
	/* Six arguments all arrive: mmap uses every register. */
	long addr = HOOK(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (addr < 0)
		fail("mmap through the hook", addr, 0);
	*(volatile char *)addr = 1;
	ret = HOOK(SYS_munmap, addr, 4096, 0, 0, 0, 0);
	if (ret != 0)
		fail("munmap through the hook", ret, 0);
	printf("hooktest: passthrough OK\n");
	return 0;
}

static void repeat_getpid(int times)
{
	for (int i = 0; i < times; i++)
		HOOK(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

static atomic_long alarms;

/* A signal handler re-entering the hook (the trace must stay whole). */
static void on_alarm(int sig)
{
	(void)sig;
	HOOK(SYS_getppid, 0, 0, 0, 0, 0, 0);
	atomic_fetch_add(&alarms, 1);
}

static void *getuid_thread(void *arg)
{
	(void)arg;
	for (int i = 0; i < 1000; i++)
		HOOK(SYS_getuid, 0, 0, 0, 0, 0, 0);
	return NULL;
}

/* The decodable calls, each once. */
static void sample_calls(void)
{
	static const char hello[] = "hello\n";
	char buf[64];
	int fds[2];

	HOOK(SYS_openat, AT_FDCWD, (long)"/nonexistent/zp", O_RDONLY, 0, 0, 0);
	long fd = HOOK(SYS_openat, AT_FDCWD, (long)"/etc/hostname", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd >= 0) {
		HOOK(SYS_read, fd, (long)buf, sizeof(buf), 0, 0, 0);
		HOOK(SYS_close, fd, 0, 0, 0, 0, 0);
	}
	HOOK(SYS_write, 1, (long)hello, sizeof(hello) - 1, 0, 0, 0);
	HOOK(SYS_close, -1, 0, 0, 0, 0, 0);
	/* A bad pointer: the kernel says EFAULT, the trace must not crash. */
	HOOK(SYS_openat, AT_FDCWD, 16, O_RDONLY, 0, 0, 0);
	HOOK(SYS_write, 1, 16, 5, 0, 0, 0);
	long addr = HOOK(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	HOOK(SYS_mprotect, addr, 4096, PROT_READ, 0, 0, 0);
	HOOK(SYS_munmap, addr, 4096, 0, 0, 0, 0);
	HOOK(SYS_pipe2, (long)fds, O_CLOEXEC, 0, 0, 0, 0);
	long sock = HOOK(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0, 0, 0, 0);
	if (sock >= 0)
		HOOK(SYS_close, sock, 0, 0, 0, 0, 0);
	HOOK(SYS_kill, 0, 0, 0, 0, 0, 0);
	HOOK(SYS_getcpu, 0, 0, 0, 0, 0, 0);      /* not decoded: raw hex arguments */
	HOOK(600, 0, 0, 0, 0, 0, 0);              /* beyond the table: ENOSYS */
}

static int calls_script(const char *self, const char *lib)
{
	repeat_getpid(1);
	sample_calls();

	/* Threads and a signal that re-enters the hook meanwhile. */
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval every_ms = { { 0, 1000 }, { 0, 1000 } };
	setitimer(ITIMER_REAL, &every_ms, NULL);
	pthread_t threads[4];
	for (int i = 0; i < 4; i++)
		pthread_create(&threads[i], NULL, getuid_thread, NULL);
	/* Keep calling until enough signals have re-entered the hook (or 2 s). */
	for (int i = 0; i < 2000000 && atomic_load(&alarms) < 50; i++)
		HOOK(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
	for (int i = 0; i < 4; i++)
		pthread_join(threads[i], NULL);
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);

	/* A fork child: its counters merge through the inherited mapping. */
	long child = HOOK(SYS_fork, 0, 0, 0, 0, 0, 0);
	if (child == 0) {
		repeat_getpid(10);
		HOOK(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	}
	HOOK(SYS_wait4, child, (long)&(int){ 0 }, 0, 0, 0, 0);

	/* A child that executes a new image: it finds the counters by name. */
	child = HOOK(SYS_fork, 0, 0, 0, 0, 0, 0);
	if (child == 0) {
		char *argv[] = { (char *)"hooktest", (char *)lib, (char *)"child", NULL };
		repeat_getpid(10);
		HOOK(SYS_execve, (long)self, (long)argv, (long)environ, 0, 0, 0);
		_exit(127);
	}
	int status = 0;
	HOOK(SYS_wait4, child, (long)&status, 0, 0, 0, 0);
	/* A failing execve: "<unfinished ...>" then its error. */
	char *argv[] = { (char *)"nothing", NULL };
	HOOK(SYS_execve, (long)"/nonexistent/zp", (long)argv, (long)environ, 0, 0, 0);

	fprintf(stderr, "hooktest: %ld alarms re-entered the hook\n", atomic_load(&alarms));
	HOOK(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	return 1;   /* not reached */
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: hooktest LIB.so passthrough|calls|rootexec\n");
		return 2;
	}
	load_hook(argv[1]);
	if (strcmp(argv[2], "passthrough") == 0)
		return passthrough_script();
	if (strcmp(argv[2], "calls") == 0)
		return calls_script("/proc/self/exe", argv[1]);
	if (strcmp(argv[2], "rootexec") == 0) {
		char *child_argv[] = { (char *)"hooktest", argv[1], (char *)"child", NULL };
		repeat_getpid(5);
		HOOK(SYS_execve, (long)"/proc/self/exe", (long)child_argv, (long)environ, 0, 0, 0);
		return 1;
	}
	if (strcmp(argv[2], "child") == 0) {
		repeat_getpid(100);
		HOOK(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	}
	return 2;
}
