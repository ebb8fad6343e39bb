/*
 * trace_format.c - decode system call arguments the way strace shows them.
 *
 * Each decoded call has a row in call_formats[]: the kind of each argument.
 * A kind knows how to print itself, sometimes with the help of the next
 * argument (a buffer and its length) or of the result (what read() filled).
 * Calls without a row print their six raw arguments in hex.
 *
 * Everything here runs inside the hook, possibly in a signal handler that
 * interrupted another hook call: no static buffers, no stdio, no malloc.
 * Memory of the application is read only through safe_read().
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "linebuf.h"
#include "safe_read.h"
#include "syscall_name.h"
#include "trace_format.h"

/* How much of a buffer or string argument is shown (strace's -s 32). */
#define DATA_SHOW_MAX 32
/* Paths are shown further: they are what one looks for in a trace. */
#define PATH_SHOW_MAX 256
/* argv entries shown by execve before "...". */
#define ARGV_SHOW_MAX 16
/* iovec entries shown by writev before "...". */
#define IOV_SHOW_MAX 4

enum arg_kind {
	ARG_END = 0,      /* no more arguments */
	ARG_INT,          /* int, decimal */
	ARG_LONG,         /* long, decimal */
	ARG_ULONG,        /* unsigned long (sizes, counts), decimal */
	ARG_HEX,          /* raw value in hex */
	ARG_PTR,          /* NULL or hex address */
	ARG_FD,           /* file descriptor */
	ARG_DIRFD,        /* AT_FDCWD or a file descriptor */
	ARG_PATH,         /* NUL-terminated string */
	ARG_INBUF,        /* data the call reads; the next argument is its length */
	ARG_OUTBUF,       /* data the call writes; the result is its length */
	ARG_OUTSTR,       /* string the call writes (getcwd, readlink); result = length */
	ARG_IOV_IN,       /* iovec array the call reads; the next argument is the count */
	ARG_OPEN_FLAGS,   /* O_RDONLY|O_CLOEXEC ... */
	ARG_OPEN_MODE,    /* mode of open/openat, shown only with O_CREAT or O_TMPFILE */
	ARG_FD_FLAGS,     /* O_CLOEXEC|O_NONBLOCK of pipe2, dup3 ... (no access mode) */
	ARG_MODE,         /* permission bits, octal */
	ARG_ACCESS_MODE,  /* F_OK or R_OK|W_OK|X_OK */
	ARG_AT_FLAGS,     /* AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH ... */
	ARG_WHENCE,       /* SEEK_SET ... */
	ARG_FCNTL_CMD,    /* F_GETFL ... */
	ARG_PROT,         /* PROT_READ|PROT_WRITE ... */
	ARG_MMAP_FLAGS,   /* MAP_PRIVATE|MAP_ANONYMOUS ... */
	ARG_CLONE_FLAGS,  /* CLONE_VM|...|SIGCHLD */
	ARG_CLONE3_ARGS,  /* struct clone_args * */
	ARG_SIGNAL,       /* SIGTERM */
	ARG_SIGMASK_HOW,  /* SIG_BLOCK ... */
	ARG_FAMILY,       /* AF_INET ... */
	ARG_SOCK_TYPE,    /* SOCK_STREAM|SOCK_CLOEXEC */
	ARG_SOCKADDR,     /* struct sockaddr *; the next argument is its length */
	ARG_ARGV,         /* ["ls", "-l"] */
	ARG_ENVP,         /* 0x7ff... / * 23 vars * / */
	ARG_PIPE_FDS,     /* [3, 4] after pipe/pipe2/socketpair */
	ARG_WAIT_STATUS,  /* [{WIFEXITED(s) && WEXITSTATUS(s) == 0}] after wait4 */
};

struct call_format {
	unsigned char known;            /* the row is filled */
	unsigned char arg[6];           /* enum arg_kind, ARG_END-terminated */
};

#define ARGS(...) { .known = 1, .arg = { __VA_ARGS__ } }
#define NO_ARGS   { .known = 1, .arg = { ARG_END } }

static const struct call_format call_formats[] = {
	/* files and descriptors */
	[SYS_read]       = ARGS(ARG_FD, ARG_OUTBUF, ARG_ULONG),
	[SYS_write]      = ARGS(ARG_FD, ARG_INBUF, ARG_ULONG),
	[SYS_pread64]    = ARGS(ARG_FD, ARG_OUTBUF, ARG_ULONG, ARG_LONG),
	[SYS_pwrite64]   = ARGS(ARG_FD, ARG_INBUF, ARG_ULONG, ARG_LONG),
	[SYS_readv]      = ARGS(ARG_FD, ARG_PTR, ARG_INT),
	[SYS_writev]     = ARGS(ARG_FD, ARG_IOV_IN, ARG_INT),
	[SYS_open]       = ARGS(ARG_PATH, ARG_OPEN_FLAGS, ARG_OPEN_MODE),
	[SYS_openat]     = ARGS(ARG_DIRFD, ARG_PATH, ARG_OPEN_FLAGS, ARG_OPEN_MODE),
	[SYS_creat]      = ARGS(ARG_PATH, ARG_MODE),
	[SYS_close]      = ARGS(ARG_FD),
	[SYS_close_range] = ARGS(ARG_FD, ARG_FD, ARG_HEX),
	[SYS_dup]        = ARGS(ARG_FD),
	[SYS_dup2]       = ARGS(ARG_FD, ARG_FD),
	[SYS_dup3]       = ARGS(ARG_FD, ARG_FD, ARG_FD_FLAGS),
	[SYS_pipe]       = ARGS(ARG_PIPE_FDS),
	[SYS_pipe2]      = ARGS(ARG_PIPE_FDS, ARG_FD_FLAGS),
	[SYS_lseek]      = ARGS(ARG_FD, ARG_LONG, ARG_WHENCE),
	[SYS_fcntl]      = ARGS(ARG_FD, ARG_FCNTL_CMD, ARG_HEX),
	[SYS_ioctl]      = ARGS(ARG_FD, ARG_HEX, ARG_HEX),
	[SYS_getdents64] = ARGS(ARG_FD, ARG_PTR, ARG_ULONG),
	[SYS_fstat]      = ARGS(ARG_FD, ARG_PTR),
	[SYS_stat]       = ARGS(ARG_PATH, ARG_PTR),
	[SYS_lstat]      = ARGS(ARG_PATH, ARG_PTR),
	[SYS_newfstatat] = ARGS(ARG_DIRFD, ARG_PATH, ARG_PTR, ARG_AT_FLAGS),
	[SYS_statx]      = ARGS(ARG_DIRFD, ARG_PATH, ARG_AT_FLAGS, ARG_HEX, ARG_PTR),
	[SYS_statfs]     = ARGS(ARG_PATH, ARG_PTR),
	[SYS_fstatfs]    = ARGS(ARG_FD, ARG_PTR),
	[SYS_access]     = ARGS(ARG_PATH, ARG_ACCESS_MODE),
	[SYS_faccessat]  = ARGS(ARG_DIRFD, ARG_PATH, ARG_ACCESS_MODE),
	[SYS_faccessat2] = ARGS(ARG_DIRFD, ARG_PATH, ARG_ACCESS_MODE, ARG_AT_FLAGS),
	[SYS_readlink]   = ARGS(ARG_PATH, ARG_OUTSTR, ARG_ULONG),
	[SYS_readlinkat] = ARGS(ARG_DIRFD, ARG_PATH, ARG_OUTSTR, ARG_ULONG),
	[SYS_getcwd]     = ARGS(ARG_OUTSTR, ARG_ULONG),
	[SYS_chdir]      = ARGS(ARG_PATH),
	[SYS_fchdir]     = ARGS(ARG_FD),
	[SYS_mkdir]      = ARGS(ARG_PATH, ARG_MODE),
	[SYS_mkdirat]    = ARGS(ARG_DIRFD, ARG_PATH, ARG_MODE),
	[SYS_rmdir]      = ARGS(ARG_PATH),
	[SYS_unlink]     = ARGS(ARG_PATH),
	[SYS_unlinkat]   = ARGS(ARG_DIRFD, ARG_PATH, ARG_AT_FLAGS),
	[SYS_rename]     = ARGS(ARG_PATH, ARG_PATH),
	[SYS_renameat]   = ARGS(ARG_DIRFD, ARG_PATH, ARG_DIRFD, ARG_PATH),
	[SYS_renameat2]  = ARGS(ARG_DIRFD, ARG_PATH, ARG_DIRFD, ARG_PATH, ARG_HEX),
	[SYS_link]       = ARGS(ARG_PATH, ARG_PATH),
	[SYS_symlink]    = ARGS(ARG_PATH, ARG_PATH),
	[SYS_chmod]      = ARGS(ARG_PATH, ARG_MODE),
	[SYS_fchmod]     = ARGS(ARG_FD, ARG_MODE),
	[SYS_fchmodat]   = ARGS(ARG_DIRFD, ARG_PATH, ARG_MODE),
	[SYS_chown]      = ARGS(ARG_PATH, ARG_INT, ARG_INT),
	[SYS_truncate]   = ARGS(ARG_PATH, ARG_LONG),
	[SYS_ftruncate]  = ARGS(ARG_FD, ARG_LONG),
	[SYS_umask]      = ARGS(ARG_MODE),
	[SYS_sync]       = NO_ARGS,
	[SYS_fsync]      = ARGS(ARG_FD),
	[SYS_fadvise64]  = ARGS(ARG_FD, ARG_LONG, ARG_LONG, ARG_INT),

	/* memory */
	[SYS_mmap]       = ARGS(ARG_PTR, ARG_ULONG, ARG_PROT, ARG_MMAP_FLAGS, ARG_FD, ARG_HEX),
	[SYS_mprotect]   = ARGS(ARG_PTR, ARG_ULONG, ARG_PROT),
	[SYS_munmap]     = ARGS(ARG_PTR, ARG_ULONG),
	[SYS_mremap]     = ARGS(ARG_PTR, ARG_ULONG, ARG_ULONG, ARG_HEX, ARG_PTR),
	[SYS_madvise]    = ARGS(ARG_PTR, ARG_ULONG, ARG_INT),
	[SYS_brk]        = ARGS(ARG_PTR),

	/* processes */
	[SYS_execve]     = ARGS(ARG_PATH, ARG_ARGV, ARG_ENVP),
	[SYS_execveat]   = ARGS(ARG_DIRFD, ARG_PATH, ARG_ARGV, ARG_ENVP, ARG_AT_FLAGS),
	/* x86_64 order: flags, new stack, parent tid, child tid, tls */
	[SYS_clone]      = ARGS(ARG_CLONE_FLAGS, ARG_PTR, ARG_PTR, ARG_PTR, ARG_HEX),
	[SYS_clone3]     = ARGS(ARG_CLONE3_ARGS, ARG_ULONG),
	[SYS_fork]       = NO_ARGS,
	[SYS_vfork]      = NO_ARGS,
	[SYS_exit]       = ARGS(ARG_INT),
	[SYS_exit_group] = ARGS(ARG_INT),
	[SYS_wait4]      = ARGS(ARG_INT, ARG_WAIT_STATUS, ARG_HEX, ARG_PTR),
	[SYS_kill]       = ARGS(ARG_INT, ARG_SIGNAL),
	[SYS_tkill]      = ARGS(ARG_INT, ARG_SIGNAL),
	[SYS_tgkill]     = ARGS(ARG_INT, ARG_INT, ARG_SIGNAL),
	[SYS_rt_sigaction]   = ARGS(ARG_SIGNAL, ARG_PTR, ARG_PTR, ARG_ULONG),
	[SYS_rt_sigprocmask] = ARGS(ARG_SIGMASK_HOW, ARG_PTR, ARG_PTR, ARG_ULONG),
	[SYS_rt_sigreturn]   = NO_ARGS,
	[SYS_getpid]     = NO_ARGS,
	[SYS_getppid]    = NO_ARGS,
	[SYS_gettid]     = NO_ARGS,
	[SYS_getuid]     = NO_ARGS,
	[SYS_geteuid]    = NO_ARGS,
	[SYS_getgid]     = NO_ARGS,
	[SYS_getegid]    = NO_ARGS,
	[SYS_getpgrp]    = NO_ARGS,
	[SYS_setsid]     = NO_ARGS,
	[SYS_sched_yield] = NO_ARGS,
	[SYS_pause]      = NO_ARGS,
	[SYS_set_tid_address] = ARGS(ARG_PTR),
	[SYS_set_robust_list] = ARGS(ARG_PTR, ARG_ULONG),
	[SYS_arch_prctl] = ARGS(ARG_HEX, ARG_HEX),
	[SYS_prlimit64]  = ARGS(ARG_INT, ARG_INT, ARG_PTR, ARG_PTR),
	[SYS_getrandom]  = ARGS(ARG_OUTBUF, ARG_ULONG, ARG_HEX),
	[SYS_rseq]       = ARGS(ARG_PTR, ARG_ULONG, ARG_INT, ARG_HEX),
	[SYS_futex]      = ARGS(ARG_PTR, ARG_INT, ARG_INT, ARG_PTR, ARG_PTR, ARG_INT),
	[SYS_nanosleep]  = ARGS(ARG_PTR, ARG_PTR),
	[SYS_clock_nanosleep] = ARGS(ARG_INT, ARG_INT, ARG_PTR, ARG_PTR),

	/* sockets and polling */
	[SYS_socket]     = ARGS(ARG_FAMILY, ARG_SOCK_TYPE, ARG_INT),
	[SYS_socketpair] = ARGS(ARG_FAMILY, ARG_SOCK_TYPE, ARG_INT, ARG_PIPE_FDS),
	[SYS_connect]    = ARGS(ARG_FD, ARG_SOCKADDR, ARG_INT),
	[SYS_bind]       = ARGS(ARG_FD, ARG_SOCKADDR, ARG_INT),
	[SYS_listen]     = ARGS(ARG_FD, ARG_INT),
	[SYS_accept]     = ARGS(ARG_FD, ARG_PTR, ARG_PTR),
	[SYS_accept4]    = ARGS(ARG_FD, ARG_PTR, ARG_PTR, ARG_SOCK_TYPE),
	[SYS_shutdown]   = ARGS(ARG_FD, ARG_INT),
	[SYS_getsockname] = ARGS(ARG_FD, ARG_PTR, ARG_PTR),
	[SYS_getpeername] = ARGS(ARG_FD, ARG_PTR, ARG_PTR),
	[SYS_setsockopt] = ARGS(ARG_FD, ARG_INT, ARG_INT, ARG_PTR, ARG_INT),
	[SYS_getsockopt] = ARGS(ARG_FD, ARG_INT, ARG_INT, ARG_PTR, ARG_PTR),
	[SYS_sendto]     = ARGS(ARG_FD, ARG_INBUF, ARG_ULONG, ARG_HEX, ARG_SOCKADDR, ARG_INT),
	[SYS_recvfrom]   = ARGS(ARG_FD, ARG_OUTBUF, ARG_ULONG, ARG_HEX, ARG_PTR, ARG_PTR),
	[SYS_sendmsg]    = ARGS(ARG_FD, ARG_PTR, ARG_HEX),
	[SYS_recvmsg]    = ARGS(ARG_FD, ARG_PTR, ARG_HEX),
	[SYS_poll]       = ARGS(ARG_PTR, ARG_ULONG, ARG_INT),
	[SYS_epoll_create1] = ARGS(ARG_FD_FLAGS),
	[SYS_epoll_ctl]  = ARGS(ARG_FD, ARG_INT, ARG_FD, ARG_PTR),
	[SYS_epoll_wait] = ARGS(ARG_FD, ARG_PTR, ARG_INT, ARG_INT),
	[SYS_eventfd2]   = ARGS(ARG_ULONG, ARG_FD_FLAGS),
};

#define CALL_FORMAT_COUNT (sizeof(call_formats) / sizeof(call_formats[0]))

/* ---- flag sets ---- */

struct flag_name {
	unsigned long value;
	const char *name;
};

/*
 * Append the names of the bits of V found in TABLE, joined by '|', then
 * any unnamed rest in hex.  Multi-bit flags must come before their parts
 * in the table (O_SYNC before O_DSYNC).  V == 0 prints ZERO_NAME.
 */
static void put_flags(struct linebuf *lb, const struct flag_name *table, size_t n,
		      unsigned long v, const char *zero_name)
{
	int first = 1;

	if (v == 0) {
		lb_str(lb, zero_name);
		return;
	}
	for (size_t i = 0; i < n && v; i++) {
		if (table[i].value && (v & table[i].value) == table[i].value) {
			if (!first)
				lb_char(lb, '|');
			lb_str(lb, table[i].name);
			v &= ~table[i].value;
			first = 0;
		}
	}
	if (v) {
		if (!first)
			lb_char(lb, '|');
		lb_hex(lb, v);
	}
}

/* Append the name of V in TABLE (exact match), or its decimal value. */
static void put_enum(struct linebuf *lb, const struct flag_name *table, size_t n, long v)
{
	for (size_t i = 0; i < n; i++) {
		if ((long)table[i].value == v) {
			lb_str(lb, table[i].name);
			return;
		}
	}
	lb_dec(lb, v);
}

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))
#define FLAG(x) { (unsigned long)(x), #x }

/* glibc defines O_LARGEFILE as 0 on x86_64; the kernel still sees the bit. */
#define KERNEL_O_LARGEFILE 0100000

/* open flags other than the access mode (O_RDONLY is 0: handled apart). */
static const struct flag_name open_flag_names[] = {
	FLAG(O_TMPFILE), FLAG(O_SYNC),          /* contain O_DIRECTORY, O_DSYNC */
	FLAG(O_CREAT), FLAG(O_EXCL), FLAG(O_NOCTTY), FLAG(O_TRUNC), FLAG(O_APPEND),
	FLAG(O_NONBLOCK), FLAG(O_DSYNC), FLAG(O_ASYNC), FLAG(O_DIRECT),
	{ KERNEL_O_LARGEFILE, "O_LARGEFILE" },
	FLAG(O_DIRECTORY), FLAG(O_NOFOLLOW), FLAG(O_NOATIME), FLAG(O_CLOEXEC),
	FLAG(O_PATH),
};

/* Kernel bit glibc does not define. */
#ifndef PROT_SEM
#define PROT_SEM 0x8
#endif

static const struct flag_name prot_names[] = {
	FLAG(PROT_READ), FLAG(PROT_WRITE), FLAG(PROT_EXEC), FLAG(PROT_SEM),
	FLAG(PROT_GROWSDOWN), FLAG(PROT_GROWSUP),
};

/* mmap flags beyond the sharing type (the low MAP_TYPE bits). */
static const struct flag_name mmap_flag_names[] = {
	FLAG(MAP_FIXED), FLAG(MAP_ANONYMOUS), FLAG(MAP_32BIT), FLAG(MAP_GROWSDOWN),
	FLAG(MAP_DENYWRITE), FLAG(MAP_EXECUTABLE), FLAG(MAP_LOCKED),
	FLAG(MAP_NORESERVE), FLAG(MAP_POPULATE), FLAG(MAP_NONBLOCK), FLAG(MAP_STACK),
	FLAG(MAP_HUGETLB), FLAG(MAP_SYNC), FLAG(MAP_FIXED_NOREPLACE),
};

static const struct flag_name map_type_names[] = {
	FLAG(MAP_SHARED), FLAG(MAP_PRIVATE), FLAG(MAP_SHARED_VALIDATE),
};

static const struct flag_name clone_flag_names[] = {
	FLAG(CLONE_VM), FLAG(CLONE_FS), FLAG(CLONE_FILES), FLAG(CLONE_SIGHAND),
	FLAG(CLONE_PIDFD), FLAG(CLONE_PTRACE), FLAG(CLONE_VFORK), FLAG(CLONE_PARENT),
	FLAG(CLONE_THREAD), FLAG(CLONE_NEWNS), FLAG(CLONE_SYSVSEM), FLAG(CLONE_SETTLS),
	FLAG(CLONE_PARENT_SETTID), FLAG(CLONE_CHILD_CLEARTID), FLAG(CLONE_DETACHED),
	FLAG(CLONE_UNTRACED), FLAG(CLONE_CHILD_SETTID), FLAG(CLONE_NEWCGROUP),
	FLAG(CLONE_NEWUTS), FLAG(CLONE_NEWIPC), FLAG(CLONE_NEWUSER), FLAG(CLONE_NEWPID),
	FLAG(CLONE_NEWNET), FLAG(CLONE_IO),
};

static const struct flag_name at_flag_names[] = {
	FLAG(AT_SYMLINK_NOFOLLOW), FLAG(AT_REMOVEDIR), FLAG(AT_SYMLINK_FOLLOW),
	FLAG(AT_NO_AUTOMOUNT), FLAG(AT_EMPTY_PATH),
};

static const struct flag_name access_mode_names[] = {
	FLAG(R_OK), FLAG(W_OK), FLAG(X_OK),
};

static const struct flag_name whence_names[] = {
	FLAG(SEEK_SET), FLAG(SEEK_CUR), FLAG(SEEK_END), FLAG(SEEK_DATA), FLAG(SEEK_HOLE),
};

static const struct flag_name fcntl_cmd_names[] = {
	FLAG(F_DUPFD), FLAG(F_GETFD), FLAG(F_SETFD), FLAG(F_GETFL), FLAG(F_SETFL),
	FLAG(F_GETLK), FLAG(F_SETLK), FLAG(F_SETLKW), FLAG(F_SETOWN), FLAG(F_GETOWN),
	FLAG(F_SETSIG), FLAG(F_GETSIG), FLAG(F_OFD_GETLK), FLAG(F_OFD_SETLK),
	FLAG(F_OFD_SETLKW), FLAG(F_SETLEASE), FLAG(F_GETLEASE), FLAG(F_NOTIFY),
	FLAG(F_DUPFD_CLOEXEC), FLAG(F_SETPIPE_SZ), FLAG(F_GETPIPE_SZ),
	FLAG(F_ADD_SEALS), FLAG(F_GET_SEALS),
};

static const struct flag_name sigmask_how_names[] = {
	FLAG(SIG_BLOCK), FLAG(SIG_UNBLOCK), FLAG(SIG_SETMASK),
};

static const struct flag_name family_names[] = {
	FLAG(AF_UNSPEC), FLAG(AF_UNIX), FLAG(AF_INET), FLAG(AF_INET6),
	FLAG(AF_NETLINK), FLAG(AF_PACKET), FLAG(AF_VSOCK), FLAG(AF_ALG),
};

static const struct flag_name sock_type_names[] = {
	FLAG(SOCK_STREAM), FLAG(SOCK_DGRAM), FLAG(SOCK_RAW), FLAG(SOCK_RDM),
	FLAG(SOCK_SEQPACKET), FLAG(SOCK_DCCP), FLAG(SOCK_PACKET),
};

static const struct flag_name sock_flag_names[] = {
	FLAG(SOCK_NONBLOCK), FLAG(SOCK_CLOEXEC),
};

/* ---- single values ---- */

static void put_signal(struct linebuf *lb, long sig)
{
	/* sigabbrev_np: a constant string, no locale, no allocation. */
	const char *abbrev = (sig > 0 && sig < 32) ? sigabbrev_np((int)sig) : NULL;

	if (abbrev) {
		lb_str(lb, "SIG");
		lb_str(lb, abbrev);
	} else if (sig >= 32 && sig <= 64) {
		lb_str(lb, "SIGRT_");           /* kernel numbering, like strace */
		lb_dec(lb, sig - 32);
	} else {
		lb_dec(lb, sig);
	}
}

static void put_ptr(struct linebuf *lb, unsigned long p)
{
	if (p)
		lb_hex(lb, p);
	else
		lb_str(lb, "NULL");
}

static void put_fd(struct linebuf *lb, long fd)
{
	lb_dec(lb, (int)fd);
}

static void put_dirfd(struct linebuf *lb, long fd)
{
	if ((int)fd == AT_FDCWD)
		lb_str(lb, "AT_FDCWD");
	else
		put_fd(lb, fd);
}

/* A string argument: "quoted", cut at MAX bytes, or the pointer if unreadable. */
static void put_string(struct linebuf *lb, unsigned long addr, size_t max)
{
	char text[PATH_SHOW_MAX];
	int more;

	if (addr == 0) {
		lb_str(lb, "NULL");
		return;
	}
	if (max > sizeof(text))
		max = sizeof(text);
	long len = safe_read_string(text, addr, max, &more);
	if (len < 0)
		lb_hex(lb, addr);
	else
		lb_quoted(lb, text, (size_t)len, more);
}

/* LEN bytes of data at ADDR, the first DATA_SHOW_MAX of them. */
static void put_data(struct linebuf *lb, unsigned long addr, unsigned long len)
{
	char data[DATA_SHOW_MAX];
	size_t want = len < sizeof(data) ? len : sizeof(data);
	size_t got = safe_read(data, addr, want);

	if (got == 0 && want > 0) {
		lb_hex(lb, addr);
		return;
	}
	lb_quoted(lb, data, got, len > got);
}

static void put_open_flags(struct linebuf *lb, unsigned long flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY: lb_str(lb, "O_RDONLY"); break;
	case O_WRONLY: lb_str(lb, "O_WRONLY"); break;
	case O_RDWR:   lb_str(lb, "O_RDWR"); break;
	default:       lb_str(lb, "O_ACCMODE"); break;
	}
	flags &= ~(unsigned long)O_ACCMODE;
	if (flags) {
		lb_char(lb, '|');
		put_flags(lb, open_flag_names, COUNT_OF(open_flag_names), flags, "0");
	}
}

static int open_has_mode(unsigned long flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static void put_mmap_flags(struct linebuf *lb, unsigned long flags)
{
	put_enum(lb, map_type_names, COUNT_OF(map_type_names), (long)(flags & MAP_TYPE));
	flags &= ~(unsigned long)MAP_TYPE;
	if (flags) {
		lb_char(lb, '|');
		put_flags(lb, mmap_flag_names, COUNT_OF(mmap_flag_names), flags, "0");
	}
}

/* clone flags: named bits, then the exit signal held in the low byte. */
static void put_clone_flags(struct linebuf *lb, unsigned long flags)
{
	unsigned long exit_signal = flags & CSIGNAL;

	flags &= ~(unsigned long)CSIGNAL;
	if (flags)
		put_flags(lb, clone_flag_names, COUNT_OF(clone_flag_names), flags, "0");
	if (exit_signal) {
		if (flags)
			lb_char(lb, '|');
		put_signal(lb, (long)exit_signal);
	} else if (!flags) {
		lb_char(lb, '0');
	}
}

static void put_clone3_args(struct linebuf *lb, unsigned long addr)
{
	struct clone_args args;

	if (safe_read(&args, addr, sizeof(args)) != sizeof(args)) {
		put_ptr(lb, addr);
		return;
	}
	lb_str(lb, "{flags=");
	put_flags(lb, clone_flag_names, COUNT_OF(clone_flag_names), args.flags, "0");
	lb_str(lb, ", exit_signal=");
	put_signal(lb, (long)args.exit_signal);
	lb_str(lb, ", stack=");
	put_ptr(lb, args.stack);
	lb_str(lb, ", stack_size=");
	lb_hex(lb, args.stack_size);
	lb_char(lb, '}');
}

static void put_sock_type(struct linebuf *lb, unsigned long type)
{
	unsigned long base = type & 0xf;
	unsigned long flags = type & ~0xful;

	/* accept4 passes only SOCK_* flags: no base type then. */
	if (base || !flags)
		put_enum(lb, sock_type_names, COUNT_OF(sock_type_names), (long)base);
	if (flags) {
		if (base)
			lb_char(lb, '|');
		put_flags(lb, sock_flag_names, COUNT_OF(sock_flag_names), flags, "0");
	}
}

/* The four bytes of an IPv4 address in network order: 127.0.0.1 */
static void put_ipv4(struct linebuf *lb, const unsigned char *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			lb_char(lb, '.');
		lb_udec(lb, a[i]);
	}
}

/* An IPv6 address as eight hex groups (no "::" shortening: keep it simple). */
static void put_ipv6(struct linebuf *lb, const unsigned char *a)
{
	for (int i = 0; i < 16; i += 2) {
		if (i)
			lb_char(lb, ':');
		unsigned group = (unsigned)a[i] << 8 | a[i + 1];
		char digits[4];
		int n = 0;
		do {
			digits[n++] = "0123456789abcdef"[group & 0xf];
			group >>= 4;
		} while (group);
		while (n)
			lb_char(lb, digits[--n]);
	}
}

static void put_sockaddr(struct linebuf *lb, unsigned long addr, long len)
{
	union {
		struct sockaddr sa;
		unsigned char raw[128];
	} u;

	if (addr == 0 || len <= 0) {
		put_ptr(lb, addr);
		return;
	}
	size_t want = (unsigned long)len < sizeof(u) ? (size_t)len : sizeof(u);
	size_t got = safe_read(&u, addr, want);
	if (got < sizeof(u.sa.sa_family)) {
		lb_hex(lb, addr);
		return;
	}

	unsigned family = u.sa.sa_family;
	lb_str(lb, "{sa_family=");
	put_enum(lb, family_names, COUNT_OF(family_names), family);

	if (family == AF_INET && got >= 8) {
		/* sin_port at offset 2, sin_addr at 4, both network order */
		lb_str(lb, ", sin_port=htons(");
		lb_udec(lb, (unsigned)u.raw[2] << 8 | u.raw[3]);
		lb_str(lb, "), sin_addr=inet_addr(\"");
		put_ipv4(lb, &u.raw[4]);
		lb_str(lb, "\")");
	} else if (family == AF_INET6 && got >= 24) {
		/* sin6_port at 2, sin6_addr at 8 */
		lb_str(lb, ", sin6_port=htons(");
		lb_udec(lb, (unsigned)u.raw[2] << 8 | u.raw[3]);
		lb_str(lb, "), sin6_addr=");
		put_ipv6(lb, &u.raw[8]);
	} else if (family == AF_UNIX && got > 2) {
		/* sun_path: a string, or an abstract name starting with '\0' */
		const char *path = (const char *)&u.raw[2];
		size_t max = got - 2;
		lb_str(lb, ", sun_path=");
		if (path[0] == '\0' && max > 1) {
			lb_char(lb, '@');
			lb_quoted(lb, path + 1, max - 1, 0);
		} else {
			const char *nul = memchr(path, '\0', max);
			lb_quoted(lb, path, nul ? (size_t)(nul - path) : max, 0);
		}
	}
	lb_char(lb, '}');
}

/* execve's argv: ["ls", "-l", ...] */
static void put_argv(struct linebuf *lb, unsigned long addr)
{
	if (addr == 0) {
		lb_str(lb, "NULL");
		return;
	}
	lb_char(lb, '[');
	for (int i = 0;; i++) {
		unsigned long arg;
		if (safe_read(&arg, addr + (unsigned long)i * sizeof(arg), sizeof(arg)) != sizeof(arg)) {
			lb_str(lb, i ? ", ???" : "???");
			break;
		}
		if (arg == 0)
			break;
		if (i)
			lb_str(lb, ", ");
		if (i == ARGV_SHOW_MAX) {
			lb_str(lb, "...");
			break;
		}
		put_string(lb, arg, DATA_SHOW_MAX);
	}
	lb_char(lb, ']');
}

/* execve's envp: the pointer and how many variables, like strace. */
static void put_envp(struct linebuf *lb, unsigned long addr)
{
	put_ptr(lb, addr);
	if (addr == 0)
		return;

	unsigned long count = 0;
	unsigned long entry;
	/* Counting stops at 4096 entries: only a bound against garbage. */
	while (count < 4096 &&
	       safe_read(&entry, addr + count * sizeof(entry), sizeof(entry)) == sizeof(entry) &&
	       entry != 0)
		count++;
	lb_str(lb, " /* ");
	lb_udec(lb, count);
	lb_str(lb, count == 1 ? " var */" : " vars */");
}

/* writev's iovec array: [{iov_base="...", iov_len=5}, ...] */
static void put_iov_in(struct linebuf *lb, unsigned long addr, long count)
{
	if (addr == 0 || count <= 0) {
		put_ptr(lb, addr);
		return;
	}
	lb_char(lb, '[');
	for (long i = 0; i < count; i++) {
		struct iovec iov;
		if (i)
			lb_str(lb, ", ");
		if (i == IOV_SHOW_MAX) {
			lb_str(lb, "...");
			break;
		}
		if (safe_read(&iov, addr + (unsigned long)i * sizeof(iov), sizeof(iov)) != sizeof(iov)) {
			lb_str(lb, "???");
			break;
		}
		lb_str(lb, "{iov_base=");
		put_data(lb, (unsigned long)iov.iov_base, iov.iov_len);
		lb_str(lb, ", iov_len=");
		lb_udec(lb, iov.iov_len);
		lb_char(lb, '}');
	}
	lb_char(lb, ']');
}

/* The two ints pipe() and socketpair() fill: [3, 4] */
static void put_pipe_fds(struct linebuf *lb, unsigned long addr)
{
	int fds[2];

	if (safe_read(fds, addr, sizeof(fds)) != sizeof(fds)) {
		put_ptr(lb, addr);
		return;
	}
	lb_char(lb, '[');
	lb_dec(lb, fds[0]);
	lb_str(lb, ", ");
	lb_dec(lb, fds[1]);
	lb_char(lb, ']');
}

/* wait4's status, decoded like strace: [{WIFEXITED(s) && WEXITSTATUS(s) == 0}] */
static void put_wait_status(struct linebuf *lb, unsigned long addr)
{
	int status;

	if (addr == 0 || safe_read(&status, addr, sizeof(status)) != sizeof(status)) {
		put_ptr(lb, addr);
		return;
	}
	lb_str(lb, "[{");
	if (WIFEXITED(status)) {
		lb_str(lb, "WIFEXITED(s) && WEXITSTATUS(s) == ");
		lb_dec(lb, WEXITSTATUS(status));
	} else if (WIFSIGNALED(status)) {
		lb_str(lb, "WIFSIGNALED(s) && WTERMSIG(s) == ");
		put_signal(lb, WTERMSIG(status));
		if (WCOREDUMP(status))
			lb_str(lb, " && WCOREDUMP(s)");
	} else if (WIFSTOPPED(status)) {
		lb_str(lb, "WIFSTOPPED(s) && WSTOPSIG(s) == ");
		put_signal(lb, WSTOPSIG(status));
	} else {
		lb_hex(lb, (unsigned)status);
	}
	lb_str(lb, "}]");
}

static int is_error(long ret)
{
	return ret < 0 && ret >= -4095;
}

/*
 * Append argument I of kind KIND.  Returns 0 if the argument is left out
 * altogether (the mode of an open without O_CREAT), 1 otherwise.
 */
static int put_arg(struct linebuf *lb, enum arg_kind kind, const long *args, int i,
		   long ret, int returned)
{
	unsigned long v = (unsigned long)args[i];
	/* Output arguments are meaningful only after a successful return. */
	int filled = returned && !is_error(ret);

	switch (kind) {
	case ARG_END:
		return 0;
	case ARG_INT:        lb_dec(lb, (int)args[i]); break;
	case ARG_LONG:       lb_dec(lb, args[i]); break;
	case ARG_ULONG:      lb_udec(lb, v); break;
	case ARG_HEX:        if (v) lb_hex(lb, v); else lb_char(lb, '0'); break;
	case ARG_PTR:        put_ptr(lb, v); break;
	case ARG_FD:         put_fd(lb, args[i]); break;
	case ARG_DIRFD:      put_dirfd(lb, args[i]); break;
	case ARG_PATH:       put_string(lb, v, PATH_SHOW_MAX); break;
	case ARG_INBUF:      put_data(lb, v, (unsigned long)args[i + 1]); break;
	case ARG_OUTBUF:
		if (filled)
			put_data(lb, v, (unsigned long)ret);
		else
			put_ptr(lb, v);
		break;
	case ARG_OUTSTR:
		/* getcwd's result counts the NUL, readlink's does not: cut at NUL. */
		if (filled && ret > 0) {
			char text[PATH_SHOW_MAX];
			size_t want = (unsigned long)ret < sizeof(text) ? (size_t)ret : sizeof(text);
			size_t got = safe_read(text, v, want);
			const char *nul = memchr(text, '\0', got);
			lb_quoted(lb, text, nul ? (size_t)(nul - text) : got,
				  !nul && (unsigned long)ret > got);
		} else {
			put_ptr(lb, v);
		}
		break;
	case ARG_IOV_IN:     put_iov_in(lb, v, args[i + 1]); break;
	case ARG_OPEN_FLAGS: put_open_flags(lb, v); break;
	case ARG_OPEN_MODE:
		if (!open_has_mode((unsigned long)args[i - 1]))
			return 0;
		lb_oct(lb, v);
		break;
	case ARG_FD_FLAGS:
		put_flags(lb, open_flag_names, COUNT_OF(open_flag_names), v, "0");
		break;
	case ARG_MODE:       lb_oct(lb, v); break;
	case ARG_ACCESS_MODE:
		put_flags(lb, access_mode_names, COUNT_OF(access_mode_names), v, "F_OK");
		break;
	case ARG_AT_FLAGS:
		put_flags(lb, at_flag_names, COUNT_OF(at_flag_names), v, "0");
		break;
	case ARG_WHENCE:
		put_enum(lb, whence_names, COUNT_OF(whence_names), (int)args[i]);
		break;
	case ARG_FCNTL_CMD:
		put_enum(lb, fcntl_cmd_names, COUNT_OF(fcntl_cmd_names), (int)args[i]);
		break;
	case ARG_PROT:
		put_flags(lb, prot_names, COUNT_OF(prot_names), v, "PROT_NONE");
		break;
	case ARG_MMAP_FLAGS: put_mmap_flags(lb, v); break;
	case ARG_CLONE_FLAGS: put_clone_flags(lb, v); break;
	case ARG_CLONE3_ARGS: put_clone3_args(lb, v); break;
	case ARG_SIGNAL:     put_signal(lb, (int)args[i]); break;
	case ARG_SIGMASK_HOW:
		put_enum(lb, sigmask_how_names, COUNT_OF(sigmask_how_names), (int)args[i]);
		break;
	case ARG_FAMILY:
		put_enum(lb, family_names, COUNT_OF(family_names), (int)args[i]);
		break;
	case ARG_SOCK_TYPE:  put_sock_type(lb, v); break;
	case ARG_SOCKADDR:   put_sockaddr(lb, v, args[i + 1]); break;
	case ARG_ARGV:       put_argv(lb, v); break;
	case ARG_ENVP:       put_envp(lb, v); break;
	case ARG_PIPE_FDS:
		if (filled)
			put_pipe_fds(lb, v);
		else
			put_ptr(lb, v);
		break;
	case ARG_WAIT_STATUS:
		if (filled && ret > 0)
			put_wait_status(lb, v);
		else
			put_ptr(lb, v);
		break;
	}
	return 1;
}

static void put_call_name(struct linebuf *lb, long nr)
{
	const char *name = syscall_name(nr);

	if (name) {
		lb_str(lb, name);
	} else {
		lb_str(lb, "syscall_");
		lb_hex(lb, (unsigned long)nr);
	}
}

void trace_format_call(struct linebuf *lb, long nr, const long args[6], long ret, int returned)
{
	put_call_name(lb, nr);
	lb_char(lb, '(');

	if (nr >= 0 && (unsigned long)nr < CALL_FORMAT_COUNT && call_formats[nr].known) {
		const struct call_format *format = &call_formats[nr];
		int shown = 0;
		for (int i = 0; i < 6 && format->arg[i] != ARG_END; i++) {
			/* An argument may be left out: then rewind to MARK. */
			size_t mark = lb->len;
			if (shown)
				lb_str(lb, ", ");
			if (put_arg(lb, (enum arg_kind)format->arg[i], args, i, ret, returned))
				shown++;
			else
				lb->len = mark;
		}
	} else {
		/* Unknown to us: all six registers, raw. */
		for (int i = 0; i < 6; i++) {
			if (i)
				lb_str(lb, ", ");
			lb_hex(lb, (unsigned long)args[i]);
		}
	}
	lb_char(lb, ')');
}

void trace_format_resumed(struct linebuf *lb, long nr)
{
	lb_str(lb, "<... ");
	put_call_name(lb, nr);
	lb_str(lb, " resumed>)");
}

static int returns_address(long nr)
{
	return nr == SYS_mmap || nr == SYS_mremap || nr == SYS_brk || nr == SYS_shmat;
}

void trace_format_result(struct linebuf *lb, long nr, long ret)
{
	/* strace aligns results on column 40. */
	lb_pad_to(lb, 39);
	lb_str(lb, " = ");

	if (is_error(ret)) {
		int err = (int)-ret;
		/* Both return constant strings: no locale, no allocation. */
		const char *name = strerrorname_np(err);
		const char *desc = strerrordesc_np(err);
		lb_str(lb, "-1 ");
		if (name) {
			lb_str(lb, name);
		} else {
			lb_str(lb, "errno ");
			lb_dec(lb, err);
		}
		if (desc) {
			lb_str(lb, " (");
			lb_str(lb, desc);
			lb_char(lb, ')');
		}
	} else if (returns_address(nr)) {
		lb_hex(lb, (unsigned long)ret);
	} else {
		lb_dec(lb, ret);
	}
}

enum trace_call_end trace_call_end(long nr)
{
	switch (nr) {
	case SYS_exit:
	case SYS_exit_group:
	case SYS_rt_sigreturn:
		return TRACE_NEVER_RETURNS;
	case SYS_execve:
	case SYS_execveat:
		return TRACE_RETURNS_ON_ERROR;
	default:
		return TRACE_RETURNS;
	}
}

int trace_is_fork_like(long nr)
{
	return nr == SYS_fork || nr == SYS_vfork || nr == SYS_clone || nr == SYS_clone3;
}
