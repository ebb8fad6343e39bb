/*
 * netstack_hook.c - libzphook_netstack.so: unmodified programs on lwIP over
 * the netstack's device, DPDK or a port of an ELISA vmnet switch.
 * zphook_init and the hook that every system call of the program reaches.
 *
 *   LIBZPHOOK=.../libzphook_netstack.so ZP_NET_ADDR=A.B.C.D [device] prog
 *   (or loaders/zprun --hook netstack -- prog), where [device] is
 *     DPDK (the default):  ZP_NET_DEV=VDEV or ZP_DPDK_ARGS=EAL-ARGS
 *     ELISA vmnet:         ZP_NET_DEVICE=vmnet, and for ZP_ELISA_MODE=local
 *                          (the default) ZP_VMNET_REGION=FILE (made by
 *                          netstack/tools/vmnet-region), ZP_VMNET_PORT=N,
 *                          ZP_VMNET_APP=elisa/apps/vmnet.so; in a guest
 *                          ZP_ELISA_MODE=vmfunc with ZP_ELISA_GATE=VA and
 *                          ZP_VMNET_AREA=FILE (netstack/vmnet_attach.h)
 *   ZP_NET_MASK, ZP_NET_GATE: netstack/stack.h; all of it: netstack/README.md.
 *
 * AF_INET stream and datagram sockets are lwIP's (sock_*.c); every other fd
 * is the kernel's.  The hook's job is to tell them apart as cheaply as
 * possible: a call on a kernel fd costs one lock-free ns_fd_lookup and a
 * tail call of next (no lock, no system call of our own); only calls on
 * lwIP fds, and the calls that may name both kinds (epoll, poll, select,
 * dup2, close_range, sendfile), do more.
 *
 * The stack starts on the first AF_INET socket() (ns_stack_ensure_started):
 * a program that never opens one never touches the device.
 *
 * Processes:
 *  - fork (and clone without CLONE_VM): the child must not touch the device
 *    (DPDK's queues, or the vmnet port's rings, belong to the parent).  The page that says "this
 *    process owns the stack" is MADV_WIPEONFORK, so it reads zero in the
 *    child without a getpid per call.  The child's lwIP fds only close
 *    their placeholders; its new AF_INET sockets are kernel sockets.  The
 *    stack lock and the epoll table are held across fork, so the child
 *    never inherits them locked by a thread it does not have.
 *  - vfork / clone(CLONE_VM) without CLONE_THREAD (posix_spawn, popen,
 *    system): the child shares our memory (the fd table, the epoll table,
 *    the owner page) but has its own kernel fds.  While such a child may
 *    run, every call whose pid is not ours goes to the kernel unchanged:
 *    its close/dup2 of an lwIP fd only affect its copy of the
 *    placeholder, and its exec/exit never stop our stack.  Outside that
 *    window the check is one relaxed load.
 *  - exit_group in the owner: its lwIP sockets are closed (peers get a
 *    FIN, as from a dying process's kernel sockets), then ns_stack_stop()
 *    (nothing left in /var/run/dpdk, a memif peer sees the link go down;
 *    a vmnet port's TX ring is flushed and the port released),
 *    with the lock held into the exit so no other thread reaches lwIP
 *    after the stop.
 *  - execve in the owner: the same before the call.  lwIP sockets do not
 *    survive execve (the new image has no stack): they are closed, even
 *    without CLOEXEC.  If execve fails, the stack stays stopped: new
 *    AF_INET sockets of the process are kernel ones.
 *  - A process killed by a signal (SIGKILL, or a default-action SIGTERM)
 *    does not stop the port: DPDK's runtime files may stay behind (a vmnet
 *    port's lock goes with the process's last fd of the region file).
 *
 * Threads share one stack behind ns_stack_lock (taken by the socket layer
 * and by ns_wait, never across a sleep).  A signal handler that makes a
 * socket call while its thread holds the lock deadlocks (the lock is not
 * recursive); handlers that only set flags, as servers' do, are fine.
 *
 * ZP_NET_STATS=1 prints ns_stack_counters on one line to stderr at exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "nsock.h"
#include "stack.h"
#include "zphook.h"

/* The kernel's first real-time signal (glibc's SIGRTMIN is 34 or 35: it
 * keeps two for itself). */
#define SIGRTMIN_KERNEL 32

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

zphook_fn ns_kernel;
static const char *(*app_getenv)(const char *);
static bool print_stats;

/* --- who owns the stack ------------------------------------------------------ */

/* One page, MADV_WIPEONFORK: all zero in a fork child. */
struct owner_page {
	volatile int owned;   /* this process started the stack and may use it */
	volatile int pid;     /* ... and this is its pid (vfork children share the page) */
};
static struct owner_page *owner;
static int owner_page_error;  /* errno of mmap/madvise, reported at start */

static pthread_mutex_t start_mutex = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool started;   /* ns_stack_start succeeded in this image (fork copies it) */

static void owner_page_init(void)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		owner_page_error = errno;
		return;
	}
	if (madvise(page, 4096, MADV_WIPEONFORK) != 0) {
		owner_page_error = errno;
		munmap(page, 4096);
		return;
	}
	owner = page;
}

bool ns_stack_owned(void)
{
	return owner && owner->owned;
}

/* The owner itself, not a vfork child sharing its memory.  Costs a getpid:
 * only for exit_group and execve. */
static bool is_owner_process(void)
{
	return ns_stack_owned() && owner->pid == (int)ns_kernel(SYS_getpid, 0, 0, 0, 0, 0, 0);
}

static _Noreturn void start_failed(const char *why)
{
	/* The stack's messages carry the prefix already. */
	const char *prefix = strncmp(why, "netstack: ", 10) == 0 ? "" : "netstack: ";
	dprintf(2, "%s%s\n", prefix, why);
	for (;;)
		ns_kernel(SYS_exit_group, 1, 0, 0, 0, 0, 0);
}

/* Signals with a handler now (bit N-1: signal N), from the kernel. */
static uint64_t handled_signals(void)
{
	struct { void *handler; unsigned long flags; void *restorer; uint64_t mask; } sa;
	uint64_t bits = 0;
	for (int sig = 1; sig <= 64; sig++)
		if (ns_kernel(SYS_rt_sigaction, sig, 0, (long)&sa, NS_SIGSET_SIZE, 0, 0) == 0 &&
		    sa.handler != SIG_DFL && sa.handler != SIG_IGN)
			bits |= 1ULL << (sig - 1);
	return bits;
}

/*
 * Programs size tables by the fds they expect to open: wrk's event loop
 * has 10 + 3 x connections slots, so `wrk -c 1` needs every fd below 13.
 * DPDK's start opens 6-7 fds of its own (pipes, an epoll, a timerfd, a
 * memfd, the memif control socket); left in the lowest free slots they
 * push the application's sockets up past such limits.  So while the stack
 * starts, the free fds below FD_FLOOR are occupied (by /dev/null), then
 * released: DPDK's fds land above the range a program counts on.  (Fds a
 * driver opens later, e.g. memif's per-queue eventfds at link-up, still go
 * to the lowest free slots.)
 */
#define FD_FLOOR 64

static int reserve_low_fds(int *fds)
{
	struct { uint64_t cur, max; } lim;
	int floor = FD_FLOOR;
	/* Leave most of a small limit to DPDK. */
	if (ns_kernel(SYS_prlimit64, 0, RLIMIT_NOFILE, 0, (long)&lim, 0, 0) == 0 &&
	    lim.cur < 4 * FD_FLOOR)
		floor = (int)(lim.cur / 4);
	int n = 0;
	while (n < FD_FLOOR) {
		long fd = ns_kernel(SYS_openat, AT_FDCWD, (long)"/dev/null", O_RDONLY | O_CLOEXEC, 0, 0, 0);
		if (fd < 0)
			break;
		if (fd >= floor) {
			ns_kernel(SYS_close, fd, 0, 0, 0, 0, 0);
			break;
		}
		fds[n++] = (int)fd;
	}
	return n;
}

static void release_low_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		ns_kernel(SYS_close, fds[i], 0, 0, 0, 0, 0);
}

void ns_stack_ensure_started(void)
{
	if (atomic_load_explicit(&started, memory_order_acquire))
		return;
	pthread_mutex_lock(&start_mutex);
	if (!atomic_load_explicit(&started, memory_order_relaxed)) {
		if (!owner) {
			char why[160];
			snprintf(why, sizeof why, "cannot mark the stack's owner (MADV_WIPEONFORK: %s): "
				 "Linux 4.14 or later is needed", strerror(owner_page_error));
			start_failed(why);
		}
		char err[512] = "";
		uint64_t before = handled_signals();
		int low[FD_FLOOR];
		int nlow = reserve_low_fds(low);
		/* DPDK's threads (eal-intr-thread) inherit a mask that blocks
		 * the application's signals: a signal sent to the process must
		 * reach an application thread, whose wait it ends (nginx's
		 * SIGTERM handler only sets a flag that its epoll loop tests);
		 * run in DPDK's thread, it would end no wait at all.  SIGIO and
		 * the real-time signals stay open: a driver may signal its own
		 * frames with them (DPDK's tap does) and they are not known
		 * until it started. */
		uint64_t rt_signals = ~0ULL << (SIGRTMIN_KERNEL - 1);
		uint64_t mask = ns_block_async_signals((1ULL << (SIGIO - 1)) | rt_signals);
		ns_stack_lock();
		int rc = ns_stack_start(app_getenv, err, sizeof err);
		ns_stack_unlock();
		ns_restore_signals(mask);
		release_low_fds(low, nlow);
		if (rc != 0)
			start_failed(err[0] ? err : "the stack did not start (no reason given)");
		/* Handlers the device installed (DPDK's tap: one signal per
		 * received frame) must not interrupt the application's waits. */
		ns_wait_block_signals(handled_signals() & ~before);
		owner->pid = (int)ns_kernel(SYS_getpid, 0, 0, 0, 0, 0, 0);
		owner->owned = 1;
		atomic_store_explicit(&started, true, memory_order_release);
	}
	pthread_mutex_unlock(&start_mutex);
}

static void write_stats(void)
{
	char line[512];
	ns_stack_format_counters(line, sizeof line);
	dprintf(2, "netstack: %s\n", line);
}

/* --- vfork ---------------------------------------------------------------------- */

static atomic_int vfork_active;      /* vfork-like calls under way */
static atomic_int vfork_parent_pid;  /* the pid of the process that made them */

/* A vfork child runs on our memory: it must not touch our tables. */
static bool in_vfork_child(void)
{
	if (__builtin_expect(atomic_load_explicit(&vfork_active, memory_order_relaxed) == 0, 1))
		return false;
	return ns_kernel(SYS_getpid, 0, 0, 0, 0, 0, 0) != atomic_load(&vfork_parent_pid);
}

static bool is_vfork_like(long nr, long a1)
{
	if (nr == SYS_vfork)
		return true;
	if (nr == SYS_clone)
		return (a1 & CLONE_VM) && !(a1 & CLONE_THREAD);
	if (nr == SYS_clone3 && a1) {
		uint64_t flags = ((const struct clone_args *)a1)->flags;
		return (flags & CLONE_VM) && !(flags & CLONE_THREAD);
	}
	return false;
}

static long vfork_marked(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	atomic_store(&vfork_parent_pid, (int)ns_kernel(SYS_getpid, 0, 0, 0, 0, 0, 0));
	atomic_fetch_add(&vfork_active, 1);
	long rc = ns_kernel(nr, a1, a2, a3, a4, a5, a6);
	/* The child (rc 0) shares this counter: only the parent, once the
	 * child has exec'd or exited (or at once without CLONE_VFORK), or a
	 * failed call, lowers it. */
	if (rc != 0)
		atomic_fetch_sub(&vfork_active, 1);
	return rc;
}

/* --- fork ----------------------------------------------------------------------- */

static bool is_fork_like(long nr, long a1)
{
	if (nr == SYS_fork)
		return true;
	if (nr == SYS_clone)
		return !(a1 & CLONE_VM);
	if (nr == SYS_clone3 && a1)
		return !(((const struct clone_args *)a1)->flags & CLONE_VM);
	return false;
}

/* Neither lock may be inherited held by a thread the child does not have. */
static long fork_locked(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	bool stack = atomic_load(&started);
	if (stack)
		ns_stack_lock();
	ns_epoll_fork_prepare();
	long rc = ns_kernel(nr, a1, a2, a3, a4, a5, a6);
	ns_epoll_fork_done();
	if (stack)
		ns_stack_unlock();
	return rc;
}

/* --- fds that name lwIP sockets ------------------------------------------------ */

/* The highest fd ever given to an lwIP socket, so close_range scans only
 * that far. */
static atomic_int max_lwip_fd = -1;

static long note_lwip_fd(long fd)
{
	int cur = atomic_load_explicit(&max_lwip_fd, memory_order_relaxed);
	while (fd > cur && !atomic_compare_exchange_weak(&max_lwip_fd, &cur, (int)fd))
		;
	return fd;
}

static long do_close_range(unsigned first, unsigned last, unsigned flags)
{
	long rc;
	/* Only a range that may hold lwIP fds needs the socket layer. */
	if ((long)first <= atomic_load(&max_lwip_fd))
		rc = ns_sys_close_range(first, last, flags);
	else
		rc = ns_kernel(SYS_close_range, first, last, flags, 0, 0, 0);
	/* CLOEXEC only marks fds; the epoll fds stay until execve. */
	if (rc == 0 && !(flags & CLOSE_RANGE_CLOEXEC))
		ns_epoll_forget_range(first, last);
	return rc;
}

static long do_close(int fd)
{
	if (ns_fd_lookup(fd))
		return ns_sys_close(fd);
	ns_epoll_forget(fd);
	return ns_kernel(SYS_close, fd, 0, 0, 0, 0, 0);
}

/* dup2/dup3: either side may be an lwIP socket or an epoll fd. */
static long do_dup3(long nr, int oldfd, int newfd, int flags)
{
	long rc;
	if (ns_fd_lookup(oldfd) || ns_fd_lookup(newfd)) {
		rc = nr == SYS_dup2 ? ns_sys_dup2(oldfd, newfd) : ns_sys_dup3(oldfd, newfd, flags);
		if (rc >= 0 && ns_fd_lookup((int)rc))
			note_lwip_fd(rc);
	} else {
		rc = ns_kernel(nr, oldfd, newfd, flags, 0, 0, 0);
	}
	if (rc >= 0 && oldfd != newfd) {
		/* NEWFD was closed by the dup: its epoll instance (if any) goes,
		 * OLDFD's (if any) is now NEWFD's too. */
		if (ns_epoll_is_instance(oldfd))
			ns_epoll_alias(oldfd, newfd);
		else
			ns_epoll_forget(newfd);
	}
	return rc;
}

static bool is_dupfd_cmd(long cmd)
{
	return cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
}

/* fstat & co. on an lwIP fd answer for its placeholder (an eventfd):
 * make it look like the socket it stands for. */
static long as_socket_stat(long rc, struct stat *st)
{
	if (rc == 0)
		st->st_mode = S_IFSOCK | 0777;
	return rc;
}

static bool empty_path(long path)
{
	return path && ((const char *)path)[0] == '\0';
}

/* sendfile to an lwIP socket: read the file (at *OFFSET, or at its own
 * position) and write what the socket takes.  Bytes are read with pread,
 * so nothing is consumed that the socket did not take. */
static long emulate_sendfile(int out_fd, int in_fd, off_t *offset, size_t count)
{
	char buf[64 * 1024];
	off_t pos = offset ? *offset : (off_t)ns_kernel(SYS_lseek, in_fd, 0, SEEK_CUR, 0, 0, 0);
	if (pos < 0)
		return pos == -ESPIPE ? -EINVAL : pos;  /* Linux: in_fd must be seekable here */
	size_t done = 0;
	long rc = 0;
	while (done < count) {
		size_t want = count - done < sizeof buf ? count - done : sizeof buf;
		long got = ns_kernel(SYS_pread64, in_fd, (long)buf, (long)want, (long)(pos + (off_t)done), 0, 0);
		if (got <= 0) {
			rc = got;
			break;
		}
		long put = ns_sys_write(out_fd, buf, (size_t)got);
		if (put <= 0) {
			rc = put;
			break;
		}
		done += (size_t)put;
		if (put < got)
			break;  /* the socket is full: report what went */
	}
	if (done > 0) {
		if (offset)
			*offset = pos + (off_t)done;
		else
			ns_kernel(SYS_lseek, in_fd, pos + (long)done, SEEK_SET, 0, 0, 0);
		return (long)done;
	}
	return rc;
}

/* --- process end --------------------------------------------------------------- */

/*
 * exit_group/execve in the owner.  First every lwIP socket is closed as the
 * kernel closes a dying process's sockets (FIN, or RST with unread data).
 * Then the stack lingers, polling: the kernel keeps a dead process's
 * connections until their FINs are through, but our stack goes away with
 * us, and a segment still in the device's ring when the port stops may
 * never reach the peer (a memif peer that was asleep sees the link go down
 * before it reads the ring), which then keeps the connection (seen: a
 * redis-server still counting exited redis-cli clients).  So, when a socket
 * was closed: at least LINGER_MIN_NS (a sleeping stack polls every
 * millisecond), then until no connection is half-closed (the peer ACKed
 * our FIN and sent its own), at most LINGER_MAX_NS.  Then, lock held, the
 * port stops.  The lock is kept so no other thread reaches lwIP after the
 * stop; returns whether it was taken (the caller unlocks if execve fails).
 */
#define LINGER_MIN_NS (2 * 1000000LL)
#define LINGER_MAX_NS (100 * 1000000LL)

static bool stop_for_exit(void)
{
	if (!is_owner_process())
		return false;
	int top = atomic_load(&max_lwip_fd);
	int closed = 0;
	for (int fd = 0; fd <= top; fd++)
		if (ns_fd_lookup(fd)) {
			ns_sys_close(fd);
			closed++;
		}
	ns_stack_lock();
	ns_stack_poll();
	int64_t start = ns_now_ns();
	while (closed) {
		int64_t t = ns_now_ns() - start;
		if (t >= LINGER_MAX_NS || (t >= LINGER_MIN_NS && !ns_sys_tcp_closing()))
			break;
		ns_stack_poll();
		__builtin_ia32_pause();
	}
	if (print_stats)
		write_stats();
	ns_stack_stop();
	owner->owned = 0;
	return true;
}

/* --- socket(), the only call that creates lwIP sockets from nothing ---------- */

static long do_socket(long domain, long type, long protocol)
{
	/* AF_INET stream/datagram sockets are lwIP's; AF_INET6 too, which the
	 * socket layer refuses (the stack is IPv4 only, and a server must not
	 * end up half on the kernel); raw, ICMP, AF_UNIX ...: the kernel's. */
	if (!ns_sys_socket_is_ours((int)domain, (int)type))
		return ns_kernel(SYS_socket, domain, type, protocol, 0, 0, 0);
	/* A fork child (or an owner whose stack stopped at a failed execve)
	 * may not use the device: its new sockets are the kernel's. */
	if (atomic_load_explicit(&started, memory_order_acquire) && !ns_stack_owned())
		return ns_kernel(SYS_socket, domain, type, protocol, 0, 0, 0);
	/* ns_sys_socket starts the stack once the arguments are valid. */
	long fd = ns_sys_socket((int)domain, (int)type, (int)protocol);
	return fd >= 0 ? note_lwip_fd(fd) : fd;
}

/* --- timeouts ---------------------------------------------------------------------- */

static int64_t ms_to_ns(long ms)
{
	return (int)ms < 0 ? -1 : (int64_t)(int)ms * 1000000;
}

/* A struct timespec timeout (NULL: forever); -EINVAL if malformed. */
static long timespec_to_ns(long ts_arg, int64_t *out)
{
	const struct timespec *ts = (const struct timespec *)ts_arg;
	*out = -1;
	if (!ts)
		return 0;
	if (ts->tv_sec < 0 || ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000)
		return -EINVAL;
	*out = ts->tv_sec > INT64_MAX / 1000000000LL - 1 ? -1
		: (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
	return 0;
}

/* As the kernel does for ppoll (glibc's ppoll hands it a copy). */
static void write_time_left(struct timespec *ts, int64_t deadline)
{
	int64_t left = deadline - ns_now_ns();
	if (left < 0)
		left = 0;
	ts->tv_sec = left / 1000000000LL;
	ts->tv_nsec = left % 1000000000LL;
}

/* --- the hook ------------------------------------------------------------------------ */

#define NEXT() ns_kernel(nr, a1, a2, a3, a4, a5, a6)
/* The call names an lwIP fd in argument A, else it is the kernel's. */
#define KERNEL_UNLESS_LWIP(a) do { if (!ns_fd_lookup((int)(a))) return NEXT(); } while (0)

static long netstack_hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	if (in_vfork_child())
		return NEXT();
	switch (nr) {
	/* --- the data path: kernel fds leave at the first line --- */
	case SYS_read:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_read((int)a1, (void *)a2, (size_t)a3);
	case SYS_write:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_write((int)a1, (const void *)a2, (size_t)a3);
	case SYS_readv:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_readv((int)a1, (const struct iovec *)a2, (int)a3);
	case SYS_writev:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_writev((int)a1, (const struct iovec *)a2, (int)a3);
	case SYS_recvfrom:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_recvfrom((int)a1, (void *)a2, (size_t)a3, (int)a4, (void *)a5, (int *)a6);
	case SYS_sendto:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_sendto((int)a1, (const void *)a2, (size_t)a3, (int)a4, (const void *)a5, (int)a6);
	case SYS_recvmsg:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_recvmsg((int)a1, (struct msghdr *)a2, (int)a3);
	case SYS_sendmsg:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_sendmsg((int)a1, (const struct msghdr *)a2, (int)a3);
	case SYS_recvmmsg:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_recvmmsg((int)a1, (struct mmsghdr *)a2, (unsigned)a3, (int)a4, (void *)a5);
	case SYS_sendmmsg:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_sendmmsg((int)a1, (struct mmsghdr *)a2, (unsigned)a3, (int)a4);

	/* --- sockets --- */
	case SYS_socket:
		return do_socket(a1, a2, a3);
	case SYS_socketpair:
		/* Linux has no AF_INET socketpair either. */
		return a1 == AF_INET ? -EOPNOTSUPP : NEXT();
	case SYS_bind:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_bind((int)a1, (const void *)a2, (int)a3);
	case SYS_listen:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_listen((int)a1, (int)a2);
	case SYS_accept:
	case SYS_accept4: {
		KERNEL_UNLESS_LWIP(a1);
		long fd = ns_sys_accept4((int)a1, (void *)a2, (int *)a3, nr == SYS_accept ? 0 : (int)a4);
		return fd >= 0 ? note_lwip_fd(fd) : fd;
	}
	case SYS_connect:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_connect((int)a1, (const void *)a2, (int)a3);
	case SYS_shutdown:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_shutdown((int)a1, (int)a2);
	case SYS_getsockname:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_getsockname((int)a1, (void *)a2, (int *)a3);
	case SYS_getpeername:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_getpeername((int)a1, (void *)a2, (int *)a3);
	case SYS_setsockopt:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_setsockopt((int)a1, (int)a2, (int)a3, (const void *)a4, (int)a5);
	case SYS_getsockopt:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_getsockopt((int)a1, (int)a2, (int)a3, (void *)a4, (int *)a5);
	case SYS_ioctl:
		KERNEL_UNLESS_LWIP(a1);
		return ns_sys_ioctl((int)a1, (unsigned long)a2, a3);

	/* --- fd bookkeeping: lwIP sockets and epoll instances --- */
	case SYS_close:
		return do_close((int)a1);
	case SYS_close_range:
		return do_close_range((unsigned)a1, (unsigned)a2, (unsigned)a3);
	case SYS_dup: {
		if (ns_fd_lookup((int)a1)) {
			long fd = ns_sys_dup((int)a1);
			return fd >= 0 ? note_lwip_fd(fd) : fd;
		}
		long fd = NEXT();
		if (fd >= 0 && ns_epoll_is_instance((int)a1))
			ns_epoll_alias((int)a1, (int)fd);
		return fd;
	}
	case SYS_dup2:
		return do_dup3(nr, (int)a1, (int)a2, 0);
	case SYS_dup3:
		return do_dup3(nr, (int)a1, (int)a2, (int)a3);
	case SYS_fcntl: {
		if (ns_fd_lookup((int)a1)) {
			long rc = ns_sys_fcntl((int)a1, (int)a2, a3);
			return rc >= 0 && is_dupfd_cmd(a2) ? note_lwip_fd(rc) : rc;
		}
		long rc = NEXT();
		if (rc >= 0 && is_dupfd_cmd(a2) && ns_epoll_is_instance((int)a1))
			ns_epoll_alias((int)a1, (int)rc);
		return rc;
	}

	/* --- readiness over mixed sets --- */
	case SYS_epoll_create:
		return ns_epoll_create((int)a1);
	case SYS_epoll_create1:
		return ns_epoll_create1((int)a1);
	case SYS_epoll_ctl:
		return ns_epoll_ctl((int)a1, (int)a2, (int)a3, (void *)a4);
	case SYS_epoll_wait:
		if (!ns_epoll_has_lwip((int)a1))
			return NEXT();
		return ns_epoll_pwait2((int)a1, (void *)a2, (int)a3, ms_to_ns(a4), NULL, 0);
	case SYS_epoll_pwait:
		if (!ns_epoll_has_lwip((int)a1))
			return NEXT();
		return ns_epoll_pwait2((int)a1, (void *)a2, (int)a3, ms_to_ns(a4), (const void *)a5,
				       (unsigned long)a6);
	case SYS_epoll_pwait2: {
		if (!ns_epoll_has_lwip((int)a1))
			return NEXT();
		int64_t timeout;
		long rc = timespec_to_ns(a4, &timeout);
		if (rc)
			return rc;
		return ns_epoll_pwait2((int)a1, (void *)a2, (int)a3, timeout, (const void *)a5,
				       (unsigned long)a6);
	}
	case SYS_poll:
		if (!ns_pollfds_have_lwip((const void *)a1, (unsigned long)a2))
			return NEXT();
		return ns_poll((void *)a1, (unsigned long)a2, ms_to_ns(a3), NULL, 0);
	case SYS_ppoll: {
		if (!ns_pollfds_have_lwip((const void *)a1, (unsigned long)a2))
			return NEXT();
		int64_t timeout;
		long rc = timespec_to_ns(a3, &timeout);
		if (rc)
			return rc;
		int64_t start = ns_now_ns();
		rc = ns_poll((void *)a1, (unsigned long)a2, timeout, (const void *)a4, (unsigned long)a5);
		if (timeout > 0)
			write_time_left((struct timespec *)a3, start + timeout);
		return rc;
	}
	case SYS_select:
	case SYS_pselect6:
		if ((int)a1 < 0 || !ns_select_has_lwip((int)a1, (const void *)a2, (const void *)a3,
						       (const void *)a4))
			return NEXT();
		return ns_select((int)a1, (void *)a2, (void *)a3, (void *)a4, (void *)a5,
				 nr == SYS_select, (const void *)a6);

	/* --- file calls that make no sense on a socket --- */
	case SYS_pread64:
	case SYS_pwrite64:
	case SYS_preadv:
	case SYS_pwritev:
	case SYS_lseek:
		KERNEL_UNLESS_LWIP(a1);
		return -ESPIPE;
	case SYS_preadv2:
	case SYS_pwritev2:
		KERNEL_UNLESS_LWIP(a1);
		/* Offset -1 means "the current position": plain readv/writev. */
		if (a4 != -1)
			return -ESPIPE;
		return nr == SYS_preadv2 ? ns_sys_readv((int)a1, (const struct iovec *)a2, (int)a3)
					 : ns_sys_writev((int)a1, (const struct iovec *)a2, (int)a3);
	case SYS_fadvise64:
		KERNEL_UNLESS_LWIP(a1);
		return -ESPIPE;
	case SYS_readahead:
		KERNEL_UNLESS_LWIP(a1);
		return -EINVAL;
	case SYS_sendfile:
		if (ns_fd_lookup((int)a2))
			return -EINVAL;  /* a socket cannot be the source (Linux agrees) */
		KERNEL_UNLESS_LWIP(a1);
		return emulate_sendfile((int)a1, (int)a2, (off_t *)a3, (size_t)a4);
	case SYS_splice:
	case SYS_copy_file_range:
		if (ns_fd_lookup((int)a1) || ns_fd_lookup((int)a3))
			return -EINVAL;
		return NEXT();
	case SYS_tee:
		if (ns_fd_lookup((int)a1) || ns_fd_lookup((int)a2))
			return -EINVAL;
		return NEXT();
	case SYS_vmsplice:
		KERNEL_UNLESS_LWIP(a1);
		return -EBADF;  /* not a pipe */
	case SYS_fstat:
		KERNEL_UNLESS_LWIP(a1);
		return as_socket_stat(NEXT(), (struct stat *)a2);
	case SYS_newfstatat:
		if ((a4 & AT_EMPTY_PATH) && empty_path(a2) && ns_fd_lookup((int)a1))
			return as_socket_stat(NEXT(), (struct stat *)a3);
		return NEXT();
	case SYS_statx: {
		if (!((a3 & AT_EMPTY_PATH) && empty_path(a2) && ns_fd_lookup((int)a1)))
			return NEXT();
		long rc = NEXT();
		if (rc == 0) {
			struct statx *stx = (struct statx *)a5;
			stx->stx_mode = (uint16_t)(S_IFSOCK | 0777);
		}
		return rc;
	}

	/* --- processes --- */
	case SYS_fork:
	case SYS_vfork:
	case SYS_clone:
	case SYS_clone3:
		if (is_fork_like(nr, a1))
			return fork_locked(nr, a1, a2, a3, a4, a5, a6);
		if (is_vfork_like(nr, a1))
			return vfork_marked(nr, a1, a2, a3, a4, a5, a6);
		return NEXT();
	case SYS_exit_group:
		stop_for_exit();
		return NEXT();  /* does not return */
	case SYS_execve:
	case SYS_execveat: {
		bool stopped = stop_for_exit();
		long rc = NEXT();
		if (stopped)
			ns_stack_unlock();  /* execve failed: carry on without the stack */
		return rc;
	}
	default:
		return NEXT();
	}
}

__attribute__((visibility("default")))
int zphook_init(const struct zphook_api *api, zphook_fn *hook)
{
	if (api->version < 1)
		return -1;
	/* No ZPHOOK_NO_VECTOR: lwIP, DPDK and libc use vector registers. */
	ns_kernel = api->next;
	app_getenv = api->getenv;
	owner_page_init();
	ns_wait_configure(api->getenv("ZP_NET_SPIN_US"));
	const char *stats = api->getenv("ZP_NET_STATS");
	print_stats = stats && strcmp(stats, "0") != 0 && stats[0] != '\0';
	ns_sock_init(api->next);
	*hook = netstack_hook;
	return 0;
}
