/*
 * elf_map.h - map a parsed ELF image (elf_parse.h) from its file, the way
 * load_elf_binary / load_elf_interp do.
 */
#ifndef EXITLESS_ELF_MAP_H
#define EXITLESS_ELF_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "elf_parse.h"

struct elf_mapped {
	uint64_t bias;     /* added to every p_vaddr (0 for ET_EXEC) */
	uint64_t start;    /* bias + lo: the lowest mapped address */
	uint64_t end;      /* bias + hi: page-aligned end of the highest segment */
	uint64_t entry;    /* bias + e_entry */
	uint64_t phdr;     /* bias + phdr_vaddr (AT_PHDR) */
};

/*
 * Map info's segments from fd (the file info was parsed from).
 *   ET_DYN:  one PROT_NONE reservation of the whole span, at hint if that
 *            is free (0: wherever the kernel likes), aligned to info->align,
 *            then each segment MAP_FIXED inside it;
 *   ET_EXEC: the span at its own addresses with MAP_FIXED_NOREPLACE (an
 *            error naming the range if something is there already).
 * The holes between segments are unmapped again, as the kernel leaves them.
 * Returns 0, or -1 with a phrase in err (what is mapped so far stays).
 */
int elf_map(int fd, const struct elf_info *info, uint64_t hint, struct elf_mapped *out,
            char *err, size_t errlen);

/* PROT_* for a segment's PF_* flags. */
int elf_prot(uint32_t pflags);

#endif
