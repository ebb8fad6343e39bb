/*
 * epoll.c - epoll over sets that mix kernel fds and lwIP sockets.
 *
 * Every epoll fd is a real kernel epoll (epoll_create goes to the kernel):
 * its number is unique, kernel fds are registered in it as usual, and it
 * can be waited on, passed to close/dup/fork like any epoll fd.  lwIP
 * sockets cannot be registered there (the kernel knows only their
 * placeholder eventfd, which says nothing about the socket), so each epoll
 * fd also has an *instance* here: the user-space interest list of its lwIP
 * members.
 *
 * epoll_wait on an epoll fd without lwIP members goes straight to the
 * kernel (netstack_hook.c checks ns_epoll_has_lwip).  With lwIP members it
 * scans them after every poll of the device (ns_wait_mixed): level-
 * triggered items report whenever nsock_events() has a wanted bit,
 * edge-triggered ones only when nsock_gen() moved since they were last
 * reported, EPOLLONESHOT items fall silent until EPOLL_CTL_MOD.  Up to
 * maxevents events per call, scanning round-robin so a small maxevents does
 * not starve the members at the end of the list.  When lwIP events are
 * found and the set has kernel members, a zero-timeout kernel epoll_wait
 * adds theirs; when nothing is ready, the idle sleep is the kernel
 * epoll_wait itself, in slices of at most 1 ms, so kernel fds wake it.
 *
 * An item remembers its socket's nsock_id: a socket closed while
 * registered (its fd possibly reused by another socket) disappears from the
 * set, as the kernel drops a closed file.  Linux keeps the item while a
 * dup of the fd keeps the file open; here it is keyed by fd number, so
 * closing the registered fd drops it even if a dup lives on.
 *
 * Locking: the fd -> instance table is changed under table_mutex, read
 * lock-free; instances are never freed (a free list recycles them), so a
 * lock-free reader never touches unmapped memory.  refs keeps an instance
 * alive while a call uses it.  Items are read and changed only under the
 * stack lock, because scanning them needs nsock_events() under that lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>

#include "events.h"
#include "nsock.h"
#include "stack.h"

/* Flags that are not events: never reported back. */
#define EP_CONTROL_BITS (EPOLLET | EPOLLONESHOT | EPOLLEXCLUSIVE | EPOLLWAKEUP)
/* As Linux: the only bits allowed together with EPOLLEXCLUSIVE. */
#define EP_EXCLUSIVE_OK (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | \
			 EPOLLET | EPOLLEXCLUSIVE)
/* As Linux: maxevents above this is EINVAL. */
#define EP_MAX_EVENTS ((int)(0x7fffffff / sizeof(struct epoll_event)))

struct ep_item {
	int fd;
	uint32_t events;      /* as registered, plus EPOLLERR|EPOLLHUP (always wanted) */
	uint64_t data;        /* returned as given */
	uint64_t id;          /* nsock_id at ADD: the fd must still hold this socket */
	uint64_t gen;         /* EPOLLET: nsock_gen when last reported */
	bool reported;        /* EPOLLET: reported at gen (false: report if ready) */
	bool disabled;        /* EPOLLONESHOT fired: silent until EPOLL_CTL_MOD */
	bool dead;            /* its socket is gone; removed after the scan */
};

struct ep_instance {
	atomic_int refs;              /* table slots naming it + calls using it */
	atomic_uint nitems;           /* lwIP members (read lock-free by the fast path) */
	atomic_int kernel_members;    /* may over-count: a closed kernel fd leaves silently */
	struct ep_item *items;
	unsigned cap;
	unsigned cursor;              /* where the next scan starts */
	struct ep_instance *next_free;
};

/* --- the fd -> instance table ------------------------------------------------
 * Two levels, chunks allocated on first use, so a high fd number costs one
 * chunk and a lookup is two loads. */
#define CHUNK_BITS 12
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define CHUNK_COUNT 512               /* 2M fds: beyond any RLIMIT_NOFILE default */

typedef _Atomic(struct ep_instance *) ep_slot;
static _Atomic(ep_slot *) chunks[CHUNK_COUNT];
static pthread_mutex_t table_mutex = PTHREAD_MUTEX_INITIALIZER;
static struct ep_instance *free_list;  /* table_mutex */

static ep_slot *slot_of(int fd, bool create)
{
	if (fd < 0 || (unsigned)fd >= CHUNK_SIZE * CHUNK_COUNT)
		return NULL;
	unsigned c = (unsigned)fd >> CHUNK_BITS;
	ep_slot *chunk = atomic_load_explicit(&chunks[c], memory_order_acquire);
	if (!chunk && create) {
		/* Called with table_mutex held: nobody else creates it. */
		chunk = calloc(CHUNK_SIZE, sizeof(ep_slot));
		if (!chunk)
			return NULL;
		atomic_store_explicit(&chunks[c], chunk, memory_order_release);
	}
	return chunk ? &chunk[fd & (CHUNK_SIZE - 1)] : NULL;
}

static struct ep_instance *peek(int fd)
{
	ep_slot *slot = slot_of(fd, false);
	return slot ? atomic_load_explicit(slot, memory_order_acquire) : NULL;
}

static struct ep_instance *instance_new(int kernel_members)
{
	pthread_mutex_lock(&table_mutex);
	struct ep_instance *inst = free_list;
	if (inst)
		free_list = inst->next_free;
	pthread_mutex_unlock(&table_mutex);
	if (!inst) {
		inst = calloc(1, sizeof *inst);
		if (!inst)
			return NULL;
	}
	atomic_store(&inst->refs, 1);
	atomic_store(&inst->nitems, 0);
	atomic_store(&inst->kernel_members, kernel_members);
	inst->items = NULL;
	inst->cap = 0;
	inst->cursor = 0;
	inst->next_free = NULL;
	return inst;
}

/* Drop one reference; the last one recycles the instance. */
static void put(struct ep_instance *inst)
{
	if (!inst || atomic_fetch_sub(&inst->refs, 1) != 1)
		return;
	/* Nobody else can reach it: no slot names it, no call holds it. */
	free(inst->items);
	inst->items = NULL;
	inst->cap = 0;
	atomic_store(&inst->nitems, 0);
	pthread_mutex_lock(&table_mutex);
	inst->next_free = free_list;
	free_list = inst;
	pthread_mutex_unlock(&table_mutex);
}

/* The instance of FD with a reference taken, or NULL. */
static struct ep_instance *get(int fd)
{
	pthread_mutex_lock(&table_mutex);
	struct ep_instance *inst = peek(fd);
	if (inst)
		atomic_fetch_add(&inst->refs, 1);
	pthread_mutex_unlock(&table_mutex);
	return inst;
}

/* Make FD name INST (whose reference the slot takes over); returns what
 * it named before, for the caller to put(). */
static struct ep_instance *install(int fd, struct ep_instance *inst, int *err)
{
	pthread_mutex_lock(&table_mutex);
	ep_slot *slot = slot_of(fd, true);
	struct ep_instance *old = NULL;
	if (slot)
		old = atomic_exchange(slot, inst);
	pthread_mutex_unlock(&table_mutex);
	*err = slot ? 0 : -ENOMEM;
	return old;
}

bool ns_epoll_is_instance(int fd)
{
	return peek(fd) != NULL;
}

bool ns_epoll_has_lwip(int fd)
{
	struct ep_instance *inst = peek(fd);
	return inst && atomic_load_explicit(&inst->nitems, memory_order_relaxed) != 0;
}

void ns_epoll_forget(int fd)
{
	if (!peek(fd))
		return;
	pthread_mutex_lock(&table_mutex);
	ep_slot *slot = slot_of(fd, false);
	struct ep_instance *old = slot ? atomic_exchange(slot, NULL) : NULL;
	pthread_mutex_unlock(&table_mutex);
	put(old);
}

void ns_epoll_forget_range(unsigned first, unsigned last)
{
	unsigned limit = CHUNK_SIZE * CHUNK_COUNT - 1;
	if (last > limit)
		last = limit;
	for (unsigned fd = first; fd <= last && fd >= first; fd++) {
		/* Skip chunks never allocated: close_range(3, ~0U) is common. */
		if ((fd & (CHUNK_SIZE - 1)) == 0 && !atomic_load(&chunks[fd >> CHUNK_BITS])) {
			if (fd + CHUNK_SIZE - 1 >= last)
				break;
			fd += CHUNK_SIZE - 1;
			continue;
		}
		ns_epoll_forget((int)fd);
	}
}

void ns_epoll_alias(int oldfd, int newfd)
{
	if (oldfd == newfd || (!peek(oldfd) && !peek(newfd)))
		return;
	struct ep_instance *inst = get(oldfd);  /* the reference the new slot takes */
	int err;
	struct ep_instance *old = install(newfd, inst, &err);
	if (err)
		put(inst);
	put(old);
}

void ns_epoll_fork_prepare(void)
{
	pthread_mutex_lock(&table_mutex);
}

void ns_epoll_fork_done(void)
{
	pthread_mutex_unlock(&table_mutex);
}

/* --- creation ------------------------------------------------------------- */

static long created(long fd)
{
	if (fd < 0)
		return fd;
	/* An instance left at this number by a close we did not see is stale. */
	struct ep_instance *inst = instance_new(0);
	int err = inst ? 0 : -ENOMEM;
	if (inst)
		put(install((int)fd, inst, &err));
	if (err) {
		put(inst);
		ns_kernel(SYS_close, fd, 0, 0, 0, 0, 0);
		return err;
	}
	return fd;
}

long ns_epoll_create1(int flags)
{
	return created(ns_kernel(SYS_epoll_create1, flags, 0, 0, 0, 0, 0));
}

long ns_epoll_create(int size)
{
	return created(ns_kernel(SYS_epoll_create, size, 0, 0, 0, 0, 0));
}

/* --- the interest list (stack lock held) ------------------------------------ */

static struct ep_item *find_item(struct ep_instance *inst, int fd)
{
	unsigned n = atomic_load_explicit(&inst->nitems, memory_order_relaxed);
	for (unsigned i = 0; i < n; i++)
		if (inst->items[i].fd == fd && !inst->items[i].dead)
			return &inst->items[i];
	return NULL;
}

static void remove_item(struct ep_instance *inst, struct ep_item *item)
{
	unsigned n = atomic_load_explicit(&inst->nitems, memory_order_relaxed);
	*item = inst->items[n - 1];
	atomic_store_explicit(&inst->nitems, n - 1, memory_order_relaxed);
}

static int add_item(struct ep_instance *inst, const struct ep_item *item)
{
	unsigned n = atomic_load_explicit(&inst->nitems, memory_order_relaxed);
	if (n == inst->cap) {
		unsigned cap = inst->cap ? inst->cap * 2 : 16;
		struct ep_item *items = realloc(inst->items, cap * sizeof *items);
		if (!items)
			return -ENOMEM;
		inst->items = items;
		inst->cap = cap;
	}
	inst->items[n] = *item;
	atomic_store_explicit(&inst->nitems, n + 1, memory_order_relaxed);
	return 0;
}

static void compact(struct ep_instance *inst)
{
	unsigned n = atomic_load_explicit(&inst->nitems, memory_order_relaxed), kept = 0;
	for (unsigned i = 0; i < n; i++)
		if (!inst->items[i].dead)
			inst->items[kept++] = inst->items[i];
	atomic_store_explicit(&inst->nitems, kept, memory_order_relaxed);
	if (inst->cursor >= kept)
		inst->cursor = 0;
}

/* The socket FD holds now, if it is still the one registered as ID. */
static struct nsock *live_socket(int fd, uint64_t id)
{
	struct nsock *s = ns_fd_lookup(fd);
	return s && nsock_id(s) == id ? s : NULL;
}

/* --- epoll_ctl ---------------------------------------------------------------- */

/* EPFD is not in our table: ask the kernel what it is.  Deleting the
 * socket's placeholder (never registered there) answers ENOENT from an
 * epoll, EINVAL from another file, EBADF from a closed fd. */
static long adopt_unknown_epoll(int epfd, int fd, struct ep_instance **out)
{
	long rc = ns_kernel(SYS_epoll_ctl, epfd, EPOLL_CTL_DEL, fd, 0, 0, 0);
	if (rc != -ENOENT && rc != 0)
		return rc;
	/* Created before we were loaded: its kernel members are unknown. */
	struct ep_instance *inst = instance_new(1);
	if (!inst)
		return -ENOMEM;
	int err;
	atomic_fetch_add(&inst->refs, 1);  /* one for the slot, one for us */
	put(install(epfd, inst, &err));
	if (err) {
		put(inst);
		put(inst);
		return err;
	}
	*out = inst;
	return 0;
}

static long ctl_kernel_fd(int epfd, int op, int fd, void *event)
{
	long rc = ns_kernel(SYS_epoll_ctl, epfd, op, fd, (long)event, 0, 0);
	if (rc != 0)
		return rc;
	struct ep_instance *inst = get(epfd);
	if (inst) {
		if (op == EPOLL_CTL_ADD)
			atomic_fetch_add(&inst->kernel_members, 1);
		else if (op == EPOLL_CTL_DEL && atomic_fetch_sub(&inst->kernel_members, 1) <= 0)
			atomic_fetch_add(&inst->kernel_members, 1);  /* never below 0 */
		put(inst);
	}
	return 0;
}

static long ctl_locked(struct ep_instance *inst, int op, int fd, const struct epoll_event *ev)
{
	struct nsock *s = ns_fd_lookup(fd);
	if (!s)
		return -EBADF;  /* closed by another thread meanwhile */
	uint64_t id = nsock_id(s);
	struct ep_item *item = find_item(inst, fd);
	if (item && item->id != id) {
		/* The registered socket was closed and the number reused. */
		remove_item(inst, item);
		item = NULL;
	}
	switch (op) {
	case EPOLL_CTL_ADD: {
		if (item)
			return -EEXIST;
		struct ep_item fresh = {
			.fd = fd,
			.events = ev->events | EPOLLERR | EPOLLHUP,
			.data = ev->data.u64,
			.id = id,
		};
		return add_item(inst, &fresh);
	}
	case EPOLL_CTL_MOD:
		if (!item)
			return -ENOENT;
		if (item->events & EPOLLEXCLUSIVE)
			return -EINVAL;
		item->events = ev->events | EPOLLERR | EPOLLHUP;
		item->data = ev->data.u64;
		/* As Linux: a modified item is looked at afresh, so an fd
		 * that is ready now is reported (ET) or re-armed (ONESHOT). */
		item->reported = false;
		item->disabled = false;
		return 0;
	default: /* EPOLL_CTL_DEL */
		if (!item)
			return -ENOENT;
		remove_item(inst, item);
		return 0;
	}
}

long ns_epoll_ctl(int epfd, int op, int fd, void *event)
{
	if (!ns_fd_lookup(fd))
		return ctl_kernel_fd(epfd, op, fd, event);

	/* The target is an lwIP socket: the checks Linux makes, in its order. */
	struct epoll_event ev = { 0 };
	bool has_event = op == EPOLL_CTL_ADD || op == EPOLL_CTL_MOD;
	if (has_event) {
		if (!event)
			return -EFAULT;
		memcpy(&ev, event, sizeof ev);
	}
	struct ep_instance *inst = get(epfd);
	if (!inst) {
		long rc = adopt_unknown_epoll(epfd, fd, &inst);
		if (rc)
			return rc;
	}
	long rc;
	if (has_event && (ev.events & EPOLLEXCLUSIVE) &&
	    (op == EPOLL_CTL_MOD || (ev.events & ~(uint32_t)EP_EXCLUSIVE_OK)))
		rc = -EINVAL;
	else if (op != EPOLL_CTL_ADD && op != EPOLL_CTL_MOD && op != EPOLL_CTL_DEL)
		rc = -EINVAL;
	else {
		ns_stack_lock();
		rc = ctl_locked(inst, op, fd, &ev);
		ns_stack_unlock();
	}
	put(inst);
	return rc;
}

/* --- epoll_wait ---------------------------------------------------------------- */

struct ep_wait {
	int epfd;
	struct ep_instance *inst;
	struct epoll_event *out;
	int max;
	int n;                      /* events written to out */
	bool kernel_members;
};

/* Stack lock held: collect ready lwIP members into w->out. */
static bool scan(void *arg)
{
	struct ep_wait *w = arg;
	struct ep_instance *inst = w->inst;
	unsigned n = atomic_load_explicit(&inst->nitems, memory_order_relaxed);
	bool any_dead = false;
	unsigned i = inst->cursor < n ? inst->cursor : 0;

	for (unsigned k = 0; k < n && w->n < w->max; k++, i = i + 1 == n ? 0 : i + 1) {
		struct ep_item *item = &inst->items[i];
		if (item->disabled || item->dead)
			continue;
		struct nsock *s = live_socket(item->fd, item->id);
		if (!s) {
			item->dead = true;
			any_dead = true;
			continue;
		}
		uint32_t ready = ns_poll_bits(s) & item->events & ~(uint32_t)EP_CONTROL_BITS;
		if (!ready)
			continue;
		if (item->events & EPOLLET) {
			uint64_t gen = nsock_gen(s);
			if (item->reported && item->gen == gen)
				continue;
			item->gen = gen;
			item->reported = true;
		}
		if (item->events & EPOLLONESHOT)
			item->disabled = true;
		w->out[w->n].events = ready;
		w->out[w->n].data.u64 = item->data;
		w->n++;
	}
	/* Next time start after the last one looked at. */
	inst->cursor = i;
	if (any_dead)
		compact(inst);
	return w->n > 0;
}

static long kernel_epoll_wait(int epfd, struct epoll_event *out, int max, int64_t timeout_ns,
			      const void *sigmask)
{
	struct timespec ts = {
		.tv_sec = timeout_ns / 1000000000LL,
		.tv_nsec = timeout_ns % 1000000000LL,
	};
	uint64_t buf;
	const void *mask = ns_wait_sigmask(sigmask, timeout_ns != 0, &buf);
	long rc = ns_kernel(SYS_epoll_pwait2, epfd, (long)out, max, (long)&ts, (long)mask,
			    mask ? NS_SIGSET_SIZE : 0);
	/* Without the caller's mask, a look that does not sleep was cut
	 * short by a device signal, not by one of the application's. */
	return rc == -EINTR && !sigmask && timeout_ns == 0 ? 0 : rc;
}

/* The kernel half: sleep in the kernel epoll (its kernel members wake us). */
static long kwait(void *karg, int64_t timeout_ns, const void *sigmask)
{
	struct ep_wait *w = karg;
	if (!w->kernel_members)
		return timeout_ns ? ns_sleep_ns(timeout_ns, sigmask) : 0;
	return kernel_epoll_wait(w->epfd, w->out, w->max, timeout_ns, sigmask);
}

long ns_epoll_pwait2(int epfd, void *events, int maxevents, int64_t timeout_ns,
		     const void *sigmask, unsigned long sigsetsize)
{
	if (maxevents <= 0 || maxevents > EP_MAX_EVENTS)
		return -EINVAL;
	if (sigmask && sigsetsize != NS_SIGSET_SIZE)
		return -EINVAL;
	struct ep_instance *inst = get(epfd);
	if (!inst)  /* closed meanwhile: the kernel says what it is now */
		return ns_kernel(SYS_epoll_pwait2, epfd, (long)events, maxevents, 0,
				 (long)sigmask, (long)sigsetsize);
	struct ep_wait w = {
		.epfd = epfd,
		.inst = inst,
		.out = events,
		.max = maxevents,
		.kernel_members = atomic_load(&inst->kernel_members) > 0,
	};
	long rc = ns_wait_mixed(scan, &w, timeout_ns, kwait, &w, sigmask);
	if (rc == 0 && w.kernel_members && w.n < w.max) {
		/* lwIP events are ready: add the kernel members that are too. */
		long more = kernel_epoll_wait(epfd, w.out + w.n, w.max - w.n, 0, NULL);
		if (more > 0)
			w.n += (int)more;
	}
	put(inst);
	if (rc == 0)
		return w.n;
	return rc == -ETIMEDOUT ? 0 : rc;
}
