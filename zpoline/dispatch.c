/*
 * dispatch.c - the C side of every hooked system call.
 *
 * entry.S calls zp_dispatch with the saved registers.  It
 *   1. checks that it was reached from a rewritten site: page 0 is also
 *      where a call through a NULL function pointer goes, and that must not
 *      silently become a system call;
 *   2. calls the hook (zp_next when there is no hook library);
 *   3. rewrites code that the call just made executable (dlopen maps
 *      libraries with mmap/mprotect + PROT_EXEC), before anything can run it.
 *
 * Built with -mgeneral-regs-only and calling no libc: when the hook opted
 * out of vector saving, nothing here may touch vector registers.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zpoline.h"

zphook_fn zp_hook = zp_next;

/* The frame of the innermost hooked call on this thread (next.c needs it). */
static __thread struct zp_frame *current_frame __attribute__((tls_model("initial-exec")));

struct zp_frame *zp_current_frame(void)
{
	return current_frame;
}

__attribute__((noinline, cold)) static _Noreturn void not_a_site(const struct zp_frame *f)
{
	char target[19], from[19];
	char msg[160];
	zp_fmt_hex(target, f->nr);
	zp_fmt_hex(from, zp_frame_return(f) - 2);
	/* Assemble without libc: "call to X from Y, which is ..." */
	const char *parts[] = { "call to address ", target, " from ", from,
				", which is not a rewritten system call site "
				"(a NULL function pointer?); stopping", NULL };
	size_t n = 0;
	for (int i = 0; parts[i]; i++)
		for (const char *p = parts[i]; *p && n < sizeof msg - 1; p++)
			msg[n++] = *p;
	msg[n] = '\0';
	zp_die(msg);
}

static int made_executable(long nr, const struct zp_frame *f, long r)
{
	switch (nr) {
	case SYS_mmap:
		return (f->rdx & PROT_EXEC) && (r >= 0 || r < -4095);
	case SYS_mprotect:
	case SYS_pkey_mprotect:
		return (f->rdx & PROT_EXEC) && r == 0;
	default:
		return 0;
	}
}

/* Rewriting uses libopcodes and libc, which use vector registers. */
struct new_code {
	uint64_t start, len;
};

static long rewrite_range(void *arg)
{
	const struct new_code *c = arg;
	zp_rewrite_new_exec(c->start, c->len);
	return 0;
}

__attribute__((noinline, cold)) static void rewrite_new_code(uint64_t start, uint64_t len)
{
	struct new_code c = { start, len };
	zp_call_with_vectors_saved(rewrite_range, &c);
}

long zp_dispatch(struct zp_frame *f)
{
	if (__builtin_expect(!zp_sites_contains(zp_frame_return(f) - 2), 0))
		not_a_site(f);

	struct zp_frame *outer = current_frame;
	current_frame = f;
	if (zp_sud_enabled)
		zp_sud_allow();  /* the hook's own libc is not rewritten */

	long nr = (long)f->nr;
	long r = zp_hook(nr, (long)f->rdi, (long)f->rsi, (long)f->rdx, (long)f->r10,
			 (long)f->r8, (long)f->r9);

	if (__builtin_expect(made_executable(nr, f, r), 0)) {
		uint64_t start = nr == SYS_mmap ? (uint64_t)r : f->rdi;
		rewrite_new_code(start, f->rsi);
	}
	if (zp_sud_enabled && !outer)
		zp_sud_block();
	current_frame = outer;
	return r;
}
