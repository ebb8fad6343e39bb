/* vmfunc/eptp.c - EPTP values and the EPTP list (SDM sections in eptp.h). */
#include "eptp.h"
#include "vmcs_fields.h"

uint64_t vmf_eptp_make(uint64_t pml4, unsigned mt, unsigned levels, bool ad)
{
    return (pml4 & VMF_EPTP_ADDR_MASK) | ((uint64_t)mt & VMF_EPTP_MT_MASK) |
           (((uint64_t)(levels - 1) << VMF_EPTP_WALK_SHIFT) & VMF_EPTP_WALK_MASK) |
           (ad ? VMF_EPTP_AD : 0);
}

void vmf_eptp_decode(uint64_t eptp, struct vmf_eptp_info *out)
{
    out->pml4 = eptp & VMF_EPTP_ADDR_MASK;
    out->mt = (unsigned)(eptp & VMF_EPTP_MT_MASK);
    out->levels = (unsigned)((eptp & VMF_EPTP_WALK_MASK) >> VMF_EPTP_WALK_SHIFT) + 1;
    out->ad = (eptp & VMF_EPTP_AD) != 0;
    out->sss = (eptp & VMF_EPTP_SSS) != 0;
}

unsigned vmf_eptp_check(uint64_t eptp, uint64_t cap, unsigned maxphyaddr)
{
    struct vmf_eptp_info i;
    unsigned bad = 0;
    vmf_eptp_decode(eptp, &i);
    /* 27.2.1.1: the memory type must be one IA32_VMX_EPT_VPID_CAP allows:
     * UC (0) if bit 8, WB (6) if bit 14; every other value is reserved. */
    if (!((i.mt == VMF_MT_UC && (cap & VMF_EPTCAP_UC)) ||
          (i.mt == VMF_MT_WB && (cap & VMF_EPTCAP_WB))))
        bad |= VMF_EPTP_BAD_MT;
    /* Bits 5:3 must be 3 (4 levels; bit 6 of the MSR) or 4 (5 levels;
     * bit 7), as supported. */
    if (!((i.levels == 4 && (cap & VMF_EPTCAP_WALK4)) ||
          (i.levels == 5 && (cap & VMF_EPTCAP_WALK5))))
        bad |= VMF_EPTP_BAD_WALK;
    /* Bit 6 must be 0 if the CPU lacks EPT accessed/dirty flags (bit 21). */
    if (i.ad && !(cap & VMF_EPTCAP_AD))
        bad |= VMF_EPTP_BAD_AD;
    /* Bit 7 must be 0 if the CPU lacks the shadow-stack control (bit 23). */
    if (i.sss && !(cap & VMF_EPTCAP_SSS))
        bad |= VMF_EPTP_BAD_SSS;
    /* Bits 11:8 are reserved, and so are the bits from MAXPHYADDR up. */
    if (eptp & VMF_EPTP_RSVD_11_8)
        bad |= VMF_EPTP_BAD_RSVD;
    if (maxphyaddr == 0 || maxphyaddr > 52)
        maxphyaddr = 52;
    if (maxphyaddr < 64 && (eptp >> maxphyaddr) != 0)
        bad |= VMF_EPTP_BAD_ADDR;
    return bad;
}

char *vmf_eptp_describe(unsigned bad, char *buf, size_t len)
{
    static const char *const names[] = {
        "memory type", "walk length", "accessed/dirty flags",
        "shadow-stack bit", "reserved bits 11:8", "address beyond MAXPHYADDR",
    };
    if (buf == NULL || len == 0)
        return buf;
    buf[0] = '\0';
    bool first = true;
    for (unsigned b = 0; b < sizeof names / sizeof names[0]; b++) {
        if (!(bad & (1u << b)))
            continue;
        if (!first)
            vmf_str_append(buf, len, ", ");
        vmf_str_append(buf, len, names[b]);
        first = false;
    }
    return buf;
}

int vmf_eptp_list_init(struct vmf_eptp_list *list, const struct vmf_alloc *alloc)
{
    if (list == NULL || alloc == NULL || alloc->page == NULL)
        return VMF_EINVAL;
    list->alloc = alloc;
    /* The list is one 4 KiB-aligned page (25.6.14); the allocator's pages
     * are zeroed, so every entry starts as 0, which is never a valid EPTP
     * (walk length 1): VMFUNC on an unused index exits. */
    list->entry = alloc->page(alloc->ctx, &list->phys);
    if (list->entry == NULL)
        return VMF_ENOMEM;
    return VMF_OK;
}

int vmf_eptp_list_set(struct vmf_eptp_list *list, unsigned index, uint64_t eptp)
{
    if (list == NULL || list->entry == NULL || index >= VMX_EPTP_LIST_ENTRIES)
        return VMF_EINVAL;
    list->entry[index] = eptp;
    return VMF_OK;
}

int vmf_eptp_list_clear(struct vmf_eptp_list *list, unsigned index)
{
    return vmf_eptp_list_set(list, index, 0);
}

uint64_t vmf_eptp_list_get(const struct vmf_eptp_list *list, unsigned index)
{
    if (list == NULL || list->entry == NULL || index >= VMX_EPTP_LIST_ENTRIES)
        return 0;
    return list->entry[index];
}

bool vmf_eptp_switch(const struct vmf_eptp_list *list, uint64_t index,
                     uint64_t cap, unsigned maxphyaddr, uint64_t *eptp)
{
    /* 26.5.5.3: IF ECX >= 512 THEN VM exit; the entry must be a valid EPTP
     * (one that would not make VM entry fail) or VM exit; else it becomes
     * the EPTP. */
    if (index >= VMX_EPTP_LIST_ENTRIES)
        return false;
    uint64_t e = vmf_eptp_list_get(list, (unsigned)index);
    if (vmf_eptp_check(e, cap, maxphyaddr) != 0)
        return false;
    if (eptp != NULL)
        *eptp = e;
    return true;
}
