/* vmfunc/eptp.h - EPT pointer (EPTP) values and the EPTP list.
 *
 * Intel SDM Vol. 3C, 2023 numbering [before the renumbering]:
 *   25.6.11 [24.6.11] "Extended-Page-Table Pointer (EPTP)", table "Format
 *           of Extended-Page-Table Pointer"
 *   25.6.14 [24.6.14] "VM-Function Controls" (EPTP-list address, 512
 *           8-byte entries in one 4 KiB page)
 *   26.5.5.3 [25.5.5.3] "EPTP Switching" (VMFUNC leaf 0)
 *   27.2.1.1 [26.2.1.1] "VM-Execution Control Fields" (the checks VM entry,
 *           and so EPTP switching, applies to an EPTP)
 *   A.10 "VPID and EPT Capabilities" (IA32_VMX_EPT_VPID_CAP, MSR 48CH)
 */
#ifndef VMFUNC_EPTP_H
#define VMFUNC_EPTP_H

#include "ept.h"

/* EPTP bits (table "Format of Extended-Page-Table Pointer"). */
#define VMF_EPTP_MT_MASK       0x7ULL          /* 2:0 paging-structure memory
                                                  type: 0 UC, 6 WB */
#define VMF_EPTP_WALK_SHIFT    3               /* 5:3 page-walk length - 1 */
#define VMF_EPTP_WALK_MASK     (7ULL << 3)
#define VMF_EPTP_AD            (1ULL << 6)     /* enable accessed/dirty flags */
#define VMF_EPTP_SSS           (1ULL << 7)     /* enforce access rights for
                                                  supervisor shadow-stack pages */
#define VMF_EPTP_RSVD_11_8     (0xFULL << 8)   /* reserved, must be 0 */
#define VMF_EPTP_ADDR_MASK     0x000FFFFFFFFFF000ULL  /* N-1:12 PML4 address */

/* IA32_VMX_EPT_VPID_CAP bits (A.10). */
#define VMF_EPTCAP_EXEC_ONLY   (1ULL << 0)     /* execute-only translations */
#define VMF_EPTCAP_WALK4       (1ULL << 6)     /* page-walk length 4 */
#define VMF_EPTCAP_WALK5       (1ULL << 7)     /* page-walk length 5 */
#define VMF_EPTCAP_UC          (1ULL << 8)     /* EPTP memory type UC */
#define VMF_EPTCAP_WB          (1ULL << 14)    /* EPTP memory type WB */
#define VMF_EPTCAP_2M          (1ULL << 16)    /* PDE may map 2 MiB */
#define VMF_EPTCAP_1G          (1ULL << 17)    /* PDPTE may map 1 GiB */
#define VMF_EPTCAP_INVEPT      (1ULL << 20)
#define VMF_EPTCAP_AD          (1ULL << 21)    /* accessed/dirty flags */
#define VMF_EPTCAP_ADV_EXITINFO (1ULL << 22)   /* advanced EPT-violation info */
#define VMF_EPTCAP_SSS         (1ULL << 23)    /* supervisor shadow-stack ctl */
#define VMF_EPTCAP_INVEPT_SINGLE (1ULL << 25)
#define VMF_EPTCAP_INVEPT_ALL  (1ULL << 26)
#define VMF_EPTCAP_INVVPID     (1ULL << 32)

/* An EPTP for a PML4 at `pml4' (4 KiB aligned), paging-structure memory
 * type `mt' (VMF_MT_UC or VMF_MT_WB), walk length `levels' (4 for this
 * library's EPTs; 5 only for 5-level EPT) and A/D flags on or off.  No
 * checks: see vmf_eptp_check(). */
uint64_t vmf_eptp_make(uint64_t pml4, unsigned mt, unsigned levels, bool ad);

/* The fields of an EPTP. */
struct vmf_eptp_info {
    uint64_t pml4;
    unsigned mt;
    unsigned levels;
    bool ad;
    bool sss;
};
void vmf_eptp_decode(uint64_t eptp, struct vmf_eptp_info *out);

/* Problems vmf_eptp_check() finds (a bitmask; 0 = a valid EPTP). */
#define VMF_EPTP_BAD_MT        (1u << 0)  /* memory type not UC/WB or not
                                             supported by the CPU */
#define VMF_EPTP_BAD_WALK      (1u << 1)  /* walk length not supported */
#define VMF_EPTP_BAD_AD        (1u << 2)  /* A/D set, CPU lacks EPT A/D */
#define VMF_EPTP_BAD_SSS       (1u << 3)  /* bit 7 set, CPU lacks it */
#define VMF_EPTP_BAD_RSVD      (1u << 4)  /* bits 11:8 set */
#define VMF_EPTP_BAD_ADDR      (1u << 5)  /* address bits at or above
                                             MAXPHYADDR set */

/* The checks of 27.2.1.1 on an EPTP against IA32_VMX_EPT_VPID_CAP and the
 * physical-address width `maxphyaddr' (CPUID 80000008H EAX[7:0]; 52 if not
 * known).  The same checks decide whether VMFUNC(0, i) loads list entry i
 * or exits (26.5.5.3).  This library's EPTs walk 4 levels, so a 5-level
 * EPTP is valid only if the CPU supports walk length 5. */
unsigned vmf_eptp_check(uint64_t eptp, uint64_t ept_vpid_cap, unsigned maxphyaddr);

/* Names of the problems in `bad', "memory type, walk length", written into
 * buf (always NUL terminated, cut if too small).  Returns buf. */
char *vmf_eptp_describe(unsigned bad, char *buf, size_t len);

/* ---- the EPTP list (25.6.14) --------------------------------------------- */

struct vmf_eptp_list {
    const struct vmf_alloc *alloc;
    uint64_t phys;      /* physical address: the VMCS EPTP-list address */
    uint64_t *entry;    /* the 512 entries */
};

/* Allocate the (zeroed) list page.  VMF_OK or VMF_ENOMEM / VMF_EINVAL. */
int vmf_eptp_list_init(struct vmf_eptp_list *list, const struct vmf_alloc *alloc);
/* Entry `index' (< 512) = eptp, or 0 (an invalid EPTP: VMFUNC exits). */
int vmf_eptp_list_set(struct vmf_eptp_list *list, unsigned index, uint64_t eptp);
int vmf_eptp_list_clear(struct vmf_eptp_list *list, unsigned index);
/* Entry `index', 0 if index >= 512. */
uint64_t vmf_eptp_list_get(const struct vmf_eptp_list *list, unsigned index);

/* What VMFUNC with EAX = 0, ECX = index does with this list on a CPU with
 * these EPT capabilities (26.5.5.3 pseudocode): returns true and the new
 * EPTP in *eptp, or false where the CPU would exit with reason 59 (index
 * >= 512, or the entry is not a valid EPTP).  A software model for tests
 * and for a hypervisor that wants to predict the exit. */
bool vmf_eptp_switch(const struct vmf_eptp_list *list, uint64_t index,
                     uint64_t ept_vpid_cap, unsigned maxphyaddr, uint64_t *eptp);

#endif
