/*
 * vector_state.c - vector and x87 registers survive a system call made
 * under libzpoline, even when the hook itself uses them.
 *
 *   vector_state N            N rounds of every check this CPU supports
 *   vector_state N --no-x87   the same without touching x87: libzpoline then
 *                             saves registers with plain moves instead of
 *                             XSAVEC (it takes XSAVEC only while the x87
 *                             registers are in use), so both paths get tested
 *   vector_state --selftest   check that the comparisons catch a clobber
 *
 * `syscall` changes only rax, rcx and r11, so code may keep values in vector
 * registers across it.  Each check loads known values, executes `syscall`
 * (getpid) inside the same asm block, stores the registers and compares:
 *
 *   xmm     xmm0-15 and MXCSR (a non-default rounding mode, FTZ, DAZ)
 *   ymm     ymm0-15 (all 256 bits)               if /proc/cpuinfo has avx
 *   zmm     zmm0-31 and opmask k1-k7             if /proc/cpuinfo has avx512f
 *   x87     all 8 stack registers and the control word
 *
 * Run it under tests/out/hook_clobber.so, a hook that overwrites all of
 * these before performing the call: libzpoline must save and restore them.
 * Parts needing AVX/AVX-512 are compiled with target attributes and run only
 * when the CPU (and kernel) offer them.  Prints one line naming the checks
 * run; exit status 0 = all values survived.  Each round makes one getpid
 * call per check run.
 */
#include <stdint.h>
#include <sys/syscall.h>

#include "testutil.h"

/*
 * The instruction between load and store: the real system call, or (self
 * test) an instruction that clobbers one register of the set, to show that
 * the comparison notices.
 */
#define DO_SYSCALL "mov $39, %%eax\n\tsyscall\n\t"

/* --- xmm + MXCSR ---------------------------------------------------------- */

#define LDX(n) "movdqu " #n "*16(%[in]), %%xmm" #n "\n\t"
#define STX(n) "movdqu %%xmm" #n ", " #n "*16(%[out])\n\t"
#define XMM_ALL(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) \
		   M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define XMM_CLOBBERS "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", \
		     "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"

#define XMM_ASM(MIDDLE)                                                              \
	__asm__ volatile(XMM_ALL(LDX) "ldmxcsr (%[mxin])\n\t" MIDDLE                   \
			 "stmxcsr (%[mxout])\n\t" XMM_ALL(STX) "ldmxcsr (%[mxdef])\n\t"      \
			 : "=a"(ret)                                                         \
			 : [in] "r"(in), [out] "r"(out), [mxin] "r"(&mx_in),                 \
			   [mxout] "r"(&mx_out), [mxdef] "r"(&mx_default)                    \
			 : "rcx", "r11", "memory", XMM_CLOBBERS)

static long xmm_round(const uint8_t *in, uint8_t *out, uint32_t *mx_after, int selftest)
{
	/* round toward zero, flush-to-zero, denormals-are-zero, all masked */
	uint32_t mx_in = 0x1f80 | 0x6000 | 0x8000 | 0x0040, mx_out = 0, mx_default = 0x1f80;
	long ret = 0;
	if (selftest)
		XMM_ASM("pxor %%xmm5, %%xmm5\n\t");
	else
		XMM_ASM(DO_SYSCALL);
	*mx_after = mx_out;
	return ret;
}

/* --- ymm ------------------------------------------------------------------ */

#define LDY(n) "vmovdqu " #n "*32(%[in]), %%ymm" #n "\n\t"
#define STY(n) "vmovdqu %%ymm" #n ", " #n "*32(%[out])\n\t"

__attribute__((target("avx"))) static long ymm_round(const uint8_t *in, uint8_t *out)
{
	long ret;
	__asm__ volatile(XMM_ALL(LDY) DO_SYSCALL XMM_ALL(STY) "vzeroupper\n\t"
			 : "=a"(ret)
			 : [in] "r"(in), [out] "r"(out)
			 : "rcx", "r11", "memory", XMM_CLOBBERS);
	return ret;
}

/* --- zmm + opmask ----------------------------------------------------------- */

#define LDZ(n) "vmovdqu64 " #n "*64(%[in]), %%zmm" #n "\n\t"
#define STZ(n) "vmovdqu64 %%zmm" #n ", " #n "*64(%[out])\n\t"
#define ZMM_ALL(M) XMM_ALL(M) M(16) M(17) M(18) M(19) M(20) M(21) M(22) M(23) \
		   M(24) M(25) M(26) M(27) M(28) M(29) M(30) M(31)
#define LDK(n) "kmovw " #n "*2(%[kin]), %%k" #n "\n\t"
#define STK(n) "kmovw %%k" #n ", " #n "*2(%[kout])\n\t"
#define K_ALL(M) M(1) M(2) M(3) M(4) M(5) M(6) M(7)

__attribute__((target("avx512f"))) static long zmm_round(const uint8_t *in, uint8_t *out,
							 const uint16_t *kin, uint16_t *kout)
{
	long ret;
	__asm__ volatile(ZMM_ALL(LDZ) K_ALL(LDK) DO_SYSCALL ZMM_ALL(STZ) K_ALL(STK) "vzeroupper\n\t"
			 : "=a"(ret)
			 : [in] "r"(in), [out] "r"(out), [kin] "r"(kin), [kout] "r"(kout)
			 : "rcx", "r11", "memory", XMM_CLOBBERS, "xmm16", "xmm17", "xmm18",
			   "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",
			   "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31", "k1", "k2",
			   "k3", "k4", "k5", "k6", "k7");
	return ret;
}

/* --- x87 ------------------------------------------------------------------- */

#define X87_LOAD "fninit\n\t" "fldcw (%[cwin])\n\t"                                  \
		 "fldl 0(%[in])\n\t" "fldl 8(%[in])\n\t" "fldl 16(%[in])\n\t"       \
		 "fldl 24(%[in])\n\t" "fldl 32(%[in])\n\t" "fldl 40(%[in])\n\t"     \
		 "fldl 48(%[in])\n\t" "fldl 56(%[in])\n\t"
/* st(0) holds in[7]: store them back in loading order */
#define X87_STORE "fnstcw (%[cwout])\n\t"                                             \
		  "fstpl 56(%[out])\n\t" "fstpl 48(%[out])\n\t" "fstpl 40(%[out])\n\t" \
		  "fstpl 32(%[out])\n\t" "fstpl 24(%[out])\n\t" "fstpl 16(%[out])\n\t" \
		  "fstpl 8(%[out])\n\t" "fstpl 0(%[out])\n\t" "fldcw (%[cwdef])\n\t"

#define X87_ASM(MIDDLE)                                                               \
	__asm__ volatile(X87_LOAD MIDDLE X87_STORE                                      \
			 : "=a"(ret)                                                    \
			 : [in] "r"(in), [out] "r"(out), [cwin] "r"(&cw_in),            \
			   [cwout] "r"(&cw_out), [cwdef] "r"(&cw_default)               \
			 : "rcx", "r11", "memory", "st", "st(1)", "st(2)", "st(3)",     \
			   "st(4)", "st(5)", "st(6)", "st(7)")

static long x87_round(const double *in, double *out, uint16_t *cw_after, int selftest)
{
	/* round toward zero, 64-bit precision, all exceptions masked */
	uint16_t cw_in = 0x0f7f, cw_out = 0, cw_default = 0x037f;
	long ret = 0;
	if (selftest)
		X87_ASM("fldz\n\tfstp %%st(3)\n\t");
	else
		X87_ASM(DO_SYSCALL);
	*cw_after = cw_out;
	return ret;
}

/* --- driver ---------------------------------------------------------------- */

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	uint32_t x = 2166136261u ^ seed;
	for (size_t i = 0; i < len; i++) {
		x = x * 16777619u + 0x9e3779b9u;
		buf[i] = (uint8_t)(x >> 24);
	}
}

/* Report the first mismatching register of `width` bytes; return 1 if any. */
static int compare_regs(const char *what, const uint8_t *in, const uint8_t *out, int nregs,
			int width)
{
	for (int r = 0; r < nregs; r++) {
		if (memcmp(in + r * width, out + r * width, width) != 0) {
			fprintf(stderr, "%s: register %d changed across the system call\n", what, r);
			return 1;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3 || (argc == 3 && strcmp(argv[2], "--no-x87") != 0))
		fail("usage: %s N [--no-x87] | --selftest", argv[0]);
	int selftest = strcmp(argv[1], "--selftest") == 0;
	int with_x87 = argc == 2;
	long n = selftest ? 1 : parse_count(argv[1]);
	long pid = pid_from_proc();
	int have_avx = cpu_has_flag("avx");
	int have_avx512 = cpu_has_flag("avx512f");

	static uint8_t in[32 * 64], out[32 * 64];
	static uint16_t kin[8], kout[8];
	double fin[8], fout[8];
	int bad = 0;

	if (selftest) {
		uint32_t mx;
		uint16_t cw;
		fill(in, sizeof(in), 1);
		xmm_round(in, out, &mx, 1);
		int caught_xmm = compare_regs("selftest xmm", in, out, 16, 16);
		for (int i = 0; i < 8; i++)
			fin[i] = 1.5 + i;
		x87_round(fin, fout, &cw, 1);
		int caught_x87 = compare_regs("selftest x87", (uint8_t *)fin, (uint8_t *)fout, 8, 8);
		if (!caught_xmm || !caught_x87)
			fail("selftest: a clobber was not detected (xmm %d, x87 %d)", caught_xmm,
			     caught_x87);
		printf("ok selftest: clobbers detected\n");
		return 0;
	}

	for (long round = 0; round < n && !bad; round++) {
		uint32_t mx;
		fill(in, sizeof(in), (unsigned)round * 4 + 0);
		memset(out, 0, sizeof(out));
		if (xmm_round(in, out, &mx, 0) != pid)
			fail("xmm round: getpid returned a wrong pid");
		bad |= compare_regs("xmm", in, out, 16, 16);
		if (mx != (0x1f80 | 0x6000 | 0x8000 | 0x0040)) {
			fprintf(stderr, "mxcsr: 0x%x after the system call, expected 0x%x\n", mx,
				0x1f80 | 0x6000 | 0x8000 | 0x0040);
			bad = 1;
		}

		if (have_avx) {
			fill(in, sizeof(in), (unsigned)round * 4 + 1);
			memset(out, 0, sizeof(out));
			if (ymm_round(in, out) != pid)
				fail("ymm round: getpid returned a wrong pid");
			bad |= compare_regs("ymm", in, out, 16, 32);
		}

		if (have_avx512) {
			fill(in, sizeof(in), (unsigned)round * 4 + 2);
			fill((uint8_t *)kin, sizeof(kin), (unsigned)round * 4 + 3);
			memset(out, 0, sizeof(out));
			memset(kout, 0, sizeof(kout));
			if (zmm_round(in, out, kin, kout) != pid)
				fail("zmm round: getpid returned a wrong pid");
			bad |= compare_regs("zmm", in, out, 32, 64);
			/* k0 is not loaded; compare k1..k7 */
			bad |= compare_regs("opmask k1..k7", (uint8_t *)(kin + 1), (uint8_t *)(kout + 1),
					    7, 2);
		}

		if (!with_x87)
			continue;
		uint16_t cw;
		for (int i = 0; i < 8; i++)
			fin[i] = (i + 1) * 1.25 + round * 0.001 - (i == 3 ? 1e300 : 0.0);
		memset(fout, 0, sizeof(fout));
		if (x87_round(fin, fout, &cw, 0) != pid)
			fail("x87 round: getpid returned a wrong pid");
		bad |= compare_regs("x87", (uint8_t *)fin, (uint8_t *)fout, 8, 8);
		if (cw != 0x0f7f) {
			fprintf(stderr, "x87 control word: 0x%x after the system call, expected 0x0f7f\n", cw);
			bad = 1;
		}
	}
	if (bad)
		fail("vector/x87 state changed across a system call");
	printf("ok vector_state %ld: xmm mxcsr%s%s%s\n", n, have_avx ? " ymm" : "",
	       have_avx512 ? " zmm opmask" : "", with_x87 ? " x87" : "");
	return 0;
}
