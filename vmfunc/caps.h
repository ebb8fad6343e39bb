/* vmfunc/caps.h - does this CPU support EPT + EPTP switching?  Pure checks
 * over VMX capability MSR values the caller read (RDMSR is the caller's:
 * a kernel module, a bare-metal test, or /dev/cpu/N/msr in user space).
 *
 * Intel SDM Vol. 3D/3C Appendix A "VMX Capability Reporting Facility":
 *   A.1  "Basic VMX Information" (IA32_VMX_BASIC, 480H; bit 55: the TRUE_*
 *        MSRs exist)
 *   A.3  "VM-Execution Controls": A.3.2 "Primary Processor-Based VM-Execution
 *        Controls" (IA32_VMX_PROCBASED_CTLS 482H, IA32_VMX_TRUE_PROCBASED_CTLS
 *        48EH), A.3.3 "Secondary Processor-Based VM-Execution Controls"
 *        (IA32_VMX_PROCBASED_CTLS2 48BH)
 *   A.10 "VPID and EPT Capabilities" (IA32_VMX_EPT_VPID_CAP 48CH)
 *   A.11 "VM Functions" (IA32_VMX_VMFUNC 491H)
 * Which MSRs exist: IA32_VMX_PROCBASED_CTLS2 only if bit 63 of
 * IA32_VMX_PROCBASED_CTLS is 1; IA32_VMX_EPT_VPID_CAP only if CTLS2 allows
 * "enable EPT" or "enable VPID" to be 1; IA32_VMX_VMFUNC only if CTLS2
 * allows "enable VM functions" to be 1.  Reading one that does not exist
 * raises #GP: pass 0 for it (vmf_caps_readable() says which to read).
 */
#ifndef VMFUNC_CAPS_H
#define VMFUNC_CAPS_H

#include "ept.h"

#define VMF_MSR_IA32_VMX_BASIC                0x480u
#define VMF_MSR_IA32_VMX_PROCBASED_CTLS       0x482u
#define VMF_MSR_IA32_VMX_PROCBASED_CTLS2      0x48Bu
#define VMF_MSR_IA32_VMX_EPT_VPID_CAP         0x48Cu
#define VMF_MSR_IA32_VMX_TRUE_PROCBASED_CTLS  0x48Eu
#define VMF_MSR_IA32_VMX_VMFUNC               0x491u

/* IA32_VMX_BASIC bit 55 (A.1): the TRUE_* control MSRs are supported. */
#define VMF_VMX_BASIC_TRUE_CTLS  (1ULL << 55)

/* The MSR values the checks need; 0 for an MSR that does not exist. */
struct vmf_vmx_msrs {
    uint64_t procbased_ctls;   /* 482H */
    uint64_t procbased_ctls2;  /* 48BH */
    uint64_t ept_vpid_cap;     /* 48CH */
    uint64_t vmfunc;           /* 491H */
};

/* What is missing for ELISA-style EPTP switching (a bitmask). */
#define VMF_CAP_SECONDARY   (1u << 0)  /* CTLS bit 63: "activate secondary
                                          controls" cannot be 1 */
#define VMF_CAP_EPT         (1u << 1)  /* CTLS2 bit 33: "enable EPT" */
#define VMF_CAP_VMFUNC      (1u << 2)  /* CTLS2 bit 45: "enable VM functions" */
#define VMF_CAP_EPTP_SWITCH (1u << 3)  /* VMFUNC bit 0: "EPTP switching" */
#define VMF_CAP_WALK4       (1u << 4)  /* EPT_VPID_CAP bit 6: walk length 4 */
#define VMF_CAP_WB          (1u << 5)  /* EPT_VPID_CAP bit 14: WB EPTP type */
#define VMF_CAP_COUNT       6

/* Bitmask of missing pieces; 0 means this CPU can run the vmfunc/ EPTs
 * (4-level, WB paging structures) and switch them with VMFUNC leaf 0. */
unsigned vmf_caps_missing(const struct vmf_vmx_msrs *m);

/* A short name of one VMF_CAP_* bit ("enable VM functions"); "?" if not
 * exactly one known bit. */
const char *vmf_caps_name(unsigned bit);

/* "activate secondary controls, enable EPT" for `missing', into buf
 * (always terminated, cut if too small; "" if nothing is missing). */
char *vmf_caps_describe(unsigned missing, char *buf, size_t len);

/* Which MSRs are safe to read, given the ones read so far (see above):
 * 1 << 0 CTLS2, 1 << 1 EPT_VPID_CAP, 1 << 2 VMFUNC. */
#define VMF_READ_CTLS2    (1u << 0)
#define VMF_READ_EPT_CAP  (1u << 1)
#define VMF_READ_VMFUNC   (1u << 2)
unsigned vmf_caps_readable(uint64_t procbased_ctls, uint64_t procbased_ctls2);

/* vmf_ept_map() flags for what the CPU supports: VMF_MAP_NO_1G without 1 GiB
 * EPT pages (bit 17), VMF_MAP_4K without 2 MiB pages (bit 16). */
unsigned vmf_caps_map_flags(uint64_t ept_vpid_cap);

/* Controls against a capability MSR (A.3): bits 31:0 are the allowed-0
 * settings (a 1 there means the control must be 1), bits 63:32 the
 * allowed-1 settings (a 0 there means the control must be 0).
 * vmf_ctl_adjust() returns `desired' with the must-be-1 bits set and the
 * must-be-0 bits cleared (the value VM entry accepts);
 * vmf_ctl_unsupported() the desired bits the CPU cannot set. */
uint32_t vmf_ctl_adjust(uint64_t cap_msr, uint32_t desired);
uint32_t vmf_ctl_unsupported(uint64_t cap_msr, uint32_t desired);

#endif
