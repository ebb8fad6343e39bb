/* vmfunc/testbed/mem.h - the testbed's page pool and small helpers.
 * Physical = virtual everywhere (boot.S identity-maps 0-4 GiB). */
#ifndef TESTBED_MEM_H
#define TESTBED_MEM_H

#include <stddef.h>
#include <stdint.h>

#define PAGE_SIZE 4096ULL

void mem_init(void);
/* A zeroed 4 KiB page, or NULL when the pool is exhausted. */
void *page_alloc(void);
/* n contiguous zeroed pages, aligned to `align` bytes (a power of two). */
void *pages_alloc(size_t n, uint64_t align);

void *tb_memset(void *d, int c, size_t n);
void *tb_memcpy(void *d, const void *s, size_t n);

#endif
