/*
 * trampoline.c - the code at virtual address 0.
 *
 * A rewritten site executes `call *%rax` with %rax = system call number n, so
 * it jumps to address n.  Page 0 therefore holds code on which *every* byte
 * is a valid place to start executing, and from every byte execution reaches
 * zp_entry with %rax untouched.
 *
 * The published design fills the first 512 bytes with one-byte NOPs; getpid
 * (39) then walks 473 of them, about 100 cycles.  We walk by hops instead:
 *
 *   "eb 48" repeated: at an even offset this is `jmp .+74`, which lands on
 *   an even offset again.  At an odd offset the byte 0x48 is a REX.W prefix
 *   in front of the next `eb 48`: `48 eb 48` is still `jmp` (REX.W does not
 *   change a short jump), 3 bytes long, landing 75 bytes on - an even offset
 *   once more.  So every entry point moves forward 74 or 75 bytes per jump:
 *   getpid takes 7 jumps instead of 473 NOPs.
 *
 * A second band of "eb 26" (0x26 is the ES segment prefix, ignored in
 * 64-bit mode) hops 40/41 bytes, then a NOP runway of 42 bytes catches every
 * landing, and a `jmp rel32` leaves page 0.  rel32 cannot reach libzpoline
 * (it is mapped far above 4 GiB), so it goes to a stub page mapped at about
 * 1.2 GiB that holds `jmp *addr(%rip)` to zp_entry.  Why 1.2 GiB: the four
 * bytes of rel32 are themselves entry points (system call numbers), so each
 * must be a harmless prefix; 0x48 (REX.W) fits, giving rel32 = 0x48484848.
 *
 * The rest of page 0 repeats the pattern, so any number up to 4091 reaches
 * the entry and gets the kernel's answer (-ENOSYS for numbers the kernel
 * does not know: e.g. syscall(1000), a crash in upstream zpoline).  The last
 * four bytes are the final rel32; from them execution would run off the page
 * (numbers 4092..4095, and anything >= 4096, fault as a jump into unmapped
 * memory would).
 *
 * After it is written, page 0 is mapped PROT_EXEC only.  On CPUs with
 * protection keys Linux backs exec-only mappings with an access-disabled
 * key, so reads of NULL still fault (execute-only memory); elsewhere page 0
 * is at least not writable.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "zpoline.h"

#define PAGE 4096UL
#define TRAMP_SIZE PAGE
#define SLED_END 512          /* every x86-64 system call number is below 512 */
#define HOP_WIDE 0x48         /* jmp .+74 / REX.W jmp .+75 */
#define HOP_NARROW 0x26       /* jmp .+40 / ES jmp .+41 */
#define NARROW_BAND 80        /* > 75: catches every wide hop */
#define NOP_RUNWAY 42         /* > 41: catches every narrow hop */
#define JMP_REL32_LEN 5

static uint64_t stub_start, stub_end;

/* Candidate rel32 values: every byte is a prefix that is harmless in front of
 * the next segment's `eb` (REX without effect on jmp, or a null segment). */
static const uint32_t stub_rel32_candidates[] = {
	0x48484848, 0x4a4a4a4a, 0x4c4c4c4c, 0x4e4e4e4e, 0x44444444,
	0x42424242, 0x40404040, 0x3e3e3e3e, 0x2e2e2e2e, 0x36363636,
};

static size_t fill_hops(uint8_t *p, size_t at, size_t end, uint8_t disp)
{
	for (; at + 1 < end; at += 2) {
		p[at] = 0xeb;
		p[at + 1] = disp;
	}
	return at;
}

/*
 * One segment: wide hops from `at` up to `jmp_at - NOP_RUNWAY - NARROW_BAND`,
 * the narrow band, the runway, then jmp rel32 at jmp_at.  Returns the offset
 * after the jmp.  Band boundaries are kept at even distances from `at`, so a
 * hop always lands on an `eb`.
 */
static size_t fill_segment(uint8_t *p, size_t at, size_t jmp_at, uint32_t rel32)
{
	size_t narrow = jmp_at - NOP_RUNWAY - NARROW_BAND;
	if ((narrow - at) % 2)
		narrow--;
	fill_hops(p, at, narrow, HOP_WIDE);
	size_t runway = fill_hops(p, narrow, narrow + NARROW_BAND, HOP_NARROW);
	memset(p + runway, 0x90, jmp_at - runway);
	p[jmp_at] = 0xe9;
	memcpy(p + jmp_at + 1, &rel32, 4);
	return jmp_at + JMP_REL32_LEN;
}

/* The stub: `jmp *0(%rip)` followed by the 8-byte address of zp_entry. */
static void put_stub(uint8_t *p)
{
	static const uint8_t jmp_rip[6] = { 0xff, 0x25, 0, 0, 0, 0 };
	uint64_t target = (uint64_t)(uintptr_t)zp_entry;
	memcpy(p, jmp_rip, sizeof jmp_rip);
	memcpy(p + sizeof jmp_rip, &target, 8);
}

static void page0_failed(int err)
{
	long min_addr = -1;
	FILE *f = fopen("/proc/sys/vm/mmap_min_addr", "r");
	if (f) {
		if (fscanf(f, "%ld", &min_addr) != 1)
			min_addr = -1;
		fclose(f);
	}
	if (err == EEXIST)
		fprintf(stderr, "zpoline: page 0 is already mapped in this process; "
			"something else (an emulator?) uses it, so zpoline cannot run here\n");
	else if (access("/sys/fs/selinux/enforce", F_OK) == 0)
		fprintf(stderr, "zpoline: cannot map page 0 (%s, vm.mmap_min_addr=%ld): run as root, "
			"or sysctl -w vm.mmap_min_addr=0, and setsebool -P mmap_low_allowed 1\n",
			strerror(err), min_addr);
	else
		fprintf(stderr, "zpoline: cannot map page 0 (%s, vm.mmap_min_addr=%ld): run as root "
			"or set vm.mmap_min_addr=0 (sysctl -w vm.mmap_min_addr=0)\n",
			strerror(err), min_addr);
	exit(127);
}

int zp_trampoline_setup(void)
{
	uint8_t *page0 = mmap((void *)0, TRAMP_SIZE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (page0 == MAP_FAILED)
		page0_failed(errno);
	if (page0 != NULL) {          /* an old kernel ignoring the _NOREPLACE hint */
		munmap(page0, TRAMP_SIZE);
		page0_failed(EPERM);
	}

	/* Segment 1 ends right after the sled bands; segment 2 fills the page. */
	size_t jmp1 = SLED_END + NARROW_BAND + NOP_RUNWAY;
	size_t jmp2 = TRAMP_SIZE - JMP_REL32_LEN;

	/* Find a rel32 whose two targets (one per segment) we can map. */
	uint8_t *stub = MAP_FAILED;
	uint32_t rel32 = 0;
	for (size_t i = 0; i < sizeof stub_rel32_candidates / sizeof stub_rel32_candidates[0]; i++) {
		rel32 = stub_rel32_candidates[i];
		uint64_t t1 = jmp1 + JMP_REL32_LEN + (uint64_t)rel32;
		uint64_t t2 = jmp2 + JMP_REL32_LEN + (uint64_t)rel32;
		stub_start = t1 & ~(PAGE - 1);
		stub_end = (t2 + 16 + PAGE - 1) & ~(PAGE - 1);
		stub = mmap((void *)(uintptr_t)stub_start, stub_end - stub_start, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (stub != MAP_FAILED && (uint64_t)(uintptr_t)stub == stub_start)
			break;
		if (stub != MAP_FAILED)
			munmap(stub, stub_end - stub_start);
		stub = MAP_FAILED;
	}
	if (stub == MAP_FAILED) {
		fprintf(stderr, "zpoline: no free address for the trampoline stub near 1 GiB "
			"(the program maps that region); cannot run here\n");
		exit(127);
	}
	/* Fill the stub pages with int3, then the two jumps to zp_entry. */
	memset(stub, 0xcc, stub_end - stub_start);
	put_stub(stub + (jmp1 + JMP_REL32_LEN + rel32 - stub_start));
	put_stub(stub + (jmp2 + JMP_REL32_LEN + rel32 - stub_start));

	size_t seg2 = fill_segment(page0, 0, jmp1, rel32);
	fill_segment(page0, seg2, jmp2, rel32);

	/*
	 * Page 0: execute-only where the CPU can (see above), never writable
	 * again.  The stub stays readable: `jmp *0(%rip)` loads its target.
	 */
	if (mprotect(page0, TRAMP_SIZE, PROT_EXEC) != 0 ||
	    mprotect(stub, stub_end - stub_start, PROT_READ | PROT_EXEC) != 0) {
		fprintf(stderr, "zpoline: cannot make the trampoline executable: %s\n", strerror(errno));
		exit(127);
	}
	return 0;
}

int zp_is_trampoline(uint64_t start, uint64_t end)
{
	return start < TRAMP_SIZE || (start < stub_end && end > stub_start);
}
