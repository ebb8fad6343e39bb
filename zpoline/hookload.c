/*
 * hookload.c - loading the hook library named by LIBZPHOOK.
 *
 * dlmopen(LM_ID_NEWLM) gives the hook a namespace of its own with its own
 * copy of libc.  That copy is mapped while zp_rewrite_enabled is 0, so its
 * `syscall` instructions stay real: a hook can call printf or malloc without
 * coming back into itself.
 *
 * The library either exports zphook_init (the exitless ABI, zphook.h) or
 * upstream zpoline's __hook_init(long placeholder, void *hook_fn_ptr), where
 * *hook_fn_ptr holds the function performing the real call and the library
 * replaces it with its hook.  Binary-compatible: existing hook libraries
 * built for upstream zpoline run unchanged.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zpoline.h"

static __thread void *thread_slot_value __attribute__((tls_model("initial-exec")));
static unsigned declared_flags;

static void **thread_slot(void)
{
	return &thread_slot_value;
}

static void set_flags(unsigned flags)
{
	declared_flags |= flags;
}

static const char *app_getenv(const char *name)
{
	return getenv(name);  /* our namespace's libc: the application's environment */
}

static const struct zphook_api api = {
	.version = ZPHOOK_API_VERSION,
	.next = zp_next,
	.thread_slot = thread_slot,
	.set_flags = set_flags,
	.getenv = app_getenv,
	.export_env = zp_env_export,
};

static _Noreturn void load_failed(const char *path, const char *why)
{
	fprintf(stderr, "zpoline: cannot load hook library %s: %s (check LIBZPHOOK)\n", path, why);
	exit(127);
}

void zp_hook_load(void)
{
	const char *path = getenv("LIBZPHOOK");
	const char *force = getenv("ZP_SAVE_VECTOR");
	if (!path || !*path) {
		/* No hook: every call goes straight through zp_next, which is
		 * general-purpose-register code. */
		zp_vec_save = force && strcmp(force, "0") != 0;
		return;
	}

	zp_rewrite_enabled = 0;
	void *lib = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	zp_rewrite_enabled = 1;
	if (!lib)
		load_failed(path, dlerror());

	zphook_fn hook = zp_next;
	int (*ours)(const struct zphook_api *, zphook_fn *) =
		(int (*)(const struct zphook_api *, zphook_fn *))dlsym(lib, "zphook_init");
	int (*upstream)(long, void *) = (int (*)(long, void *))dlsym(lib, "__hook_init");
	int rc;
	zp_rewrite_enabled = 0;  /* the hook may dlopen more from its namespace */
	if (ours)
		rc = ours(&api, &hook);
	else if (upstream)
		rc = upstream(0, &hook);
	else
		load_failed(path, "it exports neither zphook_init nor __hook_init");
	zp_rewrite_enabled = 1;
	if (rc != 0) {
		char why[64];
		snprintf(why, sizeof why, "its init function returned %d", rc);
		load_failed(path, why);
	}
	/* Upstream hooks cannot declare anything: assume they use vectors. */
	zp_vec_save = !(ours && (declared_flags & ZPHOOK_NO_VECTOR)) || (force && strcmp(force, "0") != 0);
	__atomic_store_n(&zp_hook, hook, __ATOMIC_RELEASE);
}
