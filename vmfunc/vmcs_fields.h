/* vmfunc/vmcs_fields.h - VMCS field encodings, control bits and exit
 * reasons used to turn on EPT and EPTP switching (VMFUNC leaf 0).
 *
 * Intel SDM Vol. 3C (and Vol. 3D for the appendices in some editions).
 * Section numbers are those of the 2023 editions, with the numbers of the
 * editions before the chapter renumbering (about 2021) in brackets; the
 * titles do not change:
 *   Appendix B "Field Encoding in VMCS": B.1.1 "16-Bit Control Fields",
 *     B.2.1 "64-Bit Control Fields", B.2.2 "64-Bit Read-Only Data Field",
 *     B.3.1 "32-Bit Control Fields", B.3.3 "32-Bit Read-Only Data Fields",
 *     B.4.1 "Natural-Width Control Fields", B.4.2 "Natural-Width
 *     Read-Only Data Fields", B.4.3 "Natural-Width Guest-State Fields"
 *   25.6.2 [24.6.2] "Processor-Based VM-Execution Controls"
 *   25.6.11 [24.6.11] "Extended-Page-Table Pointer (EPTP)"
 *   25.6.14 [24.6.14] "VM-Function Controls"
 *   26.5.5 [25.5.5] "VM Functions", 26.5.5.3 [25.5.5.3] "EPTP Switching"
 *   Appendix C "VMX Basic Exit Reasons"
 */
#ifndef VMFUNC_VMCS_FIELDS_H
#define VMFUNC_VMCS_FIELDS_H

/* ---- field encodings (Appendix B) --------------------------------------- */

/* B.1.1: EPTP index, 16 bits; written by EPTP switching only when the CPU
 * supports the "EPT-violation #VE" control (26.5.5.3 pseudocode). */
#define VMCS_EPTP_INDEX                 0x0004u

/* B.2.1, 64-bit control fields ("full" encodings; +1 is the high half for
 * 32-bit VMREAD/VMWRITE). */
#define VMCS_EPT_POINTER                0x201Au  /* EPTP, 25.6.11 */
#define VMCS_VM_FUNCTION_CONTROLS       0x2018u  /* 25.6.14 */
#define VMCS_EPTP_LIST_ADDRESS          0x2024u  /* 25.6.14: physical address
                                                    of the 4 KiB EPTP list */

/* B.2.2: the guest-physical address of an EPT violation/misconfiguration. */
#define VMCS_GUEST_PHYSICAL_ADDRESS     0x2400u

/* B.3.1, 32-bit control fields. */
#define VMCS_PRIMARY_PROC_CONTROLS      0x4002u  /* 25.6.2 */
#define VMCS_SECONDARY_PROC_CONTROLS    0x401Eu  /* 25.6.2 */

/* B.3.3, 32-bit read-only data fields. */
#define VMCS_VM_INSTRUCTION_ERROR       0x4400u
#define VMCS_EXIT_REASON                0x4402u
#define VMCS_VM_EXIT_INSTRUCTION_LEN    0x440Cu

/* B.4.2, natural-width read-only data fields. */
#define VMCS_EXIT_QUALIFICATION         0x6400u
#define VMCS_GUEST_LINEAR_ADDRESS       0x640Au

/* B.4.3, natural-width guest-state fields. */
#define VMCS_GUEST_CR3                  0x6802u
#define VMCS_GUEST_RIP                  0x681Eu
#define VMCS_GUEST_RFLAGS               0x6820u

/* ---- control bits --------------------------------------------------------- */

/* 25.6.2, table "Definitions of Primary Processor-Based VM-Execution
 * Controls": bit 31 "activate secondary controls". */
#define VMX_PROC_ACTIVATE_SECONDARY     (1u << 31)

/* 25.6.2, table "Definitions of Secondary Processor-Based VM-Execution
 * Controls". */
#define VMX_PROC2_ENABLE_EPT            (1u << 1)
#define VMX_PROC2_ENABLE_VPID           (1u << 5)
#define VMX_PROC2_UNRESTRICTED_GUEST    (1u << 7)
#define VMX_PROC2_ENABLE_VMFUNC         (1u << 13)  /* "enable VM functions" */
#define VMX_PROC2_EPT_VIOLATION_VE      (1u << 18)
#define VMX_PROC2_MODE_BASED_EPT_EXEC   (1u << 22)

/* 25.6.14, table "Definitions of VM-Function Controls": bit 0 is EPTP
 * switching (VM function 0; the VMFUNC leaf is EAX, the list index ECX). */
#define VMX_VMFUNC_EPTP_SWITCHING       (1ULL << 0)
#define VMX_VMFUNC_LEAF_EPTP_SWITCHING  0u

/* 25.6.14 and 26.5.5.3: the EPTP list is one 4 KiB page of 512 EPTPs;
 * VMFUNC with ECX >= 512 exits. */
#define VMX_EPTP_LIST_ENTRIES           512u

/* ---- basic exit reasons (Appendix C; bits 15:0 of the exit-reason field,
 * bit 31 of which is set when VM entry failed, 28.2.1 [27.2.1]
 * "Basic VM-Exit Information") ------------------------------------------ */
#define VMX_EXIT_REASON_MASK            0xFFFFu
#define VMX_EXIT_ENTRY_FAILURE          (1u << 31)

#define VMX_EXIT_EXCEPTION_NMI          0u
#define VMX_EXIT_EXTERNAL_INTERRUPT     1u
#define VMX_EXIT_TRIPLE_FAULT           2u
#define VMX_EXIT_CPUID                  10u
#define VMX_EXIT_HLT                    12u
#define VMX_EXIT_VMCALL                 18u
#define VMX_EXIT_INVALID_GUEST_STATE    33u
#define VMX_EXIT_EPT_VIOLATION          48u
#define VMX_EXIT_EPT_MISCONFIG          49u
#define VMX_EXIT_VMFUNC                 59u  /* a VM function failed, e.g.
                                                ECX >= 512 or an invalid
                                                list entry (26.5.5.3) */

/* 28.2.1 [27.2.1], table "Exit Qualification for EPT Violations": bits 0-2
 * the access (read, write, fetch), bits 3-5 the permissions of the
 * translation (R, W, X). */
#define VMX_EPT_VIOL_READ               (1ULL << 0)
#define VMX_EPT_VIOL_WRITE              (1ULL << 1)
#define VMX_EPT_VIOL_FETCH              (1ULL << 2)
#define VMX_EPT_VIOL_READABLE           (1ULL << 3)
#define VMX_EPT_VIOL_WRITABLE           (1ULL << 4)
#define VMX_EPT_VIOL_EXECUTABLE         (1ULL << 5)

#endif
