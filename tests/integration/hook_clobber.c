/*
 * hook_clobber.c - a test hook library (exitless ABI) that deliberately
 * overwrites vector and x87 registers before performing each system call.
 *
 * It does NOT declare ZPHOOK_NO_VECTOR, so libzpoline promised to preserve
 * the application's full x87/SSE/AVX/AVX-512 state around it.  Run
 * vector_state under it: if libzpoline skipped XSAVE/XRSTOR, the values the
 * application keeps in registers across `syscall` would come back changed.
 *
 * Built a second time with -DHOOK_CLAIMS_NO_VECTOR (hook_clobber_novector.so)
 * it falsely declares ZPHOOK_NO_VECTOR: libzpoline then skips the save, and
 * vector_state must notice the damage.  That negative control shows the
 * vector test can fail.
 *
 * The clobbering stays within what an ordinary C hook may do under the psABI
 * (it may change every vector register and the MXCSR status flags, and it
 * leaves the x87 stack empty and the control words as it found them), so a
 * failure here is libzpoline's, not this hook's.
 */
#include <stdint.h>

#include "zphook.h"

static zphook_fn real_next;
static int have_avx, have_avx512;

/* 0xa5 bytes, loaded into every vector register */
static const uint8_t junk[64] __attribute__((aligned(64))) = {
	[0 ... 63] = 0xa5,
};
static const uint16_t junk_mask = 0x5a5a;

static void clobber_xmm(void)
{
#define CLX(n) "movdqu (%[j]), %%xmm" #n "\n\t"
	__asm__ volatile(CLX(0) CLX(1) CLX(2) CLX(3) CLX(4) CLX(5) CLX(6) CLX(7)
			 CLX(8) CLX(9) CLX(10) CLX(11) CLX(12) CLX(13) CLX(14) CLX(15)
			 :
			 : [j] "r"(junk)
			 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			   "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#undef CLX
}

__attribute__((target("avx"))) static void clobber_ymm(void)
{
#define CLY(n) "vmovdqu (%[j]), %%ymm" #n "\n\t"
	/* no vzeroupper: leave the upper halves dirty, as AVX code may */
	__asm__ volatile(CLY(0) CLY(1) CLY(2) CLY(3) CLY(4) CLY(5) CLY(6) CLY(7)
			 CLY(8) CLY(9) CLY(10) CLY(11) CLY(12) CLY(13) CLY(14) CLY(15)
			 :
			 : [j] "r"(junk)
			 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			   "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
#undef CLY
}

__attribute__((target("avx512f"))) static void clobber_zmm(void)
{
#define CLZ(n) "vmovdqu64 (%[j]), %%zmm" #n "\n\t"
#define CLK(n) "kmovw (%[m]), %%k" #n "\n\t"
	__asm__ volatile(CLZ(0) CLZ(1) CLZ(2) CLZ(3) CLZ(4) CLZ(5) CLZ(6) CLZ(7)
			 CLZ(8) CLZ(9) CLZ(10) CLZ(11) CLZ(12) CLZ(13) CLZ(14) CLZ(15)
			 CLZ(16) CLZ(17) CLZ(18) CLZ(19) CLZ(20) CLZ(21) CLZ(22) CLZ(23)
			 CLZ(24) CLZ(25) CLZ(26) CLZ(27) CLZ(28) CLZ(29) CLZ(30) CLZ(31)
			 CLK(1) CLK(2) CLK(3) CLK(4) CLK(5) CLK(6) CLK(7)
			 :
			 : [j] "r"(junk), [m] "r"(&junk_mask)
			 : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",
			   "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15",
			   "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23",
			   "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
			   "k1", "k2", "k3", "k4", "k5", "k6", "k7");
#undef CLZ
#undef CLK
}

/*
 * Push 8 values and pop them again: the x87 stack ends as it began, but all
 * 8 physical registers now hold pi.  If libzpoline called us with the
 * application's values still on the stack, they are gone.
 */
static void clobber_x87(void)
{
	__asm__ volatile("fldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\t"
			 "fldpi\n\tfldpi\n\tfldpi\n\tfldpi\n\t"
			 "fstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\t"
			 "fstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\tfstp %%st(0)\n\t"
			 :
			 :
			 : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
}

/* Ordinary SSE arithmetic: sets the MXCSR "inexact" status flag. */
static void touch_mxcsr_flags(void)
{
	volatile double a = 1.0, b = 3.0;
	volatile double c = a / b;
	(void)c;
}

static long clobber_hook(long nr, long a1, long a2, long a3, long a4, long a5, long a6)
{
	clobber_xmm();
	if (have_avx)
		clobber_ymm();
	if (have_avx512)
		clobber_zmm();
	clobber_x87();
	touch_mxcsr_flags();
	return real_next(nr, a1, a2, a3, a4, a5, a6);
}

int zphook_init(const struct zphook_api *api, zphook_fn *hook)
{
	/* checks the CPU and the kernel (XCR0) support */
	__builtin_cpu_init();
	have_avx = __builtin_cpu_supports("avx");
	have_avx512 = __builtin_cpu_supports("avx512f");
	real_next = api->next;
	*hook = clobber_hook;
#ifdef HOOK_CLAIMS_NO_VECTOR
	api->set_flags(ZPHOOK_NO_VECTOR); /* a lie: the negative control */
#endif
	/* otherwise deliberately no api->set_flags(ZPHOOK_NO_VECTOR) */
	return 0;
}
