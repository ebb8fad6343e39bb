/*
 * tracer.h - zptrace's tracer: one process per traced process, every
 * system call of every thread of it through a hook library (tracer.c).
 */
#ifndef EXITLESS_PTRACE_TRACER_H
#define EXITLESS_PTRACE_TRACER_H

#include <sys/types.h>

#include "zphook.h"

/* The api the hook library is initialised with (api->next runs calls in the tracee). */
extern const struct zphook_api zpt_hook_api;
/* The raw call the upstream ABI's __hook_init gets in its slot. */
long zpt_next(long nr, long a1, long a2, long a3, long a4, long a5, long a6);

/*
 * Trace PID, a child of ours that is stopped at its first signal-stop
 * (after PTRACE_TRACEME and raise(SIGSTOP), before its execve), through
 * HOOK (NULL: no hook, every call runs unchanged).  Never returns: exits
 * with PID's status, or dies by its signal.
 */
_Noreturn void zpt_trace(pid_t pid, zphook_fn hook);

#endif
