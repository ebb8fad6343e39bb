/*
 * fuzz_main.c - the deterministic fuzz driver of the ELF loader's parsers
 * (`make elf-fuzz-run`).  Built with AddressSanitizer and UBSan: a memory
 * error, undefined behaviour or a violated invariant (fuzz_elf.c) aborts
 * the run with a non-zero exit.
 *
 *   fuzz_elf [N [SEED [SECONDS [FILE...]]]]
 *            defaults: 1000000 mutations, seed 1, stop after 25 s
 *
 * Seeds are made at run time: the system's /bin/true, /bin/ls, ld.so and a
 * static program (ldconfig), any FILEs given, the hand-built images of
 * elf_testimg.h, and a few "#!" lines.  First every truncation of each
 * seed's headers and every single-bit flip of its ELF header and program
 * header table; then N seeded random mutations, aimed mostly at the bytes
 * the parser reads (header, program headers, their fields as whole
 * numbers).
 *
 * Seeds stay in place, each in its own mapping with a PROT_NONE page after
 * 256 bytes of slack: a mutation is undone after its run instead of copying
 * a megabyte file per input, and the bytes past an input's (possibly
 * truncated) end are poisoned for ASan so that reading them is reported.
 *
 * Prints `fuzz_elf: N inputs (A accepted), 0 failures`.
 */
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "elf_parse.h"
#include "elf_testimg.h"
#include "fuzz_elf.h"
#include "../../../tests/fuzz_driver.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define SLACK       256          /* room to append junk */
#define POISON_MAX  (64 * 1024)  /* poison at most this much past an end */
#define MAX_SEEDS   64

struct seed {
	const char *name;
	uint8_t *data;      /* size bytes, then SLACK, then a PROT_NONE page */
	size_t size;
	uint64_t phoff;     /* the original table, where mutations aim */
	size_t tabsz;
};

static struct seed seeds[MAX_SEEDS];
static int nseeds;
static unsigned long inputs, accepted;

static void add_seed(const char *name, const void *bytes, size_t size)
{
	if (nseeds == MAX_SEEDS)
		return;
	size_t page = 4096, body = (size + SLACK + page - 1) & ~(page - 1);
	uint8_t *region = mmap(NULL, body + page, PROT_READ | PROT_WRITE,
	                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (region == MAP_FAILED || mprotect(region + body, page, PROT_NONE) != 0) {
		fprintf(stderr, "fuzz_elf: cannot map a seed buffer\n");
		exit(2);
	}
	struct seed *s = &seeds[nseeds++];
	s->name = name;
	s->data = region + body - SLACK - size;
	s->size = size;
	memcpy(s->data, bytes, size);
	s->phoff = 0;
	s->tabsz = 0;
	if (size >= sizeof(Elf64_Ehdr)) {
		Elf64_Ehdr eh;
		memcpy(&eh, bytes, sizeof(eh));
		if (eh.e_phoff < size) {
			s->phoff = eh.e_phoff;
			s->tabsz = (size_t)eh.e_phnum * sizeof(Elf64_Phdr);
			if (s->tabsz > size - s->phoff)
				s->tabsz = size - s->phoff;
		}
	}
}

static void add_file(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0 &&
	    st.st_size < 64 * 1024 * 1024) {
		void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p != MAP_FAILED) {
			add_seed(path, p, (size_t)st.st_size);
			munmap(p, (size_t)st.st_size);
		}
	}
	close(fd);
}

/* Run s's first len bytes (len <= size + SLACK), with what follows poisoned. */
static void run(struct seed *s, size_t len)
{
	uint8_t *end = s->data + s->size + SLACK;
	size_t tail = (size_t)(end - (s->data + len));
	if (tail > POISON_MAX)
		tail = POISON_MAX;
	POISON(s->data + len, tail);
	accepted += (unsigned long)fuzz_elf_one(s->data, len);
	UNPOISON(s->data + len, tail);
	inputs++;
}

/* --- mutations, undone after each run ------------------------------------------ */

#define UNDO_MAX 512
static size_t undo_pos[UNDO_MAX];
static uint8_t undo_old[UNDO_MAX];
static int nundo;

static void set_byte(struct seed *s, size_t at, uint8_t v)
{
	if (at >= s->size + SLACK || nundo == UNDO_MAX)
		return;
	undo_pos[nundo] = at;
	undo_old[nundo] = s->data[at];
	nundo++;
	s->data[at] = v;
}

static void undo(struct seed *s)
{
	while (nundo > 0) {
		nundo--;
		s->data[undo_pos[nundo]] = undo_old[nundo];
	}
}

/* A position the parser is likely to read. */
static size_t aim(const struct seed *s)
{
	uint64_t r = rnd() % 10;
	if (r < 3 || s->size <= 64)
		return rnd() % (s->size < 64 ? (s->size ? s->size : 1) : 64);
	if (r < 8 && s->tabsz)
		return s->phoff + rnd() % s->tabsz;
	size_t span = s->size < 8192 ? s->size : 8192;
	return rnd() % span;
}

static void set_field(struct seed *s, size_t at, int width, uint64_t v)
{
	for (int i = 0; i < width; i++)
		set_byte(s, at + (size_t)i, (uint8_t)(v >> (8 * i)));
}

/* A value a bounds check could get wrong. */
static uint64_t boundary(const struct seed *s)
{
	switch (rnd() % 16) {
	case 0:  return 0;
	case 1:  return 1;
	case 2:  return 0xfff;
	case 3:  return 0x1000;
	case 4:  return 0x1001;
	case 5:  return s->size;
	case 6:  return s->size - 1;
	case 7:  return s->size + 1;
	case 8:  return UINT64_MAX;
	case 9:  return UINT64_MAX - 0xfff;
	case 10: return 0x7fffffffffffffffull;
	case 11: return ELF_USER_TOP - 0x1000;
	case 12: return 1ull << 32;
	case 13: return 0x10000;
	case 14: return rnd() % (s->size + 1);
	default: return rnd();
	}
}

static const uint8_t interesting[] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x38,
                                       0x40, 0x7f, 0x80, 0xb7, 0xfe, 0xff };

/* Mutate s in place; returns the length to run. */
static size_t mutate(struct seed *s)
{
	size_t len = s->size;
	int rounds = 1 + (int)(rnd() % 4);

	for (int r = 0; r < rounds; r++) {
		switch (rnd() % 9) {
		case 0:   /* bit flip */
			if (s->size) {
				size_t at = aim(s);
				set_byte(s, at, s->data[at] ^ (uint8_t)(1u << (rnd() % 8)));
			}
			break;
		case 1:   /* interesting byte */
			if (s->size)
				set_byte(s, aim(s), interesting[rnd() % sizeof(interesting)]);
			break;
		case 2:   /* a random byte */
			if (s->size)
				set_byte(s, aim(s), (uint8_t)rnd());
			break;
		case 3:   /* a program header field (8 bytes at 8, 16, ... 48; or the type/flags) */
			if (s->tabsz >= sizeof(Elf64_Phdr)) {
				size_t i = rnd() % (s->tabsz / sizeof(Elf64_Phdr));
				size_t at = s->phoff + i * sizeof(Elf64_Phdr);
				if (rnd() % 4 == 0) {
					static const uint32_t types[] = { PT_LOAD, PT_INTERP, PT_PHDR,
					                                  PT_GNU_STACK, PT_NULL, PT_DYNAMIC };
					set_field(s, at, 4, types[rnd() % 6]);
				} else {
					set_field(s, at + 8 * (1 + rnd() % 6), 8, boundary(s));
				}
			}
			break;
		case 4:   /* an ELF header field */
			if (s->size >= 64) {
				static const struct { unsigned char at, width; } f[] = {
					{ 16, 2 }, { 18, 2 }, { 20, 4 }, { 24, 8 }, { 32, 8 },
					{ 54, 2 }, { 56, 2 }, { 4, 1 }, { 5, 1 }, { 6, 1 },
				};
				size_t k = rnd() % (sizeof(f) / sizeof(f[0]));
				uint64_t v = boundary(s);
				if (f[k].at == 56 && rnd() % 2)
					v = rnd() % 40;   /* a plausible e_phnum */
				set_field(s, f[k].at, f[k].width, v);
			}
			break;
		case 5:   /* truncate, mostly into the headers */
			if (len) {
				size_t span = rnd() % 2 ? len : (len < 4096 ? len : 4096);
				len = rnd() % (span + 1);
			}
			break;
		case 6:   /* append junk into the slack */
			if (len == s->size) {
				size_t k = 1 + rnd() % SLACK;
				for (size_t i = 0; i < k; i++)
					set_byte(s, s->size + i, (uint8_t)rnd());
				len = s->size + k;
			}
			break;
		case 7:   /* copy one program header over another */
			if (s->tabsz >= 2 * sizeof(Elf64_Phdr)) {
				size_t n = s->tabsz / sizeof(Elf64_Phdr);
				size_t a = rnd() % n, b = rnd() % n;
				for (size_t i = 0; i < sizeof(Elf64_Phdr); i++)
					set_byte(s, s->phoff + b * sizeof(Elf64_Phdr) + i,
					         s->data[s->phoff + a * sizeof(Elf64_Phdr) + i]);
			}
			break;
		default:  /* a "#!" line */
			if (s->size >= 4 && rnd() % 4 == 0) {
				set_byte(s, 0, '#');
				set_byte(s, 1, '!');
				for (int i = 0; i < 4; i++)
					set_byte(s, 2 + rnd() % (s->size < 300 ? s->size - 2 : 298),
					         (uint8_t)" \t\n\0/a"[rnd() % 6]);
			}
			break;
		}
	}
	return len;
}

int main(int argc, char **argv)
{
	struct fuzz_args args = fuzz_args_parse(argc, argv, 25.0);
	unsigned long n = args.n, seed = args.seed;
	double limit = args.limit;
	double t0 = now_s();


	/* The seed corpus. */
	static const char *const files[] = { "/bin/true", "/bin/ls", "/lib64/ld-linux-x86-64.so.2",
	                                     "/usr/sbin/ldconfig", "/sbin/ldconfig" };
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		add_file(files[i]);
	for (int i = 4; i < argc; i++)
		add_file(argv[i]);
	int nfiles = nseeds;
	static unsigned char img[TESTIMG_SIZE];
	for (unsigned opts = 0; opts < 16; opts++) {
		size_t sz = testimg_build(img, opts);
		add_seed("testimg", img, sz);
	}
	static const char *const scripts[] = {
		"#!/bin/sh\necho hi\n", "#! /usr/bin/env  python3 -u \n", "#!/bin/sh", "#!\n",
		"#!/bin/sh\0 -x\n", "#!\t/bin/bash\t-e\t\n",
	};
	for (size_t i = 0; i < sizeof(scripts) / sizeof(scripts[0]); i++)
		add_seed("script", scripts[i], strlen(scripts[i]) + (i == 4 ? 5 : 0));
	if (nfiles == 0)
		fprintf(stderr, "fuzz_elf: none of the system's programs could be read; "
		        "hand-built seeds only\n");

	/* 1. Deterministic: every truncation within the headers, every bit of
	 * the ELF header and of the program header table. */
	for (int i = 0; i < nseeds; i++) {
		struct seed *s = &seeds[i];
		size_t hdr_end = s->phoff + s->tabsz;
		if (hdr_end < 64)
			hdr_end = 64;
		for (size_t len = 0; len <= s->size && len <= hdr_end + 64; len++)
			run(s, len);
		run(s, s->size - 1);
		run(s, s->size / 2);
		run(s, s->size);
		for (size_t at = 0; at < s->size && at < hdr_end; at++)
			for (int bit = 0; bit < 8; bit++) {
				s->data[at] ^= (uint8_t)(1u << bit);
				run(s, s->size);
				s->data[at] ^= (uint8_t)(1u << bit);
			}
	}
	unsigned long det = inputs;

	/* 2. Seeded random mutations, bounded in count and time. */
	unsigned long done = 0;
	for (; done < n; done++) {
		if ((done & 1023) == 0 && now_s() - t0 > limit)
			break;
		struct seed *s = &seeds[rnd() % (uint64_t)nseeds];
		size_t len = mutate(s);
		run(s, len);
		undo(s);
	}

	printf("fuzz_elf: %lu inputs (%lu accepted), 0 failures\n", inputs, accepted);
	fprintf(stderr, "fuzz_elf: %d seeds (%d system files), %lu deterministic inputs, "
	        "%lu of %lu mutations (seed %lu), %.1f s\n",
	        nseeds, nfiles, det, done, n, seed, now_s() - t0);
	return 0;
}
