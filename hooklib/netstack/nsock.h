/*
 * nsock.h - the socket layer of the netstack hook: the contract between its
 * parts.  No lwIP or DPDK types here.
 *
 *   fdtable.c, sock_*.c  (AF_INET sockets on lwIP's raw API, the fd table)
 *   events.c, wait.c     (epoll/poll/select over mixed sets, blocking waits)
 *   netstack_hook.c      (zphook_init, the per-syscall dispatch, fork/exec/exit)
 *
 * Every socket the application opens with AF_INET goes to lwIP.  It owns a
 * real kernel fd number: a placeholder eventfd, so numbers never collide
 * with kernel fds and a kernel call on it (fstat, close ...) is harmless.
 * Calls on any other fd go to the kernel unchanged.
 *
 * All ns_sys_* functions take the system call's arguments and return what
 * the kernel would: a value >= 0 or -errno.  Callers do not hold the stack
 * lock; each function takes it as it needs (never across a wait).
 */
#ifndef EXITLESS_NSOCK_H
#define EXITLESS_NSOCK_H

#include <stdbool.h>
#include <stdint.h>

struct nsock;  /* one open socket (shared by dup'd fds); sock_*.c */

/* --- fd table (fdtable.c) --------------------------------------------------
 * Lock-free lookup: NULL means "a kernel fd, pass the call through". */
struct nsock *ns_fd_lookup(int fd);

/* --- readiness (lock held) --------------------------------------------------
 * nsock_events: the EPOLL* bits true now (EPOLLIN, EPOLLOUT, EPOLLERR,
 * EPOLLHUP, EPOLLRDHUP), computed as Linux does for a TCP/UDP socket.
 * nsock_gen: bumped on every change that may make an event newly true
 * (data or a connection arrived, send space freed, error, FIN); edge-
 * triggered epoll reports an fd again only when its gen moved.
 * nsock_id: unique for the life of the process, never reused. */
uint32_t nsock_events(struct nsock *s);
uint64_t nsock_gen(struct nsock *s);
uint64_t nsock_id(struct nsock *s);

/* --- waiting (wait.c) --------------------------------------------------------
 * Block the calling thread the way the netstack blocks: poll the device,
 * run lwIP's timers, and test READY(arg) (called with the lock held) until
 * it returns true or TIMEOUT_MS passes (-1: forever).  Spins while traffic
 * flows, then sleeps in short slices so an idle server does not burn a
 * core.  Returns 0 when ready, -ETIMEDOUT, or -EINTR if a signal arrived
 * while sleeping. */
int ns_wait(bool (*ready)(void *arg), void *arg, int timeout_ms);

/* The netstack is usable in this process (false in a fork child: it must
 * not touch the device; its lwIP fds only close their placeholders). */
bool ns_stack_owned(void);

/* Start the stack if not yet started (first AF_INET socket).  On failure
 * prints one line naming the cause and the fix and exits the process with
 * status 1 (a server must not run on a stack that is not there). */
void ns_stack_ensure_started(void);

/* --- the system calls on lwIP sockets (fdtable.c, sock_*.c) ---------------
 * Added by the socket layer.  Arguments as the kernel takes them (pointers
 * untyped where the kernel's type is a sockaddr or socklen_t: socklen_t *
 * may be passed as int *), results as the kernel returns them.  The
 * dispatcher calls these only for fds with ns_fd_lookup(fd) != NULL, except:
 *   ns_sys_socket        for socket() when ns_sys_socket_is_ours();
 *   ns_sys_dup2/dup3     when OLDFD *or* NEWFD is ours (a kernel fd dup'd
 *                        over one of ours must drop our entry);
 *   ns_sys_close_range   when the range may hold one of ours (always is fine).
 * In a fork child (ns_stack_owned() false) close() only closes the
 * placeholder and forgets the fd; every other call on an lwIP fd returns
 * -EBADF, and socket(AF_INET) returns -ENETDOWN. */
struct iovec;
struct msghdr;
struct mmsghdr;

/* Give the socket layer the raw system call (the hook's api->next); used
 * for placeholders (eventfd2, close, dup, fcntl) and tgkill(SIGPIPE).
 * Until called, libc's syscall() is used. */
void ns_sock_init(long (*next)(long, long, long, long, long, long, long));

/* socket(DOMAIN, TYPE, ...) belongs to us: AF_INET with SOCK_STREAM or
 * SOCK_DGRAM (any SOCK_NONBLOCK/SOCK_CLOEXEC), and every AF_INET6 socket
 * (refused with EAFNOSUPPORT so programs fall back to IPv4). */
bool ns_sys_socket_is_ours(int domain, int type);

long ns_sys_socket(int domain, int type, int protocol);
long ns_sys_bind(int fd, const void *addr, int addrlen);
long ns_sys_listen(int fd, int backlog);
long ns_sys_accept(int fd, void *addr, int *addrlen);
long ns_sys_accept4(int fd, void *addr, int *addrlen, int flags);
long ns_sys_connect(int fd, const void *addr, int addrlen);
long ns_sys_shutdown(int fd, int how);
long ns_sys_close(int fd);
long ns_sys_close_range(unsigned first, unsigned last, unsigned flags);
long ns_sys_getsockname(int fd, void *addr, int *addrlen);
long ns_sys_getpeername(int fd, void *addr, int *addrlen);
long ns_sys_setsockopt(int fd, int level, int name, const void *optval, int optlen);
long ns_sys_getsockopt(int fd, int level, int name, void *optval, int *optlen);
long ns_sys_fcntl(int fd, int cmd, long arg);
long ns_sys_ioctl(int fd, unsigned long req, long arg);
long ns_sys_dup(int fd);
long ns_sys_dup2(int oldfd, int newfd);            /* oldfd == newfd handled */
long ns_sys_dup3(int oldfd, int newfd, int flags);

long ns_sys_read(int fd, void *buf, unsigned long count);
long ns_sys_write(int fd, const void *buf, unsigned long count);
long ns_sys_readv(int fd, const struct iovec *iov, int iovcnt);
long ns_sys_writev(int fd, const struct iovec *iov, int iovcnt);
long ns_sys_recvfrom(int fd, void *buf, unsigned long len, int flags, void *addr, int *addrlen);
long ns_sys_sendto(int fd, const void *buf, unsigned long len, int flags, const void *addr, int addrlen);
long ns_sys_recvmsg(int fd, struct msghdr *msg, int flags);
long ns_sys_sendmsg(int fd, const struct msghdr *msg, int flags);
long ns_sys_recvmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags, void *timeout);
long ns_sys_sendmmsg(int fd, struct mmsghdr *vec, unsigned vlen, int flags);

/* Stack lock held: some TCP connection is between open and closed, not in
 * TIME_WAIT (e.g. our FIN or the peer's is not through yet). */
bool ns_sys_tcp_closing(void);

#endif
