/* tests/unit/test_elisa_vmfunc_host.c - the manager's VMFUNC host kind
 * (elisa/manager/host_vmfunc.h) without VMX:
 *   - the GATE and SUB contexts of a vCPU, built by hv_ctx_build exactly as
 *     hv_install does, checked with vmfunc/'s software walks (EPT and the
 *     guest page table behind the anywhere root), entry by entry (every
 *     table and page a manager GPA of the pool or the region slot, no
 *     1 GiB leaf), and run through elisa/kvm's own translation
 *     (elisa_xlate_build: the host's MAP_CTX checks) over the pool;
 *   - the agent mailbox encoding and the agent's refusal rule;
 *   - the agent itself on this machine's /dev/kvm (ECHO: the manager VM in
 *     64-bit mode at CPL 0, the mailbox, the doorbell), and the capability
 *     check's one line;
 *   - the SEQUENCING of installs (elisa/manager/vmfunc_installs.c with
 *     hv_install/hv_uninstall/hv_set_enabled): a recorder stands in for
 *     the hypercall (hv_host.hypercall), so this checks the order of calls,
 *     their arguments, the clean-up after a failing step and the chunk
 *     bookkeeping - NOT any hypercall: none runs here (no elisa-kvm).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/mman.h>
#include <unistd.h>

#include "../../elisa/manager/host_vmfunc.h"
#include "../../elisa/manager/vmfunc_installs.h"
#include "../../elisa/kvm/elisa_hc_check.h"

#define PAGE 4096ull
#define POOL_CHUNKS 2u
#define REGION_SIZE (3ull << 20)          /* 3 MiB: 2 MiB leaves and 4 KiB ones */
#define GATE_GPA  0xC0004000ull           /* vCPU 1 of the manager's default window */
#define WIN_GPA   0xC0200000ull
#define WIN_SIZE  (64ull * (4ull << 20))

struct fixture {
    uint8_t *pool_mem;
    struct hv_pool pool;
    uint8_t app[2 * 4096];
    struct hv_ctx_req req;
    struct hv_ctx *ctx;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    f->pool_mem = aligned_alloc(4096, POOL_CHUNKS * HV_CHUNK_SIZE);
    memset(f->pool_mem, 0xAA, POOL_CHUNKS * HV_CHUNK_SIZE);   /* the builder must zero what it uses */
    f->pool.base = f->pool_mem;
    f->pool.gpa = ELISA_AGENT_POOL_GPA;
    f->pool.size = POOL_CHUNKS * HV_CHUNK_SIZE;
    for (size_t i = 0; i < sizeof f->app; i++)
        f->app[i] = (uint8_t)(0x40 + i % 97);
    struct hv_ctx_req *r = &f->req;
    r->gate_gpa = r->gate_gva = GATE_GPA;
    r->win_gpa = WIN_GPA;
    r->win_size = WIN_SIZE;
    r->gate = hv_gate_block(&r->gate_var_entry, &r->gate_var_stack, &r->gate_var_env);
    r->app = f->app;
    r->app_size = sizeof f->app;
    r->entry_offset = 0x123;
    r->region_mgr_gpa = ELISA_AGENT_REGION_GPA;
    r->region_size = REGION_SIZE;
    r->env_arg = 5;
    r->vcpu = 1;
    r->user_mode = true;
    f->ctx = calloc(1, sizeof *f->ctx);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->ctx);
    free(f->pool_mem);
    free(f);
    return 0;
}

static struct hv_ctx *build(struct fixture *f)
{
    char err[256] = "";
    int rc = hv_ctx_build(f->ctx, &f->pool, f->pool.gpa + HV_CHUNK_SIZE, &f->req, err, sizeof err);
    if (rc != 0)
        fail_msg("hv_ctx_build: %s", err);
    return f->ctx;
}

static uint8_t *pool_ptr(struct fixture *f, uint64_t gpa)
{
    assert_true(gpa >= f->pool.gpa && gpa < f->pool.gpa + f->pool.size);
    return f->pool_mem + (gpa - f->pool.gpa);
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Translate GPA in context CTX with ACCESS; expect a leaf at HPA (when not
 * ~0) with exactly PERMS (R/W/X). */
static void expect_map(const struct hv_ctx *c, int ctx, uint64_t gpa, uint64_t hpa, uint64_t perms)
{
    struct vmf_ept_walk w;
    int rc = vmf_ept_translate(&c->e.ctx[ctx], gpa, 0, &w);
    if (rc != VMF_OK)
        fail_msg("ctx %d GPA 0x%llx: %s", ctx, (unsigned long long)gpa, vmf_strerror(rc));
    assert_true(w.present);
    assert_false(w.anywhere);
    if (hpa != ~0ull)
        assert_int_equal(w.hpa, hpa);
    assert_int_equal(w.perms & VMF_EPT_RWX, perms);
    assert_int_equal(w.mt, VMF_MT_WB);
}

/* An address the context does not map explicitly leads to the anywhere
 * root (the guest page table's PML4), read-only. */
static void expect_anywhere(const struct hv_ctx *c, int ctx, uint64_t gpa)
{
    struct vmf_ept_walk w;
    assert_int_equal(vmf_ept_translate(&c->e.ctx[ctx], gpa, 0, &w), VMF_OK);
    assert_true(w.anywhere);
    assert_int_equal(w.hpa & ~(PAGE - 1), c->e.root_hpa);
    assert_int_equal(w.perms & VMF_EPT_RWX, VMF_EPT_R);
}

static void test_gate_and_sub_views(void **state)
{
    struct fixture *f = *state;
    struct hv_ctx *c = build(f);
    const struct vmf_elisa_layout *l = &c->l;
    const uint64_t RX = VMF_EPT_R | VMF_EPT_X, RW = VMF_EPT_R | VMF_EPT_W;

    /* The roots MAP_CTX gets are the gate and sub PML4s, pool pages; the
     * default context (index 0) is KVM's own and never sent. */
    assert_int_equal(c->gate_root, c->e.ctx[VMF_CTX_GATE].pml4);
    assert_int_equal(c->sub_root, c->e.ctx[VMF_CTX_SUB].pml4);
    assert_int_not_equal(c->gate_root, c->e.ctx[VMF_CTX_DEFAULT].pml4);

    for (int ctx = VMF_CTX_GATE; ctx <= VMF_CTX_SUB; ctx++)
        for (unsigned i = 0; i < VMF_GATE_PAGES; i++)
            expect_map(c, ctx, GATE_GPA + i * PAGE, l->gate_hpa[i], RX);
    /* Sub only: code r-x, stack and env rw- (no execute), shared rw-. */
    for (uint64_t o = 0; o < f->req.app_size; o += PAGE)
        expect_map(c, VMF_CTX_SUB, l->sub_code_gpa + o, l->sub_code_hpa + o, RX);
    for (uint64_t o = 0; o < l->sub_data_size; o += PAGE)
        expect_map(c, VMF_CTX_SUB, l->sub_data_gpa + o, l->sub_data_hpa + o, RW);
    for (uint64_t o = 0; o < REGION_SIZE; o += PAGE)
        expect_map(c, VMF_CTX_SUB, l->shared_gpa + o, ELISA_AGENT_REGION_GPA + o, RW);
    /* The gate context has none of them: they fall into the anywhere root. */
    expect_anywhere(c, VMF_CTX_GATE, l->sub_code_gpa);
    expect_anywhere(c, VMF_CTX_GATE, l->sub_data_gpa);
    expect_anywhere(c, VMF_CTX_GATE, l->shared_gpa);
    /* Neither has the guest's RAM (its CR3, its kernel): anywhere. */
    expect_anywhere(c, VMF_CTX_SUB, 0x1000);
    expect_anywhere(c, VMF_CTX_SUB, 0x3fe00000);
    expect_anywhere(c, VMF_CTX_GATE, 0x1000);
    /* The page-table window: read-only (no EPT A/D). */
    expect_map(c, VMF_CTX_SUB, WIN_GPA, c->e.root_hpa, VMF_EPT_R);
}

/* The CPU's walk in the sub context: the guest's CR3 (anything in its RAM)
 * -> anywhere root -> the host-made page table -> EPT. */
static void test_guest_walk_in_sub(void **state)
{
    struct fixture *f = *state;
    struct hv_ctx *c = build(f);
    const struct vmf_ept *sub = &c->e.ctx[VMF_CTX_SUB];
    struct vmf_gpt_walk w;
    const uint64_t cr3 = 0x7000;          /* a guest CR3 somewhere in its RAM */

    assert_int_equal(vmf_guest_translate(vmf_ept_read64, (void *)sub, cr3, GATE_GPA + PAGE, &w), VMF_OK);
    assert_int_equal(w.pa, GATE_GPA + PAGE);
    assert_false(w.writable);
    assert_false(w.nx);
    assert_true(w.user);                  /* user_mode: the gate is called at CPL 3 */
    assert_int_equal(vmf_guest_translate(vmf_ept_read64, (void *)sub, cr3, c->sub_entry, &w), VMF_OK);
    assert_int_equal(w.pa, c->l.sub_code_gpa + f->req.entry_offset);
    assert_false(w.writable);
    assert_false(w.nx);
    assert_int_equal(vmf_guest_translate(vmf_ept_read64, (void *)sub, cr3, c->sub_stack - 8, &w), VMF_OK);
    assert_true(w.writable);
    assert_true(w.nx);
    assert_int_equal(vmf_guest_translate(vmf_ept_read64, (void *)sub, cr3, c->env.shared_va + REGION_SIZE - 8,
                                         &w), VMF_OK);
    assert_int_equal(w.pa, c->l.shared_gpa + REGION_SIZE - 8);
    assert_true(w.writable);
    assert_true(w.nx);
    /* And through the EPT, the env the app gets is what the manager wrote. */
    uint64_t v = 0;
    assert_int_equal(vmf_guest_translate(vmf_ept_read64, (void *)sub, cr3, c->sub_env, &w), VMF_OK);
    assert_true(vmf_ept_read64((void *)sub, w.pa + 16, &v));
    assert_int_equal(v, 5);               /* env.arg = the port */
    assert_true(vmf_ept_read64((void *)sub, w.pa, &v));
    assert_int_equal(v, c->l.shared_va);
}

static void test_middle_page_and_copies(void **state)
{
    struct fixture *f = *state;
    struct hv_ctx *c = build(f);
    const uint8_t *gate = pool_ptr(f, c->l.gate_hpa[0]);
    const struct hv_ctx_req *r = &f->req;

    /* Top and bottom pages are the linked gate's bytes, the middle page too
     * except for its three variables. */
    assert_memory_equal(gate, r->gate, PAGE);
    assert_memory_equal(gate + 2 * PAGE, r->gate + 2 * PAGE, PAGE);
    assert_int_equal(get64(gate + r->gate_var_entry), c->l.sub_code_va + 0x123);
    assert_int_equal(get64(gate + r->gate_var_stack), c->sub_stack);
    assert_int_equal(get64(gate + r->gate_var_env), c->sub_env);
    assert_int_equal(c->sub_stack % 16, 0);
    /* The three gate pages are contiguous in the pool (l.gate_hpa[i]). */
    assert_int_equal(c->l.gate_hpa[1], c->l.gate_hpa[0] + PAGE);
    assert_memory_equal(pool_ptr(f, c->l.sub_code_hpa), f->app, sizeof f->app);
    const struct elisa_sub_env *env =
        (const void *)pool_ptr(f, c->l.sub_data_hpa + HV_STACK_PAGES * PAGE);
    assert_int_equal(env->shared_va, c->l.shared_va);
    assert_int_equal(env->shared_size, REGION_SIZE);
    assert_int_equal(env->arg, 5);
    assert_int_equal(env->vcpu, 1);
    /* The gate's last bytes of top and middle are VMFUNC (0f 01 d4). */
    assert_int_equal(gate[PAGE - 3], 0x0f);
    assert_int_equal(gate[PAGE - 1], 0xd4);
    assert_int_equal(gate[2 * PAGE - 1], 0xd4);
}

/* Every entry of an EPT, as the host's ownership check sees it. */
struct scan {
    const struct fixture *f;
    unsigned tables, leaves, leaves_2m;
    bool bad;
};

static bool owned(const struct fixture *f, uint64_t a, uint64_t size)
{
    bool in_pool = a >= f->pool.gpa && a + size <= f->pool.gpa + f->pool.size;
    bool in_region = a >= ELISA_AGENT_REGION_GPA && a + size <= ELISA_AGENT_REGION_GPA + REGION_SIZE;
    return in_pool || in_region;
}

static void scan_table(struct scan *s, const struct vmf_alloc *a, uint64_t table, int level)
{
    const uint64_t *t = a->virt(a->ctx, table);
    s->tables++;
    if (t == NULL || !owned(s->f, table, PAGE)) {
        s->bad = true;
        return;
    }
    for (unsigned i = 0; i < 512; i++) {
        uint64_t e = t[i];
        if ((e & 7) == 0)
            continue;
        uint64_t addr = e & VMF_EPT_ADDR_MASK;
        if (level == 1 || (e & VMF_EPT_PS)) {
            uint64_t size = vmf_ept_level_size(level);
            if (level == 3 || !owned(s->f, addr, size))   /* no 1 GiB leaves; owned pages */
                s->bad = true;
            s->leaves++;
            if (level == 2)
                s->leaves_2m++;
        } else if (!(e & VMF_EPT_SW_ANYWHERE) || level == 4) {
            scan_table(s, a, addr, level - 1);   /* shared anywhere tables: visited once from the PML4 */
        }
    }
}

static void test_every_address_is_manager_ram(void **state)
{
    struct fixture *f = *state;
    struct hv_ctx *c = build(f);
    for (int ctx = VMF_CTX_GATE; ctx <= VMF_CTX_SUB; ctx++) {
        struct scan s = { .f = f };
        scan_table(&s, &c->alloc, c->e.ctx[ctx].pml4, 4);
        assert_false(s.bad);
        assert_true(s.leaves > 0);
        if (ctx == VMF_CTX_SUB)
            assert_true(s.leaves_2m >= 1);   /* the region's first 2 MiB */
    }
}

/* elisa/kvm's translation over the pool: what MAP_CTX does in the host. */
struct fake_host {
    struct fixture *f;
    bool region_is_ram;          /* false: the region slot is missing (negative control) */
    uint64_t next_hpa;
    unsigned pinned, tables;
};

static int fh_read_table(void *ctx, uint64_t gpa, uint64_t *buf)
{
    struct fake_host *h = ctx;
    if (gpa < h->f->pool.gpa || gpa + PAGE > h->f->pool.gpa + h->f->pool.size)
        return -ELISA_E_OWNER;
    memcpy(buf, h->f->pool_mem + (gpa - h->f->pool.gpa), PAGE);
    return 0;
}

static uint64_t *fh_alloc_table(void *ctx, uint64_t *hpa)
{
    struct fake_host *h = ctx;
    uint64_t *t = aligned_alloc(4096, 4096);
    memset(t, 0, 4096);
    *hpa = h->next_hpa += PAGE;
    h->tables++;
    return t;
}

static void fh_free_table(void *ctx, uint64_t *table, uint64_t hpa)
{
    struct fake_host *h = ctx;
    (void)hpa;
    free(table);
    h->tables--;
}

static int fh_pin(void *ctx, uint64_t gpa, bool writable, uint64_t *hpa)
{
    struct fake_host *h = ctx;
    (void)writable;
    bool pool = gpa >= h->f->pool.gpa && gpa < h->f->pool.gpa + h->f->pool.size;
    bool region = h->region_is_ram && gpa >= ELISA_AGENT_REGION_GPA &&
                  gpa < ELISA_AGENT_REGION_GPA + REGION_SIZE;
    if (!pool && !region)
        return -ELISA_E_OWNER;
    *hpa = 0x8000000000ull + gpa;
    h->pinned++;
    return 0;
}

static void fh_unpin(void *ctx, uint64_t hpa)
{
    struct fake_host *h = ctx;
    (void)hpa;
    h->pinned--;
}

static int xlate(struct fixture *f, uint64_t root, bool region_is_ram, unsigned *ntables)
{
    static struct elisa_xlate_table tables[ELISA_MAX_TABLES_PER_CTX];
    static uint64_t scratch[4][512];
    struct fake_host h = { .f = f, .region_is_ram = region_is_ram, .next_hpa = 0x10000000000ull };
    const struct elisa_xlate_ops ops = { fh_read_table, fh_alloc_table, fh_free_table, fh_pin, fh_unpin, &h };
    struct elisa_xlate x = { .ops = &ops, .tables = tables, .max_tables = ELISA_MAX_TABLES_PER_CTX,
                             .scratch = scratch, .maxphyaddr = 39, .exec_only = false };
    uint64_t root_hpa = 0;
    int rc = elisa_xlate_build(&x, root, &root_hpa);
    *ntables = x.ntables;
    elisa_xlate_release(&x);
    assert_int_equal(h.pinned, 0);
    assert_int_equal(h.tables, 0);
    return rc;
}

static void test_host_translation_accepts(void **state)
{
    struct fixture *f = *state;
    struct hv_ctx *c = build(f);
    unsigned n_gate = 0, n_sub = 0;
    assert_int_equal(xlate(f, c->gate_root, true, &n_gate), 0);
    assert_int_equal(xlate(f, c->sub_root, true, &n_sub), 0);
    /* Within the host's per-context and per-vCPU table limits. */
    assert_true(n_gate > 0 && n_gate <= ELISA_MAX_TABLES_PER_CTX);
    assert_true(n_sub > n_gate && n_gate + n_sub <= ELISA_MAX_PAGES_PER_VCPU);
    print_message("host tables: gate %u, sub %u\n", n_gate, n_sub);
    /* MAP_CTX's register checks accept what hv_install sends. */
    struct elisa_hc_env env = { ELISA_ROLE_MANAGER, 0, true, 1024, 39 };
    struct elisa_hc_req req = { ELISA_HC_MAP_CTX, 12, 0, VMF_CTX_GATE, c->gate_root };
    assert_int_equal(elisa_hc_check(&req, &env), 0);
    req.a2 = VMF_CTX_SUB;
    req.a3 = c->sub_root;
    assert_int_equal(elisa_hc_check(&req, &env), 0);
}

/* Negative control: a region that is not a memory slot of the manager VM
 * is refused as the host would (OWNER). */
static void test_host_translation_refuses_foreign_region(void **state)
{
    struct fixture *f = *state;
    struct hv_ctx *c = build(f);
    unsigned n = 0;
    assert_int_equal(xlate(f, c->sub_root, false, &n), -ELISA_E_OWNER);
    assert_int_equal(xlate(f, c->gate_root, false, &n), 0);   /* the gate has no region */
}

static void test_bad_layouts(void **state)
{
    struct fixture *f = *state;
    char err[256];
    struct hv_ctx_req r = f->req;
    r.win_size = HV_WIN_REGION_OFF + REGION_SIZE - PAGE;
    assert_int_equal(hv_ctx_build(f->ctx, &f->pool, f->pool.gpa, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "raise --shared-stride"));
    r = f->req;
    r.gate_gva = WIN_GPA + HV_WIN_CODE_OFF;            /* gate VA on the app's VA */
    assert_int_equal(hv_ctx_build(f->ctx, &f->pool, f->pool.gpa, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "must not overlap"));
    r = f->req;
    r.entry_offset = (uint32_t)r.app_size;
    assert_int_equal(hv_ctx_build(f->ctx, &f->pool, f->pool.gpa, &r, err, sizeof err), -1);
    r = f->req;
    assert_int_equal(hv_ctx_build(f->ctx, &f->pool, f->pool.gpa + POOL_CHUNKS * HV_CHUNK_SIZE, &r, err,
                                  sizeof err), -1);
    assert_non_null(strstr(err, "chunk outside the pool"));
}

/* ---- the mailbox ---------------------------------------------------------------- */

static void test_mailbox_encoding(void **state)
{
    (void)state;
    uint64_t mb[512];
    memset(mb, 0, sizeof mb);
    struct elisa_agent_cmd c = { ELISA_AGENT_VMCALL, { ELISA_HC_MAP_CTX, 12, 3, 2, 0x40001000 } };
    elisa_agent_mb_write(mb, 7, &c);
    /* The byte offsets agent.S uses. */
    assert_int_equal(mb[0], 7);
    assert_int_equal(mb[1], ELISA_AGENT_VMCALL);
    assert_int_equal(mb[2], 0x454c0001);
    assert_int_equal(mb[3], 12);
    assert_int_equal(mb[4], 3);
    assert_int_equal(mb[5], 2);
    assert_int_equal(mb[6], 0x40001000);
    struct elisa_agent_result r;
    assert_int_equal(elisa_agent_mb_read(mb, 7, &r), -1);   /* not answered yet */
    mb[7] = 7;
    mb[8] = ELISA_AGENT_RAN;
    mb[9] = (uint64_t)-ELISA_E_OWNER;
    mb[13] = 99;
    assert_int_equal(elisa_agent_mb_read(mb, 7, &r), 0);
    assert_int_equal(r.status, ELISA_AGENT_RAN);
    assert_int_equal((int64_t)r.reg[0], -ELISA_E_OWNER);
    assert_int_equal(r.reg[4], 99);
    assert_int_equal(elisa_agent_mb_read(mb, 6, &r), -1);   /* a stale answer */

    assert_true(elisa_agent_cmd_valid(&c));
    c.reg[0] = ELISA_HC_LAST;
    assert_true(elisa_agent_cmd_valid(&c));
    c.reg[0] = ELISA_HC_LAST + 1;
    assert_false(elisa_agent_cmd_valid(&c));
    c.reg[0] = 5;                                            /* KVM_HC_KICK_CPU */
    assert_false(elisa_agent_cmd_valid(&c));
    c.kind = ELISA_AGENT_ECHO;
    assert_true(elisa_agent_cmd_valid(&c));
    c.kind = 0;
    assert_false(elisa_agent_cmd_valid(&c));
}

/* ---- on this machine's /dev/kvm ------------------------------------------------- */

static const char no_cap[] = "this host's KVM has no ELISA capability (KVM_CHECK_EXTENSION 0x454c = 0): "
                             "install the elisa-kvm modules on an Intel host with VMFUNC "
                             "(elisa/kvm/README.md), or use --host exit";

static void test_agent_on_kvm(void **state)
{
    (void)state;
    static struct hv_host h;
    char err[256] = "";
    if (hv_open(&h, 0, false, err, sizeof err) != 0) {
        if (strstr(err, "/dev/kvm") != NULL) {
            print_message("skipped: %s\n", err);
            skip();
        }
        fail_msg("hv_open: %s", err);
    }
    /* ECHO: the agent copies the registers, through the mailbox and back. */
    for (uint64_t k = 1; k <= 3; k++) {
        struct elisa_agent_cmd c = { ELISA_AGENT_ECHO, { 0x1111 * k, 0x2222 * k, 0x3333 * k, ~k, 1ull << (60 + k) } };
        struct elisa_agent_result r;
        assert_int_equal(hv_agent_run(&h, &c, &r, err, sizeof err), 0);
        assert_memory_equal(r.reg, c.reg, sizeof c.reg);
        assert_int_equal(h.seq, k);
    }
    /* The agent itself refuses a non-ELISA VMCALL (it never executes it):
     * sent raw, bypassing hv_hypercall's own check. */
    struct elisa_agent_cmd bad = { ELISA_AGENT_VMCALL, { 5, 0, 0, 0, 0 } };
    struct elisa_agent_result r;
    assert_int_equal(hv_agent_run(&h, &bad, &r, err, sizeof err), -1);
    assert_non_null(strstr(err, "refused"));
    bad.kind = 77;
    assert_int_equal(hv_agent_run(&h, &bad, &r, err, sizeof err), -1);
    /* And keeps serving afterwards. */
    struct elisa_agent_cmd c = { ELISA_AGENT_ECHO, { 1, 2, 3, 4, 5 } };
    assert_int_equal(hv_agent_run(&h, &c, &r, err, sizeof err), 0);
    assert_int_equal(r.reg[4], 5);
    print_message("agent: %llu KVM_RUN returns for %llu commands\n", (unsigned long long)h.exits,
                  (unsigned long long)h.seq);
    hv_close(&h);
}

static void test_capability_check(void **state)
{
    (void)state;
    char err[512] = "";
    static struct hv_host h;
    int rc = hv_probe(err, sizeof err);
    if (rc == 0) {
        print_message("this KVM has the ELISA capability: the no-capability line is not checked\n");
        skip();
    }
    if (strstr(err, "cannot open /dev/kvm") != NULL)
        skip();
    assert_string_equal(err, no_cap);
    err[0] = '\0';
    assert_int_equal(hv_open(&h, 1, true, err, sizeof err), -1);
    assert_string_equal(err, no_cap);
}

/* --- install sequencing against a recorder (not a hypercall test) ------------------ */

struct hc_call { uint64_t nr, a[4]; };
static struct hc_call calls[64];
static unsigned ncalls;
static uint64_t fail_nr;        /* this hypercall number answers fail_rc */
static long fail_rc;

static long recorder(struct hv_host *h, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    (void)h;
    assert_true(ncalls < 64);
    calls[ncalls++] = (struct hc_call){ nr, { a0, a1, a2, a3 } };
    return nr == fail_nr ? fail_rc : 0;
}

static void expect_call(unsigned i, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3)
{
    assert_true(i < ncalls);
    assert_true(calls[i].nr == nr);
    assert_true(calls[i].a[0] == a0 && calls[i].a[1] == a1 && calls[i].a[2] == a2 && calls[i].a[3] == a3);
}

static unsigned chunks_used(const struct hv_host *h)
{
    unsigned n = 0;
    for (unsigned k = 0; k < HV_CHUNKS; k++)
        n += h->chunk_used[k];
    return n;
}

static void test_install_sequencing(void **state)
{
    struct fixture *f = *state;
    static struct hv_host h;
    static struct mgr_vmfunc v;
    struct mgr_layout layout = { .mode = PROTO_MODE_VMFUNC, .gate_gpa = 0xC0000000ull, .gate_gva = 0xC0000000ull,
                                 .shared_gpa = WIN_GPA, .shared_stride = 4ull << 20 };
    char err[256] = "";

    /* A host with a real (sparse) pool memfd and no VM: hypercalls go to
     * the recorder. */
    memset(&h, 0, sizeof h);
    h.kvm_fd = h.vm_fd = h.vcpu_fd = -1;
    h.pool_fd = memfd_create("pool", MFD_CLOEXEC);
    assert_true(h.pool_fd >= 0);
    assert_int_equal(ftruncate(h.pool_fd, (off_t)HV_POOL_SIZE), 0);
    h.pool.base = mmap(NULL, HV_POOL_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, h.pool_fd, 0);
    assert_true(h.pool.base != MAP_FAILED);
    h.pool.gpa = ELISA_AGENT_POOL_GPA;
    h.pool.size = HV_POOL_SIZE;
    h.hypercall = recorder;
    fail_nr = 0;
    ncalls = 0;

    assert_int_equal(mgr_vmfunc_init(&v, &h, 65535 - MGR_GUESTS_MAX + 1, &layout, err, sizeof err), -1);
    assert_non_null(strstr(err, "--elisa-id"));
    assert_int_equal(mgr_vmfunc_init(&v, &h, 100, &layout, err, sizeof err), 0);
    assert_true(v.win_size == WIN_SIZE);
    v.apps[0] = (struct mgr_vmfunc_app){ f->app, sizeof f->app, 0x123, ELISA_AGENT_REGION_GPA, REGION_SIZE };
    struct mgr_ctx c;
    memset(&c, 0, sizeof c);
    c.used = true;
    c.guest = 2;              /* state index: KVM id 100 + 1 + 2 */
    c.vcpu = 1;
    c.port = 5;
    c.ok.gate_gpa = c.ok.gate_gva = GATE_GPA;
    assert_int_equal(mgr_vmfunc_guest_kvm_id(&v, 2), 103);

    /* Install: MAP_CTX gate (index 1), MAP_CTX sub (index 2), ENABLE. */
    assert_int_equal(mgr_vmfunc_install(&v, &c, 42, 0, 9, 7, true, err, sizeof err), 0);
    assert_int_equal(ncalls, 3);
    const struct mgr_vmfunc_entry *e = &v.e[0];
    assert_true(e->used && e->enabled && e->guest_id == 42 && e->vcpu == 1 && e->link == 9);
    expect_call(0, ELISA_HC_MAP_CTX, 103, 7, VMF_CTX_GATE, e->ctx->gate_root);
    expect_call(1, ELISA_HC_MAP_CTX, 103, 7, VMF_CTX_SUB, e->ctx->sub_root);
    expect_call(2, ELISA_HC_ENABLE, 103, 7, 0, 0);
    assert_true(e->ctx->gate_root >= h.pool.gpa && e->ctx->gate_root < h.pool.gpa + HV_CHUNK_SIZE);
    assert_true(e->ctx->env.arg == 5 && e->ctx->env.vcpu == 1);
    assert_int_equal(chunks_used(&h), 1);
    assert_int_equal(v.installed, 1);

    /* Disable: DISABLE, contexts kept; a second disable does nothing. */
    ncalls = 0;
    assert_string_equal(mgr_vmfunc_detach(&v, 42, 1, MGR_DETACH_DISABLED, err, sizeof err), "DISABLE done");
    assert_string_equal(mgr_vmfunc_detach(&v, 42, 1, MGR_DETACH_DISABLED, err, sizeof err), "already disabled");
    assert_int_equal(ncalls, 1);
    expect_call(0, ELISA_HC_DISABLE, 103, 7, 0, 0);
    assert_string_equal(mgr_vmfunc_detach(&v, 42, 2, MGR_DETACH_RELEASED, err, sizeof err), "nothing installed");

    /* Install again (the host attached again): the old one is torn down first. */
    ncalls = 0;
    assert_int_equal(mgr_vmfunc_install(&v, &c, 42, 0, 9, 8, false, err, sizeof err), 0);
    assert_int_equal(ncalls, 4);
    expect_call(0, ELISA_HC_TEARDOWN, 103, 7, 0, 0);
    expect_call(3, ELISA_HC_ENABLE, 103, 8, 0, 0);
    assert_int_equal(chunks_used(&h), 1);
    assert_int_equal(v.installed, 1);

    /* A failing step: ENABLE says NOTSUP -> TEARDOWN, chunk freed, error named. */
    struct mgr_ctx c2 = c;
    c2.vcpu = 3;
    ncalls = 0;
    fail_nr = ELISA_HC_ENABLE;
    fail_rc = -ELISA_E_NOTSUP;
    assert_int_equal(mgr_vmfunc_install(&v, &c2, 42, 0, 9, 3, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "NOTSUP"));
    assert_int_equal(ncalls, 4);
    expect_call(3, ELISA_HC_TEARDOWN, 103, 3, 0, 0);
    assert_int_equal(chunks_used(&h), 1);
    assert_int_equal(v.installed, 1);
    fail_nr = 0;

    /* The link goes: TEARDOWN of what it installed, chunk free again;
     * another link's install stays. */
    assert_int_equal(mgr_vmfunc_install(&v, &c2, 42, 0, 10, 3, true, err, sizeof err), 0);
    ncalls = 0;
    assert_int_equal(mgr_vmfunc_link_gone(&v, 9, err, sizeof err), 1);
    assert_int_equal(ncalls, 1);
    expect_call(0, ELISA_HC_TEARDOWN, 103, 8, 0, 0);
    assert_int_equal(chunks_used(&h), 1);

    /* A TEARDOWN the host refuses (PERM): the entry and its chunk are
     * kept (the guest's EPTP list may still name those pages). */
    fail_nr = ELISA_HC_TEARDOWN;
    fail_rc = -ELISA_E_PERM;
    assert_string_equal(mgr_vmfunc_detach(&v, 42, 3, MGR_DETACH_RELEASED, err, sizeof err), "TEARDOWN failed");
    assert_non_null(strstr(err, "PERM"));
    assert_int_equal(v.installed, 1);
    assert_int_equal(chunks_used(&h), 1);
    /* A guest VM already gone (NOVM) counts as torn down. */
    fail_rc = -ELISA_E_NOVM;
    assert_int_equal(mgr_vmfunc_stop(&v, err, sizeof err), 1);
    assert_int_equal(v.installed, 0);
    assert_int_equal(chunks_used(&h), 0);
    fail_nr = 0;

    /* Without a manager VM every install is refused, in one line. */
    struct mgr_vmfunc nov;
    assert_int_equal(mgr_vmfunc_init(&nov, NULL, 100, &layout, err, sizeof err), 0);
    assert_int_equal(mgr_vmfunc_install(&nov, &c, 42, 0, 9, 7, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "--no-manager-vm"));
    assert_string_equal(mgr_vmfunc_detach(&nov, 42, 1, MGR_DETACH_STOPPING, err, sizeof err), "nothing installed");

    munmap(h.pool.base, HV_POOL_SIZE);
    close(h.pool_fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_gate_and_sub_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_guest_walk_in_sub, setup, teardown),
        cmocka_unit_test_setup_teardown(test_middle_page_and_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_address_is_manager_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_translation_accepts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_host_translation_refuses_foreign_region, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_layouts, setup, teardown),
        cmocka_unit_test(test_mailbox_encoding),
        cmocka_unit_test(test_agent_on_kvm),
        cmocka_unit_test(test_capability_check),
        cmocka_unit_test_setup_teardown(test_install_sequencing, setup, teardown),
    };
    return cmocka_run_group_tests_name("elisa-vmfunc-host", tests, NULL, NULL);
}
