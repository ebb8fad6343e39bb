/*
 * redzone.c - values a leaf function keeps in its red zone survive a
 * system call made under libzpoline.
 *
 *   redzone N        run both probes N times each (2N getpid calls)
 *   redzone --selftest   check that the comparison does catch a clobber
 *
 * The x86-64 psABI lets a leaf function keep data in the 128 bytes below
 * %rsp, and `syscall` touches no memory.  A rewritten site is `call *%rax`,
 * which pushes its return address into -8(%rsp): exactly the first red-zone
 * slot.  Two probes, written in assembly so the compiler cannot move things:
 *
 *   probe_with_slot8     uses -8(%rsp) (the slot `call` overwrites) and
 *                        others; libzpoline must treat this site specially
 *                        (its finder flags it ZP_SITE_REDZONE)
 *   probe_below_slot8    uses -16..-128(%rsp) but not -8: an ordinary
 *                        rewritten site; the entry must step over the red
 *                        zone before pushing anything
 *
 * Each returns the getpid result and writes the slots it read back after the
 * system call.  Exit status 0 = every slot intact and every result right.
 */
#include <stdint.h>
#include <sys/syscall.h>

#include "testutil.h"

/* long probe_with_slot8(uint64_t out[5]) */
long probe_with_slot8(uint64_t *out);
/* long probe_below_slot8(uint64_t out[5]) */
long probe_below_slot8(uint64_t *out);
/* long probe_selftest(uint64_t out[5]) - like probe_with_slot8 but, instead
 * of the syscall, overwrites -8(%rsp) itself as a bad rewrite would */
long probe_selftest(uint64_t *out);

#define PATTERN(k) (0x0123456789abcdefull ^ (0x1111111111111111ull * (k)))

__asm__(
	".text\n"
	".globl probe_with_slot8\n"
	".type probe_with_slot8, @function\n"
	"probe_with_slot8:\n"
	"	movabs $0x0123456789abcdef ^ 0x1111111111111111, %rcx\n"
	"	mov %rcx, -0x8(%rsp)\n"
	"	movabs $0x0123456789abcdef ^ 0x2222222222222222, %rcx\n"
	"	mov %rcx, -0x10(%rsp)\n"
	"	movabs $0x0123456789abcdef ^ 0x3333333333333333, %rcx\n"
	"	mov %rcx, -0x40(%rsp)\n"
	"	movabs $0x0123456789abcdef ^ 0x4444444444444444, %rcx\n"
	"	mov %rcx, -0x78(%rsp)\n"
	"	movabs $0x0123456789abcdef ^ 0x5555555555555555, %rcx\n"
	"	mov %rcx, -0x80(%rsp)\n"
	"	mov $39, %eax\n" /* SYS_getpid */
	"	syscall\n"
	"	mov -0x8(%rsp), %rcx\n"
	"	mov %rcx, 0(%rdi)\n"
	"	mov -0x10(%rsp), %rcx\n"
	"	mov %rcx, 8(%rdi)\n"
	"	mov -0x40(%rsp), %rcx\n"
	"	mov %rcx, 16(%rdi)\n"
	"	mov -0x78(%rsp), %rcx\n"
	"	mov %rcx, 24(%rdi)\n"
	"	mov -0x80(%rsp), %rcx\n"
	"	mov %rcx, 32(%rdi)\n"
	"	ret\n"
	".size probe_with_slot8, .-probe_with_slot8\n"

	".globl probe_below_slot8\n"
	".type probe_below_slot8, @function\n"
	"probe_below_slot8:\n"
	"	movabs $0x0123456789abcdef ^ 0x1111111111111111, %rcx\n"
	"	mov %rcx, -0x10(%rsp)\n"
	"	movabs $0x0123456789abcdef ^ 0x2222222222222222, %rcx\n"
	"	mov %rcx, -0x18(%rsp)\n"
	"	movabs $0x0123456789abcdef ^ 0x3333333333333333, %rcx\n"
	"	mov %rcx, -0x40(%rsp)\n"
	"	movabs $0x0123456789abcdef ^ 0x4444444444444444, %rcx\n"
	"	mov %rcx, -0x78(%rsp)\n"
	"	movabs $0x0123456789abcdef ^ 0x5555555555555555, %rcx\n"
	"	mov %rcx, -0x80(%rsp)\n"
	"	mov $39, %eax\n"
	"	syscall\n"
	"	mov -0x10(%rsp), %rcx\n"
	"	mov %rcx, 0(%rdi)\n"
	"	mov -0x18(%rsp), %rcx\n"
	"	mov %rcx, 8(%rdi)\n"
	"	mov -0x40(%rsp), %rcx\n"
	"	mov %rcx, 16(%rdi)\n"
	"	mov -0x78(%rsp), %rcx\n"
	"	mov %rcx, 24(%rdi)\n"
	"	mov -0x80(%rsp), %rcx\n"
	"	mov %rcx, 32(%rdi)\n"
	"	ret\n"
	".size probe_below_slot8, .-probe_below_slot8\n"

	".globl probe_selftest\n"
	".type probe_selftest, @function\n"
	"probe_selftest:\n"
	"	movabs $0x0123456789abcdef ^ 0x1111111111111111, %rcx\n"
	"	mov %rcx, -0x8(%rsp)\n"
	"	movq $0, -0x8(%rsp)\n" /* what `call` would do to the slot */
	"	mov -0x8(%rsp), %rcx\n"
	"	mov %rcx, 0(%rdi)\n"
	"	xor %eax, %eax\n"
	"	ret\n"
	".size probe_selftest, .-probe_selftest\n");

/* Compare the slots a probe read back with what it stored; count mismatches. */
static int check_slots(const char *probe, const uint64_t *out, int nslots)
{
	int bad = 0;
	for (int k = 0; k < nslots; k++) {
		if (out[k] != PATTERN(k + 1)) {
			fprintf(stderr, "%s: red-zone slot %d: 0x%016llx, expected 0x%016llx\n", probe,
				k, (unsigned long long)out[k], (unsigned long long)PATTERN(k + 1));
			bad++;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		fail("usage: %s N | --selftest", argv[0]);
	uint64_t out[5];
	if (strcmp(argv[1], "--selftest") == 0) {
		probe_selftest(out);
		if (check_slots("selftest", out, 1) == 0)
			fail("selftest: a clobbered slot was not detected");
		printf("ok selftest: clobber detected\n");
		return 0;
	}
	long n = parse_count(argv[1]);
	long pid = pid_from_proc();
	int bad = 0;
	for (long i = 0; i < n && bad == 0; i++) {
		memset(out, 0, sizeof(out));
		long r = probe_with_slot8(out);
		if (r != pid)
			fail("probe_with_slot8: getpid returned %ld, expected %ld", r, pid);
		bad += check_slots("probe_with_slot8", out, 5);

		memset(out, 0, sizeof(out));
		r = probe_below_slot8(out);
		if (r != pid)
			fail("probe_below_slot8: getpid returned %ld, expected %ld", r, pid);
		bad += check_slots("probe_below_slot8", out, 5);
	}
	if (bad)
		fail("%d red-zone slots clobbered", bad);
	printf("ok redzone %ld\n", n);
	return 0;
}
