/*
 * thread.c - each thread's hook stack, found through the %gs base.
 *
 * Why a stack of our own: a hooked call arrives on whatever stack the
 * application was using.  A goroutine's stack may have a few hundred bytes
 * left (Go's system call wrappers are "nosplit": the runtime promises the
 * kernel's `syscall`, which needs no stack, not a C call chain), and a
 * sigaltstack handler's stack may be MINSIGSTKSZ.  The hook (libc, the
 * XSAVE area, lwIP, DPDK) needs kilobytes.  So entry.S moves to the top of
 * this thread's own stack for the outermost hooked call and leaves nothing
 * on the application's stack but the return address that `call *%rax`
 * pushed.
 *
 * Why %gs: entry.S may use only %rcx and %r11 (which `syscall` clobbers)
 * before it has saved anything, so the block must be one instruction away.
 * The %fs base belongs to the application's libc or runtime (Go sets its
 * own), but nothing on x86-64 Linux uses %gs in user space: glibc does not,
 * Go does not.  RDGSBASE/WRGSBASE read and write it without a system call
 * where the kernel enables them (Linux >= 5.9, AT_HWCAP2 bit
 * HWCAP2_FSGSBASE); elsewhere the feature stays off and the hook runs on
 * the application's stack as before.  The kernel copies %gs to the children
 * of clone and fork: a fork child keeps a copy of the block (its memory is
 * copied too), a new thread is given its own block by next.c before it
 * runs (zp_child_frame_started).  execve clears %gs; the new program sets
 * up its own blocks.
 *
 * One mapping per thread: a guard page, the stack, and the block at the
 * top.  The stack is reserved, not committed (MAP_NORESERVE): only what the
 * hook touches becomes memory.  A thread cannot unmap the stack it is
 * running on when it calls exit, so its block goes on a list and is
 * unmapped by a later zp_thread_new, once the kernel says that thread id is
 * gone (tgkill with signal 0 fails with ESRCH; a reused id only delays it).
 */
#include <elf.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zpoline.h"

#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1 << 1)
#endif

#define HOOK_STACK_SIZE (1024 * 1024)
#define PAGE 4096

uint8_t zp_thread_stacks;

static struct zp_thread *dead_list;

static void reclaim_dead(void)
{
	struct zp_thread *list = __atomic_exchange_n(&dead_list, NULL, __ATOMIC_ACQUIRE);
	long pid = zp_raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	while (list) {
		struct zp_thread *next = list->next_dead;
		if (zp_raw_syscall(SYS_tgkill, pid, list->tid, 0, 0, 0, 0) == -3 /* ESRCH */) {
			zp_thread_free(list);
		} else {  /* still finishing its exit: keep it for next time */
			list->next_dead = __atomic_load_n(&dead_list, __ATOMIC_RELAXED);
			while (!__atomic_compare_exchange_n(&dead_list, &list->next_dead, list, 0,
							    __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				;
		}
		list = next;
	}
}

struct zp_thread *zp_thread_new(void)
{
	if (!zp_thread_stacks)
		return NULL;
	if (__atomic_load_n(&dead_list, __ATOMIC_RELAXED))
		reclaim_dead();
	uint64_t size = HOOK_STACK_SIZE + 2 * PAGE;
	long m = zp_raw_syscall(SYS_mmap, 0, (long)size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
	if (m < 0 && m > -4096)
		return NULL;
	uint64_t base = (uint64_t)m;
	/* The guard page: a runaway hook faults instead of writing below. */
	zp_raw_syscall(SYS_mprotect, (long)base, PAGE, PROT_NONE, 0, 0, 0);
	struct zp_thread *t = (struct zp_thread *)(uintptr_t)(base + size - PAGE);
	t->stack_top = (uint64_t)(uintptr_t)t;  /* page aligned, so 16-byte aligned */
	t->stack_lo = base + PAGE;
	t->map_size = size;
	t->depth = 0;
	t->app_fs = 0;
	t->hook_fs = 0;
	t->next_dead = NULL;
	t->tid = 0;
	t->shadow = NULL;
	return t;
}

void zp_thread_free(struct zp_thread *t)
{
	uint64_t base = t->stack_lo - PAGE;
	zp_raw_syscall(SYS_munmap, (long)base, (long)t->map_size, 0, 0, 0, 0);
}

/*
 * Called in next.c for exit (one thread) by the block's owner only: a vfork
 * child shares its parent's block and must not give it away.
 */
void zp_thread_exiting(struct zp_thread *t)
{
	if (t->shadow)
		zp_loader_thread_release(t);
	t->next_dead = __atomic_load_n(&dead_list, __ATOMIC_RELAXED);
	while (!__atomic_compare_exchange_n(&dead_list, &t->next_dead, t, 0, __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED))
		;
}

void zp_thread_adopt(struct zp_thread *t)
{
	__asm__ volatile("wrgsbase %0" : : "r"((uint64_t)(uintptr_t)t) : "memory");
	t->tid = (int32_t)zp_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);
}

int zp_on_hook_stack(const struct zp_thread *t, uint64_t addr)
{
	return t && addr >= t->stack_lo && addr < t->stack_top;
}

/*
 * The calling (main) thread's block.  Off (-1) without FSGSBASE, with
 * ZP_HOOK_STACK=0 in the environment (to compare), or if %gs is already in
 * use by something we do not know.
 */
int zp_thread_init(void)
{
	if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE))
		return -1;
	uint64_t gs;
	__asm__ volatile("rdgsbase %0" : "=r"(gs));
	if (gs != 0)
		return -1;
	zp_thread_stacks = 1;
	struct zp_thread *t = zp_thread_new();
	if (!t) {
		zp_thread_stacks = 0;
		return -1;
	}
	zp_thread_adopt(t);
	return 0;
}
