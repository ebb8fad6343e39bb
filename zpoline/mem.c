/*
 * mem.c - memset/memcpy/memmove for libzpoline itself.
 *
 * The compiler may emit calls to these for struct copies and array
 * initialisers.  libc's versions use AVX, and code on the hooked path must
 * not touch vector registers when they are not saved (ZPHOOK_NO_VECTOR).
 * Defined hidden, they bind inside libzpoline only (including the statically
 * linked decoder); the application and the hook keep libc's.  `rep movsb` /
 * `rep stosb` use no vector register and are fast on CPUs with ERMS.
 */
#include <stddef.h>

#include "zpoline.h"

ZP_HIDDEN void *memset(void *dst, int c, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return dst;
}

ZP_HIDDEN void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	void *d = dst;
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

ZP_HIDDEN void *memmove(void *dst, const void *src, size_t n)
{
	if ((const char *)dst <= (const char *)src || (const char *)dst >= (const char *)src + n)
		return memcpy(dst, src, n);
	/* Overlapping with dst above src: copy backwards (DF=1, restored). */
	const char *s = (const char *)src + n - 1;
	char *d = (char *)dst + n - 1;
	__asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}
