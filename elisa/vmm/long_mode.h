/* elisa/vmm/long_mode.h - a KVM vCPU started directly in 64-bit mode, with
 * no boot code: the GDT, an identity map in 2 MiB pages, the supported
 * CPUID, and the control registers set from outside (KVM_SET_SREGS).
 * Shared by elisa-vmm's guests (guest_mem.c, kvm_setup.c) and the
 * manager's agent VM (elisa/manager/host_vmfunc.c).
 *
 * Intel SDM references (2023 numbering):
 *   Vol. 3A 10.8.5 "Initializing IA-32e Mode": PAE paging, EFER.LME, then
 *   CR0.PG, which sets EFER.LMA; KVM_SET_SREGS takes the end state at once.
 *   Vol. 3A 4.5 "4-Level Paging and 5-Level Paging": PML4E/PDPTE/PDE
 *   formats (a PDE with PS = 1 maps 2 MiB; bit 63 is XD with EFER.NXE).
 *   Vol. 3A 3.4.5 "Segment Descriptors" and 5.2.1: a 64-bit code segment
 *   is L = 1, D = 0; the CPL is SS.DPL (= CS.DPL).
 */
#ifndef ELISA_VMM_LONG_MODE_H
#define ELISA_VMM_LONG_MODE_H

#include <linux/kvm.h>
#include <stddef.h>
#include <stdint.h>

/* GDT: null, code DPL 0, data DPL 0, code DPL 3, data DPL 3.  Selectors
 * are index << 3 | RPL. */
#define LM_GDT_ENTRIES 5
#define LM_SEL_CODE0 0x08
#define LM_SEL_DATA0 0x10
#define LM_SEL_CODE3 (0x18 | 3)
#define LM_SEL_DATA3 (0x20 | 3)

/* Write the LM_GDT_ENTRIES descriptors at GDT (8-byte aligned). */
void lm_write_gdt(uint64_t *gdt);

/* Identity-map the first GIB GiB (1..512) in 2 MiB pages.  MEM is the host
 * mapping of guest-physical MEM_GPA and holds the tables: the PML4 at
 * PML4_GPA, the PDPT at PDPT_GPA, GIB page directories from PD_GPA on.
 * USER: every level has U/S (a CPL-3 guest may use them).  Pages at or
 * above NX_FROM get XD (UINT64_MAX: none; needs lm_set_sregs's NXE). */
void lm_write_identity_map(uint8_t *mem, uint64_t mem_gpa, uint64_t pml4_gpa, uint64_t pdpt_gpa,
                           uint64_t pd_gpa, uint32_t gib, uint64_t nx_from, int user);

/* KVM_GET_SUPPORTED_CPUID on /dev/kvm's fd (KVM refuses EFER.LME without
 * "long mode" in the vCPU's CPUID): a calloc'ed list for KVM_SET_CPUID2,
 * or NULL with err. */
struct kvm_cpuid2 *lm_supported_cpuid(int kvm_fd, char *err, size_t n);

/* 64-bit mode at CPL (0 or 3) on VCPU_FD: segments from lm_write_gdt's
 * table at GDT_GPA, no IDT (an exception ends the VM as a triple fault,
 * KVM_EXIT_SHUTDOWN), CR3, CR0.PE|MP|ET|NE|WP|PG, CR4.PAE, EFER.LME|LMA
 * (and NXE if NXE).  Then RIP, RSP, RDI and RFLAGS (IF must be 0: no IDT).
 * 0, or -1 with one line in err prefixed by WHO. */
int lm_set_sregs(int vcpu_fd, uint64_t gdt_gpa, uint64_t cr3, int cpl, int nxe, const char *who, char *err,
                 size_t n);
int lm_set_regs(int vcpu_fd, uint64_t rip, uint64_t rsp, uint64_t rdi, uint64_t rflags, const char *who,
                char *err, size_t n);

#endif
