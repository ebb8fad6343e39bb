/*
 * zphook_count_getpid.c - libzphook_count_getpid.so, a zpoline hook library
 * (exitless ABI, hooklib/zphook.h) used only to check the zpoline rows of
 * the benchmark: it forwards every call like the pass-through hook, but
 * counts getpid calls.  getpid takes no arguments, so a getpid whose first
 * argument is the query cookie is a question from getpid_zpoline
 * ("how many getpid did you see?") and is answered with the count.
 */
#include "../../hooklib/zphook.h"

#include <sys/syscall.h>

#define COUNT_QUERY_COOKIE 0x7a70636f756e74L   /* "zpcount"; see getpid_zpoline.c */

static zphook_fn next_call;
static long getpid_seen;

static long count_getpid_hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (nr == SYS_getpid) {
		if (a1 == COUNT_QUERY_COOKIE)
			return getpid_seen;
		getpid_seen++;
	}
	return next_call(nr, a1, a2, a3, a4, a5, a6);
}

int zphook_init(const struct zphook_api *api, zphook_fn *hook)
{
	if (api->version != ZPHOOK_API_VERSION)
		return -1;
	next_call = api->next;
	*hook = count_getpid_hook;
	return 0;
}
