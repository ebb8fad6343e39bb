/*
 * marshal_table.c - the one table: which arguments of which system calls
 * point at memory, in which direction, and how big that memory is.
 *
 * It covers what hook libraries dereference (the netstack hook: the socket,
 * I/O, readiness and fd calls; fstat & co. whose result it adjusts) and the
 * calls hooks make with their own memory through api->next (the netstack
 * hook: rt_sigaction, rt_sigprocmask, rt_sigpending, prlimit64, openat,
 * epoll_pwait2, ppoll, pread64 ...).  A call not listed keeps its raw
 * arguments: the hook sees tracee addresses it must not dereference, and
 * forwarding them to next runs the call unchanged.
 *
 * Sizes are the x86-64 kernel's: struct epoll_event is packed (12 bytes),
 * struct stat 144, struct statx 256, the kernel's struct sigaction 24 +
 * sigsetsize.  Lengths that decide a copy's size are checked in marshal.c as
 * the kernel checks them.
 */
#include <sys/syscall.h>

#include "marshal.h"

/* A byte buffer whose length is argument L; "out" ones are filled up to the result. */
#define BUF_IN(l)      { PK_BUF, PT_IN, (l), PT_F_CLAMP, 0 }
#define BUF_OUT(l)     { PK_BUF, PT_OUT, (l), PT_F_CLAMP | PT_F_RESULT, 0 }
/* A fixed-size object.  Objects the kernel fills only sometimes are
 * "inout": what it does not write goes back unchanged. */
#define FIXED(d, n)    { PK_FIXED, (d), 0, 0, (n) }
#define STRING         { PK_STRING, PT_IN, 0, 0, 0 }
#define SOCKADDR(l)    { PK_SOCKADDR, PT_IN, (l), PT_F_INT, 0 }
#define SOCKADDR_OUT(l) { PK_SOCKADDR_OUT, PT_OUT, (l), 0, 0 }
#define IOVEC(d, l)    { PK_IOVEC, (d), (l), 0, 0 }
#define SIGSET(d, l)   { PK_SIGSET, (d), (l), 0, 0 }
#define TIMESPEC_IN    FIXED(PT_IN, 16)
#define TIMESPEC_INOUT FIXED(PT_INOUT, 16)

#define STAT_SIZE 144
#define STATX_SIZE 256
#define RUSAGE_SIZE 144
#define UTSNAME_SIZE 390

static const struct pt_syscall_spec table[] = {
	/* byte I/O */
	[SYS_read]       = { { [1] = BUF_OUT(2) } },
	[SYS_write]      = { { [1] = BUF_IN(2) } },
	[SYS_pread64]    = { { [1] = BUF_OUT(2) } },
	[SYS_pwrite64]   = { { [1] = BUF_IN(2) } },
	[SYS_readv]      = { { [1] = IOVEC(PT_OUT, 2) } },
	[SYS_writev]     = { { [1] = IOVEC(PT_IN, 2) } },
	[SYS_preadv]     = { { [1] = IOVEC(PT_OUT, 2) } },
	[SYS_pwritev]    = { { [1] = IOVEC(PT_IN, 2) } },
	[SYS_preadv2]    = { { [1] = IOVEC(PT_OUT, 2) } },
	[SYS_pwritev2]   = { { [1] = IOVEC(PT_IN, 2) } },
	[SYS_getrandom]  = { { [0] = BUF_OUT(1) } },
	[SYS_sendfile]   = { { [2] = FIXED(PT_INOUT, 8) } },

	/* sockets */
	[SYS_recvfrom]   = { { [1] = BUF_OUT(2), [4] = SOCKADDR_OUT(5) } },
	[SYS_sendto]     = { { [1] = BUF_IN(2), [4] = SOCKADDR(5) } },
	[SYS_recvmsg]    = { { [1] = { PK_MSGHDR, PT_OUT, 0, 0, 0 } } },
	[SYS_sendmsg]    = { { [1] = { PK_MSGHDR, PT_IN, 0, 0, 0 } } },
	[SYS_recvmmsg]   = { { [1] = { PK_MMSGHDR, PT_OUT, 2, 0, 0 }, [4] = TIMESPEC_INOUT } },
	[SYS_sendmmsg]   = { { [1] = { PK_MMSGHDR, PT_IN, 2, 0, 0 } } },
	[SYS_bind]       = { { [1] = SOCKADDR(2) } },
	[SYS_connect]    = { { [1] = SOCKADDR(2) } },
	[SYS_accept]     = { { [1] = SOCKADDR_OUT(2) } },
	[SYS_accept4]    = { { [1] = SOCKADDR_OUT(2) } },
	[SYS_getsockname] = { { [1] = SOCKADDR_OUT(2) } },
	[SYS_getpeername] = { { [1] = SOCKADDR_OUT(2) } },
	[SYS_getsockopt] = { { [3] = { PK_SOCKOPT_OUT, PT_OUT, 4, 0, 0 } } },
	[SYS_setsockopt] = { { [3] = { PK_BUF, PT_IN, 4, PT_F_INT, PT_MAX_SOCKOPT } } },
	[SYS_socketpair] = { { [3] = FIXED(PT_INOUT, 8) } },
	[SYS_pipe]       = { { [0] = FIXED(PT_INOUT, 8) } },
	[SYS_pipe2]      = { { [0] = FIXED(PT_INOUT, 8) } },

	/* readiness */
	[SYS_epoll_ctl]    = { { [3] = FIXED(PT_IN, 12) } },
	[SYS_epoll_wait]   = { { [1] = { PK_EPOLL_EVENTS, PT_OUT, 2, 0, 0 } } },
	[SYS_epoll_pwait]  = { { [1] = { PK_EPOLL_EVENTS, PT_OUT, 2, 0, 0 }, [4] = SIGSET(PT_IN, 5) } },
	[SYS_epoll_pwait2] = { { [1] = { PK_EPOLL_EVENTS, PT_OUT, 2, 0, 0 }, [3] = TIMESPEC_IN,
				 [4] = SIGSET(PT_IN, 5) } },
	[SYS_poll]     = { { [0] = { PK_POLLFDS, PT_INOUT, 1, 0, 0 } } },
	[SYS_ppoll]    = { { [0] = { PK_POLLFDS, PT_INOUT, 1, 0, 0 }, [2] = TIMESPEC_INOUT,
			     [3] = SIGSET(PT_IN, 4) } },
	[SYS_select]   = { { [1] = { PK_FDSET, PT_INOUT, 0, 0, 0 }, [2] = { PK_FDSET, PT_INOUT, 0, 0, 0 },
			     [3] = { PK_FDSET, PT_INOUT, 0, 0, 0 }, [4] = FIXED(PT_INOUT, 16) } },
	[SYS_pselect6] = { { [1] = { PK_FDSET, PT_INOUT, 0, 0, 0 }, [2] = { PK_FDSET, PT_INOUT, 0, 0, 0 },
			     [3] = { PK_FDSET, PT_INOUT, 0, 0, 0 }, [4] = TIMESPEC_INOUT,
			     [5] = { PK_PSELECT_SIGDATA, PT_IN, 0, 0, 0 } } },

	/* fds */
	[SYS_ioctl]    = { { [2] = { PK_IOCTL, PT_INOUT, 0, 0, 0 } } },
	[SYS_fcntl]    = { { [2] = { PK_FCNTL, PT_INOUT, 0, 0, 0 } } },
	[SYS_fstat]    = { { [1] = FIXED(PT_OUT, STAT_SIZE) } },
	[SYS_stat]     = { { [0] = STRING, [1] = FIXED(PT_OUT, STAT_SIZE) } },
	[SYS_lstat]    = { { [0] = STRING, [1] = FIXED(PT_OUT, STAT_SIZE) } },
	[SYS_newfstatat] = { { [1] = STRING, [2] = FIXED(PT_OUT, STAT_SIZE) } },
	[SYS_statx]    = { { [1] = STRING, [4] = FIXED(PT_OUT, STATX_SIZE) } },
	[SYS_open]     = { { [0] = STRING } },
	[SYS_openat]   = { { [1] = STRING } },

	/* processes, signals, time */
	[SYS_clone3]        = { { [0] = { PK_CLONE_ARGS, PT_IN, 1, 0, 0 } } },
	[SYS_wait4]         = { { [1] = FIXED(PT_INOUT, 4), [3] = FIXED(PT_INOUT, RUSAGE_SIZE) } },
	[SYS_rt_sigaction]  = { { [1] = { PK_SIGACTION, PT_IN, 0, 0, 0 },
				  [2] = { PK_SIGACTION, PT_OUT, 0, 0, 0 } } },
	[SYS_rt_sigprocmask] = { { [1] = SIGSET(PT_IN, 3), [2] = SIGSET(PT_OUT, 3) } },
	[SYS_rt_sigpending] = { { [0] = SIGSET(PT_OUT, 1) } },
	[SYS_prlimit64]     = { { [2] = FIXED(PT_IN, 16), [3] = FIXED(PT_OUT, 16) } },
	[SYS_getrlimit]     = { { [1] = FIXED(PT_OUT, 16) } },
	[SYS_nanosleep]     = { { [0] = TIMESPEC_IN, [1] = FIXED(PT_INOUT, 16) } },
	[SYS_clock_nanosleep] = { { [2] = TIMESPEC_IN, [3] = FIXED(PT_INOUT, 16) } },
	[SYS_clock_gettime] = { { [1] = FIXED(PT_OUT, 16) } },
	[SYS_gettimeofday]  = { { [0] = FIXED(PT_OUT, 16) } },
	[SYS_uname]         = { { [0] = FIXED(PT_OUT, UTSNAME_SIZE) } },
};

#define TABLE_SIZE (sizeof table / sizeof table[0])

const struct pt_syscall_spec *pt_syscall_spec(long nr)
{
	if (nr < 0 || (unsigned long)nr >= TABLE_SIZE)
		return 0;
	const struct pt_syscall_spec *spec = &table[nr];
	for (int i = 0; i < 6; i++)
		if (spec->arg[i].kind != PK_NONE)
			return spec;
	return 0;
}
