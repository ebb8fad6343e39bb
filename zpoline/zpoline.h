/*
 * zpoline.h - the pieces of libzpoline and how they meet.
 *
 * Everything on the path of a hooked system call (entry.S, dispatch.c,
 * next.c, sites.c, raw.c; for the signal-based mechanisms sigpath.c,
 * signext.c, sigactions.c, sud.c, seccomp.c, redzone_trap.c) is built with
 * -mgeneral-regs-only and calls no libc: when the hook declares
 * ZPHOOK_NO_VECTOR the application's vector registers are not saved, so
 * nothing on that path may touch them (the signal paths do not need it -
 * the kernel saves them - but share files and helpers with zpoline's).
 */
#ifndef EXITLESS_ZPOLINE_H
#define EXITLESS_ZPOLINE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>
#include "../hooklib/zphook.h"

#define ZP_HIDDEN __attribute__((visibility("hidden")))

/*
 * What entry.S pushes, lowest address first (keep in step with entry.S).
 * The frame is on the thread's hook stack (thread.c), or on the
 * application's stack when there is none; the application's stack pointer
 * is kept in it either way.
 */
struct zp_frame {
	uint64_t r15, r14, r13, r12, rbp, rbx;
	uint64_t nr;
	uint64_t rdi, rsi, rdx, r10, r8, r9;
	uint64_t thread;   /* struct zp_thread * whose depth entry.S raised, or 0 */
	uint64_t app_rsp;  /* the application's %rsp at the site, minus the red zone */
};
/* entry.S steps over this much of the red zone below the return address. */
#define ZP_RED_ZONE_SKIP 120

/* The return address of the site: site + 2. */
static inline uint64_t zp_frame_return(const struct zp_frame *f)
{
	return *(const uint64_t *)(f->app_rsp + ZP_RED_ZONE_SKIP);
}
/* The application's stack pointer at the site (just above the return address). */
static inline uint64_t zp_frame_site_rsp(const struct zp_frame *f)
{
	return f->app_rsp + ZP_RED_ZONE_SKIP + 8;
}

/*
 * thread.c: every thread that runs hooked code has a block, found through
 * the %gs base (which neither glibc nor Go uses on x86-64).  It holds the
 * top of the thread's own hook stack, so the hook never runs on the
 * application's stack (a goroutine's few KiB, a small sigaltstack), and,
 * under the loader, the two thread pointers (%fs bases) entry.S switches
 * between.  The first fields are read by entry.S and loader_sig.S: keep
 * the ZT_* offsets there in step.
 */
struct zp_thread {
	uint64_t stack_top;  /* 0: 16-byte aligned top of the hook stack */
	uint64_t depth;      /* 8: hooked calls in progress on this thread */
	uint64_t app_fs;     /* 16: the application's %fs base (loader) */
	uint64_t hook_fs;    /* 24: the hook world's %fs base (loader); 0: no switch */
	uint64_t stack_lo;   /* lowest usable address of the hook stack */
	uint64_t map_size;   /* the whole mapping: guard page, stack, this block */
	struct zp_thread *next_dead;  /* list of blocks whose thread called exit */
	int32_t tid;                  /* the owner, set by zp_thread_adopt */
	struct zp_shadow *shadow;     /* loader: the thread whose TCB hook_fs is (loader_host.c) */
};
ZP_HIDDEN extern uint8_t zp_thread_stacks;  /* 1: entry.S switches to hook stacks */
ZP_HIDDEN int zp_thread_init(void);          /* main thread; 0 or -1 (feature off) */
ZP_HIDDEN struct zp_thread *zp_thread_new(void);
ZP_HIDDEN void zp_thread_free(struct zp_thread *t);   /* never used by a thread */
ZP_HIDDEN void zp_thread_exiting(struct zp_thread *t); /* its thread is calling exit */
ZP_HIDDEN void zp_thread_adopt(struct zp_thread *t);   /* wrgsbase: the calling thread's */
static inline struct zp_thread *zp_thread_self(void)
{
	uint64_t v = 0;
	if (zp_thread_stacks)
		__asm__ volatile("rdgsbase %0" : "=r"(v));
	return (struct zp_thread *)(uintptr_t)v;
}
ZP_HIDDEN int zp_on_hook_stack(const struct zp_thread *t, uint64_t addr);


/* entry.S */
ZP_HIDDEN void zp_entry(void);
ZP_HIDDEN long zp_raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
ZP_HIDDEN long zp_clone_newstack(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
ZP_HIDDEN long zp_vfork_shared_stack(long nr, long a1, long a2, long a3, long a4, long a5,
				     void *save, void *top);
ZP_HIDDEN extern char zp_sigreturn_site[];

/* vector.c: read by entry.S on every call */
ZP_HIDDEN extern uint8_t zp_vec_save;     /* save vector state around the hook */
ZP_HIDDEN extern uint8_t zp_vec_level;    /* 0: XSAVE only; 1 SSE, 2 AVX, 3 AVX-512 moves */
ZP_HIDDEN extern uint32_t zp_vec_slow_bits; /* components in use that need XSAVE */
ZP_HIDDEN extern uint8_t zp_vec_compact;  /* XSAVEC available */
ZP_HIDDEN extern uint64_t zp_vec_mask;    /* XCR0 minus AMX */
ZP_HIDDEN extern uint64_t zp_vec_size;    /* bytes of XSAVE area (+64 for alignment) */
ZP_HIDDEN void zp_vector_init(void);
/* Save/restore vector state around rare C work that uses libc (rewriting). */
#define ZP_VEC_BUF_MAX 4096
ZP_HIDDEN int zp_vector_save(void *area64);
ZP_HIDDEN void zp_vector_restore(void *area64);
ZP_HIDDEN long zp_call_with_vectors_saved(long (*fn)(void *arg), void *arg);

/* trampoline.c */
ZP_HIDDEN int zp_trampoline_setup(void);  /* 0, or exits with a message */
ZP_HIDDEN int zp_is_trampoline(uint64_t start, uint64_t end);

/* sites.c: the set of rewritten sites (address of the 2-byte instruction) */
ZP_HIDDEN int zp_sites_add(uint64_t addr);
ZP_HIDDEN int zp_sites_contains(uint64_t addr);
ZP_HIDDEN size_t zp_sites_count(void);

/* rewrite_maps.c: rewriting code in this process */
struct zp_rewrite_stats {
	size_t mappings, bytes, sites, sysenter, redzone;
};
ZP_HIDDEN int zp_rewrite_all(struct zp_rewrite_stats *st);
ZP_HIDDEN void zp_rewrite_new_exec(uint64_t start, uint64_t len);
ZP_HIDDEN int zp_rewrite_range(uint64_t start, uint64_t len, struct zp_rewrite_stats *st);
ZP_HIDDEN extern int zp_rewrite_enabled;  /* 0 while the hook library is loaded */
ZP_HIDDEN extern uint64_t zp_self_start, zp_self_end;  /* libzpoline's own text */

/* next.c: performing the real call for the hook */
ZP_HIDDEN long zp_next(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* dispatch.c */
ZP_HIDDEN extern zphook_fn zp_hook;
ZP_HIDDEN long zp_dispatch(struct zp_frame *f);
ZP_HIDDEN struct zp_frame *zp_current_frame(void);

/* env_follow.c: carrying the hook across execve */
ZP_HIDDEN void zp_env_capture(char **envp);
ZP_HIDDEN int zp_env_export(const char *name, const char *value);
ZP_HIDDEN long zp_execve_with_env(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* hookload.c */
ZP_HIDDEN void zp_hook_load(void);
ZP_HIDDEN extern void (*zp_hook_ctype_init)(void);  /* the hook namespace's __ctype_init */

/* redzone_trap.c: sites that cannot become calls get int3 (SIGTRAP) */
ZP_HIDDEN int zp_trap_site_add(uint64_t site);  /* page already writable */
ZP_HIDDEN void zp_signal_restorer(void);

ZP_HIDDEN int zp_trap_install(void);

/* sud.c: Syscall User Dispatch: the opt-in catch-all of zpoline mode
 * (ZP_SUD=1) and the sud mechanism */
ZP_HIDDEN extern int zp_sud_enabled;
ZP_HIDDEN int zp_sud_setup(void);       /* zpoline mode's catch-all */
ZP_HIDDEN int zp_sud_mech_setup(void);  /* ZP_MECHANISM=sud */
ZP_HIDDEN void zp_child_started(void);
ZP_HIDDEN void zp_sud_allow(void);
ZP_HIDDEN void zp_sud_block(void);
ZP_HIDDEN void zp_sud_child(unsigned flags);  /* a child of a trapped clone/fork */
ZP_HIDDEN int zp_sud_enter_app(void);          /* selector BLOCK, returns the old value */
ZP_HIDDEN void zp_sud_leave_app(int old);

/* main.c: which mechanism carries system calls to the hook (ZP_MECHANISM) */
enum zp_mech {
	ZP_MECH_ZPOLINE,  /* syscall -> call *%rax into page 0 (the default) */
	ZP_MECH_INT3,     /* syscall -> int3; nop, SIGTRAP */
	ZP_MECH_SUD,      /* Syscall User Dispatch, SIGSYS */
	ZP_MECH_SECCOMP,  /* seccomp filter returning SECCOMP_RET_TRAP, SIGSYS */
};
ZP_HIDDEN extern int zp_mechanism;
ZP_HIDDEN void zp_choose_mechanism(void);  /* from ZP_MECHANISM; exits on a bad name */
ZP_HIDDEN int zp_find_self(int *in_program);

/*
 * sigpath.c: what the three signal-based mechanisms share.  A trapped
 * system call is run from the signal handler with the kernel's saved
 * registers (the ucontext); the hook's next is zp_sig_next (signext.c).
 */
ZP_HIDDEN void zp_sig_syscall(ucontext_t *uc, long nr, int hooked);
ZP_HIDDEN uint64_t zp_sig_sigreturn(ucontext_t *uc);  /* returns where it will resume */
ZP_HIDDEN ucontext_t *zp_sig_context(void);
ZP_HIDDEN int zp_sig_hooked(void);       /* the innermost trap on this thread is hooked */
ZP_HIDDEN long zp_sig_depth(void);       /* hooked traps in progress on this thread */
ZP_HIDDEN int zp_sig_hook_thread(void);  /* this thread was created by the hook's code */
struct zp_sig_saved {
	ucontext_t *uc;
	long depth;
	int hooked;
};
ZP_HIDDEN void zp_sig_save(struct zp_sig_saved *s);
ZP_HIDDEN void zp_sig_restore(const struct zp_sig_saved *s);
ZP_HIDDEN int zp_sig_install(int sig, void (*handler)(int, siginfo_t *, void *));
ZP_HIDDEN int zp_must_run_in_place(long nr, const greg_t *g);
/* Code ranges of the hook's namespace (not ld.so) and of ld.so (hookload.c). */
ZP_HIDDEN void zp_hook_range_add(uint64_t start, uint64_t end);
ZP_HIDDEN int zp_hook_range_count(void);
ZP_HIDDEN void zp_ldso_range_set(uint64_t start, uint64_t end);
ZP_HIDDEN int zp_in_hook_code(uint64_t ip);
ZP_HIDDEN int zp_in_ldso(uint64_t ip);
ZP_HIDDEN int zp_in_self(uint64_t ip);

/* What a child of a trapped clone/fork is (zp_sig_child_started). */
enum {
	ZP_CHILD_NEW_STACK = 1u << 0,    /* started on its own stack by zp_clone_newstack */
	ZP_CHILD_SHARES_TLS = 1u << 1,   /* CLONE_VM without CLONE_SETTLS */
	ZP_CHILD_VFORK = 1u << 2,        /* the parent sleeps until it execs or exits */
	ZP_CHILD_UNHOOKED = 1u << 3,     /* made by the hook's own code */
};
ZP_HIDDEN void zp_sig_child_started(uint64_t flags);

/*
 * What the child of clone-with-a-new-stack pops (entry.S: zp_clone_newstack),
 * in every mechanism: the application's registers at its system call, and
 * where that call would have returned.
 */
struct zp_child_frame {
	uint64_t r15, r14, r13, r12, rbp, rbx, rdi, rsi, rdx, r10, r8, r9;
	uint64_t flags;   /* ZP_CHILD_*, for zp_child_frame_started */
	uint64_t thread;  /* the child's struct zp_thread (zpoline mode), or 0 */
	uint64_t ret;     /* where the application's own syscall would have returned */
};
/* Run by that child before it returns to the application (sigpath.c). */
ZP_HIDDEN void zp_child_frame_started(uint64_t flags, uint64_t thread);

/* signext.c: next for the signal-based mechanisms */
ZP_HIDDEN long zp_sig_next(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* sigactions.c: the application's view of the signals we own or wrap */
ZP_HIDDEN int zp_own_signal(void);
ZP_HIDDEN long zp_sigaction_next(long sig, long act, long oact, long size);
ZP_HIDDEN void zp_sig_foreign(int sig, siginfo_t *info, ucontext_t *uc);

/* seccomp.c: ZP_MECHANISM=seccomp */
ZP_HIDDEN int zp_seccomp_setup(void);

/*
 * loader_host.c, loader_calls.c, loader_sig.S: libzpoline inside the ELF
 * loader (loaders/zpload.c).  The loader's own code and libc are the hook
 * world; the program it loads gets a thread pointer of its own, a program
 * break of its own and a /proc/self/exe that names it.
 */
ZP_HIDDEN extern int zp_loader_active;
ZP_HIDDEN int zp_loader_call(long nr, long a1, long a2, long a3, long a4, long a5, long a6,
			     long *result);  /* 1: answered here, *result set */
struct zp_shadow {
	volatile uint32_t release;  /* futex word: 1 = its application thread is exiting */
};
ZP_HIDDEN long zp_loader_thread_prepare(struct zp_thread *child);  /* 0 or -errno */
ZP_HIDDEN void zp_loader_thread_release(struct zp_thread *t);
ZP_HIDDEN void zp_loader_brk_init(uint64_t start);
ZP_HIDDEN void zp_loader_paths(const char *exe, const char *loader);
ZP_HIDDEN void zp_loader_sighandler(int sig, siginfo_t *info, void *uc);
ZP_HIDDEN extern uint64_t zp_app_handlers[65];

/* raw.c: small libc-free helpers for the hot path and messages */
ZP_HIDDEN void zp_write_str(int fd, const char *s);
ZP_HIDDEN size_t zp_strlen(const char *s);
ZP_HIDDEN void zp_fmt_hex(char *out, uint64_t v);  /* 0x + 16 digits + NUL */
ZP_HIDDEN _Noreturn void zp_die(const char *msg);
ZP_HIDDEN void zp_raise_default(int sig);
ZP_HIDDEN void *zp_mmap_anon(size_t len);
ZP_HIDDEN int zp_raw_sigaction(int sig, void (*handler)(int, siginfo_t *, void *), unsigned long flags);
ZP_HIDDEN int zp_patch_site(uint64_t site, uint16_t bytes);

#endif
