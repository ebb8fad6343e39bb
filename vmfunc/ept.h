/* vmfunc/ept.h - 4-level EPT paging structures: build, change and walk them.
 *
 * Freestanding: only <stdint.h>, <stddef.h>, <stdbool.h>; no libc, no
 * malloc.  The caller hands in a page allocator (struct vmf_alloc), so the
 * same code runs in a Linux kernel module, in a bare-metal test and in user
 * space (the unit tests use fake physical addresses != virtual addresses).
 *
 * All references are to the Intel 64 and IA-32 Architectures Software
 * Developer's Manual (SDM), Vol. 3C.  Section numbers are those of the 2023
 * editions (chapter numbers shift between editions, so titles are given too):
 *   29.3   "The Extended Page Table Mechanism (EPT)" in chapter 29
 *          "VMX Support for Address Translation"
 *   29.3.2 "EPT Translation Mechanism" (entry formats: the tables "Format of
 *          an EPT PML4 Entry (PML4E) that References an EPT Page-Directory-
 *          Pointer Table", "... EPT Page-Directory-Pointer-Table Entry
 *          (PDPTE) that Maps a 1-GByte Page", "... that References an EPT
 *          Page Directory", "... EPT Page-Directory Entry (PDE) that Maps a
 *          2-MByte Page", "... that References an EPT Page Table", "... EPT
 *          Page-Table Entry that Maps a 4-KByte Page")
 *   29.3.3 "EPT-Induced VM Exits" (29.3.3.1 "EPT Misconfigurations",
 *          29.3.3.2 "EPT Violations")
 *   29.3.7 "EPT and Memory Typing"
 */
#ifndef VMFUNC_EPT_H
#define VMFUNC_EPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- common to the whole library ---------------------------------------- */

/* Errors: 0 is success, failures are negative. */
enum {
    VMF_OK          = 0,
    VMF_EINVAL      = -1,  /* bad argument (alignment, permissions, range) */
    VMF_ENOMEM      = -2,  /* the page allocator gave no page */
    VMF_EBUSY       = -3,  /* part of the range is already mapped */
    VMF_ENOENT      = -4,  /* part of the range is not mapped */
    VMF_EVIOLATION  = -5,  /* walk: not present, or access not permitted */
    VMF_EMISCONFIG  = -6,  /* walk: an entry the CPU would call misconfigured */
    VMF_EFAULT      = -7,  /* a physical address the reader cannot reach */
};
/* A short name for an error code ("EPT violation", ...), for log lines. */
const char *vmf_strerror(int err);

/* Append s to the NUL-terminated string in buf[len] (cut to fit, always
 * terminated); for the one-line messages of caps.c and eptp.c, with no
 * libc.  Returns buf. */
char *vmf_str_append(char *buf, size_t len, const char *s);

#define VMF_PAGE_SIZE   4096ULL
#define VMF_PAGE_2M     (1ULL << 21)
#define VMF_PAGE_1G     (1ULL << 30)

/* The page allocator.  page() returns a zeroed, 4 KiB-aligned 4 KiB page
 * (or NULL) and stores its physical address in *phys; virt() returns the
 * pointer to a page that page() handed out earlier, given its physical
 * address (identity in bare metal, __va() in a kernel module, a pool
 * lookup in the unit tests).  Pages are never given back: there is no
 * free(), a user releases the whole pool when it tears everything down. */
struct vmf_alloc {
    void *(*page)(void *ctx, uint64_t *phys);
    void *(*virt)(void *ctx, uint64_t phys);
    void *ctx;
};

/* ---- EPT paging-structure entry bits (SDM 29.3.2, entry-format tables) --- */

#define VMF_EPT_R        (1ULL << 0)   /* read access */
#define VMF_EPT_W        (1ULL << 1)   /* write access */
#define VMF_EPT_X        (1ULL << 2)   /* execute (supervisor-mode execute
                                          when mode-based execute control
                                          for EPT is 1) */
#define VMF_EPT_RWX      (VMF_EPT_R | VMF_EPT_W | VMF_EPT_X)
#define VMF_EPT_MT_SHIFT 3             /* bits 5:3 EPT memory type, leaves
                                          only (reserved in non-leaf) */
#define VMF_EPT_MT_MASK  (7ULL << VMF_EPT_MT_SHIFT)
#define VMF_EPT_IPAT     (1ULL << 6)   /* ignore PAT memory type, leaves only */
#define VMF_EPT_PS       (1ULL << 7)   /* page size: 1 in a PDPTE maps 1 GiB,
                                          in a PDE 2 MiB; reserved (must be 0)
                                          in a PML4E */
#define VMF_EPT_A        (1ULL << 8)   /* accessed, if EPTP bit 6 is 1 */
#define VMF_EPT_D        (1ULL << 9)   /* dirty, leaves only, if EPTP bit 6 */
#define VMF_EPT_UX       (1ULL << 10)  /* user-mode execute, only with the
                                          "mode-based execute control for EPT"
                                          secondary control (bit 22, SDM 25.6.2);
                                          ignored otherwise */
/* Bit 11 is "Ignored" in every EPT entry format of SDM 29.3.2: the CPU
 * never looks at it, so this library uses it to mark the entries of the
 * anywhere page table (elisa_ctx.h), which lets a walk and the builders
 * tell "empty slot of an anywhere context" from "explicit mapping". */
#define VMF_EPT_SW_ANYWHERE (1ULL << 11)
/* Bits 51:12: physical address of the next table or of the page (bits
 * above MAXPHYADDR are reserved; 52 is the architectural maximum). */
#define VMF_EPT_ADDR_MASK   0x000FFFFFFFFFF000ULL
/* Permission bits as this library takes them in `perms' arguments. */
#define VMF_EPT_PERM_MASK   (VMF_EPT_RWX | VMF_EPT_UX)

/* EPT memory types (SDM 29.3.7 "EPT and Memory Typing"; the encodings are
 * those of the memory types in Vol. 3A "Memory Cache Control", the same as
 * for MTRRs/PAT).  2, 3 and 7 are reserved: a leaf holding them is an EPT
 * misconfiguration (SDM 29.3.3.1). */
#define VMF_MT_UC 0u
#define VMF_MT_WC 1u
#define VMF_MT_WT 4u
#define VMF_MT_WP 5u
#define VMF_MT_WB 6u

/* Levels: 4 = PML4, 3 = PDPT, 2 = PD, 1 = PT.  A leaf at level 3 maps
 * 1 GiB, at level 2 2 MiB, at level 1 4 KiB. */
#define VMF_LEVEL_PT   1
#define VMF_LEVEL_PD   2
#define VMF_LEVEL_PDPT 3
#define VMF_LEVEL_PML4 4

/* A 4-level EPT covers 48 bits of guest-physical address (SDM 29.3.2: the
 * PML4 index is GPA bits 47:39). */
#define VMF_EPT_GPA_LIMIT (1ULL << 48)

/* The three shared tables of one anywhere page table (elisa_ctx.h builds
 * them): pt's 512 entries all map `root'; pd's all point to pt; pdpt's all
 * point to pd.  A context EPT created with vmf_ept_init_anywhere() has every
 * empty slot point at the table of the matching level (its PML4 slots at
 * pdpt, a private PDPT's empty slots at pd, ...), so every guest-physical
 * address it does not map explicitly ends in `root'. */
struct vmf_anywhere {
    uint64_t root;      /* host-physical address of the page everything hits */
    uint64_t pt, pd, pdpt;  /* physical addresses of the three shared tables */
    uint64_t leaf;      /* the value of each PT entry: root | perms | WB | marker */
};

struct vmf_ept {
    const struct vmf_alloc *alloc;
    uint64_t pml4;                     /* physical address of the PML4 */
    const struct vmf_anywhere *aw;     /* NULL: empty slots are 0 */
    unsigned pages;                    /* table pages this EPT allocated */
    bool mbec;                         /* treat bit 10 as user-execute
                                          (mode-based execute control) */
};

/* Flags of vmf_ept_map(). */
#define VMF_MAP_4K     (1u << 0)  /* only 4 KiB leaves */
#define VMF_MAP_NO_1G  (1u << 1)  /* no 1 GiB leaves (CPU without them:
                                     IA32_VMX_EPT_VPID_CAP bit 17 clear) */
#define VMF_MAP_IPAT   (1u << 2)  /* set ignore-PAT in the leaves */

/* Allocate an empty PML4.  Returns VMF_OK or VMF_ENOMEM. */
int vmf_ept_init(struct vmf_ept *ept, const struct vmf_alloc *alloc);
/* The same, for a context whose empty slots all lead to aw->root (every
 * PML4 entry points at aw->pdpt).  aw must outlive the EPT. */
int vmf_ept_init_anywhere(struct vmf_ept *ept, const struct vmf_alloc *alloc,
                          const struct vmf_anywhere *aw);

/* Map [gpa, gpa+size) to [hpa, hpa+size) with `perms' (VMF_EPT_R/W/X/UX)
 * and memory type `mt'.  Each step takes the largest leaf (1 GiB, 2 MiB,
 * 4 KiB) that both addresses are aligned to and that fits in what is left,
 * unless `flags' forbid it.  All three must be 4 KiB aligned, size > 0,
 * gpa+size <= 2^48, hpa+size <= 2^52.  perms must not be write-without-read
 * (an EPT misconfiguration, SDM 29.3.3.1) nor 0; mt must be UC/WC/WT/WP/WB.
 * Fails with VMF_EBUSY, changing nothing, if any page of the range is
 * already mapped.  In an anywhere context, a shared table met on the way
 * is first replaced by a private copy (see elisa_ctx.h): the shared tables
 * are never written after their creation.  VMF_ENOMEM may leave part of
 * the range mapped. */
int vmf_ept_map(struct vmf_ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size,
                uint64_t perms, unsigned mt, unsigned flags);

/* Make [gpa, gpa+size) empty again (0, or the anywhere entries in an
 * anywhere context).  A large leaf the range covers only in part is split
 * first (needs a page: VMF_ENOMEM).  Unmapped pages are fine.  Table pages
 * are kept for reuse.  The caller flushes the CPU's EPT-derived caches
 * (INVEPT, SDM 29.4 "Caching Translation Information") afterwards. */
int vmf_ept_unmap(struct vmf_ept *ept, uint64_t gpa, uint64_t size);

/* Replace the permissions of every page of [gpa, gpa+size) with `perms'
 * (splitting large leaves at the edges).  Fails with VMF_ENOENT, changing
 * nothing, if any page of the range is not mapped.  Same rules for perms
 * as vmf_ept_map(). */
int vmf_ept_protect(struct vmf_ept *ept, uint64_t gpa, uint64_t size, uint64_t perms);

/* The result of a software walk. */
struct vmf_ept_walk {
    uint64_t hpa;       /* translated host-physical address (if present) */
    uint64_t leaf;      /* raw leaf entry, or the non-present entry */
    uint64_t perms;     /* R/W/X(/UX) allowed by every level of the walk */
    unsigned mt;        /* memory type of the leaf */
    int level;          /* level of the leaf (1..3), or where the walk stopped */
    bool present;       /* the walk reached a leaf */
    bool ipat;          /* the leaf has ignore-PAT */
    bool anywhere;      /* the walk went through an anywhere entry */
};

/* Walk gpa as the processor would (SDM 29.3.2; violations 29.3.3.2,
 * misconfigurations 29.3.3.1): reads each level's entry, stops at a
 * non-present entry (bits 2:0 all 0, or with MBEC bits 2:0 and 10) with
 * VMF_EVIOLATION, or at a misconfigured one with VMF_EMISCONFIG (reserved
 * bits 7:3 in a non-leaf entry, PS in a PML4E, write without read,
 * memory type 2/3/7, address bits of a large page below its size).  The
 * permissions of a translation are the AND of all levels.  `access' is
 * the access to check (VMF_EPT_R, W, X, UX, or 0 to only translate): an
 * access not allowed gives VMF_EVIOLATION with `out' filled (present is
 * true).  Accessed/dirty flags are not written, and the EPTP's walk
 * length is taken to be 4.  gpa >= 2^48 gives VMF_EINVAL. */
int vmf_ept_translate(const struct vmf_ept *ept, uint64_t gpa, uint64_t access,
                      struct vmf_ept_walk *out);

/* The table at `level' (4..1) on the path to gpa, or NULL if the path ends
 * above it (empty slot or large leaf).  For tests and dumps: entry i of the
 * result is the raw 64-bit EPT entry. */
const uint64_t *vmf_ept_table(const struct vmf_ept *ept, uint64_t gpa, int level);

/* Index of gpa in the table of `level' (bits 47:39, 38:30, 29:21, 20:12). */
static inline unsigned vmf_ept_index(uint64_t gpa, int level)
{
    return (unsigned)(gpa >> (12 + 9 * (level - 1))) & 511u;
}

/* Bytes one entry of `level' covers: 4 KiB, 2 MiB, 1 GiB, 512 GiB. */
static inline uint64_t vmf_ept_level_size(int level)
{
    return 1ULL << (12 + 9 * (level - 1));
}

#endif
