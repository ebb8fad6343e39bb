/* vmfunc/testbed/tb_vmcs.h - VMCS field encodings the testbed uses
 * (Intel SDM Vol. 3C Appendix B "Field Encoding in VMCS"; the encoding
 * scheme is 25.11.2 "VMREAD, VMWRITE, and Encodings of VMCS Fields").
 * The library's vmfunc/vmcs_fields.h holds the fields that EPT and EPTP
 * switching need (and the exit reasons and control bits); this file adds
 * the host-state, guest-state and other control fields a whole VMCS needs. */
#ifndef TESTBED_TB_VMCS_H
#define TESTBED_TB_VMCS_H

#include "vmcs_fields.h"

/* B.1.2 16-bit guest-state fields */
#define VMCS_GUEST_ES_SELECTOR   0x0800
#define VMCS_GUEST_CS_SELECTOR   0x0802
#define VMCS_GUEST_SS_SELECTOR   0x0804
#define VMCS_GUEST_DS_SELECTOR   0x0806
#define VMCS_GUEST_FS_SELECTOR   0x0808
#define VMCS_GUEST_GS_SELECTOR   0x080A
#define VMCS_GUEST_LDTR_SELECTOR 0x080C
#define VMCS_GUEST_TR_SELECTOR   0x080E
/* B.1.3 16-bit host-state fields */
#define VMCS_HOST_ES_SELECTOR    0x0C00
#define VMCS_HOST_CS_SELECTOR    0x0C02
#define VMCS_HOST_SS_SELECTOR    0x0C04
#define VMCS_HOST_DS_SELECTOR    0x0C06
#define VMCS_HOST_FS_SELECTOR    0x0C08
#define VMCS_HOST_GS_SELECTOR    0x0C0A
#define VMCS_HOST_TR_SELECTOR    0x0C0C
/* B.2.3 64-bit guest-state fields */
#define VMCS_LINK_POINTER        0x2800
#define VMCS_GUEST_IA32_DEBUGCTL 0x2802
#define VMCS_GUEST_IA32_EFER     0x2806
/* B.2.4 64-bit host-state fields */
#define VMCS_HOST_IA32_EFER      0x2C02
/* B.3.1 32-bit control fields */
#define VMCS_PIN_BASED_CTLS      0x4000
#define VMCS_EXCEPTION_BITMAP    0x4004
#define VMCS_CR3_TARGET_COUNT    0x400A
#define VMCS_EXIT_CTLS           0x400C
#define VMCS_EXIT_MSR_STORE_COUNT 0x400E
#define VMCS_EXIT_MSR_LOAD_COUNT 0x4010
#define VMCS_ENTRY_CTLS          0x4012
#define VMCS_ENTRY_MSR_LOAD_COUNT 0x4014
#define VMCS_ENTRY_INTR_INFO     0x4016
/* B.3.2 32-bit read-only data fields */
#define VMCS_EXIT_INTR_INFO      0x4404
/* B.3.3 32-bit guest-state fields */
#define VMCS_GUEST_ES_LIMIT      0x4800
#define VMCS_GUEST_CS_LIMIT      0x4802
#define VMCS_GUEST_SS_LIMIT      0x4804
#define VMCS_GUEST_DS_LIMIT      0x4806
#define VMCS_GUEST_FS_LIMIT      0x4808
#define VMCS_GUEST_GS_LIMIT      0x480A
#define VMCS_GUEST_LDTR_LIMIT    0x480C
#define VMCS_GUEST_TR_LIMIT      0x480E
#define VMCS_GUEST_GDTR_LIMIT    0x4810
#define VMCS_GUEST_IDTR_LIMIT    0x4812
#define VMCS_GUEST_ES_AR         0x4814
#define VMCS_GUEST_CS_AR         0x4816
#define VMCS_GUEST_SS_AR         0x4818
#define VMCS_GUEST_DS_AR         0x481A
#define VMCS_GUEST_FS_AR         0x481C
#define VMCS_GUEST_GS_AR         0x481E
#define VMCS_GUEST_LDTR_AR       0x4820
#define VMCS_GUEST_TR_AR         0x4822
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY_STATE 0x4826
#define VMCS_GUEST_IA32_SYSENTER_CS 0x482A
/* B.3.4 32-bit host-state field */
#define VMCS_HOST_IA32_SYSENTER_CS 0x4C00
/* B.4.1 natural-width control fields */
#define VMCS_CR0_GUEST_HOST_MASK 0x6000
#define VMCS_CR4_GUEST_HOST_MASK 0x6002
/* B.4.2 natural-width read-only data fields */
/* B.4.3 natural-width guest-state fields */
#define VMCS_GUEST_CR0           0x6800
#define VMCS_GUEST_CR4           0x6804
#define VMCS_GUEST_ES_BASE       0x6806
#define VMCS_GUEST_CS_BASE       0x6808
#define VMCS_GUEST_SS_BASE       0x680A
#define VMCS_GUEST_DS_BASE       0x680C
#define VMCS_GUEST_FS_BASE       0x680E
#define VMCS_GUEST_GS_BASE       0x6810
#define VMCS_GUEST_LDTR_BASE     0x6812
#define VMCS_GUEST_TR_BASE       0x6814
#define VMCS_GUEST_GDTR_BASE     0x6816
#define VMCS_GUEST_IDTR_BASE     0x6818
#define VMCS_GUEST_DR7           0x681A
#define VMCS_GUEST_RSP           0x681C
#define VMCS_GUEST_PENDING_DBG_EXCEPTIONS 0x6822
#define VMCS_GUEST_IA32_SYSENTER_ESP 0x6824
#define VMCS_GUEST_IA32_SYSENTER_EIP 0x6826
/* B.4.4 natural-width host-state fields */
#define VMCS_HOST_CR0            0x6C00
#define VMCS_HOST_CR3            0x6C02
#define VMCS_HOST_CR4            0x6C04
#define VMCS_HOST_FS_BASE        0x6C06
#define VMCS_HOST_GS_BASE        0x6C08
#define VMCS_HOST_TR_BASE        0x6C0A
#define VMCS_HOST_GDTR_BASE      0x6C0C
#define VMCS_HOST_IDTR_BASE      0x6C0E
#define VMCS_HOST_IA32_SYSENTER_ESP 0x6C10
#define VMCS_HOST_IA32_SYSENTER_EIP 0x6C12
#define VMCS_HOST_RSP            0x6C14
#define VMCS_HOST_RIP            0x6C16

#endif
