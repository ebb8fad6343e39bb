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
	cf->ret = zp_frame_return(f);
}

static long clone_with_stack(long flags, long stack, long a3, long a4, long a5)
{
	struct zp_frame *f = zp_current_frame();
	struct zp_child_frame *cf = (struct zp_child_frame *)(uintptr_t)stack - 1;
	fill_child_frame(cf, f, (uint64_t)flags, (uint64_t)stack);
	return zp_clone_newstack(SYS_clone, flags, (long)cf, a3, a4, a5, (long)f->r9);
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
	/* The child sees the application's own pointer in %rdi, not our copy. */
	fill_child_frame(cf, f, (uint64_t)(uintptr_t)uargs, (uint64_t)size);
	ca->stack_size -= sizeof *cf;
	/*
	 * clone3 reads only %rdi and %rsi, but the child inherits every other
	 * register, and glibc's child takes its start function from %rdx and
	 * its argument from %r8: pass the application's values through.
	 */
	return zp_clone_newstack(SYS_clone3, (long)copy, size, (long)f->rdx, (long)f->r10,
				 (long)f->r8, (long)f->r9);
}

static long shared_stack_fork(long nr, long a1, long a2, long a3, long a4, long a5)
{
	struct zp_frame *f = zp_current_frame();
	uint64_t top = zp_frame_site_rsp(f);
	uint64_t here = (uint64_t)(uintptr_t)__builtin_frame_address(0);
	/* zp_vfork_shared_stack's own frame lies a little below ours. */
	size_t size = (size_t)(top - here) + 4096;
	void *save = zp_mmap_anon(size);
	if (!save)
		return -12; /* ENOMEM, as the kernel would say */
	long r = zp_vfork_shared_stack(nr, a1, a2, a3, a4, a5, save, (void *)(uintptr_t)top);
	if (r != 0)  /* the child must not unmap what the parent still needs */
		zp_raw_syscall(SYS_munmap, (long)save, (long)size, 0, 0, 0, 0);
	return r;
}

long zp_next(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	/* Outside a hooked call (a hook calling next on its own) nothing is special. */
	if (!zp_current_frame())
		return zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
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
	default:
		break;
	}
	return zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
}
