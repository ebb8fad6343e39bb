/*
 * hookload.c - loading the hook library named by LIBZPHOOK.
 *
 * dlmopen(LM_ID_NEWLM) gives the hook a namespace of its own with its own
 * copy of libc.  That copy is mapped while zp_rewrite_enabled is 0, so its
 * `syscall` instructions stay real: a hook can call printf or malloc without
 * coming back into itself.
 *
 * The library either exports zphook_init (the exitless ABI, zphook.h) or
 * upstream zpoline's __hook_init(long placeholder, void *hook_fn_ptr), where
 * *hook_fn_ptr holds the function performing the real call and the library
 * replaces it with its hook.  Binary-compatible: existing hook libraries
 * built for upstream zpoline run unchanged.
 *
 * In the signal-based mechanisms the hook's next is zp_sig_next, and the
 * code ranges of the hook's namespace are recorded after its init: the
 * handlers tell the hook's own system calls from the application's by them
 * (seccomp.c, sud.c).
 */
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "../hooklib/hook_init.h"
#include "zpoline.h"

void (*zp_hook_ctype_init)(void);

static __thread void *thread_slot_value __attribute__((tls_model("initial-exec")));
static unsigned declared_flags;

static void **thread_slot(void)
{
	return &thread_slot_value;
}

static void set_flags(unsigned flags)
{
	declared_flags |= flags;
}

static const char *app_getenv(const char *name)
{
	return getenv(name);  /* our namespace's libc: the application's environment */
}

static struct zphook_api api = {
	.version = ZPHOOK_API_VERSION,
	.next = zp_next,  /* zp_sig_next in the signal-based mechanisms */
	.thread_slot = thread_slot,
	.set_flags = set_flags,
	.getenv = app_getenv,
	.export_env = zp_env_export,
};

static _Noreturn void load_failed(const char *path, const char *why)
{
	fprintf(stderr, "zpoline: cannot load hook library %s: %s (check LIBZPHOOK)\n", path, why);
	exit(127);
}

/*
 * Executable PT_LOAD ranges of a shared object loaded at `base`: shared
 * objects are linked at 0, so their ELF header (and the program headers
 * right after it) are mapped at l_addr.
 */
static void add_exec_ranges(uint64_t base, void (*add)(uint64_t, uint64_t))
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)(uintptr_t)base;
	if (!base || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return;
	const ElfW(Phdr) *ph = (const ElfW(Phdr) *)(uintptr_t)(base + eh->e_phoff);
	for (int i = 0; i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && (ph[i].p_flags & PF_X))
			add((base + ph[i].p_vaddr) & ~4095ULL,
			    (base + ph[i].p_vaddr + ph[i].p_memsz + 4095) & ~4095ULL);
}

/*
 * Walk the hook namespace's link map.  ld.so is in it too but is shared with
 * the application (same mapping), and so may be the vDSO: both are left
 * out, ld.so is recorded on its own.
 */
static void record_hook_ranges(void *lib)
{
	struct link_map *lm = NULL;
	if (dlinfo(lib, RTLD_DI_LINKMAP, &lm) != 0 || !lm)
		return;
	while (lm->l_prev)
		lm = lm->l_prev;
	uint64_t ldso = getauxval(AT_BASE), vdso = getauxval(AT_SYSINFO_EHDR);
	for (; lm; lm = lm->l_next) {
		uint64_t base = (uint64_t)lm->l_addr;
		if (base == ldso || base == vdso)
			continue;
		add_exec_ranges(base, zp_hook_range_add);
	}
	add_exec_ranges(ldso, zp_ldso_range_set);
}

void zp_hook_load(void)
{
	const char *path = getenv("LIBZPHOOK");
	if (zp_mechanism != ZP_MECH_ZPOLINE)
		api.next = zp_sig_next;
	const char *force = getenv("ZP_SAVE_VECTOR");
	if (!path || !*path) {
		/* No hook: every call goes straight through zp_next, which is
		 * general-purpose-register code. */
		zp_vec_save = force && strcmp(force, "0") != 0;
		return;
	}

	zp_rewrite_enabled = 0;
	void *lib = dlmopen(LM_ID_NEWLM, path, RTLD_NOW | RTLD_LOCAL);
	zp_rewrite_enabled = 1;
	if (!lib)
		load_failed(path, dlerror());
	/*
	 * glibc sets a thread's ctype table pointers (TLS) in start_thread,
	 * but only for the libc that made the thread: the hook namespace's
	 * copy never does it for threads made by the program's libc, and its
	 * printf("%f") or toupper() there would read NULL.  New threads call
	 * it on their way in (sigpath.c, loader_host.c).
	 */
	zp_hook_ctype_init = (void (*)(void))dlsym(lib, "__ctype_init");

	zphook_fn hook = api.next;
	int exitless_abi;
	char why[64];
	zp_rewrite_enabled = 0;  /* the hook may dlopen more from its namespace */
	const char *failure = zphook_start(lib, &api, &hook, &exitless_abi, why, sizeof why);
	zp_rewrite_enabled = 1;
	if (zp_mechanism != ZP_MECH_ZPOLINE)
		record_hook_ranges(lib);
	if (failure)
		load_failed(path, failure);
	/* Upstream hooks cannot declare anything: assume they use vectors. */
	zp_vec_save = !(exitless_abi && (declared_flags & ZPHOOK_NO_VECTOR)) || (force && strcmp(force, "0") != 0);
	__atomic_store_n(&zp_hook, hook, __ATOMIC_RELEASE);
}
