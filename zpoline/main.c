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
 *   6. Syscall User Dispatch, if some sites had to stay `syscall` or ZP_SUD=1
 *      (ZP_SUD=0 turns it off).
 *   7. Load the hook library in its own namespace, with rewriting paused so
 *      its libc keeps real `syscall` instructions.
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
	const char *sud_env = getenv("ZP_SUD");
	int catch_all = env_flag("ZP_SUD");
	int sud_off = sud_env && strcmp(sud_env, "0") == 0;
	if (zp_rewrite_all(&st) != 0)
		fprintf(stderr, "zpoline: cannot read /proc/self/maps; system calls are not hooked\n");
	/*
	 * Red-zone sites were left as `syscall`; SUD catches them.  Only then
	 * (or with ZP_SUD=1) is SUD turned on: it costs two stores per hooked
	 * call and takes SIGSYS.
	 */
	int sud_ok = 0;
	if (!sud_off && (st.redzone > 0 || catch_all))
		sud_ok = zp_sud_setup(catch_all) == 0;
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (catch_all && !sud_ok)
		fprintf(stderr, "zpoline: ZP_SUD=1 but Syscall User Dispatch is unavailable (Linux >= 5.11 needed)\n");
	if (st.redzone > 0 && !sud_ok)
		fprintf(stderr, "zpoline: %zu system call sites keep data in the red zone and are not hooked "
			"(Syscall User Dispatch %s)\n", st.redzone,
			sud_off ? "disabled by ZP_SUD=0" : "unavailable");

	zp_hook_load();
	clock_gettime(CLOCK_MONOTONIC, &t2);

	if (env_flag("ZP_VERBOSE"))
		fprintf(stderr, "zpoline: rewrote %zu sites (%zu sysenter) in %zu mappings, %zu KiB decoded, "
			"in %.2f ms; %zu red-zone sites via %s; hook %s loaded in %.2f ms; vector state %s\n",
			st.sites, st.sysenter, st.mappings, st.bytes / 1024, elapsed_ms(&t0, &t1),
			st.redzone, zp_sud_enabled ? "Syscall User Dispatch" : "the kernel (unhooked)",
			getenv("LIBZPHOOK") ? getenv("LIBZPHOOK") : "(none)", elapsed_ms(&t1, &t2),
			zp_vec_save ? "saved" : "not saved (hook declared ZPHOOK_NO_VECTOR)");
}
