/*
 * raw.c - libc-free helpers for code on the hooked path.
 *
 * Everything here goes through zp_raw_syscall, whose `syscall` instruction
 * is never rewritten, so these helpers work before, during and after the
 * rewriting and never re-enter the hook.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zpoline.h"

size_t zp_strlen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

void zp_write_str(int fd, const char *s)
{
	size_t len = zp_strlen(s);
	while (len > 0) {
		long r = zp_raw_syscall(SYS_write, fd, (long)s, (long)len, 0, 0, 0);
		if (r == -4)  /* EINTR */
			continue;
		if (r <= 0)
			return;
		s += r;
		len -= (size_t)r;
	}
}

void zp_fmt_hex(char *out, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	out[0] = '0';
	out[1] = 'x';
	for (int i = 0; i < 16; i++)
		out[2 + i] = digits[(v >> (60 - 4 * i)) & 0xf];
	out[18] = '\0';
}

/* Print "zpoline: <msg>" and die the way a bad jump to address 0 would: by SIGSEGV. */
void zp_die(const char *msg)
{
	/* One write, so lines from several threads dying at once stay whole. */
	char line[256] = "zpoline: ";
	size_t n = zp_strlen(line);
	for (const char *p = msg; *p && n < sizeof line - 2; p++)
		line[n++] = *p;
	line[n++] = '\n';
	line[n] = '\0';
	zp_write_str(2, line);
	zp_raise_default(SIGSEGV);
	for (;;)
		zp_raw_syscall(SYS_exit_group, 128 + SIGSEGV, 0, 0, 0, 0, 0);
}

/* Send `sig` to this thread with its default action, as if no handler of
 * ours had ever been installed. */
void zp_raise_default(int sig)
{
	zp_raw_sigaction(sig, NULL, 0);
	long tid = zp_raw_syscall(SYS_gettid, 0, 0, 0, 0, 0, 0);
	long pid = zp_raw_syscall(SYS_getpid, 0, 0, 0, 0, 0, 0);
	zp_raw_syscall(SYS_tgkill, pid, tid, sig, 0, 0, 0);
}

void *zp_mmap_anon(size_t len)
{
	long r = zp_raw_syscall(SYS_mmap, 0, (long)len, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return (r < 0 && r > -4096) ? NULL : (void *)r;
}

/*
 * Install a signal handler with the raw rt_sigaction (NULL: the default
 * action).  glibc's sigaction would install glibc's restorer, which is
 * rewritten code (and outside the range Syscall User Dispatch allows); ours,
 * zp_signal_restorer, lies in libzpoline's text.
 */
int zp_raw_sigaction(int sig, void (*handler)(int, siginfo_t *, void *), unsigned long flags)
{
	struct {
		void (*handler)(int, siginfo_t *, void *);
		unsigned long flags;
		void (*restorer)(void);
		uint64_t mask;
	} act = {
		.handler = handler,
		.flags = handler ? flags | SA_SIGINFO | 0x04000000 /* SA_RESTORER */ : 0,
		.restorer = handler ? zp_signal_restorer : NULL,
		.mask = 0,
	};
	return zp_raw_syscall(SYS_rt_sigaction, sig, (long)&act, 0, 8, 0, 0) == 0 ? 0 : -1;
}

/*
 * Replace the 2-byte instruction at `site` in code that is running: make its
 * page(s) writable, store both bytes at once (no thread sees half of it),
 * and leave the code read+execute.
 */
int zp_patch_site(uint64_t site, uint16_t bytes)
{
	uint64_t page = site & ~4095ULL;
	uint64_t len = (site + 2 - page + 4095) & ~4095ULL;
	if (zp_raw_syscall(SYS_mprotect, (long)page, (long)len,
			   PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0) != 0)
		return -1;
	__atomic_store_n((uint16_t *)(uintptr_t)site, bytes, __ATOMIC_RELEASE);
	zp_raw_syscall(SYS_mprotect, (long)page, (long)len, PROT_READ | PROT_EXEC, 0, 0, 0);
	return 0;
}
