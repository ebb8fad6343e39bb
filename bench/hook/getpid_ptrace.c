/*
 * getpid_ptrace.c - ptrace: a tracer process runs the hook.
 *
 * The program forks.  The child (the tracee) asks to be traced
 * (PTRACE_TRACEME), stops itself with SIGSTOP so the parent can configure
 * tracing before anything interesting happens, then runs the timed getpid
 * loop and sends its result to the parent through a pipe.
 *
 * The parent (the tracer) resumes the child with PTRACE_SYSCALL, so the
 * kernel stops the child twice per system call: at entry (before the call
 * runs) and at exit (after, with the result in rax).  Each stop is two
 * context switches (tracee -> tracer -> tracee) plus the tracer's own
 * system calls, which is why ptrace is the slowest mechanism.  At each stop
 * the tracer runs the hook: it reads the stop with PTRACE_GET_SYSCALL_INFO
 * (entry: number and arguments; exit: return value), counts getpid entries
 * and exits and checks that every getpid returned the child's pid.
 *
 * Options:
 *  - PTRACE_O_TRACESYSGOOD marks system-call stops as SIGTRAP|0x80, so they
 *    cannot be confused with a real SIGTRAP sent to the child.
 *  - PTRACE_O_EXITKILL kills the child if the tracer dies, so a failed
 *    benchmark never leaves a stopped process behind.
 */
#include "getpid_loop.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

struct child_report {
	struct getpid_loop_result res;
	pid_t pid;   /* the child's pid as it saw it in /proc/self */
};

static void run_tracee(long iters, int report_fd)
{
	struct child_report rep;

	rep.pid = pid_from_proc();
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) != 0) {
		perror("getpid_ptrace: PTRACE_TRACEME");
		_exit(1);
	}
	/*
	 * kill() and not raise(): glibc's raise() calls getpid internally,
	 * which is harmless here but would blur what the tracer counts.
	 */
	kill(rep.pid, SIGSTOP);

	getpid_loop(iters, rep.pid, &rep.res);
	if (write(report_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(1);
	_exit(0);
}

struct tracer_counts {
	long getpid_entries;
	long getpid_exits;
	long getpid_wrong_results;
};

/* The hook, run in the tracer at every system-call stop of the tracee. */
static void tracer_hook(pid_t child, int *in_getpid, struct tracer_counts *counts)
{
	struct __ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, child, (void *)sizeof(info), &info) <= 0)
		return;
	if (info.op == PTRACE_SYSCALL_INFO_ENTRY) {
		*in_getpid = info.entry.nr == SYS_getpid;
		if (*in_getpid)
			counts->getpid_entries++;
	} else if (info.op == PTRACE_SYSCALL_INFO_EXIT && *in_getpid) {
		counts->getpid_exits++;
		if (info.exit.rval != child)
			counts->getpid_wrong_results++;
		*in_getpid = 0;
	}
}

int main(int argc, char **argv)
{
	long iters = getpid_loop_parse_iters(argc, argv, 10000);
	struct child_report rep;
	struct tracer_counts counts = { 0 };
	int fds[2], status, in_getpid = 0;
	const char *reason = NULL;
	pid_t child;

	memset(&rep, 0, sizeof(rep));
	if (pipe(fds) != 0) {
		perror("getpid_ptrace: pipe");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("getpid_ptrace: fork");
		return 1;
	}
	if (child == 0) {
		close(fds[0]);
		run_tracee(iters, fds[1]);
	}
	close(fds[1]);

	/* The child's SIGSTOP: it is now traced and waiting for us. */
	if (waitpid(child, &status, 0) != child || !WIFSTOPPED(status)) {
		fprintf(stderr, "getpid_ptrace: tracee did not stop\n");
		return getpid_loop_report("ptrace", &rep.res, -1, 0, child, "tracee_did_not_stop");
	}
	if (ptrace(PTRACE_SETOPTIONS, child, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL)) != 0) {
		perror("getpid_ptrace: PTRACE_SETOPTIONS");
		kill(child, SIGKILL);
		return getpid_loop_report("ptrace", &rep.res, -1, 0, child, "setoptions_failed");
	}

	int deliver = 0;   /* the SIGSTOP that stopped it is swallowed */
	for (;;) {
		if (ptrace(PTRACE_SYSCALL, child, NULL, (void *)(long)deliver) != 0) {
			perror("getpid_ptrace: PTRACE_SYSCALL");
			kill(child, SIGKILL);
			reason = "ptrace_syscall_failed";
			break;
		}
		if (waitpid(child, &status, 0) != child) {
			perror("getpid_ptrace: waitpid");
			reason = "waitpid_failed";
			break;
		}
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				reason = "tracee_failed";
			break;
		}
		deliver = 0;
		if (WSTOPSIG(status) == (SIGTRAP | 0x80))
			tracer_hook(child, &in_getpid, &counts);
		else
			deliver = WSTOPSIG(status);   /* a real signal: pass it on */
	}

	if (read(fds[0], &rep, sizeof(rep)) != (ssize_t)sizeof(rep) && reason == NULL)
		reason = "no_report_from_tracee";
	if (reason == NULL && rep.pid != child)
		reason = "tracee_pid_mismatch";
	if (reason == NULL && counts.getpid_exits != counts.getpid_entries)
		reason = "getpid_entries_and_exits_differ";
	if (reason == NULL && counts.getpid_wrong_results != 0)
		reason = "tracer_saw_wrong_getpid_result";
	return getpid_loop_report("ptrace", &rep.res, counts.getpid_entries,
				  rep.res.warmup + rep.res.iters, child, reason);
}
