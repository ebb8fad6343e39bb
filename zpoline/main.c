/*
 * main.c - setting up libzpoline when it is preloaded.
 *
 * The constructor runs after the dynamic loader has mapped the program and
 * its libraries and before the program's own constructors.  The order of the
 * steps matters:
 *
 *   1. Find our own text: its `syscall` instructions are the way to the
 *      kernel and must never be rewritten (and SUD allows exactly it).
 *   2. Decide how much vector state to save (vector.c).
 *   3. Remember LD_PRELOAD/LIBZPHOOK/ZP_* so execve can carry them.
 *   4. Map the trampoline at address 0 - before any site is rewritten, since
 *      a rewritten site jumps there at once (libc's own calls, during step 5).
 *   5. Rewrite every executable mapping.  From here on the program's calls
 *      come through zp_entry and, with no hook yet, go straight to the kernel.
 *      Red-zone sites become int3 traps (redzone_trap.c).
 *   6. Load the hook library in its own namespace, with rewriting paused so
 *      its libc keeps real `syscall` instructions.
 *   7. With ZP_SUD=1, Syscall User Dispatch catches calls from code that was
 *      never rewritten (sud.c); after step 6, or the hook's own start-up
 *      calls would be caught.
 *
 * ZP_MECHANISM chooses how calls reach the hook: zpoline (the default, the
 * steps above), int3 (step 4 is skipped and step 5 makes every site
 * `int3; nop`), sud or seccomp (no steps 4 and 5: after step 6 Syscall User
 * Dispatch or a seccomp filter makes every call trap).  sigpath.c describes
 * the three signal-based ones.
 *
 * ZP_VERBOSE=1 reports what was done and what it cost.  ZP_HOOK_STACK=0
 * keeps the hook on the application's stack (thread.c explains why it
 * normally is not).
 *
 * Linked into the ELF loader (loaders/zpload), libzpoline is part of the
 * program itself: the constructor then does nothing, and the loader calls
 * zp_loader_init (loader_host.c) once it knows what it will run.
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zpoline.h"

extern char **environ;

int zp_mechanism = ZP_MECH_ZPOLINE;

static const char *const mech_names[] = {
	[ZP_MECH_ZPOLINE] = "zpoline",
	[ZP_MECH_INT3] = "int3",
	[ZP_MECH_SUD] = "sud",
	[ZP_MECH_SECCOMP] = "seccomp",
};

void zp_choose_mechanism(void)
{
	const char *v = getenv("ZP_MECHANISM");
	if (!v || !*v)
		return;
	for (size_t i = 0; i < sizeof mech_names / sizeof mech_names[0]; i++) {
		if (strcmp(v, mech_names[i]) == 0) {
			zp_mechanism = (int)i;
			return;
		}
	}
	fprintf(stderr, "zpoline: unknown ZP_MECHANISM '%s': use zpoline, int3, sud or seccomp\n", v);
	exit(2);
}

/* The first object dl_iterate_phdr reports is the program itself. */
struct self_search {
	int index;
	int in_program;  /* libzpoline is linked into the program (zpload) */
};

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct self_search *search = arg;
	int index = search->index++;
	uint64_t here = (uint64_t)(uintptr_t)zp_entry;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uint64_t start = info->dlpi_addr + ph->p_vaddr;
		uint64_t end = start + ph->p_memsz;
		if (here >= start && here < end) {
			zp_self_start = start & ~4095ULL;
			zp_self_end = (end + 4095) & ~4095ULL;
			search->in_program = index == 0;
			return 1;
		}
	}
	return 0;
}

/* 1 found (and *in_program says where), 0 not found. */
int zp_find_self(int *in_program)
{
	struct self_search search = { 0, 0 };
	int found = dl_iterate_phdr(find_self, &search);
	*in_program = search.in_program;
	return found;
}

static double elapsed_ms(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 + (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

static int env_flag(const char *name)
{
	const char *v = getenv(name);
	return v && *v && strcmp(v, "0") != 0;
}

/* The signal-based mechanisms, after the hook is loaded (its start-up calls
 * must not trap). */
static void start_trapping(void)
{
	if (zp_mechanism == ZP_MECH_SUD && zp_sud_mech_setup() != 0) {
		fprintf(stderr, "zpoline: ZP_MECHANISM=sud but Syscall User Dispatch is unavailable "
			"(Linux >= 5.11 needed)\n");
		exit(126);
	}
	if (zp_mechanism == ZP_MECH_SECCOMP && zp_seccomp_setup() != 0) {
		fprintf(stderr, "zpoline: ZP_MECHANISM=seccomp but the seccomp filter cannot be installed\n");
		exit(126);
	}
}

__attribute__((constructor)) static void zpoline_init(void)
{
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	int in_program;
	if (!zp_find_self(&in_program)) {
		fprintf(stderr, "zpoline: cannot find libzpoline's own code; not hooking\n");
		return;
	}
	/* Linked into the ELF loader: it calls zp_loader_init (loader_host.c). */
	if (in_program)
		return;
	zp_choose_mechanism();
	if (zp_mechanism != ZP_MECH_ZPOLINE)
		zp_hook = zp_sig_next;  /* until the hook library replaces it */
	zp_vector_init();
	zp_env_capture(environ);
	/* The hook's own stack for each thread; zpoline mode only (the
	 * signal-based mechanisms run the hook in their signal handler). */
	const char *hs = getenv("ZP_HOOK_STACK");
	if (zp_mechanism == ZP_MECH_ZPOLINE && !(hs && strcmp(hs, "0") == 0))
		zp_thread_init();

	struct zp_rewrite_stats st = { 0 };
	if (zp_mechanism == ZP_MECH_ZPOLINE || zp_mechanism == ZP_MECH_INT3) {
		if (zp_mechanism == ZP_MECH_ZPOLINE)
			zp_trampoline_setup();
		else if (zp_trap_install() != 0)
			fprintf(stderr, "zpoline: cannot install the SIGTRAP handler\n");
		if (zp_rewrite_all(&st) != 0)
			fprintf(stderr, "zpoline: cannot read /proc/self/maps; system calls are not hooked\n");
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);

	zp_hook_load();
	/*
	 * Only now: with SUD on, a system call from the hook library's own libc
	 * outside a hooked call (its init, just above) would trap, and the
	 * catch-all would rewrite the hook's libc, sending the hook into itself.
	 */
	if (zp_mechanism == ZP_MECH_ZPOLINE && env_flag("ZP_SUD") && zp_sud_setup() != 0)
		fprintf(stderr, "zpoline: ZP_SUD=1 but Syscall User Dispatch is unavailable (Linux >= 5.11 needed)\n");
	start_trapping();
	clock_gettime(CLOCK_MONOTONIC, &t2);

	if (!env_flag("ZP_VERBOSE"))
		return;
	const char *hook = getenv("LIBZPHOOK") ? getenv("LIBZPHOOK") : "(none)";
	switch (zp_mechanism) {
	case ZP_MECH_ZPOLINE:
		fprintf(stderr, "zpoline: mechanism zpoline: rewrote %zu sites (%zu sysenter) in %zu mappings, "
			"%zu KiB decoded, in %.2f ms; %zu red-zone sites trap (int3); catch-all (SUD) %s; "
			"hook %s loaded in %.2f ms; vector state %s; hook stacks %s\n",
			st.sites, st.sysenter, st.mappings, st.bytes / 1024, elapsed_ms(&t0, &t1),
			st.redzone, zp_sud_enabled ? "on" : "off", hook, elapsed_ms(&t1, &t2),
			zp_vec_save ? "saved" : "not saved (hook declared ZPHOOK_NO_VECTOR)",
			zp_thread_stacks ? "on" : "off (no FSGSBASE, or ZP_HOOK_STACK=0)");
		break;
	case ZP_MECH_INT3:
		fprintf(stderr, "zpoline: mechanism int3: %zu sites (%zu sysenter) became int3 in %zu mappings, "
			"%zu KiB decoded, in %.2f ms; hook %s loaded in %.2f ms\n",
			st.redzone, st.sysenter, st.mappings, st.bytes / 1024, elapsed_ms(&t0, &t1),
			hook, elapsed_ms(&t1, &t2));
		break;
	default:
		fprintf(stderr, "zpoline: mechanism %s: every system call from outside libzpoline "
			"(%#llx-%#llx) traps with SIGSYS; hook %s loaded in %.2f ms "
			"(%d code ranges in its namespace)\n",
			mech_names[zp_mechanism], (unsigned long long)zp_self_start,
			(unsigned long long)zp_self_end, hook, elapsed_ms(&t1, &t2), zp_hook_range_count());
		break;
	}
}
