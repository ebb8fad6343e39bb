/*
 * preload.c - libzp_preload.so: the minimum-overhead way of reaching a hook
 * library (the zpoline paper's "LD_PRELOAD" comparison case).
 *
 *   LD_PRELOAD=<kit>/hooklib/libzp_preload.so LIBZPHOOK=<hook.so> prog
 *   (or loaders/zprun --mechanism preload --hook NAME -- prog)
 *
 * Instead of rewriting system call instructions, this library defines the
 * libc functions a network server uses (read, write, accept4, epoll_wait
 * ...); the dynamic linker binds the program's calls to them instead of
 * libc's.  Each one calls the SAME hook function the zpoline mechanism
 * calls (zphook.h: number + six arguments, result or -errno) and turns a
 * -errno result into -1/errno as libc would.  The hook library is loaded
 * the way zpoline/hookload.c loads it: dlmopen(LM_ID_NEWLM), so its own
 * libc is a separate copy that LD_PRELOAD never applies to, and its `next`
 * is a raw `syscall` instruction (inline assembly below).
 *
 * What LD_PRELOAD misses (why zpoline exists):
 *  - calls libc makes internally: exit() -> exit_group, execv/execvp/
 *    system -> execve, fork, getaddrinfo's sockets, stdio's read/write on
 *    its FILEs, any libc function not defined here (fstat, splice ...);
 *  - system calls made with syscall(2) or inline `syscall` instructions
 *    (Go, io_uring users, JITs), and statically linked programs, which do
 *    not look at LD_PRELOAD at all;
 *  - libc's cancellation points: these wrappers are not ones.
 * So a hook only sees the calls listed here (socket, file-descriptor and
 * event calls, plus getpid/getppid for the hook-cost experiment).  Two of the missed calls
 * matter to a hook with state (netstack), and are handled:
 *  - exit(): our destructor (one of the last to run, as we were loaded
 *    first) shows the hook exit_group, and `next` returns 0 for it instead
 *    of exiting, so libc finishes its exit (stdio flush) afterwards; _exit()
 *    is defined here and exits through the hook;
 *  - execve() is defined here; execv/execvp/execl... are libc-internal
 *    calls to execve and are missed.
 * fork() needs nothing: the netstack hook detects a fork child by a
 * MADV_WIPEONFORK page, not by seeing fork.  export_env sets the variable
 * in the program's own environment: a program that passes its own envp to
 * execve drops it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "hook_init.h"
#include "zphook.h"

#define EXPORT __attribute__((visibility("default")))

/* The kernel's sigset size (ppoll, pselect6, epoll_pwait). */
#define KERNEL_SIGSET_SIZE 8

/* --- the raw system call: the hook's `next` --------------------------------------- */

static volatile int exiting;  /* our destructor is showing the hook exit() */

static long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	long ret;
	register long r10 __asm__("r10") = a4;
	register long r8 __asm__("r8") = a5;
	register long r9 __asm__("r9") = a6;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static long next_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	/* exit() is libc's to finish: see the destructor. */
	if (nr == SYS_exit_group && exiting)
		return 0;
	return raw_syscall(nr, a1, a2, a3, a4, a5, a6);
}

/* Until the hook is loaded (other libraries' constructors), or without
 * LIBZPHOOK: straight to the kernel. */
static zphook_fn hook = next_syscall;

/* --- the rest of the API the hook library gets -------------------------------------- */

static __thread void *thread_slot_value __attribute__((tls_model("initial-exec")));

static void **thread_slot(void)
{
	return &thread_slot_value;
}

static void set_flags(unsigned flags)
{
	(void)flags;  /* plain C calls: the compiler already saves what it needs */
}

static const char *app_getenv(const char *name)
{
	return getenv(name);  /* we live in the program's namespace */
}

static int export_env(const char *name, const char *value)
{
	return setenv(name, value, 1) == 0 ? 0 : -1;
}

static const struct zphook_api api = {
	.version = ZPHOOK_API_VERSION,
	.next = next_syscall,
	.thread_slot = thread_slot,
	.set_flags = set_flags,
	.getenv = app_getenv,
	.export_env = export_env,
};

static _Noreturn void load_failed(const char *path, const char *why)
{
	fprintf(stderr, "zp_preload: cannot load hook library %s: %s (check LIBZPHOOK)\n", path, why);
	exit(127);
}

__attribute__((constructor(101)))
static void load_hook(void)
{
	const char *path = getenv("LIBZPHOOK");
	if (!path || !*path)
		return;
	void *lib = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		load_failed(path, dlerror());
	zphook_fn loaded = next_syscall;
	int exitless_abi;
	char why[64];
	const char *failure = zphook_start(lib, &api, &loaded, &exitless_abi, why, sizeof why);
	if (failure)
		load_failed(path, failure);
	__atomic_store_n(&hook, loaded, __ATOMIC_RELEASE);
}

/* exit(): let the hook see the process end (netstack stops its port). */
__attribute__((destructor))
static void show_exit(void)
{
	exiting = 1;
	hook(SYS_exit_group, 0, 0, 0, 0, 0, 0);
	exiting = 0;
}

/* --- the wrappers ---------------------------------------------------------------------- */

/* libc's convention from the kernel's. */
static long sys_result(long r)
{
	if ((unsigned long)r > -4096UL) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

#define CALL(nr, a1, a2, a3, a4, a5, a6)                                                     \
	sys_result(hook((nr), (long)(a1), (long)(a2), (long)(a3), (long)(a4), (long)(a5), \
			(long)(a6)))

/*
 * getpid/getppid are not socket calls: they are here so the hook-cost
 * experiment (bench/hook) can time one getpid through this mechanism like
 * through the others (glibc >= 2.25 no longer caches the pid, so its
 * getpid is a system call every time and the comparison is fair).
 */
EXPORT pid_t getpid(void)
{
	return (pid_t)CALL(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

EXPORT pid_t getppid(void)
{
	return (pid_t)CALL(SYS_getppid, 0, 0, 0, 0, 0, 0);
}

EXPORT int socket(int domain, int type, int protocol)
{
	return (int)CALL(SYS_socket, domain, type, protocol, 0, 0, 0);
}

EXPORT int socketpair(int domain, int type, int protocol, int sv[2])
{
	return (int)CALL(SYS_socketpair, domain, type, protocol, sv, 0, 0);
}

EXPORT int bind(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	return (int)CALL(SYS_bind, fd, addr.__sockaddr__, len, 0, 0, 0);
}

EXPORT int listen(int fd, int backlog)
{
	return (int)CALL(SYS_listen, fd, backlog, 0, 0, 0, 0);
}

EXPORT int accept(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	return (int)CALL(SYS_accept, fd, addr.__sockaddr__, len, 0, 0, 0);
}

EXPORT int accept4(int fd, __SOCKADDR_ARG addr, socklen_t *len, int flags)
{
	return (int)CALL(SYS_accept4, fd, addr.__sockaddr__, len, flags, 0, 0);
}

EXPORT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	return (int)CALL(SYS_connect, fd, addr.__sockaddr__, len, 0, 0, 0);
}

EXPORT ssize_t read(int fd, void *buf, size_t count)
{
	return CALL(SYS_read, fd, buf, count, 0, 0, 0);
}

EXPORT ssize_t write(int fd, const void *buf, size_t count)
{
	return CALL(SYS_write, fd, buf, count, 0, 0, 0);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int iovcnt)
{
	return CALL(SYS_readv, fd, iov, iovcnt, 0, 0, 0);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	return CALL(SYS_writev, fd, iov, iovcnt, 0, 0, 0);
}

/* recv/send are recvfrom/sendto without an address, as in libc. */
EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	return CALL(SYS_recvfrom, fd, buf, len, flags, 0, 0);
}

EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags, __SOCKADDR_ARG addr, socklen_t *alen)
{
	return CALL(SYS_recvfrom, fd, buf, len, flags, addr.__sockaddr__, alen);
}

EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	return CALL(SYS_recvmsg, fd, msg, flags, 0, 0, 0);
}

EXPORT int recvmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags, struct timespec *timeout)
{
	return (int)CALL(SYS_recvmmsg, fd, vec, vlen, flags, timeout, 0);
}

EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	return CALL(SYS_sendto, fd, buf, len, flags, 0, 0);
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags, __CONST_SOCKADDR_ARG addr,
		      socklen_t alen)
{
	return CALL(SYS_sendto, fd, buf, len, flags, addr.__sockaddr__, alen);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	return CALL(SYS_sendmsg, fd, msg, flags, 0, 0, 0);
}

EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned int vlen, int flags)
{
	return (int)CALL(SYS_sendmmsg, fd, vec, vlen, flags, 0, 0);
}

EXPORT ssize_t sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	return CALL(SYS_sendfile, out_fd, in_fd, offset, count, 0, 0);
}

/* Programs built with _FILE_OFFSET_BITS=64 (nginx) link to this name; on
 * x86-64 it is the same call. */
EXPORT ssize_t sendfile64(int out_fd, int in_fd, off64_t *offset, size_t count)
{
	return CALL(SYS_sendfile, out_fd, in_fd, offset, count, 0, 0);
}

EXPORT int shutdown(int fd, int how)
{
	return (int)CALL(SYS_shutdown, fd, how, 0, 0, 0, 0);
}

EXPORT int close(int fd)
{
	return (int)CALL(SYS_close, fd, 0, 0, 0, 0, 0);
}

EXPORT int close_range(unsigned int first, unsigned int last, int flags)
{
	return (int)CALL(SYS_close_range, first, last, flags, 0, 0, 0);
}

EXPORT int getsockname(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	return (int)CALL(SYS_getsockname, fd, addr.__sockaddr__, len, 0, 0, 0);
}

EXPORT int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *len)
{
	return (int)CALL(SYS_getpeername, fd, addr.__sockaddr__, len, 0, 0, 0);
}

EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	return (int)CALL(SYS_setsockopt, fd, level, name, val, len, 0);
}

EXPORT int getsockopt(int fd, int level, int name, void *val, socklen_t *len)
{
	return (int)CALL(SYS_getsockopt, fd, level, name, val, len, 0);
}

/* fcntl's third argument is an int or a pointer: passed on as a long. */
EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return (int)CALL(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}

/* The same function on x86-64 (off_t is 64-bit); glibc exports both. */
EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return (int)CALL(SYS_fcntl, fd, cmd, arg, 0, 0, 0);
}

EXPORT int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	long arg = va_arg(ap, long);
	va_end(ap);
	return (int)CALL(SYS_ioctl, fd, request, arg, 0, 0, 0);
}

EXPORT int dup(int fd)
{
	return (int)CALL(SYS_dup, fd, 0, 0, 0, 0, 0);
}

EXPORT int dup2(int oldfd, int newfd)
{
	return (int)CALL(SYS_dup2, oldfd, newfd, 0, 0, 0, 0);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return (int)CALL(SYS_dup3, oldfd, newfd, flags, 0, 0, 0);
}

EXPORT int epoll_create(int size)
{
	return (int)CALL(SYS_epoll_create, size, 0, 0, 0, 0, 0);
}

EXPORT int epoll_create1(int flags)
{
	return (int)CALL(SYS_epoll_create1, flags, 0, 0, 0, 0, 0);
}

EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
	return (int)CALL(SYS_epoll_ctl, epfd, op, fd, event, 0, 0);
}

EXPORT int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout)
{
	return (int)CALL(SYS_epoll_wait, epfd, events, maxevents, timeout, 0, 0);
}

EXPORT int epoll_pwait(int epfd, struct epoll_event *events, int maxevents, int timeout,
		       const sigset_t *sigmask)
{
	return (int)CALL(SYS_epoll_pwait, epfd, events, maxevents, timeout, sigmask, KERNEL_SIGSET_SIZE);
}

EXPORT int epoll_pwait2(int epfd, struct epoll_event *events, int maxevents,
			const struct timespec *timeout, const sigset_t *sigmask)
{
	return (int)CALL(SYS_epoll_pwait2, epfd, events, maxevents, timeout, sigmask, KERNEL_SIGSET_SIZE);
}

EXPORT int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	return (int)CALL(SYS_poll, fds, nfds, timeout, 0, 0, 0);
}

/* ppoll and pselect hand the kernel a copy of the timeout, as libc does:
 * the kernel (and the hook) may write the time left into it. */
EXPORT int ppoll(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout, const sigset_t *sigmask)
{
	struct timespec copy, *t = NULL;
	if (timeout) {
		copy = *timeout;
		t = &copy;
	}
	return (int)CALL(SYS_ppoll, fds, nfds, t, sigmask, KERNEL_SIGSET_SIZE, 0);
}

EXPORT int select(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds, struct timeval *timeout)
{
	return (int)CALL(SYS_select, nfds, readfds, writefds, exceptfds, timeout, 0);
}

EXPORT int pselect(int nfds, fd_set *readfds, fd_set *writefds, fd_set *exceptfds,
		   const struct timespec *timeout, const sigset_t *sigmask)
{
	struct timespec copy, *t = NULL;
	if (timeout) {
		copy = *timeout;
		t = &copy;
	}
	struct { const sigset_t *ss; size_t len; } mask = { sigmask, KERNEL_SIGSET_SIZE };
	return (int)CALL(SYS_pselect6, nfds, readfds, writefds, exceptfds, t, &mask);
}

/* Fortified variants (_FORTIFY_SOURCE): the bounds check, then the call.
 * (Debian's redis-server and redis-benchmark import none of them, nm -D.) */
extern _Noreturn void __chk_fail(void);

EXPORT ssize_t __read_chk(int fd, void *buf, size_t count, size_t buflen)
{
	if (count > buflen)
		__chk_fail();
	return read(fd, buf, count);
}

EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags)
{
	if (len > buflen)
		__chk_fail();
	return recv(fd, buf, len, flags);
}

EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen, int flags,
			      __SOCKADDR_ARG addr, socklen_t *alen)
{
	if (len > buflen)
		__chk_fail();
	return recvfrom(fd, buf, len, flags, addr, alen);
}

EXPORT int __poll_chk(struct pollfd *fds, nfds_t nfds, int timeout, size_t fdslen)
{
	if (fdslen / sizeof *fds < nfds)
		__chk_fail();
	return poll(fds, nfds, timeout);
}

EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t nfds, const struct timespec *timeout,
		       const sigset_t *sigmask, size_t fdslen)
{
	if (fdslen / sizeof *fds < nfds)
		__chk_fail();
	return ppoll(fds, nfds, timeout, sigmask);
}

/* --- process end and exec: what a stateful hook must see ------------------------------ */

EXPORT _Noreturn void _exit(int status)
{
	for (;;)
		hook(SYS_exit_group, status, 0, 0, 0, 0, 0);
}

EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	return (int)CALL(SYS_execve, path, argv, envp, 0, 0, 0);
}
