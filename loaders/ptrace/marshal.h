/*
 * marshal.h - moving the memory a system call points at between a tracee
 * and the tracer (zptrace, the ptrace mechanism).
 *
 * Under ptrace the hook library runs in the tracer, but the pointers of a
 * system call are addresses in the tracee.  Hooks dereference them (the
 * netstack hook reads the buffer of a write, fills the one of a read,
 * parses msghdr, epoll_event arrays, fd_sets ...), so every call whose
 * pointers a hook may touch is *marshalled*, driven by one table
 * (marshal_table.c) that says, per system call, which arguments point at
 * what, in which direction and how big:
 *
 *  hook-bound (pt_call_to_hook): the tracee's call becomes a call the hook
 *    can read: each pointed-at region is copied into a bounce buffer of the
 *    tracer ("in" and "inout" regions are read, "out" ones zeroed), and the
 *    hook gets the bounce pointers.  Afterwards (pt_call_hook_done) the
 *    "out"/"inout" regions are written back, as much as the result says the
 *    kernel would have written (bytes read, events returned, *addrlen ...).
 *
 *  next-bound (pt_call_to_tracee): a call the hook makes through
 *    api->next, with tracer pointers, becomes a call the tracee can run.  A
 *    pointer into one of the current call's bounce buffers is translated
 *    back to the tracee's own address (a forwarded call is the original call
 *    again, no copies), provided the hook did not change what it is to read.
 *    Any other pointer (the hook's own memory) is copied into a scratch area
 *    inside the tracee, and results are copied back into the hook's memory
 *    (pt_call_tracee_done).
 *
 * A system call the table does not know keeps its arguments as they are in
 * both directions: a hook that only forwards it then runs it unchanged.
 *
 * Nothing here knows about ptrace: the tracee's memory is reached through
 * struct pt_mem, so the unit test (tests/unit/test_ptrace_marshal.c) drives
 * it with an in-memory fake.  Malformed tracee data gives the error the
 * kernel would give (-EFAULT, -EINVAL, -EMSGSIZE ...) before the hook runs,
 * and every allocation is bounded (PT_BUFFER_BUDGET, PT_REGION_LIMIT).
 */
#ifndef EXITLESS_PTRACE_MARSHAL_H
#define EXITLESS_PTRACE_MARSHAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The tracee's memory.  Both return 0, or -EFAULT if any byte is out of reach. */
struct pt_mem {
	int (*read)(void *ctx, void *local, uint64_t remote, size_t len);
	int (*write)(void *ctx, uint64_t remote, const void *local, size_t len);
	void *ctx;
};

/* A remote area of at least SIZE bytes for next-bound copies (the same
 * area may be handed out again by the next call); 0 if none can be had. */
typedef uint64_t (*pt_scratch_fn)(void *ctx, size_t size);

enum pt_dir { PT_IN = 1, PT_OUT = 2, PT_INOUT = 3 };

/* How much of an out region a call with result R filled. */
enum pt_out_rule {
	PT_OUT_ALL,            /* the whole region (if R >= 0) */
	PT_OUT_RESULT,         /* R bytes of a byte stream, from offset `base` */
	PT_OUT_RESULT_TIMES,   /* R * unit bytes (epoll events) */
	PT_OUT_FIELD32,        /* the u32 at (region ref, ref_off) bytes, from `base` */
	PT_OUT_FIELD64,        /* the u64 at (region ref, ref_off) */
};

/* Bytes of buffers one call may bounce (read/write/iovec data).  A bigger
 * request is shortened for the hook: a short read or write, which callers
 * of those calls must handle anyway. */
#define PT_BUFFER_BUDGET (16u << 20)
/* Bytes of everything else (structures, fd_sets, pollfds, events). */
#define PT_STRUCT_BUDGET (32u << 20)
/* Regions per call (a region is one pointed-at area). */
#define PT_REGION_LIMIT 4096
/* The hook sees at most this many epoll events per call. */
#define PT_MAX_EPOLL_EVENTS 65536
/* The largest sockopt value marshalled. */
#define PT_MAX_SOCKOPT 65536
/* The largest msg_control marshalled. */
#define PT_MAX_CONTROL 65536

struct pt_region {
	uint64_t remote;       /* address in the tracee */
	char *local;           /* address in the tracer */
	size_t len;
	uint8_t dir;           /* enum pt_dir */
	uint8_t rule;          /* enum pt_out_rule */
	bool scratch;          /* next-bound: remote is in the scratch area */
	bool translated;       /* next-bound: remote is the tracee's own region */
	int8_t arg;            /* the argument it hangs off, -1 if nested */
	int parent;            /* region holding the pointer to it, -1 if none */
	uint32_t parent_off;   /* offset of that pointer in the parent */
	int ref;               /* PT_OUT_FIELD*: the region holding the length */
	uint32_t ref_off;
	uint32_t unit;         /* PT_OUT_RESULT_TIMES */
	uint64_t base;         /* PT_OUT_RESULT / FIELD: offset of this region in the stream */
	long gate;             /* written only if result > gate (mmsghdr entry index); -1 */
	int untranslated_children;
	/* hook-bound: the bounce buffer (owned) and a copy of what the tracee
	 * holds for its first pristine_len bytes (to see what the hook changed) */
	char *owned;
	char *pristine;
	size_t pristine_len;
};

struct pt_call {
	long nr;
	long args[6];       /* as they came: tracee's (hook-bound) or hook's (next-bound) */
	long out_args[6];   /* as they go: to the hook / to the tracee */
	bool hook_bound;
	bool known;         /* the table describes this call */
	const struct pt_mem *mem;
	int n, cap;
	struct pt_region *r;
	size_t buffer_bytes, struct_bytes;
};

/*
 * Hook-bound.  Fills C from the tracee's call; returns 0 (C->out_args are the
 * hook's arguments) or -errno: the call fails with that, the hook is not run.
 * C must be released with pt_call_free either way.
 */
long pt_call_to_hook(struct pt_call *c, const struct pt_mem *mem, long nr, const long args[6]);

/* After the hook returned RESULT: write back what it produced.  Returns
 * RESULT, or -EFAULT if the tracee's memory cannot take it. */
long pt_call_hook_done(struct pt_call *c, long result);

/* Whether the hook's next(NR, ARGS) is the tracee's original call: same
 * arguments as the hook was given and nothing it reads changed. */
bool pt_call_is_original(const struct pt_call *c, long nr, const long args[6]);

/* The original call ran in the tracee with RESULT: bring what it wrote into
 * the bounce buffers, so the hook sees it. */
void pt_call_refresh(struct pt_call *c, long result);

/*
 * Next-bound.  Fills NB for the hook's next(NR, ARGS); HB is the hook-bound
 * call being hooked (its bounce buffers translate back), or NULL.  Returns 0
 * (NB->out_args are to be run by the tracee) or -errno.
 */
long pt_call_to_tracee(struct pt_call *nb, struct pt_call *hb, const struct pt_mem *mem,
		       long nr, const long args[6], pt_scratch_fn scratch, void *scratch_ctx);

/* The tracee ran NB with RESULT: copy what it wrote back into the hook's
 * memory.  Returns RESULT or -EFAULT. */
long pt_call_tracee_done(struct pt_call *nb, struct pt_call *hb, long result);

void pt_call_free(struct pt_call *c);

/* --- the table (marshal_table.c) --- */

enum pt_kind {
	PK_NONE,
	PK_BUF,           /* len_arg bytes */
	PK_FIXED,         /* size bytes */
	PK_STRING,        /* NUL-terminated, at most PATH_MAX */
	PK_SOCKADDR,      /* in: int length in len_arg */
	PK_SOCKADDR_OUT,  /* out: socklen_t * in len_arg (inout) */
	PK_SOCKOPT_OUT,   /* getsockopt: socklen_t * in len_arg */
	PK_IOVEC,         /* iovec array, count in len_arg; dir is the buffers' */
	PK_MSGHDR,        /* dir PT_IN: sendmsg, PT_OUT: recvmsg */
	PK_MMSGHDR,       /* count in len_arg */
	PK_FDSET,         /* nfds in len_arg */
	PK_POLLFDS,       /* nfds in len_arg */
	PK_EPOLL_EVENTS,  /* maxevents in len_arg */
	PK_SIGSET,        /* sigsetsize in len_arg */
	PK_PSELECT_SIGDATA, /* pselect6's { const sigset_t *, size_t } */
	PK_IOCTL,         /* by the request in argument 1 */
	PK_FCNTL,         /* by the command in argument 1 */
	PK_SIGACTION,     /* kernel struct sigaction, sigsetsize in argument 3 */
	PK_CLONE_ARGS,    /* struct clone_args, size in len_arg */
};

enum {
	PT_F_RESULT = 1 << 0,  /* out bytes = the result */
	PT_F_INT = 1 << 1,     /* the length is an int: negative is -EINVAL */
	PT_F_CLAMP = 1 << 2,   /* a longer buffer is shortened for the hook */
};

struct pt_arg_spec {
	uint8_t kind;       /* enum pt_kind */
	uint8_t dir;        /* enum pt_dir */
	uint8_t len_arg;
	uint8_t flags;
	uint32_t size;      /* PK_FIXED: bytes; PK_BUF without PT_F_CLAMP: the most allowed */
};

struct pt_syscall_spec {
	struct pt_arg_spec arg[6];
};

/* The description of system call NR, or NULL if the table does not know it. */
const struct pt_syscall_spec *pt_syscall_spec(long nr);

#endif
