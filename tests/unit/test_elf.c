/*
 * test_elf.c - cmocka tests of the ELF loader's pure parts:
 *
 *   elf_parse    accepts the system's /bin/true, ld.so and a static binary
 *                (if there is one) and hand-built minimal images; refuses
 *                each malformation with the phrase a person should read;
 *   script_parse the "#!" line as binfmt_script splits it (one optional
 *                argument with its spaces, the 256-byte limit, NULs);
 *   stack_build  the initial stack walked word by word: every pointer,
 *                string, alignment and the auxv, for several paddings;
 *   stack_auxv   the program's auxv from the loader's: order, overrides.
 *
 *   make tests/unit/test_elf && tests/unit/test_elf
 */
#include <elf.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "elf_parse.h"
#include "elf_testimg.h"
#include "script.h"
#include "stack.h"

/* --- helpers ---------------------------------------------------------------- */

struct mapped_file {
	void *p;
	size_t size;
};

static int map_file(const char *path, struct mapped_file *m)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) != 0 || st.st_size == 0) {
		close(fd);
		return -1;
	}
	m->size = (size_t)st.st_size;
	m->p = mmap(NULL, m->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	return m->p == MAP_FAILED ? -1 : 0;
}

static unsigned char img[0x4000];
static struct elf_info info;
static char err[256];

static int parse(size_t size)
{
	err[0] = '\0';
	return elf_parse(img, size, &info, err, sizeof(err));
}

/* The image must be refused with a message containing want. */
#define REFUSE(size, want)                                                           \
	do {                                                                         \
		int rc_ = parse(size);                                               \
		if (rc_ != -1 || !strstr(err, (want)))                               \
			fail_msg("rc %d, message '%s', want one containing '%s'",     \
			         rc_, err, (want));                                   \
	} while (0)

static Elf64_Ehdr ehdr(void)
{
	Elf64_Ehdr eh;
	memcpy(&eh, img, sizeof(eh));
	return eh;
}

static void put_ehdr(const Elf64_Ehdr *eh)
{
	memcpy(img, eh, sizeof(*eh));
}

/* Change field of the program header of type, in place. */
#define PATCH_PH(type, stmt)                                                 \
	do {                                                                 \
		int i_ = testimg_find(img, (type));                          \
		assert_true(i_ >= 0);                                        \
		Elf64_Phdr ph;                                               \
		testimg_get_phdr(img, (unsigned)i_, &ph);                    \
		stmt;                                                        \
		testimg_put_phdr(img, (unsigned)i_, &ph);                    \
	} while (0)

/* The second PT_LOAD (the data segment). */
static int data_index(void)
{
	int first = testimg_find(img, PT_LOAD);
	return first + 1;
}

/* --- elf_parse: real files -------------------------------------------------- */

static void check_invariants(const struct elf_info *in, size_t size)
{
	assert_true(in->nload >= 1);
	for (size_t k = 0; k < in->nload; k++) {
		const struct elf_seg *s = &in->load[k];
		assert_true(s->filesz <= s->memsz);
		assert_true(s->offset + s->filesz <= size);
		if (k > 0)
			assert_true(in->load[k - 1].vaddr + in->load[k - 1].memsz <= s->vaddr);
	}
	assert_int_equal(in->lo % ELF_PAGE, 0);
	assert_int_equal(in->hi % ELF_PAGE, 0);
	assert_true(in->lo <= in->load[0].vaddr);
	assert_true(in->hi >= in->load[in->nload - 1].vaddr + in->load[in->nload - 1].memsz);
	assert_int_equal(in->phent, sizeof(Elf64_Phdr));
}

static void test_accept_bin_true(void **state)
{
	(void)state;
	struct mapped_file m;
	if (map_file("/bin/true", &m) != 0)
		skip();
	struct elf_info in;
	int rc = elf_parse(m.p, m.size, &in, err, sizeof(err));
	if (rc != 0)
		fail_msg("/bin/true refused: %s", err);
	assert_int_equal(in.type, ET_DYN);
	assert_non_null(in.interp);
	assert_string_equal(in.interp, "/lib64/ld-linux-x86-64.so.2");
	assert_int_equal(in.interp_len, strlen("/lib64/ld-linux-x86-64.so.2"));
	assert_int_equal(in.phdr_vaddr, in.phoff);   /* PT_PHDR at its file offset */
	assert_true(in.has_gnu_stack);
	assert_false(in.stack_flags & PF_X);
	check_invariants(&in, m.size);
	munmap(m.p, m.size);
}

static void test_accept_ldso(void **state)
{
	(void)state;
	struct mapped_file m;
	if (map_file("/lib64/ld-linux-x86-64.so.2", &m) != 0)
		skip();
	struct elf_info in;
	int rc = elf_parse(m.p, m.size, &in, err, sizeof(err));
	if (rc != 0)
		fail_msg("ld.so refused: %s", err);
	assert_int_equal(in.type, ET_DYN);
	assert_null(in.interp);
	assert_int_equal(in.lo, 0);
	check_invariants(&in, m.size);
	munmap(m.p, m.size);
}

static void test_accept_static(void **state)
{
	(void)state;
	static const char *const candidates[] = { "/usr/sbin/ldconfig", "/sbin/ldconfig",
	                                          "/usr/bin/busybox", "/bin/busybox" };
	struct mapped_file m;
	const char *path = NULL;
	for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]) && !path; i++)
		if (map_file(candidates[i], &m) == 0)
			path = candidates[i];
	if (!path)
		skip();
	struct elf_info in;
	int rc = elf_parse(m.p, m.size, &in, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s refused: %s", path, err);
	check_invariants(&in, m.size);
	munmap(m.p, m.size);
}

/* --- elf_parse: hand-built images ------------------------------------------- */

static void test_accept_minimal(void **state)
{
	(void)state;
	for (unsigned opts = 0; opts < 16; opts++) {
		size_t n = testimg_build(img, opts);
		if (parse(n) != 0)
			fail_msg("options %u refused: %s", opts, err);
		uint64_t base = (opts & TI_DYN) ? 0 : TESTIMG_EXEC_BASE;
		assert_int_equal(info.type, (opts & TI_DYN) ? ET_DYN : ET_EXEC);
		assert_int_equal(info.entry, base + 0x800);
		assert_int_equal(info.nload, 2);
		assert_int_equal(info.lo, base);
		assert_int_equal(info.hi, base + ((opts & TI_BSS) ? 0x5000 : 0x3000));
		assert_int_equal(info.phdr_vaddr, base + 64);
		assert_int_equal(info.phnum, 3 + !!(opts & TI_PHDR) + !!(opts & TI_INTERP));
		if (opts & TI_INTERP)
			assert_string_equal(info.interp, TESTIMG_INTERP);
		else
			assert_null(info.interp);
		assert_int_equal(info.load[0].flags, PF_R | PF_X);
		assert_int_equal(info.load[1].offset, 0x1000);
		check_invariants(&info, n);
	}
}

static void test_refuse_header(void **state)
{
	(void)state;
	Elf64_Ehdr eh;

	memcpy(img, "hello, world\n", 13);
	REFUSE(13, "not an ELF file");
	REFUSE(0, "not an ELF file");
	testimg_build(img, TI_DYN);
	REFUSE(3, "not an ELF file");
	REFUSE(40, "truncated ELF header");
	REFUSE(63, "truncated ELF header");

	testimg_build(img, TI_DYN);
	img[EI_CLASS] = ELFCLASS32;
	eh = ehdr(); eh.e_machine = EM_386; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "built for i386 (32-bit), not x86-64");
	img[EI_DATA] = ELFDATA2MSB;
	REFUSE(TESTIMG_SIZE, "32-bit big-endian");
	img[EI_CLASS] = 7;
	REFUSE(TESTIMG_SIZE, "invalid ELF class 7");

	testimg_build(img, TI_DYN);
	img[EI_DATA] = ELFDATA2MSB;
	REFUSE(TESTIMG_SIZE, "big-endian ELF file, not x86-64");
	img[EI_DATA] = 0;
	REFUSE(TESTIMG_SIZE, "invalid ELF byte order");

	testimg_build(img, TI_DYN);
	img[EI_VERSION] = 0;
	REFUSE(TESTIMG_SIZE, "unknown ELF version 0");
	testimg_build(img, TI_DYN);
	eh = ehdr(); eh.e_version = 2; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "unknown ELF version 2");

	testimg_build(img, TI_DYN);
	eh = ehdr(); eh.e_machine = EM_AARCH64; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "built for AArch64, not x86-64");
	eh.e_machine = EM_RISCV; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "built for RISC-V, not x86-64");
	eh.e_machine = 9999; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "built for machine type 9999, not x86-64");

	testimg_build(img, TI_DYN);
	eh = ehdr(); eh.e_type = ET_REL; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "object file");
	eh.e_type = ET_CORE; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "core dump");
	eh.e_type = ET_NONE; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "ELF type 0 is not a program");

	assert_string_equal(elf_machine_name(EM_X86_64), "x86-64");
	assert_null(elf_machine_name(9999));
}

static void test_refuse_phdr_table(void **state)
{
	(void)state;
	Elf64_Ehdr eh;

	testimg_build(img, TI_DYN);
	eh = ehdr(); eh.e_phentsize = 32; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "program header entries are 32 bytes, not 56");

	testimg_build(img, TI_DYN);
	eh = ehdr(); eh.e_phnum = 0; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "no program headers");
	eh.e_phnum = 2000; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "program header table too large (2000 entries)");
	eh.e_phnum = 0xffff; put_ehdr(&eh);   /* PN_XNUM: not supported by the kernel */
	REFUSE(TESTIMG_SIZE, "program header table too large");
	eh.e_phnum = 1170; put_ehdr(&eh);     /* 65520 bytes: allowed size, not in the file */
	REFUSE(TESTIMG_SIZE, "program header table lies outside the file");

	testimg_build(img, TI_DYN);
	eh = ehdr(); eh.e_phoff = TESTIMG_SIZE; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "program header table lies outside the file");
	eh.e_phoff = TESTIMG_SIZE - 56 * 3 + 1; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "program header table lies outside the file");
	eh.e_phoff = UINT64_MAX - 8; put_ehdr(&eh);   /* phoff + size overflows */
	REFUSE(TESTIMG_SIZE, "program header table lies outside the file");
	testimg_build(img, TI_DYN);
	REFUSE(100, "program header table lies outside the file");   /* truncated file */
}

static void test_refuse_segments(void **state)
{
	(void)state;

	testimg_build(img, TI_DYN);
	PATCH_PH(PT_LOAD, ph.p_filesz = ph.p_memsz + 1);
	REFUSE(TESTIMG_SIZE, "file size larger than memory size");

	testimg_build(img, TI_DYN);
	REFUSE(0x1080, "segment 1 lies outside the file");   /* data cut short */
	testimg_build(img, TI_DYN);
	PATCH_PH(PT_LOAD, ph.p_offset = UINT64_MAX - 0x0fff; ph.p_vaddr = 0x1000);
	REFUSE(TESTIMG_SIZE, "segment 0 lies outside the file");
	testimg_build(img, TI_DYN);
	PATCH_PH(PT_LOAD, ph.p_filesz = UINT64_MAX; ph.p_memsz = UINT64_MAX);
	REFUSE(TESTIMG_SIZE, "segment 0 lies outside the file");

	testimg_build(img, 0);
	{
		int d = data_index();
		Elf64_Phdr ph;
		testimg_get_phdr(img, (unsigned)d, &ph);
		ph.p_vaddr = ELF_USER_TOP - 0x1000;
		ph.p_memsz = 0x2000;
		testimg_put_phdr(img, (unsigned)d, &ph);
		REFUSE(TESTIMG_SIZE, "segment 1 lies beyond the user address space");
		ph.p_vaddr = UINT64_MAX & ~0xfffull;   /* vaddr + memsz overflows */
		testimg_put_phdr(img, (unsigned)d, &ph);
		REFUSE(TESTIMG_SIZE, "beyond the user address space");

		testimg_build(img, 0);
		testimg_get_phdr(img, (unsigned)d, &ph);
		ph.p_vaddr += 0x10;
		testimg_put_phdr(img, (unsigned)d, &ph);
		REFUSE(TESTIMG_SIZE, "address and file offset differ modulo the page size");

		/* Unsorted: the data segment below the code. */
		testimg_build(img, 0);
		testimg_get_phdr(img, (unsigned)d, &ph);
		ph.p_vaddr = TESTIMG_EXEC_BASE - 0x10000;
		testimg_put_phdr(img, (unsigned)d, &ph);
		REFUSE(TESTIMG_SIZE, "not sorted by address");

		/* Overlapping: the data segment inside the code's page range. */
		testimg_build(img, 0);
		testimg_get_phdr(img, (unsigned)d, &ph);
		ph.p_vaddr = TESTIMG_EXEC_BASE;   /* same page offset as p_offset 0x1000 */
		testimg_put_phdr(img, (unsigned)d, &ph);
		REFUSE(TESTIMG_SIZE, "overlap");

		/* Sharing a page is fine (old linkers do it), overlapping bytes not. */
		testimg_build(img, 0);
		Elf64_Phdr code;
		testimg_get_phdr(img, (unsigned)d - 1, &code);
		code.p_filesz = code.p_memsz = 0x900;
		testimg_put_phdr(img, (unsigned)d - 1, &code);
		testimg_get_phdr(img, (unsigned)d, &ph);
		ph.p_offset = 0xa00;                       /* the data in the code's page */
		ph.p_vaddr = TESTIMG_EXEC_BASE + 0xa00;
		testimg_put_phdr(img, (unsigned)d, &ph);
		assert_int_equal(parse(TESTIMG_SIZE), 0);
		assert_int_equal(info.hi, TESTIMG_EXEC_BASE + 0x1000);
		ph.p_offset = 0x8a0;                       /* one byte into the code */
		ph.p_vaddr = TESTIMG_EXEC_BASE + 0x8a0;
		testimg_put_phdr(img, (unsigned)d, &ph);
		REFUSE(TESTIMG_SIZE, "overlap");
	}

	/* Zero-sized PT_LOADs map nothing and are ignored. */
	testimg_build(img, TI_DYN);
	{
		int d = data_index();
		Elf64_Phdr ph;
		testimg_get_phdr(img, (unsigned)d, &ph);
		ph.p_filesz = ph.p_memsz = 0;
		testimg_put_phdr(img, (unsigned)d, &ph);
		assert_int_equal(parse(TESTIMG_SIZE), 0);
		assert_int_equal(info.nload, 1);
	}

	testimg_build(img, TI_DYN);
	for (int i; (i = testimg_find(img, PT_LOAD)) >= 0;) {
		Elf64_Phdr ph;
		testimg_get_phdr(img, (unsigned)i, &ph);
		ph.p_type = PT_NULL;
		testimg_put_phdr(img, (unsigned)i, &ph);
	}
	REFUSE(TESTIMG_SIZE, "no loadable segments");
}

static void test_refuse_too_many_loads(void **state)
{
	(void)state;
	/* 33 one-page PT_LOADs, all mapping the first file page. */
	testimg_build(img, 0);
	Elf64_Ehdr eh = ehdr();
	unsigned n = ELF_MAX_LOAD + 1;
	eh.e_phnum = (Elf64_Half)n;
	put_ehdr(&eh);
	for (unsigned i = 0; i < n; i++) {
		Elf64_Phdr ph;
		memset(&ph, 0, sizeof(ph));
		ph.p_type = PT_LOAD;
		ph.p_flags = PF_R | PF_X;
		ph.p_vaddr = TESTIMG_EXEC_BASE + i * 0x1000ull;
		ph.p_filesz = ph.p_memsz = 0x1000;
		ph.p_align = 0x1000;
		testimg_put_phdr(img, i, &ph);
	}
	/* The code moved under the table: entry into page 0's tail. */
	REFUSE(TESTIMG_SIZE, "too many loadable segments (more than 32)");
	eh.e_phnum = (Elf64_Half)ELF_MAX_LOAD;
	put_ehdr(&eh);
	assert_int_equal(parse(TESTIMG_SIZE), 0);
	assert_int_equal(info.nload, ELF_MAX_LOAD);
}

static void test_refuse_entry(void **state)
{
	(void)state;
	Elf64_Ehdr eh;

	testimg_build(img, TI_DYN);
	eh = ehdr(); eh.e_entry = 0x2010; put_ehdr(&eh);   /* in the data segment */
	REFUSE(TESTIMG_SIZE, "entry point 0x2010 is not in an executable segment");
	eh.e_entry = 0x9000; put_ehdr(&eh);                /* nowhere */
	REFUSE(TESTIMG_SIZE, "entry point 0x9000");
	eh.e_entry = 0; put_ehdr(&eh);                      /* a shared library's */
	assert_int_equal(parse(TESTIMG_SIZE), 0);          /* 0 is in the code here */
	testimg_build(img, 0);
	eh = ehdr(); eh.e_entry = 0; put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE, "entry point 0x0 is not in an executable segment");
}

static void test_refuse_interp(void **state)
{
	(void)state;

	testimg_build(img, TI_DYN | TI_INTERP);
	img[0x200 + sizeof(TESTIMG_INTERP) - 1] = 'x';
	REFUSE(TESTIMG_SIZE, "interpreter path is not NUL-terminated");

	testimg_build(img, TI_DYN | TI_INTERP);
	PATCH_PH(PT_INTERP, ph.p_filesz = 1);
	REFUSE(TESTIMG_SIZE, "interpreter path has a bad length (1 bytes)");
	PATCH_PH(PT_INTERP, ph.p_filesz = 5000);
	REFUSE(TESTIMG_SIZE, "interpreter path has a bad length (5000 bytes)");

	testimg_build(img, TI_DYN | TI_INTERP);
	PATCH_PH(PT_INTERP, ph.p_offset = TESTIMG_SIZE - 4);
	REFUSE(TESTIMG_SIZE, "interpreter path lies outside the file");
	PATCH_PH(PT_INTERP, ph.p_offset = UINT64_MAX - 4);
	REFUSE(TESTIMG_SIZE, "interpreter path lies outside the file");

	testimg_build(img, TI_DYN | TI_INTERP);
	memset(img + 0x200, 0, sizeof(TESTIMG_INTERP));
	REFUSE(TESTIMG_SIZE, "interpreter path is empty");

	/* Two PT_INTERPs: the PT_GNU_STACK becomes the second. */
	testimg_build(img, TI_DYN | TI_INTERP);
	{
		int i = testimg_find(img, PT_INTERP), s = testimg_find(img, PT_GNU_STACK);
		Elf64_Phdr ph;
		testimg_get_phdr(img, (unsigned)i, &ph);
		testimg_put_phdr(img, (unsigned)s, &ph);
	}
	REFUSE(TESTIMG_SIZE, "more than one interpreter");

	/* A path with a NUL inside: the kernel uses it up to the NUL. */
	testimg_build(img, TI_DYN | TI_INTERP);
	img[0x200 + 6] = '\0';
	assert_int_equal(parse(TESTIMG_SIZE), 0);
	assert_string_equal(info.interp, "/lib64");
	assert_int_equal(info.interp_len, 6);
}

static void test_refuse_phdr_location(void **state)
{
	(void)state;

	testimg_build(img, TI_DYN | TI_PHDR);
	PATCH_PH(PT_PHDR, ph.p_vaddr = 0x2000);   /* in the data: other bytes */
	REFUSE(TESTIMG_SIZE, "PT_PHDR does not point at the program headers");
	PATCH_PH(PT_PHDR, ph.p_vaddr = 0x9000);   /* not loaded at all */
	REFUSE(TESTIMG_SIZE, "PT_PHDR is not inside a loaded segment");

	testimg_build(img, TI_DYN | TI_PHDR);
	{
		int p = testimg_find(img, PT_PHDR), s = testimg_find(img, PT_GNU_STACK);
		Elf64_Phdr ph;
		testimg_get_phdr(img, (unsigned)p, &ph);
		testimg_put_phdr(img, (unsigned)s, &ph);
	}
	REFUSE(TESTIMG_SIZE, "more than one PT_PHDR");

	/* No PT_PHDR, and the table copied past the end of the loaded file
	 * part (appended at 0x1100, the data segment ends at 0x1100). */
	testimg_build(img, TI_DYN);
	Elf64_Ehdr eh = ehdr();
	memcpy(img + TESTIMG_SIZE, img + 64, eh.e_phnum * sizeof(Elf64_Phdr));
	eh.e_phoff = TESTIMG_SIZE;
	put_ehdr(&eh);
	REFUSE(TESTIMG_SIZE + eh.e_phnum * sizeof(Elf64_Phdr),
	       "program headers are not inside a loaded segment");

	/* PT_GNU_STACK with PF_X: an executable stack is asked for. */
	testimg_build(img, TI_DYN);
	PATCH_PH(PT_GNU_STACK, ph.p_flags = PF_R | PF_W | PF_X);
	assert_int_equal(parse(TESTIMG_SIZE), 0);
	assert_true(info.has_gnu_stack);
	assert_true(info.stack_flags & PF_X);
}

/* Every bit flip and every truncation of a real file and of the minimal
 * image: refused or accepted with the invariants holding, never a crash. */
static void test_flips_and_truncations(void **state)
{
	(void)state;
	size_t n = testimg_build(img, TI_DYN | TI_INTERP | TI_PHDR | TI_BSS);
	for (size_t len = 0; len <= n; len++)
		if (parse(len) == 0)
			check_invariants(&info, len);
	for (size_t byte = 0; byte < 64 + 5 * 56; byte++)
		for (int bit = 0; bit < 8; bit++) {
			img[byte] ^= (unsigned char)(1u << bit);
			if (parse(n) == 0)
				check_invariants(&info, n);
			else
				assert_true(err[0] != '\0');
			img[byte] ^= (unsigned char)(1u << bit);
		}
}

/* --- script_parse ------------------------------------------------------------ */

static struct script_line sl;

static int script(const char *text, size_t len)
{
	err[0] = '\0';
	return script_parse(text, len, &sl, err, sizeof(err));
}

#define SCRIPT(s) script((s), sizeof(s) - 1)

static void test_script(void **state)
{
	(void)state;

	assert_int_equal(SCRIPT("\177ELF"), 1);
	assert_int_equal(SCRIPT("#"), 1);
	assert_int_equal(SCRIPT(""), 1);
	assert_int_equal(SCRIPT("# !/bin/sh\n"), 1);

	assert_int_equal(SCRIPT("#!/bin/sh\necho hi\n"), 0);
	assert_string_equal(sl.name, "/bin/sh");
	assert_false(sl.has_arg);

	/* One argument, with its inner spaces; trailing blanks go. */
	assert_int_equal(SCRIPT("#! /usr/bin/env  python3 -u \t\nprint(1)\n"), 0);
	assert_string_equal(sl.name, "/usr/bin/env");
	assert_true(sl.has_arg);
	assert_string_equal(sl.arg, "python3 -u");

	assert_int_equal(SCRIPT("#!/bin/sh\t-e\t\n"), 0);
	assert_string_equal(sl.name, "/bin/sh");
	assert_string_equal(sl.arg, "-e");

	/* No newline in a short file: the zeroed rest of the buffer ends it. */
	assert_int_equal(SCRIPT("#!/bin/sh"), 0);
	assert_string_equal(sl.name, "/bin/sh");
	assert_false(sl.has_arg);

	/* A NUL before the newline: the name ends there, no argument. */
	assert_int_equal(SCRIPT("#!/bin/sh\0 -x\n"), 0);
	assert_string_equal(sl.name, "/bin/sh");
	assert_false(sl.has_arg);

	assert_int_equal(SCRIPT("#!\n"), -1);
	assert_non_null(strstr(err, "names no interpreter"));
	assert_int_equal(SCRIPT("#!   \t \n"), -1);
	assert_non_null(strstr(err, "names no interpreter"));

	/* Lines longer than the 256-byte buffer. */
	char big[400];
	memset(big, 'a', sizeof(big));
	big[0] = '#';
	big[1] = '!';
	big[2] = '/';
	assert_int_equal(script(big, sizeof(big)), -1);   /* the name itself is cut */
	assert_non_null(strstr(err, "longer than 255 bytes"));
	memcpy(big, "#!/bin/sh ", 10);
	assert_int_equal(script(big, sizeof(big)), 0);     /* only the argument is cut */
	assert_string_equal(sl.name, "/bin/sh");
	assert_int_equal(strlen(sl.arg), SCRIPT_HEAD - 1 - 10);
	memset(big, ' ', sizeof(big));
	big[0] = '#';
	big[1] = '!';
	assert_int_equal(script(big, sizeof(big)), -1);    /* all blanks */
}

/* --- stack_build --------------------------------------------------------------- */

static char *const t_argv[] = { "prog", "-x", "an argument with spaces", "" };
static char *const t_envp[] = { "A=1", "PATH=/usr/bin:/bin", "EMPTY=" };
static const uint64_t t_auxv[] = {
	AT_SYSINFO_EHDR, 0x7fff00000000, AT_MINSIGSTKSZ, 11952, AT_HWCAP, 0x1f8bfbff,
	AT_PAGESZ, 4096, AT_CLKTCK, 100, AT_PHDR, 0x555555554040, AT_PHENT, 56, AT_PHNUM, 13,
	AT_BASE, 0x7fff10000000, AT_FLAGS, 0, AT_ENTRY, 0x5555555563d0, AT_UID, 0, AT_EUID, 0,
	AT_GID, 0, AT_EGID, 0, AT_SECURE, 0, AT_RANDOM, 0, AT_HWCAP2, 2, AT_EXECFN, 0,
	AT_PLATFORM, 0, 27, 28, 28, 32,
};

/* Walk a built stack and check it against spec, word by word. */
static void walk_stack(const void *base, size_t size, const struct stack_spec *spec,
                       const struct stack_layout *lay)
{
	const uint64_t lo = (uint64_t)base, top = lo + size;
	const uint64_t *w = (const uint64_t *)lay->sp;

	assert_int_equal(lay->sp % 16, 0);
	assert_true(lay->sp >= lo && lay->sp < top);

	/* argc, argv[], NULL, envp[], NULL, auxv, AT_NULL: contiguous. */
	assert_int_equal(w[0], spec->argc);
	assert_int_equal(lay->argv, lay->sp + 8);
	const uint64_t *argv = w + 1;
	for (size_t i = 0; i < spec->argc; i++)
		assert_string_equal((const char *)argv[i], spec->argv[i]);
	assert_int_equal(argv[spec->argc], 0);
	const uint64_t *envp = argv + spec->argc + 1;
	assert_int_equal(lay->envp, (uint64_t)envp);
	for (size_t i = 0; i < spec->envc; i++)
		assert_string_equal((const char *)envp[i], spec->envp[i]);
	assert_int_equal(envp[spec->envc], 0);
	const uint64_t *aux = envp + spec->envc + 1;
	assert_int_equal(lay->auxv, (uint64_t)aux);
	size_t k = 0;
	for (; k < spec->auxc; k++) {
		uint64_t type = aux[2 * k], val = aux[2 * k + 1];
		assert_int_equal(type, spec->auxv[2 * k]);
		if (type == AT_RANDOM) {
			assert_int_equal(val, lay->random);
			assert_memory_equal((const void *)val, spec->random, 16);
		} else if (type == AT_EXECFN) {
			assert_int_equal(val, lay->execfn);
			assert_string_equal((const char *)val, spec->execfn);
		} else if (type == AT_PLATFORM && spec->platform) {
			assert_int_equal(val, lay->platform);
			assert_string_equal((const char *)val, spec->platform);
		} else {
			assert_int_equal(val, spec->auxv[2 * k + 1]);
		}
	}
	assert_int_equal(aux[2 * k], AT_NULL);
	assert_int_equal(aux[2 * k + 1], 0);
	uint64_t tables_end = (uint64_t)(aux + 2 * k + 2);

	/* Above the tables, less than 16 bytes of alignment slack, then the
	 * random bytes, the platform string right above them. */
	assert_true(tables_end <= lay->random);
	assert_true(lay->random - tables_end < 16);
	if (spec->platform) {
		assert_int_equal(lay->platform, lay->random + 16);
		assert_string_equal((const char *)lay->platform, spec->platform);
	}
	/* arch_align_stack: pad bytes below the strings, then down to 16. */
	uint64_t aligned = (lay->strings - spec->pad) & ~15ull;
	uint64_t above_random = lay->random + 16 +
	                        (spec->platform ? strlen(spec->platform) + 1 : 0);
	assert_int_equal(above_random, aligned);

	/* The strings: argv in order, env in order, the file name, then 8 zero
	 * bytes at the very top. */
	uint64_t s = lay->strings;
	for (size_t i = 0; i < spec->argc; i++) {
		assert_int_equal(argv[i], s);
		s += strlen(spec->argv[i]) + 1;
	}
	for (size_t i = 0; i < spec->envc; i++) {
		assert_int_equal(envp[i], s);
		s += strlen(spec->envp[i]) + 1;
	}
	assert_int_equal(lay->execfn, s);
	s += strlen(spec->execfn) + 1;
	assert_int_equal(s, top - 8);
	assert_int_equal(*(const uint64_t *)(top - 8), 0);
}

static void test_stack_layout(void **state)
{
	(void)state;
	const size_t size = 64 * 1024;
	void *region = aligned_alloc(4096, size);
	static const size_t pads[] = { 0, 1, 7, 15, 16, 17, 100, 4095, 8191 };
	assert_non_null(region);

	for (size_t p = 0; p < sizeof(pads) / sizeof(pads[0]); p++)
		for (size_t argc = 0; argc <= 4; argc++)
			for (size_t envc = 0; envc <= 3; envc++)
				for (int plat = 0; plat < 2; plat++) {
					struct stack_spec spec = {
						.argv = t_argv, .argc = argc,
						.envp = t_envp, .envc = envc,
						.execfn = "/usr/bin/prog",
						.platform = plat ? "x86_64" : NULL,
						.auxv = t_auxv,
						.auxc = sizeof(t_auxv) / sizeof(t_auxv[0]) / 2,
						.pad = pads[p],
					};
					for (int i = 0; i < 16; i++)
						spec.random[i] = (uint8_t)(0xa0 + i + argc);
					struct stack_layout lay;
					memset(region, 0x5a, size);
					assert_int_equal(stack_build(region, size, &spec, &lay), 0);
					walk_stack(region, size, &spec, &lay);
				}
	free(region);
}

static void test_stack_too_small(void **state)
{
	(void)state;
	const size_t size = 4096;
	char *region = aligned_alloc(4096, size);
	struct stack_layout lay;
	struct stack_spec spec = {
		.argv = t_argv, .argc = 4, .envp = t_envp, .envc = 3, .execfn = "/x",
		.platform = "x86_64", .auxv = t_auxv, .auxc = sizeof(t_auxv) / sizeof(t_auxv[0]) / 2,
	};

	assert_non_null(region);
	/* Every size from nothing up: refused until it fits, then exact. */
	int fitted = 0;
	for (size_t sz = 0; sz <= size; sz += 8) {
		int rc = stack_build(region + size - sz, sz, &spec, &lay);
		if (rc == 0) {
			walk_stack(region + size - sz, sz, &spec, &lay);
			fitted = 1;
		} else {
			assert_false(fitted);   /* once it fits, larger regions fit */
		}
	}
	assert_true(fitted);
	/* A long string that cannot fit. */
	char *huge = malloc(10000);
	memset(huge, 'x', 9999);
	huge[9999] = '\0';
	char *const hargv[] = { huge };
	spec.argv = hargv;
	spec.argc = 1;
	assert_int_equal(stack_build(region, size, &spec, &lay), -1);
	spec.argc = 0;
	spec.pad = 8191;   /* the pad alone does not fit */
	assert_int_equal(stack_build(region, size, &spec, &lay), -1);
	free(huge);
	free(region);
}

/* --- stack_auxv ------------------------------------------------------------------ */

static void test_stack_auxv(void **state)
{
	(void)state;
	const struct stack_target t = { .phdr = 0x1040, .phent = 56, .phnum = 9, .base = 0x7000,
	                                .entry = 0x1234 };
	uint64_t own[2 * 32], out[2 * 32];
	size_t n = sizeof(t_auxv) / sizeof(t_auxv[0]) / 2;

	memcpy(own, t_auxv, sizeof(t_auxv));
	/* The loader's own values, which must not survive. */
	own[2 * 9 + 1] = 1;                   /* AT_FLAGS */
	own[2 * n] = AT_EXECFD;
	own[2 * n + 1] = 3;
	own[2 * n + 2] = AT_NULL;
	own[2 * n + 3] = 0;
	own[2 * n + 4] = AT_UID;              /* after AT_NULL: ignored */
	own[2 * n + 5] = 77;

	long m = stack_auxv(own, n + 3, &t, out, 32);
	assert_int_equal(m, (long)n);        /* AT_EXECFD dropped, nothing added */
	for (size_t i = 0; i < n; i++) {
		uint64_t type = out[2 * i], val = out[2 * i + 1];
		assert_int_equal(type, t_auxv[2 * i]);   /* the kernel's order kept */
		switch (type) {
		case AT_PHDR:  assert_int_equal(val, t.phdr); break;
		case AT_PHENT: assert_int_equal(val, 56); break;
		case AT_PHNUM: assert_int_equal(val, 9); break;
		case AT_BASE:  assert_int_equal(val, t.base); break;
		case AT_ENTRY: assert_int_equal(val, t.entry); break;
		case AT_FLAGS: assert_int_equal(val, 0); break;
		default:       assert_int_equal(val, t_auxv[2 * i + 1]); break;
		}
	}

	/* A sparse vector: what the kernel always writes gets added. */
	const uint64_t sparse[] = { AT_PAGESZ, 4096, AT_HWCAP, 7, AT_NULL, 0 };
	m = stack_auxv(sparse, 3, &t, out, 32);
	assert_int_equal(m, 2 + 8);
	assert_int_equal(out[0], AT_PAGESZ);
	assert_int_equal(out[2], AT_HWCAP);
	static const uint64_t added[] = { AT_PHDR, AT_PHENT, AT_PHNUM, AT_BASE, AT_FLAGS,
	                                  AT_ENTRY, AT_RANDOM, AT_EXECFN };
	for (size_t i = 0; i < 8; i++)
		assert_int_equal(out[2 * (2 + i)], added[i]);
	assert_int_equal(out[2 * 2 + 1], t.phdr);
	assert_int_equal(out[2 * 7 + 1], t.entry);

	/* Too little room. */
	assert_int_equal(stack_auxv(own, n, &t, out, 5), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_bin_true),
		cmocka_unit_test(test_accept_ldso),
		cmocka_unit_test(test_accept_static),
		cmocka_unit_test(test_accept_minimal),
		cmocka_unit_test(test_refuse_header),
		cmocka_unit_test(test_refuse_phdr_table),
		cmocka_unit_test(test_refuse_segments),
		cmocka_unit_test(test_refuse_too_many_loads),
		cmocka_unit_test(test_refuse_entry),
		cmocka_unit_test(test_refuse_interp),
		cmocka_unit_test(test_refuse_phdr_location),
		cmocka_unit_test(test_flips_and_truncations),
		cmocka_unit_test(test_script),
		cmocka_unit_test(test_stack_layout),
		cmocka_unit_test(test_stack_too_small),
		cmocka_unit_test(test_stack_auxv),
	};
	return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
