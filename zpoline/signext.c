/*
 * signext.c - performing a system call for the hook in the signal-based
 * mechanisms (api->next for int3, sud and seccomp; next.c is zpoline's).
 *
 * The call being performed trapped: the application's registers are in the
 * ucontext of the innermost trap on this thread (zp_sig_context), and the
 * handler will return to the instruction after the trapping one.  Most
 * calls are made from here as they are.  Those that cannot:
 *
 *  - clone/clone3 with a new stack (pthread_create, posix_spawn): the child
 *    starts on that stack, where none of the handler's frames exist.  A
 *    struct zp_child_frame written just below the child's stack top
 *    holds every general register of the application at the trap and the
 *    resume address; zp_clone_newstack (entry.S) pops it, so the child starts
 *    exactly where the application's own syscall would have returned, with
 *    %rax = 0 and %rsp where the application asked.
 *  - vfork, clone(CLONE_VM) without a stack: the child runs on our stack
 *    and returns through the handler; zp_vfork_shared_stack (entry.S) saves
 *    everything from here up to the application's stack pointer at the trap
 *    (the handler's frames and the signal frame lie below it) and restores
 *    it in the parent.
 *  - rt_sigprocmask: the handler's rt_sigreturn restores the mask saved in
 *    the ucontext, which would undo the change, so the change is made
 *    there too (and in the live mask, so it holds until the handler ends).
 *    The mechanism's own signal is never left blocked.
 *  - rt_sigaction: the mechanism's own signal is remembered, not installed;
 *    it is taken out of every handler's mask, and under sud every handler is
 *    wrapped (sigactions.c).
 *  - rt_sigsuspend, ppoll, pselect6, epoll_pwait(2): our signal is taken out
 *    of their temporary mask: a forced signal that is blocked kills.
 *  - execve/execveat: the environment is completed as in zpoline mode
 *    (env_follow.c, ZP_MECHANISM included); under seccomp it is refused.
 *
 * Outside a trap (a thread of the hook calling next) everything is the
 * plain system call.
 */
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zpoline.h"

/* struct clone_args grows over kernel versions; we copy what the caller gave. */
#define CLONE_ARGS_MAX 128
#define EPERM_ 1
#define ENOMEM_ 12
#define SS_ONSTACK_ 1

/* Our per-thread state is the TLS block: does the child get one of its own? */
static uint64_t child_flags(uint64_t clone_flags, int vfork)
{
	uint64_t f = 0;
	if ((clone_flags & CLONE_VM) && !(clone_flags & CLONE_SETTLS))
		f |= ZP_CHILD_SHARES_TLS;
	if (vfork || (clone_flags & CLONE_VFORK))
		f |= ZP_CHILD_VFORK;
	if (!zp_sig_hooked())
		f |= ZP_CHILD_UNHOOKED;
	return f;
}

static void fill_child_frame(struct zp_child_frame *cf, const greg_t *g, uint64_t flags)
{
	cf->r15 = (uint64_t)g[REG_R15];
	cf->r14 = (uint64_t)g[REG_R14];
	cf->r13 = (uint64_t)g[REG_R13];
	cf->r12 = (uint64_t)g[REG_R12];
	cf->rbp = (uint64_t)g[REG_RBP];
	cf->rbx = (uint64_t)g[REG_RBX];
	cf->rdi = (uint64_t)g[REG_RDI];
	cf->rsi = (uint64_t)g[REG_RSI];
	cf->rdx = (uint64_t)g[REG_RDX];
	cf->r10 = (uint64_t)g[REG_R10];
	cf->r8 = (uint64_t)g[REG_R8];
	cf->r9 = (uint64_t)g[REG_R9];
	cf->flags = flags | ZP_CHILD_NEW_STACK;
	cf->thread = 0;  /* the signal-based mechanisms run the hook on the signal stack */
	cf->ret = (uint64_t)g[REG_RIP];
}

/* After a child was made: the parent's state, which a child sharing our
 * TLS (vfork, CLONE_VM without CLONE_SETTLS) may have changed. */
static void parent_resumes(const struct zp_sig_saved *s)
{
	zp_sig_restore(s);
	if (zp_mechanism == ZP_MECH_SUD)
		zp_sud_allow();  /* the hook goes on; a child sharing our selector set BLOCK */
}

static long clone_with_stack(const ucontext_t *uc, long flags, long stack, long a3, long a4,
			     long a5, long a6)
{
	struct zp_child_frame *cf = (struct zp_child_frame *)(uintptr_t)stack - 1;
	fill_child_frame(cf, uc->uc_mcontext.gregs, child_flags((uint64_t)flags, 0));
	struct zp_sig_saved s;
	zp_sig_save(&s);
	long r = zp_clone_newstack(SYS_clone, flags, (long)cf, a3, a4, a5, a6);
	parent_resumes(&s);
	return r;
}

static long clone3_with_stack(const ucontext_t *uc, const void *uargs, long size)
{
	uint8_t copy[CLONE_ARGS_MAX] __attribute__((aligned(8)));
	const uint8_t *src = uargs;
	for (long i = 0; i < size; i++)
		copy[i] = src[i];
	struct clone_args *ca = (struct clone_args *)copy;
	uint64_t top = ca->stack + ca->stack_size;
	struct zp_child_frame *cf = (struct zp_child_frame *)(uintptr_t)top - 1;
	fill_child_frame(cf, uc->uc_mcontext.gregs, child_flags(ca->flags, 0));
	ca->stack_size -= sizeof *cf;
	struct zp_sig_saved s;
	zp_sig_save(&s);
	long r = zp_clone_newstack(SYS_clone3, (long)copy, size, 0, 0, 0, 0);
	parent_resumes(&s);
	return r;
}

/* fork, and clone without CLONE_VM or a stack: the child returns through
 * its own copy of the handler's frames. */
static long fork_like(long nr, long a1, long a2, long a3, long a4, long a5, long a6, uint64_t flags)
{
	struct zp_sig_saved s;
	zp_sig_save(&s);
	long r = zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
	if (r == 0)
		zp_sig_child_started(flags);
	else
		parent_resumes(&s);
	return r;
}

static long shared_stack_fork(const ucontext_t *uc, long nr, long a1, long a2, long a3, long a4,
			      long a5, uint64_t flags)
{
	/*
	 * The child will use the stack below the application's %rsp at the
	 * trap; our frames and the signal frame lie there, below the red
	 * zone.  If the handler runs on the alternate signal stack and the
	 * application did not, our frames are on that stack instead, and the
	 * child (which inherits it with vfork) may run its own handlers there
	 * from its top: save up to the top of the alternate stack then.
	 */
	uint64_t top = (uint64_t)uc->uc_mcontext.gregs[REG_RSP];
	uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	struct {
		uint64_t sp;
		int flags;
		uint64_t size;
	} ss;
	if (zp_raw_syscall(SYS_sigaltstack, 0, (long)&ss, 0, 0, 0, 0) == 0 && (ss.flags & SS_ONSTACK_) &&
	    !(top > ss.sp && top <= ss.sp + ss.size))
		top = ss.sp + ss.size;
	if (top <= here)  /* not below us: nothing we could protect */
		return zp_raw_syscall(nr, a1, a2, a3, a4, a5, 0);
	size_t size = (size_t)(top - here) + 4096;
	void *save = zp_mmap_anon(size);
	if (!save)
		return -ENOMEM_;
	struct zp_sig_saved s;
	zp_sig_save(&s);
	long r = zp_vfork_shared_stack(nr, a1, a2, a3, a4, a5, save, (void *)(uintptr_t)top);
	if (r == 0) {
		zp_sig_child_started(flags);
		return 0;
	}
	parent_resumes(&s);
	zp_raw_syscall(SYS_munmap, (long)save, (long)size, 0, 0, 0, 0);
	return r;
}

static long sig_clone(const ucontext_t *uc, long a1, long a2, long a3, long a4, long a5, long a6)
{
	uint64_t flags = child_flags((uint64_t)a1, 0);
	if (a2 != 0)
		return clone_with_stack(uc, a1, a2, a3, a4, a5, a6);
	if (a1 & CLONE_VM)
		return shared_stack_fork(uc, SYS_clone, a1, a2, a3, a4, a5, flags);
	return fork_like(SYS_clone, a1, a2, a3, a4, a5, a6, flags);
}

static long sig_clone3(const ucontext_t *uc, long a1, long a2)
{
	const struct clone_args *ca = (const struct clone_args *)(uintptr_t)a1;
	if (a2 < (long)sizeof(uint64_t) * 8 || a2 > CLONE_ARGS_MAX || !ca)
		return zp_raw_syscall(SYS_clone3, a1, a2, 0, 0, 0, 0);  /* let the kernel reject it */
	uint64_t flags = child_flags(ca->flags, 0);
	if (ca->stack != 0 && ca->stack_size >= sizeof(struct zp_child_frame))
		return clone3_with_stack(uc, ca, a2);
	if (ca->stack == 0 && (ca->flags & CLONE_VM))
		return shared_stack_fork(uc, SYS_clone3, a1, a2, 0, 0, 0, flags);
	return fork_like(SYS_clone3, a1, a2, 0, 0, 0, 0, flags);
}

/*
 * rt_sigprocmask from inside the handler.  The kernel checks the arguments
 * and changes the live mask (which is the ucontext's mask at this point);
 * the result is copied into the ucontext so that rt_sigreturn keeps it.
 */
static long sig_procmask(ucontext_t *uc, long how, long set, long oset, long size)
{
	if (size != 8)
		return zp_raw_syscall(SYS_rt_sigprocmask, how, set, oset, size, 0, 0);
	uint64_t *saved = (uint64_t *)(void *)&uc->uc_sigmask;
	uint64_t old = *saved;
	long r;
	if (oset && (r = zp_raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, oset, 8, 0, 0)) != 0)
		return r;  /* the kernel's verdict on the pointer (EFAULT) */
	if (set && (r = zp_raw_syscall(SYS_rt_sigprocmask, how, set, 0, 8, 0, 0)) != 0)
		return r;
	uint64_t now = 0;
	zp_raw_syscall(SYS_rt_sigprocmask, SIG_BLOCK, 0, (long)&now, 8, 0, 0);
	uint64_t own = 1ULL << (zp_own_signal() - 1);
	if (now & own) {
		zp_raw_syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, (long)&own, 0, 8, 0, 0);
		now &= ~own;
	}
	*saved = now;
	if (oset)
		*(uint64_t *)(uintptr_t)oset = old;
	return 0;
}

/*
 * Calls that block signals with a temporary mask while they wait (and
 * while a handler they run executes): our signal is taken out, since a
 * forced signal that is blocked kills the process (sigactions.c).  The
 * mask is copied; `at` is the argument holding its address.
 */
static long without_own_signal(long nr, long *args, int at, long size)
{
	uint64_t mask;
	if (!args[at] || size != 8)
		return zp_raw_syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
	mask = *(const uint64_t *)(uintptr_t)args[at] & ~(1ULL << (zp_own_signal() - 1));
	args[at] = (long)&mask;
	return zp_raw_syscall(nr, args[0], args[1], args[2], args[3], args[4], args[5]);
}

/* pselect6's sixth argument points at { const sigset_t *ss; size_t ss_len; }. */
static long pselect_without_own_signal(long *args)
{
	const uint64_t *arg6 = (const uint64_t *)(uintptr_t)args[5];
	if (!arg6 || !arg6[0] || arg6[1] != 8)
		return zp_raw_syscall(SYS_pselect6, args[0], args[1], args[2], args[3], args[4], args[5]);
	uint64_t mask = *(const uint64_t *)(uintptr_t)arg6[0] & ~(1ULL << (zp_own_signal() - 1));
	uint64_t copy[2] = { (uint64_t)(uintptr_t)&mask, 8 };
	return zp_raw_syscall(SYS_pselect6, args[0], args[1], args[2], args[3], args[4], (long)copy);
}

/* One line, one write: why the program does not run. */
static long refuse_execve(long nr, long a1, long a2)
{
	const char *path = (const char *)(uintptr_t)(nr == SYS_execve ? a1 : a2);
	const char *parts[] = { "zpoline: seccomp mechanism: execve of ", path ? path : "(null)",
				" refused: the filter stays in force in the new program and would kill it; "
				"use --mechanism sud or zpoline\n", NULL };
	char line[512];
	size_t n = 0;
	for (int i = 0; parts[i]; i++)
		for (const char *p = parts[i]; *p && n < sizeof line - 2; p++)
			line[n++] = *p;
	if (line[n - 1] != '\n')
		line[n++] = '\n';
	line[n] = '\0';
	zp_write_str(2, line);
	return -EPERM_;
}

long zp_sig_next(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	/* These hold in and out of a trap (a hook thread may call next too). */
	long args[6] = { a1, a2, a3, a4, a5, a6 };
	switch (nr) {
	case SYS_rt_sigsuspend:
		return without_own_signal(nr, args, 0, a2);
	case SYS_ppoll:
		return without_own_signal(nr, args, 3, a5);
	case SYS_epoll_pwait:
	case SYS_epoll_pwait2:
		return without_own_signal(nr, args, 4, a6);
	case SYS_pselect6:
		return pselect_without_own_signal(args);
	case SYS_rt_sigaction:
		return zp_sigaction_next(a1, a2, a3, a4);
	case SYS_execve:
	case SYS_execveat:
		if (zp_mechanism == ZP_MECH_SECCOMP)
			return refuse_execve(nr, a1, a2);
		return zp_execve_with_env(nr, a1, a2, a3, a4, a5, a6);
	default:
		break;
	}
	ucontext_t *uc = zp_sig_context();
	if (!uc)
		return zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
	switch (nr) {
	case SYS_clone:
		return sig_clone(uc, a1, a2, a3, a4, a5, a6);
	case SYS_clone3:
		return sig_clone3(uc, a1, a2);
	case SYS_vfork:
		return shared_stack_fork(uc, nr, 0, 0, 0, 0, 0, child_flags(CLONE_VM, 1));
	case SYS_fork:
		return fork_like(nr, 0, 0, 0, 0, 0, 0, child_flags(0, 0));
	case SYS_rt_sigprocmask:
		return sig_procmask(uc, a1, a2, a3, a4);
	default:
		return zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
	}
}
