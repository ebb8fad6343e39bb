/*
 * hook_upstream.c - a hook library written for upstream zpoline, unchanged.
 *
 * It uses nothing of exitless: only the upstream ABI, as in upstream's
 * apps/basic - `__hook_init(long placeholder, void *hook_fn_ptr)`, where
 * *hook_fn_ptr holds the function that performs a system call; the library
 * saves it and stores its own hook there.  This one counts getpid calls and
 * prints "upstream-hook getpid=N" on stderr when the process calls
 * exit_group, so the test can check binary compatibility against a count
 * known by construction.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>

typedef long (*syscall_fn_t)(long, long, long, long, long, long, long);

static syscall_fn_t next_sys_call;
static atomic_long getpid_calls;

static long hook_function(long a1, long a2, long a3, long a4, long a5, long a6, long a7)
{
	if (a1 == SYS_getpid)
		atomic_fetch_add(&getpid_calls, 1);
	if (a1 == SYS_exit_group)
		fprintf(stderr, "upstream-hook getpid=%ld\n", atomic_load(&getpid_calls));
	return next_sys_call(a1, a2, a3, a4, a5, a6, a7);
}

int __hook_init(long placeholder __attribute__((unused)), void *sys_call_hook_ptr)
{
	next_sys_call = *((syscall_fn_t *)sys_call_hook_ptr);
	*((syscall_fn_t *)sys_call_hook_ptr) = hook_function;
	return 0;
}
