/*
 * env_follow.c - the hook follows execve.
 *
 * A program started under the hook stays hooked after execve only if the
 * new image gets LD_PRELOAD (and LIBZPHOOK and the ZP_* settings) again.
 * Programs often pass an environment of their own (env -i, sudo, daemons
 * that sanitise it), so at execve we complete the envp the application
 * passes: every carried variable that is missing is appended, and an
 * LD_PRELOAD that no longer names libzpoline gets it put in front.  The
 * kernel copies the strings during execve, so the new array can live on
 * this stack (or, for huge environments, in a fresh mapping).
 *
 * On the hooked path: no libc, general-purpose registers only.
 */
#include <sys/mman.h>
#include <sys/syscall.h>

#include "zpoline.h"

#define CARRY_MAX 16
#define CARRY_LEN 1024
#define STACK_ENVP_MAX 512

static char carried[CARRY_MAX][CARRY_LEN];  /* "NAME=VALUE" */
static int ncarried;
static int preload_slot = -1;               /* index of LD_PRELOAD in carried */

static size_t name_len(const char *kv)
{
	size_t n = 0;
	while (kv[n] && kv[n] != '=')
		n++;
	return n;
}

static int same_name(const char *a, const char *b)
{
	size_t n = name_len(a);
	if (n != name_len(b))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

static int contains(const char *s, const char *sub)
{
	size_t n = zp_strlen(sub);
	for (; *s; s++) {
		size_t i = 0;
		while (i < n && s[i] == sub[i])
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

static int carry(const char *name, const char *value)
{
	size_t nl = zp_strlen(name), vl = zp_strlen(value);
	if (nl + 1 + vl + 1 > CARRY_LEN)
		return -1;
	int slot = ncarried;
	for (int i = 0; i < ncarried; i++)
		if (same_name(carried[i], name))
			slot = i;
	if (slot == CARRY_MAX)
		return -1;
	char *kv = carried[slot];
	for (size_t i = 0; i < nl; i++)
		kv[i] = name[i];
	kv[nl] = '=';
	for (size_t i = 0; i < vl; i++)
		kv[nl + 1 + i] = value[i];
	kv[nl + 1 + vl] = '\0';
	if (slot == ncarried)
		ncarried++;
	return slot;
}

void zp_env_capture(char **envp)
{
	for (char **e = envp; e && *e; e++) {
		const char *kv = *e;
		int ours = (kv[0] == 'Z' && kv[1] == 'P' && kv[2] == '_');
		int preload = same_name(kv, "LD_PRELOAD=") && contains(kv, "libzpoline");
		if (!ours && !preload && !same_name(kv, "LIBZPHOOK="))
			continue;
		char name[CARRY_LEN];
		size_t n = name_len(kv);
		if (n >= sizeof name)
			continue;
		for (size_t i = 0; i < n; i++)
			name[i] = kv[i];
		name[n] = '\0';
		int slot = carry(name, kv + n + 1);
		if (preload && slot >= 0)
			preload_slot = slot;
	}
}

int zp_env_export(const char *name, const char *value)
{
	return carry(name, value) < 0 ? -1 : 0;
}

/* Fill out[] from envp plus what is missing; returns the count written. */
static size_t complete_env(char *const *envp, const char **out, size_t cap, char *preload_buf)
{
	size_t n = 0;
	int present[CARRY_MAX] = { 0 };
	for (char *const *e = envp; e && *e && n + 1 < cap; e++) {
		const char *kv = *e;
		for (int i = 0; i < ncarried; i++) {
			if (!same_name(kv, carried[i]))
				continue;
			present[i] = 1;
			if (i == preload_slot && !contains(kv, "libzpoline")) {
				/* "LD_PRELOAD=" ours ":" theirs */
				const char *ours = carried[i];
				size_t len = 0;
				while (ours[len] && len < CARRY_LEN * 2 - 2)
					preload_buf[len] = ours[len], len++;
				preload_buf[len++] = ':';
				for (const char *t = kv + name_len(kv) + 1; *t && len < CARRY_LEN * 2 - 1; t++)
					preload_buf[len++] = *t;
				preload_buf[len] = '\0';
				kv = preload_buf;
			}
		}
		out[n++] = kv;
	}
	for (int i = 0; i < ncarried && n + 1 < cap; i++)
		if (!present[i])
			out[n++] = carried[i];
	out[n] = NULL;
	return n;
}

long zp_execve_with_env(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	char *const *envp = (char *const *)(nr == SYS_execve ? a3 : a4);
	if (ncarried == 0)
		return zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
	size_t envc = 0;
	while (envp && envp[envc])
		envc++;
	size_t cap = envc + CARRY_MAX + 1;
	char preload_buf[CARRY_LEN * 2];
	const char *small[STACK_ENVP_MAX];
	const char **out = small;
	void *mapped = NULL;
	if (cap > STACK_ENVP_MAX) {
		mapped = zp_mmap_anon(cap * sizeof *out);
		if (!mapped)  /* cannot complete it: run as asked rather than fail */
			return zp_raw_syscall(nr, a1, a2, a3, a4, a5, a6);
		out = mapped;
	}
	complete_env(envp, out, cap, preload_buf);
	long r = nr == SYS_execve ? zp_raw_syscall(nr, a1, a2, (long)out, a4, a5, a6)
				  : zp_raw_syscall(nr, a1, a2, a3, (long)out, a5, a6);
	if (mapped)
		zp_raw_syscall(SYS_munmap, (long)mapped, (long)(cap * sizeof *out), 0, 0, 0, 0);
	return r;
}
