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
 * The 64-bit mode setup itself (GDT, identity map, SREGS, with the SDM
 * references) is long_mode.c, shared with the manager's agent VM.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "long_mode.h"
#include "vmm.h"
#include "../guest/elisa_guest.h"

#define RFLAGS_IOPL3 (3ull << 12)

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
 * code from shared memory, and XD makes a jump there a fault.  U/S = 1 at
 * every level: the guest may run at CPL 3 (and CR4.SMEP/SMAP stay 0, so
 * CPL 0 may use user pages too). */
static void write_page_tables(uint8_t *ram)
{
    lm_write_identity_map(ram, 0, ELISA_VMM_PML4_GPA, ELISA_VMM_PDPT_GPA, ELISA_VMM_PD_GPA,
                          (uint32_t)(ELISA_VMM_MAP_LIMIT >> 30), ELISA_VMM_RAM_SIZE, 1);
}

static int set_registers(struct vmm_vm *vm, char *err, size_t n)
{
    /* No IDT: any exception becomes #DF, then a triple fault, which KVM
     * reports as KVM_EXIT_SHUTDOWN.  The guest runs with IF = 0; IOPL 3
     * (honoured by KVM on VMX; PVM refuses port I/O at CPL 3 anyway). */
    if (lm_set_sregs(vm->vcpu_fd, ELISA_VMM_GDT_GPA, ELISA_VMM_PML4_GPA, (int)vm->cpl, 1, "", err, n) != 0)
        return -1;
    /* RFLAGS bit 1 is reserved, always 1; IF = 0. */
    return lm_set_regs(vm->vcpu_fd, ELISA_VMM_IMAGE_GPA, ELISA_VMM_RAM_SIZE, ELISA_VMM_BOOT_GPA,
                       0x2 | RFLAGS_IOPL3, "", err, n);
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
    /* VMFUNC mode has no mailbox: the gate block's pages are mapped by
     * vmfunc_guest.c (top and bottom read-only, the middle one absent). */
    int exit_mode = at->mode != ELISA_MODE_VMFUNC;
    vm->ram = map_anon(ELISA_VMM_RAM_SIZE);
    vm->mailbox = exit_mode ? map_anon(ELISA_VMM_PAGE) : NULL;
    if (vm->ram == NULL || (exit_mode && vm->mailbox == NULL)) {
        snprintf(err, n, "cannot map guest memory: %s", strerror(errno));
        return -1;
    }
    memcpy(vm->ram + ELISA_VMM_IMAGE_GPA, image, image_size);
    memcpy(vm->ram + ELISA_VMM_BOOT_GPA, &vm->boot, sizeof vm->boot);
    lm_write_gdt((uint64_t *)(vm->ram + ELISA_VMM_GDT_GPA));
    write_page_tables(vm->ram);
    if (vmm_vm_set_memory(vm, 0, ELISA_VMM_PAGE, vm->ram + ELISA_VMM_PAGE,
                          ELISA_VMM_RAM_SIZE - ELISA_VMM_PAGE, err, n) != 0 ||
        (exit_mode && vmm_vm_set_memory(vm, 1, at->gate_gpa, (void *)vm->mailbox, ELISA_VMM_PAGE, err, n) != 0))
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
