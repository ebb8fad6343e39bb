/*
 * func_starts.c - where functions start, from an ELF object's .eh_frame_hdr.
 *
 * Decoding all of a process's code with libopcodes costs about a microsecond
 * per instruction: half a second for libc alone.  But a system call site
 * needs the bytes 0f 05 (or 0f 34), and only a few hundred functions of libc
 * contain them.  A linear decode that starts at any true instruction
 * boundary agrees with a decode from the start of the mapping from there on,
 * and the start of every function that has unwind information is such a
 * boundary, written down by the compiler: .eh_frame_hdr holds a table of
 * them, sorted, for binary search by unwinders (LSB 5.0, "Exception Frame
 * Header"; pointed to by the PT_GNU_EH_FRAME program header).
 *
 * So the rewriter decodes only the functions holding candidate bytes, from
 * the function start found here to the next function start.  Where there is
 * no table, or an encoding we do not read, it decodes the whole mapping.
 */
#include <elf.h>
#include <string.h>
#include <sys/mman.h>

#include "func_starts.h"

/* DWARF pointer encodings used by .eh_frame_hdr (LSB 5.0, DWARF EH). */
#define DW_EH_PE_udata4 0x03
#define DW_EH_PE_sdata4 0x0b
#define DW_EH_PE_pcrel 0x10
#define DW_EH_PE_datarel 0x30

static int readable(const struct zp_map *maps, size_t n, uint64_t addr, uint64_t len)
{
	for (size_t i = 0; i < n; i++)
		if (addr >= maps[i].start && addr + len <= maps[i].end)
			return (maps[i].prot & PROT_READ) != 0;
	return 0;
}

int zp_func_starts(const struct zp_map *maps, size_t n, const struct zp_map *code,
		   struct zp_func_starts *out)
{
	memset(out, 0, sizeof *out);
	/* The ELF header is where the object's file offset 0 is mapped. */
	uint64_t base = code->start - code->offset;
	if (code->offset > code->start || !readable(maps, n, base, sizeof(Elf64_Ehdr)))
		return -1;
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)(uintptr_t)base;
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh->e_phentsize != sizeof(Elf64_Phdr))
		return -1;
	uint64_t ph_addr = base + eh->e_phoff;
	if (!readable(maps, n, ph_addr, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr)))
		return -1;
	const Elf64_Phdr *ph = (const Elf64_Phdr *)(uintptr_t)ph_addr;

	/* Load bias from the segment that maps file offset 0, checked against
	 * the code segment: both must agree with where they are mapped. */
	int64_t bias = 0;
	int have_bias = 0, code_ok = 0;
	const Elf64_Phdr *ehf = NULL;
	for (int i = 0; i < eh->e_phnum; i++) {
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0 && !have_bias) {
			bias = (int64_t)(base - (ph[i].p_vaddr & ~4095ULL));
			have_bias = 1;
		}
		if (ph[i].p_type == PT_GNU_EH_FRAME)
			ehf = &ph[i];
	}
	for (int i = 0; have_bias && i < eh->e_phnum; i++)
		if (ph[i].p_type == PT_LOAD && (ph[i].p_offset & ~4095ULL) == code->offset &&
		    (uint64_t)(bias + (int64_t)(ph[i].p_vaddr & ~4095ULL)) == code->start)
			code_ok = 1;
	if (!code_ok || !ehf || ehf->p_memsz < 12)
		return -1;

	uint64_t hdr = (uint64_t)(bias + (int64_t)ehf->p_vaddr);
	if (!readable(maps, n, hdr, ehf->p_memsz))
		return -1;
	const uint8_t *h = (const uint8_t *)(uintptr_t)hdr;
	/* version 1; eh_frame_ptr as a 4-byte value; fde_count udata4; table
	 * of (initial location, FDE address) pairs, datarel sdata4. */
	if (h[0] != 1 || (h[1] & 0x0f) != DW_EH_PE_sdata4 || h[2] != DW_EH_PE_udata4 ||
	    h[3] != (DW_EH_PE_datarel | DW_EH_PE_sdata4))
		return -1;
	uint32_t count;
	memcpy(&count, h + 8, 4);
	if (12 + (uint64_t)count * 8 > ehf->p_memsz)
		return -1;
	out->table = (const int32_t *)(h + 12);
	out->count = count;
	out->hdr = hdr;
	return 0;
}

uint64_t zp_func_start_at(const struct zp_func_starts *fs, size_t i)
{
	return fs->hdr + (int64_t)fs->table[2 * i];
}

/* Index of the last function starting at or before addr, or -1. */
long zp_func_find(const struct zp_func_starts *fs, uint64_t addr)
{
	long lo = 0, hi = (long)fs->count - 1, found = -1;
	while (lo <= hi) {
		long mid = lo + (hi - lo) / 2;
		if (zp_func_start_at(fs, (size_t)mid) <= addr) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return found;
}
