/*
 * sites.c - the set of rewritten system call sites.
 *
 * zp_entry is reached by `call *%rax` from a rewritten site - or by any call
 * of a NULL (or small) function pointer, which also lands in page 0.  The
 * dispatcher tells the two apart by looking the return address minus 2 up
 * here.  Upstream zpoline keeps a bitmap over the whole 47-bit address space
 * (32 TiB of reserved virtual memory, which fails under `ulimit -v`); a
 * process has a few thousand sites, so an open-addressing hash table of
 * their addresses, a few pages, is enough.
 *
 * Lookups (every hooked call, any thread, signal handlers) take no lock:
 * the table pointer is published with release order after it is filled, and
 * a table is never changed after publication except by adding into empty
 * slots.  Growth builds a new table and publishes it; the old one is left
 * mapped, since a reader may still be walking it.  Additions (start-up and
 * new executable mappings) are serialised by a spin lock.
 */
#include <stdatomic.h>

#include "zpoline.h"

struct site_table {
	uint64_t nslots;          /* a power of two */
	uint64_t used;
	_Atomic uint64_t slots[]; /* 0 = empty */
};

static struct site_table *_Atomic table;
static atomic_flag add_lock = ATOMIC_FLAG_INIT;

static uint64_t slot_of(uint64_t addr, uint64_t nslots)
{
	/* Fibonacci hashing: sites are 2-byte aligned at best, so mix bits. */
	return (addr * 0x9E3779B97F4A7C15ULL) >> 17 & (nslots - 1);
}

static struct site_table *table_new(uint64_t nslots)
{
	struct site_table *t = zp_mmap_anon(sizeof *t + nslots * sizeof(uint64_t));
	if (t)
		t->nslots = nslots;
	return t;
}

static void table_put(struct site_table *t, uint64_t addr)
{
	for (uint64_t i = slot_of(addr, t->nslots);; i = (i + 1) & (t->nslots - 1)) {
		uint64_t cur = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
		if (cur == addr)
			return;
		if (cur == 0) {
			atomic_store_explicit(&t->slots[i], addr, memory_order_release);
			t->used++;
			return;
		}
	}
}

int zp_sites_add(uint64_t addr)
{
	int rc = 0;
	while (atomic_flag_test_and_set_explicit(&add_lock, memory_order_acquire))
		;
	struct site_table *t = atomic_load_explicit(&table, memory_order_relaxed);
	if (!t || (t->used + 1) * 2 > t->nslots) {
		/* Keep the load factor under 1/2 so probes stay short. */
		struct site_table *bigger = table_new(t ? t->nslots * 2 : 4096);
		if (!bigger) {
			rc = -1;
			goto out;
		}
		for (uint64_t i = 0; t && i < t->nslots; i++) {
			uint64_t a = atomic_load_explicit(&t->slots[i], memory_order_relaxed);
			if (a)
				table_put(bigger, a);
		}
		atomic_store_explicit(&table, bigger, memory_order_release);
		t = bigger;
	}
	table_put(t, addr);
out:
	atomic_flag_clear_explicit(&add_lock, memory_order_release);
	return rc;
}

int zp_sites_contains(uint64_t addr)
{
	struct site_table *t = atomic_load_explicit(&table, memory_order_acquire);
	if (!t || addr == 0)
		return 0;
	for (uint64_t i = slot_of(addr, t->nslots);; i = (i + 1) & (t->nslots - 1)) {
		uint64_t cur = atomic_load_explicit(&t->slots[i], memory_order_acquire);
		if (cur == addr)
			return 1;
		if (cur == 0)
			return 0;
	}
}

size_t zp_sites_count(void)
{
	struct site_table *t = atomic_load_explicit(&table, memory_order_acquire);
	return t ? t->used : 0;
}
