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

#endif
