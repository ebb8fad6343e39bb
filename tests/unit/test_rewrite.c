/*
 * test_rewrite.c - cmocka unit tests for the system call finder
 * (zp_find_sites in zpoline/rewrite.h).
 *
 * Each test hands the finder a small synthetic code buffer whose correct
 * decoding we know by construction, and checks the sites it reports.  The
 * interesting cases are the bytes 0f 05 / 0f 34 appearing *inside* another
 * instruction (immediate, displacement, ModRM/SIB, movabs imm64): rewriting
 * those would corrupt the program, so they must never be reported.
 *
 * The last tests compare the finder with an independent ground truth on real
 * code: `objdump -d` of the .text section of the system's libc and ld.so.
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

#include "../../zpoline/rewrite.h"

#define MAX_SITES 4096

/* Everything the callback saw during one scan. */
struct collected {
	size_t count;
	struct zp_site sites[MAX_SITES];
	size_t stop_after; /* return non-zero from the callback after this many; 0 = never */
};

static int collect_site(const struct zp_site *site, void *arg)
{
	struct collected *c = arg;
	if (c->count < MAX_SITES)
		c->sites[c->count] = *site;
	c->count++;
	return c->stop_after != 0 && c->count >= c->stop_after;
}

/* Scan a buffer; check the return value agrees with the callbacks. */
static long scan(const uint8_t *code, size_t len, uint64_t vaddr,
		 struct collected *c, struct zp_scan_stats *stats)
{
	memset(c, 0, sizeof(*c));
	memset(stats, 0, sizeof(*stats));
	long n = zp_find_sites(code, len, vaddr, collect_site, c, stats);
	assert_true(n >= 0);
	assert_int_equal((size_t)n, c->count);
	assert_int_equal(stats->sites, c->count);
	return n;
}

static const uint64_t BASE = 0x401000;

/* --- plain instructions ------------------------------------------------ */

static void test_plain_syscall(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_int_equal(c.sites[0].addr, BASE);
	assert_int_equal(c.sites[0].kind, ZP_SITE_SYSCALL);
	assert_int_equal(c.sites[0].flags & ZP_SITE_REDZONE, 0);
	assert_int_equal(st.insns, 1);
	assert_int_equal(st.bytes, 2);
	assert_false(st.truncated);
}

static void test_plain_sysenter(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x0f, 0x34 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_int_equal(c.sites[0].addr, BASE);
	assert_int_equal(c.sites[0].kind, ZP_SITE_SYSENTER);
}

static void test_empty_buffer(void **state)
{
	(void)state;
	static const uint8_t code[1] = { 0x90 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, 0, BASE, &c, &st), 0);
	assert_false(st.truncated);
}

static void test_no_syscall_in_ordinary_code(void **state)
{
	(void)state;
	/* push %rbp; mov %rsp,%rbp; xor %eax,%eax; pop %rbp; ret */
	static const uint8_t code[] = { 0x55, 0x48, 0x89, 0xe5, 0x31, 0xc0, 0x5d, 0xc3 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_int_equal(st.insns, 5);
	assert_int_equal(st.bytes, sizeof(code));
}

static void test_back_to_back(void **state)
{
	(void)state;
	/* syscall; syscall; sysenter; syscall */
	static const uint8_t code[] = { 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x34, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 4);
	assert_int_equal(c.sites[0].addr, BASE + 0);
	assert_int_equal(c.sites[1].addr, BASE + 2);
	assert_int_equal(c.sites[2].addr, BASE + 4);
	assert_int_equal(c.sites[3].addr, BASE + 6);
	assert_int_equal(c.sites[0].kind, ZP_SITE_SYSCALL);
	assert_int_equal(c.sites[1].kind, ZP_SITE_SYSCALL);
	assert_int_equal(c.sites[2].kind, ZP_SITE_SYSENTER);
	assert_int_equal(c.sites[3].kind, ZP_SITE_SYSCALL);
	assert_int_equal(st.insns, 4);
}

/* The typical libc wrapper: mov $39,%eax; syscall; ret */
static void test_libc_style_wrapper(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0xb8, 0x27, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xc3 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_int_equal(c.sites[0].addr, BASE + 5);
	assert_int_equal(st.insns, 3);
}

/* --- 0f 05 inside other instructions ----------------------------------- */

static void test_inside_imm32(void **state)
{
	(void)state;
	/* mov $0x50f,%eax  (b8 0f 05 00 00) */
	static const uint8_t code[] = { 0xb8, 0x0f, 0x05, 0x00, 0x00 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_int_equal(st.insns, 1);
	assert_false(st.truncated);
}

static void test_inside_imm32_then_real(void **state)
{
	(void)state;
	/* mov $0x50f,%eax; syscall  - only the second is real */
	static const uint8_t code[] = { 0xb8, 0x0f, 0x05, 0x00, 0x00, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_int_equal(c.sites[0].addr, BASE + 5);
}

static void test_sysenter_inside_imm32(void **state)
{
	(void)state;
	/* mov $0x340f,%ecx (b9 0f 34 00 00) */
	static const uint8_t code[] = { 0xb9, 0x0f, 0x34, 0x00, 0x00 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
}

static void test_inside_disp32(void **state)
{
	(void)state;
	/* mov 0x50f(%rax),%eax  (8b 80 0f 05 00 00) */
	static const uint8_t code[] = { 0x8b, 0x80, 0x0f, 0x05, 0x00, 0x00 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_int_equal(st.insns, 1);
}

static void test_inside_rip_disp32(void **state)
{
	(void)state;
	/* lea 0x50f050f(%rip),%rax  (48 8d 05 0f 05 0f 05): 05 is the ModRM byte
	 * (RIP-relative), the disp32 is 0f 05 0f 05 */
	static const uint8_t code[] = { 0x48, 0x8d, 0x05, 0x0f, 0x05, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_int_equal(st.insns, 1);
}

static void test_inside_sib_disp8(void **state)
{
	(void)state;
	/* mov 0x5(%rdi,%rcx,1),%eax  (8b 44 0f 05): 0f is the SIB byte, 05 the disp8 */
	static const uint8_t code[] = { 0x8b, 0x44, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_int_equal(st.insns, 1);
}

static void test_inside_modrm_imm8(void **state)
{
	(void)state;
	/* rorl $0x5,(%rdi)  (c1 0f 05): 0f is the ModRM byte, 05 the imm8 */
	static const uint8_t code[] = { 0xc1, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_int_equal(st.insns, 1);
}

static void test_inside_movabs_imm64(void **state)
{
	(void)state;
	/* movabs $0x050f050f050f050f,%rax (48 b8 + 8 bytes), then a real syscall */
	static const uint8_t code[] = { 0x48, 0xb8, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05,
					0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_int_equal(c.sites[0].addr, BASE + 10);
	assert_int_equal(st.insns, 2);
}

static void test_inside_movabs_imm64_tail(void **state)
{
	(void)state;
	/* movabs $0x050f000000000000,%rdx: 0f 05 are the last two bytes of imm64 */
	static const uint8_t code[] = { 0x48, 0xba, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_int_equal(st.insns, 1);
	assert_false(st.truncated);
}

/* A longer mixed sequence: the finder must stay in sync across all of it. */
static void test_mixed_sequence(void **state)
{
	(void)state;
	static const uint8_t code[] = {
		0xb8, 0x0f, 0x05, 0x00, 0x00,             /* +0  mov $0x50f,%eax      */
		0x0f, 0x05,                               /* +5  syscall  <- site     */
		0x8b, 0x80, 0x0f, 0x05, 0x00, 0x00,       /* +7  mov 0x50f(%rax),%eax */
		0x8b, 0x44, 0x0f, 0x05,                   /* +13 mov 0x5(%rdi,%rcx),%eax */
		0x0f, 0x34,                               /* +17 sysenter <- site     */
		0x48, 0xb8, 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x34, 0x0f, 0x05, /* +19 movabs */
		0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00,       /* +29 nopw 0x0(%rax,%rax)  */
		0x0f, 0x05,                               /* +35 syscall  <- site     */
		0xc3,                                     /* +37 ret                  */
	};
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 3);
	assert_int_equal(c.sites[0].addr, BASE + 5);
	assert_int_equal(c.sites[0].kind, ZP_SITE_SYSCALL);
	assert_int_equal(c.sites[1].addr, BASE + 17);
	assert_int_equal(c.sites[1].kind, ZP_SITE_SYSENTER);
	assert_int_equal(c.sites[2].addr, BASE + 35);
	assert_int_equal(c.sites[2].kind, ZP_SITE_SYSCALL);
	assert_int_equal(st.insns, 9);
	assert_int_equal(st.bytes, sizeof(code));
	assert_false(st.truncated);
}

/* --- truncation -------------------------------------------------------- */

static void test_truncated_imm32(void **state)
{
	(void)state;
	/* mov $imm32,%eax cut after 0f 05: the bytes must not be taken as a syscall */
	static const uint8_t code[] = { 0xb8, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_true(st.truncated);
}

static void test_truncated_movabs(void **state)
{
	(void)state;
	/* movabs with only 4 of its 8 immediate bytes present */
	static const uint8_t code[] = { 0x48, 0xb8, 0x0f, 0x05, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_true(st.truncated);
}

static void test_truncated_lone_0f(void **state)
{
	(void)state;
	/* nop; then the first byte of a two-byte opcode and nothing more */
	static const uint8_t code[] = { 0x90, 0x0f };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 0);
	assert_true(st.truncated);
}

static void test_truncated_after_site(void **state)
{
	(void)state;
	/* a complete syscall, then a cut-off instruction: the site is reported */
	static const uint8_t code[] = { 0x0f, 0x05, 0xb8, 0x01 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_int_equal(c.sites[0].addr, BASE);
	assert_true(st.truncated);
}

static void test_not_truncated_exact_end(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x90, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_false(st.truncated);
	assert_int_equal(st.bytes, 3);
}

/* --- addresses and the callback protocol --------------------------------- */

static void test_vaddr_reporting(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x90, 0x90, 0x0f, 0x05, 0x90, 0x0f, 0x34 };
	struct collected c;
	struct zp_scan_stats st;
	const uint64_t high = 0x7fff12345000ull;
	assert_int_equal(scan(code, sizeof(code), high, &c, &st), 2);
	assert_int_equal(c.sites[0].addr, high + 2);
	assert_int_equal(c.sites[1].addr, high + 5);
	/* the same buffer at vaddr 0: offsets only */
	assert_int_equal(scan(code, sizeof(code), 0, &c, &st), 2);
	assert_int_equal(c.sites[0].addr, 2);
	assert_int_equal(c.sites[1].addr, 5);
}

/* The run-time address must not change how relative branches are decoded
 * into a site list (a jmp before a syscall). */
static void test_vaddr_with_branch(void **state)
{
	(void)state;
	/* jmp +2; syscall; syscall */
	static const uint8_t code[] = { 0xeb, 0x02, 0x0f, 0x05, 0x0f, 0x05 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), 0x555555554000ull, &c, &st), 2);
	assert_int_equal(c.sites[0].addr, 0x555555554002ull);
	assert_int_equal(c.sites[1].addr, 0x555555554004ull);
}

static void test_callback_stops_scan(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x0f, 0x05, 0x0f, 0x05, 0x0f, 0x05 };
	struct collected c;
	memset(&c, 0, sizeof(c));
	c.stop_after = 1;
	long n = zp_find_sites(code, sizeof(code), BASE, collect_site, &c, NULL);
	assert_int_equal(c.count, 1);
	assert_int_equal(n, 1);
}

static void test_null_stats_allowed(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x0f, 0x05, 0x0f, 0x34 };
	struct collected c;
	memset(&c, 0, sizeof(c));
	assert_int_equal(zp_find_sites(code, sizeof(code), BASE, collect_site, &c, NULL), 2);
	assert_int_equal(c.count, 2);
}

/* --- the red-zone flag ------------------------------------------------- */

/* mov %rdi,-0x8(%rsp); mov $39,%eax; syscall; ret  -> flagged */
static void test_redzone_store_before_syscall(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x48, 0x89, 0x7c, 0x24, 0xf8,
					0xb8, 0x27, 0x00, 0x00, 0x00,
					0x0f, 0x05, 0xc3 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_int_equal(c.sites[0].addr, BASE + 10);
	assert_true(c.sites[0].flags & ZP_SITE_REDZONE);
	assert_int_equal(st.redzone_sites, 1);
}

/* syscall; mov -0x8(%rsp),%rax; ret  -> the slot is read after the call: flagged */
static void test_redzone_load_after_syscall(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x0f, 0x05, 0x48, 0x8b, 0x44, 0x24, 0xf8, 0xc3 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_true(c.sites[0].flags & ZP_SITE_REDZONE);
	assert_int_equal(st.redzone_sites, 1);
}

/* mov %rdi,-0x8(%rsp); ret; syscall; ret  -> the ret separates them: not flagged */
static void test_redzone_separated_by_ret(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x48, 0x89, 0x7c, 0x24, 0xf8, 0xc3, 0x0f, 0x05, 0xc3 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_int_equal(c.sites[0].addr, BASE + 6);
	assert_false(c.sites[0].flags & ZP_SITE_REDZONE);
	assert_int_equal(st.redzone_sites, 0);
}

/* syscall; ret; mov -0x8(%rsp),%rax; ret  -> separated after the site: not flagged */
static void test_redzone_load_after_ret(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x0f, 0x05, 0xc3, 0x48, 0x8b, 0x44, 0x24, 0xf8, 0xc3 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_false(c.sites[0].flags & ZP_SITE_REDZONE);
}

/* mov %rdi,-0x10(%rsp); syscall; ret  -> below the return-address slot: not flagged */
static void test_redzone_minus16_not_flagged(void **state)
{
	(void)state;
	static const uint8_t code[] = { 0x48, 0x89, 0x7c, 0x24, 0xf0, 0x0f, 0x05, 0xc3 };
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 1);
	assert_false(c.sites[0].flags & ZP_SITE_REDZONE);
	assert_int_equal(st.redzone_sites, 0);
}

/* Only the site in the function that uses the slot is flagged. */
static void test_redzone_two_functions(void **state)
{
	(void)state;
	static const uint8_t code[] = {
		0x0f, 0x05, 0xc3,                         /* f1: syscall; ret        */
		0x48, 0x89, 0x7c, 0x24, 0xf8,             /* f2: mov %rdi,-0x8(%rsp) */
		0x0f, 0x05, 0xc3,                         /*     syscall; ret        */
		0x0f, 0x05, 0xc3,                         /* f3: syscall; ret        */
	};
	struct collected c;
	struct zp_scan_stats st;
	assert_int_equal(scan(code, sizeof(code), BASE, &c, &st), 3);
	assert_false(c.sites[0].flags & ZP_SITE_REDZONE);
	assert_true(c.sites[1].flags & ZP_SITE_REDZONE);
	assert_int_equal(c.sites[1].addr, BASE + 8);
	assert_false(c.sites[2].flags & ZP_SITE_REDZONE);
	assert_int_equal(st.redzone_sites, 1);
}

/* --- ground truth on real code: objdump ------------------------------- */

/* Find section `name` of an ELF64 file mapped at `file`. */
static const Elf64_Shdr *find_section(const uint8_t *file, size_t size, const char *name)
{
	const Elf64_Ehdr *eh = (const Elf64_Ehdr *)file;
	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return NULL;
	const Elf64_Shdr *sh = (const Elf64_Shdr *)(file + eh->e_shoff);
	const char *names = (const char *)file + sh[eh->e_shstrndx].sh_offset;
	for (unsigned i = 0; i < eh->e_shnum; i++)
		if (strcmp(names + sh[i].sh_name, name) == 0)
			return &sh[i];
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/*
 * Addresses of syscall/sysenter in .text according to objdump, which syncs at
 * every symbol, so it is a fair independent reference for a linear sweep.
 */
static size_t objdump_sites(const char *path, uint64_t *out, size_t max)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "objdump -d -j .text --no-show-raw-insn '%s' 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	char line[1024];
	size_t n = 0;
	while (fgets(line, sizeof(line), p)) {
		/* "   2a0e4:\tsyscall" (possibly followed by spaces) */
		char *colon = strchr(line, ':');
		if (!colon || colon[1] != '\t')
			continue;
		char mnem[32];
		if (sscanf(colon + 2, "%31s", mnem) != 1)
			continue;
		if (strcmp(mnem, "syscall") != 0 && strcmp(mnem, "sysenter") != 0)
			continue;
		if (n < max)
			out[n] = strtoull(line, NULL, 16);
		n++;
	}
	pclose(p);
	return n;
}

static void compare_with_objdump(const char *path)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		print_message("skip: %s not present\n", path);
		skip();
	}
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	uint8_t *file = mmap(NULL, sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	assert_true(file != MAP_FAILED);
	const Elf64_Shdr *text = find_section(file, sb.st_size, ".text");
	assert_non_null(text);

	static struct collected c;
	struct zp_scan_stats st;
	memset(&c, 0, sizeof(c));
	long n = zp_find_sites(file + text->sh_offset, text->sh_size, text->sh_addr,
			       collect_site, &c, &st);
	assert_true(n > 0);
	assert_true((size_t)n <= MAX_SITES);

	static uint64_t expect[MAX_SITES];
	size_t ne = objdump_sites(path, expect, MAX_SITES);
	assert_true(ne > 0 && ne <= MAX_SITES);
	qsort(expect, ne, sizeof(expect[0]), cmp_u64);

	size_t mismatches = 0;
	for (size_t i = 0; i < ne || i < (size_t)n; i++) {
		uint64_t got = i < (size_t)n ? c.sites[i].addr : 0;
		uint64_t want = i < ne ? expect[i] : 0;
		if (got != want && mismatches++ < 5)
			print_message("%s: site %zu: finder 0x%llx, objdump 0x%llx\n", path, i,
				      (unsigned long long)got, (unsigned long long)want);
	}
	print_message("%s: finder %ld sites (%zu insns, %zu bytes), objdump %zu\n", path, n,
		      st.insns, st.bytes, ne);
	munmap(file, sb.st_size);
	assert_int_equal((size_t)n, ne);
	assert_int_equal(mismatches, 0);
}

static void test_libc_matches_objdump(void **state)
{
	(void)state;
	compare_with_objdump("/lib/x86_64-linux-gnu/libc.so.6");
}

static void test_ldso_matches_objdump(void **state)
{
	(void)state;
	compare_with_objdump("/lib64/ld-linux-x86-64.so.2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_syscall),
		cmocka_unit_test(test_plain_sysenter),
		cmocka_unit_test(test_empty_buffer),
		cmocka_unit_test(test_no_syscall_in_ordinary_code),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_libc_style_wrapper),
		cmocka_unit_test(test_inside_imm32),
		cmocka_unit_test(test_inside_imm32_then_real),
		cmocka_unit_test(test_sysenter_inside_imm32),
		cmocka_unit_test(test_inside_disp32),
		cmocka_unit_test(test_inside_rip_disp32),
		cmocka_unit_test(test_inside_sib_disp8),
		cmocka_unit_test(test_inside_modrm_imm8),
		cmocka_unit_test(test_inside_movabs_imm64),
		cmocka_unit_test(test_inside_movabs_imm64_tail),
		cmocka_unit_test(test_mixed_sequence),
		cmocka_unit_test(test_truncated_imm32),
		cmocka_unit_test(test_truncated_movabs),
		cmocka_unit_test(test_truncated_lone_0f),
		cmocka_unit_test(test_truncated_after_site),
		cmocka_unit_test(test_not_truncated_exact_end),
		cmocka_unit_test(test_vaddr_reporting),
		cmocka_unit_test(test_vaddr_with_branch),
		cmocka_unit_test(test_callback_stops_scan),
		cmocka_unit_test(test_null_stats_allowed),
		cmocka_unit_test(test_redzone_store_before_syscall),
		cmocka_unit_test(test_redzone_load_after_syscall),
		cmocka_unit_test(test_redzone_separated_by_ret),
		cmocka_unit_test(test_redzone_load_after_ret),
		cmocka_unit_test(test_redzone_minus16_not_flagged),
		cmocka_unit_test(test_redzone_two_functions),
		cmocka_unit_test(test_libc_matches_objdump),
		cmocka_unit_test(test_ldso_matches_objdump),
	};
	const size_t total = sizeof(tests) / sizeof(tests[0]);
	int failed = cmocka_run_group_tests_name("rewrite", tests, NULL, NULL);
	/* cmocka's own summary goes to stderr; this is the suite's closing line. */
	fflush(stderr);
	printf("tests: %zu passed, %d failed\n", total - (size_t)failed, failed);
	return failed ? 1 : 0;
}
