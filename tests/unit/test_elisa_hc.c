/* tests/unit/test_elisa_hc.c - cmocka tests of ELISA's host hypercall checks
 * and EPT translation (elisa/kvm/elisa_hc_check.c, the code kvm-intel.ko runs).
 *
 * A fake host: the manager's RAM is MGR_PAGES pages at guest-physical
 * MGR_GPA; page k sits at host-physical HPA_TOP - k * 4096 (descending, far
 * from both the GPAs and the test's pointers), so a GPA copied where an HPA
 * belongs, or the reverse, fails a comparison.  Host table pages come from a
 * pool with fake host-physical addresses too.  Every pin and unpin is
 * counted per page, so a leak or a double release on any path fails.
 *
 * EPT entry values (SDM Vol. 3C 29.3.2): R 0x1, W 0x2, X 0x4, memory type
 * WB (6) in bits 5:3 = 0x30, ignore-PAT 0x40, page size 0x80.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "elisa_hc_check.h"

#define MGR_GPA    0x0000000040000000ULL  /* 1 GiB: the manager's RAM */
#define MGR_PAGES  1100                   /* 4.3 MiB: room for a 2 MiB leaf at 2 MiB */
#define RO_FIRST   1050                   /* pages RO_FIRST.. are a read-only slot */
#define HPA_TOP    0x000000C000000000ULL  /* page k at HPA_TOP - k * 4096 */
#define TBL_PHYS   0x000000E000000000ULL  /* host table pages */
#define POOL_PAGES 64

#define RWX  0x7ULL
#define WB   0x30ULL
#define IPAT 0x40ULL
#define PS   0x80ULL
#define TBL(gpa)       ((gpa) | RWX)
#define LEAF(gpa, p)   ((gpa) | (p) | WB)

static uint64_t mgr[MGR_PAGES][512] __attribute__((aligned(4096)));
static unsigned pins[MGR_PAGES];
static uint64_t pool[POOL_PAGES][512] __attribute__((aligned(4096)));
static bool pool_live[POOL_PAGES];
static unsigned pool_used, pool_limit, frees, bad_calls;
static unsigned reads;

static uint64_t gpa_of(unsigned k) { return MGR_GPA + (uint64_t)k * 4096; }
static uint64_t hpa_of(unsigned k) { return HPA_TOP - (uint64_t)k * 4096; }

static int page_of_gpa(uint64_t gpa)
{
    if ((gpa & 0xfff) || gpa < MGR_GPA || gpa >= MGR_GPA + (uint64_t)MGR_PAGES * 4096)
        return -1;
    return (int)((gpa - MGR_GPA) / 4096);
}

static int page_of_hpa(uint64_t hpa)
{
    if ((hpa & 0xfff) || hpa > HPA_TOP || hpa <= HPA_TOP - (uint64_t)MGR_PAGES * 4096)
        return -1;
    return (int)((HPA_TOP - hpa) / 4096);
}

static int f_read_table(void *ctx, uint64_t gpa, uint64_t *buf)
{
    int k = page_of_gpa(gpa);

    (void)ctx;
    reads++;
    if (k < 0)
        return -ELISA_E_OWNER;
    memcpy(buf, mgr[k], 4096);
    return 0;
}

static uint64_t *f_alloc_table(void *ctx, uint64_t *hpa)
{
    (void)ctx;
    if (pool_used >= pool_limit)
        return NULL;
    memset(pool[pool_used], 0, 4096);
    pool_live[pool_used] = true;
    *hpa = TBL_PHYS + (uint64_t)pool_used * 4096;
    return pool[pool_used++];
}

static void f_free_table(void *ctx, uint64_t *table, uint64_t hpa)
{
    unsigned i = (unsigned)((hpa - TBL_PHYS) / 4096);

    (void)ctx;
    if (hpa < TBL_PHYS || i >= pool_used || table != pool[i] || !pool_live[i]) {
        bad_calls++;
        return;
    }
    pool_live[i] = false;
    frees++;
}

static int f_pin(void *ctx, uint64_t gpa, bool writable, uint64_t *hpa)
{
    int k = page_of_gpa(gpa);

    (void)ctx;
    if (k < 0 || (writable && k >= RO_FIRST))
        return -ELISA_E_OWNER;
    pins[k]++;
    *hpa = hpa_of((unsigned)k);
    return 0;
}

static void f_unpin(void *ctx, uint64_t hpa)
{
    int k = page_of_hpa(hpa);

    (void)ctx;
    if (k < 0 || pins[k] == 0) {
        bad_calls++;
        return;
    }
    pins[k]--;
}

static const struct elisa_xlate_ops OPS = {
    f_read_table, f_alloc_table, f_free_table, f_pin, f_unpin, NULL
};

static struct elisa_xlate_table tables[POOL_PAGES];
static uint64_t scratch[4][512];
static struct elisa_xlate X;

static int reset(void **state)
{
    (void)state;
    memset(mgr, 0, sizeof(mgr));
    memset(pins, 0, sizeof(pins));
    memset(pool_live, 0, sizeof(pool_live));
    pool_used = frees = bad_calls = reads = 0;
    pool_limit = POOL_PAGES;
    memset(&X, 0, sizeof(X));
    X.ops = &OPS;
    X.tables = tables;
    X.max_tables = POOL_PAGES;
    X.scratch = scratch;
    X.maxphyaddr = 46;
    X.exec_only = true;
    return 0;
}

static unsigned total_pins(void)
{
    unsigned n = 0;

    for (unsigned k = 0; k < MGR_PAGES; k++)
        n += pins[k];
    return n;
}

/* After release: nothing pinned, every table freed exactly once. */
static void assert_released(void)
{
    elisa_xlate_release(&X);
    assert_int_equal(total_pins(), 0);
    assert_int_equal(frees, pool_used);
    assert_int_equal(bad_calls, 0);
    assert_int_equal(X.ntables, 0);
}

/* Walk the HOST tables like the CPU (29.3.2): HPA of the page that maps gpa. */
static uint64_t *host_table(uint64_t hpa)
{
    unsigned i = (unsigned)((hpa - TBL_PHYS) / 4096);

    if (hpa < TBL_PHYS || (hpa & 0xfff) || i >= pool_used || !pool_live[i])
        return NULL;
    return pool[i];
}

static bool host_walk(uint64_t root_hpa, uint64_t gpa, uint64_t *hpa, uint64_t *perms)
{
    uint64_t *t = host_table(root_hpa);
    uint64_t p = RWX;

    for (int level = 4; level >= 1; level--) {
        uint64_t e;

        if (!t)
            return false;
        e = t[(gpa >> (12 + 9 * (level - 1))) & 511];
        if (!(e & RWX))
            return false;
        p &= e;
        if (level == 1) {
            *hpa = e & ELISA_EPT_ADDR;
            *perms = p;
            assert_int_equal(e & 0x38, WB);  /* memory type WB */
            assert_int_equal(e & 0x80, 0);   /* a 4 KiB leaf */
            return true;
        }
        assert_int_equal(e & 0xf8, 0);   /* host non-leaf: bits 7:3 clear, no large leaf */
        t = host_table(e & ELISA_EPT_ADDR);
    }
    return false;
}

/* ---- hypercall registers ------------------------------------------------- */

static const struct elisa_hc_env MGR_ENV = { ELISA_ROLE_MANAGER, 0, true, 4096, 46 };

static int chk(uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    struct elisa_hc_req r = { nr, a0, a1, a2, a3 };

    return elisa_hc_check(&r, &MGR_ENV);
}

static void test_hc_numbers(void **state)
{
    (void)state;
    assert_false(elisa_hc_is_elisa(0));            /* KVM_HC_* stay KVM's */
    assert_false(elisa_hc_is_elisa(12));
    assert_false(elisa_hc_is_elisa(ELISA_HC_BASE - 1));
    assert_true(elisa_hc_is_elisa(ELISA_HC_BASE));
    assert_true(elisa_hc_is_elisa(ELISA_HC_LAST));
    assert_false(elisa_hc_is_elisa(ELISA_HC_LAST + 1));
    assert_false(elisa_hc_is_elisa(ELISA_HC_BASE | (1ULL << 32)));
    assert_int_equal(chk(5, 0, 0, 0, 0), -ELISA_E_NOSYS);
    assert_int_equal(chk(ELISA_HC_BASE + 6, 1, 0, 0, 0), -ELISA_E_NOSYS);
    assert_int_equal(chk(ELISA_HC_LAST, 0, 0, 0, 0), -ELISA_E_NOSYS);
}

static void test_hc_caller(void **state)
{
    struct elisa_hc_req q = { ELISA_HC_QUERY, 0, 0, 0, 0 };
    struct elisa_hc_req m = { ELISA_HC_MAP_CTX, 7, 0, 1, MGR_GPA };
    struct elisa_hc_env e;

    (void)state;
    e = MGR_ENV;
    assert_int_equal(elisa_hc_check(&q, &e), 0);
    assert_int_equal(elisa_hc_check(&m, &e), 0);
    e.cpl = 3;                                       /* guest user space */
    assert_int_equal(elisa_hc_check(&q, &e), -ELISA_E_PERM);
    assert_int_equal(elisa_hc_check(&m, &e), -ELISA_E_PERM);
    e = MGR_ENV;
    e.long_mode = false;                             /* 32-bit: registers truncated */
    assert_int_equal(elisa_hc_check(&m, &e), -ELISA_E_PERM);
    e = MGR_ENV;
    e.role = ELISA_ROLE_NONE;
    assert_int_equal(elisa_hc_check(&q, &e), -ELISA_E_PERM);
    e.role = ELISA_ROLE_GUEST;                       /* a guest may query, nothing else */
    assert_int_equal(elisa_hc_check(&q, &e), 0);
    for (uint64_t nr = ELISA_HC_MAP_CTX; nr <= ELISA_HC_TEARDOWN; nr++) {
        struct elisa_hc_req r = { nr, 7, 0, 1, 0 };
        assert_int_equal(elisa_hc_check(&r, &e), -ELISA_E_PERM);
    }
    /* Permission is checked before the arguments: a guest learns nothing. */
    m.a0 = 0;
    assert_int_equal(elisa_hc_check(&m, &e), -ELISA_E_PERM);
}

static void test_hc_query(void **state)
{
    (void)state;
    assert_int_equal(chk(ELISA_HC_QUERY, 0, 0, 0, 0), 0);
    assert_int_equal(chk(ELISA_HC_QUERY, 1, 0, 0, 0), -ELISA_E_INVAL);
    assert_int_equal(chk(ELISA_HC_QUERY, 0, 0, 0, 1), -ELISA_E_INVAL);
}

static void test_hc_target_ids(void **state)
{
    (void)state;
    assert_int_equal(chk(ELISA_HC_ENABLE, 0, 0, 0, 0), -ELISA_E_NOVM);
    assert_int_equal(chk(ELISA_HC_ENABLE, 0x10000, 0, 0, 0), -ELISA_E_NOVM);
    assert_int_equal(chk(ELISA_HC_ENABLE, ~0ULL, 0, 0, 0), -ELISA_E_NOVM);
    assert_int_equal(chk(ELISA_HC_ENABLE, 1, 0, 0, 0), 0);
    assert_int_equal(chk(ELISA_HC_ENABLE, 0xffff, 4095, 0, 0), 0);
    assert_int_equal(chk(ELISA_HC_ENABLE, 1, 4096, 0, 0), -ELISA_E_NOVCPU);
    assert_int_equal(chk(ELISA_HC_ENABLE, 1, 1ULL << 32, 0, 0), -ELISA_E_NOVCPU);
    /* "every vCPU" only for TEARDOWN */
    assert_int_equal(chk(ELISA_HC_ENABLE, 1, ELISA_VCPU_ALL, 0, 0), -ELISA_E_NOVCPU);
    assert_int_equal(chk(ELISA_HC_DISABLE, 1, ELISA_VCPU_ALL, 0, 0), -ELISA_E_NOVCPU);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, ELISA_VCPU_ALL, 1, MGR_GPA), -ELISA_E_NOVCPU);
    assert_int_equal(chk(ELISA_HC_TEARDOWN, 1, ELISA_VCPU_ALL, 0, 0), 0);
    assert_int_equal(chk(ELISA_HC_TEARDOWN, 1, 3, 0, 0), 0);
    assert_int_equal(chk(ELISA_HC_TEARDOWN, 0, ELISA_VCPU_ALL, 0, 0), -ELISA_E_NOVM);
}

static void test_hc_index_and_gpa(void **state)
{
    (void)state;
    /* 0 is the vCPU's own EPTP, the host's alone; the list has 512 entries. */
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 0, MGR_GPA), -ELISA_E_INDEX);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 1, MGR_GPA), 0);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 511, MGR_GPA), 0);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 512, MGR_GPA), -ELISA_E_INDEX);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, ~0ULL, MGR_GPA), -ELISA_E_INDEX);
    assert_int_equal(chk(ELISA_HC_UNMAP_CTX, 1, 0, 0, 0), -ELISA_E_INDEX);
    assert_int_equal(chk(ELISA_HC_UNMAP_CTX, 1, 0, 512, 0), -ELISA_E_INDEX);
    assert_int_equal(chk(ELISA_HC_UNMAP_CTX, 1, 0, 2, 0), 0);
    assert_int_equal(chk(ELISA_HC_UNMAP_CTX, 1, 0, 2, 1), -ELISA_E_INVAL);
    /* root GPA: 4 KiB aligned, below the manager's MAXPHYADDR (46 here) */
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 1, MGR_GPA + 8), -ELISA_E_ALIGN);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 1, 0xfff), -ELISA_E_ALIGN);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 1, 1ULL << 46), -ELISA_E_ALIGN);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 1, (1ULL << 46) - 4096), 0);
    assert_int_equal(chk(ELISA_HC_MAP_CTX, 1, 0, 1, 0), 0);   /* GPA 0 is a GPA */
    /* reserved arguments */
    assert_int_equal(chk(ELISA_HC_ENABLE, 1, 0, 1, 0), -ELISA_E_INVAL);
    assert_int_equal(chk(ELISA_HC_DISABLE, 1, 0, 0, 1), -ELISA_E_INVAL);
    assert_int_equal(chk(ELISA_HC_TEARDOWN, 1, 0, 0, 1), -ELISA_E_INVAL);
    assert_int_equal(chk(ELISA_HC_DISABLE, 1, 0, 0, 0), 0);
}

static void test_cap_args(void **state)
{
    struct elisa_cap_args a;
    uint64_t mgr_args[4] = { ELISA_ROLE_MANAGER, 5, 0, 0 };
    uint64_t guest_args[4] = { ELISA_ROLE_GUEST, 9, 5, 0 };
    uint64_t bad[][4] = {
        { 0, 5, 0, 0 },                        /* no role */
        { 3, 5, 0, 0 },                        /* unknown role */
        { ELISA_ROLE_MANAGER, 0, 0, 0 },       /* id 0 */
        { ELISA_ROLE_MANAGER, 0x10000, 0, 0 }, /* id too large */
        { ELISA_ROLE_MANAGER, 5, 1, 0 },       /* a manager has no manager */
        { ELISA_ROLE_MANAGER, 5, 0, 1 },       /* args[3] reserved */
        { ELISA_ROLE_GUEST, 9, 0, 0 },         /* a guest names its manager */
        { ELISA_ROLE_GUEST, 9, 9, 0 },         /* ... which is not itself */
        { ELISA_ROLE_GUEST, 9, 0x10000, 0 },
    };

    (void)state;
    assert_int_equal(elisa_cap_check(0, mgr_args, &a), 0);
    assert_int_equal(a.role, ELISA_ROLE_MANAGER);
    assert_int_equal(a.id, 5);
    assert_int_equal(a.manager_id, 0);
    assert_int_equal(elisa_cap_check(0, guest_args, &a), 0);
    assert_int_equal(a.role, ELISA_ROLE_GUEST);
    assert_int_equal(a.id, 9);
    assert_int_equal(a.manager_id, 5);
    assert_int_equal(elisa_cap_check(1, mgr_args, &a), -ELISA_E_INVAL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(elisa_cap_check(0, bad[i], &a), -ELISA_E_INVAL);
    assert_int_equal(ELISA_KVM_CAP, 0x454c);
}

/* ---- single EPT entries ----------------------------------------------------- */

struct entry_case {
    uint64_t e;
    int level;
    bool exec_only;
    int rc;
    enum elisa_ept_kind kind;
};

static void test_ept_entries(void **state)
{
    const uint64_t A = 0x12345000ULL;     /* a 4 KiB aligned GPA */
    const uint64_t A2M = 0x12200000ULL;   /* 2 MiB aligned */
    const struct entry_case cases[] = {
        /* not present: bits 2:0 clear, whatever else is set (29.3.2) */
        { 0, 1, true, 0, ELISA_EPT_NONE },
        { ~0ULL & ~RWX, 4, true, 0, ELISA_EPT_NONE },
        /* misconfigurations (29.3.3.1) */
        { LEAF(A, 0x2), 1, true, -ELISA_E_EPT, 0 },             /* write-only */
        { LEAF(A, 0x6), 1, true, -ELISA_E_EPT, 0 },             /* write+execute */
        { TBL(A) & ~1ULL, 3, true, -ELISA_E_EPT, 0 },           /* table W+X without R */
        { LEAF(A, 0x4), 1, false, -ELISA_E_EPT, 0 },            /* execute-only, no CPU support */
        { LEAF(A, 0x4), 1, true, 0, ELISA_EPT_LEAF_4K },        /* ... with it */
        { LEAF(A, 0x1) | (1ULL << 63), 1, true, -ELISA_E_EPT, 0 },  /* suppress #VE */
        { LEAF(A, 0x1) | (1ULL << 52), 1, true, -ELISA_E_EPT, 0 },
        { LEAF(A, 0x1) | (1ULL << 57), 1, true, -ELISA_E_EPT, 0 },  /* verify guest paging */
        { LEAF(1ULL << 46, 0x1), 1, true, -ELISA_E_EPT, 0 },    /* beyond MAXPHYADDR */
        { TBL(1ULL << 50), 4, true, -ELISA_E_EPT, 0 },
        /* memory types (29.3.7): WB only */
        { A | 0x1, 1, true, -ELISA_E_EPT, 0 },                  /* UC */
        { A | 0x1 | (4 << 3), 1, true, -ELISA_E_EPT, 0 },       /* WT */
        { A | 0x1 | (2 << 3), 1, true, -ELISA_E_EPT, 0 },       /* reserved type 2 */
        { LEAF(A, 0x3), 1, true, 0, ELISA_EPT_LEAF_4K },
        { LEAF(A, 0x7) | IPAT, 1, true, 0, ELISA_EPT_LEAF_4K },
        { LEAF(A, 0x1) | PS, 1, true, 0, ELISA_EPT_LEAF_4K },   /* bit 7 of a PTE: ignored */
        { LEAF(A, 0x1) | 0xf00, 1, true, 0, ELISA_EPT_LEAF_4K },/* A, D, UX, bit 11: ignored */
        /* non-leaf entries: bits 7:3 reserved; large pages */
        { TBL(A), 4, true, 0, ELISA_EPT_TABLE },
        { TBL(A) | 0xf00, 3, true, 0, ELISA_EPT_TABLE },
        { TBL(A) | PS, 4, true, -ELISA_E_EPT, 0 },              /* PML4E bit 7 */
        { TBL(A) | WB, 4, true, -ELISA_E_EPT, 0 },
        { TBL(A) | 0x8, 2, true, -ELISA_E_EPT, 0 },
        { TBL(A) | IPAT, 3, true, -ELISA_E_EPT, 0 },
        { LEAF(0x40000000ULL, 0x7) | PS, 3, true, -ELISA_E_EPT, 0 },  /* 1 GiB leaf */
        { LEAF(A2M, 0x7) | PS, 2, true, 0, ELISA_EPT_LEAF_2M },
        { LEAF(A2M + 0x1000, 0x7) | PS, 2, true, -ELISA_E_EPT, 0 },    /* bits 20:12 */
        { (A2M | 0x7 | PS), 2, true, -ELISA_E_EPT, 0 },                /* 2 MiB UC */
        /* levels */
        { TBL(A), 0, true, -ELISA_E_INVAL, 0 },
        { TBL(A), 5, true, -ELISA_E_INVAL, 0 },
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct elisa_ept_entry d;
        int rc = elisa_ept_entry_check(cases[i].e, cases[i].level, 46, cases[i].exec_only, &d);

        if (rc != cases[i].rc)
            fail_msg("case %zu: entry %#llx level %d: rc %d, want %d", i,
                     (unsigned long long)cases[i].e, cases[i].level, rc, cases[i].rc);
        if (rc == 0 && d.kind != cases[i].kind)
            fail_msg("case %zu: kind %d, want %d", i, d.kind, cases[i].kind);
    }
    {
        struct elisa_ept_entry d;

        assert_int_equal(elisa_ept_entry_check(LEAF(A, 0x3) | IPAT | 0x100, 1, 46, false, &d), 0);
        assert_int_equal(d.gpa, A);
        assert_int_equal(d.perms, 0x3);
        assert_int_equal(d.ipat, IPAT);
        assert_int_equal(elisa_ept_entry_check(TBL(A) | 0x800, 2, 46, false, &d), 0);
        assert_int_equal(d.gpa, A);
        assert_int_equal(d.perms, RWX);
        /* MAXPHYADDR 52: every address bit is allowed */
        assert_int_equal(elisa_ept_entry_check(LEAF(1ULL << 51, 0x1), 1, 52, false, &d), 0);
        assert_int_equal(d.gpa, 1ULL << 51);
    }
}

static void test_eptp(void **state)
{
    (void)state;
    /* 25.6.11: WB (6), 4-level walk (3 << 3), A/D off */
    assert_int_equal(elisa_ctx_eptp(0x1234000ULL), 0x123401EULL);
    assert_int_equal(elisa_ctx_eptp(TBL_PHYS), TBL_PHYS | 0x1E);
}

/* ---- whole EPTs -------------------------------------------------------------- */

/* Pages 0-3: PML4, PDPT, PD, PT; leaves from page 10 on. */
static void build_small(void)
{
    mgr[0][0] = TBL(gpa_of(1));
    mgr[1][0] = TBL(gpa_of(2));
    mgr[2][1] = TBL(gpa_of(3));                  /* GPA 2 MiB .. 4 MiB */
    mgr[3][0] = LEAF(gpa_of(10), 0x5);           /* R+X: code */
    mgr[3][1] = LEAF(gpa_of(11), 0x3) | IPAT;    /* R+W: data */
    mgr[3][7] = LEAF(gpa_of(12), 0x1);           /* R */
    mgr[3][8] = LEAF(gpa_of(RO_FIRST - 1), 0x3); /* last writable page */
}

static void test_xlate_small(void **state)
{
    uint64_t root, hpa, perms;

    (void)state;
    build_small();
    assert_int_equal(elisa_xlate_build(&X, gpa_of(0), &root), 0);
    assert_int_equal(X.ntables, 4);
    assert_int_equal(pool_used, 4);
    assert_int_equal(root, TBL_PHYS);                /* the host's page, not gpa_of(0) */
    assert_int_equal(total_pins(), 4);
    assert_int_equal(pins[10] + pins[11] + pins[12] + pins[RO_FIRST - 1], 4);

    assert_true(host_walk(root, 0x200000, &hpa, &perms));
    assert_int_equal(hpa, hpa_of(10));
    assert_int_equal(perms, 0x5);
    assert_true(host_walk(root, 0x201000, &hpa, &perms));
    assert_int_equal(hpa, hpa_of(11));
    assert_int_equal(perms, 0x3);
    assert_true(host_walk(root, 0x207000, &hpa, &perms));
    assert_int_equal(hpa, hpa_of(12));
    assert_int_equal(perms, 0x1);
    assert_false(host_walk(root, 0x202000, &hpa, &perms));   /* hole */
    assert_false(host_walk(root, 0x0, &hpa, &perms));
    assert_false(host_walk(root, 1ULL << 39, &hpa, &perms));
    /* raw leaf: HPA | perms | WB | the manager's IPAT */
    assert_int_equal(pool[3][1], hpa_of(11) | 0x3 | WB | IPAT);
    assert_int_equal(pool[3][0], hpa_of(10) | 0x5 | WB);
    /* raw table entry: host table address, the manager's permissions */
    assert_int_equal(pool[0][0], (TBL_PHYS + 4096) | RWX);
    /* no manager GPA anywhere in the host tables */
    for (unsigned t = 0; t < pool_used; t++)
        for (unsigned i = 0; i < 512; i++)
            assert_true(pool[t][i] == 0 || page_of_gpa(pool[t][i] & ELISA_EPT_ADDR) < 0);
    assert_released();
}

/* The anywhere page table (vmfunc/elisa_ctx.h): every PDPT entry -> one PD,
 * every PD entry -> one PT, every PT entry -> one page.  Shared tables must
 * stay shared: 4 host tables, not 1 + 1 + 512 + 512 * 512. */
static void test_xlate_shared(void **state)
{
    uint64_t root, hpa, perms;

    (void)state;
    for (int i = 0; i < 512; i++) {
        mgr[0][i] = TBL(gpa_of(1));
        mgr[1][i] = TBL(gpa_of(2));
        mgr[2][i] = TBL(gpa_of(3));
        mgr[3][i] = LEAF(gpa_of(20), 0x1);
    }
    assert_int_equal(elisa_xlate_build(&X, gpa_of(0), &root), 0);
    assert_int_equal(X.ntables, 4);
    assert_int_equal(reads, 4);
    assert_int_equal(pins[20], 512);                 /* one reference per entry */
    assert_true(host_walk(root, 0x7fffffffff000ULL & ((1ULL << 48) - 1), &hpa, &perms));
    assert_int_equal(hpa, hpa_of(20));
    assert_int_equal(perms, 0x1);
    assert_true(host_walk(root, 0x123456789000ULL, &hpa, &perms));
    assert_int_equal(hpa, hpa_of(20));
    assert_released();
}

static void test_xlate_2m_split(void **state)
{
    uint64_t root, hpa, perms;

    (void)state;
    mgr[0][0] = TBL(gpa_of(1));
    mgr[1][0] = TBL(gpa_of(2));
    mgr[2][3] = LEAF(gpa_of(512), 0x3) | PS;         /* manager GPA 1 GiB + 2 MiB */
    assert_int_equal(elisa_xlate_build(&X, gpa_of(0), &root), 0);
    assert_int_equal(X.ntables, 4);                  /* PML4, PDPT, PD + split PT */
    assert_int_equal(total_pins(), 512);
    for (unsigned i = 0; i < 512; i++) {
        assert_true(host_walk(root, 0x600000 + i * 4096ULL, &hpa, &perms));
        assert_int_equal(hpa, hpa_of(512 + i));      /* host pages need not be contiguous */
        assert_int_equal(perms, 0x3);
    }
    assert_released();
}

static void expect_build_fails(uint64_t root_gpa, int rc)
{
    uint64_t root = 0;

    assert_int_equal(elisa_xlate_build(&X, root_gpa, &root), rc);
    assert_released();
}

static void test_xlate_ownership(void **state)
{
    (void)state;
    /* root outside the manager's RAM */
    expect_build_fails(gpa_of(MGR_PAGES), -ELISA_E_OWNER);
    reset(NULL);
    expect_build_fails(0x1000, -ELISA_E_OWNER);
    reset(NULL);
    expect_build_fails(gpa_of(0) + 8, -ELISA_E_ALIGN);
    /* a table pointer outside it */
    reset(NULL);
    build_small();
    mgr[2][5] = TBL(0x2000);
    expect_build_fails(gpa_of(0), -ELISA_E_OWNER);
    /* a leaf outside it, after other leaves were pinned */
    reset(NULL);
    build_small();
    mgr[3][9] = LEAF(MGR_GPA - 4096, 0x1);
    expect_build_fails(gpa_of(0), -ELISA_E_OWNER);
    /* a writable leaf on the read-only slot; read-only is fine */
    reset(NULL);
    build_small();
    mgr[3][9] = LEAF(gpa_of(RO_FIRST), 0x3);
    expect_build_fails(gpa_of(0), -ELISA_E_OWNER);
    reset(NULL);
    build_small();
    mgr[3][9] = LEAF(gpa_of(RO_FIRST), 0x5);
    {
        uint64_t root;

        assert_int_equal(elisa_xlate_build(&X, gpa_of(0), &root), 0);
        assert_int_equal(pins[RO_FIRST], 1);
        assert_released();
    }
    /* a 2 MiB leaf running past the manager's RAM, partly pinned */
    reset(NULL);
    mgr[0][0] = TBL(gpa_of(1));
    mgr[1][0] = TBL(gpa_of(2));
    mgr[2][0] = LEAF(gpa_of(512) + 0x200000, 0x1) | PS;
    expect_build_fails(gpa_of(0), -ELISA_E_OWNER);
}

static void test_xlate_bad_entries(void **state)
{
    (void)state;
    /* a bad entry deep in the tree, after pins: everything undone */
    build_small();
    mgr[3][100] = LEAF(gpa_of(13), 0x2);             /* write-only */
    expect_build_fails(gpa_of(0), -ELISA_E_EPT);
    /* a table used at two levels: PML4 -> itself */
    reset(NULL);
    build_small();
    mgr[0][1] = TBL(gpa_of(0));
    expect_build_fails(gpa_of(0), -ELISA_E_EPT);
    /* PD -> the PDPT (a loop one level down) */
    reset(NULL);
    build_small();
    mgr[2][2] = TBL(gpa_of(1));
    expect_build_fails(gpa_of(0), -ELISA_E_EPT);
    /* a PT page reused as a PD */
    reset(NULL);
    build_small();
    mgr[1][1] = TBL(gpa_of(3));
    expect_build_fails(gpa_of(0), -ELISA_E_EPT);
    /* 1 GiB leaf */
    reset(NULL);
    build_small();
    mgr[1][1] = LEAF(gpa_of(0), 0x1) | PS;
    expect_build_fails(gpa_of(0), -ELISA_E_EPT);
    /* execute-only where the CPU cannot */
    reset(NULL);
    build_small();
    X.exec_only = false;
    mgr[3][20] = LEAF(gpa_of(14), 0x4);
    expect_build_fails(gpa_of(0), -ELISA_E_EPT);
    /* a reserved high bit in a table entry */
    reset(NULL);
    build_small();
    mgr[0][0] |= 1ULL << 62;
    expect_build_fails(gpa_of(0), -ELISA_E_EPT);
}

static void test_xlate_limits(void **state)
{
    uint64_t root;

    (void)state;
    /* the per-context table limit */
    build_small();
    X.max_tables = 3;
    expect_build_fails(gpa_of(0), -ELISA_E_NOMEM);
    /* host memory running out */
    reset(NULL);
    build_small();
    pool_limit = 2;
    expect_build_fails(gpa_of(0), -ELISA_E_NOMEM);
    /* the split of a 2 MiB leaf counts as a table */
    reset(NULL);
    mgr[0][0] = TBL(gpa_of(1));
    mgr[1][0] = TBL(gpa_of(2));
    mgr[2][0] = LEAF(gpa_of(512), 0x1) | PS;
    X.max_tables = 3;
    expect_build_fails(gpa_of(0), -ELISA_E_NOMEM);
    /* exactly enough */
    reset(NULL);
    build_small();
    X.max_tables = 4;
    assert_int_equal(elisa_xlate_build(&X, gpa_of(0), &root), 0);
    assert_released();
    /* an empty EPT is a valid context of one table */
    reset(NULL);
    assert_int_equal(elisa_xlate_build(&X, gpa_of(0), &root), 0);
    assert_int_equal(X.ntables, 1);
    assert_released();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hc_numbers),
        cmocka_unit_test(test_hc_caller),
        cmocka_unit_test(test_hc_query),
        cmocka_unit_test(test_hc_target_ids),
        cmocka_unit_test(test_hc_index_and_gpa),
        cmocka_unit_test(test_cap_args),
        cmocka_unit_test(test_ept_entries),
        cmocka_unit_test(test_eptp),
        cmocka_unit_test_setup(test_xlate_small, reset),
        cmocka_unit_test_setup(test_xlate_shared, reset),
        cmocka_unit_test_setup(test_xlate_2m_split, reset),
        cmocka_unit_test_setup(test_xlate_ownership, reset),
        cmocka_unit_test_setup(test_xlate_bad_entries, reset),
        cmocka_unit_test_setup(test_xlate_limits, reset),
    };

    return cmocka_run_group_tests_name("elisa_hc", tests, NULL, NULL);
}
