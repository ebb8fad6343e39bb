/*
 * loader_calls.c - the calls the loader answers for the program it loaded
 * (loader_host.c says why there are two worlds in one process).
 *
 * The hook sees every call exactly as the program made it; only on the way
 * to the kernel (next) are these answered here instead:
 *
 *   arch_prctl(ARCH_SET_FS/GET_FS)  the program's thread pointer lives in
 *       its block (thread.c) while the hook runs; entry.S loads it on the
 *       way out.  Setting the real %fs here would give the hook world the
 *       program's TCB.
 *   brk  the kernel's program break follows zpload's binary and zpload's
 *       malloc uses it: two libcs moving one break would free each other's
 *       memory.  The program gets a break of its own after its highest
 *       segment, kept with anonymous mappings, with the kernel's rules
 *       (brk(0) or a value below the start returns the current break, a
 *       failure returns it unchanged).
 *   /proc/self/exe  names zpload; readlink, open, stat and access of it (or
 *       of /proc/<our pid>/exe, /proc/thread-self/exe) are given the
 *       program's path (lstat still sees the link).  busybox re-executes
 *       itself through it.
 *   execve  the next program is loaded by zpload too, so it is hooked from
 *       its first instruction whether it is static or dynamic.  The checks
 *       the kernel would make first (exists, executable, not a directory,
 *       ELF or #!) are made here, so that a shell searching $PATH still
 *       gets ENOENT/EACCES/ENOEXEC from a failed execve instead of a
 *       started loader that fails.
 *   rt_sigaction  the program's handlers are entered through
 *       zp_loader_sighandler (loader_sig.S), which gives them the program's
 *       thread pointer if the signal interrupted the hook; the program
 *       reads back its own handler.
 *
 * On the hook's path: built with -mgeneral-regs-only, no libc.
 */
#include <asm/prctl.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "zpoline.h"

#define PATH_CAP 4096
#define E_PERM 1
#define E_NOENT 2
#define E_FAULT 14
#define E_ACCES 13
#define E_INVAL 22
#define E_NOEXEC 8
#define E_NAMETOOLONG 36

static char exe_path[PATH_CAP];
static long exe_len;
static char loader_path[PATH_CAP];

static long copy_str(char *dst, const char *src, long cap)
{
	long n = 0;
	while (src[n] && n < cap - 1) {
		dst[n] = src[n];
		n++;
	}
	dst[n] = '\0';
	return n;
}

void zp_loader_paths(const char *exe, const char *loader)
{
	exe_len = copy_str(exe_path, exe, PATH_CAP);
	copy_str(loader_path, loader, PATH_CAP);
}

static int same(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static int starts(const char *s, const char *prefix, const char **rest)
{
	while (*prefix && *s == *prefix)
		s++, prefix++;
	if (*prefix)
		return 0;
	*rest = s;
	return 1;
}

/* Does path name our own executable through /proc? */
static int is_self_exe(const char *path)
{
	const char *rest;
	if (!path || !starts(path, "/proc/", &rest))
		return 0;
	if (same(rest, "self/exe") || same(rest, "thread-self/exe"))
		return 1;
	long pid = zp_raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	long n = 0;
	const char *p = rest;
	while (*p >= '0' && *p <= '9')
		n = n * 10 + (*p++ - '0');
	return p != rest && n == pid && same(p, "/exe");
}

/* ---- the program break ---- */

static uint64_t brk_start, brk_cur, brk_mapped;
static int brk_lock;

void zp_loader_brk_init(uint64_t start)
{
	brk_start = brk_cur = brk_mapped = (start + 4095) & ~4095ULL;
}

static long program_brk(uint64_t want)
{
	while (__atomic_exchange_n(&brk_lock, 1, __ATOMIC_ACQUIRE))
		;
	if (want >= brk_start) {
		uint64_t end = (want + 4095) & ~4095ULL;
		int ok = 1;
		if (end > brk_mapped) {
			long m = zp_raw_syscall(SYS_mmap, (long)brk_mapped, (long)(end - brk_mapped),
						PROT_READ | PROT_WRITE,
						MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
			ok = (uint64_t)m == brk_mapped;
			if (!ok && !(m < 0 && m > -4096))  /* an old kernel placed it elsewhere */
				zp_raw_syscall(SYS_munmap, m, (long)(end - brk_mapped), 0, 0, 0, 0);
		} else if (end < brk_mapped) {
			zp_raw_syscall(SYS_munmap, (long)end, (long)(brk_mapped - end), 0, 0, 0, 0);
		}
		if (ok) {
			brk_mapped = end;
			brk_cur = want;
		}
	}
	long r = (long)brk_cur;
	__atomic_store_n(&brk_lock, 0, __ATOMIC_RELEASE);
	return r;
}

/* ---- the thread pointer ---- */

static int thread_pointer(long code, long addr, long *result)
{
	struct zp_thread *t = zp_thread_self();
	if (!t || !t->hook_fs)
		return 0;
	switch (code) {
	case ARCH_SET_FS:
		/* The kernel refuses non-canonical or kernel addresses. */
		*result = (uint64_t)addr >= 0x00007ffffffff000ULL ? -E_PERM : 0;
		if (*result == 0)
			t->app_fs = (uint64_t)addr;
		return 1;
	case ARCH_GET_FS:
		if (!addr) {
			*result = -E_FAULT;
			return 1;
		}
		*(uint64_t *)addr = t->app_fs;
		*result = 0;
		return 1;
	default:
		return 0;
	}
}

/* ---- /proc/self/exe ---- */

static long read_link(long buf, long size)
{
	if (size <= 0)
		return -E_INVAL;
	long n = exe_len < size ? exe_len : size;
	char *out = (char *)buf;
	for (long i = 0; i < n; i++)
		out[i] = exe_path[i];
	return n;
}

/* ---- execve through the loader ---- */

/* What the kernel would say before loading anything: 0, or -errno. */
static long exec_precheck(const char *path)
{
	long fd = zp_raw_syscall(SYS_openat, AT_FDCWD, (long)path, O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return fd;
	struct stat st;
	long r = zp_raw_syscall(SYS_fstat, fd, (long)&st, 0, 0, 0, 0);
	if (r == 0 && !S_ISREG(st.st_mode))
		r = -E_ACCES;
	if (r == 0)
		r = zp_raw_syscall(SYS_faccessat2, AT_FDCWD, (long)path, X_OK, AT_EACCESS, 0, 0);
	if (r == 0) {
		unsigned char head[4] = { 0 };
		long n = zp_raw_syscall(SYS_read, fd, (long)head, 4, 0, 0, 0);
		int elf = n == 4 && head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F';
		int script = n >= 2 && head[0] == '#' && head[1] == '!';
		if (!elf && !script)
			r = -E_NOEXEC;
	}
	zp_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
	return r;
}

/*
 * execveat with a directory fd: the loader opens the path after the exec,
 * when a close-on-exec dirfd is gone, so make it absolute now through
 * /proc/self/fd.  AT_EMPTY_PATH (fexecve) names the fd's own file.
 */
static long absolute_path(long dirfd, const char *path, long flags, char *out)
{
	char link[32] = "/proc/self/fd/";
	long n = 14;
	char digits[20];
	long d = 0;
	unsigned long v = (unsigned long)dirfd;
	do
		digits[d++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (d > 0)
		link[n++] = digits[--d];
	link[n] = '\0';
	long len = zp_raw_syscall(SYS_readlink, (long)link, (long)out, PATH_CAP - 1, 0, 0, 0);
	if (len < 0)
		return len;
	out[len] = '\0';
	if ((flags & AT_EMPTY_PATH) && path[0] == '\0')
		return 0;
	if (len + 1 + zp_strlen(path) >= PATH_CAP)
		return -E_NAMETOOLONG;
	out[len++] = '/';
	copy_str(out + len, path, PATH_CAP - len);
	return 0;
}

static long exec_through_loader(long nr, long a1, long a2, long a3, long a4, long a5)
{
	const char *path = (const char *)(nr == SYS_execve ? a1 : a2);
	char *const *argv = (char *const *)(nr == SYS_execve ? a2 : a3);
	long envp = nr == SYS_execve ? a3 : a4;
	char abs[PATH_CAP];
	if (!path)
		return -E_FAULT;
	int via_fd = nr == SYS_execveat && path[0] != '/' && (a1 != AT_FDCWD || (a5 & AT_EMPTY_PATH));
	if (via_fd) {
		long r = absolute_path(a1, path, a5, abs);
		if (r < 0)
			return r;
		path = abs;
	}
	if (is_self_exe(path))
		path = exe_path;
	long r = exec_precheck(path);
	/*
	 * A file with no path to open again after the exec (fexecve of a
	 * memfd or of a deleted file): run it as asked, unhooked, rather than
	 * fail a call the kernel would carry out.
	 */
	if (r < 0 && via_fd)
		return zp_execve_with_env(nr, a1, a2, a3, a4, a5, 0);
	if (r < 0)
		return r;
	long argc = 0;
	while (argv && argv[argc])
		argc++;
	/*
	 * zpload --argv0 ARGV0 -- PATH ARGV[1..].  On our stack when it fits:
	 * a vfork child's mapping would stay behind in its parent after the
	 * exec (they share memory).
	 */
	long slots = argc + 6;
	const char *small[64];
	const char **nargv = small;
	if (slots > (long)(sizeof small / sizeof small[0]))
		nargv = zp_mmap_anon((size_t)slots * sizeof *nargv);
	if (!nargv)
		return -12;  /* ENOMEM */
	long k = 0;
	nargv[k++] = loader_path;
	nargv[k++] = "--argv0";
	nargv[k++] = argc > 0 ? argv[0] : "";
	nargv[k++] = "--";
	nargv[k++] = path;
	for (long i = 1; i < argc; i++)
		nargv[k++] = argv[i];
	nargv[k] = NULL;
	r = zp_execve_with_env(SYS_execve, (long)loader_path, (long)nargv, envp, 0, 0, 0);
	if (nargv != small)
		zp_raw_syscall(SYS_munmap, (long)nargv, slots * (long)sizeof *nargv, 0, 0, 0, 0);
	return r;
}

/* ---- signal handlers ---- */

uint64_t zp_app_handlers[65];
static uint64_t app_flags[65];

struct kernel_sigaction {
	uint64_t handler, flags, restorer, mask;
};

static long program_sigaction(long sig, long act, long oact, long size)
{
	if (sig < 1 || sig > 64)
		return zp_raw_syscall(SYS_rt_sigaction, sig, act, oact, size, 0, 0);
	uint64_t prev = zp_app_handlers[sig], prev_flags = app_flags[sig];
	struct kernel_sigaction copy;
	long pass = act;
	if (act) {
		copy = *(const struct kernel_sigaction *)act;
		if (copy.handler > 1) {  /* neither SIG_DFL nor SIG_IGN */
			zp_app_handlers[sig] = copy.handler;
			app_flags[sig] = copy.flags;
			copy.handler = (uint64_t)(uintptr_t)zp_loader_sighandler;
			copy.flags |= SA_SIGINFO;
			pass = (long)&copy;
		}
	}
	long r = zp_raw_syscall(SYS_rt_sigaction, sig, pass, oact, size, 0, 0);
	if (r != 0 && pass != act) {
		zp_app_handlers[sig] = prev;
		app_flags[sig] = prev_flags;
	}
	if (r == 0 && oact) {
		struct kernel_sigaction *o = (struct kernel_sigaction *)oact;
		if (o->handler == (uint64_t)(uintptr_t)zp_loader_sighandler) {
			o->handler = prev;
			o->flags = prev_flags;
		}
	}
	return r;
}

/* ---- threads ---- */

/* The application thread is calling exit: its shadow may end (loader_host.c). */
void zp_loader_thread_release(struct zp_thread *t)
{
	struct zp_shadow *s = t->shadow;
	t->shadow = NULL;
	__atomic_store_n(&s->release, 1, __ATOMIC_RELEASE);
	zp_raw_syscall(SYS_futex, (long)&s->release, FUTEX_WAKE_PRIVATE, 1, 0, 0, 0);
}

int zp_loader_call(long nr, long a1, long a2, long a3, long a4, long a5, long a6, long *result)
{
	(void)a6;
	switch (nr) {
	case SYS_arch_prctl:
		return thread_pointer(a1, a2, result);
	case SYS_brk:
		*result = program_brk((uint64_t)a1);
		return 1;
	case SYS_rt_sigaction:
		*result = program_sigaction(a1, a2, a3, a4);
		return 1;
	case SYS_execve:
	case SYS_execveat:
		*result = exec_through_loader(nr, a1, a2, a3, a4, a5);
		return 1;
	case SYS_readlink:
		if (!is_self_exe((const char *)a1))
			return 0;
		*result = read_link(a2, a3);
		return 1;
	case SYS_readlinkat:
		if (!is_self_exe((const char *)a2))
			return 0;
		*result = read_link(a3, a4);
		return 1;
	/* lstat and AT_SYMLINK_NOFOLLOW see the link itself, as natively. */
	case SYS_open:
	case SYS_stat:
	case SYS_access:
		if (!is_self_exe((const char *)a1))
			return 0;
		*result = zp_raw_syscall(nr, (long)exe_path, a2, a3, a4, a5, a6);
		return 1;
	case SYS_newfstatat:
	case SYS_statx:
		if ((nr == SYS_newfstatat ? a4 : a3) & AT_SYMLINK_NOFOLLOW)
			return 0;
		/* fall through */
	case SYS_openat:
	case SYS_faccessat:
	case SYS_faccessat2:
		if (!is_self_exe((const char *)a2))
			return 0;
		*result = zp_raw_syscall(nr, a1, (long)exe_path, a3, a4, a5, a6);
		return 1;
	default:
		return 0;
	}
}
