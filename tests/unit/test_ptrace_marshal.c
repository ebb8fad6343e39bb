/*
 * test_ptrace_marshal.c - cmocka tests of zptrace's marshalling
 * (loaders/ptrace/marshal.c and its table) against an in-memory fake
 * tracee: one 1 MiB block at FAKE_BASE; every other address is unmapped.
 *
 * Checked: which regions a call gets, their direction and size (read,
 * write, readv, recvmsg with iov + name + control, accept4 with addrlen,
 * getsockopt, epoll_wait, ppoll, pselect6, select); what is written back
 * after the hook (only what the result says); that unknown calls keep their
 * pointers; that malformed tracee data gives the kernel's error (-EFAULT,
 * -EINVAL, -EMSGSIZE) and never a crash or an unbounded allocation; and the
 * next-bound direction (forwarded calls translate back, the hook's own
 * memory goes through scratch).
 *
 *   make tests/unit/test_ptrace_marshal && tests/unit/test_ptrace_marshal
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <cmocka.h>

#include "marshal.h"

#define FAKE_BASE 0x100000ull
#define FAKE_SIZE (1u << 20)
#define SCRATCH (FAKE_BASE + FAKE_SIZE / 2)   /* the upper half is the scratch area */

static unsigned char fake[FAKE_SIZE];
static unsigned scratch_calls;

static int fake_read(void *ctx, void *local, uint64_t remote, size_t len)
{
	(void)ctx;
	if (remote < FAKE_BASE || remote - FAKE_BASE > FAKE_SIZE || len > FAKE_SIZE - (remote - FAKE_BASE))
		return -EFAULT;
	memcpy(local, fake + (remote - FAKE_BASE), len);
	return 0;
}

static int fake_write(void *ctx, uint64_t remote, const void *local, size_t len)
{
	(void)ctx;
	if (remote < FAKE_BASE || remote - FAKE_BASE > FAKE_SIZE || len > FAKE_SIZE - (remote - FAKE_BASE))
		return -EFAULT;
	memcpy(fake + (remote - FAKE_BASE), local, len);
	return 0;
}

static uint64_t fake_scratch(void *ctx, size_t size)
{
	(void)ctx;
	scratch_calls++;
	return size <= FAKE_SIZE / 2 ? SCRATCH : 0;
}

static const struct pt_mem mem = { fake_read, fake_write, NULL };

/* A tracee address and the tracer's view of it. */
static void *at(uint64_t remote)
{
	return fake + (remote - FAKE_BASE);
}

static int setup(void **state)
{
	(void)state;
	memset(fake, 0xAA, sizeof fake);
	scratch_calls = 0;
	return 0;
}

static long hook_call(struct pt_call *c, long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
	long args[6] = { a0, a1, a2, a3, a4, a5 };
	return pt_call_to_hook(c, &mem, nr, args);
}

/* The region hanging off argument ARG. */
static const struct pt_region *arg_region(const struct pt_call *c, int arg)
{
	for (int i = 0; i < c->n; i++)
		if (c->r[i].arg == arg)
			return &c->r[i];
	return NULL;
}

/* --- hook-bound sizes and write-back -------------------------------------------- */

static void test_read(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t buf = FAKE_BASE + 0x100;
	assert_int_equal(hook_call(&c, SYS_read, 3, (long)buf, 100, 0, 0, 0), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.r[0].dir, PT_OUT);
	assert_int_equal(c.r[0].len, 100);
	char *local = (char *)c.out_args[1];
	assert_ptr_not_equal(local, NULL);
	assert_int_not_equal((uint64_t)(uintptr_t)local, buf);
	assert_int_equal(c.out_args[0], 3);
	assert_int_equal(c.out_args[2], 100);
	memcpy(local, "0123456789", 10);
	assert_int_equal(pt_call_hook_done(&c, 10), 10);
	assert_memory_equal(at(buf), "0123456789", 10);
	assert_int_equal(((unsigned char *)at(buf))[10], 0xAA);   /* only the result's bytes */
	pt_call_free(&c);
}

static void test_read_error_writes_nothing(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t buf = FAKE_BASE + 0x100;
	assert_int_equal(hook_call(&c, SYS_read, 3, (long)buf, 100, 0, 0, 0), 0);
	memset((char *)c.out_args[1], 'x', 100);
	assert_int_equal(pt_call_hook_done(&c, -EAGAIN), -EAGAIN);
	assert_int_equal(((unsigned char *)at(buf))[0], 0xAA);
	pt_call_free(&c);
}

static void test_write(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t buf = FAKE_BASE + 0x200;
	memcpy(at(buf), "hello", 5);
	assert_int_equal(hook_call(&c, SYS_write, 1, (long)buf, 5, 0, 0, 0), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.r[0].dir, PT_IN);
	assert_int_equal(c.r[0].len, 5);
	assert_memory_equal((char *)c.out_args[1], "hello", 5);
	pt_call_free(&c);
}

static void test_readv(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t iov = FAKE_BASE + 0x300, b0 = FAKE_BASE + 0x400, b2 = FAKE_BASE + 0x500;
	struct iovec v[3] = { { (void *)(uintptr_t)b0, 4 }, { (void *)(uintptr_t)(FAKE_BASE + 0x480), 0 },
			      { (void *)(uintptr_t)b2, 8 } };
	memcpy(at(iov), v, sizeof v);
	assert_int_equal(hook_call(&c, SYS_readv, 3, (long)iov, 3, 0, 0, 0), 0);
	assert_int_equal(c.n, 3);             /* the array and two non-empty buffers */
	assert_int_equal(c.r[0].dir, PT_IN);
	assert_int_equal(c.r[0].len, 48);
	assert_int_equal(c.r[1].dir, PT_OUT);
	assert_int_equal(c.r[1].len, 4);
	assert_int_equal(c.r[2].len, 8);
	struct iovec *hv = (struct iovec *)c.out_args[1];
	assert_ptr_equal(hv[0].iov_base, c.r[1].local);
	assert_ptr_equal(hv[2].iov_base, c.r[2].local);
	memcpy(hv[0].iov_base, "abcd", 4);
	memcpy(hv[2].iov_base, "efgh", 4);
	assert_int_equal(pt_call_hook_done(&c, 6), 6);
	assert_memory_equal(at(b0), "abcd", 4);
	assert_memory_equal(at(b2), "ef", 2);
	assert_int_equal(((unsigned char *)at(b2))[2], 0xAA);
	/* the tracee's iovec array still holds its own pointers */
	assert_memory_equal(at(iov), v, sizeof v);
	pt_call_free(&c);
}

static void test_recvmsg(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t mh = FAKE_BASE + 0x1000, name = FAKE_BASE + 0x1100, iov = FAKE_BASE + 0x1200;
	uint64_t d0 = FAKE_BASE + 0x1300, d1 = FAKE_BASE + 0x1400, ctl = FAKE_BASE + 0x1500;
	struct iovec v[2] = { { (void *)(uintptr_t)d0, 3 }, { (void *)(uintptr_t)d1, 10 } };
	memcpy(at(iov), v, sizeof v);
	struct msghdr m = { .msg_name = (void *)(uintptr_t)name, .msg_namelen = 16,
			    .msg_iov = (void *)(uintptr_t)iov, .msg_iovlen = 2,
			    .msg_control = (void *)(uintptr_t)ctl, .msg_controllen = 32 };
	memcpy(at(mh), &m, sizeof m);
	assert_int_equal(hook_call(&c, SYS_recvmsg, 5, (long)mh, 0, 0, 0, 0), 0);
	/* msghdr (inout), name (out), iov array (in), 2 buffers (out), control (out) */
	assert_int_equal(c.n, 6);
	assert_int_equal(arg_region(&c, 1)->dir, PT_INOUT);
	assert_int_equal(arg_region(&c, 1)->len, sizeof(struct msghdr));
	struct msghdr *hm = (struct msghdr *)c.out_args[1];
	assert_int_equal(hm->msg_namelen, 16);
	assert_int_equal(hm->msg_iovlen, 2);
	assert_int_equal(hm->msg_controllen, 32);
	assert_ptr_not_equal(hm->msg_name, (void *)(uintptr_t)name);
	/* the hook receives: an 8-byte name, 5 bytes, 16 bytes of control */
	memcpy(hm->msg_name, "NAMENAME", 8);
	hm->msg_namelen = 8;
	memcpy(hm->msg_iov[0].iov_base, "abc", 3);
	memcpy(hm->msg_iov[1].iov_base, "de", 2);
	memset(hm->msg_control, 'C', 16);
	hm->msg_controllen = 16;
	hm->msg_flags = MSG_TRUNC;
	assert_int_equal(pt_call_hook_done(&c, 5), 5);
	struct msghdr out;
	memcpy(&out, at(mh), sizeof out);
	assert_ptr_equal(out.msg_name, (void *)(uintptr_t)name);   /* tracee pointers, not ours */
	assert_ptr_equal(out.msg_iov, (void *)(uintptr_t)iov);
	assert_ptr_equal(out.msg_control, (void *)(uintptr_t)ctl);
	assert_int_equal(out.msg_namelen, 8);
	assert_int_equal(out.msg_controllen, 16);
	assert_int_equal(out.msg_flags, MSG_TRUNC);
	assert_memory_equal(at(name), "NAMENAME", 8);
	assert_int_equal(((unsigned char *)at(name))[8], 0xAA);
	assert_memory_equal(at(d0), "abc", 3);
	assert_memory_equal(at(d1), "de", 2);
	assert_int_equal(((unsigned char *)at(d1))[2], 0xAA);
	assert_int_equal(((unsigned char *)at(ctl))[15], 'C');
	assert_int_equal(((unsigned char *)at(ctl))[16], 0xAA);
	pt_call_free(&c);
}

static void test_accept4(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t addr = FAKE_BASE + 0x2000, lenp = FAKE_BASE + 0x2100;
	uint32_t len = 128;
	memcpy(at(lenp), &len, 4);
	assert_int_equal(hook_call(&c, SYS_accept4, 3, (long)addr, (long)lenp, 0, 0, 0), 0);
	assert_int_equal(arg_region(&c, 2)->dir, PT_INOUT);
	assert_int_equal(arg_region(&c, 2)->len, 4);
	assert_int_equal(arg_region(&c, 1)->dir, PT_OUT);
	assert_int_equal(arg_region(&c, 1)->len, 128);
	memset((char *)c.out_args[1], 'A', 16);
	*(uint32_t *)c.out_args[2] = 16;
	assert_int_equal(pt_call_hook_done(&c, 7), 7);
	assert_int_equal(*(uint32_t *)at(lenp), 16);
	assert_int_equal(((unsigned char *)at(addr))[15], 'A');
	assert_int_equal(((unsigned char *)at(addr))[16], 0xAA);
	pt_call_free(&c);

	/* a larger *addrlen is clamped to sockaddr_storage; negative is -EINVAL */
	len = 100000;
	memcpy(at(lenp), &len, 4);
	assert_int_equal(hook_call(&c, SYS_accept4, 3, (long)addr, (long)lenp, 0, 0, 0), 0);
	assert_int_equal(arg_region(&c, 1)->len, 128);
	pt_call_free(&c);
	len = (uint32_t)-5;
	memcpy(at(lenp), &len, 4);
	assert_int_equal(hook_call(&c, SYS_accept4, 3, (long)addr, (long)lenp, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_accept4, 3, (long)addr, 0, 0, 0, 0), -EFAULT);
	pt_call_free(&c);
	/* no address at all: fine */
	assert_int_equal(hook_call(&c, SYS_accept4, 3, 0, 0, 0, 0, 0), 0);
	assert_int_equal(c.n, 0);
	pt_call_free(&c);
}

static void test_getsockopt(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t val = FAKE_BASE + 0x3000, lenp = FAKE_BASE + 0x3100;
	uint32_t len = 4;
	memcpy(at(lenp), &len, 4);
	assert_int_equal(hook_call(&c, SYS_getsockopt, 3, SOL_SOCKET, SO_ERROR, (long)val, (long)lenp, 0), 0);
	assert_int_equal(arg_region(&c, 3)->dir, PT_OUT);
	assert_int_equal(arg_region(&c, 3)->len, 4);
	assert_int_equal(arg_region(&c, 4)->dir, PT_INOUT);
	*(int *)c.out_args[3] = 111;
	assert_int_equal(pt_call_hook_done(&c, 0), 0);
	assert_int_equal(*(int *)at(val), 111);
	pt_call_free(&c);
	len = (uint32_t)-1;
	memcpy(at(lenp), &len, 4);
	assert_int_equal(hook_call(&c, SYS_getsockopt, 3, SOL_SOCKET, SO_ERROR, (long)val, (long)lenp, 0), -EINVAL);
	pt_call_free(&c);
}

static void test_epoll_wait(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t ev = FAKE_BASE + 0x4000;
	assert_int_equal(hook_call(&c, SYS_epoll_wait, 4, (long)ev, 10, 0, 0, 0), 0);
	assert_int_equal(c.n, 1);
	assert_int_equal(c.r[0].dir, PT_OUT);
	assert_int_equal(c.r[0].len, 120);   /* 10 packed 12-byte events */
	memset((char *)c.out_args[1], 'E', 120);
	assert_int_equal(pt_call_hook_done(&c, 2), 2);
	assert_int_equal(((unsigned char *)at(ev))[23], 'E');
	assert_int_equal(((unsigned char *)at(ev))[24], 0xAA);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_epoll_wait, 4, (long)ev, 0, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_epoll_wait, 4, (long)ev, -1, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_epoll_wait, 4, (long)ev, 1 << 30, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	/* many events (valid for the kernel): the hook sees fewer */
	assert_int_equal(hook_call(&c, SYS_epoll_wait, 4, (long)ev, 100000, 0, 0, 0), 0);
	assert_int_equal(c.out_args[2], PT_MAX_EPOLL_EVENTS);
	assert_int_equal(c.r[0].len, (size_t)PT_MAX_EPOLL_EVENTS * 12);
	pt_call_free(&c);
}

static void test_ppoll(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t fds = FAKE_BASE + 0x5000, ts = FAKE_BASE + 0x5100, mask = FAKE_BASE + 0x5200;
	assert_int_equal(hook_call(&c, SYS_ppoll, (long)fds, 2, (long)ts, (long)mask, 8, 0), 0);
	assert_int_equal(arg_region(&c, 0)->dir, PT_INOUT);
	assert_int_equal(arg_region(&c, 0)->len, 16);
	assert_int_equal(arg_region(&c, 2)->dir, PT_INOUT);
	assert_int_equal(arg_region(&c, 2)->len, 16);
	assert_int_equal(arg_region(&c, 3)->dir, PT_IN);
	assert_int_equal(arg_region(&c, 3)->len, 8);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_ppoll, (long)fds, 1L << 21, 0, 0, 8, 0), -EINVAL);
	pt_call_free(&c);
}

static void test_pselect6(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t rd = FAKE_BASE + 0x6000, wr = FAKE_BASE + 0x6100, ts = FAKE_BASE + 0x6200;
	uint64_t data = FAKE_BASE + 0x6300, set = FAKE_BASE + 0x6400;
	uint64_t pair[2] = { set, 8 };
	memcpy(at(data), pair, sizeof pair);
	assert_int_equal(hook_call(&c, SYS_pselect6, 70, (long)rd, (long)wr, 0, (long)ts, (long)data), 0);
	assert_int_equal(arg_region(&c, 1)->len, 16);   /* 70 fds: two 64-bit words */
	assert_int_equal(arg_region(&c, 1)->dir, PT_INOUT);
	assert_int_equal(arg_region(&c, 2)->len, 16);
	assert_null(arg_region(&c, 3));
	assert_int_equal(arg_region(&c, 4)->dir, PT_INOUT);
	assert_int_equal(arg_region(&c, 5)->dir, PT_IN);
	assert_int_equal(arg_region(&c, 5)->len, 16);
	const uint64_t *hp = (const uint64_t *)c.out_args[5];
	assert_int_equal(hp[1], 8);
	assert_int_not_equal(hp[0], set);    /* points at the tracer's copy of the sigset */
	assert_int_equal(c.n, 5);
	pt_call_free(&c);
	pair[1] = 4096;
	memcpy(at(data), pair, sizeof pair);
	assert_int_equal(hook_call(&c, SYS_pselect6, 70, (long)rd, 0, 0, 0, (long)data), -EINVAL);
	pt_call_free(&c);
}

static void test_select(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t rd = FAKE_BASE + 0x7000, tv = FAKE_BASE + 0x7100;
	assert_int_equal(hook_call(&c, SYS_select, 3, (long)rd, 0, 0, (long)tv, 0), 0);
	assert_int_equal(arg_region(&c, 1)->len, 8);
	assert_int_equal(arg_region(&c, 4)->len, 16);
	assert_int_equal(arg_region(&c, 4)->dir, PT_INOUT);
	*(uint64_t *)c.out_args[1] = 4;
	assert_int_equal(pt_call_hook_done(&c, 1), 1);
	assert_int_equal(*(uint64_t *)at(rd), 4);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_select, -1, (long)rd, 0, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
}

static void test_unknown_passes_through(void **state)
{
	(void)state;
	struct pt_call c;
	long args[6] = { 0x1234, (long)FAKE_BASE, 7, 0x7fff0000, -1, 9 };
	assert_int_equal(pt_call_to_hook(&c, &mem, SYS_mmap, args), 0);
	assert_int_equal(c.n, 0);
	assert_memory_equal(c.out_args, args, sizeof args);
	assert_int_equal(pt_call_hook_done(&c, 5), 5);
	pt_call_free(&c);
	assert_int_equal(pt_call_to_hook(&c, &mem, 100000, args), 0);   /* beyond any table */
	assert_memory_equal(c.out_args, args, sizeof args);
	pt_call_free(&c);
}

/* --- malformed tracee data --------------------------------------------------------- */

static void test_malformed(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t buf = FAKE_BASE + 0x100;

	/* the kernel's access_ok: a range past user space */
	assert_int_equal(hook_call(&c, SYS_read, 0, (long)buf, -1, 0, 0, 0), -EFAULT);
	pt_call_free(&c);
	/* a huge (but possible) read: bounded, the hook sees a shorter one */
	assert_int_equal(hook_call(&c, SYS_read, 0, (long)buf, 1L << 40, 0, 0, 0), 0);
	assert_int_equal(c.out_args[2], PT_BUFFER_BUDGET);
	assert_int_equal(c.r[0].len, PT_BUFFER_BUDGET);
	pt_call_free(&c);
	/* unreadable input */
	assert_int_equal(hook_call(&c, SYS_write, 1, 0x10, 5, 0, 0, 0), -EFAULT);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_write, 1, (long)(FAKE_BASE + FAKE_SIZE - 2), 5, 0, 0, 0), -EFAULT);
	pt_call_free(&c);
	/* iovec counts */
	assert_int_equal(hook_call(&c, SYS_writev, 1, (long)buf, 1025, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_writev, 1, (long)buf, -1, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	/* an iov_len the kernel refuses, an unreadable iov_base */
	uint64_t iov = FAKE_BASE + 0x800;
	struct iovec v = { (void *)(uintptr_t)buf, (size_t)-1 };
	memcpy(at(iov), &v, sizeof v);
	assert_int_equal(hook_call(&c, SYS_writev, 1, (long)iov, 1, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	v = (struct iovec){ (void *)0x20, 10 };
	memcpy(at(iov), &v, sizeof v);
	assert_int_equal(hook_call(&c, SYS_writev, 1, (long)iov, 1, 0, 0, 0), -EFAULT);
	pt_call_free(&c);
	/* an unreadable iovec array */
	assert_int_equal(hook_call(&c, SYS_readv, 1, 0x30, 4, 0, 0, 0), -EFAULT);
	pt_call_free(&c);
	/* msghdr with too many iovecs, unreadable msghdr */
	uint64_t mh = FAKE_BASE + 0x900;
	struct msghdr m = { .msg_iov = (void *)(uintptr_t)iov, .msg_iovlen = 2000 };
	memcpy(at(mh), &m, sizeof m);
	assert_int_equal(hook_call(&c, SYS_recvmsg, 1, (long)mh, 0, 0, 0, 0), -EMSGSIZE);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_sendmsg, 1, 0x40, 0, 0, 0, 0), -EFAULT);
	pt_call_free(&c);
	/* sockaddr lengths */
	assert_int_equal(hook_call(&c, SYS_connect, 1, (long)buf, -1, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	assert_int_equal(hook_call(&c, SYS_bind, 1, (long)buf, 4096, 0, 0, 0), -EINVAL);
	pt_call_free(&c);
	/* a huge mmsghdr count is clamped to UIO_MAXIOV, as the kernel does */
	memset(at(buf), 0, 1024 * 64);
	assert_int_equal(hook_call(&c, SYS_sendmmsg, 1, (long)buf, 1L << 30, 0, 0, 0), 0);
	assert_int_equal(c.out_args[2], 1024);
	pt_call_free(&c);
	/* a path without its NUL within PATH_MAX */
	memset(at(buf), 'p', 8192);
	assert_int_equal(hook_call(&c, SYS_openat, -100, (long)buf, 0, 0, 0, 0), -ENAMETOOLONG);
	pt_call_free(&c);
	/* a path that ends right before an unmapped page */
	uint64_t end = FAKE_BASE + FAKE_SIZE - 3;
	memcpy(at(end), "ab", 3);
	assert_int_equal(hook_call(&c, SYS_openat, -100, (long)end, 0, 0, 0, 0), 0);
	assert_string_equal((char *)c.out_args[1], "ab");
	pt_call_free(&c);
}

/* --- next-bound --------------------------------------------------------------------- */

static void test_forward_is_original(void **state)
{
	(void)state;
	struct pt_call c;
	uint64_t buf = FAKE_BASE + 0x200;
	memcpy(at(buf), "hello", 5);
	assert_int_equal(hook_call(&c, SYS_write, 1, (long)buf, 5, 0, 0, 0), 0);
	assert_true(pt_call_is_original(&c, SYS_write, c.out_args));
	long other[6];
	memcpy(other, c.out_args, sizeof other);
	other[2] = 4;
	assert_false(pt_call_is_original(&c, SYS_write, other));
	/* a hook that changed the data is not forwarding the original */
	((char *)c.out_args[1])[0] = 'j';
	assert_false(pt_call_is_original(&c, SYS_write, c.out_args));
	pt_call_free(&c);

	/* read run in place: refresh brings the data in, the copy-back writes nothing new */
	assert_int_equal(hook_call(&c, SYS_read, 0, (long)buf, 64, 0, 0, 0), 0);
	assert_true(pt_call_is_original(&c, SYS_read, c.out_args));
	memcpy(at(buf), "in place", 8);
	pt_call_refresh(&c, 8);
	assert_memory_equal((char *)c.out_args[1], "in place", 8);
	memcpy(at(buf), "XXXXXXXX", 8);   /* had copy-back written, this would change */
	assert_int_equal(pt_call_hook_done(&c, 8), 8);
	assert_memory_equal(at(buf), "XXXXXXXX", 8);
	pt_call_free(&c);
}

static void test_next_translates_bounce(void **state)
{
	(void)state;
	struct pt_call hb, nb;
	uint64_t buf = FAKE_BASE + 0x200;
	assert_int_equal(hook_call(&hb, SYS_read, 0, (long)buf, 64, 0, 0, 0), 0);
	/* the hook reads into part of the application's buffer */
	long args[6] = { 0, hb.out_args[1] + 10, 20, 0, 0, 0 };
	assert_int_equal(pt_call_to_tracee(&nb, &hb, &mem, SYS_read, args, fake_scratch, NULL), 0);
	assert_int_equal(scratch_calls, 0);
	assert_int_equal(nb.out_args[1], (long)(buf + 10));
	memcpy(at(buf + 10), "fresh", 5);   /* what the tracee's read wrote */
	assert_int_equal(pt_call_tracee_done(&nb, &hb, 5), 5);
	assert_memory_equal((char *)hb.out_args[1] + 10, "fresh", 5);
	pt_call_free(&nb);
	pt_call_free(&hb);

	/* a struct with pointers: the same iovec array goes back as the tracee's */
	uint64_t iov = FAKE_BASE + 0x300, b0 = FAKE_BASE + 0x400;
	struct iovec v = { (void *)(uintptr_t)b0, 6 };
	memcpy(at(iov), &v, sizeof v);
	memcpy(at(b0), "vector", 6);
	assert_int_equal(hook_call(&hb, SYS_writev, 1, (long)iov, 1, 0, 0, 0), 0);
	long wargs[6] = { 1, hb.out_args[1], 1, 0, 0, 0 };
	assert_int_equal(pt_call_to_tracee(&nb, &hb, &mem, SYS_writev, wargs, fake_scratch, NULL), 0);
	assert_int_equal(nb.out_args[1], (long)iov);
	assert_int_equal(scratch_calls, 0);
	pt_call_free(&nb);
	pt_call_free(&hb);
}

static void test_next_own_memory(void **state)
{
	(void)state;
	struct pt_call nb;
	uint64_t one = 1;
	long args[6] = { 9, (long)&one, 8, 0, 0, 0 };
	assert_int_equal(pt_call_to_tracee(&nb, NULL, &mem, SYS_write, args, fake_scratch, NULL), 0);
	assert_int_equal(scratch_calls, 1);
	assert_int_equal(nb.out_args[1], (long)SCRATCH);
	assert_int_equal(*(uint64_t *)at(SCRATCH), 1);
	pt_call_free(&nb);

	/* the hook's own event array: filled from scratch by the result */
	unsigned char events[36];
	memset(events, 0, sizeof events);
	long eargs[6] = { 4, (long)events, 3, 0, 0, 0 };
	assert_int_equal(pt_call_to_tracee(&nb, NULL, &mem, SYS_epoll_wait, eargs, fake_scratch, NULL), 0);
	memset(at(SCRATCH), 'e', 36);
	assert_int_equal(pt_call_tracee_done(&nb, NULL, 1), 1);
	assert_int_equal(events[11], 'e');
	assert_int_equal(events[12], 0);
	pt_call_free(&nb);

	/* a hook-built iovec pointing at the hook's buffer and at an unchanged bounce */
	struct pt_call hb;
	uint64_t app = FAKE_BASE + 0x200;
	memcpy(at(app), "APP", 3);
	assert_int_equal(hook_call(&hb, SYS_write, 1, (long)app, 3, 0, 0, 0), 0);
	char mine[4] = "own";
	struct iovec v[2] = { { mine, 3 }, { (void *)hb.out_args[1], 3 } };
	long wargs[6] = { 1, (long)v, 2, 0, 0, 0 };
	assert_int_equal(pt_call_to_tracee(&nb, &hb, &mem, SYS_writev, wargs, fake_scratch, NULL), 0);
	struct iovec *rv = at((uint64_t)nb.out_args[1]);
	assert_int_equal((uint64_t)(uintptr_t)rv[1].iov_base, app);   /* translated */
	assert_memory_equal(at((uint64_t)(uintptr_t)rv[0].iov_base), "own", 3);
	pt_call_free(&nb);
	pt_call_free(&hb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_read, setup),
		cmocka_unit_test_setup(test_read_error_writes_nothing, setup),
		cmocka_unit_test_setup(test_write, setup),
		cmocka_unit_test_setup(test_readv, setup),
		cmocka_unit_test_setup(test_recvmsg, setup),
		cmocka_unit_test_setup(test_accept4, setup),
		cmocka_unit_test_setup(test_getsockopt, setup),
		cmocka_unit_test_setup(test_epoll_wait, setup),
		cmocka_unit_test_setup(test_ppoll, setup),
		cmocka_unit_test_setup(test_pselect6, setup),
		cmocka_unit_test_setup(test_select, setup),
		cmocka_unit_test_setup(test_unknown_passes_through, setup),
		cmocka_unit_test_setup(test_malformed, setup),
		cmocka_unit_test_setup(test_forward_is_original, setup),
		cmocka_unit_test_setup(test_next_translates_bounce, setup),
		cmocka_unit_test_setup(test_next_own_memory, setup),
	};
	int failed = cmocka_run_group_tests_name("ptrace_marshal", tests, NULL, NULL);
	size_t total = sizeof tests / sizeof tests[0];
	fflush(stderr);   /* cmocka reports on stderr; this is the closing line */
	printf("ptrace_marshal: %zu passed, %d failed\n", total - (size_t)failed, failed);
	return failed ? 1 : 0;
}
