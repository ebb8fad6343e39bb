/*
 * sigpath.c - what the signal-based mechanisms share (ZP_MECHANISM=int3,
 * sud, seccomp).
 *
 * In these modes a system call of the application does not become a
 * function call: it traps, and the kernel delivers a signal whose handler
 * runs the hook.
 *
 *   int3     every site zpoline would rewrite becomes `int3; nop` (cc 90),
 *            code made executable later too (redzone_trap.c); SIGTRAP.
 *   sud      nothing is rewritten; Syscall User Dispatch sends SIGSYS for
 *            every call made from outside libzpoline's text while the
 *            thread's selector byte says BLOCK (sud.c).
 *   seccomp  nothing is rewritten; a seccomp filter answers
 *            SECCOMP_RET_TRAP (SIGSYS) for every call whose instruction
 *            pointer is outside libzpoline's text (seccomp.c).
 *
 * The handlers are installed with SA_SIGINFO|SA_ONSTACK|SA_NODEFER, an
 * empty sa_mask and our own restorer (zp_sig_install): inside the handler
 * the signal mask is the application's at the trap, so a child created
 * there inherits exactly that.  The kernel's signal frame (the ucontext)
 * holds every register, vector state included, and the handler returns
 * through rt_sigreturn, which restores all of it: the hook may use vector
 * registers freely, and the result is put into the saved %rax.
 *
 * zp_sig_syscall runs one trapped call: it records the ucontext as this
 * thread's current trap (saved and restored around nested traps, so that
 * zp_sig_next finds the registers of the call it performs) and calls the
 * hook, or - for calls the hook's own code makes (seccomp) - zp_sig_next
 * directly.  rt_sigreturn is never shown to the hook: it must run with the
 * application's stack pointer, so the handler's return is redirected to
 * zp_signal_restorer (`mov $15,%rax; syscall`, inside our text, which SUD
 * and the filter allow) with the application's %rsp.
 *
 * What these modes do not cover, or do differently from zpoline mode:
 *  - Every call costs a signal delivery and an rt_sigreturn (~1-3 us instead
 *    of tens of ns).
 *  - The mechanism's own signal (SIGTRAP for int3, SIGSYS for sud/seccomp)
 *    belongs to us: the application's rt_sigaction for it is remembered,
 *    not installed, and our handler passes on the signals it did not cause;
 *    sigprocmask cannot block it (the kernel forces these signals through
 *    anyway, and zp_sig_next takes it out of any mask it stores).  A
 *    program that reads back its mask sees that signal unblocked.
 *  - The handler runs on the application's alternate signal stack when it
 *    has one (SA_ONSTACK): the hook then runs on that stack, which is often
 *    small, and while it does the kernel refuses to change or disable it
 *    (sigaltstack -> EPERM).
 *  - Threads made with clone(CLONE_VM) without CLONE_SETTLS share our
 *    per-thread state (the current trap, the depth) with their creator; only
 *    SUD's selector is given its own byte (sud.c).
 *  - int3: code that is never executable through mmap/mprotect of our
 *    process (JIT code written into a RWX mapping) is not rewritten; a
 *    debugger's breakpoints and ours share SIGTRAP.
 *  - sud: the process pays the kernel's slow system call path (~30 ns) on
 *    every call, also on those it lets through; the application's signal
 *    handlers are wrapped (sud.c) so that they run with the selector at
 *    BLOCK even when they interrupt the hook.
 *  - seccomp: execve is refused (signext.c: the filter would stay in force
 *    in the new program and kill it before libzpoline is loaded); calls made
 *    through the 32-bit entry (int $0x80) kill the process; calls the hook's
 *    code makes trap too and are sent to the kernel from the handler, so
 *    the hook pays a signal for each of its own system calls.
 */
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zpoline.h"

struct sig_thread {
	ucontext_t *uc;   /* the innermost trap on this thread, NULL outside one */
	long depth;       /* hooked traps in progress (the hook is running) */
	int hooked;       /* the innermost trap runs the hook (not the hook's own call) */
	int hook_thread;  /* created by a clone the hook's own code made */
};
static __thread struct sig_thread self __attribute__((tls_model("initial-exec")));

ucontext_t *zp_sig_context(void)
{
	return self.uc;
}

int zp_sig_hooked(void)
{
	return self.hooked;
}

long zp_sig_depth(void)
{
	return self.depth;
}

int zp_sig_hook_thread(void)
{
	return self.hook_thread;
}

void zp_sig_save(struct zp_sig_saved *s)
{
	s->uc = self.uc;
	s->depth = self.depth;
	s->hooked = self.hooked;
}

void zp_sig_restore(const struct zp_sig_saved *s)
{
	self.uc = s->uc;
	self.depth = s->depth;
	self.hooked = s->hooked;
}

int zp_sig_install(int sig, void (*handler)(int, siginfo_t *, void *))
{
	/*
	 * SA_NODEFER and no sa_mask: the mask inside the handler stays the
	 * application's (a child made here inherits it, and a trap inside
	 * the hook or in a nested application handler is delivered at once).
	 */
	return zp_raw_sigaction(sig, handler, SA_ONSTACK | SA_NODEFER);
}

/* --- code ranges ---------------------------------------------------------- */

#define HOOK_RANGES_MAX 64

static struct {
	uint64_t start, end;
} hook_ranges[HOOK_RANGES_MAX];
static int nhook_ranges;
static uint64_t ldso_start, ldso_end;

void zp_hook_range_add(uint64_t start, uint64_t end)
{
	if (nhook_ranges < HOOK_RANGES_MAX) {
		hook_ranges[nhook_ranges].start = start;
		hook_ranges[nhook_ranges].end = end;
		nhook_ranges++;
	}
}

int zp_hook_range_count(void)
{
	return nhook_ranges;
}

void zp_ldso_range_set(uint64_t start, uint64_t end)
{
	ldso_start = start;
	ldso_end = end;
}

int zp_in_hook_code(uint64_t ip)
{
	for (int i = 0; i < nhook_ranges; i++)
		if (ip >= hook_ranges[i].start && ip < hook_ranges[i].end)
			return 1;
	return 0;
}

int zp_in_ldso(uint64_t ip)
{
	return ip >= ldso_start && ip < ldso_end;
}

int zp_in_self(uint64_t ip)
{
	return ip >= zp_self_start && ip < zp_self_end;
}

/* --- one trapped call ----------------------------------------------------- */

static int made_executable(long nr, const greg_t *g, long r)
{
	switch (nr) {
	case SYS_mmap:
		return (g[REG_RDX] & PROT_EXEC) && (r >= 0 || r < -4095);
	case SYS_mprotect:
	case SYS_pkey_mprotect:
		return (g[REG_RDX] & PROT_EXEC) && r == 0;
	default:
		return 0;
	}
}

/*
 * The application's signal handler returned into rt_sigreturn and that call
 * trapped.  It must run with the stack pointer it has now (the signal frame
 * lies there), so instead of running it here, our handler returns to
 * zp_signal_restorer with that %rsp, and the restorer's `syscall`, inside
 * our text, performs it.  Returns the address the application will resume
 * at (sud.c sets the selector by it).
 */
uint64_t zp_sig_sigreturn(ucontext_t *uc)
{
	greg_t *g = uc->uc_mcontext.gregs;
	g[REG_RIP] = (greg_t)(uintptr_t)zp_signal_restorer;
	/* The handler's `ret` popped the return address: %rsp is at the frame's ucontext. */
	const ucontext_t *to = (const ucontext_t *)(uintptr_t)g[REG_RSP];
	return (uint64_t)to->uc_mcontext.gregs[REG_RIP];
}

/*
 * Run the system call `nr` that trapped with context `uc`: through the hook
 * (hooked) or straight to the kernel through zp_sig_next (the hook's own
 * calls under seccomp).  The result goes into the saved %rax; the saved
 * %rip already points after the trapping instruction.
 */
void zp_sig_syscall(ucontext_t *uc, long nr, int hooked)
{
	greg_t *g = uc->uc_mcontext.gregs;
	if (nr == SYS_rt_sigreturn) {
		zp_sig_sigreturn(uc);
		return;
	}
	struct zp_sig_saved outer;
	zp_sig_save(&outer);
	self.uc = uc;
	self.hooked = hooked;
	if (hooked)
		self.depth++;

	zphook_fn fn = hooked ? zp_hook : zp_sig_next;
	long r = fn(nr, g[REG_RDI], g[REG_RSI], g[REG_RDX], g[REG_R10], g[REG_R8], g[REG_R9]);
	g[REG_RAX] = r;

	zp_sig_restore(&outer);
	/* int3 mode rewrites code made executable (dlopen) before it can run. */
	if (zp_mechanism == ZP_MECH_INT3 && hooked && made_executable(nr, g, r))
		zp_rewrite_new_exec(nr == SYS_mmap ? (uint64_t)r : (uint64_t)g[REG_RDI], (uint64_t)g[REG_RSI]);
}

/*
 * Called in every child of a trapped clone/clone3/fork/vfork before it goes
 * on: from zp_clone_newstack for a child on a new stack (which returns straight
 * to the application), from zp_sig_next for the others (which return
 * through the handler).
 */
void zp_sig_child_started(uint64_t flags)
{
	if (flags & ZP_CHILD_NEW_STACK && !(flags & ZP_CHILD_SHARES_TLS)) {
		/*
		 * Its own per-thread state: fresh (a new TLS block is zeroed) or a
		 * copy of the parent's inside this trap (clone with a stack but
		 * without CLONE_VM); either way no trap is in progress here.
		 */
		self.uc = NULL;
		self.depth = 0;
		self.hooked = 0;
		/* A thread the hook's own code started (DPDK's interrupt thread):
		 * its calls are never the application's. */
		self.hook_thread = (flags & ZP_CHILD_UNHOOKED) != 0;
	}
	if (zp_mechanism == ZP_MECH_SUD)
		zp_sud_child((unsigned)flags);
}

/* The child of zp_clone_newstack, before it returns to the application. */
void zp_child_frame_started(uint64_t flags, uint64_t thread)
{
	if (zp_mechanism == ZP_MECH_ZPOLINE)
		zp_child_started();  /* the SUD catch-all, if on, for this thread */
	else
		zp_sig_child_started(flags);
	struct zp_thread *t = (struct zp_thread *)(uintptr_t)thread;
	if (!t) {
		/*
		 * A child with its own copy of memory (no CLONE_VM) and of our
		 * block, taken in the middle of the parent's call: it never
		 * returns through entry.S, so put the depth back here.
		 */
		t = zp_thread_self();
		if (!t)
			return;
		t->depth = 0;
		if (t->hook_fs)
			__asm__ volatile("wrfsbase %0" : : "r"(t->app_fs) : "memory");
		return;
	}
	/* Its own hook stack (next.c made it) and, under the loader, the
	 * application's thread pointer: ours was the hook world's at clone. */
	zp_thread_adopt(t);
	if (t->hook_fs)  /* the shadow thread set up the hook's TLS (loader_host.c) */
		__asm__ volatile("wrfsbase %0" : : "r"(t->app_fs) : "memory");
	else if (zp_hook_ctype_init)  /* our TLS is the hook's too (hookload.c) */
		zp_hook_ctype_init();
}

/*
 * zpoline mode's traps (red-zone int3 sites, the SUD catch-all) run the
 * hook with zp_next, which knows only entry.S's frames, so the calls that
 * must run where they were made are not hooked there: the original
 * instruction runs in place.  Those are the calls whose child starts on a
 * new stack or shares ours (clone/clone3 with a stack or CLONE_VM, vfork)
 * and rt_sigreturn.  fork and clone without CLONE_VM are fine from a
 * handler: the child has its own copy of the handler's frames.
 */
int zp_must_run_in_place(long nr, const greg_t *g)
{
	switch (nr) {
	case SYS_rt_sigreturn:
	case SYS_vfork:
		return 1;
	case SYS_clone:
		return g[REG_RSI] != 0 || (g[REG_RDI] & CLONE_VM);
	case SYS_clone3: {
		const struct clone_args *ca = (const struct clone_args *)(uintptr_t)g[REG_RDI];
		if (!ca || g[REG_RSI] < (greg_t)(8 * sizeof(uint64_t)))
			return 0;  /* the kernel rejects it */
		return ca->stack != 0 || (ca->flags & CLONE_VM);
	}
	default:
		return 0;
	}
}
