/* elisa/vmm/long_mode.c - a vCPU started in 64-bit mode from outside
 * (long_mode.h; KVM ioctls: Documentation/virt/kvm/api.rst). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "long_mode.h"

/* Page-table entry bits (SDM Vol. 3A 4.5, the entry-format tables). */
#define PTE_P   (1ull << 0)    /* present */
#define PTE_RW  (1ull << 1)    /* writable */
#define PTE_US  (1ull << 2)    /* user: accessible at CPL 3 */
#define PTE_PS  (1ull << 7)    /* in a PDE: maps a 2 MiB page */
#define PTE_XD  (1ull << 63)   /* execute-disable (EFER.NXE = 1) */

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)

/* GDT descriptors (SDM Vol. 3A 3.4.5): base 0, limit 0xfffff pages,
 * present, accessed already set so the CPU never writes the table.
 *   code: type 0xB (execute/read, accessed), S = 1, L = 1, D = 0, G = 1
 *   data: type 0x3 (read/write, accessed),   S = 1, D/B = 1, G = 1 */
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA   0x00cf93000000ffffull
#define GDT_DPL3   (3ull << 45)     /* descriptor bits 45-46: DPL */

#define PAGE    0x1000ull
#define TWO_MIB (2ull << 20)
#define ONE_GIB (1ull << 30)

void lm_write_gdt(uint64_t *gdt)
{
    gdt[0] = 0;
    gdt[1] = GDT_CODE64;
    gdt[2] = GDT_DATA;
    gdt[3] = GDT_CODE64 | GDT_DPL3;
    gdt[4] = GDT_DATA | GDT_DPL3;
}

void lm_write_identity_map(uint8_t *mem, uint64_t mem_gpa, uint64_t pml4_gpa, uint64_t pdpt_gpa,
                           uint64_t pd_gpa, uint32_t gib, uint64_t nx_from, int user)
{
    uint64_t *pml4 = (uint64_t *)(mem + (pml4_gpa - mem_gpa));
    uint64_t *pdpt = (uint64_t *)(mem + (pdpt_gpa - mem_gpa));
    uint64_t us = user ? PTE_US : 0;
    memset(pml4, 0, PAGE);
    memset(pdpt, 0, PAGE);
    pml4[0] = pdpt_gpa | PTE_P | PTE_RW | us;
    for (uint64_t g = 0; g < gib; g++) {
        uint64_t this_pd = pd_gpa + g * PAGE;
        uint64_t *pd = (uint64_t *)(mem + (this_pd - mem_gpa));
        pdpt[g] = this_pd | PTE_P | PTE_RW | us;
        for (uint64_t e = 0; e < 512; e++) {
            uint64_t addr = g * ONE_GIB + e * TWO_MIB;
            pd[e] = addr | PTE_P | PTE_RW | us | PTE_PS | (addr >= nx_from ? PTE_XD : 0);
        }
    }
}

struct kvm_cpuid2 *lm_supported_cpuid(int kvm_fd, char *err, size_t n)
{
    /* Grow the buffer until KVM stops saying E2BIG. */
    for (int nent = 64; nent <= 4096; nent *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof *c + (size_t)nent * sizeof c->entries[0]);
        if (c == NULL) {
            snprintf(err, n, "out of memory");
            return NULL;
        }
        c->nent = (uint32_t)nent;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        int e = errno;
        free(c);
        if (e != E2BIG) {
            snprintf(err, n, "KVM_GET_SUPPORTED_CPUID: %s", strerror(e));
            return NULL;
        }
    }
    snprintf(err, n, "KVM_GET_SUPPORTED_CPUID: more than 4096 entries");
    return NULL;
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, int code)
{
    struct kvm_segment s = {
        .base = 0, .limit = 0xffffffff, .selector = sel, .type = type, .present = 1,
        .dpl = (uint8_t)(sel & 3), .db = code ? 0 : 1, .s = 1, .l = code ? 1 : 0, .g = 1,
    };
    return s;
}

int lm_set_sregs(int vcpu_fd, uint64_t gdt_gpa, uint64_t cr3, int cpl, int nxe, const char *who, char *err,
                 size_t n)
{
    struct kvm_sregs sr;
    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sr) < 0) {
        snprintf(err, n, "%sKVM_GET_SREGS: %s", who, strerror(errno));
        return -1;
    }
    int user = cpl == 3;
    sr.cs = seg(user ? LM_SEL_CODE3 : LM_SEL_CODE0, 0xb, 1);
    sr.ds = sr.es = sr.fs = sr.gs = sr.ss = seg(user ? LM_SEL_DATA3 : LM_SEL_DATA0, 0x3, 0);
    sr.gdt.base = gdt_gpa;
    sr.gdt.limit = LM_GDT_ENTRIES * 8 - 1;
    sr.idt.base = 0;
    sr.idt.limit = 0;
    sr.cr3 = cr3;
    sr.cr4 = CR4_PAE;
    sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    sr.efer = EFER_LME | EFER_LMA | (nxe ? EFER_NXE : 0);
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sr) < 0) {
        snprintf(err, n, "%sKVM_SET_SREGS (64-bit mode at CPL %d: CR0.PG, CR4.PAE, EFER.LME/LMA%s): %s; "
                 "this KVM refuses to start a vCPU in long mode", who, cpl, nxe ? "/NXE" : "", strerror(errno));
        return -1;
    }
    return 0;
}

int lm_set_regs(int vcpu_fd, uint64_t rip, uint64_t rsp, uint64_t rdi, uint64_t rflags, const char *who,
                char *err, size_t n)
{
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = rip;
    r.rsp = rsp;
    r.rdi = rdi;
    r.rflags = rflags;
    if (ioctl(vcpu_fd, KVM_SET_REGS, &r) < 0) {
        snprintf(err, n, "%sKVM_SET_REGS: %s", who, strerror(errno));
        return -1;
    }
    return 0;
}
