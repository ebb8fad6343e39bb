/* vmfunc/testbed/vmx.h - VMX bring-up and the guest run loop of the testbed.
 *
 * Section numbers are those of the 2023 editions of the Intel 64 and IA-32
 * Architectures Software Developer's Manual (SDM), Volume 3C, as in the
 * vmfunc/ library: 24 "Introduction to VMX Operation", 25 "Virtual Machine
 * Control Structures", 26 "VMX Non-Root Operation", 27 "VM Entries", 28 "VM
 * Exits", 29 "VMX Support for Address Translation", 31 "VMX Instruction
 * Reference", Appendix A "VMX Capability Reporting Facility", B "Field
 * Encoding in VMCS", C "VMX Basic Exit Reasons".  Editions before 2023
 * number these chapters one lower; the titles are the same. */
#ifndef TESTBED_VMX_H
#define TESTBED_VMX_H

#include <stdbool.h>
#include <stdint.h>

#include "vmcs_fields.h"

/* ---- MSRs (Intel SDM Vol. 4, Chapter 2 "Model-Specific Registers") ---- */
#define MSR_IA32_FEATURE_CONTROL      0x03A
#define MSR_IA32_SYSENTER_CS          0x174
#define MSR_IA32_SYSENTER_ESP         0x175
#define MSR_IA32_SYSENTER_EIP         0x176
#define MSR_IA32_DEBUGCTL             0x1D9
#define MSR_IA32_PAT                  0x277
#define MSR_IA32_VMX_BASIC            0x480   /* Appendix A.1 */
#define MSR_IA32_VMX_PINBASED_CTLS    0x481   /* A.3.1 */
#define MSR_IA32_VMX_PROCBASED_CTLS   0x482   /* A.3.2 */
#define MSR_IA32_VMX_EXIT_CTLS        0x483   /* A.4 */
#define MSR_IA32_VMX_ENTRY_CTLS       0x484   /* A.5 */
#define MSR_IA32_VMX_MISC             0x485   /* A.6 */
#define MSR_IA32_VMX_CR0_FIXED0       0x486   /* A.7 */
#define MSR_IA32_VMX_CR0_FIXED1       0x487
#define MSR_IA32_VMX_CR4_FIXED0       0x488   /* A.8 */
#define MSR_IA32_VMX_CR4_FIXED1       0x489
#define MSR_IA32_VMX_PROCBASED_CTLS2  0x48B   /* A.3.3 */
#define MSR_IA32_VMX_EPT_VPID_CAP     0x48C   /* A.10 */
#define MSR_IA32_VMX_TRUE_PINBASED    0x48D   /* A.3.1 */
#define MSR_IA32_VMX_TRUE_PROCBASED   0x48E   /* A.3.2 */
#define MSR_IA32_VMX_TRUE_EXIT        0x48F   /* A.4 */
#define MSR_IA32_VMX_TRUE_ENTRY       0x490   /* A.5 */
#define MSR_IA32_VMX_VMFUNC           0x491   /* A.11 */
#define MSR_IA32_EFER                 0xC0000080
#define MSR_FS_BASE                   0xC0000100
#define MSR_GS_BASE                   0xC0000101

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#define READ_CR(n) ({ uint64_t v_; __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v_)); v_; })
#define WRITE_CR(n, v) __asm__ volatile("mov %0, %%cr" #n : : "r"((uint64_t)(v)) : "memory")

/* The general registers the guest had at its last exit; vmx_entry.S's
 * layout. */
struct guest_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
};

int vmx_enter(struct guest_regs *regs, int launched);
void vmx_exit_stub(void);

/* VMREAD/VMWRITE (Intel SDM Vol. 3C 31.3 "VMX Instructions"): false on
 * VMfailInvalid/VMfailValid (CF or ZF set). */
bool vmcs_write(uint64_t field, uint64_t value);
uint64_t vmcs_read(uint64_t field);

/* What the host records of one VM exit (Intel SDM Vol. 3C 25.9.1 "Basic
 * VM-Exit Information", 28.2.1 "Basic VM-Exit Information"). */
struct vmx_exit {
    uint32_t reason;            /* full exit-reason field */
    uint64_t qualification;
    uint64_t guest_linear;
    uint64_t guest_physical;
    uint64_t guest_rip;
    uint32_t instruction_length;
    uint32_t interruption_info;
};

/* Bits 15:0 of the exit-reason field (28.2.1 "Basic VM-Exit Information");
 * the reasons themselves (VMX_EXIT_*) are in vmfunc/vmcs_fields.h. */
#define EXIT_REASON_BASIC(r)        ((r) & VMX_EXIT_REASON_MASK)

/* Everything the tests need to know about the VMX setup. */
struct vmx_state {
    uint64_t basic;             /* IA32_VMX_BASIC */
    bool true_ctls;             /* IA32_VMX_BASIC[55] */
    uint32_t pin, proc, proc2, exit_ctls, entry_ctls;    /* as written */
    uint64_t ept_cap;           /* IA32_VMX_EPT_VPID_CAP */
    uint64_t vmfunc_cap;        /* IA32_VMX_VMFUNC */
    void *vmxon_region;
    void *vmcs;
    bool launched;
    struct guest_regs regs;
    uint64_t exits;             /* incremented by the host on every VM exit */
    uint64_t vmcall_exits;
};

extern struct vmx_state vmx;

/* Each prints PASS/FAIL lines and returns false on failure. */
bool vmx_enable(void);
/* Builds the VMCS (controls, host state, a 64-bit guest sharing the host's
 * CR3/GDT/IDT) with `eptp` as the EPT pointer; `want_vmfunc` also turns on
 * "enable VM functions" (secondary control bit 13). */
bool vmx_setup_vmcs(uint64_t eptp, bool want_vmfunc);
/* Runs the guest from `rip` with stack `rsp` until it exits; fills *e.
 * Returns false (and prints why) if the entry itself failed. */
bool vmx_run(uint64_t rip, uint64_t rsp, struct vmx_exit *e);
/* Resumes the guest where it is, after the caller adjusted state. */
bool vmx_resume(struct vmx_exit *e);
/* Steps the guest's RIP past the instruction that exited. */
void vmx_skip_instruction(const struct vmx_exit *e);
const char *vmx_exit_name(uint32_t basic_reason);
void vmx_print_exit(const char *prefix, const struct vmx_exit *e);

#endif
