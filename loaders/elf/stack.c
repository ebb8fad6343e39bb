/*
 * stack.c - the initial stack of a new program (see stack.h for the layout).
 *
 * Kept byte for byte like the kernel's because programs look: glibc finds
 * envp and auxv by walking past argv, some programs compute their
 * environment's extent from the string area, and AT_EXECFN / AT_RANDOM /
 * AT_PLATFORM are pointers into this very stack.
 */
#include "stack.h"

#include <elf.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>

/* Place len bytes below *p; 0 if they would fall below lo. */
static int put_down(uint64_t *p, uint64_t lo, const void *src, size_t len)
{
	if (*p < lo || *p - lo < len)
		return 0;
	*p -= len;
	memcpy((void *)*p, src, len);
	return 1;
}

int stack_build(void *base, size_t size, const struct stack_spec *spec, struct stack_layout *out)
{
	const uint64_t lo = (uint64_t)base;
	uint64_t p = lo + size;
	static const uint64_t zero;

	memset(out, 0, sizeof(*out));
	/* bprm->p = vma->vm_end - sizeof(void *): a NULL word at the top. */
	if (!put_down(&p, lo, &zero, sizeof(zero)))
		return -1;
	/* copy_string_kernel(bprm->filename), then copy_strings of envp and
	 * argv, each from its last string down, so that both read in order
	 * upwards. */
	if (!put_down(&p, lo, spec->execfn, strlen(spec->execfn) + 1))
		return -1;
	out->execfn = p;
	for (size_t i = spec->envc; i-- > 0;)
		if (!put_down(&p, lo, spec->envp[i], strlen(spec->envp[i]) + 1))
			return -1;
	for (size_t i = spec->argc; i-- > 0;)
		if (!put_down(&p, lo, spec->argv[i], strlen(spec->argv[i]) + 1))
			return -1;
	out->strings = p;

	/* create_elf_tables: p = arch_align_stack(p) (a random offset, then
	 * 16-byte alignment), the platform string, the random bytes. */
	if (p - lo < spec->pad + 16)
		return -1;
	p = (p - spec->pad) & ~15ull;
	if (spec->platform) {
		if (!put_down(&p, lo, spec->platform, strlen(spec->platform) + 1))
			return -1;
		out->platform = p;
	}
	if (!put_down(&p, lo, spec->random, sizeof(spec->random)))
		return -1;
	out->random = p;

	/* The tables: argc, argv[] + NULL, envp[] + NULL, auxv + AT_NULL,
	 * rounded down as a whole so that %rsp is 16-byte aligned
	 * (STACK_ROUND); the slack ends up between auxv and the random bytes. */
	uint64_t words = 1 + (spec->argc + 1) + (spec->envc + 1) + 2 * (spec->auxc + 1);
	if (spec->argc > size || spec->envc > size || spec->auxc > size ||
	    (p - lo) / 8 < words + 2)
		return -1;
	uint64_t sp = (p - words * 8) & ~15ull;
	uint64_t *w = (uint64_t *)sp;

	out->sp = sp;
	*w++ = spec->argc;
	out->argv = (uint64_t)w;
	uint64_t s = out->strings;
	for (size_t i = 0; i < spec->argc; i++) {
		*w++ = s;
		s += strlen((const char *)s) + 1;
	}
	*w++ = 0;
	out->envp = (uint64_t)w;
	for (size_t i = 0; i < spec->envc; i++) {
		*w++ = s;
		s += strlen((const char *)s) + 1;
	}
	*w++ = 0;
	out->auxv = (uint64_t)w;
	for (size_t i = 0; i < spec->auxc; i++) {
		uint64_t type = spec->auxv[2 * i], val = spec->auxv[2 * i + 1];
		if (type == AT_RANDOM)
			val = out->random;
		else if (type == AT_EXECFN)
			val = out->execfn;
		else if (type == AT_PLATFORM && spec->platform)
			val = out->platform;
		*w++ = type;
		*w++ = val;
	}
	*w++ = AT_NULL;
	*w++ = 0;
	return 0;
}

/* Does the pair list contain type? */
static int has_type(const uint64_t *v, size_t n, uint64_t type)
{
	for (size_t i = 0; i < n; i++)
		if (v[2 * i] == type)
			return 1;
	return 0;
}

/* The program's own value of an entry about itself; 0 if not one of those
 * (AT_FLAGS: no AT_FLAGS_PRESERVE_ARGV0, we are not binfmt_misc; AT_RANDOM
 * and AT_EXECFN are filled by stack_build). */
static int program_value(uint64_t type, const struct stack_target *t, uint64_t *val)
{
	switch (type) {
	case AT_PHDR:  *val = t->phdr; return 1;
	case AT_PHENT: *val = t->phent; return 1;
	case AT_PHNUM: *val = t->phnum; return 1;
	case AT_BASE:  *val = t->base; return 1;
	case AT_ENTRY: *val = t->entry; return 1;
	case AT_FLAGS: *val = 0; return 1;
	default: return 0;
	}
}

static int append(uint64_t *out, size_t *n, size_t cap, uint64_t type, uint64_t val)
{
	if (*n == cap)
		return -1;
	out[2 * *n] = type;
	out[2 * *n + 1] = val;
	(*n)++;
	return 0;
}

long stack_auxv(const uint64_t *own, size_t own_pairs, const struct stack_target *t,
                uint64_t *out, size_t cap)
{
	/* What the kernel always writes about the program itself, in its
	 * order, for the ones the loader's own vector might lack. */
	static const uint64_t required[] = { AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS,
	                                     AT_ENTRY, AT_RANDOM, AT_EXECFN };
	size_t n = 0;

	for (size_t i = 0; i < own_pairs && own[2 * i] != AT_NULL; i++) {
		uint64_t type = own[2 * i], val = own[2 * i + 1];
		if (type == AT_EXECFD)
			continue;   /* binfmt_misc's open fd of the loader */
		program_value(type, t, &val);   /* else AT_HWCAP, AT_UID, AT_SYSINFO_EHDR...: the same */
		if (append(out, &n, cap, type, val) != 0)
			return -1;
	}
	for (size_t k = 0; k < sizeof(required) / sizeof(required[0]); k++) {
		uint64_t type = required[k], val = 0;
		if (has_type(out, n, type))
			continue;
		program_value(type, t, &val);
		if (append(out, &n, cap, type, val) != 0)
			return -1;
	}
	return (long)n;
}

/* The kernel's stack_guard_gap: 256 pages between the stack and whatever
 * lies below, so that a large frame cannot step over the guard. */
#define STACK_GUARD (256 * 4096ull)
#define STACK_MIN   (128 * 1024ull)
/* An unlimited RLIMIT_STACK cannot be reserved up front; the kernel's own
 * stack would grow into the mmap area too.  256 MiB is plenty. */
#define STACK_MAX   (256 * 1024 * 1024ull)

void *stack_map(size_t *size, int exec)
{
	struct rlimit rl;
	uint64_t want = 8 * 1024 * 1024;

	if (getrlimit(RLIMIT_STACK, &rl) == 0)
		want = rl.rlim_cur == RLIM_INFINITY ? STACK_MAX : rl.rlim_cur;
	if (want > STACK_MAX)
		want = STACK_MAX;
	if (want < STACK_MIN)
		want = STACK_MIN;
	want = (want + 4095) & ~4095ull;

	int prot = PROT_READ | PROT_WRITE | (exec ? PROT_EXEC : 0);
	char *p = mmap(NULL, want + STACK_GUARD, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p, STACK_GUARD, PROT_NONE) != 0) {
		munmap(p, want + STACK_GUARD);
		return NULL;
	}
	*size = want;
	return p + STACK_GUARD;
}
