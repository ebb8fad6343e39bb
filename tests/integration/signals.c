/*
 * signals.c - signal delivery, handlers making system calls, rt_sigreturn
 * and SA_RESTART under libzpoline.
 *
 *   signals ITER
 *
 * Part 1 (stress): while the main thread loops ITER times over getpid, with
 * nanosleep and blocking pipe reads in between, signals keep arriving:
 * SIGALRM from an interval timer (handler on an alternate signal stack) and
 * SIGUSR1 sent by another thread with tgkill in a tight loop.  Both handlers
 * call getpid.  Signals land in the application, inside the hook and inside
 * blocking calls the hook made; every handler returns through rt_sigreturn.
 * The program counts its own getpid calls (main + handlers) and prints
 *     getpid_calls=<total>
 * which the count hook must match exactly.
 *
 * Part 2 (semantics, compared with the kernel's documented behaviour):
 *   - a read blocked on a pipe, interrupted by a SA_RESTART handler, is
 *     restarted and returns the data (no EINTR);
 *   - the same without SA_RESTART fails with EINTR;
 *   - nanosleep interrupted by a SA_RESTART handler fails with EINTR
 *     (nanosleep is never restarted) and reports the remaining time.
 *
 * Exit status 0 = every check passed.  All loops are bounded.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "testutil.h"

static long the_pid;
static pid_t main_tid;
static atomic_long handler_getpids;
static atomic_long handler_wrong;
static atomic_long usr1_seen, usr2_seen, alrm_seen;

static void handler_common(void)
{
	/* errno must survive the handler, as the interrupted code expects */
	int saved = errno;
	atomic_fetch_add(&handler_getpids, 1);
	if (getpid() != the_pid)
		atomic_fetch_add(&handler_wrong, 1);
	errno = saved;
}

static void on_alarm(int sig)
{
	(void)sig;
	atomic_fetch_add(&alrm_seen, 1);
	handler_common();
}

static void on_usr1(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr1_seen, 1);
	handler_common();
}

static void on_usr2(int sig)
{
	(void)sig;
	atomic_fetch_add(&usr2_seen, 1);
	handler_common();
}

static void install(int sig, void (*fn)(int), int flags)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = fn;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL) != 0)
		fail("sigaction %d", sig);
}

static void sleep_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* --- part 1 ------------------------------------------------------------ */

struct writer_job {
	int fd;
	long bytes;
};

/* Feed the main thread's blocking reads, slowly enough that it blocks. */
static void *writer_main(void *arg)
{
	struct writer_job *job = arg;
	for (long i = 0; i < job->bytes; i++) {
		sleep_us(100);
		char c = 'x';
		ssize_t w;
		do
			w = write(job->fd, &c, 1);
		while (w < 0 && errno == EINTR);
		if (w != 1)
			fail("writer: write: %s", strerror(errno));
	}
	return NULL;
}

static atomic_int stop_killer;

/* SIGUSR1 to the main thread in a tight loop (bounded count). */
static void *killer_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 20000 && !atomic_load(&stop_killer); i++) {
		if (syscall(SYS_tgkill, the_pid, main_tid, SIGUSR1) != 0)
			fail("tgkill: %s", strerror(errno));
		if (i % 8 == 0)
			sched_yield();
	}
	return NULL;
}

static long stress(long iters)
{
	long main_getpids = 0;
	int pipefd[2];
	if (pipe(pipefd) != 0)
		fail("pipe");

	/* SIGALRM runs on an alternate stack: the hook must cope there too */
	static char altstack[64 * 1024];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack), .ss_flags = 0 };
	if (sigaltstack(&ss, NULL) != 0)
		fail("sigaltstack");
	install(SIGALRM, on_alarm, SA_RESTART | SA_ONSTACK);
	install(SIGUSR1, on_usr1, SA_RESTART);

	const long read_every = 64;
	struct writer_job wjob = { .fd = pipefd[1], .bytes = iters / read_every };
	pthread_t writer, killer;
	if (pthread_create(&writer, NULL, writer_main, &wjob) != 0)
		fail("pthread_create writer");
	atomic_store(&stop_killer, 0);
	if (pthread_create(&killer, NULL, killer_main, NULL) != 0)
		fail("pthread_create killer");

	struct itimerval it = { { 0, 500 }, { 0, 500 } };
	if (setitimer(ITIMER_REAL, &it, NULL) != 0)
		fail("setitimer");

	long reads = 0;
	for (long i = 1; i <= iters; i++) {
		main_getpids++;
		if (getpid() != the_pid)
			fail("main: getpid returned a wrong pid");
		if (i % 16 == 0) {
			struct timespec ts = { 0, 20000 };
			/* EINTR is expected here: nanosleep is never restarted */
			if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
				fail("nanosleep: %s", strerror(errno));
		}
		if (i % read_every == 0 && reads < wjob.bytes) {
			char c;
			ssize_t r = read(pipefd[0], &c, 1);
			/* SA_RESTART on both handlers: a blocked read never sees EINTR */
			if (r != 1 || c != 'x')
				fail("main: read returned %zd (%s) under SA_RESTART", r,
				     r < 0 ? strerror(errno) : "short");
			reads++;
		}
	}

	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	atomic_store(&stop_killer, 1);
	pthread_join(killer, NULL);
	pthread_join(writer, NULL);
	/* From here on no handler runs, so the handler count is final. */
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	close(pipefd[0]);
	close(pipefd[1]);

	if (reads != wjob.bytes)
		fail("main: %ld reads, expected %ld", reads, wjob.bytes);
	if (atomic_load(&handler_wrong))
		fail("handlers: %ld wrong getpid results", atomic_load(&handler_wrong));
	fprintf(stderr, "stress: %ld main getpids, %ld in handlers (alrm %ld, usr1 %ld)\n",
		main_getpids, atomic_load(&handler_getpids), atomic_load(&alrm_seen),
		atomic_load(&usr1_seen));
	if (atomic_load(&usr1_seen) == 0)
		fail("no SIGUSR1 handled: the test exercised nothing");
	sigprocmask(SIG_UNBLOCK, &all, NULL);
	return main_getpids;
}

/* --- part 2 ------------------------------------------------------------ */

struct poke_job {
	int sig;
	int write_fd;   /* -1: do not write */
};

/* Wait until the main thread is (very likely) blocked, signal it, then
 * write one byte so a restarted read can complete. */
static void *poke_main(void *arg)
{
	struct poke_job *job = arg;
	sleep_us(100000);
	syscall(SYS_tgkill, the_pid, main_tid, job->sig);
	sleep_us(100000);
	if (job->write_fd >= 0 && write(job->write_fd, "y", 1) != 1)
		fail("poke: write");
	return NULL;
}

static void restart_semantics(void)
{
	install(SIGUSR1, on_usr1, SA_RESTART);
	install(SIGUSR2, on_usr2, 0);
	int pipefd[2];
	if (pipe(pipefd) != 0)
		fail("pipe");
	pthread_t t;
	char c;

	/* SA_RESTART: the read is restarted and returns the byte */
	long before = atomic_load(&usr1_seen);
	struct poke_job j1 = { SIGUSR1, pipefd[1] };
	pthread_create(&t, NULL, poke_main, &j1);
	ssize_t r = read(pipefd[0], &c, 1);
	int err = errno;
	pthread_join(t, NULL);
	if (r != 1)
		fail("SA_RESTART read returned %zd (%s), expected 1", r, strerror(err));
	if (atomic_load(&usr1_seen) != before + 1)
		fail("SA_RESTART read: handler ran %ld times, expected 1",
		     atomic_load(&usr1_seen) - before);

	/* no SA_RESTART: EINTR, then the byte is still there to read */
	before = atomic_load(&usr2_seen);
	struct poke_job j2 = { SIGUSR2, pipefd[1] };
	pthread_create(&t, NULL, poke_main, &j2);
	errno = 0;
	r = read(pipefd[0], &c, 1);
	err = errno;
	pthread_join(t, NULL);
	if (r != -1 || err != EINTR)
		fail("read without SA_RESTART returned %zd (%s), expected -1 EINTR", r, strerror(err));
	if (atomic_load(&usr2_seen) != before + 1)
		fail("read without SA_RESTART: handler ran %ld times, expected 1",
		     atomic_load(&usr2_seen) - before);
	if (read(pipefd[0], &c, 1) != 1 || c != 'y')
		fail("byte written during the interrupted read is lost");

	/* nanosleep: EINTR even with SA_RESTART, with the remaining time */
	struct poke_job j3 = { SIGUSR1, -1 };
	pthread_create(&t, NULL, poke_main, &j3);
	struct timespec ts = { 2, 0 }, rem = { 0, 0 };
	errno = 0;
	int s = nanosleep(&ts, &rem);
	err = errno;
	pthread_join(t, NULL);
	if (s != -1 || err != EINTR)
		fail("nanosleep returned %d (%s), expected -1 EINTR", s, strerror(err));
	if (rem.tv_sec == 0 && rem.tv_nsec == 0)
		fail("interrupted nanosleep reported no remaining time");
	if (rem.tv_sec > 2 || (rem.tv_sec == 2 && rem.tv_nsec > 0))
		fail("interrupted nanosleep reported too much remaining time");
	close(pipefd[0]);
	close(pipefd[1]);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		fail("usage: %s ITER", argv[0]);
	long iters = parse_count(argv[1]);
	the_pid = pid_from_proc();
	main_tid = (pid_t)syscall(SYS_gettid);

	long main_getpids = stress(iters);
	restart_semantics();

	/* all handlers are done (signals were blocked in stress, and part 2
	 * joined its senders after each handler ran) */
	long total = main_getpids + atomic_load(&handler_getpids);
	printf("getpid_calls=%ld\n", total);
	printf("ok signals %ld\n", iters);
	return 0;
}
