/*
 * hook_init.h - starting a loaded hook library, for every front end that
 * loads one (zpoline/hookload.c, hooklib/preload/preload.c, loaders/zptrace.c).
 *
 * A hook library exports zphook_init (the exitless ABI, preferred) or
 * upstream zpoline's __hook_init(long placeholder, void *hook_fn_ptr), which
 * finds the function performing the real call in *hook_fn_ptr and replaces
 * it with its hook (zphook.h).  *hook must hold that function on entry.
 */
#ifndef EXITLESS_HOOK_INIT_H
#define EXITLESS_HOOK_INIT_H

#include <dlfcn.h>
#include <stdio.h>

#include "zphook.h"

/*
 * Call LIB's init function.  Returns NULL on success (*hook is the hook
 * now; *exitless_abi says which ABI was used), or why it failed, in WHY.
 */
static inline const char *zphook_start(void *lib, const struct zphook_api *api, zphook_fn *hook,
				       int *exitless_abi, char *why, size_t why_size)
{
	int (*ours)(const struct zphook_api *, zphook_fn *) =
		(int (*)(const struct zphook_api *, zphook_fn *))dlsym(lib, "zphook_init");
	int (*upstream)(long, void *) = (int (*)(long, void *))dlsym(lib, "__hook_init");
	int rc;
	*exitless_abi = ours != NULL;
	if (ours)
		rc = ours(api, hook);
	else if (upstream)
		rc = upstream(0, hook);
	else
		return "it exports neither zphook_init nor __hook_init";
	if (rc == 0)
		return NULL;
	snprintf(why, why_size, "its init function returned %d", rc);
	return why;
}

#endif
