/* vmfunc/elisa_ctx.c - ELISA's anywhere page table and default/gate/sub
 * contexts (ELISA, ASPLOS 2023, sections 4.1 and 4.2; see elisa_ctx.h). */
#include "elisa_ctx.h"

int vmf_anywhere_init(struct vmf_anywhere *aw, const struct vmf_alloc *alloc,
                      uint64_t root_hpa, uint64_t perms)
{
    if (aw == NULL || alloc == NULL || alloc->page == NULL ||
        (root_hpa & (VMF_PAGE_SIZE - 1)) != 0 || root_hpa >= (1ULL << 52) ||
        (perms & ~VMF_EPT_RWX) != 0 || !(perms & VMF_EPT_R))
        return VMF_EINVAL;
    uint64_t *pt = alloc->page(alloc->ctx, &aw->pt);
    uint64_t *pd = alloc->page(alloc->ctx, &aw->pd);
    uint64_t *pdpt = alloc->page(alloc->ctx, &aw->pdpt);
    if (pt == NULL || pd == NULL || pdpt == NULL)
        return VMF_ENOMEM;
    aw->root = root_hpa;
    /* A 4 KiB leaf (SDM 29.3.2, "EPT Page-Table Entry that Maps a 4-KByte
     * Page"): the root's address, the permissions, memory type WB in bits
     * 5:3, and the ignored bit 11 as the anywhere marker. */
    aw->leaf = root_hpa | perms | ((uint64_t)VMF_MT_WB << VMF_EPT_MT_SHIFT) |
               VMF_EPT_SW_ANYWHERE;
    /* Entries that reference the next table allow RWX (the leaf decides)
     * and keep the reserved bits 7:3 at 0. */
    for (unsigned i = 0; i < 512; i++) {
        pt[i] = aw->leaf;
        pd[i] = aw->pt | VMF_EPT_RWX | VMF_EPT_SW_ANYWHERE;
        pdpt[i] = aw->pd | VMF_EPT_RWX | VMF_EPT_SW_ANYWHERE;
    }
    return VMF_OK;
}

/* ---- the allocators the builder hands to ept.c and guest_pt.c ----------- */

/* Every page of the EPTs, the list, the anywhere tables and the guest page
 * table comes through here: one inside guest RAM's host range would be
 * writable by the guest through its own default context. */
static void *host_page(void *ctx, uint64_t *phys)
{
    struct vmf_elisa *e = ctx;
    void *p = e->inner->page(e->inner->ctx, phys);
    if (p == NULL) {
        if (e->alloc_err == VMF_OK)
            e->alloc_err = VMF_ENOMEM;
        return NULL;
    }
    if (*phys + VMF_PAGE_SIZE > e->ram_hpa && *phys < e->ram_hpa + e->ram_size) {
        e->alloc_err = VMF_EINVAL;
        return NULL;
    }
    return p;
}

static void *host_virt(void *ctx, uint64_t phys)
{
    struct vmf_elisa *e = ctx;
    return e->inner->virt(e->inner->ctx, phys);
}

/* The guest page table's pages: a host page each, named by the next GPA of
 * the window, since the guest's walk follows GPAs. */
static void *gpt_page(void *ctx, uint64_t *phys)
{
    struct vmf_elisa *e = ctx;
    if (e->pt_used >= e->pt_max) {
        if (e->alloc_err == VMF_OK)
            e->alloc_err = VMF_ENOMEM;
        return NULL;
    }
    uint64_t hpa;
    void *p = host_page(e, &hpa);
    if (p == NULL)
        return NULL;
    e->pt_hpa[e->pt_used] = hpa;
    *phys = e->pt_gpa + (uint64_t)e->pt_used * VMF_PAGE_SIZE;
    e->pt_used++;
    return p;
}

static void *gpt_virt(void *ctx, uint64_t gpa)
{
    struct vmf_elisa *e = ctx;
    if (gpa < e->pt_gpa)
        return NULL;
    uint64_t k = (gpa - e->pt_gpa) / VMF_PAGE_SIZE;
    if (k >= e->pt_used)
        return NULL;
    return e->inner->virt(e->inner->ctx, e->pt_hpa[k]);
}

/* ---- layout checks --------------------------------------------------------- */

static bool aligned(uint64_t x)
{
    return (x & (VMF_PAGE_SIZE - 1)) == 0;
}

static bool overlap(uint64_t a, uint64_t as, uint64_t b, uint64_t bs)
{
    return as != 0 && bs != 0 && a < b + bs && b < a + as;
}

static bool layout_valid(const struct vmf_elisa_layout *l)
{
    if (l->ram_size == 0 || !aligned(l->ram_gpa) || !aligned(l->ram_hpa) ||
        !aligned(l->ram_size) || !aligned(l->gate_gpa) || !aligned(l->gate_va) ||
        !aligned(l->sub_code_gpa) || !aligned(l->sub_code_hpa) ||
        !aligned(l->sub_code_size) || l->sub_code_size == 0 ||
        !aligned(l->sub_code_va) || !aligned(l->shared_gpa) ||
        !aligned(l->shared_hpa) || !aligned(l->shared_size) ||
        !aligned(l->shared_va) || !aligned(l->sub_data_gpa) ||
        !aligned(l->sub_data_hpa) || !aligned(l->sub_data_size) ||
        !aligned(l->sub_data_va) || !aligned(l->pt_gpa) ||
        l->pt_pages == 0 || l->pt_pages > VMF_ELISA_MAX_PT_PAGES)
        return false;
    for (unsigned i = 0; i < VMF_GATE_PAGES; i++)
        if (!aligned(l->gate_hpa[i]))
            return false;
    /* The explicit guest-physical ranges of the gate and sub contexts must
     * not overlap one another. */
    const uint64_t g[5][2] = {
        { l->gate_gpa, VMF_GATE_SIZE },
        { l->sub_code_gpa, l->sub_code_size },
        { l->shared_gpa, l->shared_size },
        { l->sub_data_gpa, l->sub_data_size },
        { l->pt_gpa, (uint64_t)l->pt_pages * VMF_PAGE_SIZE },
    };
    /* Nor the virtual ranges of the guest page table. */
    const uint64_t v[4][2] = {
        { l->gate_va, VMF_GATE_SIZE },
        { l->sub_code_va, l->sub_code_size },
        { l->shared_va, l->shared_size },
        { l->sub_data_va, l->sub_data_size },
    };
    for (unsigned i = 0; i < 5; i++)
        for (unsigned j = i + 1; j < 5; j++)
            if (overlap(g[i][0], g[i][1], g[j][0], g[j][1]))
                return false;
    for (unsigned i = 0; i < 4; i++)
        for (unsigned j = i + 1; j < 4; j++)
            if (overlap(v[i][0], v[i][1], v[j][0], v[j][1]))
                return false;
    return true;
}

/* ---- the builders ------------------------------------------------------------ */

/* The default context must not reach a host range that belongs to the sub
 * context: unmap the guest-RAM alias of [hpa, hpa+size), if any. */
static int unmap_ram_alias(struct vmf_elisa *e, const struct vmf_elisa_layout *l,
                           uint64_t hpa, uint64_t size)
{
    if (!overlap(hpa, size, l->ram_hpa, l->ram_size))
        return VMF_OK;
    uint64_t lo = hpa > l->ram_hpa ? hpa : l->ram_hpa;
    uint64_t hi_a = hpa + size, hi_b = l->ram_hpa + l->ram_size;
    uint64_t hi = hi_a < hi_b ? hi_a : hi_b;
    return vmf_ept_unmap(&e->ctx[VMF_CTX_DEFAULT], l->ram_gpa + (lo - l->ram_hpa), hi - lo);
}

static int build_default(struct vmf_elisa *e, const struct vmf_elisa_layout *l)
{
    struct vmf_ept *ept = &e->ctx[VMF_CTX_DEFAULT];
    int err = vmf_ept_init(ept, &e->host_alloc);
    if (err == VMF_OK)
        err = vmf_ept_map(ept, l->ram_gpa, l->ram_hpa, l->ram_size, VMF_EPT_RWX,
                          VMF_MT_WB, l->map_flags);
    /* Minus the sub context's memory and every gate page (the top and
     * bottom ones come back read/execute at the gate's GPA below; the
     * middle one only exists in the gate and sub contexts). */
    for (unsigned i = 0; err == VMF_OK && i < VMF_GATE_PAGES; i++)
        err = unmap_ram_alias(e, l, l->gate_hpa[i], VMF_PAGE_SIZE);
    if (err == VMF_OK)
        err = unmap_ram_alias(e, l, l->sub_code_hpa, l->sub_code_size);
    if (err == VMF_OK && l->shared_size != 0)
        err = unmap_ram_alias(e, l, l->shared_hpa, l->shared_size);
    if (err == VMF_OK && l->sub_data_size != 0)
        err = unmap_ram_alias(e, l, l->sub_data_hpa, l->sub_data_size);
    if (err == VMF_OK)
        err = vmf_ept_unmap(ept, l->gate_gpa, VMF_GATE_SIZE);
    if (err == VMF_OK)
        err = vmf_ept_map(ept, l->gate_gpa + VMF_GATE_TOP * VMF_PAGE_SIZE,
                          l->gate_hpa[VMF_GATE_TOP], VMF_PAGE_SIZE,
                          VMF_EPT_R | VMF_EPT_X, VMF_MT_WB, l->map_flags);
    if (err == VMF_OK)
        err = vmf_ept_map(ept, l->gate_gpa + VMF_GATE_BOTTOM * VMF_PAGE_SIZE,
                          l->gate_hpa[VMF_GATE_BOTTOM], VMF_PAGE_SIZE,
                          VMF_EPT_R | VMF_EPT_X, VMF_MT_WB, l->map_flags);
    return err;
}

/* What the gate and sub contexts share: the anywhere mapping, the three
 * gate pages (read/execute) and the page-table window. */
static int build_anywhere_ctx(struct vmf_elisa *e, const struct vmf_elisa_layout *l,
                              struct vmf_ept *ept, uint64_t pt_perms)
{
    int err = vmf_ept_init_anywhere(ept, &e->host_alloc, &e->aw);
    for (unsigned i = 0; err == VMF_OK && i < VMF_GATE_PAGES; i++)
        err = vmf_ept_map(ept, l->gate_gpa + i * VMF_PAGE_SIZE, l->gate_hpa[i],
                          VMF_PAGE_SIZE, VMF_EPT_R | VMF_EPT_X, VMF_MT_WB, l->map_flags);
    for (unsigned k = 0; err == VMF_OK && k < e->pt_used; k++)
        err = vmf_ept_map(ept, l->pt_gpa + (uint64_t)k * VMF_PAGE_SIZE, e->pt_hpa[k],
                          VMF_PAGE_SIZE, pt_perms, VMF_MT_WB, l->map_flags);
    return err;
}

static int build_guest_pt(struct vmf_elisa *e, const struct vmf_elisa_layout *l)
{
    uint64_t u = l->user_mode ? VMF_PT_U : 0;
    int err = vmf_gpt_init(&e->gpt, &e->gpt_alloc);
    /* Gate and sub code: read + execute; data: read/write, no execute. */
    if (err == VMF_OK)
        err = vmf_gpt_map(&e->gpt, l->gate_va, l->gate_gpa, VMF_GATE_SIZE, u, 0);
    if (err == VMF_OK)
        err = vmf_gpt_map(&e->gpt, l->sub_code_va, l->sub_code_gpa, l->sub_code_size, u, 0);
    if (err == VMF_OK && l->shared_size != 0)
        err = vmf_gpt_map(&e->gpt, l->shared_va, l->shared_gpa, l->shared_size,
                          u | VMF_PT_W | VMF_PT_NX, 0);
    if (err == VMF_OK && l->sub_data_size != 0)
        err = vmf_gpt_map(&e->gpt, l->sub_data_va, l->sub_data_gpa, l->sub_data_size,
                          u | VMF_PT_W | VMF_PT_NX, 0);
    return err;
}

int vmf_elisa_build(struct vmf_elisa *e, const struct vmf_alloc *alloc,
                    const struct vmf_elisa_layout *l)
{
    if (e == NULL || alloc == NULL || alloc->page == NULL || alloc->virt == NULL ||
        l == NULL || !layout_valid(l))
        return VMF_EINVAL;
    e->inner = alloc;
    e->ram_hpa = l->ram_hpa;
    e->ram_size = l->ram_size;
    e->pt_gpa = l->pt_gpa;
    e->pt_max = l->pt_pages;
    e->pt_used = 0;
    e->alloc_err = VMF_OK;
    e->host_alloc.page = host_page;
    e->host_alloc.virt = host_virt;
    e->host_alloc.ctx = e;
    e->gpt_alloc.page = gpt_page;
    e->gpt_alloc.virt = gpt_virt;
    e->gpt_alloc.ctx = e;

    /* With EPT A/D on, guest paging-structure reads count as writes for
     * EPT (SDM 29.3.3.2), so the walk needs write permission. */
    uint64_t pt_perms = VMF_EPT_R | (l->eptp_ad ? VMF_EPT_W : 0);

    int err = build_guest_pt(e, l);
    if (err == VMF_OK) {
        e->root_hpa = e->pt_hpa[0];
        err = vmf_anywhere_init(&e->aw, &e->host_alloc, e->root_hpa, pt_perms);
    }
    if (err == VMF_OK)
        err = build_default(e, l);
    if (err == VMF_OK)
        err = build_anywhere_ctx(e, l, &e->ctx[VMF_CTX_GATE], pt_perms);
    if (err == VMF_OK)
        err = build_anywhere_ctx(e, l, &e->ctx[VMF_CTX_SUB], pt_perms);
    struct vmf_ept *sub = &e->ctx[VMF_CTX_SUB];
    if (err == VMF_OK)
        err = vmf_ept_map(sub, l->sub_code_gpa, l->sub_code_hpa, l->sub_code_size,
                          VMF_EPT_R | VMF_EPT_X, VMF_MT_WB, l->map_flags);
    if (err == VMF_OK && l->shared_size != 0)
        err = vmf_ept_map(sub, l->shared_gpa, l->shared_hpa, l->shared_size,
                          VMF_EPT_R | VMF_EPT_W, VMF_MT_WB, l->map_flags);
    if (err == VMF_OK && l->sub_data_size != 0)
        err = vmf_ept_map(sub, l->sub_data_gpa, l->sub_data_hpa, l->sub_data_size,
                          VMF_EPT_R | VMF_EPT_W, VMF_MT_WB, l->map_flags);
    if (err == VMF_OK)
        err = vmf_eptp_list_init(&e->list, &e->host_alloc);
    for (unsigned i = 0; err == VMF_OK && i < VMF_CTX_COUNT; i++) {
        e->eptp[i] = vmf_eptp_make(e->ctx[i].pml4, VMF_MT_WB, 4, l->eptp_ad);
        err = vmf_eptp_list_set(&e->list, i, e->eptp[i]);
    }
    /* An allocator failure surfaces as VMF_ENOMEM from the builders; say
     * what it really was (a page inside guest RAM, a full window). */
    if (err != VMF_OK && e->alloc_err != VMF_OK)
        err = e->alloc_err;
    return err;
}

bool vmf_ept_read64(void *ctx, uint64_t gpa, uint64_t *val)
{
    const struct vmf_ept *ept = ctx;
    struct vmf_ept_walk w;
    if (ept == NULL || (gpa & 7) != 0 ||
        vmf_ept_translate(ept, gpa, VMF_EPT_R, &w) != VMF_OK)
        return false;
    const uint64_t *page = ept->alloc->virt(ept->alloc->ctx, w.hpa & ~(VMF_PAGE_SIZE - 1));
    if (page == NULL)
        return false;
    *val = page[(w.hpa & (VMF_PAGE_SIZE - 1)) / 8];
    return true;
}
