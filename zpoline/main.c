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
 * ZP_VERBOSE=1 reports what was done and what it cost.
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

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
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
			return 1;
		}
	}
	return 0;
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

__attribute__((constructor)) static void zpoline_init(void)
{
	struct timespec t0, t1, t2;
	clock_gettime(CLOCK_MONOTONIC, &t0);

	if (!dl_iterate_phdr(find_self, NULL)) {
		fprintf(stderr, "zpoline: cannot find libzpoline's own code; not hooking\n");
		return;
	}
	zp_vector_init();
	zp_env_capture(environ);
	zp_trampoline_setup();

	struct zp_rewrite_stats st = { 0 };
	if (zp_rewrite_all(&st) != 0)
		fprintf(stderr, "zpoline: cannot read /proc/self/maps; system calls are not hooked\n");
	clock_gettime(CLOCK_MONOTONIC, &t1);

	zp_hook_load();
	/*
	 * Only now: with SUD on, a system call from the hook library's own libc
	 * outside a hooked call (its init, just above) would trap, and the
	 * catch-all would rewrite the hook's libc, sending the hook into itself.
	 */
	if (env_flag("ZP_SUD") && zp_sud_setup() != 0)
		fprintf(stderr, "zpoline: ZP_SUD=1 but Syscall User Dispatch is unavailable (Linux >= 5.11 needed)\n");
	clock_gettime(CLOCK_MONOTONIC, &t2);

	if (env_flag("ZP_VERBOSE"))
		fprintf(stderr, "zpoline: rewrote %zu sites (%zu sysenter) in %zu mappings, %zu KiB decoded, "
			"in %.2f ms; %zu red-zone sites trap (int3); catch-all (SUD) %s; hook %s loaded in %.2f ms; "
			"vector state %s\n",
			st.sites, st.sysenter, st.mappings, st.bytes / 1024, elapsed_ms(&t0, &t1),
			st.redzone, zp_sud_enabled ? "on" : "off",
			getenv("LIBZPHOOK") ? getenv("LIBZPHOOK") : "(none)", elapsed_ms(&t1, &t2),
			zp_vec_save ? "saved" : "not saved (hook declared ZPHOOK_NO_VECTOR)");
}
