/*
 * getpid_modes.c - issue exactly N getpid system calls in one of several
 * ways, so that the count hook can be checked against a number known by
 * construction.
 *
 *   getpid_modes MODE N
 *
 * MODE:
 *   libc          getpid() through glibc
 *   syscall       syscall(SYS_getpid)
 *   asm           an inline `syscall` instruction in this program
 *   threads       4 pthreads (glibc uses clone3) share the N calls
 *   clone         one child made by clone(CLONE_VM) on a stack of its own
 *   clone_thread  one thread made by clone(2) (not clone3) with
 *                 CLONE_THREAD|CLONE_VM... on a stack of its own
 *   fork          3 fork children share the N calls (one leaves by exit(),
 *                 the others by _exit(), which skips atexit handlers)
 *   vfork         N vfork children each call getpid once and _exit; the
 *                 parent checks it still works (stack, own pid) afterwards
 *   vfork_parent  N vfork children _exit at once; the parent calls getpid
 *                 after each (checks the parent resumes correctly)
 *   dlopen        the calls are made by an inline `syscall` inside a
 *                 library dlopen()ed now (libgetpid_dl.so next to us)
 *   execve        re-executes itself as `libc N` with an EMPTY environment
 *
 * Every getpid result is checked (against /proc/self or the pid returned by
 * fork/clone), and no other code here calls getpid, so under the count hook
 * the getpid row must read exactly N.  Exit status 0 = all results right.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "testutil.h"

static long expected_pid;

static long asm_getpid(void)
{
	long ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"((long)SYS_getpid)
			 : "rcx", "r11", "memory");
	return ret;
}

static void run_libc(long n)
{
	for (long i = 0; i < n; i++)
		if (getpid() != expected_pid)
			fail("libc getpid returned a wrong pid");
}

static void run_syscall(long n)
{
	for (long i = 0; i < n; i++)
		if (syscall(SYS_getpid) != expected_pid)
			fail("syscall(SYS_getpid) returned a wrong pid");
}

static void run_asm(long n)
{
	for (long i = 0; i < n; i++)
		if (asm_getpid() != expected_pid)
			fail("asm getpid returned a wrong pid");
}

/* --- threads --------------------------------------------------------- */

#define NTHREADS 4

struct thread_job {
	long calls;
	long wrong;
};

static void *thread_main(void *arg)
{
	struct thread_job *job = arg;
	for (long i = 0; i < job->calls; i++)
		if (getpid() != expected_pid)
			job->wrong++;
	return NULL;
}

static void run_threads(long n)
{
	pthread_t tid[NTHREADS];
	struct thread_job jobs[NTHREADS];
	for (int t = 0; t < NTHREADS; t++) {
		/* spread the remainder over the first threads */
		jobs[t].calls = n / NTHREADS + (t < n % NTHREADS ? 1 : 0);
		jobs[t].wrong = 0;
		if (pthread_create(&tid[t], NULL, thread_main, &jobs[t]) != 0)
			fail("pthread_create");
	}
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(tid[t], NULL);
		if (jobs[t].wrong)
			fail("thread %d: %ld wrong getpid results", t, jobs[t].wrong);
	}
}

/* --- clone with a stack of its own -------------------------------------- */

struct clone_job {
	long calls;
	long first_result;
	long wrong;  /* results different from first_result */
};

static int clone_child(void *arg)
{
	struct clone_job *job = arg;
	for (long i = 0; i < job->calls; i++) {
		long r = syscall(SYS_getpid);
		if (i == 0)
			job->first_result = r;
		else if (r != job->first_result)
			job->wrong++;
	}
	return 0;
}

/* A stack for a clone child: clone() takes its top. */
#define CHILD_STACK_SIZE (256 * 1024)
static char *map_child_stack(void)
{
	char *stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		fail("mmap stack");
	return stack;
}

static void run_clone(long n)
{
	const size_t stack_size = CHILD_STACK_SIZE;
	char *stack = map_child_stack();
	/* CLONE_VM: the child writes its results straight into our memory */
	struct clone_job job = { .calls = n, .first_result = -1, .wrong = 0 };
	pid_t child = clone(clone_child, stack + stack_size, CLONE_VM | SIGCHLD, &job);
	if (child < 0)
		fail("clone: %s", strerror(errno));
	int status;
	if (waitpid(child, &status, 0) != child)
		fail("waitpid clone child");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("clone child status 0x%x", status);
	if (n > 0 && job.first_result != child)
		fail("clone child saw pid %ld, clone returned %d", job.first_result, (int)child);
	if (job.wrong)
		fail("clone child: %ld inconsistent results", job.wrong);
	munmap(stack, stack_size);
}

/*
 * A thread made with clone(2) rather than clone3 (as older glibc, musl and
 * other runtimes do): same address space, same thread group, so getpid
 * returns our pid.  The kernel clears child_tid when it exits.
 */
static int clone_thread_child(void *arg)
{
	struct clone_job *job = arg;
	for (long i = 0; i < job->calls; i++)
		if (syscall(SYS_getpid) != expected_pid)
			job->wrong++;
	return 0;
}

static void run_clone_thread(long n)
{
	const size_t stack_size = CHILD_STACK_SIZE;
	char *stack = map_child_stack();
	struct clone_job job = { .calls = n, .first_result = -1, .wrong = 0 };
	static volatile pid_t child_tid; /* set by the kernel, cleared at exit */
	int flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD |
		    CLONE_SYSVSEM | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;
	pid_t tid = clone(clone_thread_child, stack + stack_size, flags, &job,
			  (pid_t *)&child_tid, NULL, (pid_t *)&child_tid);
	if (tid < 0)
		fail("clone thread: %s", strerror(errno));
	/* wait (bounded: ~10 s) for the kernel to clear child_tid at thread exit */
	for (int spins = 0; child_tid != 0; spins++) {
		if (spins > 10000)
			fail("clone thread did not exit");
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	if (job.wrong)
		fail("clone thread: %ld wrong getpid results", job.wrong);
	munmap(stack, stack_size);
}

/* --- fork ------------------------------------------------------------- */

#define NFORKS 3

static void run_fork(long n)
{
	/* shared with the children: what each one saw */
	long *seen = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (seen == MAP_FAILED)
		fail("mmap shared");
	pid_t kids[NFORKS];
	for (int k = 0; k < NFORKS; k++) {
		long calls = n / NFORKS + (k < n % NFORKS ? 1 : 0);
		seen[2 * k] = -1;     /* first result */
		seen[2 * k + 1] = 0;  /* wrong results */
		fflush(NULL);
		pid_t pid = fork();
		if (pid < 0)
			fail("fork");
		if (pid == 0) {
			for (long i = 0; i < calls; i++) {
				long r = getpid();
				if (i == 0)
					seen[2 * k] = r;
				else if (r != seen[2 * k])
					seen[2 * k + 1]++;
			}
			if (calls == 0)
				seen[2 * k] = 0;
			if (k == 0)
				exit(0);
			_exit(0);
		}
		kids[k] = pid;
	}
	for (int k = 0; k < NFORKS; k++) {
		int status;
		if (waitpid(kids[k], &status, 0) != kids[k])
			fail("waitpid fork child");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail("fork child %d status 0x%x", k, status);
		long calls = n / NFORKS + (k < n % NFORKS ? 1 : 0);
		if (calls > 0 && seen[2 * k] != kids[k])
			fail("fork child %d saw pid %ld, fork returned %d", k, seen[2 * k], (int)kids[k]);
		if (seen[2 * k + 1])
			fail("fork child %d: inconsistent results", k);
	}
	munmap(seen, 4096);
}

/* --- vfork ------------------------------------------------------------ */

/* volatile: the vfork child writes it in our address space */
static volatile long vfork_child_saw;

static void check_parent_after_vfork(volatile long *canary, long i)
{
	/* our stack frame survived the child ... */
	for (int j = 0; j < 8; j++)
		if (canary[j] != 0x5a5a0000 + j * 7 + i)
			fail("vfork parent: stack canary %d clobbered after iteration %ld", j, i);
	/* ... and we are still ourselves (gettid == pid in the main thread) */
	if (syscall(SYS_gettid) != expected_pid)
		fail("vfork parent: gettid %ld != pid %ld", (long)syscall(SYS_gettid), expected_pid);
}

/*
 * One vfork whose child calls getpid and _exits.  In a function of its own
 * so that the caller's loop variables are not live across vfork (the child
 * borrows this frame, never returns from it).
 */
static __attribute__((noinline)) pid_t vfork_child_getpid(void)
{
	pid_t pid = vfork();
	if (pid == 0) {
		vfork_child_saw = getpid();
		_exit(0);
	}
	return pid;
}

static __attribute__((noinline)) pid_t vfork_child_exit3(void)
{
	pid_t pid = vfork();
	if (pid == 0)
		_exit(3);
	return pid;
}

static void run_vfork(long n)
{
	volatile long canary[8];
	for (long i = 0; i < n; i++) {
		for (int j = 0; j < 8; j++)
			canary[j] = 0x5a5a0000 + j * 7 + i;
		vfork_child_saw = -1;
		pid_t pid = vfork_child_getpid();
		if (pid < 0)
			fail("vfork");
		int status;
		if (waitpid(pid, &status, 0) != pid)
			fail("waitpid vfork child");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail("vfork child status 0x%x", status);
		if (vfork_child_saw != pid)
			fail("vfork child saw pid %ld, vfork returned %d", vfork_child_saw, (int)pid);
		check_parent_after_vfork(canary, i);
	}
}

static void run_vfork_parent(long n)
{
	volatile long canary[8];
	for (long i = 0; i < n; i++) {
		for (int j = 0; j < 8; j++)
			canary[j] = 0x5a5a0000 + j * 7 + i;
		pid_t pid = vfork_child_exit3();
		if (pid < 0)
			fail("vfork");
		if (getpid() != expected_pid)
			fail("vfork parent: getpid returned a wrong pid");
		int status;
		if (waitpid(pid, &status, 0) != pid)
			fail("waitpid vfork child");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 3)
			fail("vfork child status 0x%x", status);
		check_parent_after_vfork(canary, i);
	}
}

/* --- dlopen ----------------------------------------------------------- */

static void run_dlopen(long n)
{
	/* the library sits next to this executable */
	char path[4096];
	ssize_t len = readlink("/proc/self/exe", path, sizeof(path) - 64);
	if (len <= 0)
		fail("readlink /proc/self/exe");
	path[len] = '\0';
	char *slash = strrchr(path, '/');
	strcpy(slash + 1, "libgetpid_dl.so");
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		fail("dlopen %s: %s", path, dlerror());
	long (*loop)(long, long) = (long (*)(long, long))dlsym(lib, "dl_getpid_loop");
	if (!loop)
		fail("dlsym dl_getpid_loop: %s", dlerror());
	long right = loop(n, expected_pid);
	if (right != n)
		fail("dlopen library: %ld of %ld getpid results right", right, n);
	dlclose(lib);
}

/* --- execve ----------------------------------------------------------- */

static void run_execve(const char *argv0, const char *count)
{
	char *const argv[] = { (char *)argv0, "libc", (char *)count, NULL };
	char *const envp[] = { NULL };
	fflush(NULL);
	execve("/proc/self/exe", argv, envp);
	fail("execve: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	if (argc != 3)
		fail("usage: %s MODE N", argv[0]);
	const char *mode = argv[1];
	long n = parse_count(argv[2]);
	expected_pid = pid_from_proc();

	if (strcmp(mode, "libc") == 0)
		run_libc(n);
	else if (strcmp(mode, "syscall") == 0)
		run_syscall(n);
	else if (strcmp(mode, "asm") == 0)
		run_asm(n);
	else if (strcmp(mode, "threads") == 0)
		run_threads(n);
	else if (strcmp(mode, "clone") == 0)
		run_clone(n);
	else if (strcmp(mode, "clone_thread") == 0)
		run_clone_thread(n);
	else if (strcmp(mode, "fork") == 0)
		run_fork(n);
	else if (strcmp(mode, "vfork") == 0)
		run_vfork(n);
	else if (strcmp(mode, "vfork_parent") == 0)
		run_vfork_parent(n);
	else if (strcmp(mode, "dlopen") == 0)
		run_dlopen(n);
	else if (strcmp(mode, "execve") == 0)
		run_execve(argv[0], argv[2]);
	else
		fail("unknown mode %s", mode);
	printf("ok %s %ld\n", mode, n);
	return 0;
}
