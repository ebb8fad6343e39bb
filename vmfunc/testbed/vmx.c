/* vmfunc/testbed/vmx.c - turn VMX on, build one VMCS, run the guest.
 * Section numbers: see vmx.h (Intel SDM Vol. 3C). */
#include "vmx.h"

#include "console.h"
#include "idt.h"
#include "mem.h"
#include "tb_vmcs.h"

struct vmx_state vmx;

extern char gdt[];
extern struct { uint16_t limit; uint64_t base; } __attribute__((packed)) gdt_ptr64;

bool vmcs_write(uint64_t field, uint64_t value)
{
    uint8_t bad;
    __asm__ volatile("vmwrite %2, %1; setbe %0" : "=qm"(bad) : "r"(field), "rm"(value) : "cc", "memory");
    if (bad)
        tb_printf("INFO vmwrite field 0x%lx value 0x%lx failed (VM-instruction error %lu)\n", field, value,
                  vmcs_read(VMCS_VM_INSTRUCTION_ERROR));
    return !bad;
}

uint64_t vmcs_read(uint64_t field)
{
    uint64_t v = 0;
    __asm__ volatile("vmread %1, %0" : "=rm"(v) : "r"(field) : "cc");
    return v;
}

static bool vmx_op(const char *insn, uint8_t bad)
{
    if (bad)
        tb_printf("INFO %s failed\n", insn);
    return !bad;
}

/* Intel SDM Vol. 3C 31.4 "VM Instruction Error Numbers" (the ones an entry
 * can produce, plus a few others). */
static const char *vm_instruction_error_name(uint64_t n)
{
    switch (n) {
    case 2: return "VMCLEAR with invalid physical address";
    case 4: return "VMLAUNCH with non-clear VMCS";
    case 5: return "VMRESUME with non-launched VMCS";
    case 7: return "VM entry with invalid control field(s)";
    case 8: return "VM entry with invalid host-state field(s)";
    case 9: return "VMPTRLD with invalid physical address";
    case 11: return "VMPTRLD with incorrect VMCS revision identifier";
    case 12: return "VMREAD/VMWRITE from/to unsupported VMCS component";
    case 13: return "VMWRITE to read-only VMCS component";
    case 15: return "VMXON executed in VMX root operation";
    case 26: return "VM entry with events blocked by MOV SS";
    default: return "see SDM 31.4";
    }
}

/* ---- Step 1-4: VMX available, allowed, CR fixed bits, VMXON ---------- */
bool vmx_enable(void)
{
    uint32_t a, b, c, d;

    /* 24.6 "Discovering Support for VMX": CPUID.1:ECX.VMX[bit 5]. */
    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & (1u << 5))) {
        tb_printf("FAIL vmx-cpuid CPUID.1:ECX.VMX[5] = 0 (ecx 0x%x)\n", c);
        return false;
    }
    tb_printf("PASS vmx-cpuid CPUID.1:ECX.VMX[5] = 1\n");

    /* 24.7 "Enabling and Entering VMX Operation": IA32_FEATURE_CONTROL
     * bit 0 lock, bit 2 "enable VMXON outside SMX operation".  VMXON #GPs
     * unless the lock bit is set and the enable bit matches the mode.  If
     * firmware left it unlocked we set bit 2 and lock it. */
    uint64_t fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    uint64_t fc_before = fc;
    if (!(fc & 1)) {
        fc |= (1u << 2) | 1u;
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc);
        fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    }
    if ((fc & 5) != 5) {
        tb_printf("FAIL vmx-feature-control IA32_FEATURE_CONTROL 0x%lx: locked without VMXON outside SMX\n", fc);
        return false;
    }
    tb_printf("PASS vmx-feature-control IA32_FEATURE_CONTROL 0x%lx -> 0x%lx (lock, VMXON outside SMX)\n",
              fc_before, fc);

    /* A.1 "Basic VMX Information": bits 30:0 revision identifier, bits
     * 44:32 VMXON/VMCS region size, bit 55 TRUE_* capability MSRs. */
    vmx.basic = rdmsr(MSR_IA32_VMX_BASIC);
    vmx.true_ctls = (vmx.basic >> 55) & 1;
    uint32_t revision = (uint32_t)(vmx.basic & 0x7FFFFFFF);
    uint32_t region_size = (uint32_t)((vmx.basic >> 32) & 0x1FFF);
    tb_printf("INFO IA32_VMX_BASIC 0x%lx revision %u region-size %u true-ctls %d memtype %lu\n", vmx.basic,
              revision, region_size, vmx.true_ctls, (vmx.basic >> 50) & 0xF);

    /* 24.8 "Restrictions on VMX Operation", A.7 "VMX-Fixed Bits in CR0",
     * A.8 "VMX-Fixed Bits in CR4": a bit set in FIXED0 must be 1, a bit
     * clear in FIXED1 must be 0.  CR4.VMXE (bit 13) is among the former. */
    uint64_t cr0_f0 = rdmsr(MSR_IA32_VMX_CR0_FIXED0), cr0_f1 = rdmsr(MSR_IA32_VMX_CR0_FIXED1);
    uint64_t cr4_f0 = rdmsr(MSR_IA32_VMX_CR4_FIXED0), cr4_f1 = rdmsr(MSR_IA32_VMX_CR4_FIXED1);
    uint64_t cr0 = (READ_CR(0) | cr0_f0) & cr0_f1;
    uint64_t cr4 = (READ_CR(4) | cr4_f0 | (1u << 13)) & cr4_f1;
    if (!(cr4 & (1u << 13))) {
        tb_printf("FAIL vmx-fixed-bits CR4.VMXE not allowed by IA32_VMX_CR4_FIXED1 0x%lx\n", cr4_f1);
        return false;
    }
    WRITE_CR(0, cr0);
    WRITE_CR(4, cr4);
    if (READ_CR(0) != cr0 || READ_CR(4) != cr4) {
        tb_printf("FAIL vmx-fixed-bits CR0 0x%lx CR4 0x%lx did not stick\n", READ_CR(0), READ_CR(4));
        return false;
    }
    tb_printf("PASS vmx-fixed-bits CR0 0x%lx (fixed0 0x%lx fixed1 0x%lx) CR4 0x%lx (fixed0 0x%lx fixed1 0x%lx)\n",
              cr0, cr0_f0, cr0_f1, cr4, cr4_f0, cr4_f1);

    /* 25.11.5 "VMXON Region": 4 KiB aligned, first 31 bits = revision
     * identifier; 31.3 "VMXON": CF = 1 on failure. */
    vmx.vmxon_region = page_alloc();
    *(uint32_t *)vmx.vmxon_region = revision;
    uint64_t pa = (uint64_t)(uintptr_t)vmx.vmxon_region;
    uint8_t bad;
    __asm__ volatile("vmxon %1; setbe %0" : "=qm"(bad) : "m"(pa) : "cc", "memory");
    if (!vmx_op("vmxon", bad)) {
        tb_printf("FAIL vmxon region 0x%lx revision %u\n", pa, revision);
        return false;
    }
    tb_printf("PASS vmxon region 0x%lx revision %u\n", pa, revision);

    /* 25.2 "Format of the VMCS Region" (revision identifier in the first
     * 4 bytes, bit 31 clear: not a shadow VMCS); 25.11.3 "Initializing a
     * VMCS": VMCLEAR, then VMPTRLD makes it current. */
    vmx.vmcs = page_alloc();
    *(uint32_t *)vmx.vmcs = revision;
    uint64_t vpa = (uint64_t)(uintptr_t)vmx.vmcs;
    __asm__ volatile("vmclear %1; setbe %0" : "=qm"(bad) : "m"(vpa) : "cc", "memory");
    if (!vmx_op("vmclear", bad)) {
        tb_printf("FAIL vmclear-vmptrld VMCLEAR 0x%lx\n", vpa);
        return false;
    }
    __asm__ volatile("vmptrld %1; setbe %0" : "=qm"(bad) : "m"(vpa) : "cc", "memory");
    if (!vmx_op("vmptrld", bad)) {
        tb_printf("FAIL vmclear-vmptrld VMPTRLD 0x%lx\n", vpa);
        return false;
    }
    uint64_t cur = 0;
    __asm__ volatile("vmptrst %0" : "=m"(cur));
    if (cur != vpa) {
        tb_printf("FAIL vmclear-vmptrld VMPTRST 0x%lx, expected 0x%lx\n", cur, vpa);
        return false;
    }
    tb_printf("PASS vmclear-vmptrld VMCS 0x%lx is current (VMPTRST)\n", vpa);
    return true;
}

/* ---- Controls: Appendix A.3-A.5 ---------------------------------------
 * Each capability MSR reports in bits 31:0 the allowed 0-settings (a bit
 * set there must be 1 in the control) and in bits 63:32 the allowed
 * 1-settings (a bit clear there must be 0).  With IA32_VMX_BASIC[55] = 1
 * the TRUE_* MSRs give the real allowed 0-settings of the "default1" bits
 * (A.2 "Reserved Controls and Default Settings"). */
static bool adjust_controls(const char *name, uint32_t msr, uint32_t true_msr, uint32_t want, uint32_t *out)
{
    uint64_t cap = rdmsr(vmx.true_ctls && true_msr ? true_msr : msr);
    uint32_t must1 = (uint32_t)cap;
    uint32_t may1 = (uint32_t)(cap >> 32);
    uint32_t v = (want | must1) & may1;
    if ((v & want) != want) {
        tb_printf("FAIL vmcs-controls %s: wanted 0x%x, allowed-1 0x%x (missing 0x%x)\n", name, want, may1,
                  want & ~may1);
        return false;
    }
    *out = v;
    return true;
}

/* 25.4.1 "Guest Register State": table "Format of Access Rights". */
#define AR_CODE64   0xA09B      /* type 11 (exec/read, accessed), S, P, L, G */
#define AR_DATA     0xC093      /* type 3 (read/write, accessed), S, P, D/B, G */
#define AR_TSS64    0x008B      /* type 11 (busy 64-bit TSS), P */
#define AR_UNUSABLE 0x10000     /* bit 16: segment unusable */

bool vmx_setup_vmcs(uint64_t eptp, bool want_vmfunc)
{
    bool ok = true;

    /* 25.6.1 "Pin-Based VM-Execution Controls": nothing wanted (external
     * interrupts and NMIs go to the guest's IDT). */
    ok = ok && adjust_controls("pin-based", MSR_IA32_VMX_PINBASED_CTLS, MSR_IA32_VMX_TRUE_PINBASED, 0, &vmx.pin);
    /* 25.6.2 "Processor-Based VM-Execution Controls" (table "Definitions of Primary Processor-Based VM-Execution Controls"): bit 31
     * "activate secondary controls". No MSR bitmap: RDMSR/WRMSR exit. */
    ok = ok && adjust_controls("primary processor-based", MSR_IA32_VMX_PROCBASED_CTLS,
                               MSR_IA32_VMX_TRUE_PROCBASED, 1u << 31, &vmx.proc);
    /* 25.6.2, table "Definitions of Secondary Processor-Based VM-Execution
     * Controls": bit 1 "enable EPT", bit 13 "enable VM functions".  This
     * MSR has no TRUE_ variant (A.3.3). */
    uint32_t want2 = VMX_PROC2_ENABLE_EPT | (want_vmfunc ? VMX_PROC2_ENABLE_VMFUNC : 0);
    ok = ok && adjust_controls("secondary processor-based", MSR_IA32_VMX_PROCBASED_CTLS2, 0, want2, &vmx.proc2);
    /* 25.7.1 "VM-Exit Controls" (table "Definitions of Primary VM-Exit Controls"): bit 9 "host address-space
     * size" (64-bit host), bit 20 "save IA32_EFER", bit 21 "load
     * IA32_EFER". */
    ok = ok && adjust_controls("vm-exit", MSR_IA32_VMX_EXIT_CTLS, MSR_IA32_VMX_TRUE_EXIT,
                               (1u << 9) | (1u << 20) | (1u << 21), &vmx.exit_ctls);
    /* 25.8.1 "VM-Entry Controls" (table "Definitions of VM-Entry Controls"): bit 9 "IA-32e mode guest",
     * bit 15 "load IA32_EFER". */
    ok = ok && adjust_controls("vm-entry", MSR_IA32_VMX_ENTRY_CTLS, MSR_IA32_VMX_TRUE_ENTRY,
                               (1u << 9) | (1u << 15), &vmx.entry_ctls);
    if (!ok)
        return false;

    ok = ok && vmcs_write(VMCS_PIN_BASED_CTLS, vmx.pin);
    ok = ok && vmcs_write(VMCS_PRIMARY_PROC_CONTROLS, vmx.proc);
    ok = ok && vmcs_write(VMCS_SECONDARY_PROC_CONTROLS, vmx.proc2);
    ok = ok && vmcs_write(VMCS_EXIT_CTLS, vmx.exit_ctls);
    ok = ok && vmcs_write(VMCS_ENTRY_CTLS, vmx.entry_ctls);
    /* 25.6.3 "Exception Bitmap": 0, the guest handles its own exceptions
     * (a triple fault still exits, reason 2). */
    ok = ok && vmcs_write(VMCS_EXCEPTION_BITMAP, 0);
    /* 25.6.6 "Guest/Host Masks and Read Shadows for CR0 and CR4": masks 0,
     * the guest owns every bit. 25.6.7 "CR3-Target Controls": count 0. */
    ok = ok && vmcs_write(VMCS_CR0_GUEST_HOST_MASK, 0);
    ok = ok && vmcs_write(VMCS_CR4_GUEST_HOST_MASK, 0);
    ok = ok && vmcs_write(VMCS_CR3_TARGET_COUNT, 0);
    /* 25.7.2 "VM-Exit Controls for MSRs", 25.8.2 "VM-Entry Controls for
     * MSRs": no MSR lists. 25.8.3 "VM-Entry Controls for Event Injection":
     * nothing injected. */
    ok = ok && vmcs_write(VMCS_EXIT_MSR_STORE_COUNT, 0);
    ok = ok && vmcs_write(VMCS_EXIT_MSR_LOAD_COUNT, 0);
    ok = ok && vmcs_write(VMCS_ENTRY_MSR_LOAD_COUNT, 0);
    ok = ok && vmcs_write(VMCS_ENTRY_INTR_INFO, 0);
    /* 25.6.11 "Extended-Page-Table Pointer (EPTP)". */
    ok = ok && vmcs_write(VMCS_EPT_POINTER, eptp);

    /* ---- 25.5 "Host-State Area" (checked per 27.2.2 "Checks on Host
     * Control Registers and MSRs", 27.2.3 "Checks on Host Segment and
     * Descriptor-Table Registers", 27.2.4 "Checks Related to Address-Space
     * Size"): CS and TR selectors non-zero, RPL/TI 0, canonical bases. */
    ok = ok && vmcs_write(VMCS_HOST_CR0, READ_CR(0));
    ok = ok && vmcs_write(VMCS_HOST_CR3, READ_CR(3));
    ok = ok && vmcs_write(VMCS_HOST_CR4, READ_CR(4));
    ok = ok && vmcs_write(VMCS_HOST_CS_SELECTOR, 0x08);
    ok = ok && vmcs_write(VMCS_HOST_SS_SELECTOR, 0x10);
    ok = ok && vmcs_write(VMCS_HOST_DS_SELECTOR, 0x10);
    ok = ok && vmcs_write(VMCS_HOST_ES_SELECTOR, 0x10);
    ok = ok && vmcs_write(VMCS_HOST_FS_SELECTOR, 0);
    ok = ok && vmcs_write(VMCS_HOST_GS_SELECTOR, 0);
    ok = ok && vmcs_write(VMCS_HOST_TR_SELECTOR, 0x18);
    ok = ok && vmcs_write(VMCS_HOST_FS_BASE, rdmsr(MSR_FS_BASE));
    ok = ok && vmcs_write(VMCS_HOST_GS_BASE, rdmsr(MSR_GS_BASE));
    ok = ok && vmcs_write(VMCS_HOST_TR_BASE, tss_base());
    ok = ok && vmcs_write(VMCS_HOST_GDTR_BASE, gdt_ptr64.base);
    ok = ok && vmcs_write(VMCS_HOST_IDTR_BASE, idt_base());
    ok = ok && vmcs_write(VMCS_HOST_IA32_SYSENTER_CS, rdmsr(MSR_IA32_SYSENTER_CS));
    ok = ok && vmcs_write(VMCS_HOST_IA32_SYSENTER_ESP, rdmsr(MSR_IA32_SYSENTER_ESP));
    ok = ok && vmcs_write(VMCS_HOST_IA32_SYSENTER_EIP, rdmsr(MSR_IA32_SYSENTER_EIP));
    ok = ok && vmcs_write(VMCS_HOST_IA32_EFER, rdmsr(MSR_IA32_EFER));
    ok = ok && vmcs_write(VMCS_HOST_RIP, (uint64_t)(uintptr_t)vmx_exit_stub);
    /* HOST_RSP is written by vmx_enter just before each entry. */

    /* ---- 25.4 "Guest-State Area", checked per 27.3.1 "Checks on the
     * Guest State Area": a 64-bit guest sharing the host's paging, GDT,
     * IDT and TSS (all reachable through the identity EPT). */
    ok = ok && vmcs_write(VMCS_GUEST_CR0, READ_CR(0));
    ok = ok && vmcs_write(VMCS_GUEST_CR3, READ_CR(3));
    ok = ok && vmcs_write(VMCS_GUEST_CR4, READ_CR(4));
    ok = ok && vmcs_write(VMCS_GUEST_DR7, 0x400);
    ok = ok && vmcs_write(VMCS_GUEST_RFLAGS, 0x2);
    static const struct { uint64_t sel, base, limit, ar; uint16_t s; } segs[] = {
        { VMCS_GUEST_CS_SELECTOR, VMCS_GUEST_CS_BASE, VMCS_GUEST_CS_LIMIT, VMCS_GUEST_CS_AR, 0x08 },
        { VMCS_GUEST_SS_SELECTOR, VMCS_GUEST_SS_BASE, VMCS_GUEST_SS_LIMIT, VMCS_GUEST_SS_AR, 0x10 },
        { VMCS_GUEST_DS_SELECTOR, VMCS_GUEST_DS_BASE, VMCS_GUEST_DS_LIMIT, VMCS_GUEST_DS_AR, 0x10 },
        { VMCS_GUEST_ES_SELECTOR, VMCS_GUEST_ES_BASE, VMCS_GUEST_ES_LIMIT, VMCS_GUEST_ES_AR, 0x10 },
        { VMCS_GUEST_FS_SELECTOR, VMCS_GUEST_FS_BASE, VMCS_GUEST_FS_LIMIT, VMCS_GUEST_FS_AR, 0 },
        { VMCS_GUEST_GS_SELECTOR, VMCS_GUEST_GS_BASE, VMCS_GUEST_GS_LIMIT, VMCS_GUEST_GS_AR, 0 },
        { VMCS_GUEST_LDTR_SELECTOR, VMCS_GUEST_LDTR_BASE, VMCS_GUEST_LDTR_LIMIT, VMCS_GUEST_LDTR_AR, 0 },
    };
    for (unsigned i = 0; i < sizeof(segs) / sizeof(segs[0]); i++) {
        uint64_t ar = segs[i].s == 0x08 ? AR_CODE64 : segs[i].s == 0x10 ? AR_DATA : AR_UNUSABLE;
        ok = ok && vmcs_write(segs[i].sel, segs[i].s);
        ok = ok && vmcs_write(segs[i].base, 0);
        ok = ok && vmcs_write(segs[i].limit, segs[i].s ? 0xFFFFFFFF : 0);
        ok = ok && vmcs_write(segs[i].ar, ar);
    }
    ok = ok && vmcs_write(VMCS_GUEST_TR_SELECTOR, 0x18);
    ok = ok && vmcs_write(VMCS_GUEST_TR_BASE, tss_base());
    ok = ok && vmcs_write(VMCS_GUEST_TR_LIMIT, tss_limit());
    ok = ok && vmcs_write(VMCS_GUEST_TR_AR, AR_TSS64);
    ok = ok && vmcs_write(VMCS_GUEST_GDTR_BASE, gdt_ptr64.base);
    ok = ok && vmcs_write(VMCS_GUEST_GDTR_LIMIT, gdt_ptr64.limit);
    ok = ok && vmcs_write(VMCS_GUEST_IDTR_BASE, idt_base());
    ok = ok && vmcs_write(VMCS_GUEST_IDTR_LIMIT, idt_limit());
    ok = ok && vmcs_write(VMCS_GUEST_IA32_DEBUGCTL, 0);
    ok = ok && vmcs_write(VMCS_GUEST_IA32_SYSENTER_CS, 0);
    ok = ok && vmcs_write(VMCS_GUEST_IA32_SYSENTER_ESP, 0);
    ok = ok && vmcs_write(VMCS_GUEST_IA32_SYSENTER_EIP, 0);
    ok = ok && vmcs_write(VMCS_GUEST_IA32_EFER, rdmsr(MSR_IA32_EFER));
    /* 25.4.2 "Guest Non-Register State": active, nothing blocking, no
     * pending debug exceptions, VMCS link pointer all ones (no shadow
     * VMCS; 27.3.1.5 "Checks on Guest Non-Register State"). */
    ok = ok && vmcs_write(VMCS_GUEST_ACTIVITY_STATE, 0);
    ok = ok && vmcs_write(VMCS_GUEST_INTERRUPTIBILITY, 0);
    ok = ok && vmcs_write(VMCS_GUEST_PENDING_DBG_EXCEPTIONS, 0);
    ok = ok && vmcs_write(VMCS_LINK_POINTER, ~0ULL);
    if (ok)
        tb_printf("PASS %s pin 0x%x proc 0x%x proc2 0x%x exit 0x%x entry 0x%x eptp 0x%lx (%s capability MSRs)\n",
                  want_vmfunc ? "vmcs-setup-vmfunc" : "vmcs-setup", vmx.pin, vmx.proc, vmx.proc2, vmx.exit_ctls,
                  vmx.entry_ctls, eptp,
                  vmx.true_ctls ? "TRUE_*" : "plain");
    else
        tb_printf("FAIL %s a VMWRITE failed (see INFO line above)\n", want_vmfunc ? "vmcs-setup-vmfunc" : "vmcs-setup");
    return ok;
}

static void read_exit(struct vmx_exit *e)
{
    /* 25.9.1 "Basic VM-Exit Information", 25.9.2 "Information for VM Exits
     * Due to Vectored Events", 25.9.4 "Information for VM Exits Due to
     * Instruction Execution". */
    e->reason = (uint32_t)vmcs_read(VMCS_EXIT_REASON);
    e->qualification = vmcs_read(VMCS_EXIT_QUALIFICATION);
    e->guest_linear = vmcs_read(VMCS_GUEST_LINEAR_ADDRESS);
    e->guest_physical = vmcs_read(VMCS_GUEST_PHYSICAL_ADDRESS);
    e->guest_rip = vmcs_read(VMCS_GUEST_RIP);
    e->instruction_length = (uint32_t)vmcs_read(VMCS_VM_EXIT_INSTRUCTION_LEN);
    e->interruption_info = (uint32_t)vmcs_read(VMCS_EXIT_INTR_INFO);
}

static bool enter(struct vmx_exit *e)
{
    int rc = vmx_enter(&vmx.regs, vmx.launched);
    if (rc != 0) {
        if (rc == 1) {
            tb_printf("FAIL vm-entry %s: VMfailInvalid (no current VMCS)\n",
                      vmx.launched ? "VMRESUME" : "VMLAUNCH");
        } else {
            uint64_t err = vmcs_read(VMCS_VM_INSTRUCTION_ERROR);
            tb_printf("FAIL vm-entry %s: VMfailValid, VM-instruction error (field 0x4400) %lu: %s\n",
                      vmx.launched ? "VMRESUME" : "VMLAUNCH", err, vm_instruction_error_name(err));
        }
        return false;
    }
    vmx.launched = true;
    vmx.exits++;
    read_exit(e);
    /* 27.8 "VM-Entry Failures During or After Loading Guest State": exit
     * reason bit 31 set, basic reason 33 (invalid guest state), 34 (MSR
     * loading) or 41 (machine-check event); qualification tells more. */
    if (e->reason & VMX_EXIT_ENTRY_FAILURE) {
        vmx.launched = false;
        tb_printf("FAIL vm-entry failed while loading guest state: exit reason 0x%x (basic %u %s, entry-failure bit 31 "
                  "set) qualification 0x%lx\n",
                  e->reason, EXIT_REASON_BASIC(e->reason), vmx_exit_name(EXIT_REASON_BASIC(e->reason)),
                  e->qualification);
        return false;
    }
    if (EXIT_REASON_BASIC(e->reason) == VMX_EXIT_VMCALL)
        vmx.vmcall_exits++;
    return true;
}

bool vmx_run(uint64_t rip, uint64_t rsp, struct vmx_exit *e)
{
    if (!vmcs_write(VMCS_GUEST_RIP, rip) || !vmcs_write(VMCS_GUEST_RSP, rsp) || !vmcs_write(VMCS_GUEST_RFLAGS, 0x2))
        return false;
    return enter(e);
}

bool vmx_resume(struct vmx_exit *e)
{
    return enter(e);
}

void vmx_skip_instruction(const struct vmx_exit *e)
{
    vmcs_write(VMCS_GUEST_RIP, e->guest_rip + e->instruction_length);
}

const char *vmx_exit_name(uint32_t r)
{
    switch (r) {
    case VMX_EXIT_EXCEPTION_NMI: return "exception or NMI";
    case VMX_EXIT_EXTERNAL_INTERRUPT: return "external interrupt";
    case VMX_EXIT_TRIPLE_FAULT: return "triple fault";
    case VMX_EXIT_HLT: return "HLT";
    case VMX_EXIT_VMCALL: return "VMCALL";
    case VMX_EXIT_INVALID_GUEST_STATE: return "VM-entry failure due to invalid guest state";
    case 31: return "RDMSR";
    case 32: return "WRMSR";
    case 34: return "VM-entry failure due to MSR loading";
    case VMX_EXIT_EPT_VIOLATION: return "EPT violation";
    case VMX_EXIT_EPT_MISCONFIG: return "EPT misconfiguration";
    case VMX_EXIT_VMFUNC: return "VMFUNC";
    default: return "see SDM Appendix C";
    }
}

void vmx_print_exit(const char *prefix, const struct vmx_exit *e)
{
    tb_printf("%s exit reason 0x%x (%u %s) qualification 0x%lx guest-rip 0x%lx guest-linear 0x%lx "
              "guest-physical 0x%lx intr-info 0x%x\n",
              prefix, e->reason, EXIT_REASON_BASIC(e->reason), vmx_exit_name(EXIT_REASON_BASIC(e->reason)),
              e->qualification, e->guest_rip, e->guest_linear, e->guest_physical, e->interruption_info);
}
