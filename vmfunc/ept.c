/* vmfunc/ept.c - 4-level EPT paging structures (see ept.h for the SDM
 * sections).  Freestanding: no libc; every table page comes from the
 * caller's allocator and is reached through alloc->virt(). */
#include "ept.h"

const char *vmf_strerror(int err)
{
    switch (err) {
    case VMF_OK:         return "ok";
    case VMF_EINVAL:     return "invalid argument";
    case VMF_ENOMEM:     return "out of pages";
    case VMF_EBUSY:      return "already mapped";
    case VMF_ENOENT:     return "not mapped";
    case VMF_EVIOLATION: return "EPT violation";
    case VMF_EMISCONFIG: return "EPT misconfiguration";
    case VMF_EFAULT:     return "unreachable physical address";
    default:             return "unknown error";
    }
}

char *vmf_str_append(char *buf, size_t len, const char *s)
{
    if (buf == NULL || len == 0)
        return buf;
    size_t n = 0;
    while (n < len - 1 && buf[n] != '\0')
        n++;
    while (n < len - 1 && *s != '\0')
        buf[n++] = *s++;
    buf[n] = '\0';
    return buf;
}

/* Address bits of a leaf: a 1 GiB page's address is bits 51:30, a 2 MiB
 * page's bits 51:21, a 4 KiB page's bits 51:12 (SDM 29.3.2 entry tables). */
static uint64_t leaf_addr_mask(int level)
{
    return VMF_EPT_ADDR_MASK & ~(vmf_ept_level_size(level) - 1);
}

static uint64_t *table_ptr(const struct vmf_ept *ept, uint64_t entry)
{
    return ept->alloc->virt(ept->alloc->ctx, entry & VMF_EPT_ADDR_MASK);
}

/* SDM 29.3.2: an entry is present if any of bits 2:0 is 1; with mode-based
 * execute control for EPT also if bit 10 is 1. */
static bool entry_present(const struct vmf_ept *ept, uint64_t e)
{
    return (e & VMF_EPT_RWX) != 0 || (ept->mbec && (e & VMF_EPT_UX) != 0);
}

/* "Empty" for the builders: not present, or one of the anywhere entries
 * (marked with the ignored bit 11).  Explicit mappings never carry the
 * marker. */
static bool entry_empty(const struct vmf_ept *ept, uint64_t e)
{
    return !entry_present(ept, e) || (e & VMF_EPT_SW_ANYWHERE) != 0;
}

/* A leaf: every PTE; a PDPTE or PDE with bit 7 (page size) set. */
static bool entry_leaf(uint64_t e, int level)
{
    return level == VMF_LEVEL_PT ||
           (level <= VMF_LEVEL_PDPT && (e & VMF_EPT_PS) != 0);
}

/* A non-leaf entry allows everything: the leaf decides the permissions
 * (the walk ANDs all levels, SDM 29.3.3.2).  Bits 7:3 stay 0: they are
 * reserved in entries that reference a table (SDM 29.3.2). */
static uint64_t table_entry(const struct vmf_ept *ept, uint64_t phys)
{
    return phys | VMF_EPT_RWX | (ept->mbec ? VMF_EPT_UX : 0);
}

/* The value of an empty slot in a table of `level': 0, or in an anywhere
 * context the entry leading to the shared table of the level below (in
 * a PT: the mapping of the root page). */
static uint64_t empty_entry(const struct vmf_ept *ept, int level)
{
    const struct vmf_anywhere *aw = ept->aw;
    if (aw == NULL)
        return 0;
    switch (level) {
    case VMF_LEVEL_PML4: return aw->pdpt | VMF_EPT_RWX | VMF_EPT_SW_ANYWHERE;
    case VMF_LEVEL_PDPT: return aw->pd | VMF_EPT_RWX | VMF_EPT_SW_ANYWHERE;
    case VMF_LEVEL_PD:   return aw->pt | VMF_EPT_RWX | VMF_EPT_SW_ANYWHERE;
    default:             return aw->leaf;
    }
}

/* A new table of `level', every slot empty.  The allocator's page is
 * already zeroed, which is "empty" unless this is an anywhere context:
 * then the page becomes a private copy of the shared table of its level
 * (all of whose entries equal empty_entry(level)). */
static int new_table(struct vmf_ept *ept, int level, uint64_t *phys)
{
    uint64_t *t = ept->alloc->page(ept->alloc->ctx, phys);
    if (t == NULL)
        return VMF_ENOMEM;
    ept->pages++;
    if (ept->aw != NULL) {
        uint64_t v = empty_entry(ept, level);
        for (unsigned i = 0; i < 512; i++)
            t[i] = v;
    }
    return VMF_OK;
}

static int init_common(struct vmf_ept *ept, const struct vmf_alloc *alloc,
                       const struct vmf_anywhere *aw)
{
    if (ept == NULL || alloc == NULL || alloc->page == NULL || alloc->virt == NULL)
        return VMF_EINVAL;
    ept->alloc = alloc;
    ept->aw = aw;
    ept->pages = 0;
    ept->mbec = false;
    ept->pml4 = 0;
    return new_table(ept, VMF_LEVEL_PML4, &ept->pml4);
}

int vmf_ept_init(struct vmf_ept *ept, const struct vmf_alloc *alloc)
{
    return init_common(ept, alloc, NULL);
}

int vmf_ept_init_anywhere(struct vmf_ept *ept, const struct vmf_alloc *alloc,
                          const struct vmf_anywhere *aw)
{
    if (aw == NULL)
        return VMF_EINVAL;
    return init_common(ept, alloc, aw);
}

/* The slot covering gpa at the lowest level the path reaches: stops at an
 * empty slot or at a leaf.  Returns the slot and its level. */
static uint64_t *find_slot(const struct vmf_ept *ept, uint64_t gpa, int *level)
{
    uint64_t *t = ept->alloc->virt(ept->alloc->ctx, ept->pml4);
    for (int l = VMF_LEVEL_PML4; ; l--) {
        uint64_t *p = &t[vmf_ept_index(gpa, l)];
        if (l == VMF_LEVEL_PT || entry_empty(ept, *p) || entry_leaf(*p, l)) {
            *level = l;
            return p;
        }
        t = table_ptr(ept, *p);
    }
}

/* Replace the large leaf *p at `level' (2 or 3) by a table of 512 leaves
 * one level down with the same attributes, so part of it can change.  The
 * new table is complete before *p points at it: a processor walking the
 * live EPT sees either the old leaf or the full table. */
static int split_leaf(struct vmf_ept *ept, uint64_t *p, int level)
{
    uint64_t phys;
    uint64_t *t = ept->alloc->page(ept->alloc->ctx, &phys);
    if (t == NULL)
        return VMF_ENOMEM;
    ept->pages++;
    uint64_t old = *p;
    int child = level - 1;
    uint64_t base = old & leaf_addr_mask(level);
    uint64_t attrs = old & (VMF_EPT_PERM_MASK | VMF_EPT_MT_MASK | VMF_EPT_IPAT |
                            VMF_EPT_A | VMF_EPT_D);
    if (child > VMF_LEVEL_PT)
        attrs |= VMF_EPT_PS;
    uint64_t step = vmf_ept_level_size(child);
    for (unsigned i = 0; i < 512; i++)
        t[i] = (base + i * step) | attrs;
    *p = table_entry(ept, phys);
    return VMF_OK;
}

static bool perms_valid(uint64_t perms)
{
    if ((perms & ~VMF_EPT_PERM_MASK) != 0 || perms == 0)
        return false;
    /* Write without read is an EPT misconfiguration (SDM 29.3.3.1). */
    if ((perms & VMF_EPT_W) && !(perms & VMF_EPT_R))
        return false;
    return true;
}

static bool mt_valid(unsigned mt)
{
    return mt == VMF_MT_UC || mt == VMF_MT_WC || mt == VMF_MT_WT ||
           mt == VMF_MT_WP || mt == VMF_MT_WB;
}

static bool gpa_range_valid(uint64_t gpa, uint64_t size)
{
    return size != 0 && (gpa & (VMF_PAGE_SIZE - 1)) == 0 &&
           (size & (VMF_PAGE_SIZE - 1)) == 0 &&
           gpa < VMF_EPT_GPA_LIMIT && size <= VMF_EPT_GPA_LIMIT - gpa;
}

/* Every page of [gpa, end) is empty (want_mapped false) or mapped (true). */
static bool range_is(const struct vmf_ept *ept, uint64_t gpa, uint64_t end, bool want_mapped)
{
    for (uint64_t a = gpa; a < end; ) {
        int l;
        uint64_t *p = find_slot(ept, a, &l);
        if (entry_empty(ept, *p) == want_mapped)
            return false;
        uint64_t cover = vmf_ept_level_size(l);
        a = (a & ~(cover - 1)) + cover;
    }
    return true;
}

int vmf_ept_map(struct vmf_ept *ept, uint64_t gpa, uint64_t hpa, uint64_t size,
                uint64_t perms, unsigned mt, unsigned flags)
{
    if (ept == NULL || !gpa_range_valid(gpa, size) || !perms_valid(perms) || !mt_valid(mt))
        return VMF_EINVAL;
    if ((hpa & (VMF_PAGE_SIZE - 1)) != 0 || hpa >= (1ULL << 52) || size > (1ULL << 52) - hpa)
        return VMF_EINVAL;
    uint64_t end = gpa + size;
    if (!range_is(ept, gpa, end, false))
        return VMF_EBUSY;

    int max_level = VMF_LEVEL_PDPT;
    if (flags & VMF_MAP_NO_1G)
        max_level = VMF_LEVEL_PD;
    if (flags & VMF_MAP_4K)
        max_level = VMF_LEVEL_PT;
    uint64_t attrs = perms | ((uint64_t)mt << VMF_EPT_MT_SHIFT) |
                     ((flags & VMF_MAP_IPAT) ? VMF_EPT_IPAT : 0);

    while (gpa < end) {
        /* The largest leaf both addresses are aligned to that fits. */
        int want = max_level;
        while (want > VMF_LEVEL_PT) {
            uint64_t s = vmf_ept_level_size(want);
            if ((gpa & (s - 1)) == 0 && (hpa & (s - 1)) == 0 && end - gpa >= s)
                break;
            want--;
        }
        uint64_t *t = ept->alloc->virt(ept->alloc->ctx, ept->pml4);
        for (int l = VMF_LEVEL_PML4; ; l--) {
            uint64_t *p = &t[vmf_ept_index(gpa, l)];
            if (l == want && entry_empty(ept, *p)) {
                *p = hpa | attrs | (l > VMF_LEVEL_PT ? VMF_EPT_PS : 0);
                break;
            }
            /* Above the leaf's level, or a (necessarily empty, as checked
             * above) private table already sits where the leaf would go:
             * go down, creating or un-sharing the table.  In the second
             * case the leaf becomes smaller, reusing the table. */
            if (l == want)
                want--;
            if (entry_empty(ept, *p)) {
                uint64_t phys;
                int err = new_table(ept, l - 1, &phys);
                if (err != VMF_OK)
                    return err;
                *p = table_entry(ept, phys);
            }
            t = table_ptr(ept, *p);
        }
        uint64_t s = vmf_ept_level_size(want);
        gpa += s;
        hpa += s;
    }
    return VMF_OK;
}

/* Shared by unmap and protect: apply to every leaf of [gpa, end), splitting
 * large leaves that stick out of the range.  new_perms == 0: unmap. */
static int change_range(struct vmf_ept *ept, uint64_t gpa, uint64_t end, uint64_t new_perms)
{
    for (uint64_t a = gpa; a < end; ) {
        int l;
        uint64_t *p = find_slot(ept, a, &l);
        uint64_t cover = vmf_ept_level_size(l);
        uint64_t base = a & ~(cover - 1);
        if (entry_empty(ept, *p)) {
            a = base + cover;
            continue;
        }
        if (base < a || end - base < cover) {
            int err = split_leaf(ept, p, l);
            if (err != VMF_OK)
                return err;
            continue;  /* look again: now a smaller leaf covers a */
        }
        if (new_perms == 0)
            *p = empty_entry(ept, l);
        else
            *p = (*p & ~VMF_EPT_PERM_MASK) | new_perms;
        a = base + cover;
    }
    return VMF_OK;
}

int vmf_ept_unmap(struct vmf_ept *ept, uint64_t gpa, uint64_t size)
{
    if (ept == NULL || !gpa_range_valid(gpa, size))
        return VMF_EINVAL;
    return change_range(ept, gpa, gpa + size, 0);
}

int vmf_ept_protect(struct vmf_ept *ept, uint64_t gpa, uint64_t size, uint64_t perms)
{
    if (ept == NULL || !gpa_range_valid(gpa, size) || !perms_valid(perms))
        return VMF_EINVAL;
    if (!range_is(ept, gpa, gpa + size, true))
        return VMF_ENOENT;
    return change_range(ept, gpa, gpa + size, perms);
}

/* SDM 29.3.3.1 "EPT Misconfigurations", the cases a builder can produce:
 * write without read in any entry; in a non-leaf entry bits 7:3 set
 * (reserved; bit 7 of a PML4E included); in a leaf a reserved memory type
 * (2, 3, 7) or address bits below the page size of a large page
 * (bits 29:12 of a 1 GiB leaf, 20:12 of a 2 MiB leaf are reserved). */
static bool entry_misconfigured(uint64_t e, int level, bool leaf)
{
    if ((e & VMF_EPT_W) && !(e & VMF_EPT_R))
        return true;
    if (!leaf)
        return (e & 0xF8ULL) != 0;
    unsigned mt = (unsigned)((e & VMF_EPT_MT_MASK) >> VMF_EPT_MT_SHIFT);
    if (!mt_valid(mt))
        return true;
    if (level > VMF_LEVEL_PT &&
        (e & VMF_EPT_ADDR_MASK & (vmf_ept_level_size(level) - 1)) != 0)
        return true;
    return false;
}

int vmf_ept_translate(const struct vmf_ept *ept, uint64_t gpa, uint64_t access,
                      struct vmf_ept_walk *out)
{
    if (ept == NULL || out == NULL || gpa >= VMF_EPT_GPA_LIMIT)
        return VMF_EINVAL;
    uint64_t allowed = VMF_EPT_RWX | (ept->mbec ? VMF_EPT_UX : 0);
    out->hpa = 0;
    out->leaf = 0;
    out->perms = 0;
    out->mt = 0;
    out->level = 0;
    out->present = false;
    out->ipat = false;
    out->anywhere = false;

    const uint64_t *t = ept->alloc->virt(ept->alloc->ctx, ept->pml4);
    for (int l = VMF_LEVEL_PML4; l >= VMF_LEVEL_PT; l--) {
        uint64_t e = t[vmf_ept_index(gpa, l)];
        out->level = l;
        out->leaf = e;
        if (!entry_present(ept, e))
            return VMF_EVIOLATION;
        bool leaf = entry_leaf(e, l);
        if (entry_misconfigured(e, l, leaf))
            return VMF_EMISCONFIG;
        if (e & VMF_EPT_SW_ANYWHERE)
            out->anywhere = true;
        allowed &= e;
        if (leaf) {
            out->present = true;
            out->perms = allowed;
            out->hpa = (e & leaf_addr_mask(l)) | (gpa & (vmf_ept_level_size(l) - 1));
            out->mt = (unsigned)((e & VMF_EPT_MT_MASK) >> VMF_EPT_MT_SHIFT);
            out->ipat = (e & VMF_EPT_IPAT) != 0;
            /* SDM 29.3.3.2: a read needs bit 0, a write bit 1, a fetch
             * bit 2 (bit 10 for user-mode fetches with MBEC) at every
             * level of the walk. */
            if ((access & ~allowed) != 0)
                return VMF_EVIOLATION;
            return VMF_OK;
        }
        t = table_ptr(ept, e);
    }
    return VMF_EVIOLATION;  /* not reached: level 1 is always a leaf */
}

const uint64_t *vmf_ept_table(const struct vmf_ept *ept, uint64_t gpa, int level)
{
    if (ept == NULL || level < VMF_LEVEL_PT || level > VMF_LEVEL_PML4 ||
        gpa >= VMF_EPT_GPA_LIMIT)
        return NULL;
    const uint64_t *t = ept->alloc->virt(ept->alloc->ctx, ept->pml4);
    for (int l = VMF_LEVEL_PML4; l > level; l--) {
        uint64_t e = t[vmf_ept_index(gpa, l)];
        if (!entry_present(ept, e) || entry_leaf(e, l))
            return NULL;
        t = table_ptr(ept, e);
    }
    return t;
}
