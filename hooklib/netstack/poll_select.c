/*
 * poll_select.c - poll/ppoll and select/pselect6 over sets that mix kernel
 * fds and lwIP sockets.
 *
 * Sets without an lwIP socket never come here (netstack_hook.c passes them
 * to the kernel whole).  A mixed set is split: the lwIP entries are tested
 * under the stack lock after every poll of the device (ns_wait_mixed), the
 * kernel entries go to one kernel ppoll, made without sleeping when lwIP
 * entries are ready and as the idle sleep (slices of at most 1 ms) when
 * none is.  select is poll underneath: each fd of the three sets becomes
 * one entry, and the result is mapped back with the kernel's own rules
 * (readable: POLLIN_SET, writable: POLLOUT_SET, exception: POLLPRI; a bad
 * fd in any set: EBADF).
 *
 * Differences from Linux: an lwIP socket closed by another thread during
 * the wait reports POLLNVAL (Linux keeps polling the file it pinned).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

#include "events.h"
#include "nsock.h"
#include "stack.h"

/* The kernel's select() classes (fs/select.c). */
#define POLLIN_SET  (POLLRDNORM | POLLRDBAND | POLLIN | POLLHUP | POLLERR)
#define POLLOUT_SET (POLLWRBAND | POLLWRNORM | POLLOUT | POLLERR)
#define POLLEX_SET  (POLLPRI)
/* What a select() fd in each set asks poll for. */
#define SELECT_READ  (POLLIN | POLLRDNORM | POLLRDBAND)
#define SELECT_WRITE (POLLOUT | POLLWRNORM | POLLWRBAND)
#define SELECT_EXCEPT (POLLPRI)

/* Sets up to this size live on the stack. */
#define SMALL_SET 64

#define BITS_PER_LONG (8 * sizeof(unsigned long))

uint32_t ns_poll_bits(struct nsock *s)
{
	uint32_t ev = nsock_events(s);
	/* Linux's TCP/UDP poll sets the NORM bits together with IN/OUT. */
	if (ev & POLLIN)
		ev |= POLLRDNORM;
	if (ev & POLLOUT)
		ev |= POLLWRNORM;
	return ev;
}

struct pw_item {
	int fd;
	short events;      /* poll bits asked for */
	short revents;
	uint64_t id;       /* lwIP: nsock_id when the call began */
	bool lwip;
};

struct pw {
	struct pw_item *items;
	unsigned long n;
	struct pollfd *kfds;   /* the kernel entries, for ppoll */
	unsigned long *kmap;   /* kfds[i] is items[kmap[i]] */
	unsigned long nk;
	bool select_mode;
	const void *sigmask;
};

/* Whether an entry's result makes the call return. */
static bool counts(const struct pw *p, const struct pw_item *it)
{
	if (!p->select_mode)
		return it->revents != 0;
	return (it->revents & POLLNVAL) ||
	       ((it->events & POLLIN) && (it->revents & POLLIN_SET)) ||
	       ((it->events & POLLOUT) && (it->revents & POLLOUT_SET)) ||
	       ((it->events & POLLPRI) && (it->revents & POLLEX_SET));
}

/* Stack lock held: test the lwIP entries. */
static bool scan(void *arg)
{
	struct pw *p = arg;
	bool any = false;
	for (unsigned long i = 0; i < p->n; i++) {
		struct pw_item *it = &p->items[i];
		if (!it->lwip)
			continue;
		struct nsock *s = ns_fd_lookup(it->fd);
		if (!s || nsock_id(s) != it->id)
			it->revents = POLLNVAL;
		else
			it->revents = (short)(ns_poll_bits(s) & ((uint32_t)(unsigned short)it->events |
								 POLLERR | POLLHUP));
		any |= counts(p, it);
	}
	return any;
}

/* ppoll on the kernel entries; > 0 if one of them makes the call return. */
static long kernel_poll(struct pw *p, int64_t timeout_ns, const void *sigmask)
{
	struct timespec ts = {
		.tv_sec = timeout_ns / 1000000000LL,
		.tv_nsec = timeout_ns % 1000000000LL,
	};
	uint64_t buf;
	const void *mask = ns_wait_sigmask(sigmask, timeout_ns != 0, &buf);
	long rc = ns_kernel(SYS_ppoll, (long)p->kfds, (long)p->nk, (long)&ts, (long)mask,
			    mask ? NS_SIGSET_SIZE : 0, 0);
	/* Without the caller's mask, a look that does not sleep was cut
	 * short by a device signal, not by one of the application's. */
	if (rc == -EINTR && !sigmask && timeout_ns == 0)
		return 0;
	if (rc <= 0)
		return rc;
	long n = 0;
	for (unsigned long i = 0; i < p->nk; i++) {
		struct pw_item *it = &p->items[p->kmap[i]];
		it->revents = p->kfds[i].revents;
		n += counts(p, it);
	}
	return n;
}

static long kwait(void *karg, int64_t timeout_ns, const void *sigmask)
{
	struct pw *p = karg;
	if (p->nk == 0)
		return timeout_ns ? ns_sleep_ns(timeout_ns, sigmask) : 0;
	return kernel_poll(p, timeout_ns, sigmask);
}

/* Wait over P's entries; results in their revents.  0 or -errno. */
static long wait_entries(struct pw *p, int64_t timeout_ns)
{
	long rc = ns_wait_mixed(scan, p, timeout_ns, kwait, p, p->sigmask);
	if (rc == 0 && p->nk > 0) {
		/* lwIP entries are ready: report the kernel ones that are too. */
		long k = kernel_poll(p, 0, NULL);
		if (k < 0)
			return k;
	}
	if (rc == -ETIMEDOUT || rc > 0)
		rc = 0;
	return rc;
}

/* Split P->items into lwIP and kernel entries (KFDS/KMAP have room for all). */
static void split(struct pw *p, struct pollfd *kfds, unsigned long *kmap)
{
	p->kfds = kfds;
	p->kmap = kmap;
	p->nk = 0;
	for (unsigned long i = 0; i < p->n; i++) {
		struct pw_item *it = &p->items[i];
		it->revents = 0;
		struct nsock *s = it->fd >= 0 ? ns_fd_lookup(it->fd) : NULL;
		it->lwip = s != NULL;
		if (s) {
			ns_stack_lock();
			/* Looked up again under the lock: it may have closed. */
			s = ns_fd_lookup(it->fd);
			it->id = s ? nsock_id(s) : 0;
			ns_stack_unlock();
			if (s)
				continue;
			it->lwip = false;  /* closed meanwhile: the kernel says what it is */
		}
		kfds[p->nk].fd = it->fd;  /* fd < 0: ppoll ignores it, as poll does */
		kfds[p->nk].events = it->events;
		kfds[p->nk].revents = 0;
		kmap[p->nk++] = i;
	}
}

/* Room for N entries: on the stack for small sets, else one allocation. */
struct pw_room {
	struct pw_item items_small[SMALL_SET];
	struct pollfd kfds_small[SMALL_SET];
	unsigned long kmap_small[SMALL_SET];
	void *heap;
};

static int room_for(struct pw *p, struct pw_room *room, unsigned long n,
		    struct pollfd **kfds, unsigned long **kmap)
{
	room->heap = NULL;
	if (n <= SMALL_SET) {
		p->items = room->items_small;
		*kfds = room->kfds_small;
		*kmap = room->kmap_small;
		return 0;
	}
	size_t each = sizeof(struct pw_item) + sizeof(struct pollfd) + sizeof(unsigned long);
	if (n > SIZE_MAX / each)
		return -ENOMEM;
	char *heap = malloc(n * each);
	if (!heap)
		return -ENOMEM;
	room->heap = heap;
	p->items = (struct pw_item *)heap;
	*kmap = (unsigned long *)(heap + n * sizeof(struct pw_item));
	*kfds = (struct pollfd *)(heap + n * (sizeof(struct pw_item) + sizeof(unsigned long)));
	return 0;
}

/* --- poll / ppoll ------------------------------------------------------------- */

bool ns_pollfds_have_lwip(const void *fds, unsigned long nfds)
{
	const struct pollfd *pfd = fds;
	for (unsigned long i = 0; i < nfds; i++)
		if (pfd[i].fd >= 0 && ns_fd_lookup(pfd[i].fd))
			return true;
	return false;
}

long ns_poll(void *fds, unsigned long nfds, int64_t timeout_ns, const void *sigmask,
	     unsigned long sigsetsize)
{
	struct pollfd *user = fds;
	if (sigmask && sigsetsize != NS_SIGSET_SIZE)
		return -EINVAL;
	if (nfds > SMALL_SET) {
		struct rlimit rl;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && nfds > rl.rlim_cur)
			return -EINVAL;
	}
	struct pw p = { .n = nfds, .sigmask = sigmask };
	struct pw_room room;
	struct pollfd *kfds;
	unsigned long *kmap;
	long rc = room_for(&p, &room, nfds, &kfds, &kmap);
	if (rc)
		return rc;
	for (unsigned long i = 0; i < nfds; i++) {
		p.items[i].fd = user[i].fd;
		p.items[i].events = user[i].events;
	}
	split(&p, kfds, kmap);
	rc = wait_entries(&p, timeout_ns);
	if (rc == 0) {
		for (unsigned long i = 0; i < nfds; i++) {
			user[i].revents = p.items[i].revents;
			rc += user[i].revents != 0;
		}
	}
	free(room.heap);
	return rc;
}

/* --- select / pselect6 ---------------------------------------------------------- */

static bool bit_of(const void *set, int fd)
{
	const unsigned long *words = set;
	return set && (words[fd / BITS_PER_LONG] >> (fd % BITS_PER_LONG)) & 1;
}

static void set_bit(void *set, int fd)
{
	unsigned long *words = set;
	words[fd / BITS_PER_LONG] |= 1UL << (fd % BITS_PER_LONG);
}

bool ns_select_has_lwip(int nfds, const void *r, const void *w, const void *e)
{
	for (int fd = 0; fd < nfds; fd++)
		if ((bit_of(r, fd) || bit_of(w, fd) || bit_of(e, fd)) && ns_fd_lookup(fd))
			return true;
	return false;
}

/* The timeout as ns (-1: none), from a timeval (select) or timespec. */
static long select_timeout(const void *timeout, bool is_select, int64_t *out)
{
	*out = -1;
	if (!timeout)
		return 0;
	int64_t sec, sub;
	if (is_select) {
		const struct timeval *tv = timeout;
		sec = tv->tv_sec;
		sub = tv->tv_usec;
		if (sec < 0 || sub < 0 || sub >= 1000000)
			return -EINVAL;
		sub *= 1000;
	} else {
		const struct timespec *ts = timeout;
		sec = ts->tv_sec;
		sub = ts->tv_nsec;
		if (sec < 0 || sub < 0 || sub >= 1000000000)
			return -EINVAL;
	}
	/* Beyond ~292 years: as good as forever. */
	*out = sec > INT64_MAX / 1000000000LL - 1 ? -1 : sec * 1000000000LL + sub;
	return 0;
}

/* The kernel writes the time left back into select's timeval and into
 * pselect6's timespec.  glibc's select() is built on pselect6 and copies
 * that timespec back into the caller's timeval, so both must be written;
 * glibc's pselect() hands the kernel a copy (invisible there). */
static void select_time_left(void *timeout, bool is_select, int64_t deadline)
{
	int64_t left = deadline - ns_now_ns();
	if (left < 0)
		left = 0;
	if (is_select) {
		struct timeval *tv = timeout;
		tv->tv_sec = left / 1000000000LL;
		tv->tv_usec = (left % 1000000000LL) / 1000;
	} else {
		struct timespec *ts = timeout;
		ts->tv_sec = left / 1000000000LL;
		ts->tv_nsec = left % 1000000000LL;
	}
}

long ns_select(int nfds, void *readfds, void *writefds, void *exceptfds,
	       void *timeout, bool is_select, const void *sigmask_arg)
{
	if (nfds < 0)
		return -EINVAL;
	const void *sigmask = NULL;
	if (!is_select && sigmask_arg) {
		/* pselect6's sixth argument: { const sigset_t *ss; size_t ss_len; } */
		const struct { const void *ss; size_t len; } *arg = sigmask_arg;
		sigmask = arg->ss;
		if (sigmask && arg->len != NS_SIGSET_SIZE)
			return -EINVAL;
	}
	int64_t timeout_ns;
	long rc = select_timeout(timeout, is_select, &timeout_ns);
	if (rc)
		return rc;
	int64_t deadline = timeout_ns < 0 ? 0 : ns_now_ns() + timeout_ns;

	unsigned long n = 0;
	for (int fd = 0; fd < nfds; fd++)
		n += bit_of(readfds, fd) || bit_of(writefds, fd) || bit_of(exceptfds, fd);

	struct pw p = { .n = n, .select_mode = true, .sigmask = sigmask };
	struct pw_room room;
	struct pollfd *kfds;
	unsigned long *kmap;
	rc = room_for(&p, &room, n, &kfds, &kmap);
	if (rc)
		return rc;
	unsigned long i = 0;
	for (int fd = 0; fd < nfds; fd++) {
		short events = (short)((bit_of(readfds, fd) ? SELECT_READ : 0) |
				       (bit_of(writefds, fd) ? SELECT_WRITE : 0) |
				       (bit_of(exceptfds, fd) ? SELECT_EXCEPT : 0));
		if (events) {
			p.items[i].fd = fd;
			p.items[i].events = events;
			i++;
		}
	}
	split(&p, kfds, kmap);
	rc = wait_entries(&p, timeout_ns);

	for (i = 0; rc == 0 && i < n; i++)
		if (p.items[i].revents & POLLNVAL)
			rc = -EBADF;  /* the sets are left as they were, as Linux does */
	if (rc == 0) {
		size_t bytes = (size_t)(nfds + BITS_PER_LONG - 1) / BITS_PER_LONG * sizeof(unsigned long);
		if (readfds)
			memset(readfds, 0, bytes);
		if (writefds)
			memset(writefds, 0, bytes);
		if (exceptfds)
			memset(exceptfds, 0, bytes);
		for (i = 0; i < n; i++) {
			const struct pw_item *it = &p.items[i];
			if ((it->events & POLLIN) && (it->revents & POLLIN_SET)) {
				set_bit(readfds, it->fd);
				rc++;
			}
			if ((it->events & POLLOUT) && (it->revents & POLLOUT_SET)) {
				set_bit(writefds, it->fd);
				rc++;
			}
			if ((it->events & POLLPRI) && (it->revents & POLLEX_SET)) {
				set_bit(exceptfds, it->fd);
				rc++;
			}
		}
	}
	if (timeout && timeout_ns > 0)
		select_time_left(timeout, is_select, deadline);
	free(room.heap);
	return rc;
}
