/*
 * mech_check.c - what the signal-based mechanisms (ZP_MECHANISM=int3, sud,
 * seccomp; zpoline/sigpath.c) must get right beyond counting calls.
 *
 *   loaders/zprun --mechanism M --hook passthrough -- tests/out/mech_check
 *   (tests/mechanisms/run.sh runs it under zpoline, int3, sud and seccomp)
 *
 * Also runs natively and under zpoline mode (same expectations), so every
 * check compares with what the kernel alone does.  Checks:
 *   fork+wait, vfork+_exit, vfork+execve, posix_spawn, pthread_create/join
 *   (arguments and callee-saved state reach the thread), sigprocmask
 *   (a blocked signal stays pending, unblocking delivers it, the old mask
 *   is reported), a handler installed with a full sa_mask making system
 *   calls, sigsuspend with a full mask but one signal, a handler on an
 *   alternate stack making system calls, sigaction for the mechanism's own
 *   signals (SIGTRAP, SIGSYS): installed and reported back, and a raise()
 *   of them reaches the application's handler.
 * Under seccomp execve is refused (EPERM): the exec checks then expect that.
 * Prints one line per failure and "mech_check: ok" at the end; exit 0 = all
 * passed.  Every wait is bounded.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int failures;
static int exec_refused;  /* ZP_MECHANISM=seccomp */

#define CHECK(cond, ...)                                         \
	do {                                                     \
		if (!(cond)) {                                   \
			printf("FAIL %s:%d: ", __func__, __LINE__); \
			printf(__VA_ARGS__);                     \
			printf("\n");                            \
			failures++;                              \
		}                                                \
	} while (0)

static int child_status(pid_t pid)
{
	int st = -1;
	for (int i = 0; i < 1000; i++) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		usleep(10000);
	}
	return -1;
}

static void check_fork(void)
{
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0)
		_exit(getppid() == parent ? 7 : 1);
	CHECK(pid > 0, "fork: %s", strerror(errno));
	int st = child_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 7, "fork child status 0x%x", st);
}

static void check_vfork(void)
{
	volatile int touched = 0;
	pid_t pid = vfork();
	if (pid == 0) {
		touched = 1;
		_exit(getpid() != 0 ? 5 : 1);
	}
	CHECK(pid > 0, "vfork: %s", strerror(errno));
	int st = child_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 5, "vfork child status 0x%x", st);
	CHECK(touched == 1, "vfork child did not share memory");

	char *argv[] = { "/bin/sh", "-c", "exit 3", NULL };
	pid = vfork();
	if (pid == 0) {
		execve(argv[0], argv, environ);
		_exit(errno == EPERM ? 9 : 127);
	}
	st = child_status(pid);
	int want = exec_refused ? 9 : 3;
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == want, "vfork+execve status 0x%x, want exit %d", st, want);
}

static void check_spawn(void)
{
	char *argv[] = { "/bin/sh", "-c", "exit 4", NULL };
	pid_t pid;
	int r = posix_spawn(&pid, argv[0], NULL, NULL, argv, environ);
	if (exec_refused) {
		CHECK(r == EPERM, "posix_spawn under seccomp: %d, want EPERM", r);
		return;
	}
	CHECK(r == 0, "posix_spawn: %s", strerror(r));
	if (r == 0) {
		int st = child_status(pid);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 4, "posix_spawn child status 0x%x", st);
	}
}

struct thread_arg {
	long in, out;
	pid_t tid;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	a->out = a->in * 3;
	a->tid = (pid_t)syscall(SYS_gettid);
	return (void *)(a->in + 1);
}

static void check_threads(void)
{
	struct thread_arg args[8];
	pthread_t t[8];
	for (int i = 0; i < 8; i++) {
		args[i] = (struct thread_arg){ .in = 100 + i };
		CHECK(pthread_create(&t[i], NULL, thread_main, &args[i]) == 0, "pthread_create %d", i);
	}
	for (int i = 0; i < 8; i++) {
		void *ret = NULL;
		CHECK(pthread_join(t[i], &ret) == 0, "pthread_join %d", i);
		CHECK(ret == (void *)(args[i].in + 1), "thread %d returned %p", i, ret);
		CHECK(args[i].out == args[i].in * 3, "thread %d computed %ld", i, args[i].out);
		CHECK(args[i].tid != 0 && args[i].tid != getpid(), "thread %d tid %d", i, args[i].tid);
	}
}

static volatile sig_atomic_t usr1_count, usr2_count, own_count;
static volatile pid_t handler_pid;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_count++;
	handler_pid = getpid();  /* a system call inside the handler */
}

static void check_procmask(void)
{
	signal(SIGUSR1, on_usr1);
	sigset_t block, old, now;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	usr1_count = 0;
	CHECK(sigprocmask(SIG_BLOCK, &block, &old) == 0, "sigprocmask block");
	CHECK(!sigismember(&old, SIGUSR1), "old mask had SIGUSR1");
	raise(SIGUSR1);
	getppid();
	CHECK(usr1_count == 0, "blocked SIGUSR1 was delivered");
	CHECK(sigprocmask(SIG_BLOCK, NULL, &now) == 0 && sigismember(&now, SIGUSR1), "mask lost SIGUSR1");
	sigset_t pending;
	sigpending(&pending);
	CHECK(sigismember(&pending, SIGUSR1), "SIGUSR1 not pending");
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0, "sigprocmask restore");
	CHECK(usr1_count == 1, "unblocking did not deliver SIGUSR1 (%d)", (int)usr1_count);
	CHECK(handler_pid == getpid(), "getpid in handler");

	/* Everything blocked: system calls must keep working. */
	sigset_t all;
	sigfillset(&all);
	CHECK(sigprocmask(SIG_SETMASK, &all, &old) == 0, "block all");
	CHECK(getpid() > 0 && getppid() > 0, "calls with every signal blocked");
	CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0, "unblock all");
}

static void on_usr2(int sig)
{
	(void)sig;
	usr2_count++;
	handler_pid = getpid();
	char buf[1];
	(void)write(-1, buf, 0);  /* EBADF, a second call */
}

static void check_full_mask_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	sigfillset(&sa.sa_mask);  /* as dash and many daemons do */
	CHECK(sigaction(SIGUSR2, &sa, NULL) == 0, "sigaction SIGUSR2");
	usr2_count = 0;
	raise(SIGUSR2);
	CHECK(usr2_count == 1, "full-mask handler ran %d times", (int)usr2_count);

	struct sigaction back;
	CHECK(sigaction(SIGUSR2, NULL, &back) == 0 && back.sa_handler == on_usr2, "sigaction read back");

	/* sigsuspend with everything blocked but SIGUSR2, from a blocked state */
	sigset_t block, old, wait_mask;
	sigemptyset(&block);
	sigaddset(&block, SIGUSR2);
	sigprocmask(SIG_BLOCK, &block, &old);
	usr2_count = 0;
	raise(SIGUSR2);
	sigfillset(&wait_mask);
	sigdelset(&wait_mask, SIGUSR2);
	int r = sigsuspend(&wait_mask);
	CHECK(r == -1 && errno == EINTR, "sigsuspend: %d %s", r, strerror(errno));
	CHECK(usr2_count == 1, "sigsuspend handler ran %d times", (int)usr2_count);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void check_altstack(void)
{
	static char stack[256 * 1024];
	stack_t ss = { .ss_sp = stack, .ss_size = sizeof stack, .ss_flags = 0 };
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack");
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_ONSTACK;
	sigaction(SIGUSR1, &sa, NULL);
	usr1_count = 0;
	for (int i = 0; i < 100; i++)
		raise(SIGUSR1);
	CHECK(usr1_count == 100, "altstack handler ran %d times", (int)usr1_count);
	/* a child that shares our memory while handlers use the alternate stack */
	pid_t pid = vfork();
	if (pid == 0) {
		raise(SIGUSR1);
		_exit(6);
	}
	int st = child_status(pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 6, "vfork child with altstack 0x%x", st);
	CHECK(getpid() > 0, "after vfork with altstack");
	ss.ss_flags = SS_DISABLE;
	CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack disable");
}

static void on_own(int sig, siginfo_t *info, void *uc)
{
	(void)uc;
	if (info->si_code == SI_TKILL && info->si_signo == sig)
		own_count++;
	handler_pid = getpid();
}

static void check_own_signal(int sig)
{
	struct sigaction sa, back, prev;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_own;
	sa.sa_flags = SA_SIGINFO;
	CHECK(sigaction(sig, &sa, &prev) == 0, "sigaction(%d)", sig);
	CHECK(prev.sa_handler == SIG_DFL, "initial action of %d not SIG_DFL", sig);
	CHECK(sigaction(sig, NULL, &back) == 0 && back.sa_sigaction == on_own, "read back %d", sig);
	own_count = 0;
	raise(sig);
	CHECK(own_count == 1, "raise(%d) reached the handler %d times", sig, (int)own_count);
	CHECK(getpid() > 0, "calls after raise(%d)", sig);
	signal(sig, SIG_DFL);
}

int main(void)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	const char *m = getenv("ZP_MECHANISM");
	const char *pre = getenv("LD_PRELOAD");
	exec_refused = m && strcmp(m, "seccomp") == 0 && pre && strstr(pre, "libzpoline");
	check_fork();
	check_vfork();
	check_spawn();
	check_threads();
	check_procmask();
	check_full_mask_handler();
	check_altstack();
	/* zpoline mode lets the application take SIGTRAP over (documented). */
	if (!(pre && strstr(pre, "libzpoline")) || (m && *m && strcmp(m, "zpoline") != 0)) {
		check_own_signal(SIGTRAP);
		check_own_signal(SIGSYS);
	}
	printf("mech_check: %s (%d failures)\n", failures ? "FAILED" : "ok", failures);
	return failures ? 1 : 0;
}
