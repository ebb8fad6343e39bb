/*
 * elf_map.c - map a validated ELF image (see elf_map.h).
 *
 * The whole span is claimed first, in one mmap, so that an image either
 * gets all of its addresses or none: for ET_DYN the kernel chooses them
 * (one reservation keeps the segments at their relative distances, which
 * position-independent code relies on), for ET_EXEC they are fixed and
 * MAP_FIXED_NOREPLACE refuses to clobber anything already there, zpload's
 * own mappings included.  Segments are then mapped MAP_FIXED over the
 * reservation.
 */
#include "elf_map.h"

#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>


int elf_prot(uint32_t pflags)
{
	return ((pflags & PF_R) ? PROT_READ : 0) | ((pflags & PF_W) ? PROT_WRITE : 0) |
	       ((pflags & PF_X) ? PROT_EXEC : 0);
}

/* Reserve span bytes for an ET_DYN image, aligned to align; at hint if
 * hint is non-zero and free.  Returns the address or MAP_FAILED. */
static void *reserve_dyn(uint64_t span, uint64_t align, uint64_t hint)
{
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
	void *p;

	/* The hint, else a few GiB above it (under `setarch -R` zpload itself
	 * sits at ELF_ET_DYN_BASE): the program break wants the room there
	 * is after a program in that region. */
	for (uint64_t k = 0; hint && k < 4; k++) {
		uint64_t at = (hint + k * (1ull << 32)) & ~(align - 1);
		if (at >= ELF_USER_TOP || span > ELF_USER_TOP - at)
			break;
		p = mmap((void *)at, span, PROT_NONE, flags | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == (void *)at)
			return p;
		if (p != MAP_FAILED)   /* a kernel without MAP_FIXED_NOREPLACE took it as a hint */
			munmap(p, span);
	}
	if (align <= ELF_PAGE)
		return mmap(NULL, span, PROT_NONE, flags, -1, 0);

	/* Over-reserve by the alignment and give back both ends. */
	if (span > UINT64_MAX - align)
		return MAP_FAILED;
	uint64_t len = span + align - ELF_PAGE;
	p = mmap(NULL, len, PROT_NONE, flags, -1, 0);
	if (p == MAP_FAILED)
		return p;
	uint64_t raw = (uint64_t)p;
	uint64_t start = (raw + align - 1) & ~(align - 1);
	if (start > raw)
		munmap(p, start - raw);
	if (raw + len > start + span)
		munmap((void *)(start + span), raw + len - (start + span));
	return (void *)start;
}

static int map_segment(int fd, const struct elf_seg *s, uint64_t bias, unsigned idx,
                       char *err, size_t errlen)
{
	int prot = elf_prot(s->flags);
	uint64_t seg_start = bias + ELF_PAGE_DOWN(s->vaddr);
	uint64_t anon_start = seg_start;
	uint64_t mem_end = ELF_PAGE_UP(bias + s->vaddr + s->memsz);

	if (s->filesz) {
		uint64_t file_end = bias + s->vaddr + s->filesz;
		uint64_t map_end = ELF_PAGE_UP(file_end);
		/* The file's page holding the start of .bss carries whatever
		 * follows in the file: it must read as zeros.  The page is
		 * mapped writable for that even if the segment is not (the
		 * kernel then skips the zeroing; zeros are what the program
		 * was linked to see). */
		int zero_tail = s->memsz > s->filesz && (file_end & (ELF_PAGE - 1));
		void *p = mmap((void *)seg_start, map_end - seg_start, prot | (zero_tail ? PROT_WRITE : 0),
		               MAP_PRIVATE | MAP_FIXED, fd, (off_t)ELF_PAGE_DOWN(s->offset));
		if (p == MAP_FAILED)
			return elf_fail(err, errlen, "cannot map segment %u: %s", idx, strerror(errno));
		if (zero_tail) {
			memset((void *)file_end, 0, map_end - file_end);
			if (!(prot & PROT_WRITE) &&
			    mprotect((void *)(map_end - ELF_PAGE), ELF_PAGE, prot) != 0)
				return elf_fail(err, errlen, "cannot protect segment %u: %s", idx, strerror(errno));
		}
		anon_start = map_end;
	}
	/* The rest of .bss: fresh zero pages. */
	if (mem_end > anon_start) {
		void *p = mmap((void *)anon_start, mem_end - anon_start, prot,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p == MAP_FAILED)
			return elf_fail(err, errlen, "cannot map segment %u's zero pages: %s", idx, strerror(errno));
	}
	return 0;
}

int elf_map(int fd, const struct elf_info *info, uint64_t hint, struct elf_mapped *out,
            char *err, size_t errlen)
{
	uint64_t span = info->hi - info->lo;
	uint64_t bias;

	memset(out, 0, sizeof(*out));
	if (info->type == ET_DYN) {
		void *p = reserve_dyn(span, info->align, hint);
		if (p == MAP_FAILED)
			return elf_fail(err, errlen, "cannot reserve %llu bytes of address space: %s",
			            (unsigned long long)span, strerror(errno));
		bias = (uint64_t)p - info->lo;
	} else {
		void *want = (void *)info->lo;
		void *p = mmap(want, span, PROT_NONE,
		               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
		if (p == MAP_FAILED && errno == EEXIST)
			return elf_fail(err, errlen, "needs the fixed addresses 0x%llx-0x%llx, which are "
			            "already in use in this process",
			            (unsigned long long)info->lo, (unsigned long long)info->hi);
		if (p == MAP_FAILED && (errno == EPERM || errno == EACCES))
			return elf_fail(err, errlen, "needs the fixed addresses 0x%llx-0x%llx, below "
			            "vm.mmap_min_addr", (unsigned long long)info->lo,
			            (unsigned long long)info->hi);
		if (p == MAP_FAILED)
			return elf_fail(err, errlen, "cannot map the fixed addresses 0x%llx-0x%llx: %s",
			            (unsigned long long)info->lo, (unsigned long long)info->hi,
			            strerror(errno));
		if (p != want) {   /* a kernel older than 4.17 ignored MAP_FIXED_NOREPLACE */
			munmap(p, span);
			return elf_fail(err, errlen, "needs the fixed addresses 0x%llx-0x%llx, which are "
			            "already in use in this process",
			            (unsigned long long)info->lo, (unsigned long long)info->hi);
		}
		bias = 0;
	}

	for (size_t k = 0; k < info->nload; k++)
		if (map_segment(fd, &info->load[k], bias, (unsigned)k, err, errlen) != 0)
			return -1;

	/* The kernel leaves the holes between segments unmapped. */
	for (size_t k = 1; k < info->nload; k++) {
		const struct elf_seg *a = &info->load[k - 1], *b = &info->load[k];
		uint64_t from = ELF_PAGE_UP(bias + a->vaddr + a->memsz);
		uint64_t to = ELF_PAGE_DOWN(bias + b->vaddr);
		if (to > from)
			munmap((void *)from, to - from);
	}

	out->bias = bias;
	out->start = bias + info->lo;
	out->end = bias + info->hi;
	out->entry = bias + info->entry;
	out->phdr = bias + info->phdr_vaddr;
	return 0;
}
