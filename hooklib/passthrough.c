/*
 * passthrough.c - libzphook_passthrough.so: the hook that does nothing.
 *
 * It measures the bare cost of the zpoline path (benchmarks) and shows the
 * smallest possible hook.  Built with -mgeneral-regs-only and calling no
 * libc, it declares ZPHOOK_NO_VECTOR so libzpoline skips XSAVE/XRSTOR.
 * The hook compiles to a single indirect tail jump.
 */
#include <stddef.h>

#include "zphook.h"

/* Set once at init, read-only afterwards. */
static zphook_fn next_syscall;

static long passthrough_hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	return next_syscall(nr, a1, a2, a3, a4, a5, a6);
}

__attribute__((visibility("default")))
int zphook_init(const struct zphook_api *api, zphook_fn *hook)
{
	if (api->version < 1)
		return -1;
	next_syscall = api->next;
	api->set_flags(ZPHOOK_NO_VECTOR);
	*hook = passthrough_hook;
	return 0;
}

/*
 * The upstream zpoline ABI, for loaders that know only that one: the slot
 * holds the raw system call function; we keep it and put our hook there.
 * (libzpoline prefers zphook_init when both exist.)
 */
__attribute__((visibility("default")))
int __hook_init(long placeholder, void *hook_fn_ptr)
{
	zphook_fn *slot = hook_fn_ptr;

	(void)placeholder;
	next_syscall = *slot;
	*slot = passthrough_hook;
	return 0;
}
