/*
 * vector.c - how much x87/SSE/AVX state to save around the hook.
 *
 * `syscall` preserves every vector register, but a hook written in C (and the
 * libc it calls: memcpy, printf) freely uses them.  Unless the hook library
 * declares ZPHOOK_NO_VECTOR, entry.S saves the state components enabled in
 * XCR0 with XSAVEC (compacted, skips components in their initial state) or
 * XSAVE, and restores them with XRSTOR.  Intel SDM Vol. 1, chapter 13.
 *
 * AMX tile state (XCR0 bits 17 and 18, 8 KiB) is left out: compilers never
 * touch it behind the program's back, Linux keeps it disabled (XFD) until a
 * process asks for it, and reserving 8 KiB more on the application's stack
 * at every call would risk skipping over a thread's guard page.
 */
#include <cpuid.h>
#include <stdlib.h>

#include "zpoline.h"

uint8_t zp_vec_save = 1;
uint8_t zp_vec_level;
uint32_t zp_vec_slow_bits;
uint8_t zp_vec_compact;
uint64_t zp_vec_mask;
uint64_t zp_vec_size;

#define XFEATURE_AMX_TILECFG (1ULL << 17)
#define XFEATURE_AMX_TILEDATA (1ULL << 18)

static uint64_t xgetbv0(void)
{
	uint32_t lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (uint64_t)hi << 32 | lo;
}

void zp_vector_init(void)
{
	unsigned a, b, c, d;
	__cpuid(1, a, b, c, d);
	if (!(c & bit_OSXSAVE)) {
		/* No XSAVE enabled by the OS: an ancient CPU or kernel. */
		zp_write_str(2, "zpoline: the CPU/OS lacks XSAVE; vector state cannot be saved\n");
		exit(127);
	}
	uint64_t mask = xgetbv0() & ~(XFEATURE_AMX_TILECFG | XFEATURE_AMX_TILEDATA);
	__cpuid_count(0xd, 1, a, b, c, d);
	zp_vec_compact = (a & (1u << 1)) != 0;  /* CPUID.(EAX=0DH,ECX=1):EAX[1] = XSAVEC */

	/*
	 * Size of the area for `mask`.  Standard form: the end of the highest
	 * component (CPUID.(0DH,i): EAX = size, EBX = offset).  Compacted form:
	 * legacy 512 + header 64, then the components in order, each aligned to
	 * 64 bytes where CPUID.(0DH,i):ECX[1] says so (SDM Vol. 1, 13.4.3).
	 */
	uint64_t size = 576;
	for (unsigned i = 2; i < 63; i++) {
		if (!(mask & (1ULL << i)))
			continue;
		__cpuid_count(0xd, i, a, b, c, d);
		if (zp_vec_compact) {
			if (c & 2)
				size = (size + 63) & ~63ULL;
			size += a;
		} else if ((uint64_t)b + a > size) {
			size = (uint64_t)b + a;
		}
	}
	zp_vec_mask = mask;
	zp_vec_size = (size + 63) & ~63ULL;

	/*
	 * The register-move path (entry.S) needs XGETBV with ECX=1
	 * (CPUID.(0DH,1):EAX[2]) to read XINUSE.  Its level says which
	 * registers exist: 1 = xmm0-15, 2 = + ymm upper halves (AVX enabled in
	 * XCR0), 3 = + zmm/opmask (AVX-512 enabled in XCR0).  Components in
	 * use that it does not cover (x87, MPX, ...) send a call to XSAVEC.
	 */
	__cpuid_count(0xd, 1, a, b, c, d);
	int xgetbv1 = (a & (1u << 2)) != 0;
	if (xgetbv1) {
		const uint64_t sse = 1ULL << 1, avx = 1ULL << 2, avx512 = 0xe0, pkru = 1ULL << 9;
		zp_vec_level = (mask & avx512) == avx512 ? 3 : (mask & avx) ? 2 : 1;
		uint64_t covered = sse | pkru | (zp_vec_level >= 2 ? avx : 0) | (zp_vec_level == 3 ? avx512 : 0);
		zp_vec_slow_bits = (uint32_t)(mask & ~covered);
	}
}

int zp_vector_save(void *area64)
{
	if (zp_vec_size > ZP_VEC_BUF_MAX)
		return -1;
	/* XRSTOR needs the 64-byte header zeroed beyond what XSAVE writes. */
	uint64_t *header = (uint64_t *)((char *)area64 + 512);
	for (int i = 0; i < 8; i++)
		((volatile uint64_t *)header)[i] = 0;
	uint32_t lo = (uint32_t)zp_vec_mask, hi = (uint32_t)(zp_vec_mask >> 32);
	if (zp_vec_compact)
		__asm__ volatile("xsavec64 (%0)" : : "r"(area64), "a"(lo), "d"(hi) : "memory");
	else
		__asm__ volatile("xsave64 (%0)" : : "r"(area64), "a"(lo), "d"(hi) : "memory");
	return 0;
}

void zp_vector_restore(void *area64)
{
	uint32_t lo = (uint32_t)zp_vec_mask, hi = (uint32_t)(zp_vec_mask >> 32);
	__asm__ volatile("xrstor64 (%0)" : : "r"(area64), "a"(lo), "d"(hi) : "memory");
}

/*
 * Run fn(arg), which uses libc (and so vector registers), from the middle
 * of a hooked call: entry.S saved the application's vector state already
 * unless the hook declared ZPHOOK_NO_VECTOR; then save it here.  Rare work
 * only (rewriting new code, starting a shadow thread).
 */
long zp_call_with_vectors_saved(long (*fn)(void *arg), void *arg)
{
	if (zp_vec_save)
		return fn(arg);
	uint8_t area[ZP_VEC_BUF_MAX + 64];
	void *aligned = (void *)(((uintptr_t)area + 63) & ~(uintptr_t)63);
	int saved = zp_vector_save(aligned) == 0;
	long r = fn(arg);
	if (saved)
		zp_vector_restore(aligned);
	return r;
}
