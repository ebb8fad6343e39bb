/*
 * fdtable.c - fd number -> struct nsock *, for every fd that is an lwIP
 * socket.  Each such fd is a real kernel fd (a placeholder eventfd), so the
 * kernel never hands its number to anything else while we map it.
 *
 * The table is one array of atomic pointers, mapped on first use, as long as
 * the largest fd number the process can ever have (the RLIMIT_NOFILE hard
 * limit or fs.nr_open, whichever is larger: a root process may raise its
 * hard limit up to nr_open later).  MAP_NORESERVE: pages never written cost
 * nothing.  Lookups are lock-free (acquire loads); entries are written with
 * the stack lock held (or in a fork child, which has one thread).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sock.h"

typedef _Atomic(struct nsock *) ns_slot;

static ns_slot *_Atomic table;
static size_t table_len;            /* written before table is published */

#define TABLE_MAX ((size_t)1 << 24) /* 16M fds, 128 MiB of address space */

static size_t nr_open(void)
{
	char buf[32];
	int fd = open("/proc/sys/fs/nr_open", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return (size_t)strtoull(buf, NULL, 10);
}

static ns_slot *table_get(void)
{
	ns_slot *t = atomic_load_explicit(&table, memory_order_acquire);
	if (t)
		return t;
	struct rlimit rl = { 0, 0 };
	size_t want = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max > want)
		want = rl.rlim_max;
	if (rl.rlim_max == RLIM_INFINITY)
		want = TABLE_MAX;
	size_t no = nr_open();
	if (no > want)
		want = no;
	if (want > TABLE_MAX)
		want = TABLE_MAX;
	for (; want >= 1024; want /= 2) {
		void *m = mmap(NULL, want * sizeof(ns_slot), PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (m != MAP_FAILED) {
			table_len = want;
			atomic_store_explicit(&table, (ns_slot *)m, memory_order_release);
			return m;
		}
	}
	return NULL;
}

struct nsock *ns_fd_lookup(int fd)
{
	ns_slot *t = atomic_load_explicit(&table, memory_order_acquire);
	if (__builtin_expect(t == NULL, 1) || fd < 0 || (size_t)fd >= table_len)
		return NULL;
	return atomic_load_explicit(&t[fd], memory_order_acquire);
}

int ns_fd_install(int fd, struct nsock *s)
{
	ns_slot *t = table_get();
	if (!t || fd < 0 || (size_t)fd >= table_len)
		return -EMFILE;
	atomic_store_explicit(&t[fd], s, memory_order_release);
	return 0;
}

struct nsock *ns_fd_remove(int fd)
{
	ns_slot *t = atomic_load_explicit(&table, memory_order_acquire);
	if (!t || fd < 0 || (size_t)fd >= table_len)
		return NULL;
	return atomic_exchange_explicit(&t[fd], NULL, memory_order_acq_rel);
}

size_t ns_fd_limit(void)
{
	return atomic_load_explicit(&table, memory_order_acquire) ? table_len : 0;
}

int ns_placeholder_new(bool cloexec)
{
	return (int)NS_SYS(SYS_eventfd2, 0, EFD_NONBLOCK | (cloexec ? EFD_CLOEXEC : 0), 0);
}
