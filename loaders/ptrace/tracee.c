/*
 * tracee.c - the ptrace requests zptrace makes on a tracee thread, and the
 * tracee's memory through process_vm_readv/writev.
 *
 * Errors of these requests (ESRCH: the thread was killed meanwhile) are
 * not reported here: a thread that vanished shows up as an exit in the
 * next waitpid, which is where zptrace deals with it.
 */
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <sys/ptrace.h>
#include <sys/uio.h>

#include "tracee.h"

int zpt_getregs(pid_t tid, struct user_regs_struct *regs)
{
	return ptrace(PTRACE_GETREGS, tid, 0, regs) == 0 ? 0 : -errno;
}

int zpt_setregs(pid_t tid, const struct user_regs_struct *regs)
{
	return ptrace(PTRACE_SETREGS, tid, 0, regs) == 0 ? 0 : -errno;
}

long zpt_get_rax(pid_t tid)
{
	return ptrace(PTRACE_PEEKUSER, tid, offsetof(struct user_regs_struct, rax), 0);
}

void zpt_set_rax(pid_t tid, long value)
{
	ptrace(PTRACE_POKEUSER, tid, offsetof(struct user_regs_struct, rax), value);
}

void zpt_resume(pid_t tid, int sig)
{
	ptrace(PTRACE_SYSCALL, tid, 0, (long)sig);
}

unsigned long zpt_event_msg(pid_t tid)
{
	unsigned long msg = 0;
	ptrace(PTRACE_GETEVENTMSG, tid, 0, &msg);
	return msg;
}

/* PTRACE_GETSIGINFO fails with EINVAL exactly at a group-stop. */
bool zpt_is_group_stop(pid_t tid, int sig)
{
	if (sig != SIGSTOP && sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU)
		return false;
	siginfo_t info;
	return ptrace(PTRACE_GETSIGINFO, tid, 0, &info) != 0 && errno == EINVAL;
}

void zpt_regs_args(const struct user_regs_struct *regs, long args[6])
{
	args[0] = (long)regs->rdi;
	args[1] = (long)regs->rsi;
	args[2] = (long)regs->rdx;
	args[3] = (long)regs->r10;
	args[4] = (long)regs->r8;
	args[5] = (long)regs->r9;
}

void zpt_regs_set_args(struct user_regs_struct *regs, const long args[6])
{
	regs->rdi = (unsigned long long)args[0];
	regs->rsi = (unsigned long long)args[1];
	regs->rdx = (unsigned long long)args[2];
	regs->r10 = (unsigned long long)args[3];
	regs->r8 = (unsigned long long)args[4];
	regs->r9 = (unsigned long long)args[5];
}

/* process_vm_* may stop short (at an unmapped page): all or -EFAULT. */
int zpt_mem_read(void *ctx, void *local, uint64_t remote, size_t len)
{
	pid_t pid = *(const pid_t *)ctx;
	size_t done = 0;
	while (done < len) {
		struct iovec l = { (char *)local + done, len - done };
		struct iovec r = { (void *)(uintptr_t)(remote + done), len - done };
		ssize_t n = process_vm_readv(pid, &l, 1, &r, 1, 0);
		if (n <= 0)
			return -EFAULT;
		done += (size_t)n;
	}
	return 0;
}

int zpt_mem_write(void *ctx, uint64_t remote, const void *local, size_t len)
{
	pid_t pid = *(const pid_t *)ctx;
	size_t done = 0;
	while (done < len) {
		struct iovec l = { (char *)local + done, len - done };
		struct iovec r = { (void *)(uintptr_t)(remote + done), len - done };
		ssize_t n = process_vm_writev(pid, &l, 1, &r, 1, 0);
		if (n <= 0)
			return -EFAULT;
		done += (size_t)n;
	}
	return 0;
}
