/* tests/unit/test_vmfunc.c - cmocka unit tests of the vmfunc/ library.
 *
 * The allocator hands out pages of a static pool under FAKE physical
 * addresses (PHYS_BASE + 4096 * n, nowhere near the pool's virtual
 * address), so any place where the library used a physical address as a
 * pointer or stored a pointer in an entry crashes or fails a comparison.
 * Pages come out in a fixed order, so the physical address of every table
 * is known and the raw entries can be written down by hand.
 *
 * Entry values used below (SDM Vol. 3C 29.3.2 entry formats):
 *   R = 0x1, W = 0x2, X = 0x4, memory type WB (6) in bits 5:3 = 0x30,
 *   UC = 0x00, ignore-PAT 0x40, page size 0x80, bit 11 (anywhere marker,
 *   ignored by the CPU) 0x800.  A table pointer is phys | 0x7.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "ept.h"
#include "eptp.h"
#include "caps.h"
#include "guest_pt.h"
#include "elisa_ctx.h"
#include "vmcs_fields.h"

/* ---- the test allocator --------------------------------------------------- */

#define POOL_PAGES 512
#define PHYS_BASE  0x000000A000000000ULL  /* 640 GiB: fake, != &pool */

static uint8_t pool[POOL_PAGES][4096] __attribute__((aligned(4096)));
static unsigned pool_used;
static unsigned pool_limit;
static unsigned virt_misuse;  /* virt() asked for an address it never gave */

static void *pool_page(void *ctx, uint64_t *phys)
{
    (void)ctx;
    if (pool_used >= pool_limit)
        return NULL;
    memset(pool[pool_used], 0, 4096);
    *phys = PHYS_BASE + (uint64_t)pool_used * 4096;
    return pool[pool_used++];
}

static void *pool_virt(void *ctx, uint64_t phys)
{
    (void)ctx;
    if ((phys & 0xFFF) != 0 || phys < PHYS_BASE || phys >= PHYS_BASE + (uint64_t)pool_used * 4096) {
        virt_misuse++;
        return NULL;
    }
    return pool[(phys - PHYS_BASE) / 4096];
}

static const struct vmf_alloc A = { pool_page, pool_virt, NULL };

/* Pool page n as the table it holds. */
static uint64_t *pg(unsigned n)
{
    return (uint64_t *)pool[n];
}

static uint64_t page_phys(unsigned n)
{
    return PHYS_BASE + (uint64_t)n * 4096;
}

static int reset_pool(void **state)
{
    (void)state;
    pool_used = 0;
    pool_limit = POOL_PAGES;
    virt_misuse = 0;
    return 0;
}

static int check_no_misuse(void **state)
{
    (void)state;
    assert_int_equal(virt_misuse, 0);
    return 0;
}

/* The raw entry of `level' on the path to gpa. */
static uint64_t raw(const struct vmf_ept *e, uint64_t gpa, int level)
{
    const uint64_t *t = vmf_ept_table(e, gpa, level);
    assert_non_null(t);
    return t[vmf_ept_index(gpa, level)];
}

/* Translate and check the result in one line. */
static void expect_xlate(const struct vmf_ept *e, uint64_t gpa, uint64_t hpa,
                         uint64_t perms, int level)
{
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(e, gpa, 0, &w), VMF_OK);
    assert_true(w.present);
    assert_int_equal(w.hpa, hpa);
    assert_int_equal(w.perms, perms);
    assert_int_equal(w.level, level);
}

static void expect_hole(const struct vmf_ept *e, uint64_t gpa, int level)
{
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(e, gpa, VMF_EPT_R, &w), VMF_EVIOLATION);
    assert_false(w.present);
    assert_int_equal(w.level, level);
}

/* ---- EPT: 4 KiB leaves, raw entries ---------------------------------------- */

static void test_ept_4k_raw(void **state)
{
    (void)state;
    struct vmf_ept e;
    assert_int_equal(vmf_ept_init(&e, &A), VMF_OK);
    assert_int_equal(e.pml4, page_phys(0));

    /* gpa = 1<<39 | 5<<30 | 3<<21 | 3<<12 = 0x8140603000: indexes PML4 1,
     * PDPT 5, PD 3, PT 3; three pages to 0x12345000, R+W, WB. */
    const uint64_t gpa = 0x8140603000ULL;
    assert_int_equal(vmf_ept_index(gpa, 4), 1);
    assert_int_equal(vmf_ept_index(gpa, 3), 5);
    assert_int_equal(vmf_ept_index(gpa, 2), 3);
    assert_int_equal(vmf_ept_index(gpa, 1), 3);
    assert_int_equal(vmf_ept_map(&e, gpa, 0x12345000ULL, 0x3000, VMF_EPT_R | VMF_EPT_W,
                                 VMF_MT_WB, 0), VMF_OK);
    /* Tables came out as pages 1 (PDPT), 2 (PD), 3 (PT). */
    assert_int_equal(e.pages, 4);
    const uint64_t *pml4 = pg(0), *pdpt = pg(1), *pd = pg(2), *pt = pg(3);
    assert_int_equal(pml4[1], 0x000000A000001007ULL);   /* PDPT phys | RWX */
    assert_int_equal(pml4[0], 0);
    assert_int_equal(pdpt[5], 0x000000A000002007ULL);   /* PD phys | RWX */
    assert_int_equal(pd[3],   0x000000A000003007ULL);   /* PT phys | RWX */
    /* Leaves: hpa | WB<<3 (0x30) | W (0x2) | R (0x1) = hpa | 0x33. */
    assert_int_equal(pt[2], 0);
    assert_int_equal(pt[3], 0x0000000012345033ULL);
    assert_int_equal(pt[4], 0x0000000012346033ULL);
    assert_int_equal(pt[5], 0x0000000012347033ULL);
    assert_int_equal(pt[6], 0);
    /* The same through the library's table lookup. */
    assert_int_equal(raw(&e, gpa + 0x1000, 1), 0x0000000012346033ULL);
    assert_int_equal(raw(&e, gpa, 4), 0x000000A000001007ULL);

    /* Walks: offset kept, R+W, level 1; fetch is a violation; holes. */
    expect_xlate(&e, gpa + 0x1567, 0x12346567ULL, VMF_EPT_R | VMF_EPT_W, 1);
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(&e, gpa, VMF_EPT_W, &w), VMF_OK);
    assert_int_equal(vmf_ept_translate(&e, gpa, VMF_EPT_X, &w), VMF_EVIOLATION);
    assert_true(w.present);
    assert_int_equal(w.mt, VMF_MT_WB);
    expect_hole(&e, gpa + 0x3000, 1);         /* PT[6] empty */
    expect_hole(&e, gpa - 0x1000, 1);         /* PT[2] empty */
    expect_hole(&e, gpa + (1ULL << 21), 2);   /* PD[4] empty */
    expect_hole(&e, 0, 4);                    /* PML4[0] empty */
    assert_int_equal(vmf_ept_translate(&e, 1ULL << 48, 0, &w), VMF_EINVAL);
}

/* ---- EPT: 1 GiB / 2 MiB / 4 KiB by alignment ------------------------------- */

static void test_ept_large_leaves(void **state)
{
    (void)state;
    struct vmf_ept e;
    assert_int_equal(vmf_ept_init(&e, &A), VMF_OK);
    /* 1 GiB + 2 MiB + 4 KiB from gpa 1 GiB to hpa 4 GiB, RWX WB. */
    assert_int_equal(vmf_ept_map(&e, 0x40000000ULL, 0x100000000ULL,
                                 0x40000000ULL + 0x200000 + 0x1000,
                                 VMF_EPT_RWX, VMF_MT_WB, 0), VMF_OK);
    /* PDPT (page 1) [1]: 1 GiB leaf 0x100000000 | PS 0x80 | WB 0x30 | RWX 0x7. */
    assert_int_equal(pg(1)[1], 0x00000001000000B7ULL);
    /* PDPT[2] -> PD (page 2); PD[0]: 2 MiB leaf 0x140000000 | 0xB7. */
    assert_int_equal(pg(1)[2], 0x000000A000002007ULL);
    assert_int_equal(pg(2)[0], 0x00000001400000B7ULL);
    /* PD[1] -> PT (page 3); PT[0]: 4 KiB leaf 0x140200000 | 0x37 (no PS). */
    assert_int_equal(pg(2)[1], 0x000000A000003007ULL);
    assert_int_equal(pg(3)[0], 0x0000000140200037ULL);
    assert_int_equal(pg(3)[1], 0);
    assert_int_equal(e.pages, 4);

    expect_xlate(&e, 0x41234567ULL, 0x101234567ULL, VMF_EPT_RWX, 3);
    expect_xlate(&e, 0x7FFFFFFFULL, 0x13FFFFFFFULL, VMF_EPT_RWX, 3);
    expect_xlate(&e, 0x80123456ULL, 0x140123456ULL, VMF_EPT_RWX, 2);
    expect_xlate(&e, 0x80200ABCULL, 0x140200ABCULL, VMF_EPT_RWX, 1);
    expect_hole(&e, 0x80201000ULL, 1);
    expect_hole(&e, 0x3FFFF000ULL, 3);

    /* hpa only 4 KiB aligned: 4 KiB leaves although gpa is 2 MiB aligned. */
    assert_int_equal(vmf_ept_map(&e, 0x200000000ULL, 0x301000ULL, 0x200000,
                                 VMF_EPT_R, VMF_MT_WB, 0), VMF_OK);
    expect_xlate(&e, 0x200000000ULL, 0x301000ULL, VMF_EPT_R, 1);
    expect_xlate(&e, 0x2001FF010ULL, 0x500010ULL, VMF_EPT_R, 1);
    /* Forced 4 KiB, and no 1 GiB. */
    assert_int_equal(vmf_ept_map(&e, 0x400000000ULL, 0x400000000ULL, 0x200000,
                                 VMF_EPT_R, VMF_MT_WB, VMF_MAP_4K), VMF_OK);
    expect_xlate(&e, 0x400000000ULL, 0x400000000ULL, VMF_EPT_R, 1);
    assert_int_equal(vmf_ept_map(&e, 0x8000000000ULL, 0x8000000000ULL, 0x40000000ULL,
                                 VMF_EPT_R, VMF_MT_WB, VMF_MAP_NO_1G), VMF_OK);
    expect_xlate(&e, 0x8000000000ULL + 0x3FE00000ULL, 0x8000000000ULL + 0x3FE00000ULL,
                 VMF_EPT_R, 2);
}

/* ---- EPT: attributes and argument checks ----------------------------------- */

static void test_ept_attrs_and_errors(void **state)
{
    (void)state;
    struct vmf_ept e;
    assert_int_equal(vmf_ept_init(&e, &A), VMF_OK);
    /* R+X, UC (0), ignore-PAT: 0x7000 | IPAT 0x40 | X 0x4 | R 0x1 = 0x7045. */
    assert_int_equal(vmf_ept_map(&e, 0x1000, 0x7000, 0x1000, VMF_EPT_R | VMF_EPT_X,
                                 VMF_MT_UC, VMF_MAP_IPAT), VMF_OK);
    assert_int_equal(raw(&e, 0x1000, 1), 0x7045ULL);
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(&e, 0x1000, VMF_EPT_X, &w), VMF_OK);
    assert_true(w.ipat);
    assert_int_equal(w.mt, VMF_MT_UC);
    /* Execute-only (X alone) is accepted (the CPU needs cap bit 0). */
    assert_int_equal(vmf_ept_map(&e, 0x2000, 0x8000, 0x1000, VMF_EPT_X, VMF_MT_WB, 0), VMF_OK);
    assert_int_equal(raw(&e, 0x2000, 1), 0x8034ULL);
    /* Present (bits 2:0 not all 0) although not readable. */
    assert_int_equal(vmf_ept_translate(&e, 0x2000, VMF_EPT_X, &w), VMF_OK);
    assert_int_equal(w.perms, VMF_EPT_X);
    assert_int_equal(vmf_ept_translate(&e, 0x2000, VMF_EPT_R, &w), VMF_EVIOLATION);
    assert_true(w.present);
    unsigned before = pool_used;

    /* Write without read: an EPT misconfiguration, refused. */
    assert_int_equal(vmf_ept_map(&e, 0x3000, 0x9000, 0x1000, VMF_EPT_W, VMF_MT_WB, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, 0x3000, 0x9000, 0x1000, 0, VMF_MT_WB, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, 0x3000, 0x9000, 0x1000, VMF_EPT_R, 2, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, 0x3000, 0x9000, 0x1000, VMF_EPT_R, 7, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, 0x3001, 0x9000, 0x1000, VMF_EPT_R, VMF_MT_WB, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, 0x3000, 0x9010, 0x1000, VMF_EPT_R, VMF_MT_WB, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, 0x3000, 0x9000, 0, VMF_EPT_R, VMF_MT_WB, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, (1ULL << 48) - 0x1000, 0x9000, 0x2000, VMF_EPT_R,
                                 VMF_MT_WB, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, 0x3000, 1ULL << 52, 0x1000, VMF_EPT_R, VMF_MT_WB, 0), VMF_EINVAL);
    assert_int_equal(vmf_ept_map(&e, 0x3000, 0x9000, 0x1000, VMF_EPT_R | (1ULL << 5),
                                 VMF_MT_WB, 0), VMF_EINVAL);
    /* Overlap with an existing mapping: busy, nothing written. */
    assert_int_equal(vmf_ept_map(&e, 0x0, 0x9000, 0x3000, VMF_EPT_R, VMF_MT_WB, 0), VMF_EBUSY);
    expect_hole(&e, 0x0, 1);
    assert_int_equal(pool_used, before);
    /* Out of pages. */
    pool_limit = pool_used;
    assert_int_equal(vmf_ept_map(&e, 0x40000000000ULL, 0x9000, 0x1000, VMF_EPT_R,
                                 VMF_MT_WB, 0), VMF_ENOMEM);
    assert_string_equal(vmf_strerror(VMF_EVIOLATION), "EPT violation");
    assert_string_equal(vmf_strerror(VMF_ENOMEM), "out of pages");
}

/* ---- EPT: unmap and protect split large leaves ------------------------------ */

static void test_ept_unmap_split(void **state)
{
    (void)state;
    struct vmf_ept e;
    assert_int_equal(vmf_ept_init(&e, &A), VMF_OK);
    assert_int_equal(vmf_ept_map(&e, 0, 0x80000000ULL, 0x40000000ULL, VMF_EPT_RWX,
                                 VMF_MT_WB, VMF_MAP_IPAT), VMF_OK);
    assert_int_equal(e.pages, 2);  /* PML4 + PDPT, one 1 GiB leaf */
    /* Punch out one page at 0x12345000: 1 GiB -> 512 x 2 MiB -> 512 x 4 KiB. */
    assert_int_equal(vmf_ept_unmap(&e, 0x12345000ULL, 0x1000), VMF_OK);
    assert_int_equal(e.pages, 4);
    expect_hole(&e, 0x12345000ULL, 1);
    expect_xlate(&e, 0x12344FFFULL, 0x92344FFFULL, VMF_EPT_RWX, 1);
    expect_xlate(&e, 0x12346000ULL, 0x92346000ULL, VMF_EPT_RWX, 1);
    expect_xlate(&e, 0x12200000ULL, 0x92200000ULL, VMF_EPT_RWX, 1);
    expect_xlate(&e, 0x12400000ULL, 0x92400000ULL, VMF_EPT_RWX, 2);
    expect_xlate(&e, 0x3FFFFFFFULL, 0xBFFFFFFFULL, VMF_EPT_RWX, 2);
    /* The split leaves kept PS (2 MiB level), memory type and ignore-PAT:
     * PD (page 2) [0x90] = 2 MiB leaf at 0x80000000 + 0x90 * 2 MiB
     * = 0x92000000 | PS 0x80 | IPAT 0x40 | WB 0x30 | RWX 0x7 = ...F7.
     * PD[0x91] (0x12345000 >> 21) points at the PT (page 3). */
    assert_int_equal(pg(2)[0x90], 0x00000000920000F7ULL);
    assert_int_equal(pg(2)[0x91], 0x000000A000003007ULL);
    /* In the PT, leaves without PS: 0x92344000 | 0x77; slot 0x145 (the
     * page (0x12345000 - 0x12200000) >> 12) empty. */
    assert_int_equal(pg(3)[0x144], 0x0000000092344077ULL);
    assert_int_equal(pg(3)[0x145], 0);
    /* Unmapping what is already empty is fine; whole-leaf unmap clears it. */
    assert_int_equal(vmf_ept_unmap(&e, 0x12345000ULL, 0x1000), VMF_OK);
    assert_int_equal(vmf_ept_unmap(&e, 0x20000000ULL, 0x200000), VMF_OK);
    expect_hole(&e, 0x20000000ULL, 2);
    assert_int_equal(e.pages, 4);
    /* The hole can be mapped again, reusing the PT. */
    assert_int_equal(vmf_ept_map(&e, 0x12345000ULL, 0x5000, 0x1000, VMF_EPT_R, VMF_MT_WB, 0), VMF_OK);
    expect_xlate(&e, 0x12345000ULL, 0x5000, VMF_EPT_R, 1);
    assert_int_equal(e.pages, 4);
    /* A 2 MiB range whose PD slot holds an emptied PT: mapped into that PT
     * (4 KiB leaves) rather than leaking it. */
    assert_int_equal(vmf_ept_unmap(&e, 0x12200000ULL, 0x200000), VMF_OK);
    assert_int_equal(vmf_ept_map(&e, 0x12200000ULL, 0x40000000ULL, 0x200000, VMF_EPT_R,
                                 VMF_MT_WB, 0), VMF_OK);
    expect_xlate(&e, 0x12200000ULL, 0x40000000ULL, VMF_EPT_R, 1);
    assert_int_equal(e.pages, 4);
}

static void test_ept_protect(void **state)
{
    (void)state;
    struct vmf_ept e;
    assert_int_equal(vmf_ept_init(&e, &A), VMF_OK);
    assert_int_equal(vmf_ept_map(&e, 0x200000, 0x600000, 0x200000, VMF_EPT_RWX,
                                 VMF_MT_WB, 0), VMF_OK);
    expect_xlate(&e, 0x200000, 0x600000, VMF_EPT_RWX, 2);
    /* Make one page read-only: the 2 MiB leaf splits. */
    assert_int_equal(vmf_ept_protect(&e, 0x201000, 0x1000, VMF_EPT_R), VMF_OK);
    expect_xlate(&e, 0x201000, 0x601000, VMF_EPT_R, 1);
    expect_xlate(&e, 0x200000, 0x600000, VMF_EPT_RWX, 1);
    expect_xlate(&e, 0x202000, 0x602000, VMF_EPT_RWX, 1);
    /* hpa 0x601000 | WB 0x30 | R 0x1. */
    assert_int_equal(raw(&e, 0x201000, 1), 0x601031ULL);
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(&e, 0x201000, VMF_EPT_W, &w), VMF_EVIOLATION);
    assert_true(w.present);
    assert_int_equal(vmf_ept_translate(&e, 0x201000, VMF_EPT_R, &w), VMF_OK);
    /* Partly unmapped range: refused, nothing changed. */
    assert_int_equal(vmf_ept_protect(&e, 0x3FF000, 0x2000, VMF_EPT_R), VMF_ENOENT);
    expect_xlate(&e, 0x3FF000, 0x7FF000, VMF_EPT_RWX, 1);
    assert_int_equal(vmf_ept_protect(&e, 0x200000, 0x1000, VMF_EPT_W), VMF_EINVAL);
}

/* ---- EPT walk: misconfigurations (SDM 29.3.3.1) ------------------------------ */

static void test_ept_misconfig(void **state)
{
    (void)state;
    struct vmf_ept e;
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_init(&e, &A), VMF_OK);
    assert_int_equal(vmf_ept_map(&e, 0x1000, 0x5000, 0x1000, VMF_EPT_RWX, VMF_MT_WB, 0), VMF_OK);
    uint64_t *pt = (uint64_t *)vmf_ept_table(&e, 0x1000, 1);
    uint64_t *pml4 = (uint64_t *)vmf_ept_table(&e, 0x1000, 4);
    uint64_t good = pt[1];
    pt[1] = (good & ~VMF_EPT_MT_MASK) | (2ULL << 3);       /* memory type 2 */
    assert_int_equal(vmf_ept_translate(&e, 0x1000, 0, &w), VMF_EMISCONFIG);
    pt[1] = (good & ~VMF_EPT_RWX) | VMF_EPT_W;               /* write-only */
    assert_int_equal(vmf_ept_translate(&e, 0x1000, 0, &w), VMF_EMISCONFIG);
    pt[1] = good;
    assert_int_equal(vmf_ept_translate(&e, 0x1000, 0, &w), VMF_OK);
    uint64_t p = pml4[0];
    pml4[0] = p | VMF_EPT_PS;                                  /* PS in a PML4E */
    assert_int_equal(vmf_ept_translate(&e, 0x1000, 0, &w), VMF_EMISCONFIG);
    pml4[0] = p | (6ULL << 3);                                 /* MT in a non-leaf */
    assert_int_equal(vmf_ept_translate(&e, 0x1000, 0, &w), VMF_EMISCONFIG);
    pml4[0] = p;
    /* A 2 MiB leaf with address bit 12 set (reserved below 2 MiB). */
    assert_int_equal(vmf_ept_map(&e, 0x400000, 0x400000, 0x200000, VMF_EPT_R, VMF_MT_WB, 0), VMF_OK);
    uint64_t *pd = (uint64_t *)vmf_ept_table(&e, 0x400000, 2);
    pd[2] |= 0x1000;
    assert_int_equal(vmf_ept_translate(&e, 0x400000, 0, &w), VMF_EMISCONFIG);
}

/* ---- EPTP values ------------------------------------------------------------ */

/* IA32_VMX_EPT_VPID_CAP of real CPUs, from VirtualBox's CPU database
 * (src/VBox/VMM/VMMR3/cpus/): Intel_Core_i7_5600U.h (Broadwell) and
 * Intel_Pentium_N3530_2_16GHz.h (Silvermont): 0x0000_0f01_0633_4141 has
 * bits 0, 6, 8, 14, 16, 17, 20, 21, 25, 26 (A/D and 1 GiB pages);
 * 0x0000_0f01_0611_4141 lacks bits 17 (1 GiB) and 21 (A/D). */
#define CAP_BROADWELL  0x00000F0106334141ULL
#define CAP_SILVERMONT 0x00000F0106114141ULL

static void test_eptp_encoding(void **state)
{
    (void)state;
    /* WB (6) | (4 - 1) << 3 = 0x18  ->  0x1E; with A/D bit 6: 0x5E. */
    assert_int_equal(vmf_eptp_make(0x12345000ULL, VMF_MT_WB, 4, false), 0x1234501EULL);
    assert_int_equal(vmf_eptp_make(0x12345000ULL, VMF_MT_WB, 4, true), 0x1234505EULL);
    assert_int_equal(vmf_eptp_make(0x12345000ULL, VMF_MT_UC, 4, false), 0x12345018ULL);
    assert_int_equal(vmf_eptp_make(0xA000003000ULL, VMF_MT_WB, 5, false), 0xA000003026ULL);
    struct vmf_eptp_info i;
    vmf_eptp_decode(0x1234505EULL, &i);
    assert_int_equal(i.pml4, 0x12345000ULL);
    assert_int_equal(i.mt, VMF_MT_WB);
    assert_int_equal(i.levels, 4);
    assert_true(i.ad);
    assert_false(i.sss);

    assert_int_equal(vmf_eptp_check(0x1234505EULL, CAP_BROADWELL, 39), 0);
    assert_int_equal(vmf_eptp_check(0x12345018ULL, CAP_BROADWELL, 39), 0);
    assert_int_equal(vmf_eptp_check(0x1234505EULL, CAP_SILVERMONT, 36), VMF_EPTP_BAD_AD);
    assert_int_equal(vmf_eptp_check(0x12345019ULL, CAP_BROADWELL, 39), VMF_EPTP_BAD_MT);  /* WC */
    assert_int_equal(vmf_eptp_check(0xA000003026ULL, CAP_BROADWELL, 52), VMF_EPTP_BAD_WALK);
    assert_int_equal(vmf_eptp_check(0, CAP_BROADWELL, 39), VMF_EPTP_BAD_WALK);  /* UC, walk 1 */
    assert_int_equal(vmf_eptp_check(0x1234511EULL, CAP_BROADWELL, 39), VMF_EPTP_BAD_RSVD);
    assert_int_equal(vmf_eptp_check(0x1234509EULL, CAP_BROADWELL, 39), VMF_EPTP_BAD_SSS);
    /* PML4 at 1 TiB with a 39-bit physical address width. */
    assert_int_equal(vmf_eptp_check(0x1000000001EULL, CAP_BROADWELL, 39), VMF_EPTP_BAD_ADDR);
    assert_int_equal(vmf_eptp_check(0x1000000001EULL, CAP_BROADWELL, 46), 0);
    /* UC EPTP on a CPU without UC (bit 8 cleared). */
    assert_int_equal(vmf_eptp_check(0x12345018ULL, CAP_BROADWELL & ~(1ULL << 8), 39), VMF_EPTP_BAD_MT);
    char buf[64];
    assert_string_equal(vmf_eptp_describe(VMF_EPTP_BAD_MT | VMF_EPTP_BAD_AD, buf, sizeof buf),
                        "memory type, accessed/dirty flags");
    char tiny[8];
    assert_string_equal(vmf_eptp_describe(VMF_EPTP_BAD_MT, tiny, sizeof tiny), "memory ");
}

static void test_eptp_list(void **state)
{
    (void)state;
    struct vmf_eptp_list l;
    assert_int_equal(vmf_eptp_list_init(&l, &A), VMF_OK);
    assert_int_equal(l.phys, page_phys(0));
    for (unsigned i = 0; i < 512; i++)
        assert_int_equal(vmf_eptp_list_get(&l, i), 0);
    assert_int_equal(vmf_eptp_list_set(&l, 0, 0xA00000101EULL), VMF_OK);
    assert_int_equal(vmf_eptp_list_set(&l, 1, 0xA00000201EULL), VMF_OK);
    assert_int_equal(vmf_eptp_list_set(&l, 511, 0xA00000301EULL), VMF_OK);
    assert_int_equal(vmf_eptp_list_set(&l, 512, 0xA00000301EULL), VMF_EINVAL);
    /* The entries are the raw page, 8 bytes each, as the CPU reads them. */
    assert_int_equal(pg(0)[1], 0xA00000201EULL);
    assert_int_equal(pg(0)[511], 0xA00000301EULL);
    assert_int_equal(vmf_eptp_list_get(&l, 600), 0);

    /* VMFUNC(0, ecx) as the CPU would do it (26.5.5.3). */
    uint64_t eptp = 0;
    assert_true(vmf_eptp_switch(&l, 1, CAP_BROADWELL, 46, &eptp));
    assert_int_equal(eptp, 0xA00000201EULL);
    assert_true(vmf_eptp_switch(&l, 511, CAP_BROADWELL, 46, &eptp));
    assert_false(vmf_eptp_switch(&l, 2, CAP_BROADWELL, 46, &eptp));    /* entry 0 */
    assert_false(vmf_eptp_switch(&l, 512, CAP_BROADWELL, 46, &eptp));  /* ECX >= 512 */
    assert_false(vmf_eptp_switch(&l, 0xFFFFFFFFULL, CAP_BROADWELL, 46, &eptp));
    assert_int_equal(vmf_eptp_list_clear(&l, 1), VMF_OK);
    assert_false(vmf_eptp_switch(&l, 1, CAP_BROADWELL, 46, &eptp));
    /* A PML4 address above MAXPHYADDR makes the entry invalid. */
    assert_false(vmf_eptp_switch(&l, 0, CAP_BROADWELL, 39, &eptp));
}

/* ---- capability checks over real MSR values ---------------------------------- */

/* From VirtualBox's CPU database: the same IA32_VMX_PROCBASED_CTLS on all
 * three (0xfff9fffe0401e172: bit 63 set, secondary controls available). */
#define CTLS_COMMON        0xFFF9FFFE0401E172ULL
/* IA32_VMX_PROCBASED_CTLS2: Broadwell i7-5600U 0x57cff`00000000 (bits 33
 * EPT and 45 VM functions set); Silvermont N3530 0x28ef`00000000 (both
 * set); Ivy Bridge i5-3570 0x8ff`00000000 (EPT, no VM functions). */
#define CTLS2_BROADWELL    0x00057CFF00000000ULL
#define CTLS2_SILVERMONT   0x000028EF00000000ULL
#define CTLS2_IVYBRIDGE    0x000008FF00000000ULL
#define CAP_IVYBRIDGE      0x00000F0106114141ULL

static void test_caps(void **state)
{
    (void)state;
    struct vmf_vmx_msrs bdw = { CTLS_COMMON, CTLS2_BROADWELL, CAP_BROADWELL, 0x1 };
    struct vmf_vmx_msrs slm = { CTLS_COMMON, CTLS2_SILVERMONT, CAP_SILVERMONT, 0x1 };
    /* Ivy Bridge has no IA32_VMX_VMFUNC (CTLS2 bit 45 clear): read as 0. */
    struct vmf_vmx_msrs ivb = { CTLS_COMMON, CTLS2_IVYBRIDGE, CAP_IVYBRIDGE, 0 };
    struct vmf_vmx_msrs none = { CTLS_COMMON & ~(1ULL << 63), 0, 0, 0 };
    struct vmf_vmx_msrs noswitch = { CTLS_COMMON, CTLS2_BROADWELL, CAP_BROADWELL, 0x0 };
    struct vmf_vmx_msrs nowb = { CTLS_COMMON, CTLS2_BROADWELL, CAP_BROADWELL & ~(1ULL << 14), 0x1 };

    assert_int_equal(vmf_caps_missing(&bdw), 0);
    assert_int_equal(vmf_caps_missing(&slm), 0);
    assert_int_equal(vmf_caps_missing(&ivb), VMF_CAP_VMFUNC | VMF_CAP_EPTP_SWITCH);
    assert_int_equal(vmf_caps_missing(&none),
                     VMF_CAP_SECONDARY | VMF_CAP_EPT | VMF_CAP_VMFUNC |
                     VMF_CAP_EPTP_SWITCH | VMF_CAP_WALK4 | VMF_CAP_WB);
    assert_int_equal(vmf_caps_missing(&noswitch), VMF_CAP_EPTP_SWITCH);
    assert_int_equal(vmf_caps_missing(&nowb), VMF_CAP_WB);

    char buf[128];
    assert_string_equal(vmf_caps_describe(vmf_caps_missing(&ivb), buf, sizeof buf),
                        "enable VM functions, EPTP switching");
    assert_string_equal(vmf_caps_describe(0, buf, sizeof buf), "");
    assert_string_equal(vmf_caps_name(VMF_CAP_VMFUNC), "enable VM functions");
    assert_string_equal(vmf_caps_name(VMF_CAP_EPTP_SWITCH), "EPTP switching");
    assert_string_equal(vmf_caps_name(VMF_CAP_EPT | VMF_CAP_WB), "?");

    /* Which MSRs exist (A.10, A.11). */
    assert_int_equal(vmf_caps_readable(CTLS_COMMON, CTLS2_BROADWELL),
                     VMF_READ_CTLS2 | VMF_READ_EPT_CAP | VMF_READ_VMFUNC);
    assert_int_equal(vmf_caps_readable(CTLS_COMMON, CTLS2_IVYBRIDGE),
                     VMF_READ_CTLS2 | VMF_READ_EPT_CAP);
    assert_int_equal(vmf_caps_readable(none.procbased_ctls, 0), 0);

    /* Silvermont has no 1 GiB EPT pages (bit 17). */
    assert_int_equal(vmf_caps_map_flags(CAP_BROADWELL), 0);
    assert_int_equal(vmf_caps_map_flags(CAP_SILVERMONT), VMF_MAP_NO_1G);
    assert_int_equal(vmf_caps_map_flags(0), VMF_MAP_NO_1G | VMF_MAP_4K);

    /* A.3: (desired | allowed-0) & allowed-1.  Primary: 0x80000000 |
     * 0x0401e172 = 0x8401e172, and 0xfff9fffe keeps all of it. */
    assert_int_equal(vmf_ctl_adjust(CTLS_COMMON, VMX_PROC_ACTIVATE_SECONDARY), 0x8401E172u);
    /* Bit 0 is never allowed to be 1 here (bit 32 of the MSR is 0). */
    assert_int_equal(vmf_ctl_adjust(CTLS_COMMON, 0x1), 0x0401E172u);
    assert_int_equal(vmf_ctl_unsupported(CTLS_COMMON, 0x80000001u), 0x1u);
    uint32_t want = VMX_PROC2_ENABLE_EPT | VMX_PROC2_ENABLE_VMFUNC;  /* 0x2002 */
    assert_int_equal(want, 0x2002u);
    assert_int_equal(vmf_ctl_adjust(CTLS2_BROADWELL, want), 0x2002u);
    assert_int_equal(vmf_ctl_adjust(CTLS2_IVYBRIDGE, want), 0x0002u);
    assert_int_equal(vmf_ctl_unsupported(CTLS2_IVYBRIDGE, want), 0x2000u);
}

/* ---- the anywhere page table --------------------------------------------------- */

static void snapshot_aw(const struct vmf_anywhere *aw, uint64_t out[3][512])
{
    const uint64_t *t[3] = { pool_virt(NULL, aw->pt), pool_virt(NULL, aw->pd),
                             pool_virt(NULL, aw->pdpt) };
    for (int i = 0; i < 3; i++)
        memcpy(out[i], t[i], 4096);
}

static void expect_aw_unchanged(const struct vmf_anywhere *aw, uint64_t snap[3][512])
{
    uint64_t now[3][512];
    snapshot_aw(aw, now);
    assert_memory_equal(now, snap, sizeof now);
    for (int i = 0; i < 512; i++) {
        assert_int_equal(now[0][i], aw->leaf);
        assert_int_equal(now[1][i], aw->pt | 0x807);
        assert_int_equal(now[2][i], aw->pd | 0x807);
    }
}

static void expect_root(const struct vmf_ept *e, uint64_t gpa, uint64_t root)
{
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(e, gpa, VMF_EPT_R, &w), VMF_OK);
    assert_int_equal(w.hpa, root | (gpa & 0xFFF));
    assert_true(w.anywhere);
    assert_int_equal(w.perms, VMF_EPT_R);
    assert_int_equal(w.level, 1);
    /* Never writable or executable. */
    assert_int_equal(vmf_ept_translate(e, gpa, VMF_EPT_W, &w), VMF_EVIOLATION);
    assert_int_equal(vmf_ept_translate(e, gpa, VMF_EPT_X, &w), VMF_EVIOLATION);
}

static void test_anywhere(void **state)
{
    (void)state;
    struct vmf_anywhere aw;
    const uint64_t root = 0x55555000ULL;
    assert_int_equal(vmf_anywhere_init(&aw, &A, root, VMF_EPT_R), VMF_OK);
    /* Pages 0, 1, 2 = PT, PD, PDPT. */
    assert_int_equal(aw.pt, page_phys(0));
    assert_int_equal(aw.pd, page_phys(1));
    assert_int_equal(aw.pdpt, page_phys(2));
    /* PT entry: root | marker 0x800 | WB 0x30 | R 0x1 = 0x55555831. */
    assert_int_equal(aw.leaf, 0x55555831ULL);
    assert_int_equal(pg(0)[0], 0x55555831ULL);
    assert_int_equal(pg(0)[511], 0x55555831ULL);
    /* PD entry: PT phys | 0x807; PDPT entry: PD phys | 0x807. */
    assert_int_equal(pg(1)[17], 0x000000A000000807ULL);
    assert_int_equal(pg(2)[300], 0x000000A000001807ULL);
    uint64_t snap[3][512];
    snapshot_aw(&aw, snap);

    struct vmf_ept e;
    assert_int_equal(vmf_ept_init_anywhere(&e, &A, &aw), VMF_OK);
    assert_int_equal(e.pml4, page_phys(3));
    assert_int_equal(pg(3)[0], 0x000000A000002807ULL);   /* -> shared PDPT */
    assert_int_equal(pg(3)[511], 0x000000A000002807ULL);
    /* Everything leads to the root: low, high, odd addresses. */
    expect_root(&e, 0, root);
    expect_root(&e, 0x123456789ABCULL & ~7ULL, root);
    expect_root(&e, (1ULL << 48) - 8, root);
    assert_int_equal(e.pages, 1);

    /* An explicit mapping un-shares its path (3 private tables) and leaves
     * the shared tables untouched. */
    const uint64_t gpa = 0x8140603000ULL;   /* indexes 1, 5, 3, 3 */
    assert_int_equal(vmf_ept_map(&e, gpa, 0x7777000ULL, 0x1000, VMF_EPT_R | VMF_EPT_X,
                                 VMF_MT_WB, 0), VMF_OK);
    assert_int_equal(e.pages, 4);
    expect_aw_unchanged(&aw, snap);
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(&e, gpa + 8, VMF_EPT_X, &w), VMF_OK);
    assert_int_equal(w.hpa, 0x7777008ULL);
    assert_false(w.anywhere);
    /* Private PDPT (page 4): copy of the shared one except slot 5. */
    assert_int_equal(pg(3)[1], 0x000000A000004007ULL);
    assert_int_equal(pg(4)[4], 0x000000A000001807ULL);
    assert_int_equal(pg(4)[5], 0x000000A000005007ULL);
    /* Private PT (page 6): slot 3 the page (0x7777000 | WB | R | X = 0x35),
     * the rest the root. */
    assert_int_equal(pg(6)[3], 0x0000000007777035ULL);
    assert_int_equal(pg(6)[2], 0x55555831ULL);
    /* Neighbours at every level still reach the root. */
    expect_root(&e, gpa + 0x1000, root);
    expect_root(&e, gpa + (1ULL << 21), root);
    expect_root(&e, gpa + (1ULL << 30), root);
    expect_root(&e, gpa + (1ULL << 39), root);
    /* A 2 MiB and a 1 GiB leaf next to it. */
    assert_int_equal(vmf_ept_map(&e, gpa - 0x3000 + (1ULL << 21), 0x40000000ULL, 1ULL << 21,
                                 VMF_EPT_R, VMF_MT_WB, 0), VMF_OK);
    assert_int_equal(vmf_ept_map(&e, 0, 0x40000000ULL, 1ULL << 30,
                                 VMF_EPT_R | VMF_EPT_W, VMF_MT_WB, 0), VMF_OK);
    expect_xlate(&e, gpa - 0x3000 + (1ULL << 21) + 0x10, 0x40000010ULL, VMF_EPT_R, 2);
    expect_xlate(&e, 0x3FFFF000ULL, 0x7FFFF000ULL, VMF_EPT_R | VMF_EPT_W, 3);
    expect_root(&e, 1ULL << 30, root);
    /* The explicit mapping of the same page as the root is not "anywhere". */
    assert_int_equal(vmf_ept_map(&e, 0x100000000ULL, root, 0x1000, VMF_EPT_R, VMF_MT_WB, 0), VMF_OK);
    assert_int_equal(vmf_ept_translate(&e, 0x100000000ULL, 0, &w), VMF_OK);
    assert_false(w.anywhere);
    /* Mapping over the anywhere slots is not "busy"; unmap brings them back. */
    assert_int_equal(vmf_ept_unmap(&e, gpa, 0x1000), VMF_OK);
    expect_root(&e, gpa, root);
    assert_int_equal(vmf_ept_unmap(&e, 0, 1ULL << 30), VMF_OK);
    expect_root(&e, 0x1000, root);
    /* Unmapping a leaf at PDPT level restores the "pointer to the shared
     * PD" entry, not 0. */
    assert_int_equal(raw(&e, 0, 3), 0x000000A000001807ULL);
    expect_aw_unchanged(&aw, snap);
    assert_int_equal(vmf_anywhere_init(&aw, &A, root | 0x10, VMF_EPT_R), VMF_EINVAL);
    assert_int_equal(vmf_anywhere_init(&aw, &A, root, VMF_EPT_W), VMF_EINVAL);
}

/* ---- guest page tables (x86-64 4-level paging) ----------------------------------- */

static void test_guest_pt(void **state)
{
    (void)state;
    struct vmf_gpt pt;
    struct vmf_gpt_walk w;
    assert_int_equal(vmf_gpt_init(&pt, &A), VMF_OK);
    assert_int_equal(pt.root, page_phys(0));
    /* Kernel-half va 0xffff800000000000 (PML4 index 256): 2 MiB + 4 KiB to
     * pa 0x200000, writable, no-execute. */
    const uint64_t va = 0xFFFF800000000000ULL;
    assert_int_equal(vmf_gpt_map(&pt, va, 0x200000, 0x201000, VMF_PT_W | VMF_PT_NX, 0), VMF_OK);
    /* Non-leaf: next table | P 0x1 | R/W 0x2 | U/S 0x4 | A 0x20 = 0x27. */
    assert_int_equal(pg(0)[256], 0x000000A000001027ULL);
    assert_int_equal(pg(1)[0], 0x000000A000002027ULL);
    /* 2 MiB leaf: 0x200000 | XD bit 63 | PS 0x80 | D 0x40 | A 0x20 | W 0x2
     * | P 0x1 = 0x80000000002000E3. */
    assert_int_equal(pg(2)[0], 0x80000000002000E3ULL);
    /* The 4 KiB one: PD[1] -> PT (page 3), PT[0] = 0x400000 | XD | 0x63. */
    assert_int_equal(pg(2)[1], 0x000000A000003027ULL);
    assert_int_equal(pg(3)[0], 0x8000000000400063ULL);

    assert_int_equal(vmf_gpt_translate(&pt, va + 0x12345, &w), VMF_OK);
    assert_int_equal(w.pa, 0x212345ULL);
    assert_int_equal(w.level, 2);
    assert_true(w.writable);
    assert_true(w.nx);
    assert_false(w.user);   /* U/S set above, clear in the leaf */
    assert_int_equal(vmf_gpt_translate(&pt, va + 0x200FFF, &w), VMF_OK);
    assert_int_equal(w.pa, 0x400FFFULL);
    assert_int_equal(w.level, 1);
    assert_int_equal(vmf_gpt_translate(&pt, va + 0x201000, &w), VMF_ENOENT);
    assert_int_equal(w.level, 1);
    assert_int_equal(vmf_gpt_translate(&pt, 0x1000, &w), VMF_ENOENT);
    assert_int_equal(w.level, 4);
    assert_int_equal(vmf_gpt_translate(&pt, 0x0000800000000000ULL, &w), VMF_EINVAL);

    /* A 1 GiB user read-only executable leaf at va 1 GiB. */
    assert_int_equal(vmf_gpt_map(&pt, 0x40000000ULL, 0x80000000ULL, 0x40000000ULL, VMF_PT_U, 0), VMF_OK);
    assert_int_equal(vmf_gpt_translate(&pt, 0x40000123ULL, &w), VMF_OK);
    assert_int_equal(w.pa, 0x80000123ULL);
    assert_int_equal(w.level, 3);
    assert_true(w.user);
    assert_false(w.writable);
    assert_false(w.nx);
    /* Leaf 0x80000000 | PS | A | U | P = 0x800000A5. */
    assert_int_equal(pg(0)[0], 0x000000A000004027ULL);   /* new PDPT, page 4 */
    assert_int_equal(pg(4)[1], 0x800000A5ULL);

    /* Errors: busy (nothing changed), misaligned, crossing the hole. */
    unsigned used = pool_used;
    assert_int_equal(vmf_gpt_map(&pt, va + 0x200000, 0, 0x2000, 0, 0), VMF_EBUSY);
    assert_int_equal(pool_used, used);
    assert_int_equal(vmf_gpt_map(&pt, va + 0x10, 0, 0x1000, 0, 0), VMF_EINVAL);
    assert_int_equal(vmf_gpt_map(&pt, 0x00007FFFFFFFF000ULL, 0, 0x2000, 0, 0), VMF_EINVAL);
    assert_int_equal(vmf_gpt_map(&pt, 0x10000, 0, 0x1000, VMF_PT_PS, 0), VMF_EINVAL);

    /* CR3 flag/PCID bits are ignored; a PS bit in a PML4E is reserved. */
    assert_int_equal(vmf_guest_translate(vmf_gpt_read_alloc, (void *)&A, pt.root | 0x18,
                                         va, &w), VMF_OK);
    pg(0)[256] |= VMF_PT_PS;
    assert_int_equal(vmf_gpt_translate(&pt, va, &w), VMF_EMISCONFIG);
    pg(0)[256] &= ~VMF_PT_PS;
    /* A reader that fails. */
    assert_int_equal(vmf_guest_translate(vmf_gpt_read_alloc, (void *)&A, 0x1000, va, &w), VMF_EFAULT);
    virt_misuse = 0;  /* that lookup of page 0x1000 was on purpose */
}

/* ---- ELISA: the three contexts of one vCPU ----------------------------------------- */

/* The layout of the tests, chosen to exercise each rule:
 *   guest RAM    gpa 0 .. 1 GiB + 4 MiB  ->  hpa 2 GiB (not identity)
 *   gate block   gpa 0x100000, va 0x0000400000000000; top and bottom are
 *                guest RAM pages (hpa 0x80100000, 0x80102000), the middle
 *                one a host page at hpa 0xC00000000
 *   sub code     gpa 0x200000000 (outside RAM), 2 pages, hpa 0x81000000:
 *                inside guest RAM's host range (its RAM alias is gpa
 *                0x1000000), va 0x0000400000200000
 *   sub data     gpa 0x200100000, 1 page, hpa 0x82000000 (RAM alias gpa
 *                0x2000000), va 0x0000400000400000
 *   shared       gpa 0x200200000, 2 MiB, hpa 0xD00000000 (2 MiB aligned:
 *                one 2 MiB leaf), va 0x0000400040000000
 *   PT window    gpa 0x300000000, up to 16 pages
 * The pool (fake hpa 640 GiB) is outside guest RAM's host range. */
static const struct vmf_elisa_layout L = {
    .ram_gpa = 0, .ram_hpa = 0x80000000ULL, .ram_size = 0x40400000ULL,
    .gate_gpa = 0x100000ULL, .gate_va = 0x0000400000000000ULL,
    .gate_hpa = { 0x80100000ULL, 0xC00000000ULL, 0x80102000ULL },
    .sub_code_gpa = 0x200000000ULL, .sub_code_hpa = 0x81000000ULL,
    .sub_code_size = 0x2000, .sub_code_va = 0x0000400000200000ULL,
    .shared_gpa = 0x200200000ULL, .shared_hpa = 0xD00000000ULL,
    .shared_size = 0x200000, .shared_va = 0x0000400040000000ULL,
    .sub_data_gpa = 0x200100000ULL, .sub_data_hpa = 0x82000000ULL,
    .sub_data_size = 0x1000, .sub_data_va = 0x0000400000400000ULL,
    .pt_gpa = 0x300000000ULL, .pt_pages = 16,
};

/* Built once per test into static storage (it points into itself). */
static struct vmf_elisa E;

static void build_elisa(void)
{
    assert_int_equal(vmf_elisa_build(&E, &A, &L), VMF_OK);
}

static bool in_range(uint64_t x, uint64_t base, uint64_t size)
{
    return x >= base && x - base < size;
}

static void test_elisa_default(void **state)
{
    (void)state;
    build_elisa();
    const struct vmf_ept *d = &E.ctx[VMF_CTX_DEFAULT];
    const uint64_t RX = VMF_EPT_R | VMF_EPT_X;
    struct vmf_ept_walk w;
    /* Guest RAM, with the largest leaves left after the holes. */
    expect_xlate(d, 0, 0x80000000ULL, VMF_EPT_RWX, 1);            /* split for the gate */
    expect_xlate(d, 0x3FE00000ULL, 0xBFE00000ULL, VMF_EPT_RWX, 2);
    expect_xlate(d, 0x40200000ULL, 0xC0200000ULL, VMF_EPT_RWX, 2);
    expect_xlate(d, 0x403FF000ULL, 0xC03FF000ULL, VMF_EPT_RWX, 2);
    expect_hole(d, 0x40400000ULL, 2);
    /* The gate: top and bottom read/execute only, middle empty. */
    expect_xlate(d, 0x100000, 0x80100000ULL, RX, 1);
    expect_hole(d, 0x101000, 1);
    expect_xlate(d, 0x102000, 0x80102000ULL, RX, 1);
    assert_int_equal(vmf_ept_translate(d, 0x100000, VMF_EPT_W, &w), VMF_EVIOLATION);
    expect_xlate(d, 0x103000, 0x80103000ULL, VMF_EPT_RWX, 1);
    /* The RAM aliases of the sub code and data are gone, neighbours not. */
    expect_hole(d, 0x1000000, 1);
    expect_hole(d, 0x1001000, 1);
    expect_xlate(d, 0x1002000, 0x81002000ULL, VMF_EPT_RWX, 1);
    expect_xlate(d, 0xFFF000, 0x80FFF000ULL, VMF_EPT_RWX, 2);   /* PD[7], not split */
    expect_hole(d, 0x2000000, 1);
    expect_xlate(d, 0x2001000, 0x82001000ULL, VMF_EPT_RWX, 1);
    /* The sub context's GPAs and the window: nothing, and no anywhere. */
    expect_hole(d, L.sub_code_gpa, 3);
    expect_hole(d, L.shared_gpa, 3);
    expect_hole(d, L.pt_gpa, 3);
    expect_hole(d, 0x8000000000ULL, 4);
    /* Exhaustively: no page of guest RAM's GPA range reaches a page of the
     * sub context, the gate's middle page, or anything the builder
     * allocated; nothing is an anywhere entry. */
    unsigned present = 0;
    for (uint64_t g = 0; g < L.ram_size + 0x200000; g += 0x1000) {
        if (vmf_ept_translate(d, g, 0, &w) != VMF_OK)
            continue;
        present++;
        assert_false(w.anywhere);
        assert_false(in_range(w.hpa, L.sub_code_hpa, L.sub_code_size));
        assert_false(in_range(w.hpa, L.sub_data_hpa, L.sub_data_size));
        assert_false(in_range(w.hpa, L.shared_hpa, L.shared_size));
        assert_false(w.hpa == L.gate_hpa[VMF_GATE_MIDDLE]);
        assert_false(in_range(w.hpa, PHYS_BASE, (uint64_t)POOL_PAGES * 4096));
    }
    /* All of RAM but 2 + 1 (sub code, data) + 1 (middle) pages. */
    assert_int_equal(present, L.ram_size / 0x1000 - 4);
}

static void test_elisa_gate_sub(void **state)
{
    (void)state;
    build_elisa();
    const struct vmf_ept *g = &E.ctx[VMF_CTX_GATE], *s = &E.ctx[VMF_CTX_SUB];
    const uint64_t RX = VMF_EPT_R | VMF_EPT_X, RW = VMF_EPT_R | VMF_EPT_W;
    uint64_t root = E.root_hpa;
    /* The guest page table came first: its root is pool page 0. */
    assert_int_equal(root, page_phys(0));
    assert_int_equal(E.pt_hpa[0], root);
    assert_true(E.pt_used >= 4 && E.pt_used <= L.pt_pages);
    /* The anywhere tables: the next three pages, 3 whatever the guest size. */
    assert_int_equal(E.aw.pt, page_phys(E.pt_used));
    assert_int_equal(E.aw.pd, page_phys(E.pt_used + 1));
    assert_int_equal(E.aw.pdpt, page_phys(E.pt_used + 2));
    assert_int_equal(E.aw.leaf, 0x000000A000000831ULL);   /* root | 0x800 | WB | R */

    /* Gate: the three gate pages (middle included) read/execute ... */
    expect_xlate(g, 0x100000, 0x80100000ULL, RX, 1);
    expect_xlate(g, 0x101ABCULL, 0xC00000ABCULL, RX, 1);
    expect_xlate(g, 0x102000, 0x80102000ULL, RX, 1);
    /* ... its page table read-only (window page k -> pt_hpa[k]) ... */
    for (unsigned k = 0; k < E.pt_used; k++)
        expect_xlate(g, L.pt_gpa + k * 0x1000ULL, E.pt_hpa[k], VMF_EPT_R, 1);
    /* ... and everything else is the root: guest RAM, the sub context's
     * code, data and shared memory, the unused window, far away. */
    expect_root(g, 0, root);
    expect_root(g, 0x103000, root);
    expect_root(g, 0x1000000, root);
    expect_root(g, L.sub_code_gpa, root);
    expect_root(g, L.sub_data_gpa, root);
    expect_root(g, L.shared_gpa + 0x1000, root);
    expect_root(g, L.pt_gpa + E.pt_used * 0x1000ULL, root);
    expect_root(g, 0xFFFFFFFFF000ULL, root);

    /* Sub: the gate pages, code R+X, data and shared R+W (shared as one
     * 2 MiB leaf), the window, the root everywhere else. */
    expect_xlate(s, 0x101000, 0xC00000000ULL, RX, 1);
    expect_xlate(s, L.sub_code_gpa + 0x1234, 0x81001234ULL, RX, 1);
    expect_xlate(s, L.sub_data_gpa + 8, 0x82000008ULL, RW, 1);
    expect_xlate(s, L.shared_gpa + 0x1FFFF8, 0xD001FFFF8ULL, RW, 2);
    expect_xlate(s, L.pt_gpa, root, VMF_EPT_R, 1);
    expect_root(s, 0, root);
    expect_root(s, 0x1000000, root);
    expect_root(s, L.sub_code_gpa + 0x2000, root);
    expect_root(s, 0x8000000000ULL, root);
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(s, L.sub_code_gpa, VMF_EPT_W, &w), VMF_EVIOLATION);
    assert_int_equal(vmf_ept_translate(s, L.shared_gpa, VMF_EPT_X, &w), VMF_EVIOLATION);
    /* Raw sub-context entries: code leaf 0x81000000 | WB 0x30 | X | R =
     * 0x81000035; shared 2 MiB leaf 0xD00000000 | PS 0x80 | 0x33 = 0xB3;
     * PML4 slot 1 (nothing explicit there) points at the shared PDPT. */
    assert_int_equal(raw(s, L.sub_code_gpa, 1), 0x0000000081000035ULL);
    assert_int_equal(raw(s, L.shared_gpa, 2), 0x0000000D000000B3ULL);
    assert_int_equal(raw(s, 0x8000000000ULL, 4), E.aw.pdpt | 0x807);
    /* A lookup that passes through the shared tables reads them. */
    assert_int_equal(raw(s, 0x8000000000ULL, 1), E.aw.leaf);

    /* The shared tables are exactly what vmf_anywhere_init wrote. */
    for (int i = 0; i < 512; i++) {
        assert_int_equal(((uint64_t *)pool_virt(NULL, E.aw.pt))[i], E.aw.leaf);
        assert_int_equal(((uint64_t *)pool_virt(NULL, E.aw.pd))[i], E.aw.pt | 0x807);
        assert_int_equal(((uint64_t *)pool_virt(NULL, E.aw.pdpt))[i], E.aw.pd | 0x807);
    }

    /* EPTP list: 0 default, 1 gate, 2 sub; each PML4 | WB | walk 4 (0x1E). */
    assert_int_equal(VMF_CTX_DEFAULT, 0);
    assert_int_equal(VMF_CTX_GATE, 1);
    assert_int_equal(VMF_CTX_SUB, 2);
    for (unsigned i = 0; i < VMF_CTX_COUNT; i++) {
        assert_int_equal(E.eptp[i], E.ctx[i].pml4 | 0x1E);
        assert_int_equal(vmf_eptp_list_get(&E.list, i), E.eptp[i]);
        uint64_t eptp;
        assert_true(vmf_eptp_switch(&E.list, i, CAP_BROADWELL, 46, &eptp));
        assert_int_equal(eptp, E.eptp[i]);
    }
    assert_int_equal(vmf_eptp_list_get(&E.list, 3), 0);
    assert_false(vmf_eptp_switch(&E.list, 3, CAP_BROADWELL, 46, NULL));
    assert_false(vmf_eptp_switch(&E.list, 512, CAP_BROADWELL, 46, NULL));
    /* Distinct EPTs and the list page all from the pool, none in guest RAM. */
    assert_true(E.ctx[0].pml4 != E.ctx[1].pml4 && E.ctx[1].pml4 != E.ctx[2].pml4);
    assert_true(in_range(E.list.phys, PHYS_BASE, (uint64_t)POOL_PAGES * 4096));
}

/* The CPU's walk in a context: guest CR3 -> (EPT) -> root -> ... -> GPA ->
 * (EPT) -> HPA, with the guest's CR3 pointing anywhere it likes. */
static void test_elisa_guest_walk(void **state)
{
    (void)state;
    build_elisa();
    struct vmf_ept *g = &E.ctx[VMF_CTX_GATE], *s = &E.ctx[VMF_CTX_SUB],
                   *d = &E.ctx[VMF_CTX_DEFAULT];
    /* CR3 values a guest might have: a RAM page, one with PCID bits, one far
     * outside RAM, and the window's root GPA itself. */
    const uint64_t cr3s[] = { 0x1000, 0x3FFFF000ULL | 0x18, 0x7654321000ULL, L.pt_gpa };
    struct vmf_gpt_walk gw;
    struct vmf_ept_walk ew;
    for (unsigned i = 0; i < sizeof cr3s / sizeof cr3s[0]; i++) {
        uint64_t cr3 = cr3s[i];
        /* Sub: the code's va -> its GPA -> its HPA, executable. */
        assert_int_equal(vmf_guest_translate(vmf_ept_read64, s, cr3, L.sub_code_va + 0x1123, &gw), VMF_OK);
        assert_int_equal(gw.pa, L.sub_code_gpa + 0x1123);
        assert_false(gw.writable);
        assert_false(gw.nx);
        assert_int_equal(vmf_ept_translate(s, gw.pa, VMF_EPT_X, &ew), VMF_OK);
        assert_int_equal(ew.hpa, L.sub_code_hpa + 0x1123);
        /* Shared memory and data: writable, no-execute, reach their HPAs. */
        assert_int_equal(vmf_guest_translate(vmf_ept_read64, s, cr3, L.shared_va + 0x10008, &gw), VMF_OK);
        assert_int_equal(gw.pa, L.shared_gpa + 0x10008);
        assert_true(gw.writable);
        assert_true(gw.nx);
        assert_int_equal(vmf_ept_translate(s, gw.pa, VMF_EPT_W, &ew), VMF_OK);
        assert_int_equal(ew.hpa, L.shared_hpa + 0x10008);
        assert_int_equal(vmf_guest_translate(vmf_ept_read64, s, cr3, L.sub_data_va + 0xFF8, &gw), VMF_OK);
        assert_int_equal(vmf_ept_translate(s, gw.pa, VMF_EPT_W, &ew), VMF_OK);
        assert_int_equal(ew.hpa, L.sub_data_hpa + 0xFF8);
        /* The gate's middle page at the same va in the gate and sub contexts. */
        for (int c = 0; c < 2; c++) {
            struct vmf_ept *ctx = c == 0 ? g : s;
            assert_int_equal(vmf_guest_translate(vmf_ept_read64, ctx, cr3, L.gate_va + 0x1005, &gw), VMF_OK);
            assert_int_equal(gw.pa, L.gate_gpa + 0x1005);
            assert_int_equal(vmf_ept_translate(ctx, gw.pa, VMF_EPT_X, &ew), VMF_OK);
            assert_int_equal(ew.hpa, L.gate_hpa[VMF_GATE_MIDDLE] + 5);
        }
        /* From the gate context the sub code's va walks (same page table)
         * but its GPA is the root there: not executable, not the code. */
        assert_int_equal(vmf_guest_translate(vmf_ept_read64, g, cr3, L.sub_code_va, &gw), VMF_OK);
        assert_int_equal(vmf_ept_translate(g, gw.pa, VMF_EPT_X, &ew), VMF_EVIOLATION);
        assert_int_equal(ew.hpa, E.root_hpa);
        /* A va the host page table does not map: not present. */
        assert_int_equal(vmf_guest_translate(vmf_ept_read64, s, cr3, 0xFFFFFFFF80000000ULL, &gw),
                         VMF_ENOENT);
    }
    /* The default context has no anywhere mapping: with a CR3 the guest
     * did not fill, the walk cannot read its PML4. */
    assert_int_equal(vmf_guest_translate(vmf_ept_read64, d, 0x7654321000ULL, L.sub_code_va, &gw),
                     VMF_EFAULT);
    virt_misuse = 0;  /* page lookups outside the pool above were expected */
}

static void test_elisa_options_and_errors(void **state)
{
    (void)state;
    /* EPT A/D on: A/D EPTPs, window and root read/write (SDM 29.3.3.2). */
    struct vmf_elisa_layout l = L;
    l.eptp_ad = true;
    l.user_mode = true;
    l.map_flags = VMF_MAP_NO_1G;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_OK);
    assert_int_equal(E.eptp[VMF_CTX_SUB], E.ctx[VMF_CTX_SUB].pml4 | 0x5E);
    assert_int_equal(E.aw.leaf, E.root_hpa | 0x833);
    expect_xlate(&E.ctx[VMF_CTX_SUB], L.pt_gpa, E.root_hpa, VMF_EPT_R | VMF_EPT_W, 1);
    expect_xlate(&E.ctx[VMF_CTX_DEFAULT], 0x3FE00000ULL, 0xBFE00000ULL, VMF_EPT_RWX, 2);
    struct vmf_gpt_walk gw;
    assert_int_equal(vmf_guest_translate(vmf_ept_read64, &E.ctx[VMF_CTX_SUB], 0x1000,
                                         L.sub_code_va, &gw), VMF_OK);
    assert_true(gw.user);

    /* Overlapping GPAs / VAs, misalignment, no code, window bounds. */
    l = L; l.shared_gpa = L.sub_code_gpa + 0x1000;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_EINVAL);
    l = L; l.sub_data_va = L.gate_va + 0x2000;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_EINVAL);
    l = L; l.pt_gpa = L.gate_gpa;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_EINVAL);
    l = L; l.gate_hpa[1] |= 0x800;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_EINVAL);
    l = L; l.sub_code_size = 0;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_EINVAL);
    l = L; l.pt_pages = VMF_ELISA_MAX_PT_PAGES + 1;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_EINVAL);
    /* The guest page table needs more than one page. */
    l = L; l.pt_pages = 1;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_ENOMEM);
    /* Guest RAM covering the allocator's pages: the guest could write its
     * own EPT; refused. */
    l = L; l.ram_hpa = PHYS_BASE; l.ram_size = 0x40000000ULL;
    l.gate_hpa[0] = PHYS_BASE + 0x3FF00000ULL; l.gate_hpa[2] = PHYS_BASE + 0x3FF02000ULL;
    assert_int_equal(vmf_elisa_build(&E, &A, &l), VMF_EINVAL);
    /* Out of pages part way. */
    pool_used = 0;
    pool_limit = 12;
    assert_int_equal(vmf_elisa_build(&E, &A, &L), VMF_ENOMEM);
}

/* ---- VMCS encodings (Appendix B) and exit reasons (Appendix C) -------------------- */

static void test_vmcs_constants(void **state)
{
    (void)state;
    assert_int_equal(VMCS_VM_FUNCTION_CONTROLS, 0x2018);
    assert_int_equal(VMCS_EPT_POINTER, 0x201A);
    assert_int_equal(VMCS_EPTP_LIST_ADDRESS, 0x2024);
    assert_int_equal(VMCS_SECONDARY_PROC_CONTROLS, 0x401E);
    assert_int_equal(VMX_PROC2_ENABLE_EPT, 1u << 1);
    assert_int_equal(VMX_PROC2_ENABLE_VMFUNC, 1u << 13);
    assert_int_equal(VMX_EXIT_VMFUNC, 59);
    assert_int_equal(VMX_EXIT_EPT_VIOLATION, 48);
    assert_int_equal(VMX_EXIT_VMCALL, 18);
    /* Encoding layout (B "Field Encoding in VMCS"): bits 14:13 width (1 =
     * 64-bit, 2 = 32-bit), bits 11:10 type (0 control, 1 read-only data). */
    assert_int_equal((VMCS_EPTP_LIST_ADDRESS >> 13) & 3, 1);
    assert_int_equal((VMCS_SECONDARY_PROC_CONTROLS >> 13) & 3, 2);
    assert_int_equal((VMCS_EXIT_REASON >> 10) & 3, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ept_4k_raw, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_ept_large_leaves, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_ept_attrs_and_errors, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_ept_unmap_split, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_ept_protect, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_ept_misconfig, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_eptp_encoding, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_eptp_list, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_caps, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_anywhere, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_guest_pt, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_elisa_default, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_elisa_gate_sub, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_elisa_guest_walk, reset_pool, check_no_misuse),
        cmocka_unit_test_setup_teardown(test_elisa_options_and_errors, reset_pool, check_no_misuse),
        cmocka_unit_test(test_vmcs_constants),
    };
    return cmocka_run_group_tests_name("vmfunc", tests, NULL, NULL);
}
