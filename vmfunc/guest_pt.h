/* vmfunc/guest_pt.h - ordinary x86-64 4-level paging structures (the guest's
 * own page tables, not EPT), built and walked in software.  ELISA needs one:
 * the page table the anywhere root holds, which maps the gate block and the
 * sub-context pages at agreed guest-virtual addresses (elisa_ctx.h).
 *
 * Intel SDM Vol. 3A, chapter 4 "Paging" (2023 numbering):
 *   4.5 "4-Level Paging and 5-Level Paging" (called "IA-32e Paging" in
 *       older editions): CR3 format and the entry-format tables ("Format of
 *       a PML4 Entry (PML4E) that References a Page-Directory-Pointer
 *       Table", "... Page-Directory-Pointer-Table Entry (PDPTE) that Maps a
 *       1-GByte Page", "... Page-Directory Entry that Maps a 2-MByte Page",
 *       "... Page-Table Entry that Maps a 4-KByte Page", and the entries
 *       that reference the next table)
 *   4.6 "Access Rights" (R/W, U/S and XD combine over all levels)
 *   4.8 "Accessed and Dirty Flags"
 */
#ifndef VMFUNC_GUEST_PT_H
#define VMFUNC_GUEST_PT_H

#include "ept.h"

/* Entry bits (4.5 entry-format tables). */
#define VMF_PT_P     (1ULL << 0)   /* present */
#define VMF_PT_W     (1ULL << 1)   /* R/W: writes allowed */
#define VMF_PT_U     (1ULL << 2)   /* U/S: user-mode accesses allowed */
#define VMF_PT_PWT   (1ULL << 3)
#define VMF_PT_PCD   (1ULL << 4)
#define VMF_PT_A     (1ULL << 5)   /* accessed */
#define VMF_PT_D     (1ULL << 6)   /* dirty, leaves only */
#define VMF_PT_PS    (1ULL << 7)   /* PDPTE: 1 GiB page, PDE: 2 MiB page;
                                      reserved in a PML4E; PAT in a PTE */
#define VMF_PT_G     (1ULL << 8)   /* global, leaves only */
#define VMF_PT_NX    (1ULL << 63)  /* XD, with IA32_EFER.NXE = 1 */
#define VMF_PT_ADDR_MASK 0x000FFFFFFFFFF000ULL  /* bits M-1:12 (M <= 52) */

/* Flags vmf_gpt_map() accepts for the leaves; P is implied. */
#define VMF_PT_LEAF_FLAGS (VMF_PT_W | VMF_PT_U | VMF_PT_PWT | VMF_PT_PCD | \
                           VMF_PT_G | VMF_PT_NX)

struct vmf_gpt {
    const struct vmf_alloc *alloc;  /* "phys" of its pages = the address the
                                       guest's walk uses (a GPA) */
    uint64_t root;                  /* the PML4's address: what CR3 holds */
    unsigned pages;
};

/* Allocate the PML4.  VMF_OK, VMF_EINVAL or VMF_ENOMEM. */
int vmf_gpt_init(struct vmf_gpt *pt, const struct vmf_alloc *alloc);

/* Map [va, va+size) to [pa, pa+size) with `flags' (VMF_PT_LEAF_FLAGS),
 * taking 1 GiB / 2 MiB / 4 KiB leaves by alignment like vmf_ept_map()
 * (map_flags VMF_MAP_4K, VMF_MAP_NO_1G).  va must be canonical and the range
 * must not cross the canonical hole.  Non-leaf entries allow everything
 * (P, R/W, U/S; no XD): the leaf decides (4.6).  The accessed flag is set
 * in every entry and the dirty flag in writable leaves, so a walk never
 * has to write them (4.8): the table can sit in guest-physical memory that
 * EPT maps read-only, as in the gate and sub contexts.  VMF_EBUSY (nothing
 * changed) if any page of the range is mapped. */
int vmf_gpt_map(struct vmf_gpt *pt, uint64_t va, uint64_t pa, uint64_t size,
                uint64_t flags, unsigned map_flags);

/* Reads the 8 bytes at physical address pa (8-byte aligned) for the
 * walker; false if the address cannot be read. */
typedef bool (*vmf_read64_fn)(void *ctx, uint64_t pa, uint64_t *val);

/* A reader for tables made with an allocator: ctx is the struct vmf_alloc;
 * pa must be in a page the allocator handed out. */
bool vmf_gpt_read_alloc(void *ctx, uint64_t pa, uint64_t *val);

struct vmf_gpt_walk {
    uint64_t pa;        /* translated address, if present */
    uint64_t leaf;      /* the leaf entry, or the non-present entry */
    int level;          /* level of the leaf (1..3) or where the walk stopped */
    bool present;
    bool writable;      /* R/W set at every level */
    bool user;          /* U/S set at every level */
    bool nx;            /* XD set at some level */
};

/* Walk va with CR3 = cr3 (bits 51:12 locate the PML4; the PCID and flag
 * bits are ignored) as 4-level paging does, reading entries through `read'.
 * VMF_OK; VMF_ENOENT at a non-present entry; VMF_EMISCONFIG at a reserved
 * bit (PS in a PML4E, address bits below a large page's size other than
 * its PAT bit 12); VMF_EFAULT if read() fails; VMF_EINVAL for a
 * non-canonical va.  Access rights are reported, not checked. */
int vmf_guest_translate(vmf_read64_fn read, void *ctx, uint64_t cr3, uint64_t va,
                        struct vmf_gpt_walk *out);

/* vmf_guest_translate() over pt's own pages, CR3 = pt->root. */
int vmf_gpt_translate(const struct vmf_gpt *pt, uint64_t va, struct vmf_gpt_walk *out);

/* va has bits 63:47 all equal (4.5: canonical for 4-level paging). */
static inline bool vmf_va_canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1FFFF;
}

#endif
