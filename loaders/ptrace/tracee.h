/*
 * tracee.h - the ptrace requests zptrace makes on a tracee thread, and
 * the tracee's memory as a struct pt_mem.
 */
#ifndef EXITLESS_PTRACE_TRACEE_H
#define EXITLESS_PTRACE_TRACEE_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/user.h>

#include "marshal.h"

/* The options every tracee gets (TRACEME'd, SEIZE'd, or auto-attached). */
#define ZPT_PTRACE_OPTIONS (PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | \
			    PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL)

/* A syscall-stop, as waitpid reports it with PTRACE_O_TRACESYSGOOD. */
#define ZPT_SYSCALL_STOP (SIGTRAP | 0x80)

int zpt_getregs(pid_t tid, struct user_regs_struct *regs);
int zpt_setregs(pid_t tid, const struct user_regs_struct *regs);
long zpt_get_rax(pid_t tid);
void zpt_set_rax(pid_t tid, long value);
/* Resume to the next syscall stop, delivering SIG (0: none). */
void zpt_resume(pid_t tid, int sig);
unsigned long zpt_event_msg(pid_t tid);
/* A stop with signal SIG is a group-stop, not a signal-delivery-stop. */
bool zpt_is_group_stop(pid_t tid, int sig);

/* The six argument registers of the x86-64 system call convention. */
void zpt_regs_args(const struct user_regs_struct *regs, long args[6]);
void zpt_regs_set_args(struct user_regs_struct *regs, const long args[6]);

/* Memory of the process TID belongs to; CTX points at a pid_t that may
 * change (a thread renamed by execve, a tracer handed a new process). */
int zpt_mem_read(void *ctx, void *local, uint64_t remote, size_t len);
int zpt_mem_write(void *ctx, uint64_t remote, const void *local, size_t len);

#endif
