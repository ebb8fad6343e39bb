/*
 * stack.h - the initial process stack of a new program, laid out exactly as
 * Linux's create_elf_tables (fs/binfmt_elf.c) and do_execveat_common
 * (fs/exec.c) leave it.  From the top of the stack down:
 *
 *   8 zero bytes                     (bprm->p starts one pointer below the top)
 *   the exec file name string        AT_EXECFN points here
 *   environment strings, then argument strings (argv[0] lowest)
 *   [pad bytes, then down to 16-byte alignment: arch_align_stack]
 *   the platform string "x86_64"     AT_PLATFORM
 *   16 random bytes                  AT_RANDOM
 *   [padding so that %rsp ends 16-byte aligned]
 *   auxv pairs ... AT_NULL, 0
 *   NULL, envp[envc - 1] ... envp[0]
 *   NULL, argv[argc - 1] ... argv[0]
 *   argc                             <- %rsp
 *
 * stack_build is pure: it writes into a caller-provided region and computes
 * addresses as the region's own, so a unit test can walk the result.
 */
#ifndef EXITLESS_ELF_STACK_H
#define EXITLESS_ELF_STACK_H

#include <stddef.h>
#include <stdint.h>

struct stack_spec {
	char *const *argv;        /* argc strings */
	size_t argc;
	char *const *envp;        /* envc strings */
	size_t envc;
	const char *execfn;       /* AT_EXECFN: the path as given to execve */
	const char *platform;     /* AT_PLATFORM string, or NULL for none */
	uint8_t random[16];       /* AT_RANDOM bytes */
	const uint64_t *auxv;     /* auxc (type, value) pairs, AT_NULL not included;
	                           * the values of AT_RANDOM, AT_EXECFN and
	                           * AT_PLATFORM are replaced by the addresses of
	                           * what stack_build places */
	size_t auxc;
	size_t pad;               /* bytes below the strings before aligning
	                           * (the kernel's random arch_align_stack) */
};

struct stack_layout {
	uint64_t sp;              /* the initial %rsp: argc is here */
	uint64_t argv, envp, auxv;
	uint64_t strings;         /* argv[0]'s string: the lowest string */
	uint64_t execfn, platform, random;
};

/*
 * Build the stack in [base, base + size).  Returns 0, or -1 if it does not
 * fit (E2BIG).  base + size should be page aligned (a stack top).
 */
int stack_build(void *base, size_t size, const struct stack_spec *spec, struct stack_layout *out);

/* What the new program's auxiliary vector says about the program itself. */
struct stack_target {
	uint64_t phdr, phent, phnum;   /* its program headers in memory */
	uint64_t base;                 /* the interpreter's load address, or 0 */
	uint64_t entry;                /* the program's entry (not the interpreter's) */
};

/*
 * The new program's auxv from the loader's own (own: pairs as in
 * /proc/self/auxv, up to AT_NULL or own_pairs): the same entries in the
 * same order, with AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_ENTRY from t,
 * AT_FLAGS 0, AT_EXECFD dropped, and any of these (plus AT_RANDOM and
 * AT_EXECFN) missing from own added.  Writes at most cap pairs to out (no
 * AT_NULL); returns the number of pairs, or -1 if cap is too small.
 */
long stack_auxv(const uint64_t *own, size_t own_pairs, const struct stack_target *t,
                uint64_t *out, size_t cap);

/*
 * Map a fresh stack of about *size bytes (RLIMIT_STACK, bounded) with a
 * PROT_NONE guard below; executable if exec (PT_GNU_STACK with PF_X).
 * Returns the lowest usable address and sets *size, or NULL.
 */
void *stack_map(size_t *size, int exec);

#endif
