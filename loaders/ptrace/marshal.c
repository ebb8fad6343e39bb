/*
 * marshal.c - copying what system calls point at between tracee and tracer
 * (see marshal.h for the two directions).
 *
 * A call becomes a list of regions, parents before children: a region that
 * holds pointers (an iovec array, a msghdr, an mmsghdr array, pselect6's
 * sigset pair) comes before the regions its pointers name, and each child
 * records where in its parent its pointer sits.  Copies between the two
 * sides always patch those pointer fields, so the tracer's copy of a
 * msghdr points at tracer buffers and the tracee's at tracee buffers.
 *
 * The same builder serves both directions: it reads lengths and nested
 * pointers from the side the call comes from.  Hook-bound, that is the
 * tracee (through struct pt_mem), and the tracee is untrusted: every length
 * is checked as the kernel checks it, and buffers are bounded (marshal.h).
 * Next-bound, it is the hook's own memory.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "marshal.h"

/* The kernel's limits that decide errors before any copy. */
#define TASK_SIZE_MAX 0x00007ffffffff000ull  /* x86-64, 4-level paging: access_ok */
#define IOV_MAX_KERNEL 1024                  /* UIO_MAXIOV */
#define SOCKADDR_MAX 128                     /* sizeof(struct sockaddr_storage) */
#define POLL_NFDS_MAX (1u << 20)             /* stands for RLIMIT_NOFILE's hard ceiling (nr_open) */
#define SELECT_NFDS_MAX (1 << 20)            /* the kernel clamps nfds to its fd table */
#define SIGSET_MAX 128
#define CLONE_ARGS_MIN 64                    /* CLONE_ARGS_SIZE_VER0 */
#define CLONE_ARGS_MAX 4096                  /* PAGE_SIZE */
#define EPOLL_EVENT_SIZE 12                  /* packed on x86-64 */
#define IOVEC_SIZE 16
#define MSGHDR_SIZE 56
#define MMSGHDR_SIZE 64

/* struct msghdr on x86-64 */
#define MH_NAME 0
#define MH_NAMELEN 8
#define MH_IOV 16
#define MH_IOVLEN 24
#define MH_CONTROL 32
#define MH_CONTROLLEN 40
#define MMSG_LEN 56

/* ioctl requests and fcntl commands whose argument points at an int or struct */
#define IOCTL_FIONBIO 0x5421
#define IOCTL_FIOASYNC 0x5452
#define IOCTL_FIONREAD 0x541B    /* SIOCINQ */
#define IOCTL_TIOCOUTQ 0x5411    /* SIOCOUTQ */
#define IOCTL_SIOCOUTQNSD 0x894B
#define IOCTL_SIOCATMARK 0x8905
#define IOCTL_SIOCGIFCONF 0x8912
#define IOCTL_IFREQ_FIRST 0x8910 /* SIOCGIFNAME ... SIOCGIFxxx: struct ifreq */
#define IOCTL_IFREQ_LAST 0x89ff
#define IFREQ_SIZE 40
#define FLOCK_SIZE 32

static uint32_t get32(const char *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static uint64_t get64(const char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof v);
	return v;
}

static void put32(char *p, uint32_t v)
{
	memcpy(p, &v, sizeof v);
}

static void put64(char *p, uint64_t v)
{
	memcpy(p, &v, sizeof v);
}

/* --- regions ------------------------------------------------------------------- */

struct region_opts {
	int dir;
	int parent;
	uint32_t parent_off;
	int arg;
	bool buffer;   /* counts against PT_BUFFER_BUDGET (data), not PT_STRUCT_BUDGET */
};

/*
 * Add a region for SRC (an address on the side the call comes from) of LEN
 * bytes.  Hook-bound: a bounce buffer is allocated and filled from the
 * tracee if the region is read by the call.  Next-bound: the region is the
 * hook's memory itself; its tracee address is chosen later.
 * Returns the index, or -errno.
 */
static int add_region(struct pt_call *c, uint64_t src, size_t len, struct region_opts o)
{
	if (c->n >= PT_REGION_LIMIT)
		return -ENOMEM;
	if (c->hook_bound) {
		/* The kernel's access_ok: the whole range in user space. */
		if (len && (src == 0 || src + len < src || src + len > TASK_SIZE_MAX))
			return -EFAULT;
		size_t *used = o.buffer ? &c->buffer_bytes : &c->struct_bytes;
		size_t budget = o.buffer ? PT_BUFFER_BUDGET : PT_STRUCT_BUDGET;
		if (len > budget - *used)
			return -ENOMEM;
		*used += len;
	}
	if (c->n == c->cap) {
		int cap = c->cap ? 2 * c->cap : 8;
		struct pt_region *r = realloc(c->r, (size_t)cap * sizeof *r);
		if (!r)
			return -ENOMEM;
		c->r = r;
		c->cap = cap;
	}
	struct pt_region *r = &c->r[c->n];
	memset(r, 0, sizeof *r);
	r->len = len;
	r->dir = (uint8_t)o.dir;
	r->rule = PT_OUT_ALL;
	r->arg = (int8_t)o.arg;
	r->parent = o.parent;
	r->parent_off = o.parent_off;
	r->ref = -1;
	r->gate = -1;
	if (c->hook_bound) {
		r->remote = src;
		/* One byte at least: even an empty region has a distinct address
		 * the hook may hand back to next. */
		r->owned = (o.dir & PT_IN) ? malloc(len ? len : 1) : calloc(1, len ? len : 1);
		if (!r->owned)
			return -ENOMEM;
		r->local = r->owned;
		if ((o.dir & PT_IN) && len && c->mem->read(c->mem->ctx, r->local, src, len) != 0) {
			free(r->owned);
			return -EFAULT;
		}
	} else {
		r->local = (char *)(uintptr_t)src;
	}
	return c->n++;
}

static void set_rule(struct pt_call *c, int i, int rule, int ref, uint32_t ref_off, uint64_t base, long gate)
{
	c->r[i].rule = (uint8_t)rule;
	c->r[i].ref = ref;
	c->r[i].ref_off = ref_off;
	c->r[i].base = base;
	c->r[i].gate = gate;
}

static struct region_opts top(int dir, int arg)
{
	return (struct region_opts){ .dir = dir, .parent = -1, .arg = arg };
}

static struct region_opts nested(int dir, int parent, uint32_t off)
{
	return (struct region_opts){ .dir = dir, .parent = parent, .parent_off = off, .arg = -1 };
}

/* What the hook sees instead of a length the tracer shortened. */
static void shorten_arg(struct pt_call *c, int arg, long value)
{
	if (c->hook_bound)
		c->out_args[arg] = value;
}

/* Room left for buffer data (hook-bound); next-bound the hook's buffers are what they are. */
static size_t buffer_room(const struct pt_call *c)
{
	return c->hook_bound ? PT_BUFFER_BUDGET - c->buffer_bytes : SIZE_MAX;
}

/* --- kinds ------------------------------------------------------------------------ */

/* A NUL-terminated path: read page by page, so a string ending just before
 * an unmapped page is found. */
static int add_string(struct pt_call *c, uint64_t src, int arg)
{
	size_t len;
	if (c->hook_bound) {
		char buf[PATH_MAX];
		size_t got = 0;
		for (;;) {
			size_t chunk = 4096 - (size_t)((src + got) & 4095);
			if (chunk > sizeof buf - got)
				chunk = sizeof buf - got;
			if (chunk == 0)
				return -ENAMETOOLONG;
			if (c->mem->read(c->mem->ctx, buf + got, src + got, chunk) != 0)
				return -EFAULT;
			char *nul = memchr(buf + got, '\0', chunk);
			got += chunk;
			if (nul) {
				len = (size_t)(nul - buf) + 1;
				break;
			}
		}
	} else {
		len = strlen((const char *)(uintptr_t)src) + 1;
	}
	return add_region(c, src, len, top(PT_IN, arg));
}

/*
 * An iovec array of CNT entries at SRC, its buffers in direction DIR.
 * Buffers of the byte stream are filled up to the result (stream offsets),
 * or for an mmsghdr entry up to its msg_len (REF/REF_OFF, GATE).
 */
static int add_iovec(struct pt_call *c, uint64_t src, size_t cnt, int dir, struct region_opts where,
		     int ref, uint32_t ref_off, long gate)
{
	where.dir = PT_IN;
	int v = add_region(c, src, cnt * IOVEC_SIZE, where);
	if (v < 0)
		return v;
	uint64_t total = 0;
	for (size_t k = 0; k < cnt; k++) {
		char *entry = c->r[v].local + k * IOVEC_SIZE;
		uint64_t base = get64(entry), len = get64(entry + 8);
		if (len > (uint64_t)SSIZE_MAX || total + len > (uint64_t)SSIZE_MAX)
			return -EINVAL;
		size_t take = len;
		if (take > buffer_room(c))
			take = buffer_room(c);
		if (c->hook_bound && take != len)
			put64(entry + 8, take);  /* the hook sees a shorter buffer */
		if (take) {
			struct region_opts o = nested(dir, v, (uint32_t)(k * IOVEC_SIZE));
			o.buffer = true;
			int b = add_region(c, base, take, o);
			if (b < 0)
				return b;
			if (ref >= 0)
				set_rule(c, b, PT_OUT_FIELD32, ref, ref_off, total, gate);
			else
				set_rule(c, b, PT_OUT_RESULT, -1, 0, total, -1);
		}
		total += len;
	}
	return v;
}

/*
 * The pointed-at parts of a msghdr that sits at offset OFF of region M:
 * name, iov (and buffers), control.  RECV: the kernel writes them.  GATE:
 * for an mmsghdr entry, its index (written only if the result exceeds it).
 */
static int add_msghdr_parts(struct pt_call *c, int m, uint32_t off, bool recv, long gate)
{
	char *mh = c->r[m].local + off;
	int dir = recv ? PT_OUT : PT_IN;

	uint64_t name = get64(mh + MH_NAME);
	uint32_t namelen = get32(mh + MH_NAMELEN);
	if (name) {
		if ((int)namelen < 0)
			return -EINVAL;
		if (namelen > SOCKADDR_MAX) {
			/* The kernel clamps it (recvmsg) and refuses it (sendmsg, as
			 * move_addr_to_kernel does). */
			if (!recv)
				return -EINVAL;
			namelen = SOCKADDR_MAX;
			if (c->hook_bound)
				put32(mh + MH_NAMELEN, namelen);
		}
		int r = add_region(c, name, namelen, nested(dir, m, off + MH_NAME));
		if (r < 0)
			return r;
		set_rule(c, r, PT_OUT_FIELD32, m, off + MH_NAMELEN, 0, gate);
	}

	uint64_t iov = get64(mh + MH_IOV), iovlen = get64(mh + MH_IOVLEN);
	if (iovlen > IOV_MAX_KERNEL)
		return -EMSGSIZE;
	if (iovlen) {
		int ref = gate >= 0 ? m : -1;
		int r = add_iovec(c, iov, iovlen, dir, nested(PT_IN, m, off + MH_IOV), ref,
				  off + MMSG_LEN, gate);
		if (r < 0)
			return r;
	}

	uint64_t control = get64(mh + MH_CONTROL), controllen = get64(mh + MH_CONTROLLEN);
	if (control && controllen) {
		if (controllen > PT_MAX_CONTROL) {
			if (!recv)
				return -ENOBUFS;  /* beyond any optmem_max */
			controllen = PT_MAX_CONTROL;
			if (c->hook_bound)
				put64(mh + MH_CONTROLLEN, controllen);
		}
		int r = add_region(c, control, controllen, nested(dir, m, off + MH_CONTROL));
		if (r < 0)
			return r;
		set_rule(c, r, PT_OUT_FIELD64, m, off + MH_CONTROLLEN, 0, gate);
	}
	return m;
}

/* A sockaddr the kernel writes, with its socklen_t *LENP (inout). */
static int add_sockaddr_out(struct pt_call *c, uint64_t addr, uint64_t lenp, int arg, int len_arg,
			    uint32_t max)
{
	if (!lenp)
		return addr ? -EFAULT : 0;
	int l = add_region(c, lenp, 4, top(PT_INOUT, len_arg));
	if (l < 0)
		return l;
	int len = (int)get32(c->r[l].local);
	if (len < 0)
		return -EINVAL;
	if (!addr)
		return 0;
	uint32_t n = (uint32_t)len < max ? (uint32_t)len : max;
	if (c->hook_bound && n != (uint32_t)len)
		put32(c->r[l].local, n);
	int a = add_region(c, addr, n, top(PT_OUT, arg));
	if (a < 0)
		return a;
	set_rule(c, a, PT_OUT_FIELD32, l, 0, 0, -1);
	return a;
}

/* The region an ioctl's third argument points at: {dir, size}, or size 0 if none known. */
static void ioctl_region(unsigned long req, int *dir, size_t *size)
{
	*size = 0;
	switch (req) {
	case IOCTL_FIONBIO:
	case IOCTL_FIOASYNC:
		*dir = PT_IN;
		*size = 4;
		return;
	case IOCTL_FIONREAD:
	case IOCTL_TIOCOUTQ:
	case IOCTL_SIOCOUTQNSD:
	case IOCTL_SIOCATMARK:
		*dir = PT_INOUT;
		*size = 4;
		return;
	}
	/* Interface requests take a struct ifreq; SIOCGIFCONF's struct ifconf
	 * holds a pointer: left as it is (forwarding still works). */
	if (req >= IOCTL_IFREQ_FIRST && req <= IOCTL_IFREQ_LAST && req != IOCTL_SIOCGIFCONF) {
		*dir = PT_INOUT;
		*size = IFREQ_SIZE;
	}
}

static void fcntl_region(int cmd, int *dir, size_t *size)
{
	*size = 0;
	switch (cmd) {
	case 5:   /* F_GETLK */
	case 36:  /* F_OFD_GETLK */
		*dir = PT_INOUT;
		*size = FLOCK_SIZE;
		return;
	case 6:   /* F_SETLK */
	case 7:   /* F_SETLKW */
	case 37:  /* F_OFD_SETLK */
	case 38:  /* F_OFD_SETLKW */
		*dir = PT_IN;
		*size = FLOCK_SIZE;
		return;
	case 16:  /* F_GETOWN_EX */
		*dir = PT_INOUT;
		*size = 8;
		return;
	case 15:  /* F_SETOWN_EX */
		*dir = PT_IN;
		*size = 8;
		return;
	}
}

/* One argument described by SPEC.  Returns >= 0 or -errno. */
static int add_arg(struct pt_call *c, int i, const struct pt_arg_spec *spec)
{
	uint64_t p = (uint64_t)c->args[i];
	long lenv = c->args[spec->len_arg];
	int r;

	switch (spec->kind) {
	case PK_BUF: {
		size_t len = (size_t)lenv;
		if ((spec->flags & PT_F_INT) && (int)lenv < 0)
			return -EINVAL;
		if (spec->flags & PT_F_INT)
			len = (size_t)(unsigned)(int)lenv;
		if (!p)
			return 0;
		if (!(spec->flags & PT_F_CLAMP) && spec->size && len > spec->size)
			return -EINVAL;
		/* access_ok over the whole length the program gave, as the kernel. */
		if (c->hook_bound && len && (p + len < p || p + len > TASK_SIZE_MAX))
			return -EFAULT;
		if ((spec->flags & PT_F_CLAMP) && len > buffer_room(c)) {
			len = buffer_room(c);
			shorten_arg(c, spec->len_arg, (long)len);
		}
		struct region_opts o = top(spec->dir, i);
		o.buffer = true;
		r = add_region(c, p, len, o);
		if (r >= 0 && (spec->flags & PT_F_RESULT))
			set_rule(c, r, PT_OUT_RESULT, -1, 0, 0, -1);
		return r;
	}
	case PK_FIXED:
		return p ? add_region(c, p, spec->size, top(spec->dir, i)) : 0;
	case PK_STRING:
		return p ? add_string(c, p, i) : 0;
	case PK_SOCKADDR:
		if ((int)lenv < 0 || (int)lenv > SOCKADDR_MAX)
			return p || (int)lenv < 0 ? -EINVAL : 0;
		return p ? add_region(c, p, (size_t)(int)lenv, top(PT_IN, i)) : 0;
	case PK_SOCKADDR_OUT:
		return add_sockaddr_out(c, p, (uint64_t)lenv, i, spec->len_arg, SOCKADDR_MAX);
	case PK_SOCKOPT_OUT:
		return add_sockaddr_out(c, p, (uint64_t)lenv, i, spec->len_arg, PT_MAX_SOCKOPT);
	case PK_IOVEC:
		if (lenv < 0 || lenv > IOV_MAX_KERNEL)
			return -EINVAL;
		return p || lenv ? add_iovec(c, p, (size_t)lenv, spec->dir, top(PT_IN, i), -1, 0, -1) : 0;
	case PK_MSGHDR: {
		bool recv = spec->dir == PT_OUT;
		if (!p)
			return -EFAULT;
		r = add_region(c, p, MSGHDR_SIZE, top(recv ? PT_INOUT : PT_IN, i));
		return r < 0 ? r : add_msghdr_parts(c, r, 0, recv, -1);
	}
	case PK_MMSGHDR: {
		bool recv = spec->dir == PT_OUT;
		unsigned long vlen = (unsigned)lenv;
		if (vlen > IOV_MAX_KERNEL) {
			vlen = IOV_MAX_KERNEL;   /* the kernel clamps to UIO_MAXIOV */
			shorten_arg(c, spec->len_arg, (long)vlen);
		}
		if (!vlen)
			return 0;
		/* inout both ways: the kernel writes each entry's msg_len */
		r = add_region(c, p, vlen * MMSGHDR_SIZE, top(PT_INOUT, i));
		for (unsigned long j = 0; r >= 0 && j < vlen; j++) {
			int e = add_msghdr_parts(c, r, (uint32_t)(j * MMSGHDR_SIZE), recv, (long)j);
			if (e < 0)
				return e;
		}
		return r;
	}
	case PK_FDSET: {
		int nfds = (int)c->args[0];
		if (nfds < 0)
			return -EINVAL;
		if (nfds > SELECT_NFDS_MAX) {
			nfds = SELECT_NFDS_MAX;
			shorten_arg(c, 0, nfds);
		}
		size_t bytes = ((size_t)nfds + 63) / 64 * 8;
		return p ? add_region(c, p, bytes, top(PT_INOUT, i)) : 0;
	}
	case PK_POLLFDS:
		if ((unsigned long)lenv > POLL_NFDS_MAX)
			return -EINVAL;
		return p || lenv ? add_region(c, p, (size_t)lenv * 8, top(PT_INOUT, i)) : 0;
	case PK_EPOLL_EVENTS: {
		int max = (int)lenv;
		if (max <= 0 || max > INT_MAX / EPOLL_EVENT_SIZE)
			return -EINVAL;
		if (max > PT_MAX_EPOLL_EVENTS) {
			max = PT_MAX_EPOLL_EVENTS;
			shorten_arg(c, spec->len_arg, max);
		}
		r = add_region(c, p, (size_t)max * EPOLL_EVENT_SIZE, top(PT_OUT, i));
		if (r >= 0) {
			set_rule(c, r, PT_OUT_RESULT_TIMES, -1, 0, 0, -1);
			c->r[r].unit = EPOLL_EVENT_SIZE;
		}
		return r;
	}
	case PK_SIGSET:
		if (!p)
			return 0;
		if ((unsigned long)lenv > SIGSET_MAX)
			return -EINVAL;
		return add_region(c, p, (size_t)lenv, top(spec->dir, i));
	case PK_PSELECT_SIGDATA: {
		if (!p)
			return 0;
		r = add_region(c, p, 16, top(PT_IN, i));
		if (r < 0)
			return r;
		uint64_t set = get64(c->r[r].local), size = get64(c->r[r].local + 8);
		if (!set)
			return r;
		if (size > SIGSET_MAX)
			return -EINVAL;
		int s = add_region(c, set, size, nested(PT_IN, r, 0));
		return s < 0 ? s : r;
	}
	case PK_IOCTL:
	case PK_FCNTL: {
		int dir;
		size_t size;
		if (spec->kind == PK_IOCTL)
			ioctl_region((unsigned long)(unsigned)c->args[1], &dir, &size);
		else
			fcntl_region((int)c->args[1], &dir, &size);
		if (!size || !p)
			return 0;   /* not a pointer, or not one we know: as it is */
		return add_region(c, p, size, top(dir, i));
	}
	case PK_SIGACTION:
		if (c->args[3] != 8)
			return -EINVAL;
		return p ? add_region(c, p, 24 + 8, top(spec->dir, i)) : 0;
	case PK_CLONE_ARGS:
		if ((unsigned long)lenv < CLONE_ARGS_MIN)
			return -EINVAL;
		if ((unsigned long)lenv > CLONE_ARGS_MAX)
			return -E2BIG;
		return add_region(c, p, (size_t)lenv, top(PT_IN, i));
	}
	return 0;
}

/* Describe call NR(ARGS) as regions, reading from the side it comes from. */
static long build(struct pt_call *c, long nr, const long args[6])
{
	c->nr = nr;
	memcpy(c->args, args, sizeof c->args);
	memcpy(c->out_args, args, sizeof c->out_args);
	const struct pt_syscall_spec *spec = pt_syscall_spec(nr);
	c->known = spec != NULL;
	if (!spec)
		return 0;
	for (int i = 0; i < 6; i++) {
		if (spec->arg[i].kind == PK_NONE)
			continue;
		int r = add_arg(c, i, &spec->arg[i]);
		if (r < 0)
			return r;
	}
	return 0;
}

/* --- copies ------------------------------------------------------------------------ */

/* Bytes of region I a call with RESULT wrote, by its rule (local values). */
static size_t out_len(const struct pt_call *c, const struct pt_region *r, long result)
{
	if (result < 0 || (r->gate >= 0 && result <= r->gate))
		return 0;
	uint64_t v;
	switch (r->rule) {
	case PT_OUT_ALL:
		return r->len;
	case PT_OUT_RESULT:
		v = (uint64_t)result;
		break;
	case PT_OUT_RESULT_TIMES:
		v = (uint64_t)result * r->unit;
		break;
	case PT_OUT_FIELD32:
		v = get32(c->r[r->ref].local + r->ref_off);
		break;
	case PT_OUT_FIELD64:
		v = get64(c->r[r->ref].local + r->ref_off);
		break;
	default:
		return 0;
	}
	if (v <= r->base)
		return 0;
	v -= r->base;
	return v < r->len ? (size_t)v : r->len;
}

/* Put each child's address of one side into a copy of region I. */
static void patch_pointers(const struct pt_call *c, int i, char *copy, size_t len, bool remote_side)
{
	for (int j = i + 1; j < c->n; j++) {
		const struct pt_region *child = &c->r[j];
		if (child->parent != i || child->parent_off + 8 > len)
			continue;
		put64(copy + child->parent_off, remote_side ? child->remote : (uint64_t)(uintptr_t)child->local);
	}
}

static bool has_children(const struct pt_call *c, int i)
{
	for (int j = i + 1; j < c->n; j++)
		if (c->r[j].parent == i)
			return true;
	return false;
}

/* Write LEN bytes of region I's local copy to the tracee, pointers patched. */
static int to_remote(const struct pt_call *c, int i, size_t len)
{
	const struct pt_region *r = &c->r[i];
	if (!len)
		return 0;
	if (!has_children(c, i))
		return c->mem->write(c->mem->ctx, r->remote, r->local, len);
	char *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, r->local, len);
	patch_pointers(c, i, copy, len, true);
	int rc = c->mem->write(c->mem->ctx, r->remote, copy, len);
	free(copy);
	return rc;
}

/* Read LEN bytes of region I from the tracee into its local copy, pointers patched. */
static int to_local(const struct pt_call *c, int i, size_t len)
{
	const struct pt_region *r = &c->r[i];
	if (!len)
		return 0;
	if (!has_children(c, i))
		return c->mem->read(c->mem->ctx, r->local, r->remote, len);
	char *copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	int rc = c->mem->read(c->mem->ctx, copy, r->remote, len);
	if (rc == 0) {
		patch_pointers(c, i, copy, len, false);
		memcpy(r->local, copy, len);
	}
	free(copy);
	return rc;
}

/* Record that region R's local bytes [off, off+len) equal the tracee's. */
static void note_pristine(struct pt_region *r, size_t off, size_t len)
{
	if (!r->pristine || off > r->pristine_len)
		return;
	memcpy(r->pristine + off, r->local + off, len);
	if (off + len > r->pristine_len)
		r->pristine_len = off + len;
}

/* --- hook-bound -------------------------------------------------------------------- */

long pt_call_to_hook(struct pt_call *c, const struct pt_mem *mem, long nr, const long args[6])
{
	memset(c, 0, sizeof *c);
	c->hook_bound = true;
	c->mem = mem;
	long rc = build(c, nr, args);
	if (rc < 0)
		return rc;
	/* Bounce copies point at bounce copies; the hook gets them. */
	for (int i = 0; i < c->n; i++) {
		struct pt_region *r = &c->r[i];
		if (r->parent >= 0)
			put64(c->r[r->parent].local + r->parent_off, (uint64_t)(uintptr_t)r->local);
		if (r->arg >= 0)
			c->out_args[r->arg] = (long)(uintptr_t)r->local;
	}
	/* What the tracee holds, to tell later what the hook changed. */
	for (int i = 0; i < c->n; i++) {
		struct pt_region *r = &c->r[i];
		r->pristine = malloc(r->len ? r->len : 1);
		if (!r->pristine)
			return -ENOMEM;
		if (r->dir & PT_IN) {
			memcpy(r->pristine, r->local, r->len);
			r->pristine_len = r->len;
		}
	}
	return 0;
}

long pt_call_hook_done(struct pt_call *c, long result)
{
	for (int i = 0; i < c->n; i++) {
		struct pt_region *r = &c->r[i];
		if (!(r->dir & PT_OUT))
			continue;
		size_t len = out_len(c, r, result);
		/* Unchanged since the tracee's own call wrote it: nothing to do. */
		if (len <= r->pristine_len && memcmp(r->local, r->pristine, len) == 0)
			continue;
		if (to_remote(c, i, len) != 0)
			return -EFAULT;
	}
	return result;
}

/* Whether region R (hook-bound) still holds what the tracee holds. */
static bool unchanged(const struct pt_region *r)
{
	return r->pristine_len >= r->len && memcmp(r->local, r->pristine, r->len) == 0;
}

bool pt_call_is_original(const struct pt_call *c, long nr, const long args[6])
{
	if (nr != c->nr)
		return false;
	for (int i = 0; i < 6; i++)
		if (args[i] != c->out_args[i])
			return false;
	for (int i = 0; i < c->n; i++)
		if ((c->r[i].dir & PT_IN) && !unchanged(&c->r[i]))
			return false;
	return true;
}

void pt_call_refresh(struct pt_call *c, long result)
{
	for (int i = 0; i < c->n; i++) {
		struct pt_region *r = &c->r[i];
		if (!(r->dir & PT_OUT))
			continue;
		size_t len = out_len(c, r, result);
		if (to_local(c, i, len) == 0)
			note_pristine(r, 0, len);
	}
}

/* --- next-bound -------------------------------------------------------------------- */

/* The hook-bound region holding [p, p+len), or -1. */
static int find_bounce(const struct pt_call *hb, const char *p, size_t len)
{
	for (int i = 0; hb && i < hb->n; i++) {
		const struct pt_region *h = &hb->r[i];
		if (p >= h->local && len <= h->len && (size_t)(p - h->local) <= h->len - len)
			return i;
	}
	return -1;
}

/*
 * Region I of NB (hook memory) can be the tracee's own region if it lies in
 * a bounce buffer, and what the call reads there is what the tracee holds
 * (the hook did not change it), and so is everything its pointers lead to.
 */
static bool translate(struct pt_call *nb, const struct pt_call *hb, int i)
{
	struct pt_region *r = &nb->r[i];
	if (r->untranslated_children)
		return false;
	int h = find_bounce(hb, r->local, r->len);
	if (h < 0)
		return false;
	const struct pt_region *b = &hb->r[h];
	size_t off = (size_t)(r->local - b->local);
	if ((r->dir & PT_IN) &&
	    (b->pristine_len < off + r->len || memcmp(r->local, b->pristine + off, r->len) != 0))
		return false;
	r->remote = b->remote + off;
	r->translated = true;
	return true;
}

long pt_call_to_tracee(struct pt_call *nb, struct pt_call *hb, const struct pt_mem *mem,
		       long nr, const long args[6], pt_scratch_fn scratch, void *scratch_ctx)
{
	memset(nb, 0, sizeof *nb);
	nb->mem = mem;
	long rc = build(nb, nr, args);
	if (rc < 0)
		return rc;

	/* Children first (they come after their parents): a parent is the
	 * tracee's own only if all its children are. */
	size_t need = 0;
	for (int i = nb->n - 1; i >= 0; i--) {
		struct pt_region *r = &nb->r[i];
		if (!translate(nb, hb, i)) {
			r->scratch = true;
			need += (r->len + 15) & ~(size_t)15;
			if (r->parent >= 0)
				nb->r[r->parent].untranslated_children++;
		}
	}
	if (need) {
		uint64_t base = scratch(scratch_ctx, need);
		if (!base)
			return -ENOMEM;
		for (int i = 0; i < nb->n; i++) {
			struct pt_region *r = &nb->r[i];
			if (!r->scratch)
				continue;
			r->remote = base;
			base += (r->len + 15) & ~(size_t)15;
		}
		for (int i = 0; i < nb->n; i++)
			if (nb->r[i].scratch && (nb->r[i].dir & PT_IN) && to_remote(nb, i, nb->r[i].len) != 0)
				return -EFAULT;
	}
	for (int i = 0; i < nb->n; i++)
		if (nb->r[i].arg >= 0)
			nb->out_args[nb->r[i].arg] = (long)nb->r[i].remote;
	return 0;
}

long pt_call_tracee_done(struct pt_call *nb, struct pt_call *hb, long result)
{
	for (int i = 0; i < nb->n; i++) {
		struct pt_region *r = &nb->r[i];
		if (!(r->dir & PT_OUT))
			continue;
		size_t len = out_len(nb, r, result);
		if (to_local(nb, i, len) != 0)
			return -EFAULT;
		if (r->translated) {
			/* A bounce buffer refreshed from the tracee: it is in step. */
			int h = find_bounce(hb, r->local, r->len);
			if (h >= 0)
				note_pristine(&hb->r[h], (size_t)(r->local - hb->r[h].local), len);
		}
	}
	return result;
}

void pt_call_free(struct pt_call *c)
{
	for (int i = 0; i < c->n; i++) {
		free(c->r[i].owned);
		free(c->r[i].pristine);
	}
	free(c->r);
	c->r = NULL;
	c->n = c->cap = 0;
}
