/* elisa/vmm/vmfunc_guest.c - a guest VM in ELISA's VMFUNC mode
 * (vmfunc_guest.h).  KVM ioctls: Documentation/virt/kvm/api.rst. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "vmfunc_guest.h"
#include "../kvm/elisa_hc_check.h"

#define PAGE 4096ull

/* vmfunc/testbed/gate.S (linked in): the 12 KiB block. */
extern const uint8_t elisa_gate_top[], elisa_gate_end[];

static uint64_t gate_hash(const uint8_t *b)
{
    uint64_t h = 0xcbf29ce484222325ull;   /* FNV-1a 64, as hv_gate_hash */
    for (uint64_t i = 0; i < 3 * PAGE; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

int vmm_vmfunc_set_role(int vm_fd, uint32_t guest_kvm_id, uint32_t manager_kvm_id, char *err, size_t n)
{
    if (guest_kvm_id == 0 || guest_kvm_id > ELISA_ID_MAX || manager_kvm_id == 0 ||
        manager_kvm_id > ELISA_ID_MAX || guest_kvm_id == manager_kvm_id) {
        snprintf(err, n, "ELISA ids guest %u, manager %u: both 1..65535 and different", guest_kvm_id,
                 manager_kvm_id);
        return -1;
    }
    if (ioctl(vm_fd, KVM_CHECK_EXTENSION, ELISA_KVM_CAP) <= 0) {
        snprintf(err, n, "this host's KVM has no ELISA capability (KVM_CHECK_EXTENSION 0x454c = 0): "
                 "install the elisa-kvm modules on an Intel host with VMFUNC (elisa/kvm/README.md), "
                 "or start the manager with --host exit");
        return -1;
    }
    struct kvm_enable_cap cap;
    memset(&cap, 0, sizeof cap);
    cap.cap = ELISA_KVM_CAP;
    cap.args[0] = ELISA_ROLE_GUEST;
    cap.args[1] = guest_kvm_id;
    cap.args[2] = manager_kvm_id;
    if (ioctl(vm_fd, KVM_ENABLE_CAP, &cap) < 0) {
        int e = errno;
        snprintf(err, n, "KVM_ENABLE_CAP 0x454c (guest %u, manager %u): %s%s", guest_kvm_id, manager_kvm_id,
                 strerror(e), e == EEXIST ? ": another VM has this ELISA id" :
                 e == EBUSY ? ": this VM has a role already" : "");
        return -1;
    }
    return 0;
}

static int slot(int vm_fd, uint32_t s, uint64_t gpa, void *host, char *err, size_t n)
{
    /* Read-only: the guest runs the gate code but cannot change it (a
     * write exits as MMIO, which the VMM treats as a fault). */
    struct kvm_userspace_memory_region r = {
        .slot = s, .flags = KVM_MEM_READONLY, .guest_phys_addr = gpa, .memory_size = PAGE,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        snprintf(err, n, "KVM_SET_USER_MEMORY_REGION slot %u (gate page at GPA 0x%llx, read-only): %s", s,
                 (unsigned long long)gpa, strerror(errno));
        return -1;
    }
    return 0;
}

int vmm_vmfunc_map_gate(int vm_fd, uint64_t gate_gpa, uint64_t expect_hash, struct vmm_vmfunc_guest *g,
                        char *err, size_t n)
{
    g->gate_pages = NULL;
    if ((uint64_t)(elisa_gate_end - elisa_gate_top) != 3 * PAGE) {
        snprintf(err, n, "the linked gate block is not 12 KiB: rebuild elisa-vmm");
        return -1;
    }
    if (gate_hash(elisa_gate_top) != expect_hash) {
        snprintf(err, n, "the manager's gate code differs from this VMM's (hash mismatch): build both from "
                 "the same tree");
        return -1;
    }
    if (gate_gpa == 0 || gate_gpa % PAGE != 0) {
        snprintf(err, n, "gate GPA 0x%llx is not a non-zero page address", (unsigned long long)gate_gpa);
        return -1;
    }
    void *p = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        snprintf(err, n, "cannot map the gate pages: %s", strerror(errno));
        return -1;
    }
    g->gate_pages = p;
    memcpy(g->gate_pages, elisa_gate_top, PAGE);                    /* top: ends in VMFUNC(0, 1) */
    memcpy(g->gate_pages + PAGE, elisa_gate_top + 2 * PAGE, PAGE);  /* bottom: where VMFUNC(0, 0) lands */
    /* The middle page, gate_gpa + 4 KiB, stays without a slot. */
    if (slot(vm_fd, VMM_VMFUNC_SLOT_GATE_TOP, gate_gpa, g->gate_pages, err, n) != 0) {
        vmm_vmfunc_unmap_gate(g);
        return -1;
    }
    if (slot(vm_fd, VMM_VMFUNC_SLOT_GATE_BOTTOM, gate_gpa + 2 * PAGE, g->gate_pages + PAGE, err, n) != 0) {
        /* Delete the top page's slot first (memory_size 0: api.rst,
         * KVM_SET_USER_MEMORY_REGION): a slot must never name memory this
         * process has unmapped. */
        struct kvm_userspace_memory_region del = { .slot = VMM_VMFUNC_SLOT_GATE_TOP, .memory_size = 0 };
        if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &del) < 0) {
            g->gate_pages_stuck = 1;   /* keep the pages mapped: KVM still points at them */
            return -1;
        }
        vmm_vmfunc_unmap_gate(g);
        return -1;
    }
    return 0;
}

void vmm_vmfunc_unmap_gate(struct vmm_vmfunc_guest *g)
{
    if (g->gate_pages_stuck)
        return;
    if (g->gate_pages)
        munmap(g->gate_pages, 2 * PAGE);
    g->gate_pages = NULL;
}
