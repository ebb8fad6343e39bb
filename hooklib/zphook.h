/*
 * zphook.h - the hook API of exitless.
 *
 * libzpoline.so turns every system call of the process into a function call.
 * That call lands in a *hook library*, loaded by libzpoline with
 * dlmopen(LM_ID_NEWLM), i.e. in a link-map namespace of its own with its own
 * copy of libc.  Because that copy of libc is never rewritten, a hook may call
 * printf, malloc, pthread_* ... freely: those calls go straight to the kernel
 * and never come back into the hook.
 *
 * Two ways to be a hook library:
 *
 *  1. Upstream zpoline ABI (binary compatible, nothing from this header needed):
 *       int __hook_init(long placeholder, void *hook_fn_ptr);
 *     *(zphook_fn *)hook_fn_ptr holds the function that performs a system call;
 *     the library saves it and stores its own hook there.
 *
 *  2. The exitless ABI, which adds what the upstream ABI lacks: a raw-syscall
 *     function that handles clone/vfork correctly, a per-thread slot, and the
 *     declaration of whether the hook touches vector registers:
 *       int zphook_init(const struct zphook_api *api, zphook_fn *hook);
 *     If a library exports zphook_init, it is used and __hook_init is ignored.
 *
 * The hook is called with the system call number and its six arguments.  It
 * returns what the system call would return: a value >= 0 or -errno (the raw
 * kernel convention, not the libc one).  To perform the real call it calls
 * api->next (or the saved upstream pointer), which is never hooked.
 */
#ifndef EXITLESS_ZPHOOK_H
#define EXITLESS_ZPHOOK_H

#include <stdint.h>

#define ZPHOOK_API_VERSION 1

/* The hook: the raw kernel convention, result or -errno. */
typedef long (*zphook_fn)(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/* Flags a hook library declares in zphook_init (api->set_flags). */
enum {
	/*
	 * The hook never touches x87/SSE/AVX/AVX-512 state (built with
	 * -mgeneral-regs-only and calling no libc function that might).
	 * libzpoline then skips XSAVE/XRSTOR on every call: the fast path.
	 * Without it the full enabled state (XCR0) is saved and restored.
	 */
	ZPHOOK_NO_VECTOR = 1u << 0,
};

struct zphook_api {
	unsigned version;          /* ZPHOOK_API_VERSION */
	/*
	 * Perform the system call for real.  Handles the calls that cannot be
	 * made from an ordinary C frame: clone/clone3 with a new stack (the
	 * child resumes in the application with all its registers), vfork
	 * (the parent's hook frames survive the child).  Never hooked.
	 */
	zphook_fn next;
	/*
	 * A pointer-sized slot per thread, NULL in a new thread, for the hook's
	 * own per-thread context.  Valid from any thread of the process.
	 */
	void **(*thread_slot)(void);
	/* Declare ZPHOOK_* flags (call during zphook_init). */
	void (*set_flags)(unsigned flags);
	/*
	 * Read the process's original environment (the application's, not
	 * the hook namespace's copy); NULL if unset.
	 */
	const char *(*getenv)(const char *name);
	/*
	 * Make NAME=VALUE part of the environment of every program this
	 * process (or a child) executes from now on, even if the application
	 * passes its own envp to execve.  LD_PRELOAD and LIBZPHOOK are always
	 * carried over this way, so the hook follows execve.  Returns 0, or
	 * -1 if the table of carried variables (16 entries) is full.
	 */
	int (*export_env)(const char *name, const char *value);
};

/* Exported by an exitless hook library; return 0 on success. */
int zphook_init(const struct zphook_api *api, zphook_fn *hook);

/* Exported by an upstream-style hook library. */
int __hook_init(long placeholder, void *hook_fn_ptr);

#endif
