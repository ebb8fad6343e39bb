/*
 * elf_testimg.h - hand-built minimal x86-64 ELF images, for the unit test
 * (tests/unit/test_elf.c) and the fuzzer's seed corpus.  Header only: each
 * user gets static copies.
 *
 * The image (TESTIMG_SIZE bytes):
 *   0x000  ELF header
 *   0x040  program headers: [PT_PHDR] [PT_INTERP] PT_LOAD(R X) PT_LOAD(RW) PT_GNU_STACK
 *   0x200  the interpreter path
 *   0x800  code: exit(42) with a raw system call (the entry point)
 *   0x1000 data, 0x100 bytes (mapped at base + 0x2000; .bss after it with TI_BSS)
 * base is 0 for ET_DYN (TI_DYN), 0x400000 for ET_EXEC.
 */
#ifndef EXITLESS_ELF_TESTIMG_H
#define EXITLESS_ELF_TESTIMG_H

#include <elf.h>
#include <stddef.h>
#include <string.h>

#define TESTIMG_SIZE   0x1100
#define TESTIMG_INTERP "/lib64/ld-linux-x86-64.so.2"
#define TESTIMG_EXEC_BASE 0x400000ull

enum {
	TI_DYN    = 1,   /* ET_DYN at 0 (else ET_EXEC at 0x400000) */
	TI_INTERP = 2,   /* a PT_INTERP */
	TI_PHDR   = 4,   /* a PT_PHDR */
	TI_BSS    = 8,   /* the data segment has 0x2f00 bytes of .bss */
};

static inline void testimg_get_phdr(const unsigned char *img, unsigned i, Elf64_Phdr *ph)
{
	memcpy(ph, img + 64 + i * sizeof(*ph), sizeof(*ph));
}

static inline void testimg_put_phdr(unsigned char *img, unsigned i, const Elf64_Phdr *ph)
{
	memcpy(img + 64 + i * sizeof(*ph), ph, sizeof(*ph));
}

/* Index of the first program header of type type, or -1. */
static inline int testimg_find(const unsigned char *img, unsigned type)
{
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		testimg_get_phdr(img, i, &ph);
		if (ph.p_type == type)
			return (int)i;
	}
	return -1;
}

/* Build the image into img (at least TESTIMG_SIZE bytes); returns its size. */
static inline size_t testimg_build(unsigned char *img, unsigned opts)
{
	const uint64_t base = (opts & TI_DYN) ? 0 : TESTIMG_EXEC_BASE;
	static const unsigned char code[] = {
		0xb8, 0x3c, 0x00, 0x00, 0x00,   /* mov $60, %eax  (exit) */
		0xbf, 0x2a, 0x00, 0x00, 0x00,   /* mov $42, %edi */
		0x0f, 0x05,                     /* syscall */
	};
	Elf64_Ehdr eh;
	Elf64_Phdr ph[5];
	unsigned n = 0;

	memset(img, 0, TESTIMG_SIZE);
	memset(&eh, 0, sizeof(eh));
	memset(ph, 0, sizeof(ph));
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = (opts & TI_DYN) ? ET_DYN : ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = base + 0x800;
	eh.e_phoff = 64;
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);

	unsigned total = 3 + !!(opts & TI_PHDR) + !!(opts & TI_INTERP);
	if (opts & TI_PHDR) {
		ph[n].p_type = PT_PHDR;
		ph[n].p_flags = PF_R;
		ph[n].p_offset = 64;
		ph[n].p_vaddr = ph[n].p_paddr = base + 64;
		ph[n].p_filesz = ph[n].p_memsz = total * sizeof(Elf64_Phdr);
		ph[n].p_align = 8;
		n++;
	}
	if (opts & TI_INTERP) {
		ph[n].p_type = PT_INTERP;
		ph[n].p_flags = PF_R;
		ph[n].p_offset = 0x200;
		ph[n].p_vaddr = ph[n].p_paddr = base + 0x200;
		ph[n].p_filesz = ph[n].p_memsz = sizeof(TESTIMG_INTERP);
		ph[n].p_align = 1;
		memcpy(img + 0x200, TESTIMG_INTERP, sizeof(TESTIMG_INTERP));
		n++;
	}
	ph[n].p_type = PT_LOAD;
	ph[n].p_flags = PF_R | PF_X;
	ph[n].p_offset = 0;
	ph[n].p_vaddr = ph[n].p_paddr = base;
	ph[n].p_filesz = ph[n].p_memsz = 0x1000;
	ph[n].p_align = 0x1000;
	n++;
	ph[n].p_type = PT_LOAD;
	ph[n].p_flags = PF_R | PF_W;
	ph[n].p_offset = 0x1000;
	ph[n].p_vaddr = ph[n].p_paddr = base + 0x2000;
	ph[n].p_filesz = 0x100;
	ph[n].p_memsz = (opts & TI_BSS) ? 0x3000 : 0x100;
	ph[n].p_align = 0x1000;
	n++;
	ph[n].p_type = PT_GNU_STACK;
	ph[n].p_flags = PF_R | PF_W;
	ph[n].p_align = 16;
	n++;

	eh.e_phnum = (Elf64_Half)n;
	memcpy(img, &eh, sizeof(eh));
	memcpy(img + 64, ph, n * sizeof(Elf64_Phdr));
	memcpy(img + 0x800, code, sizeof(code));
	memset(img + 0x1000, 0xdd, 0x100);
	return TESTIMG_SIZE;
}

#endif
