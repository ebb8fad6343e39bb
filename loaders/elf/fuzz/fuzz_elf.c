/*
 * fuzz_elf.c - one fuzz input through the ELF loader's parsers.
 *
 * Beyond "no sanitizer report", what elf_parse accepts must be safe to map
 * without further checks, because elf_map and zpload trust it: every
 * segment inside the file and the user address space, mappable (offset and
 * address congruent), sorted and disjoint; the entry in executable file
 * bytes; the program headers really at phdr_vaddr; the interpreter path a
 * NUL-terminated string inside the file.  A refusal must come with a
 * message.  script_parse: a name without blanks or newlines, an argument
 * without a leading blank, and only for files that start with "#!".
 */
#include "fuzz_elf.h"

#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_parse.h"
#include "script.h"

static void violated(const char *what)
{
	fprintf(stderr, "fuzz_elf: invariant violated: %s\n", what);
	abort();
}

#define CHECK(cond) do { if (!(cond)) violated(#cond); } while (0)

static void check_accepted(const uint8_t *data, size_t size, const struct elf_info *in)
{
	CHECK(in->type == ET_EXEC || in->type == ET_DYN);
	CHECK(in->phent == sizeof(Elf64_Phdr));
	CHECK(in->phnum >= 1 && (uint64_t)in->phnum * sizeof(Elf64_Phdr) <= ELF_MAX_PHDR_BYTES);
	CHECK(in->phoff <= size && (uint64_t)in->phnum * sizeof(Elf64_Phdr) <= size - in->phoff);
	CHECK(in->nload >= 1 && in->nload <= ELF_MAX_LOAD);
	CHECK(in->align >= ELF_PAGE && (in->align & (in->align - 1)) == 0);

	int entry_ok = 0;
	for (size_t k = 0; k < in->nload; k++) {
		const struct elf_seg *s = &in->load[k];
		CHECK(s->memsz > 0);
		CHECK(s->filesz <= s->memsz);
		CHECK(s->offset <= size && s->filesz <= size - s->offset);
		CHECK(s->vaddr < ELF_USER_TOP && s->memsz <= ELF_USER_TOP - s->vaddr);
		CHECK(((s->vaddr ^ s->offset) & (ELF_PAGE - 1)) == 0);
		if (k > 0)
			CHECK(in->load[k - 1].vaddr + in->load[k - 1].memsz <= s->vaddr);
		if ((s->flags & PF_X) && in->entry >= s->vaddr && in->entry - s->vaddr < s->filesz)
			entry_ok = 1;
	}
	CHECK(entry_ok);
	const struct elf_seg *last = &in->load[in->nload - 1];
	CHECK(in->lo == ELF_PAGE_DOWN(in->load[0].vaddr));
	CHECK(in->hi == ELF_PAGE_UP(last->vaddr + last->memsz));
	CHECK(in->lo < in->hi && in->hi <= ELF_USER_TOP);

	/* The table as the program will read it through AT_PHDR. */
	uint64_t tabsz = (uint64_t)in->phnum * sizeof(Elf64_Phdr);
	int phdr_ok = 0;
	for (size_t k = 0; k < in->nload && !phdr_ok; k++) {
		const struct elf_seg *s = &in->load[k];
		if (in->phdr_vaddr >= s->vaddr && in->phdr_vaddr - s->vaddr <= s->filesz &&
		    tabsz <= s->filesz - (in->phdr_vaddr - s->vaddr)) {
			uint64_t off = s->offset + (in->phdr_vaddr - s->vaddr);
			CHECK(memcmp(data + off, data + in->phoff, tabsz) == 0);
			phdr_ok = 1;
		}
	}
	CHECK(phdr_ok);

	if (in->interp) {
		const uint8_t *p = (const uint8_t *)in->interp;
		CHECK(p >= data && p < data + size);
		CHECK(in->interp_len >= 1 && in->interp_len < (size_t)(data + size - p));
		CHECK(memchr(p, '\0', in->interp_len + 1) == p + in->interp_len);
	}
}

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

static void check_script(const uint8_t *data, size_t size)
{
	struct script_line sl;
	char err[128];

	err[0] = '\0';
	int rc = script_parse(data, size, &sl, err, sizeof(err));
	int hashbang = size >= 2 && data[0] == '#' && data[1] == '!';
	if (rc == 1) {
		CHECK(!hashbang);
		return;
	}
	CHECK(hashbang);
	if (rc < 0) {
		CHECK(err[0] != '\0');
		return;
	}
	CHECK(rc == 0);
	size_t n = strnlen(sl.name, sizeof(sl.name));
	CHECK(n > 0 && n < sizeof(sl.name));
	for (size_t i = 0; i < n; i++)
		CHECK(!blank(sl.name[i]) && sl.name[i] != '\n');
	if (sl.has_arg) {
		size_t a = strnlen(sl.arg, sizeof(sl.arg));
		/* Empty, or with a trailing blank, only when a NUL cut the line
		 * short, as the kernel does. */
		CHECK(a < sizeof(sl.arg));
		CHECK(a == 0 || !blank(sl.arg[0]));
		CHECK(memchr(sl.arg, '\n', a) == NULL);
	}
}

int fuzz_elf_one(const uint8_t *data, size_t size)
{
	struct elf_info in;
	char err[256];

	err[0] = '\0';
	int rc = elf_parse(data, size, &in, err, sizeof(err));
	if (rc == 0)
		check_accepted(data, size, &in);
	else {
		CHECK(rc == -1);
		CHECK(err[0] != '\0' && memchr(err, '\0', sizeof(err)) != NULL);
	}
	check_script(data, size);
	return rc == 0;
}
