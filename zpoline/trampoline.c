/*
 * trampoline.c - the code at virtual address 0.
 *
 * A rewritten site executes `call *%rax` with %rax = system call number n, so
 * it jumps to address n.  Page 0 therefore holds code on which *every* byte
 * is a valid place to start executing, and from every byte execution reaches
 * zp_entry with %rax untouched.
 *
 * The published design fills the first 512 bytes with one-byte NOPs; getpid
 * (39) then walks 473 of them, about 100 cycles.  We fill page 0 with one
 * 5-byte instruction repeated, `e9 48 48 48 48` = `jmp .+5+0x48484848`:
 *
 *   - landing on an e9 byte, it is a jump;
 *   - landing on one of the four 0x48 bytes, those bytes are REX.W prefixes
 *     (REX.W changes nothing for a near jump), the next e9 is the opcode,
 *     and the instruction is still a jump: at most 3 prefixes + 5 bytes.
 *
 * So every number costs one jump out of page 0, whatever its value.  Why
 * 0x48484848: the displacement bytes are themselves entry points, so each
 * must be a harmless prefix, and a jump that far from page 0 lands near
 * 1.2 GiB, where we map a stub.  A jump from slot k (bytes 5k..5k+4)
 * lands at 5k+5+D; the stub holds, at each of those 5-byte-spaced
 * targets, a 5-byte `jmp rel32` to one shared `jmp *zp_entry(%rip)`.
 * Three jumps in all, each always the same for a given number, so the
 * branch predictor learns them.
 *
 * Page 0 has 819 slots (4095 bytes): numbers 0..4090 reach the entry and
 * get the kernel's answer, -ENOSYS for numbers it does not know (e.g.
 * syscall(1000), a crash in upstream zpoline).  4091..4094 are the last
 * slot's displacement: prefixes with no jump after them, so byte 4095 is
 * `hlt`, which faults in user mode (SIGSEGV).  Numbers >= 4096 (including
 * -1) jump into unmapped memory and fault the same way.
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
#define SLOT 5                       /* e9 + rel32 */
#define SLOTS (TRAMP_SIZE / SLOT)    /* 819 */

static uint64_t stub_start, stub_end;

/*
 * Candidate displacements: every byte a prefix that is harmless in front of
 * `e9` (REX without effect on jmp, or a segment override, ignored in 64-bit
 * mode), in case the program already uses the address the first one gives.
 */
static const uint32_t stub_rel32_candidates[] = {
	0x48484848, 0x4a4a4a4a, 0x4c4c4c4c, 0x4e4e4e4e, 0x44444444,
	0x42424242, 0x40404040, 0x3e3e3e3e, 0x2e2e2e2e, 0x36363636,
};

static void put_jmp_rel32(uint8_t *p, int32_t rel)
{
	p[0] = 0xe9;
	memcpy(p + 1, &rel, 4);
}

/* `jmp *0(%rip)` followed by the 8-byte address of zp_entry. */
static void put_jmp_entry(uint8_t *p)
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
	/*
	 * page0 is NULL here, and C says nothing can be stored through NULL:
	 * gcc would turn our stores into ud2.  Hide the value from it.
	 */
	__asm__("" : "+r"(page0));

	/*
	 * The stub: slot k of page 0 jumps to 5k+5+D.  Those targets, 5 bytes
	 * apart, each get a `jmp rel32` to the shared `jmp *zp_entry` placed
	 * right after them.
	 */
	uint8_t *stub = MAP_FAILED;
	uint32_t rel32 = 0;
	uint64_t first = 0, shared = 0;
	for (size_t i = 0; i < sizeof stub_rel32_candidates / sizeof stub_rel32_candidates[0]; i++) {
		rel32 = stub_rel32_candidates[i];
		first = SLOT + (uint64_t)rel32;
		shared = first + SLOTS * SLOT;
		stub_start = first & ~(PAGE - 1);
		stub_end = (shared + 16 + PAGE - 1) & ~(PAGE - 1);
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
	memset(stub, 0xcc, stub_end - stub_start);  /* int3 wherever nothing should land */
	for (size_t k = 0; k < SLOTS; k++) {
		uint64_t at = first + k * SLOT;
		put_jmp_rel32(stub + (at - stub_start), (int32_t)(shared - (at + SLOT)));
	}
	put_jmp_entry(stub + (shared - stub_start));

	for (size_t k = 0; k < SLOTS; k++)
		put_jmp_rel32(page0 + k * SLOT, (int32_t)rel32);
	page0[SLOTS * SLOT] = 0xf4;  /* byte 4095: hlt, #GP in user mode -> SIGSEGV */

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
