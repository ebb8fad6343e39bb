/*
 * elf_parse.h - parse and validate an x86-64 ELF executable held in memory.
 *
 * Pure: no system calls, no allocation; the whole file is one byte range
 * (zpload mmaps it read-only).  Everything execve's load_elf_binary would
 * refuse is refused here, and more (sorted, non-overlapping segments, an
 * entry point inside executable code, a program header table the program
 * can see at run time), so that the mapping step cannot meet a surprise
 * half-way through.  The fuzzer (loaders/elf/fuzz) drives this function.
 */
#ifndef EXITLESS_ELF_PARSE_H
#define EXITLESS_ELF_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* x86-64's page size, the ELF_MIN_ALIGN the kernel maps segments with. */
#define ELF_PAGE 4096ull
#define ELF_PAGE_DOWN(x) ((x) & ~(ELF_PAGE - 1))
#define ELF_PAGE_UP(x)   (((x) + ELF_PAGE - 1) & ~(ELF_PAGE - 1))

/* The highest user address of the default 47-bit x86-64 address space
 * (TASK_SIZE_MAX = DEFAULT_MAP_WINDOW = 2^47 - one page). */
#define ELF_USER_TOP 0x7ffffffff000ull

/* Real programs have 2 to 5 loadable segments; the kernel has no limit of
 * its own except the 64 KiB table (1170 entries).  More than this is
 * refused with a message saying so. */
#define ELF_MAX_LOAD 32

/* The kernel's limit on the program header table (elf_read_phdrs). */
#define ELF_MAX_PHDR_BYTES 65536u

/* The kernel's limit on PT_INTERP's size (PATH_MAX). */
#define ELF_MAX_INTERP 4096u

struct elf_seg {
	uint64_t vaddr;     /* p_vaddr (unrelocated) */
	uint64_t memsz;
	uint64_t offset;    /* p_offset in the file */
	uint64_t filesz;
	uint64_t align;     /* p_align */
	uint32_t flags;     /* PF_R | PF_W | PF_X */
};

struct elf_info {
	int type;                 /* ET_EXEC or ET_DYN */
	uint64_t entry;           /* e_entry (unrelocated) */
	uint64_t phoff;           /* e_phoff */
	uint16_t phnum;           /* e_phnum */
	uint16_t phent;           /* e_phentsize (always sizeof(Elf64_Phdr)) */
	uint64_t phdr_vaddr;      /* where the program headers are in memory
	                           * (unrelocated): PT_PHDR, or inside the
	                           * PT_LOAD that maps e_phoff */
	size_t nload;
	struct elf_seg load[ELF_MAX_LOAD];  /* sorted by vaddr, disjoint */
	uint64_t lo, hi;          /* page-aligned span of all PT_LOADs */
	uint64_t align;           /* largest power-of-two p_align >= page, or page */
	const char *interp;       /* PT_INTERP path inside the file, NUL-
	                           * terminated, or NULL */
	size_t interp_len;        /* strlen(interp) */
	int has_gnu_stack;        /* a PT_GNU_STACK was present */
	uint32_t stack_flags;     /* its p_flags (PF_X: executable stack) */
};

/*
 * Parse the ELF file in [file, file + size).  Returns 0 and fills *out, or
 * -1 with a short human phrase in err ("not an ELF file", "built for
 * AArch64, not x86-64", ...).  out->interp points into file.
 */
int elf_parse(const void *file, size_t size, struct elf_info *out, char *err, size_t errlen);

/* Write a printf-style phrase to err (if any) and return -1. */
int elf_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* The name of an ELF e_machine value ("AArch64"), or NULL if unknown. */
const char *elf_machine_name(unsigned machine);

#endif
