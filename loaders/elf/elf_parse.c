/*
 * elf_parse.c - validate an x86-64 ELF executable before anything of it is
 * mapped (see elf_parse.h).
 *
 * Every field is read with memcpy (the file offsets come from the file and
 * need not be aligned) and every sum of two file-controlled numbers is
 * checked for overflow before it is compared.  The order of the checks
 * follows load_elf_binary, so that a file broken in several ways is
 * described by the first thing the kernel would have tripped over.
 */
#include "elf_parse.h"

#include <elf.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Format the error phrase; always returns -1.  Shared with elf_map.c. */
int elf_fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

const char *elf_machine_name(unsigned machine)
{
	switch (machine) {
	case EM_386:       return "i386";
	case EM_X86_64:    return "x86-64";
	case EM_AARCH64:   return "AArch64";
	case EM_ARM:       return "ARM";
	case EM_RISCV:     return "RISC-V";
	case EM_PPC:       return "PowerPC";
	case EM_PPC64:     return "PowerPC64";
	case EM_S390:      return "s390";
	case EM_MIPS:      return "MIPS";
	case EM_SPARC:     return "SPARC";
	case EM_SPARCV9:   return "SPARC64";
	case EM_IA_64:     return "IA-64";
	case EM_ALPHA:     return "Alpha";
	case EM_PARISC:    return "PA-RISC";
	case EM_SH:        return "SuperH";
	case EM_68K:       return "m68k";
	case 258:          return "LoongArch";   /* EM_LOONGARCH, newer than some elf.h */
	default:           return NULL;
	}
}

/* "built for AArch64" or "built for machine type 1234". */
static int wrong_machine(char *err, size_t errlen, unsigned machine, const char *extra)
{
	const char *name = elf_machine_name(machine);

	if (name)
		return elf_fail(err, errlen, "built for %s%s, not x86-64", name, extra);
	return elf_fail(err, errlen, "built for machine type %u%s, not x86-64", machine, extra);
}

/* a + b <= limit, without overflow. */
static int fits(uint64_t a, uint64_t b, uint64_t limit)
{
	return a <= limit && b <= limit - a;
}

int elf_parse(const void *file, size_t size, struct elf_info *out, char *err, size_t errlen)
{
	const unsigned char *f = file;
	Elf64_Ehdr eh;

	memset(out, 0, sizeof(*out));
	if (size < SELFMAG || memcmp(f, ELFMAG, SELFMAG) != 0)
		return elf_fail(err, errlen, "not an ELF file");
	if (size < sizeof(eh))
		return elf_fail(err, errlen, "truncated ELF header (%zu of %zu bytes)", size, sizeof(eh));
	memcpy(&eh, f, sizeof(eh));

	/* A 32-bit file keeps e_machine at the same offset, so it can still be
	 * named; only the byte order must be right to read it. */
	if (eh.e_ident[EI_CLASS] != ELFCLASS64) {
		if (eh.e_ident[EI_CLASS] == ELFCLASS32 && eh.e_ident[EI_DATA] == ELFDATA2LSB)
			return wrong_machine(err, errlen, eh.e_machine, " (32-bit)");
		if (eh.e_ident[EI_CLASS] == ELFCLASS32)
			return elf_fail(err, errlen, "a 32-bit big-endian ELF file, not x86-64");
		return elf_fail(err, errlen, "invalid ELF class %u", eh.e_ident[EI_CLASS]);
	}
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		if (eh.e_ident[EI_DATA] == ELFDATA2MSB)
			return elf_fail(err, errlen, "a big-endian ELF file, not x86-64");
		return elf_fail(err, errlen, "invalid ELF byte order %u", eh.e_ident[EI_DATA]);
	}
	if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
		return elf_fail(err, errlen, "unknown ELF version %u", eh.e_ident[EI_VERSION] != EV_CURRENT ?
		            (unsigned)eh.e_ident[EI_VERSION] : (unsigned)eh.e_version);
	if (eh.e_machine != EM_X86_64)
		return wrong_machine(err, errlen, eh.e_machine, "");
	switch (eh.e_type) {
	case ET_EXEC:
	case ET_DYN:
		break;
	case ET_REL:
		return elf_fail(err, errlen, "an object file (.o), not a program");
	case ET_CORE:
		return elf_fail(err, errlen, "a core dump, not a program");
	default:
		return elf_fail(err, errlen, "ELF type %u is not a program", eh.e_type);
	}

	/* The program header table: the kernel's elf_read_phdrs checks. */
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return elf_fail(err, errlen, "program header entries are %u bytes, not %zu",
		            eh.e_phentsize, sizeof(Elf64_Phdr));
	if (eh.e_phnum == 0)
		return elf_fail(err, errlen, "no program headers");
	uint64_t tabsz = (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr);
	if (tabsz > ELF_MAX_PHDR_BYTES)
		return elf_fail(err, errlen, "program header table too large (%u entries)", eh.e_phnum);
	if (!fits(eh.e_phoff, tabsz, size))
		return elf_fail(err, errlen, "program header table lies outside the file");

	out->type = eh.e_type;
	out->entry = eh.e_entry;
	out->phoff = eh.e_phoff;
	out->phnum = eh.e_phnum;
	out->phent = eh.e_phentsize;
	out->align = ELF_PAGE;

	int have_phdr = 0;
	uint64_t phdr_seg_vaddr = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, f + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));

		switch (ph.p_type) {
		case PT_LOAD: {
			if (ph.p_filesz > ph.p_memsz)
				return elf_fail(err, errlen, "segment %u: file size larger than memory size", i);
			if (!fits(ph.p_offset, ph.p_filesz, size))
				return elf_fail(err, errlen, "segment %u lies outside the file", i);
			if (!fits(ph.p_vaddr, ph.p_memsz, ELF_USER_TOP))
				return elf_fail(err, errlen, "segment %u lies beyond the user address space", i);
			/* Each page is mapped from the file page at the same offset
			 * within a page: a mismatch cannot be mapped (mmap EINVAL). */
			if ((ph.p_vaddr ^ ph.p_offset) & (ELF_PAGE - 1))
				return elf_fail(err, errlen, "segment %u: address and file offset differ "
				            "modulo the page size", i);
			/* load_elf_binary's maximum_alignment: powers of two only. */
			if (ph.p_align > out->align && (ph.p_align & (ph.p_align - 1)) == 0)
				out->align = ph.p_align;
			if (ph.p_memsz == 0)
				break;   /* maps nothing (the kernel maps nothing either) */
			if (out->nload > 0) {
				const struct elf_seg *prev = &out->load[out->nload - 1];
				if (ph.p_vaddr < prev->vaddr)
					return elf_fail(err, errlen, "loadable segments are not sorted by address");
				if (ph.p_vaddr < prev->vaddr + prev->memsz)
					return elf_fail(err, errlen, "loadable segments overlap (segment %u)", i);
			}
			if (out->nload == ELF_MAX_LOAD)
				return elf_fail(err, errlen, "too many loadable segments (more than %d)", ELF_MAX_LOAD);
			struct elf_seg *s = &out->load[out->nload++];
			s->vaddr = ph.p_vaddr;
			s->memsz = ph.p_memsz;
			s->offset = ph.p_offset;
			s->filesz = ph.p_filesz;
			s->align = ph.p_align;
			s->flags = ph.p_flags;
			break;
		}
		case PT_INTERP:
			if (out->interp)
				return elf_fail(err, errlen, "more than one interpreter (PT_INTERP)");
			if (ph.p_filesz < 2 || ph.p_filesz > ELF_MAX_INTERP)
				return elf_fail(err, errlen, "interpreter path has a bad length (%llu bytes)",
				            (unsigned long long)ph.p_filesz);
			if (!fits(ph.p_offset, ph.p_filesz, size))
				return elf_fail(err, errlen, "interpreter path lies outside the file");
			if (f[ph.p_offset + ph.p_filesz - 1] != '\0')
				return elf_fail(err, errlen, "interpreter path is not NUL-terminated");
			if (f[ph.p_offset] == '\0')
				return elf_fail(err, errlen, "interpreter path is empty");
			out->interp = (const char *)f + ph.p_offset;
			out->interp_len = strlen(out->interp);
			break;
		case PT_PHDR:
			if (have_phdr)
				return elf_fail(err, errlen, "more than one PT_PHDR");
			have_phdr = 1;
			phdr_seg_vaddr = ph.p_vaddr;
			break;
		case PT_GNU_STACK:
			/* As in load_elf_binary, the last one counts. */
			out->has_gnu_stack = 1;
			out->stack_flags = ph.p_flags;
			break;
		default:
			break;
		}
	}
	if (out->nload == 0)
		return elf_fail(err, errlen, "no loadable segments");
	out->lo = ELF_PAGE_DOWN(out->load[0].vaddr);
	const struct elf_seg *last = &out->load[out->nload - 1];
	out->hi = ELF_PAGE_UP(last->vaddr + last->memsz);   /* <= ELF_USER_TOP: no overflow */

	/* The entry point must be code the file provides. */
	int entry_ok = 0;
	for (size_t k = 0; k < out->nload; k++) {
		const struct elf_seg *s = &out->load[k];
		if ((s->flags & PF_X) && out->entry >= s->vaddr && out->entry - s->vaddr < s->filesz)
			entry_ok = 1;
	}
	if (!entry_ok)
		return elf_fail(err, errlen, "entry point 0x%llx is not in an executable segment",
		            (unsigned long long)out->entry);

	/* AT_PHDR: the program (ld.so, or a static libc) reads its own program
	 * headers from memory, so they must be mapped from the file there. */
	int found = 0;
	for (size_t k = 0; k < out->nload && !found; k++) {
		const struct elf_seg *s = &out->load[k];
		if (have_phdr) {
			if (phdr_seg_vaddr >= s->vaddr && phdr_seg_vaddr - s->vaddr <= s->filesz &&
			    tabsz <= s->filesz - (phdr_seg_vaddr - s->vaddr)) {
				/* It must also be the table itself, not other bytes. */
				if (phdr_seg_vaddr - s->vaddr + s->offset != eh.e_phoff)
					return elf_fail(err, errlen, "PT_PHDR does not point at the program headers");
				out->phdr_vaddr = phdr_seg_vaddr;
				found = 1;
			}
		} else if (eh.e_phoff >= s->offset && eh.e_phoff - s->offset <= s->filesz &&
		           tabsz <= s->filesz - (eh.e_phoff - s->offset)) {
			out->phdr_vaddr = s->vaddr + (eh.e_phoff - s->offset);
			found = 1;
		}
	}
	if (!found)
		return elf_fail(err, errlen, have_phdr ? "PT_PHDR is not inside a loaded segment"
		                                   : "program headers are not inside a loaded segment");
	return 0;
}
