/* func_starts.h - function starts of a mapped ELF object (func_starts.c). */
#ifndef EXITLESS_FUNC_STARTS_H
#define EXITLESS_FUNC_STARTS_H

#include <stddef.h>
#include <stdint.h>

/* One line of /proc/self/maps. */
struct zp_map {
	uint64_t start, end, offset;
	int prot, shared;
	char path[64];
};

struct zp_func_starts {
	const int32_t *table;  /* .eh_frame_hdr search table, 2 words an entry */
	size_t count;
	uint64_t hdr;          /* entries are relative to this address */
};

/* Find the table of the object `code` belongs to; 0, or -1 if there is none. */
int zp_func_starts(const struct zp_map *maps, size_t n, const struct zp_map *code,
		   struct zp_func_starts *out);
uint64_t zp_func_start_at(const struct zp_func_starts *fs, size_t i);
long zp_func_find(const struct zp_func_starts *fs, uint64_t addr);

#endif
