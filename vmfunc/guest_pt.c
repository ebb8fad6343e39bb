/* vmfunc/guest_pt.c - x86-64 4-level paging structures (SDM Vol. 3A
 * sections in guest_pt.h). */
#include "guest_pt.h"

/* Same index split as EPT: bits 47:39, 38:30, 29:21, 20:12. */
static unsigned pt_index(uint64_t va, int level)
{
    return (unsigned)(va >> (12 + 9 * (level - 1))) & 511u;
}

static uint64_t *pt_table(const struct vmf_gpt *pt, uint64_t entry)
{
    return pt->alloc->virt(pt->alloc->ctx, entry & VMF_PT_ADDR_MASK);
}

static bool pt_leaf(uint64_t e, int level)
{
    return level == 1 || (level <= 3 && (e & VMF_PT_PS) != 0);
}

int vmf_gpt_init(struct vmf_gpt *pt, const struct vmf_alloc *alloc)
{
    if (pt == NULL || alloc == NULL || alloc->page == NULL || alloc->virt == NULL)
        return VMF_EINVAL;
    pt->alloc = alloc;
    pt->pages = 0;
    if (alloc->page(alloc->ctx, &pt->root) == NULL)
        return VMF_ENOMEM;
    pt->pages = 1;
    return VMF_OK;
}

/* The slot covering va at the lowest level reached: stops at a non-present
 * entry or a leaf. */
static uint64_t *pt_find(const struct vmf_gpt *pt, uint64_t va, int *level)
{
    uint64_t *t = pt->alloc->virt(pt->alloc->ctx, pt->root);
    for (int l = 4; ; l--) {
        uint64_t *p = &t[pt_index(va, l)];
        if (l == 1 || !(*p & VMF_PT_P) || pt_leaf(*p, l)) {
            *level = l;
            return p;
        }
        t = pt_table(pt, *p);
    }
}

int vmf_gpt_map(struct vmf_gpt *pt, uint64_t va, uint64_t pa, uint64_t size,
                uint64_t flags, unsigned map_flags)
{
    if (pt == NULL || size == 0 || ((va | pa | size) & (VMF_PAGE_SIZE - 1)) != 0 ||
        (flags & ~VMF_PT_LEAF_FLAGS) != 0)
        return VMF_EINVAL;
    uint64_t last = va + size - 1;
    if (last < va || !vmf_va_canonical(va) || !vmf_va_canonical(last) ||
        (va >> 47) != (last >> 47) || pa >= (1ULL << 52) || size > (1ULL << 52) - pa)
        return VMF_EINVAL;

    for (uint64_t a = va; a - va < size; ) {
        int l;
        uint64_t *p = pt_find(pt, a, &l);
        if (*p & VMF_PT_P)
            return VMF_EBUSY;
        uint64_t cover = 1ULL << (12 + 9 * (l - 1));
        uint64_t next = (a & ~(cover - 1)) + cover;
        if (next == 0 || next - va >= size)
            break;
        a = next;
    }

    int max_level = 3;
    if (map_flags & VMF_MAP_NO_1G)
        max_level = 2;
    if (map_flags & VMF_MAP_4K)
        max_level = 1;
    uint64_t leaf_bits = VMF_PT_P | VMF_PT_A | flags | ((flags & VMF_PT_W) ? VMF_PT_D : 0);
    /* Everything allowed above the leaf (4.6: rights are the AND of R/W
     * and U/S, the OR of XD, over all levels); A preset (4.8). */
    const uint64_t table_bits = VMF_PT_P | VMF_PT_W | VMF_PT_U | VMF_PT_A;

    uint64_t done = 0;
    while (done < size) {
        uint64_t v = va + done, p = pa + done, left = size - done;
        int want = max_level;
        while (want > 1) {
            uint64_t s = 1ULL << (12 + 9 * (want - 1));
            if ((v & (s - 1)) == 0 && (p & (s - 1)) == 0 && left >= s)
                break;
            want--;
        }
        uint64_t *t = pt->alloc->virt(pt->alloc->ctx, pt->root);
        for (int l = 4; ; l--) {
            uint64_t *e = &t[pt_index(v, l)];
            if (l == want && !(*e & VMF_PT_P)) {
                *e = p | leaf_bits | (l > 1 ? VMF_PT_PS : 0);
                break;
            }
            if (l == want)
                want--;  /* an (empty) table is already there: reuse it */
            if (!(*e & VMF_PT_P)) {
                uint64_t phys;
                if (pt->alloc->page(pt->alloc->ctx, &phys) == NULL)
                    return VMF_ENOMEM;
                pt->pages++;
                *e = phys | table_bits;
            }
            t = pt_table(pt, *e);
        }
        done += 1ULL << (12 + 9 * (want - 1));
    }
    return VMF_OK;
}

bool vmf_gpt_read_alloc(void *ctx, uint64_t pa, uint64_t *val)
{
    const struct vmf_alloc *a = ctx;
    if (a == NULL || (pa & 7) != 0)
        return false;
    const uint64_t *page = a->virt(a->ctx, pa & ~(VMF_PAGE_SIZE - 1));
    if (page == NULL)
        return false;
    *val = page[(pa & (VMF_PAGE_SIZE - 1)) / 8];
    return true;
}

int vmf_guest_translate(vmf_read64_fn read, void *ctx, uint64_t cr3, uint64_t va,
                        struct vmf_gpt_walk *out)
{
    if (read == NULL || out == NULL)
        return VMF_EINVAL;
    out->pa = 0;
    out->leaf = 0;
    out->level = 0;
    out->present = false;
    out->writable = true;
    out->user = true;
    out->nx = false;
    if (!vmf_va_canonical(va))
        return VMF_EINVAL;

    uint64_t table = cr3 & VMF_PT_ADDR_MASK;
    for (int l = 4; l >= 1; l--) {
        uint64_t e;
        if (!read(ctx, table + 8ULL * pt_index(va, l), &e))
            return VMF_EFAULT;
        out->level = l;
        out->leaf = e;
        if (!(e & VMF_PT_P))
            return VMF_ENOENT;
        if (l == 4 && (e & VMF_PT_PS))
            return VMF_EMISCONFIG;  /* bit 7 of a PML4E is reserved */
        out->writable = out->writable && (e & VMF_PT_W);
        out->user = out->user && (e & VMF_PT_U);
        out->nx = out->nx || (e & VMF_PT_NX);
        if (pt_leaf(e, l)) {
            uint64_t size = 1ULL << (12 + 9 * (l - 1));
            if (l > 1) {
                /* Bit 12 of a large leaf is its PAT bit; the bits from 13
                 * up to the page size are reserved. */
                uint64_t rsvd = (size - 1) & VMF_PT_ADDR_MASK & ~(1ULL << 12);
                if (e & rsvd)
                    return VMF_EMISCONFIG;
            }
            uint64_t mask = VMF_PT_ADDR_MASK & ~(size - 1);
            out->pa = (e & mask) | (va & (size - 1));
            out->present = true;
            return VMF_OK;
        }
        table = e & VMF_PT_ADDR_MASK;
    }
    return VMF_ENOENT;  /* not reached */
}

int vmf_gpt_translate(const struct vmf_gpt *pt, uint64_t va, struct vmf_gpt_walk *out)
{
    if (pt == NULL)
        return VMF_EINVAL;
    return vmf_guest_translate(vmf_gpt_read_alloc, (void *)pt->alloc, pt->root, va, out);
}
