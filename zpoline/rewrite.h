/*
 * rewrite.h - finding and rewriting system call instructions.
 *
 * The finder decodes machine code with libopcodes (the GNU disassembler),
 * instruction by instruction from the start of a range, so it reports only
 * instructions that really are `syscall` (0f 05) or `sysenter` (0f 34) and
 * never those bytes inside another instruction (an immediate, a
 * displacement, a ModRM/SIB byte).  It is pure: it reads a buffer and calls
 * back; it does not touch page protections, so unit tests run it on
 * synthetic code.
 */
#ifndef EXITLESS_REWRITE_H
#define EXITLESS_REWRITE_H

#include <stddef.h>
#include <stdint.h>

enum zp_site_kind {
	ZP_SITE_SYSCALL = 1,   /* 0f 05 */
	ZP_SITE_SYSENTER = 2,  /* 0f 34 */
};

/* Flags on a site. */
enum {
	/*
	 * The code around the site (between the previous and the next `ret`)
	 * addresses the 8 bytes just below %rsp, e.g. `mov %rdi,-0x8(%rsp)`:
	 * the slot that `call *%rax` overwrites with its return address.  Such
	 * a site must not become a call (see zpoline/redzone.c).
	 */
	ZP_SITE_REDZONE = 1u << 0,
};

struct zp_site {
	uint64_t addr;          /* run-time address of the instruction */
	enum zp_site_kind kind;
	unsigned flags;         /* ZP_SITE_* */
};

/* Called for each site found, in address order; return non-zero to stop. */
typedef int (*zp_site_cb)(const struct zp_site *site, void *arg);

struct zp_scan_stats {
	size_t bytes;           /* bytes decoded */
	size_t insns;           /* instructions decoded */
	size_t sites;           /* syscall + sysenter instructions found */
	size_t redzone_sites;   /* of those, with ZP_SITE_REDZONE */
	int truncated;          /* the range ended in the middle of an instruction */
};

/*
 * Decode [code, code+len) as x86-64 code that runs at address vaddr and
 * report every syscall/sysenter instruction.  An instruction cut off by the
 * end of the range is not reported (stats->truncated is set).  Returns the
 * number of sites reported, or -1 if the decoder could not be set up.
 * stats may be NULL.
 */
long zp_find_sites(const uint8_t *code, size_t len, uint64_t vaddr,
		   zp_site_cb cb, void *arg, struct zp_scan_stats *stats);

#endif
