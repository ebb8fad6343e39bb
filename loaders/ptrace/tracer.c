/*
 * tracer.c - zptrace's tracer: every system call of a traced process goes
 * through an unmodified exitless hook library loaded in the tracer.
 *
 * How a call travels.  The tracee stops at the syscall-entry stop.  The
 * tracer reads its registers, marshals the pointed-at memory (marshal.c)
 * and calls hook(nr, a1..a6) in a coroutine of that thread.  The hook's
 * api->next (zpt_next) runs a call *in the tracee thread*:
 *   - the original call, unchanged and not yet run: the tracee simply runs
 *     its own syscall instruction (PTRACE_SYSCALL to the exit stop).  This
 *     is what forwarding hooks always do; clone, fork, execve, exit work in
 *     place, with the tracee's own registers and stack.
 *   - anything else is injected: at the entry stop by replacing orig_rax
 *     and the argument registers; at an exit stop by moving rip back over
 *     the 2-byte syscall instruction and setting rax, so the same
 *     instruction runs again.  The hook's own buffers go through a scratch
 *     mapping in the tracee (mapped by an injected mmap).
 * When the hook returns, the tracee gets its result in rax and its other
 * registers as they were; if nothing ran, the call is skipped (orig_rax -1).
 *
 * Why coroutines.  One tracer thread serves all threads of the process.  A
 * call run in place may block on another thread of the same process (a
 * futex, a pipe, epoll_wait); if the tracer waited for it, the other thread,
 * stopped at its own entry stop, would never be let go.  So each thread's
 * hook invocation runs on a stack of its own (ucontext), and a thread whose
 * call runs in place yields to the scheduler loop (waitpid(-1, __WALL)),
 * which resumes whichever coroutine a stop belongs to.
 *
 * Why some waits are synchronous.  Calls the hook injects for itself
 * (usually non-blocking, or the netstack's deliberately bounded sleeps) and
 * the process-creating and -replacing calls (fork, vfork, clone, execve)
 * wait for their thread right there.  A hook may hold a lock across them
 * (the netstack holds its stack lock across fork and some injected calls):
 * were that coroutine to yield, another coroutine on the same OS thread
 * could take the same lock and the whole tracer would deadlock on itself.
 *
 * Processes.  A fork child must get its own copy of the hook's state, as
 * a fork of an in-process hook would (the netstack's MADV_WIPEONFORK owner
 * page, the count hook's getpid).  So each traced process has a tracer
 * process of its own: at a fork/vfork/clone event the tracer forks too, and
 * the new tracer takes the child over (hand_off below) and carries on with
 * the forking thread's coroutine, whose next() returns 0 there.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>
#include <linux/sched.h>

#include "marshal.h"
#include "tracee.h"
#include "tracer.h"

#define COROUTINE_STACK (8u << 20)   /* DPDK's start runs on it (netstack) */
#define SCRATCH_MIN (1u << 20)

enum thread_state {
	T_NEW,        /* auto-attached, its first stop not seen yet */
	T_IDLE,       /* running user code: the next syscall stop is an entry */
	T_HOOK,       /* its hook invocation is under way (coroutine) */
	T_SKIP_EXIT,  /* call skipped at entry: at the exit stop, rax = skip_result */
	T_PASS_EXIT,  /* call not hooked (rt_sigreturn): ignore its exit stop */
	T_EXITING,    /* exit/exit_group let go: only its exit is left */
};

struct tthread {
	pid_t tid;
	enum thread_state state;
	/* the call being hooked */
	struct user_regs_struct entry_regs;
	long nr;
	struct pt_call hb;
	bool at_entry;        /* nothing has run yet: still at the entry stop */
	bool original_done;   /* the tracee's own call ran */
	bool regs_dirty;      /* registers differ from entry_regs except rax */
	bool handed_off;      /* in a new tracer: the fork returned 0 here */
	long last_result;     /* rax as the tracee holds it now */
	long skip_result;
	long cur_nr;          /* the call the tracee is executing (own or injected) */
	long cur_args[6];
	sigset_t pending;     /* signals held back while the tracer ran calls */
	/* the coroutine */
	ucontext_t ctx;
	char *stack;
	/* api->thread_slot */
	void *slot;
};

/* What this tracer process traces: one process, all its threads. */
static struct {
	pid_t pid;              /* the traced process (thread group id) */
	zphook_fn hook;
	bool hooking;           /* from the program's first execve on */
	uint64_t scratch;       /* scratch mapping in the tracee, 0 if none */
	size_t scratch_size;
	struct tthread **threads;
	int nthreads, cap;
	pid_t *tracers;         /* our forked tracers: children, not tracees */
	int ntracers, tracers_cap;
} T;

/* waitpid results that came while a coroutine waited for its own thread. */
static struct stash { pid_t pid; int status; } *stash;
static int nstash, stash_cap;

static ucontext_t scheduler;
static struct tthread *current;   /* whose coroutine runs, NULL in the scheduler */
static struct tthread *dead;      /* a thread that died inside its coroutine, freed by the scheduler */

static void fatal(const char *what)
{
	fprintf(stderr, "zptrace: %s: %s\n", what, strerror(errno));
	fflush(NULL);
	kill(T.pid, SIGKILL);
	_exit(126);
}

/* --- threads -------------------------------------------------------------------- */

static struct tthread *thread_find(pid_t tid)
{
	for (int i = 0; i < T.nthreads; i++)
		if (T.threads[i]->tid == tid)
			return T.threads[i];
	return NULL;
}

static struct tthread *thread_add(pid_t tid, enum thread_state state)
{
	if (T.nthreads == T.cap) {
		T.cap = T.cap ? 2 * T.cap : 16;
		T.threads = realloc(T.threads, (size_t)T.cap * sizeof *T.threads);
		if (!T.threads)
			fatal("out of memory");
	}
	struct tthread *t = calloc(1, sizeof *t);
	if (!t)
		fatal("out of memory");
	t->tid = tid;
	t->state = state;
	sigemptyset(&t->pending);
	T.threads[T.nthreads++] = t;
	return t;
}

static void thread_free(struct tthread *t)
{
	pt_call_free(&t->hb);
	if (t->stack)
		munmap(t->stack, COROUTINE_STACK);
	free(t);
}

/* Never for the thread whose coroutine runs (its stack is in use). */
static void thread_remove(struct tthread *t)
{
	for (int i = 0; i < T.nthreads; i++)
		if (T.threads[i] == t) {
			T.threads[i] = T.threads[--T.nthreads];
			break;
		}
	thread_free(t);
}

/* Drop every thread but KEEP (execve ended them; a new tracer has one). */
static void threads_keep_only(struct tthread *keep)
{
	for (int i = 0; i < T.nthreads; i++)
		if (T.threads[i] != keep)
			thread_free(T.threads[i]);
	T.threads[0] = keep;
	T.nthreads = 1;
}

/* --- waiting -------------------------------------------------------------------- */

static bool is_our_tracer(pid_t pid)
{
	for (int i = 0; i < T.ntracers; i++)
		if (T.tracers[i] == pid)
			return true;
	return false;
}

static void stash_push(pid_t pid, int status)
{
	if (nstash == stash_cap) {
		stash_cap = stash_cap ? 2 * stash_cap : 16;
		stash = realloc(stash, (size_t)stash_cap * sizeof *stash);
		if (!stash)
			fatal("out of memory");
	}
	stash[nstash++] = (struct stash){ pid, status };
}

/* The stashed status of PID (-1: any), oldest first; false if none. */
static bool stash_pop(pid_t pid, pid_t *got, int *status)
{
	for (int i = 0; i < nstash; i++) {
		if (pid != -1 && stash[i].pid != pid)
			continue;
		*got = stash[i].pid;
		*status = stash[i].status;
		memmove(&stash[i], &stash[i + 1], (size_t)(nstash - i - 1) * sizeof *stash);
		nstash--;
		return true;
	}
	return false;
}

/* The next waitpid result of any child (the stash first). */
static pid_t wait_any(int *status)
{
	pid_t pid;
	if (stash_pop(-1, &pid, status))
		return pid;
	for (;;) {
		pid = waitpid(-1, status, __WALL);
		if (pid >= 0 || errno != EINTR)
			return pid;
	}
}

/*
 * The next result for PID; results of others are stashed for the scheduler
 * (they stay stopped meanwhile).  EXEC_OF_LEADER: also accept an exec event
 * of the thread group leader (a thread that calls execve becomes the leader
 * and reports under its pid).
 */
static pid_t wait_for(pid_t pid, int *status, bool exec_of_leader)
{
	pid_t got;
	if (stash_pop(pid, &got, status))
		return got;
	for (;;) {
		got = waitpid(-1, status, __WALL);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (got == pid)
			return got;
		if (exec_of_leader && got == T.pid && WIFSTOPPED(*status) &&
		    (*status >> 16) == PTRACE_EVENT_EXEC)
			return got;
		stash_push(got, *status);
	}
}

/* --- the end --------------------------------------------------------------------- */

/* The traced process ended with STATUS: end the same way. */
static _Noreturn void finish(int status)
{
	fflush(NULL);
	if (WIFSIGNALED(status)) {
		int sig = WTERMSIG(status);
		/* Like a shell's child: die by the same signal, without a core
		 * of our own (the program dumped its own, if any). */
		struct rlimit none = { 0, 0 };
		setrlimit(RLIMIT_CORE, &none);
		signal(sig, SIG_DFL);
		sigset_t set;
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		kill(getpid(), sig);
		_exit(128 + sig);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 1);
}

/* Thread T is gone (STATUS).  Called from its own coroutine: does not return. */
static _Noreturn void died_in_coroutine(struct tthread *t, int status)
{
	if (t->tid == T.pid)
		finish(status);
	/* Killed by another thread's exit_group or execve: the coroutine is
	 * abandoned, the scheduler frees it. */
	t->state = T_EXITING;
	for (int i = 0; i < T.nthreads; i++)
		if (T.threads[i] == t) {
			T.threads[i] = T.threads[--T.nthreads];
			break;
		}
	dead = t;
	setcontext(&scheduler);
	abort();
}

/* --- coroutines ------------------------------------------------------------------- */

static void coroutine_main(void);

static void switch_to(struct tthread *t)
{
	current = t;
	if (swapcontext(&scheduler, &t->ctx) != 0)
		fatal("swapcontext");
	current = NULL;
	if (dead) {
		thread_free(dead);
		dead = NULL;
	}
}

static void yield(struct tthread *t)
{
	if (swapcontext(&t->ctx, &scheduler) != 0)
		fatal("swapcontext");
}

static void start_coroutine(struct tthread *t)
{
	if (!t->stack) {
		t->stack = mmap(NULL, COROUTINE_STACK, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (t->stack == MAP_FAILED) {
			t->stack = NULL;
			fatal("cannot map a coroutine stack");
		}
		mprotect(t->stack, 4096, PROT_NONE);   /* a guard page */
	}
	getcontext(&t->ctx);
	t->ctx.uc_stack.ss_sp = t->stack;
	t->ctx.uc_stack.ss_size = COROUTINE_STACK;
	t->ctx.uc_link = &scheduler;
	makecontext(&t->ctx, coroutine_main, 0);
	switch_to(t);
}

/* --- signals held back ------------------------------------------------------------ */

/*
 * A signal that arrives while the tracer runs calls in a thread (between
 * the entry stop and the end of the hook) is held back: delivering it then
 * would run the program's handler in the middle of an injection.  It is
 * sent again when the thread returns to the program.
 */
static void hold_signal(struct tthread *t, int sig)
{
	sigaddset(&t->pending, sig);
}

static void release_signals(struct tthread *t)
{
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&t->pending, sig))
			syscall(SYS_tgkill, T.pid, t->tid, sig);
	sigemptyset(&t->pending);
}

/* --- processes --------------------------------------------------------------------- */

/* The clone flags of the call thread T is executing. */
static uint64_t clone_flags(struct tthread *t)
{
	switch (t->cur_nr) {
	case SYS_fork:
		return SIGCHLD;
	case SYS_vfork:
		return CLONE_VM | CLONE_VFORK | SIGCHLD;
	case SYS_clone:
		return (uint64_t)t->cur_args[0];
	case SYS_clone3: {
		uint64_t flags = 0;
		zpt_mem_read(&t->tid, &flags, (uint64_t)t->cur_args[0], sizeof flags);
		return flags;
	}
	}
	return 0;
}

enum wait_result { W_CONTINUE, W_SYSCALL, W_HANDED_OFF, W_YIELD };

/*
 * In the new tracer: the child C, parked by the old tracer, becomes our
 * traced process, and T (the forking thread's coroutine) its only thread.
 */
static void become_tracer_of(struct tthread *t, pid_t c, const struct user_regs_struct *cregs,
			     uint64_t flags)
{
	threads_keep_only(t);
	T.ntracers = 0;
	nstash = 0;
	T.pid = c;
	t->tid = c;
	sigemptyset(&t->pending);
	/* A fork child has its own copy of the scratch mapping; a CLONE_VM child
	 * shares the parent's, which the parent's tracer keeps using. */
	if (flags & CLONE_VM) {
		T.scratch = 0;
		T.scratch_size = 0;
	}
	if (ptrace(PTRACE_SEIZE, c, 0, ZPT_PTRACE_OPTIONS) != 0)
		fatal("PTRACE_SEIZE of a new process");
	ptrace(PTRACE_INTERRUPT, c, 0, 0);
	for (;;) {
		int status;
		if (waitpid(c, &status, __WALL) < 0) {
			if (errno == EINTR)
				continue;
			fatal("waitpid of a new process");
		}
		if (WIFEXITED(status) || WIFSIGNALED(status))
			finish(status);
		if ((status >> 16) == PTRACE_EVENT_STOP)
			break;
		/* A signal before our interrupt: hold it, the interrupt follows. */
		hold_signal(t, WSTOPSIG(status));
		ptrace(PTRACE_CONT, c, 0, 0);
	}
	/* The child's registers as fork left them.  orig_rax -1: the pause the
	 * old tracer parked it in was interrupted, and must not restart. */
	t->entry_regs = *cregs;
	t->entry_regs.orig_rax = (unsigned long long)-1;
	t->at_entry = false;
	t->regs_dirty = true;
	t->last_result = 0;
	t->handed_off = true;
}

/*
 * T's fork-like call created process C (not a thread).  C belongs in a
 * tracer of its own, a fork of this one.  Only one tracer may trace C, and
 * the new tracer is not C's parent, so C is passed by detaching and
 * re-attaching it.  Between the two it must not run program code: it is
 * parked in pause() (rip moved back onto the syscall instruction that
 * returned from fork, rax = SYS_pause), which the new tracer interrupts
 * with PTRACE_SEIZE + PTRACE_INTERRUPT.  (Detaching with SIGSTOP instead
 * would make a real group-stop, which the program, C's parent, would see
 * through waitpid(WUNTRACED) and SIGCHLD.)
 */
static enum wait_result hand_off(struct tthread *t, pid_t c, uint64_t flags)
{
	int status;
	if (wait_for(c, &status, false) < 0 || !WIFSTOPPED(status))
		return W_CONTINUE;   /* gone already */
	struct user_regs_struct cregs, park;
	if (zpt_getregs(c, &cregs) != 0)
		return W_CONTINUE;
	park = cregs;
	park.rip -= 2;
	park.rax = SYS_pause;
	zpt_setregs(c, &park);
	if (ptrace(PTRACE_DETACH, c, 0, 0) != 0)
		fatal("PTRACE_DETACH of a new process");

	fflush(NULL);
	pid_t tracer = fork();
	if (tracer < 0) {
		kill(c, SIGKILL);
		fatal("fork of the tracer");
	}
	if (tracer == 0) {
		become_tracer_of(t, c, &cregs, flags);
		return W_HANDED_OFF;
	}
	if (T.ntracers == T.tracers_cap) {
		T.tracers_cap = T.tracers_cap ? 2 * T.tracers_cap : 16;
		T.tracers = realloc(T.tracers, (size_t)T.tracers_cap * sizeof *T.tracers);
		if (!T.tracers)
			fatal("out of memory");
	}
	T.tracers[T.ntracers++] = tracer;
	/* vfork: the parent stays in the kernel until the child execs or
	 * exits, which its own tracer decides: do not hold up our others. */
	return (flags & CLONE_VFORK) ? W_YIELD : W_CONTINUE;
}

/* T's execve succeeded: the other threads are gone, T is the leader now. */
static void exec_happened(struct tthread *t)
{
	threads_keep_only(t);
	t->tid = T.pid;
	/* The new image has none of our scratch mapping. */
	T.scratch = 0;
	T.scratch_size = 0;
}

/* A PTRACE_EVENT stop of T (T is stopped; the caller resumes it). */
static enum wait_result on_event(struct tthread *t, int event)
{
	switch (event) {
	case PTRACE_EVENT_CLONE:
	case PTRACE_EVENT_FORK:
	case PTRACE_EVENT_VFORK: {
		pid_t c = (pid_t)zpt_event_msg(t->tid);
		uint64_t flags = event == PTRACE_EVENT_CLONE ? clone_flags(t)
			       : event == PTRACE_EVENT_VFORK ? CLONE_VM | CLONE_VFORK : 0;
		if (event == PTRACE_EVENT_CLONE && (flags & CLONE_THREAD)) {
			if (!thread_find(c))
				thread_add(c, T_NEW);
			return W_CONTINUE;
		}
		return hand_off(t, c, flags);
	}
	case PTRACE_EVENT_EXEC:
		exec_happened(t);
		return W_CONTINUE;
	case PTRACE_EVENT_STOP:   /* a group-stop of a seized tracee: not kept */
		if (t->state == T_NEW)
			t->state = T_IDLE;
		return W_CONTINUE;
	}
	return W_CONTINUE;
}

/*
 * Wait for T's next syscall stop, handling what comes before it: events
 * (thread and process creation, execve), signals (held back), group-stops.
 */
static enum wait_result wait_own_stop(struct tthread *t)
{
	for (;;) {
		int status;
		bool execing = t->cur_nr == SYS_execve || t->cur_nr == SYS_execveat;
		pid_t got = wait_for(t->tid, &status, execing && t->tid != T.pid);
		if (got < 0)
			fatal("waitpid");
		if (got != t->tid)
			t->tid = got;   /* a non-leader's execve: it is the leader now */
		if (WIFEXITED(status) || WIFSIGNALED(status))
			died_in_coroutine(t, status);
		int sig = WSTOPSIG(status), event = status >> 16;
		if (sig == ZPT_SYSCALL_STOP)
			return W_SYSCALL;
		if (event) {
			enum wait_result w = on_event(t, event);
			if (w == W_HANDED_OFF)
				return w;
			zpt_resume(t->tid, 0);
			if (w == W_YIELD)
				return w;
			continue;
		}
		if (!zpt_is_group_stop(t->tid, sig))
			hold_signal(t, sig);
		zpt_resume(t->tid, 0);
	}
}

/* --- running calls in the tracee -------------------------------------------------- */

/* Calls during which the tracer waits for the thread without yielding (see the top). */
static bool waits_synchronously(long nr)
{
	switch (nr) {
	case SYS_fork:
	case SYS_vfork:
	case SYS_clone:
	case SYS_clone3:
	case SYS_execve:
	case SYS_execveat:
		return true;
	}
	return false;
}

static bool is_restart_code(long r)
{
	return r == -512 || r == -513 || r == -514 || r == -516;  /* ERESTART* */
}

/* exit/exit_group: let the thread go; its coroutine ends here. */
static _Noreturn void let_exit(struct tthread *t)
{
	t->state = T_EXITING;
	release_signals(t);
	zpt_resume(t->tid, 0);
	setcontext(&scheduler);
	abort();
}

/* Point T's registers at a new run of its syscall instruction (T is at an exit stop). */
static void rewind_to(struct tthread *t, long nr, const long args[6])
{
	struct user_regs_struct regs = t->entry_regs;
	regs.rip -= 2;
	regs.rax = (unsigned long long)nr;
	zpt_regs_set_args(&regs, args);
	zpt_setregs(t->tid, &regs);
	zpt_resume(t->tid, 0);
	if (wait_own_stop(t) != W_SYSCALL)
		fatal("unexpected stop re-running a system call");
}

/* Run the thread's own call in place; returns its result. */
static long run_original(struct tthread *t)
{
	long args[6];
	zpt_regs_args(&t->entry_regs, args);
	t->original_done = true;
	t->cur_nr = t->nr;
	memcpy(t->cur_args, args, sizeof args);
	if (!t->at_entry)
		rewind_to(t, t->nr, args);   /* now at its entry stop */
	t->at_entry = false;
	if (t->nr == SYS_exit || t->nr == SYS_exit_group)
		let_exit(t);
	zpt_resume(t->tid, 0);
	enum wait_result w = waits_synchronously(t->nr) ? wait_own_stop(t) : W_YIELD;
	if (w == W_YIELD) {
		yield(t);   /* the scheduler resumes us at the exit stop */
	}
	if (t->handed_off) {
		/* A new tracer, and T the child: fork returns 0 here. */
		t->handed_off = false;
		return 0;
	}
	long r = zpt_get_rax(t->tid);
	t->regs_dirty = false;
	t->last_result = r;
	return r;
}

/* Inject NR(ARGS) (tracee addresses) into T; returns its result. */
static long inject(struct tthread *t, long nr, const long args[6])
{
	struct user_regs_struct regs = t->entry_regs;
	t->cur_nr = nr;
	memcpy(t->cur_args, args, sizeof t->cur_args);
	if (t->at_entry) {
		regs.orig_rax = (unsigned long long)nr;
		zpt_regs_set_args(&regs, args);
		zpt_setregs(t->tid, &regs);
		t->at_entry = false;
	} else {
		rewind_to(t, nr, args);
	}
	t->regs_dirty = true;
	if (nr == SYS_exit || nr == SYS_exit_group)
		let_exit(t);
	zpt_resume(t->tid, 0);
	enum wait_result w;
	while ((w = wait_own_stop(t)) == W_YIELD)
		;   /* an injected vfork: wait here all the same */
	if (w == W_HANDED_OFF || t->handed_off) {
		t->handed_off = false;
		return 0;
	}
	long r = zpt_get_rax(t->tid);
	t->last_result = r;
	return is_restart_code(r) ? -EINTR : r;
}

/* Scratch memory in the tracee for the hook's own buffers (marshal.h). */
static uint64_t scratch_area(void *ctx, size_t size)
{
	struct tthread *t = ctx;
	if (size <= T.scratch_size)
		return T.scratch;
	size_t want = (size + SCRATCH_MIN - 1) / SCRATCH_MIN * SCRATCH_MIN;
	if (T.scratch) {
		long unmap[6] = { (long)T.scratch, (long)T.scratch_size };
		inject(t, SYS_munmap, unmap);
		T.scratch = 0;
		T.scratch_size = 0;
	}
	long map[6] = { 0, (long)want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0 };
	long addr = inject(t, SYS_mmap, map);
	if (addr < 0 && addr > -4096)
		return 0;
	T.scratch = (uint64_t)addr;
	T.scratch_size = want;
	return T.scratch;
}

static const struct pt_mem tracee_mem = { zpt_mem_read, zpt_mem_write, NULL };

/* api->next: a system call in the tracee thread whose call is being hooked. */
long zpt_next(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	struct tthread *t = current;
	if (!t)
		return -ENOSYS;   /* outside a hooked call (zphook_init): no tracee thread */
	long args[6] = { a1, a2, a3, a4, a5, a6 };
	if (!t->original_done && pt_call_is_original(&t->hb, nr, args)) {
		long r = run_original(t);
		pt_call_refresh(&t->hb, r);
		return r;
	}
	struct pt_mem mem = tracee_mem;
	mem.ctx = &t->tid;
	struct pt_call nb;
	long r = pt_call_to_tracee(&nb, &t->hb, &mem, nr, args, scratch_area, t);
	if (r == 0) {
		r = inject(t, nr, nb.out_args);
		r = pt_call_tracee_done(&nb, &t->hb, r);
	}
	pt_call_free(&nb);
	return r;
}

/* The end of a hooked call: the tracee gets RESULT and its registers back. */
static void finish_call(struct tthread *t, long result)
{
	struct user_regs_struct regs = t->entry_regs;
	if (t->at_entry) {
		/* Nothing ran: skip the call (orig_rax -1), rax is the result. */
		regs.orig_rax = (unsigned long long)-1;
		regs.rax = (unsigned long long)result;
		zpt_setregs(t->tid, &regs);
		t->skip_result = result;
		t->state = T_SKIP_EXIT;
	} else {
		if (t->regs_dirty || result != t->last_result) {
			regs.rax = (unsigned long long)result;
			zpt_setregs(t->tid, &regs);
		}
		t->state = T_IDLE;
	}
	release_signals(t);
	zpt_resume(t->tid, 0);
}

static void coroutine_main(void)
{
	struct tthread *t = current;
	long args[6];
	zpt_regs_args(&t->entry_regs, args);
	t->nr = (long)t->entry_regs.orig_rax;
	t->at_entry = true;
	t->original_done = false;
	t->regs_dirty = false;
	t->handed_off = false;
	t->last_result = -ENOSYS;
	t->cur_nr = t->nr;

	struct pt_mem mem = tracee_mem;
	mem.ctx = &t->tid;
	long r = pt_call_to_hook(&t->hb, &mem, t->nr, args);
	if (r == 0) {
		const long *h = t->hb.out_args;
		r = T.hook(t->nr, h[0], h[1], h[2], h[3], h[4], h[5]);
		r = pt_call_hook_done(&t->hb, r);
	}
	pt_call_free(&t->hb);
	finish_call(t, r);
	/* back to the scheduler through uc_link */
}

/* --- the scheduler ------------------------------------------------------------------ */

/* T stopped at a syscall-entry stop with no hook invocation under way. */
static void on_entry(struct tthread *t)
{
	if (zpt_getregs(t->tid, &t->entry_regs) != 0)
		return;   /* killed meanwhile: its exit comes next */
	long nr = (long)t->entry_regs.orig_rax;
	/* Before the program's execve: zptrace's own child code. */
	if (!T.hooking && nr != SYS_execve)
		goto unhooked;
	T.hooking = true;
	/* rt_sigreturn must see the signal frame as the program left it, and
	 * hooks never see it (as under libzpoline). */
	if (nr == SYS_rt_sigreturn || nr < 0)
		goto unhooked;
	t->state = T_HOOK;
	start_coroutine(t);
	return;
unhooked:
	t->state = T_PASS_EXIT;
	zpt_resume(t->tid, 0);
}

static void on_stop(struct tthread *t, int status)
{
	int sig = WSTOPSIG(status), event = status >> 16;
	if (sig == ZPT_SYSCALL_STOP) {
		switch (t->state) {
		case T_NEW:
		case T_IDLE:
			on_entry(t);
			return;
		case T_HOOK:
			switch_to(t);   /* the exit stop its in-place call waited for */
			return;
		case T_SKIP_EXIT:
			zpt_set_rax(t->tid, t->skip_result);
			t->state = T_IDLE;
			zpt_resume(t->tid, 0);
			return;
		case T_PASS_EXIT:
		case T_EXITING:
			t->state = t->state == T_EXITING ? T_EXITING : T_IDLE;
			zpt_resume(t->tid, 0);
			return;
		}
	}
	if (event) {
		enum wait_result w = on_event(t, event);
		if (w == W_HANDED_OFF) {
			switch_to(t);   /* new tracer: the child's fork returns 0 */
			return;
		}
		zpt_resume(t->tid, 0);
		return;
	}
	if (t->state == T_NEW && sig == SIGSTOP) {
		t->state = T_IDLE;   /* the stop every auto-attached thread starts with */
		zpt_resume(t->tid, 0);
		return;
	}
	if (zpt_is_group_stop(t->tid, sig)) {
		zpt_resume(t->tid, 0);   /* not kept: see README (job control) */
		return;
	}
	if (t->state == T_HOOK) {
		hold_signal(t, sig);
		zpt_resume(t->tid, 0);
		return;
	}
	zpt_resume(t->tid, sig);   /* a signal for the program */
}

/* Without a hook library: every call forwarded, i.e. run in place. */
static long pass_through(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return zpt_next(nr, a1, a2, a3, a4, a5, a6);
}

_Noreturn void zpt_trace(pid_t pid, zphook_fn hook)
{
	T.pid = pid;
	T.hook = hook ? hook : pass_through;
	if (ptrace(PTRACE_SETOPTIONS, pid, 0, ZPT_PTRACE_OPTIONS) != 0)
		fatal("PTRACE_SETOPTIONS");
	struct tthread *first = thread_add(pid, T_IDLE);
	zpt_resume(first->tid, 0);   /* swallow the SIGSTOP it stopped itself with */

	for (;;) {
		int status;
		pid_t got = wait_any(&status);
		if (got < 0) {
			if (errno == ECHILD)
				_exit(1);   /* should not happen: the process's end comes first */
			fatal("waitpid");
		}
		if (is_our_tracer(got))
			continue;   /* a tracer we forked ended (or stopped): not a tracee */
		struct tthread *t = thread_find(got);
		if (WIFEXITED(status) || WIFSIGNALED(status)) {
			if (got == T.pid)
				finish(status);
			if (t)
				thread_remove(t);
			continue;
		}
		if (!WIFSTOPPED(status))
			continue;
		if (!t)
			t = thread_add(got, T_NEW);   /* stopped before its parent's clone event */
		on_stop(t, status);
	}
}

/* --- the api ------------------------------------------------------------------------- */

static void *outside_slot;

static void **thread_slot(void)
{
	return current ? &current->slot : &outside_slot;
}

static void set_flags(unsigned flags)
{
	(void)flags;   /* vector state is the tracer's own: nothing to save */
}

/* The program inherited the tracer's environment. */
static const char *app_getenv(const char *name)
{
	return getenv(name);
}

/* The hook stays loaded across the program's execve: setting it here is enough. */
static int export_env(const char *name, const char *value)
{
	return setenv(name, value, 1) == 0 ? 0 : -1;
}

const struct zphook_api zpt_hook_api = {
	.version = ZPHOOK_API_VERSION,
	.next = zpt_next,
	.thread_slot = thread_slot,
	.set_flags = set_flags,
	.getenv = app_getenv,
	.export_env = export_env,
};
