/*
 * zptrace - run a program with every system call going through an exitless
 * hook library, by ptrace: the ptrace mechanism.
 *
 *   LIBZPHOOK=/abs/path/libzphook_X.so zptrace [--] PROGRAM [ARGS...]
 *   (zprun --mechanism ptrace --hook X -- PROGRAM ... execs this)
 *
 * The hook library is loaded here, in the tracer, not in the program: the
 * program runs unmodified, and each of its system calls stops it (a
 * syscall-entry stop) while the hook runs in the tracer.  The hook's
 * api->next runs calls inside the program's thread; pointers are marshalled
 * with process_vm_readv/writev.  How, and why one tracer process per traced
 * process and one coroutine per traced thread: loaders/ptrace/tracer.c;
 * the memory: loaders/ptrace/marshal.c.
 *
 * Without LIBZPHOOK every call runs unchanged (pass-through).
 *
 * Exit status: the program's own; if it was killed by a signal, zptrace
 * kills itself with the same signal (as a shell would report it).  Its own
 * errors: 2 bad usage, 126 the hook library cannot be loaded or the program
 * cannot be executed, 127 the program is not found.
 *
 * Signals sent to zptrace itself with kill (SIGTERM, SIGINT, SIGHUP,
 * SIGQUIT, SIGUSR1/2) are passed on to the program, so `kill $!` of a
 * zptrace started in the background stops the program as it would stop
 * the program itself.  (Terminal signals reach the program directly.)
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hook_init.h"
#include "ptrace/tracer.h"

enum {
	EXIT_USAGE = 2,
	EXIT_CANNOT_RUN = 126,
	EXIT_NOT_FOUND = 127,
};

static void usage(FILE *out)
{
	fputs("Usage: [LIBZPHOOK=/path/libzphook_X.so] zptrace [--] PROGRAM [ARGS...]\n"
	      "Run PROGRAM under ptrace with every system call through the hook library\n"
	      "named by LIBZPHOOK (none: pass-through). The exit status is PROGRAM's.\n"
	      "Exit status of its own: 2 bad usage, 126 hook library not loadable or\n"
	      "PROGRAM not executable, 127 PROGRAM not found.\n", out);
}

/* --- finding the program, as a shell would ---------------------------------------- */

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

/*
 * The file execve should run for NAME: NAME itself if it has a '/', else
 * the first executable NAME in PATH.  On failure, one line on stderr and the
 * exit status a shell would give (127 not found, 126 found but not runnable).
 */
static void resolve_program(const char *name, char *out, size_t size)
{
	if (strchr(name, '/')) {
		if (access(name, F_OK) != 0) {
			fprintf(stderr, "zptrace: %s: %s\n", name, strerror(errno));
			exit(EXIT_NOT_FOUND);
		}
		if (!is_executable_file(name)) {
			fprintf(stderr, "zptrace: %s: %s\n", name,
				access(name, X_OK) != 0 ? strerror(errno) : "Is not a regular file");
			exit(EXIT_CANNOT_RUN);
		}
		snprintf(out, size, "%s", name);
		return;
	}
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	bool found_unrunnable = false;
	while (*path) {
		const char *colon = strchr(path, ':');
		size_t len = colon ? (size_t)(colon - path) : strlen(path);
		int n = len ? snprintf(out, size, "%.*s/%s", (int)len, path, name)
			    : snprintf(out, size, "%s", name);   /* empty entry: the current directory */
		if (n > 0 && (size_t)n < size) {
			if (is_executable_file(out))
				return;
			if (access(out, F_OK) == 0)
				found_unrunnable = true;
		}
		path += len + (colon ? 1 : 0);
		if (!colon)
			break;
	}
	if (found_unrunnable) {
		fprintf(stderr, "zptrace: %s: Permission denied\n", name);
		exit(EXIT_CANNOT_RUN);
	}
	fprintf(stderr, "zptrace: %s: command not found\n", name);
	exit(EXIT_NOT_FOUND);
}

/* --- the hook library -------------------------------------------------------------- */

static _Noreturn void load_failed(const char *path, const char *why)
{
	fprintf(stderr, "zptrace: cannot load hook library %s: %s (check LIBZPHOOK)\n", path, why);
	exit(EXIT_CANNOT_RUN);
}

/* Load LIBZPHOOK (both ABIs, as zpoline/hookload.c); NULL without one. */
static zphook_fn load_hook(void)
{
	const char *path = getenv("LIBZPHOOK");
	if (!path || !*path)
		return NULL;
	/* Our own namespace is fine: the tracer's libc makes real system
	 * calls, and api->next is how the hook reaches the program. */
	void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		load_failed(path, dlerror());
	zphook_fn hook = zpt_next;
	int exitless_abi;
	char why[64];
	const char *failure = zphook_start(lib, &zpt_hook_api, &hook, &exitless_abi, why, sizeof why);
	if (failure)
		load_failed(path, failure);
	return hook;
}

/* --- signals sent to us ----------------------------------------------------------------- */

static volatile pid_t program_pid;

/* Only what someone sent with kill (si_code <= 0): a terminal's signal
 * reaches the program's process group directly already. */
static void forward_signal(int sig, siginfo_t *info, void *uctx)
{
	(void)uctx;
	if (info->si_code <= 0 && program_pid > 0)
		kill(program_pid, sig);
}

static void forward_signals(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 };
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = forward_signal;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}

int main(int argc, char **argv)
{
	int first = 1;
	if (first < argc && (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (first < argc && strcmp(argv[first], "--") == 0)
		first++;
	else if (first < argc && argv[first][0] == '-' && argv[first][1] != '\0') {
		fprintf(stderr, "zptrace: unknown option '%s' (try 'zptrace --help')\n", argv[first]);
		return EXIT_USAGE;
	}
	if (first >= argc) {
		fputs("zptrace: no program given (try 'zptrace --help')\n", stderr);
		return EXIT_USAGE;
	}

	char program[PATH_MAX];
	resolve_program(argv[first], program, sizeof program);
	zphook_fn hook = load_hook();

	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		perror("zptrace: fork");
		return EXIT_CANNOT_RUN;
	}
	if (pid == 0) {
		/* Stopped until the tracer has set its options; the hook sees
		 * every call from the execve on. */
		if (ptrace(PTRACE_TRACEME, 0, 0, 0) != 0) {
			fprintf(stderr, "zptrace: PTRACE_TRACEME: %s\n", strerror(errno));
			_exit(EXIT_CANNOT_RUN);
		}
		raise(SIGSTOP);
		execv(program, &argv[first]);
		int err = errno;
		fprintf(stderr, "zptrace: %s: %s\n", argv[first], strerror(err));
		_exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN);
	}
	program_pid = pid;
	forward_signals();

	int status;
	while (waitpid(pid, &status, __WALL) < 0)
		if (errno != EINTR) {
			perror("zptrace: waitpid");
			return EXIT_CANNOT_RUN;
		}
	if (!WIFSTOPPED(status)) {
		fputs("zptrace: the program ended before it could be traced\n", stderr);
		return EXIT_CANNOT_RUN;
	}
	zpt_trace(pid, hook);
}
