/* vmfunc/testbed/mem.c - a bump allocator of zeroed pages between
 * POOL_START and POOL_END, outside the guest's RAM, so the guest can never
 * write a VMCS, an EPT or the EPTP list.  Nothing is ever freed: the testbed runs once.
 *
 * GCC may emit calls to memset/memcpy/memmove/memcmp even with
 * -ffreestanding (GCC manual, "Standards": "GCC requires the freestanding
 * environment provide memcpy, memmove, memset and memcmp"), so they are
 * defined here too. */
#include "mem.h"

#include "console.h"

#define POOL_START (16ULL << 20)         /* above guest RAM (main.c: 0-16 MiB) */
#define POOL_END (48ULL << 20)           /* Bochs has 128 MiB */

extern char _image_end[];
static uint64_t pool_next;

void mem_init(void)
{
    pool_next = POOL_START;
    if ((uint64_t)(uintptr_t)_image_end > POOL_START) {
        tb_printf("FAIL mem-layout image ends at %p, above the pool at 0x%lx\n", (void *)_image_end,
                  (uint64_t)POOL_START);
        tb_shutdown();
    }
}

void *pages_alloc(size_t n, uint64_t align)
{
    uint64_t p = (pool_next + align - 1) & ~(align - 1);
    if (p + n * PAGE_SIZE > POOL_END)
        return NULL;
    pool_next = p + n * PAGE_SIZE;
    tb_memset((void *)(uintptr_t)p, 0, n * PAGE_SIZE);
    return (void *)(uintptr_t)p;
}

void *page_alloc(void)
{
    return pages_alloc(1, PAGE_SIZE);
}

void *tb_memset(void *d, int c, size_t n)
{
    unsigned char *p = d;
    while (n--)
        *p++ = (unsigned char)c;
    return d;
}

void *tb_memcpy(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--)
        *p++ = *q++;
    return d;
}

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);

void *memset(void *d, int c, size_t n) { return tb_memset(d, c, n); }
void *memcpy(void *d, const void *s, size_t n) { return tb_memcpy(d, s, n); }

void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *p = d;
    const unsigned char *q = s;
    if (p < q) {
        while (n--)
            *p++ = *q++;
    } else {
        while (n--)
            p[n] = q[n];
    }
    return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p < *q ? -1 : 1;
    return 0;
}
