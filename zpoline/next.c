/*
 * next.c - performing a system call for the hook ("next" in zphook.h).
 *
 * Almost every call is zp_raw_syscall.  Three kinds cannot be made from deep
 * inside a C call chain as they are made in place:
 *
 *  - clone/clone3 with a new stack (threads): the child starts on the new
 *    stack, where none of our frames exist, so it could never return
 *    through them.  We write a struct zp_child_frame just below the child's
 *    initial stack pointer (the application's callee-saved registers, %rdi,
 *    %rsi and the site's return address, from the zp_frame of this call) and
 *    start the child there; zp_clone_newstack pops it and returns straight
 *    to the site.  The child's %rsp ends up exactly where the application
 *    asked.  Upstream zpoline pushes only the return address, so its child
 *    resumes with the hook's callee-saved registers (Go's runtime keeps its
 *    thread start function in %r12 across clone).
 *
 *  - vfork, and clone(CLONE_VM) without a new stack: see
 *    zp_vfork_shared_stack in entry.S.
 *
 *  - execve/execveat: the environment is completed so the hook follows the
 *    program (env_follow.c).
 *
 * Under the loader, a few calls are answered for the program first
 * (loader_calls.c), and a new thread is given the hook world's thread
 * pointer it will use (loader_host.c).
 *
 * The hook may call next from a nested hook invocation (a signal handler):
 * each invocation has its own zp_frame, found through zp_current_frame().
 */
#include <linux/sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zpoline.h"

/* struct clone_args grows over kernel versions; we copy what the caller gave. */
#define CLONE_ARGS_MAX 128

static void fill_child_frame(struct zp_child_frame *cf, const struct zp_frame *f,
			     uint64_t rdi, uint64_t rsi)
{
	cf->r15 = f->r15;
	cf->r14 = f->r14;
	cf->r13 = f->r13;
	cf->r12 = f->r12;
	cf->rbp = f->rbp;
	cf->rbx = f->rbx;
	cf->rdi = rdi;
	cf->rsi = rsi;
	cf->rdx = f->rdx;
	cf->r10 = f->r10;
	cf->r8 = f->r8;
	cf->r9 = f->r9;
	cf->flags = 0;  /* zpoline mode: only the SUD catch-all needs set-up */
	cf->thread = 0;
	cf->ret = zp_frame_return(f);
}

/*
 * A new thread (CLONE_VM) gets its own block and hook stack before it
 * exists (thread.c); under the loader also the hook world's thread pointer
 * it will use and the application's it starts with: `tls` with
 * CLONE_SETTLS, else its creator's (the kernel would copy %fs, but ours is
 * the hook world's at this moment).
 */
static long child_thread_new(long flags, uint64_t tls, struct zp_thread **out)
{
	*out = NULL;
	if (!(flags & CLONE_VM) || !zp_thread_stacks)
		return 0;
	struct zp_thread *child = zp_thread_new();
	if (!child)
		return -12;  /* ENOMEM */
	struct zp_thread *self = zp_thread_self();
	if (zp_loader_active && self && self->hook_fs) {
		child->app_fs = (flags & CLONE_SETTLS) ? tls : self->app_fs;
		/*
		 * A thread gets a shadow thread's TCB.  A process sharing our
		 * memory (posix_spawn's CLONE_VM|CLONE_VFORK) borrows ours: its
		 * parent sleeps until it execs, and a shadow in our thread
		 * group would outlive it.
		 */
		child->hook_fs = self->hook_fs;
		long r = (flags & CLONE_THREAD) ? zp_loader_thread_prepare(child) : 0;
		if (r < 0) {
			zp_thread_free(child);
			return r;
		}
	}
	*out = child;
	return 0;
}

static long child_thread_done(struct zp_thread *child, long r)
{
	if (child && r < 0) {
		if (child->shadow)
			zp_loader_thread_release(child);
		zp_thread_free(child);
	}
	return r;
}

static long clone_with_stack(long flags, long stack, long a3, long a4, long a5)
{
	struct zp_frame *f = zp_current_frame();
	struct zp_child_frame *cf = (struct zp_child_frame *)(uintptr_t)stack - 1;
	struct zp_thread *child;
	long r = child_thread_new(flags, (uint64_t)a5, &child);
	if (r < 0)
		return r;
	fill_child_frame(cf, f, (uint64_t)flags, (uint64_t)stack);
	cf->thread = (uint64_t)(uintptr_t)child;
	r = zp_clone_newstack(SYS_clone, flags, (long)cf, a3, a4, a5, (long)f->r9);
	return child_thread_done(child, r);
}

static long clone3_with_stack(const void *uargs, long size)
{
	struct zp_frame *f = zp_current_frame();
	uint8_t copy[CLONE_ARGS_MAX] __attribute__((aligned(8)));
	const uint8_t *src = uargs;
	for (long i = 0; i < size; i++)
		copy[i] = src[i];
	struct clone_args *ca = (struct clone_args *)copy;
	uint64_t top = ca->stack + ca->stack_size;
	struct zp_child_frame *cf = (struct zp_child_frame *)(uintptr_t)top - 1;
	struct zp_thread *child;
	long r = child_thread_new((long)ca->flags, ca->tls, &child);
	if (r < 0)
		return r;
	/* The child sees the application's own pointer in %rdi, not our copy. */
	fill_child_frame(cf, f, (uint64_t)(uintptr_t)uargs, (uint64_t)size);
	cf->thread = (uint64_t)(uintptr_t)child;
	ca->stack_size -= sizeof *cf;
	/*
	 * clone3 reads only %rdi and %rsi, but the child inherits every other
	 * register, and glibc's child takes its start function from %rdx and
	 * its argument from %r8: pass the application's values through.
	 */
	r = zp_clone_newstack(SYS_clone3, (long)copy, size, (long)f->rdx, (long)f->r10,
			      (long)f->r8, (long)f->r9);
	return child_thread_done(child, r);
}

/*
 * The child shares the parent's memory, block and hook stack (thread.c):
 * it returns through our frames and makes further hooked calls, which
 * start again at the top of the hook stack, while the parent sleeps inside
 * this call.  So everything from here up to the top of the stack we are on
 * is saved and put back in the parent.  On a hook stack, the return
 * address our `call *%rax` left on the application's stack, and the red
 * zone below it, are on another stack: they are kept in `app` (a local,
 * so itself saved and restored with our frame).  The block's depth comes
 * out right: the child's last call (execve or exit) never returns and
 * leaves the count that the parent's call still holds.
 */
static long shared_stack_fork(long nr, long a1, long a2, long a3, long a4, long a5)
{
	struct zp_frame *f = zp_current_frame();
	uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	struct zp_thread *t = zp_thread_self();
	int on_hook_stack = zp_on_hook_stack(t, here);
	uint64_t top = on_hook_stack ? t->stack_top : zp_frame_site_rsp(f);
	uint64_t app[(ZP_RED_ZONE_SKIP + 8) / 8];
	uint64_t *app_src = (uint64_t *)(uintptr_t)f->app_rsp;
	if (on_hook_stack)
		for (size_t i = 0; i < sizeof app / sizeof app[0]; i++)
			app[i] = app_src[i];
	/* zp_vfork_shared_stack's own frame lies a little below ours. */
	size_t size = (size_t)(top - here) + 4096;
	void *save = zp_mmap_anon(size);
	if (!save)
		return -12; /* ENOMEM, as the kernel would say */
	long r = zp_vfork_shared_stack(nr, a1, a2, a3, a4, a5, save, (void *)(uintptr_t)top);
	if (r != 0) {  /* the parent: the child must not unmap what we still need */
		zp_raw_syscall(SYS_munmap, (long)save, (long)size, 0, 0, 0, 0);
		if (on_hook_stack)
			for (size_t i = 0; i < sizeof app / sizeof app[0]; i++)
				app_src[i] = app[i];
	}
	return r;
}

/* exit (one thread): its block is freed once the kernel has let it go. */
static void thread_exit(void)
{
	struct zp_thread *t = zp_thread_self();
	if (t && t->tid == (int32_t)zp_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0))
		zp_thread_exiting(t);
}

long zp_next(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	/* Outside a hooked call (a hook calling next on its own) nothing is special. */
	if (!zp_current_frame())
		return zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
	long answered;
	if (zp_loader_active && zp_loader_call(nr, a1, a2, a3, a4, a5, a6, &answered))
		return answered;
	switch (nr) {
	case SYS_clone:
		if (a2 != 0)
			return clone_with_stack(a1, a2, a3, a4, a5);
		if (a1 & CLONE_VM)
			return shared_stack_fork(nr, a1, a2, a3, a4, a5);
		break;
	case SYS_clone3: {
		const struct clone_args *ca = (const struct clone_args *)a1;
		if (a2 < (long)sizeof(uint64_t) * 8 || a2 > CLONE_ARGS_MAX || !ca)
			break;  /* let the kernel reject it */
		if (ca->stack != 0 && ca->stack_size >= sizeof(struct zp_child_frame))
			return clone3_with_stack(ca, a2);
		if (ca->stack == 0 && (ca->flags & CLONE_VM))
			return shared_stack_fork(nr, a1, a2, a3, a4, a5);
		break;
	}
	case SYS_vfork:
		return shared_stack_fork(nr, a1, a2, a3, a4, a5);
	case SYS_execve:
	case SYS_execveat:
		return zp_execve_with_env(nr, a1, a2, a3, a4, a5, a6);
	case SYS_exit:
		thread_exit();
		break;
	default:
		break;
	}
	return zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
}
