/*
 * getpid_zpoline.c - the timed loop, run under zpoline:
 *
 *   LD_PRELOAD=zpoline/libzpoline.so LIBZPHOOK=<hook library> getpid_zpoline
 *
 * The loop is the native one (libc's getpid); what changes is that
 * libzpoline has rewritten libc's `syscall` into `call *%rax`, so every call
 * goes through the trampoline at address 0 and the hook library.
 *
 * Checks, before the loop (the program refuses to run otherwise):
 *  - libc's getpid now reads `mov $39,%eax; call *%rax` (b8 27 00 00 00
 *    ff d0): the site was rewritten, so every getpid() necessarily calls the
 *    hook path (there is no other way out of that instruction);
 *  - page 0 (the trampoline) is mapped;
 *  - the library named by LIBZPHOOK is mapped in the process.
 * With --count-hook (hook library bench/hook/libzphook_count_getpid.so) the
 * hook also counts the getpid calls it saw and the program checks that it
 * saw every one; the pass-through hook cannot be asked, so the timed rows
 * rely on the rewrite check above.
 */
#include "getpid_loop.h"

#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Must match zphook_count_getpid.c. */
#define COUNT_QUERY_COOKIE 0x7a70636f756e74L   /* "zpcount" */

static const char *check_getpid_rewritten(void)
{
	static const uint8_t rewritten[] = { 0xb8, SYS_getpid, 0x00, 0x00, 0x00, 0xff, 0xd0 };
	static const uint8_t original[] = { 0xb8, SYS_getpid, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	uint8_t *fn = dlsym(RTLD_DEFAULT, "getpid");

	if (fn == NULL)
		return "getpid_not_found";
	for (int off = 0; off < 32; off++) {
		if (memcmp(fn + off, rewritten, sizeof(rewritten)) == 0)
			return NULL;
		if (memcmp(fn + off, original, sizeof(original)) == 0)
			return "getpid_site_not_rewritten";
	}
	return "getpid_site_not_found";
}

/* Scan /proc/self/maps: is page 0 mapped, and is a file named like `lib` mapped? */
static const char *check_maps(const char *lib)
{
	const char *base = lib ? strrchr(lib, '/') : NULL;
	int page0 = 0, lib_mapped = 0;
	char line[4096];
	FILE *maps = fopen("/proc/self/maps", "r");

	base = base ? base + 1 : lib;
	if (maps == NULL)
		return "cannot_read_maps";
	while (fgets(line, sizeof(line), maps)) {
		if (strtoul(line, NULL, 16) == 0)
			page0 = 1;
		if (base && strstr(line, base))
			lib_mapped = 1;
	}
	fclose(maps);
	if (!page0)
		return "page_0_not_mapped";
	if (!lib_mapped)
		return "hook_library_not_mapped";
	return NULL;
}

int main(int argc, char **argv)
{
	int count_hook = 0;

	if (argc > 1 && strcmp(argv[1], "--count-hook") == 0) {
		count_hook = 1;
		argv[1] = argv[0];   /* drop the flag, keep -n parsing shared */
		argc--;
		argv++;
	}

	long iters = getpid_loop_parse_iters(argc, argv, 2000000);
	pid_t pid = pid_from_proc();
	struct getpid_loop_result res = { 0 };
	const char *lib = getenv("LIBZPHOOK");
	const char *name = count_hook ? "zpoline_count" : "zpoline";
	const char *reason;

	if (lib == NULL)
		reason = "LIBZPHOOK_unset";
	else if ((reason = check_getpid_rewritten()) == NULL)
		reason = check_maps(lib);
	if (reason != NULL) {
		fprintf(stderr, "getpid_zpoline: not running under libzpoline (%s); run with "
			"LD_PRELOAD=.../zpoline/libzpoline.so LIBZPHOOK=.../hook.so\n", reason);
		return getpid_loop_report(name, &res, -1, 0, pid, reason);
	}

	getpid_loop(iters, pid, &res);
	if (!count_hook)
		return getpid_loop_report(name, &res, -1, -1, pid, NULL);

	/* Ask the counting hook; a getpid with the cookie is answered, not counted. */
	long seen = syscall(SYS_getpid, COUNT_QUERY_COOKIE);
	return getpid_loop_report(name, &res, seen, res.warmup + res.iters, pid, NULL);
}
