/*
 * tls_signal.c - a signal that interrupts a hooked call must find the
 * program's own thread pointer (tests/loaders/run.sh, static build).
 *
 *   tls_signal N    N rounds; prints "tls_signal: N rounds ok", exit 0
 *
 * Under the loader, while the hook runs, %fs is the hook world's TCB
 * (zpoline/loader_host.c).  Each round a thread blocks in read() on a
 * pipe, inside the hook, and the main thread sends it SIGUSR1.  The
 * handler reads and writes this thread's __thread variables and errno and
 * makes a system call (also hooked, nested).  If the handler ran with the
 * hook world's %fs, it would see another TLS block: the values would be
 * wrong (or the canary check of a protected function would abort).  The
 * read then returns EINTR (no SA_RESTART), and errno must still be that
 * of the read, not the handler's.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static __thread long marker = 0;        /* the thread sets its own value */
static __thread long handler_seen = 0;  /* what the handler read of it */
static int pipe_fd[2];
static volatile int blocked_tid;

static void on_usr1(int sig)
{
	(void)sig;
	int saved = errno;
	handler_seen = marker;
	errno = 0;
	syscall(SYS_getppid);   /* a hooked call from the handler */
	if (errno != 0)
		handler_seen = -1;
	errno = saved;
}

static void *reader(void *arg)
{
	long id = (long)arg;
	marker = 1000 + id;
	blocked_tid = (int)syscall(SYS_gettid);
	char c;
	ssize_t r = read(pipe_fd[0], &c, 1);  /* blocks inside the hook */
	int e = errno;
	if (r != -1 || e != EINTR) {
		fprintf(stderr, "round %ld: read returned %zd, errno %d (%s); wanted -1, EINTR\n", id, r, e,
			strerror(e));
		exit(1);
	}
	if (handler_seen != marker) {
		fprintf(stderr, "round %ld: the handler saw marker %ld, the thread's is %ld\n", id,
			handler_seen, marker);
		exit(1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long rounds = argc > 1 ? atol(argv[1]) : 20;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;   /* no SA_RESTART: read returns EINTR */
	if (sigaction(SIGUSR1, &sa, NULL) != 0 || pipe(pipe_fd) != 0) {
		perror("setup");
		return 1;
	}
	for (long i = 0; i < rounds; i++) {
		pthread_t th;
		blocked_tid = 0;
		if (pthread_create(&th, NULL, reader, (void *)i) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
		while (blocked_tid == 0)
			sched_yield();
		/* Give it time to reach the kernel in read (inside the hook). */
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
		syscall(SYS_tgkill, getpid(), blocked_tid, SIGUSR1);
		pthread_join(th, NULL);
	}
	printf("tls_signal: %ld rounds ok\n", rounds);
	return 0;
}
