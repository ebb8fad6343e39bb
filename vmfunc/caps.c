/* vmfunc/caps.c - capability checks over VMX MSR values (SDM Appendix A;
 * see caps.h). */
#include "caps.h"
#include "eptp.h"
#include "vmcs_fields.h"

/* A control can be 1 if its bit in the high half of the capability MSR is 1
 * (A.3: "bits 63:32 indicate the allowed 1-settings"). */
static bool allowed1(uint64_t cap_msr, uint32_t control_bit)
{
    return ((cap_msr >> 32) & control_bit) != 0;
}

unsigned vmf_caps_missing(const struct vmf_vmx_msrs *m)
{
    unsigned missing = 0;
    /* A.3.2: bit 63 of IA32_VMX_PROCBASED_CTLS = allowed-1 of primary
     * control bit 31, "activate secondary controls".  Without it the
     * secondary controls are all 0 and CTLS2 does not exist. */
    if (!allowed1(m->procbased_ctls, VMX_PROC_ACTIVATE_SECONDARY))
        missing |= VMF_CAP_SECONDARY;
    /* A.3.3: bits 33 and 45 of IA32_VMX_PROCBASED_CTLS2 = allowed-1 of
     * secondary bits 1 "enable EPT" and 13 "enable VM functions". */
    if ((missing & VMF_CAP_SECONDARY) || !allowed1(m->procbased_ctls2, VMX_PROC2_ENABLE_EPT))
        missing |= VMF_CAP_EPT;
    if ((missing & VMF_CAP_SECONDARY) || !allowed1(m->procbased_ctls2, VMX_PROC2_ENABLE_VMFUNC))
        missing |= VMF_CAP_VMFUNC;
    /* A.11: bit X of IA32_VMX_VMFUNC is 1 if VM-function control X may be
     * 1; control 0 is EPTP switching.  The MSR exists only with "enable VM
     * functions". */
    if ((missing & VMF_CAP_VMFUNC) || !(m->vmfunc & VMX_VMFUNC_EPTP_SWITCHING))
        missing |= VMF_CAP_EPTP_SWITCH;
    /* A.10: bit 6 page-walk length 4, bit 14 WB for the EPT paging
     * structures (the EPTP memory type this library uses).  The MSR exists
     * only with "enable EPT" or "enable VPID". */
    if ((missing & VMF_CAP_EPT) || !(m->ept_vpid_cap & VMF_EPTCAP_WALK4))
        missing |= VMF_CAP_WALK4;
    if ((missing & VMF_CAP_EPT) || !(m->ept_vpid_cap & VMF_EPTCAP_WB))
        missing |= VMF_CAP_WB;
    return missing;
}

static const char *const cap_names[VMF_CAP_COUNT] = {
    "activate secondary controls",
    "enable EPT",
    "enable VM functions",
    "EPTP switching",
    "4-level EPT walk",
    "WB EPT memory type",
};

const char *vmf_caps_name(unsigned bit)
{
    for (unsigned i = 0; i < VMF_CAP_COUNT; i++)
        if (bit == (1u << i))
            return cap_names[i];
    return "?";
}

char *vmf_caps_describe(unsigned missing, char *buf, size_t len)
{
    if (buf == NULL || len == 0)
        return buf;
    buf[0] = '\0';
    bool first = true;
    for (unsigned i = 0; i < VMF_CAP_COUNT; i++) {
        if (!(missing & (1u << i)))
            continue;
        if (!first)
            vmf_str_append(buf, len, ", ");
        vmf_str_append(buf, len, cap_names[i]);
        first = false;
    }
    return buf;
}

unsigned vmf_caps_readable(uint64_t procbased_ctls, uint64_t procbased_ctls2)
{
    unsigned r = 0;
    if (!allowed1(procbased_ctls, VMX_PROC_ACTIVATE_SECONDARY))
        return 0;
    r |= VMF_READ_CTLS2;
    /* A.10: EPT_VPID_CAP exists with "enable EPT" (CTLS2 bit 33) or
     * "enable VPID" (bit 37) allowed-1; A.11: VMFUNC with "enable VM
     * functions" (bit 45). */
    if (allowed1(procbased_ctls2, VMX_PROC2_ENABLE_EPT) ||
        allowed1(procbased_ctls2, VMX_PROC2_ENABLE_VPID))
        r |= VMF_READ_EPT_CAP;
    if (allowed1(procbased_ctls2, VMX_PROC2_ENABLE_VMFUNC))
        r |= VMF_READ_VMFUNC;
    return r;
}

unsigned vmf_caps_map_flags(uint64_t ept_vpid_cap)
{
    unsigned f = 0;
    if (!(ept_vpid_cap & VMF_EPTCAP_1G))
        f |= VMF_MAP_NO_1G;
    if (!(ept_vpid_cap & VMF_EPTCAP_2M))
        f |= VMF_MAP_4K;
    return f;
}

uint32_t vmf_ctl_adjust(uint64_t cap_msr, uint32_t desired)
{
    uint32_t must1 = (uint32_t)cap_msr;         /* allowed-0 settings */
    uint32_t may1 = (uint32_t)(cap_msr >> 32);  /* allowed-1 settings */
    return (desired | must1) & may1;
}

uint32_t vmf_ctl_unsupported(uint64_t cap_msr, uint32_t desired)
{
    return desired & ~(uint32_t)(cap_msr >> 32);
}
