/* vmfunc/elisa_ctx.h - the EPT contexts of ELISA (Yasukata, Tazaki, Aublin,
 * "Exit-Less, Isolated, and Shared Access for Virtual Machines", ASPLOS
 * 2023), sections 4.1 ("anywhere page table") and 4.2 (default, gate and
 * sub contexts), built with ept.h, eptp.h and guest_pt.h.
 *
 * One vCPU has three EPTs, switched by VMFUNC leaf 0 (EPTP switching, SDM
 * Vol. 3C 26.5.5.3 [25.5.5.3] "EPTP Switching") through an EPTP list whose
 * entries are the named indexes below:
 *
 *   default  the guest's normal view: guest RAM, minus every page that
 *            belongs to the sub context (its code, its data, the shared
 *            memory, the gate's middle page), and the 12 KiB gate block
 *            with its middle page EMPTY: the guest can reach the gate code
 *            only by executing through the VMFUNC at the end of the top
 *            page.
 *   gate     the three gate pages (top: ends with VMFUNC(0, GATE); middle:
 *            the gate code, which switches to SUB and back; bottom: where
 *            execution resumes after the VMFUNC(0, DEFAULT) that ends the
 *            middle page) + the guest page table below + the anywhere
 *            mapping.
 *   sub      the gate pages, the sub-context code, its private data (its
 *            stack), the shared memory, the guest page table, and the
 *            anywhere mapping.
 *
 * The anywhere page table (ELISA 4.1).  The guest's CR3 does not change
 * across VMFUNC, and the host cannot know or trust it.  In the gate and sub
 * contexts every guest-physical address that the context does not map
 * explicitly leads to ONE host page: the root (PML4) of a page table made
 * by the host.  Whatever CR3 the guest has (as long as it is not one of the
 * context's explicit GPAs, which the guest has no reason to use), the
 * walk of the guest's linear address reads the host's PML4, whose lower
 * levels are explicit mappings of the context (the "page-table window"
 * below), and which maps the gate block and the sub-context pages at the
 * virtual addresses agreed with the guest.  The guest's own page tables,
 * kernel, IDT: none of them is reachable there, so interrupts must be off
 * (IF = 0) while in the gate and sub contexts: an interrupt or exception
 * there cannot be delivered through the guest's IDT.
 *
 * It costs 3 pages whatever the guest's size: a PT whose 512 entries all
 * map the root, a PD whose 512 entries all point to that PT, a PDPT whose
 * 512 entries all point to that PD.  A context EPT made with
 * vmf_ept_init_anywhere() has all its PML4 entries point to that PDPT, and
 * every empty slot of any private table it later gets points at the shared
 * table of the matching level (or, in a PT, maps the root).  The entries
 * carry the ignored bit 11 (VMF_EPT_SW_ANYWHERE) so they can be told from
 * explicit mappings.
 *
 * THE RULE: the three shared tables are written once, by
 * vmf_anywhere_init(), and never again: they are shared by every anywhere
 * context (gate and sub of a vCPU here) and each of their entries stands
 * for up to 512 GiB of empty guest-physical space.  Mapping into a range
 * whose path goes through a shared table must first replace the entry that
 * points at the shared table by a private copy of it ("un-share the path").
 * vmf_ept_map() does this itself, so explicit mappings may be made in any
 * order before or after the anywhere mapping exists; it never writes into
 * a table reached through an entry marked VMF_EPT_SW_ANYWHERE.  Unmapping
 * in an anywhere context restores the anywhere entries.  The unit tests
 * check the shared pages byte for byte after every builder.
 */
#ifndef VMFUNC_ELISA_CTX_H
#define VMFUNC_ELISA_CTX_H

#include "ept.h"
#include "eptp.h"
#include "guest_pt.h"

/* EPTP-list indexes (the ECX of VMFUNC leaf 0): VMF_CTX_*. */
#include "elisa_ids.h"

/* The gate block: 3 pages. */
#define VMF_GATE_PAGES  3u
#define VMF_GATE_SIZE   (VMF_GATE_PAGES * VMF_PAGE_SIZE)
#define VMF_GATE_TOP    0u   /* ends with VMFUNC(0, VMF_CTX_GATE) */
#define VMF_GATE_MIDDLE 1u   /* gate code; empty in the default context */
#define VMF_GATE_BOTTOM 2u   /* execution returns at its first byte */

/* Upper bound of the guest page table's pages (root included). */
#define VMF_ELISA_MAX_PT_PAGES 32u

/* Build the three shared tables of an anywhere page table whose entries
 * map `root_hpa' with `perms' (VMF_EPT_R, plus VMF_EPT_W when EPT A/D flags
 * are on, see vmf_elisa_build) and memory type WB.  3 pages from alloc. */
int vmf_anywhere_init(struct vmf_anywhere *aw, const struct vmf_alloc *alloc,
                      uint64_t root_hpa, uint64_t perms);

/* What the host decided for one vCPU.  All addresses and sizes 4 KiB
 * aligned; a size of 0 means "none" where allowed.  Guest-virtual
 * addresses are those the guest agreed to (the gate's must be where the
 * guest maps the gate block in its own page table, since execution runs on
 * across the VMFUNC at the same RIP). */
/*
 * The guest must run with IA32_EFER.NXE = 1: the page table built here
 * marks the sub context's data and stack pages execute-disable (bit 63),
 * which is a reserved bit, and so a page fault on every access, when NXE
 * is 0 (SDM Vol. 3A, 4.5 "4-Level Paging", "execute-disable"; the
 * testbed hit exactly this before it set NXE).
 */
struct vmf_elisa_layout {
    /* Guest RAM as the default context maps it (gpa -> hpa, RWX, WB). */
    uint64_t ram_gpa, ram_hpa, ram_size;
    /* The gate block: guest-physical and guest-virtual address of its top
     * page, and the host-physical address of each of its pages
     * ([VMF_GATE_TOP], [VMF_GATE_MIDDLE], [VMF_GATE_BOTTOM]). */
    uint64_t gate_gpa, gate_va;
    uint64_t gate_hpa[VMF_GATE_PAGES];
    /* Sub-context code: read + execute in the sub context. */
    uint64_t sub_code_gpa, sub_code_hpa, sub_code_size, sub_code_va;
    /* Shared memory: read + write, no execute (size 0: none). */
    uint64_t shared_gpa, shared_hpa, shared_size, shared_va;
    /* Private read/write data of the sub context, e.g. its stack
     * (size 0: none). */
    uint64_t sub_data_gpa, sub_data_hpa, sub_data_size, sub_data_va;
    /* The page-table window: the guest page table's pages appear at
     * pt_gpa + k * 4096 (k = 0 is the root) in the gate and sub contexts;
     * at most pt_pages of them (<= VMF_ELISA_MAX_PT_PAGES). */
    uint64_t pt_gpa;
    unsigned pt_pages;
    /* vmf_ept_map() flags for every EPT (vmf_caps_map_flags()). */
    unsigned map_flags;
    /* EPTPs with accessed/dirty flags (EPTP bit 6).  With them on, the
     * CPU's reads of guest paging structures count as writes for EPT
     * (SDM 29.3.3.2 [28.2.3.2] "EPT Violations"), so the window and root
     * are mapped read/write instead of read-only: writable by the code that
     * runs in the gate and sub contexts, which is host code only.  (The
     * CPU then also sets accessed flags in the shared anywhere tables;
     * harmless, the rule below is about software writes.) */
    bool eptp_ad;
    /* Set U/S in the guest page table's leaves: the gate is entered from
     * guest user mode (CPL 3). */
    bool user_mode;
};

/* The result.  It holds pointers into itself: build it in place and do
 * not copy or move it while its EPTs are in use. */
struct vmf_elisa {
    struct vmf_ept ctx[VMF_CTX_COUNT];   /* indexed by VMF_CTX_* */
    uint64_t eptp[VMF_CTX_COUNT];        /* WB, 4 levels, A/D per layout */
    struct vmf_eptp_list list;           /* [0..2] = eptp[0..2], rest 0 */
    struct vmf_anywhere aw;              /* shared by gate and sub */
    struct vmf_gpt gpt;                  /* the page table in the root; its
                                            "physical" addresses are GPAs */
    uint64_t root_hpa;                   /* = pt_hpa[0] */
    uint64_t pt_hpa[VMF_ELISA_MAX_PT_PAGES];
    unsigned pt_used;

    /* Internal: the allocators the builders use. */
    const struct vmf_alloc *inner;
    struct vmf_alloc host_alloc;  /* inner, refusing pages inside guest RAM */
    struct vmf_alloc gpt_alloc;   /* inner, pages named by window GPAs */
    uint64_t ram_hpa, ram_size, pt_gpa;
    unsigned pt_max;
    int alloc_err;
};

/* Build everything: the guest page table (in pages from `alloc', named by
 * the window's GPAs), the anywhere tables, the three EPTs, the EPTP list.
 * Every page the builders take from `alloc' must lie outside guest RAM's
 * host-physical range (else the guest could rewrite its own EPT): such a
 * page makes the build fail with VMF_EINVAL.  Returns VMF_OK, VMF_EINVAL
 * (bad or overlapping layout), VMF_ENOMEM (allocator empty, or pt_pages
 * too small). */
int vmf_elisa_build(struct vmf_elisa *e, const struct vmf_alloc *alloc,
                    const struct vmf_elisa_layout *l);

/* A vmf_read64_fn that reads guest-physical memory through an EPT (ctx is
 * the const struct vmf_ept *): the GPA must translate with read access,
 * and the host page must be one the EPT's allocator can reach (its own
 * pages, the root, the guest page table).  With vmf_guest_translate() it
 * is the walk the CPU does in a context: guest CR3 -> EPT -> page table. */
bool vmf_ept_read64(void *ctx, uint64_t gpa, uint64_t *val);

#endif
