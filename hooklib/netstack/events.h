/*
 * events.h - the waiting side of the netstack hook, private to its files
 * (wait.c, epoll.c, poll_select.c, netstack_hook.c).  The contract with the
 * socket layer is nsock.h; this header adds what only the hook itself uses.
 *
 * Every function here returns what the kernel would: >= 0 or -errno.
 */
#ifndef EXITLESS_NS_EVENTS_H
#define EXITLESS_NS_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "zphook.h"

/* The real system call (api->next): never hooked.  Set by zphook_init
 * before anything else runs; every kernel call of ours goes through it. */
extern zphook_fn ns_kernel;

/* --- waiting (wait.c) -------------------------------------------------------
 * The kernel half of a wait over a mixed set: sleep in the kernel on the
 * caller's kernel fds for at most TIMEOUT_NS (0: only look, never sleep),
 * with SIGMASK applied (NULL: the thread's own; pass it to ns_wait_sigmask).
 * Returns > 0 (kernel fds ready; the value is handed back to the caller),
 * 0 (nothing), or -errno (-EINTR: a signal was delivered). */
typedef long (*ns_kwait_fn)(void *karg, int64_t timeout_ns, const void *sigmask);

/*
 * ns_wait with a kernel half: loop { lock; poll the device; READY(arg);
 * unlock }.  Spins while frames arrive; once ZP_NET_SPIN_US passed without
 * a frame, sleeps in KWAIT (or, without one, a plain sleep) in slices of at
 * most 1 ms, so kernel fds wake it and the device is looked at again soon.
 * While spinning, KWAIT is asked (without sleeping) on the first round and
 * then at most every millisecond, so kernel fds are never starved by busy
 * lwIP traffic.  TIMEOUT_NS < 0: forever.  SIGMASK (may be NULL) is the
 * caller's, as ppoll/pselect/epoll_pwait take it; KWAIT and the plain
 * sleep get the mask to apply (see wait.c on signals).
 * Blocks the asynchronous signals in the thread while it runs (and
 * restores the mask at the end) when it does not finish at once.
 * Returns 0 (READY said true), > 0 (KWAIT's result), -ETIMEDOUT, -EINTR or
 * another -errno from KWAIT.
 */
long ns_wait_mixed(bool (*ready)(void *arg), void *arg, int64_t timeout_ns,
		   ns_kwait_fn kwait, void *karg, const void *sigmask);

/* A plain interruptible sleep of TIMEOUT_NS with SIGMASK (NULL: the
 * thread's own) applied, as the kernel does it for ppoll: 0 or -EINTR. */
long ns_sleep_ns(int64_t timeout_ns, const void *sigmask);

/*
 * Signals the device raises by itself (DPDK's tap driver signals every
 * received frame: SIGIO or a real-time signal), found by netstack_hook.c
 * when the stack starts.  They must not end an application's wait with
 * EINTR, so every sleeping kernel wait blocks them (they are delivered as
 * soon as it returns, or to another thread).  Bit N-1 is signal N.
 */
void ns_wait_block_signals(uint64_t sigbits);

/*
 * The mask a kernel wait must run with: APP_MASK (ppoll/pselect6/
 * epoll_pwait's, NULL for the thread's own) plus the device's signals.
 * NULL when the kernel may use the thread's mask as it is: no device
 * signals, or a wait that does not sleep and has no APP_MASK (then an
 * -EINTR it returns was a device signal: count it as "nothing ready").
 * BUF holds a computed mask.
 */
const void *ns_wait_sigmask(const void *app_mask, bool sleeping, uint64_t *buf);

/* Block every asynchronous signal in this thread but those in EXCEPT (bit
 * N-1: signal N; SIGSEGV, SIGSYS, SIGTRAP ... and SIGKILL/SIGSTOP are never
 * blocked); returns the mask it had.  Threads created meanwhile inherit it. */
uint64_t ns_block_async_signals(uint64_t except);
void ns_restore_signals(uint64_t old);

/* CLOCK_MONOTONIC in ns (the vDSO: no system call). */
int64_t ns_now_ns(void);

/* Read ZP_NET_SPIN_US (NULL: the default, 1000). */
void ns_wait_configure(const char *spin_us);

/* The kernel's sigset size for rt_sig*, ppoll, pselect6, epoll_pwait. */
#define NS_SIGSET_SIZE 8

/* --- epoll (epoll.c) ---------------------------------------------------------
 * Each takes the system call's arguments.  A kernel epoll fd backs every
 * instance: kernel fds are registered there; lwIP fds live in a user-space
 * interest list keyed by the epoll fd. */
long ns_epoll_create1(int flags);
long ns_epoll_create(int size);
long ns_epoll_ctl(int epfd, int op, int fd, void *event);
long ns_epoll_pwait2(int epfd, void *events, int maxevents, int64_t timeout_ns,
		     const void *sigmask, unsigned long sigsetsize);
/* The epoll instance behind FD, if any (close/dup/close_range keep the
 * table right).  Lock-free. */
bool ns_epoll_is_instance(int fd);
/* FD is an epoll fd with lwIP members (else epoll_wait is the kernel's). */
bool ns_epoll_has_lwip(int fd);
void ns_epoll_forget(int fd);                 /* FD was closed */
void ns_epoll_forget_range(unsigned first, unsigned last);
void ns_epoll_alias(int oldfd, int newfd);    /* NEWFD is a dup of OLDFD */
/* Around fork: the child gets the table unlocked. */
void ns_epoll_fork_prepare(void);
void ns_epoll_fork_done(void);

/* --- poll and select (poll_select.c) ----------------------------------------
 * The *_have_lwip checks are lock-free: a set without lwIP sockets goes to
 * the kernel unchanged. */
bool ns_pollfds_have_lwip(const void *fds, unsigned long nfds);
bool ns_select_has_lwip(int nfds, const void *r, const void *w, const void *e);
long ns_poll(void *fds, unsigned long nfds, int64_t timeout_ns, const void *sigmask,
	     unsigned long sigsetsize);
/* TIMEOUT: struct timeval * (IS_SELECT) or struct timespec * (pselect6);
 * the time left is written back into it, as the kernel does (glibc's
 * select() is pselect6 underneath and reads it back). */
long ns_select(int nfds, void *readfds, void *writefds, void *exceptfds,
	       void *timeout, bool is_select, const void *sigmask_arg);

/* Readiness of an lwIP socket as poll() reports it (lock held): the
 * EPOLL* bits of nsock_events() plus RDNORM/WRNORM as Linux adds them. */
struct nsock;
uint32_t ns_poll_bits(struct nsock *s);

#endif
