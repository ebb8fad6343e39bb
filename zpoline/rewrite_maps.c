/*
 * rewrite_maps.c - rewriting the code of this process.
 *
 * At start-up every executable mapping in /proc/self/maps is decoded and its
 * system call instructions become `call *%rax` (ff d0): same length, so no
 * other byte moves.  Later, code that arrives through mmap/mprotect with
 * PROT_EXEC (dlopen) is rewritten by the dispatcher before it can run.
 *
 * Not rewritten: [vsyscall] (cannot be written), the trampoline and its stub,
 * libzpoline's own text (its `syscall` instructions are how calls reach the
 * kernel), shared file mappings (a write would reach the file), and - while
 * zp_rewrite_enabled is 0 - what the hook library's dlmopen maps: the hook's
 * own libc must keep its real `syscall` instructions.
 *
 * Each site is added to the site set before its bytes change, so a thread
 * that reaches it the moment it changes is already recognised.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "rewrite.h"
#include "zpoline.h"

int zp_rewrite_enabled = 1;
uint64_t zp_self_start, zp_self_end;

struct rewrite_ctx {
	struct zp_rewrite_stats *st;
	int failed;
};

static int rewrite_site(const struct zp_site *site, void *arg)
{
	struct rewrite_ctx *ctx = arg;
	uint8_t *p = (uint8_t *)(uintptr_t)site->addr;
	if (site->flags & ZP_SITE_REDZONE) {
		/*
		 * A call would overwrite a live red-zone slot.  Leave the
		 * instruction alone; Syscall User Dispatch (sud.c) catches it
		 * when it is available, otherwise it goes to the kernel unhooked.
		 */
		ctx->st->redzone++;
		return 0;
	}
	if (zp_sites_add(site->addr) != 0) {
		ctx->failed = 1;
		return 1;
	}
	/* One 2-byte store, so no thread ever sees half an instruction. */
	__atomic_store_n((uint16_t *)p, (uint16_t)0xd0ff, __ATOMIC_RELEASE);
	ctx->st->sites++;
	if (site->kind == ZP_SITE_SYSENTER)
		ctx->st->sysenter++;
	return 0;
}

int zp_rewrite_range(uint64_t start, uint64_t len, int prot, struct zp_rewrite_stats *st)
{
	if (len == 0 || zp_is_trampoline(start, start + len))
		return 0;
	if (start < zp_self_end && start + len > zp_self_start)
		return 0;
	/* Writable for the rewrite, executable throughout (other threads may run it). */
	if (zp_raw_syscall(SYS_mprotect, (long)start, (long)len,
			   PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0) != 0)
		return -1;
	struct rewrite_ctx ctx = { .st = st, .failed = 0 };
	struct zp_scan_stats scan;
	long found = zp_find_sites((const uint8_t *)(uintptr_t)start, len, start,
				   rewrite_site, &ctx, &scan);
	zp_raw_syscall(SYS_mprotect, (long)start, (long)len, prot, 0, 0, 0);
	st->mappings++;
	st->bytes += scan.bytes;
	return (found < 0 || ctx.failed) ? -1 : 0;
}

/* Read all of /proc/self/maps into an mmap'd buffer (NUL-terminated). */
static char *read_maps(size_t *size_out)
{
	size_t cap = 1 << 20;
	char *buf = zp_mmap_anon(cap);
	if (!buf)
		return NULL;
	long fd = zp_raw_syscall(SYS_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0)
		return NULL;
	size_t len = 0;
	for (;;) {
		long r = zp_raw_syscall(SYS_read, fd, (long)(buf + len), (long)(cap - 1 - len), 0, 0, 0);
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len >= cap - 1)
			break;
	}
	zp_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
	buf[len] = '\0';
	*size_out = cap;
	return buf;
}

struct mapping {
	uint64_t start, end;
	int prot;
	int shared;
	char path[64];
};

/* Parse one maps line: "start-end perms offset dev inode   path". */
static int parse_line(const char *line, struct mapping *m)
{
	char perms[5] = "";
	int path_at = 0;
	unsigned long long s, e;
	if (sscanf(line, "%llx-%llx %4s %*s %*s %*s %n", &s, &e, perms, &path_at) < 3)
		return -1;
	m->start = s;
	m->end = e;
	m->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	m->shared = perms[3] == 's';
	const char *path = path_at ? line + path_at : "";
	size_t n = strcspn(path, "\n");
	if (n >= sizeof m->path)
		n = sizeof m->path - 1;
	memcpy(m->path, path, n);
	m->path[n] = '\0';
	return 0;
}

/* Calls fn for each mapping; the maps text is read whole first, so rewriting
 * (which splits nothing: mprotect back to the same protection) is safe. */
static int for_each_mapping(int (*fn)(const struct mapping *, void *), void *arg)
{
	size_t cap;
	char *text = read_maps(&cap);
	if (!text)
		return -1;
	int rc = 0;
	for (char *line = text; *line && rc == 0;) {
		char *nl = strchr(line, '\n');
		struct mapping m;
		if (parse_line(line, &m) == 0)
			rc = fn(&m, arg);
		if (!nl)
			break;
		line = nl + 1;
	}
	munmap(text, cap);
	return rc;
}

static int rewrite_mapping(const struct mapping *m, void *arg)
{
	struct zp_rewrite_stats *st = arg;
	if (!(m->prot & PROT_EXEC) || m->shared || strcmp(m->path, "[vsyscall]") == 0)
		return 0;
	if (zp_rewrite_range(m->start, m->end - m->start, m->prot, st) != 0) {
		fprintf(stderr, "zpoline: could not rewrite %llx-%llx %s; its system calls are not hooked\n",
			(unsigned long long)m->start, (unsigned long long)m->end, m->path);
	}
	return 0;
}

int zp_rewrite_all(struct zp_rewrite_stats *st)
{
	return for_each_mapping(rewrite_mapping, st);
}

struct new_exec {
	uint64_t start, end;
	int prot;
	struct zp_rewrite_stats st;
};

/* The part of a mapping inside [start, end) that is private. */
static int rewrite_new_part(const struct mapping *m, void *arg)
{
	struct new_exec *ne = arg;
	uint64_t s = m->start > ne->start ? m->start : ne->start;
	uint64_t e = m->end < ne->end ? m->end : ne->end;
	if (s >= e || m->shared || !(m->prot & PROT_EXEC))
		return 0;
	zp_rewrite_range(s, e - s, m->prot, &ne->st);
	return 0;
}

/*
 * Called by the dispatcher after a successful mmap/mprotect that made
 * [start, start+len) executable.  /proc/self/maps tells which parts are
 * private (only those may be written) and their exact protections.
 */
void zp_rewrite_new_exec(uint64_t start, uint64_t len, int prot)
{
	(void)prot;
	if (!zp_rewrite_enabled)
		return;
	struct new_exec ne = { .start = start, .end = start + len, .prot = prot, .st = { 0 } };
	for_each_mapping(rewrite_new_part, &ne);
}
