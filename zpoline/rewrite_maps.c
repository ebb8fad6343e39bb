/*
 * rewrite_maps.c - rewriting the code of this process.
 *
 * At start-up every executable mapping in /proc/self/maps is decoded and its
 * system call instructions become `call *%rax` (ff d0): same length, so no
 * other byte moves.  Under ZP_MECHANISM=int3 they become `int3; nop`
 * (redzone_trap.c) instead, as red-zone sites do in zpoline mode.  Later, code that arrives through mmap/mprotect with
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

#include "func_starts.h"
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
	if ((site->flags & ZP_SITE_REDZONE) || zp_mechanism == ZP_MECH_INT3) {
		/* A call would overwrite a live red-zone slot (or the int3
		 * mechanism is in use): trap instead. */
		if (zp_trap_site_add(site->addr) == 0)
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

/*
 * Decode [start, end) (already writable) and rewrite what is found.  With a
 * table of function starts, only the functions holding the bytes 0f 05 or
 * 0f 34 are decoded, each from its start to the next function's start
 * (func_starts.c explains why that finds exactly what a full decode finds).
 */
static int rewrite_windows(uint64_t start, uint64_t end, const struct zp_func_starts *fs,
			   struct rewrite_ctx *ctx)
{
	const uint8_t *code = (const uint8_t *)(uintptr_t)start;
	uint64_t covered = start;
	int rc = 0;
	if (!fs) {
		struct zp_scan_stats scan;
		rc = zp_find_sites(code, end - start, start, rewrite_site, ctx, &scan) < 0 ? -1 : 0;
		ctx->st->bytes += scan.bytes;
		return rc;
	}
	for (uint64_t a = start; a + 1 < end; a++) {
		if (a < covered || code[a - start] != 0x0f ||
		    (code[a - start + 1] != 0x05 && code[a - start + 1] != 0x34))
			continue;
		long i = zp_func_find(fs, a);
		uint64_t wstart = i >= 0 ? zp_func_start_at(fs, (size_t)i) : start;
		uint64_t wend = (size_t)(i + 1) < fs->count ? zp_func_start_at(fs, (size_t)(i + 1)) : end;
		if (wstart < covered)
			wstart = covered;
		if (wend > end || wend <= a)
			wend = end;
		struct zp_scan_stats scan;
		if (zp_find_sites(code + (wstart - start), wend - wstart, wstart,
				  rewrite_site, ctx, &scan) < 0)
			rc = -1;
		ctx->st->bytes += scan.bytes;
		covered = wend;
	}
	return rc;
}

static int rewrite_part(const struct zp_map *maps, size_t n, const struct zp_map *m,
			uint64_t start, uint64_t end, struct zp_rewrite_stats *st)
{
	if (start >= end || zp_is_trampoline(start, end))
		return 0;
	if (start < zp_self_end && end > zp_self_start)
		return 0;
	/* Writable for the rewrite, executable throughout (other threads may run it). */
	if (zp_raw_syscall(SYS_mprotect, (long)start, (long)(end - start),
			   PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0) != 0)
		return -1;
	struct zp_func_starts fs;
	int have_fs = (m->path[0] == '/' || strcmp(m->path, "[vdso]") == 0) &&
		      zp_func_starts(maps, n, m, &fs) == 0;
	struct rewrite_ctx ctx = { .st = st, .failed = 0 };
	int rc = rewrite_windows(start, end, have_fs ? &fs : NULL, &ctx);
	zp_raw_syscall(SYS_mprotect, (long)start, (long)(end - start), m->prot, 0, 0, 0);
	st->mappings++;
	return (rc < 0 || ctx.failed) ? -1 : 0;
}

/* Read /proc/self/maps into an array of struct zp_map (mmap'd). */
struct maps {
	struct zp_map *v;
	size_t n, cap;
};

/* Parse one maps line: "start-end perms offset dev inode   path". */
static int parse_line(const char *line, struct zp_map *m)
{
	char perms[5] = "";
	int path_at = 0;
	unsigned long long s, e, off;
	if (sscanf(line, "%llx-%llx %4s %llx %*s %*s %n", &s, &e, perms, &off, &path_at) < 4)
		return -1;
	m->start = s;
	m->end = e;
	m->offset = off;
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

static int read_maps(struct maps *out)
{
	size_t cap = 1 << 20;
	char *buf = zp_mmap_anon(cap);
	if (!buf)
		return -1;
	long fd = zp_raw_syscall(SYS_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC, 0, 0, 0);
	if (fd < 0) {
		munmap(buf, cap);
		return -1;
	}
	size_t len = 0;
	for (;;) {
		long r = zp_raw_syscall(SYS_read, fd, (long)(buf + len), (long)(cap - 1 - len), 0, 0, 0);
		if (r <= 0 || (len += (size_t)r) >= cap - 1)
			break;
	}
	zp_raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
	buf[len] = '\0';
	size_t lines = 1;
	for (size_t i = 0; i < len; i++)
		lines += buf[i] == '\n';
	out->cap = lines;
	out->n = 0;
	out->v = zp_mmap_anon(lines * sizeof *out->v);
	if (!out->v) {
		munmap(buf, cap);
		return -1;
	}
	for (char *line = buf; *line;) {
		char *nl = strchr(line, '\n');
		if (out->n < out->cap && parse_line(line, &out->v[out->n]) == 0)
			out->n++;
		if (!nl)
			break;
		line = nl + 1;
	}
	munmap(buf, cap);
	return 0;
}

static void free_maps(struct maps *mp)
{
	munmap(mp->v, mp->cap * sizeof *mp->v);
}

int zp_rewrite_all(struct zp_rewrite_stats *st)
{
	struct maps mp;
	if (read_maps(&mp) != 0)
		return -1;
	for (size_t i = 0; i < mp.n; i++) {
		const struct zp_map *m = &mp.v[i];
		if (!(m->prot & PROT_EXEC) || m->shared || strcmp(m->path, "[vsyscall]") == 0)
			continue;
		if (rewrite_part(mp.v, mp.n, m, m->start, m->end, st) != 0)
			fprintf(stderr, "zpoline: could not rewrite %llx-%llx %s; its system calls are not hooked\n",
				(unsigned long long)m->start, (unsigned long long)m->end, m->path);
	}
	free_maps(&mp);
	return 0;
}

/*
 * Called by the dispatcher after a successful mmap/mprotect that made
 * [start, start+len) executable.  /proc/self/maps tells which parts are
 * private (only those may be written), their protections, and the file
 * they come from (for the table of function starts).
 */
void zp_rewrite_new_exec(uint64_t start, uint64_t len)
{
	struct zp_rewrite_stats st = { 0 };
	zp_rewrite_range(start, len, &st);
}

/* The same for a range the ELF loader mapped (loader_host.c). */
int zp_rewrite_range(uint64_t start, uint64_t len, struct zp_rewrite_stats *st)
{
	if (!zp_rewrite_enabled)
		return 0;
	struct maps mp;
	if (read_maps(&mp) != 0)
		return -1;
	int r = 0;
	for (size_t i = 0; i < mp.n; i++) {
		const struct zp_map *m = &mp.v[i];
		uint64_t s = m->start > start ? m->start : start;
		uint64_t e = m->end < start + len ? m->end : start + len;
		if (s < e && !m->shared && (m->prot & PROT_EXEC) && rewrite_part(mp.v, mp.n, m, s, e, st) != 0)
			r = -1;
	}
	free_maps(&mp);
	return r;
}
