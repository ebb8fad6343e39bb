/* elisa/vmm/guest_mem.c - a guest's memory and its first register state:
 * RAM with the image and the boot-info page, the mailbox page, the port
 * area mapped straight from the shared region's memfd, and the GDT, page
 * tables and control registers of 64-bit mode, all set from outside
 * through KVM_SET_SREGS (no boot code in the guest: it starts in long
 * mode at its first instruction).  Layout: vmm_boot.h.
 *
 * The guest runs at CPL 0 or 3 (vm->cpl, --cpl).  CPL 3 is the default
 * because of what this machine's /dev/kvm (PVM) does with a guest that is
 * not a PVM guest kernel: supervisor-mode code is emulated instruction by
 * instruction (measured: ~2.5 us per loop iteration of two instructions),
 * user-mode code runs natively (1-2 cycles per iteration).  So the
 * segments, the page tables' U/S bits and RFLAGS are set up for a CPL-3
 * guest that still owns the whole machine: every page is a user page,
 * IOPL = 3 (honoured by KVM on VMX; PVM refuses port I/O at CPL 3 anyway,
 * hence the MMIO doorbell), and there is no IDT, so the only way down to
 * CPL 0 - an exception - ends the VM.
 *
 * Intel SDM references (2023 numbering, as in docs/VMFUNC.md):
 *   Vol. 3A 10.8.5 "Initializing IA-32e Mode": PAE paging, EFER.LME, then
 *   CR0.PG, which sets EFER.LMA; KVM_SET_SREGS takes the end state at once.
 *   Vol. 3A 4.5 "4-Level Paging and 5-Level Paging": the PML4E/PDPTE/PDE
 *   formats (a PDE with PS = 1 maps a 2 MiB page; bit 63 is XD when
 *   EFER.NXE = 1).
 *   Vol. 3A 3.4.5 and 5.2.1: a 64-bit code segment is L = 1, D = 0.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "vmm.h"
#include "../guest/elisa_guest.h"

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

/* Selectors: index << 3 | RPL. */
#define SEL_CODE0 0x08
#define SEL_DATA0 0x10
#define SEL_CODE3 (0x18 | 3)
#define SEL_DATA3 (0x20 | 3)
#define GDT_DPL3  (3ull << 45)     /* descriptor bits 45-46: DPL */
#define RFLAGS_IOPL3 (3ull << 12)

/* GDT descriptors (SDM Vol. 3A 3.4.5, "Segment Descriptors"): base 0,
 * limit 0xfffff pages, present, DPL 0, accessed already set so the CPU
 * never writes the table.
 *   code: type 0xB (execute/read, accessed), S = 1, L = 1, D = 0, G = 1
 *   data: type 0x3 (read/write, accessed),   S = 1, D/B = 1, G = 1 */
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA   0x00cf93000000ffffull
#define GDT_ENTRIES 5              /* null, code0, data0, code3, data3 */

#define TWO_MIB (2ull << 20)
#define ONE_GIB (1ull << 30)

static int overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
    return a < b + blen && b < a + alen;
}

/* The gate block (mailbox + MMIO doorbell + one more page) must stay clear
 * of every other region: a memory slot over the doorbell page would turn
 * the doorbell into a plain store. */
#define GATE_BLOCK (3 * ELISA_VMM_PAGE)

int vmm_guest_check_layout(const struct elisa_attach *at, char *err, size_t n)
{
    const uint64_t page = ELISA_VMM_PAGE;
    if (at->gate_gpa == 0 || (at->gate_gpa & (page - 1)) != 0 || at->gate_gpa < ELISA_VMM_RAM_SIZE ||
        at->gate_gpa + GATE_BLOCK > ELISA_VMM_MAP_LIMIT ||
        overlaps(at->gate_gpa, GATE_BLOCK, ELISA_VMM_DEVICE_GPA, page)) {
        snprintf(err, n, "gate block GPA 0x%llx is not 12 KiB between the end of RAM (0x%llx) and 4 GiB "
                 "clear of the device page 0x%llx: this VMM identity-maps only the first 4 GiB",
                 (unsigned long long)at->gate_gpa, (unsigned long long)ELISA_VMM_RAM_SIZE,
                 (unsigned long long)ELISA_VMM_DEVICE_GPA);
        return -1;
    }
    if (at->gate_gva != at->gate_gpa) {
        snprintf(err, n, "mailbox GVA 0x%llx differs from its GPA 0x%llx: this VMM's guests are "
                 "identity-mapped (GVA = GPA)", (unsigned long long)at->gate_gva,
                 (unsigned long long)at->gate_gpa);
        return -1;
    }
    if (at->shared_size == 0)
        return 0;
    if ((at->shared_gpa & (page - 1)) != 0 || (at->shared_size & (page - 1)) != 0 ||
        at->shared_gpa < ELISA_VMM_RAM_SIZE || at->shared_size > ELISA_VMM_MAP_LIMIT ||
        at->shared_gpa > ELISA_VMM_MAP_LIMIT - at->shared_size) {
        snprintf(err, n, "shared area at GPA 0x%llx, %llu bytes, is not page-aligned pages between "
                 "the end of RAM and 4 GiB", (unsigned long long)at->shared_gpa,
                 (unsigned long long)at->shared_size);
        return -1;
    }
    if (overlaps(at->gate_gpa, GATE_BLOCK, at->shared_gpa, at->shared_size) ||
        overlaps(ELISA_VMM_DEVICE_GPA, page, at->shared_gpa, at->shared_size)) {
        snprintf(err, n, "the shared area (GPA 0x%llx, %llu bytes) overlaps the gate block (GPA 0x%llx, "
                 "12 KiB) or the device page (0x%llx)", (unsigned long long)at->shared_gpa,
                 (unsigned long long)at->shared_size, (unsigned long long)at->gate_gpa,
                 (unsigned long long)ELISA_VMM_DEVICE_GPA);
        return -1;
    }
    if (at->region_fd < 0 || at->region_size == 0 || (at->guest_off & (page - 1)) != 0 ||
        at->guest_off > at->region_size || at->shared_size > at->region_size - at->guest_off) {
        snprintf(err, n, "the shared area (offset %llu, %llu bytes) is not page-aligned bytes of the "
                 "region (%llu bytes)", (unsigned long long)at->guest_off,
                 (unsigned long long)at->shared_size, (unsigned long long)at->region_size);
        return -1;
    }
    return 0;
}

static void *map_anon(uint64_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Identity map of the first 4 GiB in 2 MiB pages.  RAM is executable; the
 * rest (mailbox, port area, holes) is not: the guest has no reason to run
 * code from shared memory, and XD makes a jump there a fault. */
static void write_page_tables(uint8_t *ram)
{
    uint64_t *pml4 = (uint64_t *)(ram + ELISA_VMM_PML4_GPA);
    uint64_t *pdpt = (uint64_t *)(ram + ELISA_VMM_PDPT_GPA);
    memset(pml4, 0, ELISA_VMM_PAGE);
    memset(pdpt, 0, ELISA_VMM_PAGE);
    /* U/S = 1 at every level: the guest may run at CPL 3 (and CR4.SMEP/SMAP
     * stay 0, so CPL 0 may use user pages too). */
    pml4[0] = ELISA_VMM_PDPT_GPA | PTE_P | PTE_RW | PTE_US;
    for (uint64_t g = 0; g < ELISA_VMM_MAP_LIMIT / ONE_GIB; g++) {
        uint64_t pd_gpa = ELISA_VMM_PD_GPA + g * ELISA_VMM_PAGE;
        uint64_t *pd = (uint64_t *)(ram + pd_gpa);
        pdpt[g] = pd_gpa | PTE_P | PTE_RW | PTE_US;
        for (uint64_t e = 0; e < 512; e++) {
            uint64_t addr = g * ONE_GIB + e * TWO_MIB;
            pd[e] = addr | PTE_P | PTE_RW | PTE_US | PTE_PS | (addr >= ELISA_VMM_RAM_SIZE ? PTE_XD : 0);
        }
    }
}

static void write_gdt(uint8_t *ram)
{
    uint64_t *gdt = (uint64_t *)(ram + ELISA_VMM_GDT_GPA);
    gdt[0] = 0;
    gdt[1] = GDT_CODE64;
    gdt[2] = GDT_DATA;
    gdt[3] = GDT_CODE64 | GDT_DPL3;
    gdt[4] = GDT_DATA | GDT_DPL3;
}

static struct kvm_segment seg(uint16_t sel, uint8_t type, int code)
{
    struct kvm_segment s = {
        .base = 0,
        .limit = 0xffffffff,
        .selector = sel,
        .type = type,
        .present = 1,
        .dpl = (uint8_t)(sel & 3),
        .db = code ? 0 : 1,
        .s = 1,
        .l = code ? 1 : 0,
        .g = 1,
    };
    return s;
}

static int set_registers(struct vmm_vm *vm, char *err, size_t n)
{
    struct kvm_sregs sr;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &sr) < 0) {
        snprintf(err, n, "KVM_GET_SREGS: %s", strerror(errno));
        return -1;
    }
    /* The CPL is SS.DPL = CS.DPL (VMX takes it from SS's access rights). */
    int user = vm->cpl == 3;
    sr.cs = seg(user ? SEL_CODE3 : SEL_CODE0, 0xb, 1);
    sr.ds = sr.es = sr.fs = sr.gs = sr.ss = seg(user ? SEL_DATA3 : SEL_DATA0, 0x3, 0);
    sr.gdt.base = ELISA_VMM_GDT_GPA;
    sr.gdt.limit = GDT_ENTRIES * 8 - 1;
    /* No IDT: any exception becomes #DF, then a triple fault, which KVM
     * reports as KVM_EXIT_SHUTDOWN.  The guest runs with IF = 0. */
    sr.idt.base = 0;
    sr.idt.limit = 0;
    sr.cr3 = ELISA_VMM_PML4_GPA;
    sr.cr4 = CR4_PAE;
    sr.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    sr.efer = EFER_LME | EFER_LMA | EFER_NXE;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &sr) < 0) {
        snprintf(err, n, "KVM_SET_SREGS (64-bit mode: CR0.PG, CR4.PAE, EFER.LME/LMA/NXE): %s; "
                 "this KVM refuses to start a vCPU in long mode", strerror(errno));
        return -1;
    }
    struct kvm_regs r;
    memset(&r, 0, sizeof r);
    r.rip = ELISA_VMM_IMAGE_GPA;
    r.rsp = ELISA_VMM_RAM_SIZE;
    r.rdi = ELISA_VMM_BOOT_GPA;
    r.rflags = 0x2 | RFLAGS_IOPL3;   /* bit 1 is reserved, always 1; IF = 0 */
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0) {
        snprintf(err, n, "KVM_SET_REGS: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int vmm_guest_setup(struct vmm_vm *vm, const uint8_t *image, size_t image_size, char *err, size_t n)
{
    struct elisa_attach *at = &vm->at;
    if (image_size == 0 || image_size > ELISA_VMM_IMAGE_MAX) {
        snprintf(err, n, "guest image of %zu bytes: must be 1..%llu bytes", image_size,
                 (unsigned long long)ELISA_VMM_IMAGE_MAX);
        return -1;
    }
    if (vmm_guest_check_layout(at, err, n) != 0)
        return -1;

    /* RAM: page 0 stays out of the slot, so a NULL dereference in the
     * guest is an MMIO exit the VMM reports, not a silent read. */
    vm->ram = map_anon(ELISA_VMM_RAM_SIZE);
    vm->mailbox = map_anon(ELISA_VMM_PAGE);
    if (vm->ram == NULL || vm->mailbox == NULL) {
        snprintf(err, n, "cannot map guest memory: %s", strerror(errno));
        return -1;
    }
    memcpy(vm->ram + ELISA_VMM_IMAGE_GPA, image, image_size);
    memcpy(vm->ram + ELISA_VMM_BOOT_GPA, &vm->boot, sizeof vm->boot);
    write_gdt(vm->ram);
    write_page_tables(vm->ram);
    if (vmm_vm_set_memory(vm, 0, ELISA_VMM_PAGE, vm->ram + ELISA_VMM_PAGE,
                          ELISA_VMM_RAM_SIZE - ELISA_VMM_PAGE, err, n) != 0 ||
        vmm_vm_set_memory(vm, 1, at->gate_gpa, (void *)vm->mailbox, ELISA_VMM_PAGE, err, n) != 0)
        return -1;

    if (at->region_fd >= 0) {
        struct stat st;
        if (fstat(at->region_fd, &st) != 0 || (uint64_t)st.st_size < at->region_size) {
            snprintf(err, n, "the shared region's fd holds fewer bytes than the %llu announced",
                     (unsigned long long)at->region_size);
            return -1;
        }
        /* The app's view: the whole region.  The guest's view: only its
         * own area, a second mapping of the same memfd pages, given to KVM
         * as a memory slot - the guest writes its rings in place, and the
         * switch (running here, in this process) sees them with no copy. */
        vm->region = mmap(NULL, at->region_size, PROT_READ | PROT_WRITE, MAP_SHARED, at->region_fd, 0);
        if (vm->region == MAP_FAILED) {
            vm->region = NULL;
            snprintf(err, n, "cannot map the shared region (%llu bytes): %s",
                     (unsigned long long)at->region_size, strerror(errno));
            return -1;
        }
        if (at->shared_size != 0) {
            vm->port_area = mmap(NULL, at->shared_size, PROT_READ | PROT_WRITE, MAP_SHARED,
                                 at->region_fd, (off_t)at->guest_off);
            if (vm->port_area == MAP_FAILED) {
                vm->port_area = NULL;
                snprintf(err, n, "cannot map the guest's area of the region: %s", strerror(errno));
                return -1;
            }
            if (vmm_vm_set_memory(vm, 2, at->shared_gpa, vm->port_area, at->shared_size, err, n) != 0)
                return -1;
        }
    }
    vm->env.shared_va = (uint64_t)(uintptr_t)vm->region;
    vm->env.shared_size = vm->region != NULL ? at->region_size : 0;
    vm->env.arg = at->env_arg;
    vm->env.vcpu = at->vcpu;
    return set_registers(vm, err, n);
}
