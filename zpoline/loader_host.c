/*
 * loader_host.c - libzpoline inside the ELF loader (loaders/zpload).
 *
 * Preloaded, libzpoline lives in the program's process as one more library
 * of the program's own libc: the program's TCB is ours.  Under the loader
 * there are two worlds in one process:
 *
 *   the hook world   zpload, its glibc, libzpoline and the hook library
 *                    (dlmopen'ed as usual).  Never rewritten.
 *   the program      a static binary with its own libc or runtime, or a
 *                    dynamic one whose ld.so we mapped.  Every `syscall`
 *                    in it is rewritten before its first instruction.
 *
 * Each world has its own thread pointer (%fs base): the program's libc
 * installs its own TCB with arch_prctl(ARCH_SET_FS), Go installs its TLS.
 * The hook world's glibc reads %fs all the time (errno, the stack
 * protector's canary at %fs:0x28, malloc's per-thread cache, locks), so a
 * hooked call switches to the hook world's TCB on the way in and back on
 * the way out (entry.S, with WRFSBASE: no system call).  The block at %gs
 * (thread.c) holds both values.
 *
 * Every application thread needs a hook-world TCB of its own; glibc makes
 * TCBs only for its own threads.  So when the program creates a thread
 * (its clone comes through the hook), we create a "shadow" pthread first:
 * it blocks every signal and sleeps on a futex, and its TCB is the one the
 * new application thread uses while it runs the hook.  When the
 * application thread calls exit, the shadow is woken and ends (its TCB
 * goes back to glibc's cache; nothing of the hook world runs on the
 * exiting thread after that).  The program's main thread uses zpload's own
 * main TCB.
 *
 * What the program asks of the kernel about itself is answered here
 * (loader_calls.c): its thread pointer (arch_prctl), its program break
 * (brk: the kernel's belongs to zpload's malloc), /proc/self/exe, execve
 * (the next program is loaded by zpload too).  Its signal handlers are
 * entered through loader_sig.S, which gives them the program's thread
 * pointer when the signal interrupted the hook.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/futex.h>

#include "../loaders/zpload_host.h"
#include "zpoline.h"

extern char **environ;

int zp_loader_active;

static _Noreturn void init_failed(const char *what)
{
	fprintf(stderr, "zpload: %s\n", what);
	exit(126);
}

void zp_loader_init(void)
{
	int in_program;
	if (!zp_find_self(&in_program) || !in_program)
		init_failed("libzpoline is not linked into the loader; rebuild loaders/zpload");
	zp_choose_mechanism();
	if (zp_mechanism != ZP_MECH_ZPOLINE)
		init_failed("the loader hooks with the zpoline mechanism only; unset ZP_MECHANISM "
			    "(or run zprun --mechanism NAME without --loader)");
	if (getenv("ZP_SUD") && strcmp(getenv("ZP_SUD"), "0") != 0)
		fprintf(stderr, "zpload: ZP_SUD is ignored under the loader (the loader's own libc "
			"is not rewritten and would trap)\n");
	/* WRFSBASE is how the two thread pointers are switched per call. */
	if (zp_thread_init() != 0)
		init_failed("this CPU or kernel does not let user space write the %fs base "
			    "(FSGSBASE, Linux >= 5.9); run the program with LD_PRELOAD instead (zprun without --loader)");
	uint64_t fs;
	__asm__ volatile("rdfsbase %0" : "=r"(fs));
	if (fs != (uint64_t)(uintptr_t)pthread_self())
		init_failed("the loader's libc does not keep its TCB at the %fs base; cannot switch thread pointers");
	zp_vector_init();
	zp_env_capture(environ);
	zp_trampoline_setup();
	zp_hook_load();
}

long zp_loader_rewrite(uint64_t start, uint64_t len)
{
	struct zp_rewrite_stats st = { 0 };
	if (zp_rewrite_range(start, len, &st) != 0)
		return -1;
	if (getenv("ZP_VERBOSE") && strcmp(getenv("ZP_VERBOSE"), "0") != 0)
		fprintf(stderr, "zpload: rewrote %zu sites (%zu sysenter, %zu red-zone traps) in %#llx-%#llx\n",
			st.sites, st.sysenter, st.redzone, (unsigned long long)start,
			(unsigned long long)(start + len));
	return (long)st.sites;
}

void zp_loader_set_program(const char *exe_path, uint64_t brk_start, const char *loader_path)
{
	zp_loader_paths(exe_path, loader_path);
	zp_loader_brk_init(brk_start);
}

void zp_loader_enter_target(void)
{
	struct zp_thread *t = zp_thread_self();
	uint64_t fs;
	__asm__ volatile("rdfsbase %0" : "=r"(fs));
	t->hook_fs = fs;
	t->app_fs = 0;  /* as after execve; the program sets its own */
	zp_loader_active = 1;
}

/* ---- shadow threads: a hook-world TCB for each application thread ---- */

static void *shadow_main(void *arg)
{
	struct zp_shadow *s = arg;
	/* The hook namespace's libc TLS of this TCB (hookload.c says why). */
	if (zp_hook_ctype_init)
		zp_hook_ctype_init();
	while (!__atomic_load_n(&s->release, __ATOMIC_ACQUIRE))
		syscall(SYS_futex, &s->release, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	free(s);
	return NULL;
}

static long start_shadow(void *arg)
{
	struct zp_thread *child = arg;
	struct zp_shadow *s = calloc(1, sizeof *s);
	if (!s)
		return -12;  /* ENOMEM */
	pthread_attr_t attr;
	sigset_t all;
	sigfillset(&all);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	/* Signals are the application's business: never deliver one here. */
	pthread_attr_setsigmask_np(&attr, &all);
	pthread_t th;
	int e = pthread_create(&th, &attr, shadow_main, s);
	pthread_attr_destroy(&attr);
	if (e != 0) {
		free(s);
		return -e;
	}
	child->shadow = s;
	child->hook_fs = (uint64_t)th;  /* glibc: pthread_t is the TCB, the %fs base */
	return 0;
}

/* Called from next.c in the middle of a hooked call: libc here. */
long zp_loader_thread_prepare(struct zp_thread *child)
{
	return zp_call_with_vectors_saved(start_shadow, child);
}
