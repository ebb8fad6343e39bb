/* elisa/vmm/vmfunc_guest.h - elisa-vmm's side of a guest attached in VMFUNC
 * mode (ELISA proper, on an Intel host with the elisa-kvm modules):
 *   1. the guest VM gets the ELISA guest role {2, its id, the manager's id}
 *      with KVM_ENABLE_CAP 0x454c (elisa/kvm/README.md) before the manager
 *      installs contexts for it (MAP_CTX refuses a VM that named no manager);
 *   2. the gate's top and bottom pages go into the guest at gate_gpa and
 *      gate_gpa + 8 KiB, read-only; the middle page (gate_gpa + 4 KiB) gets
 *      NO memory slot: the default context (the guest's own EPT) must not
 *      have it, or the guest could read and write the gate's variables;
 *   3. the guest then calls elisa_ctx_vmfunc(gate_gva) (elisa_guest.h).
 * The port area is mapped as in EXIT mode (guest_mem.c, slot 2).
 * Run here only up to step 1, which fails on this PVM KVM with the
 * capability line (elisa/vmm/test_vmm.sh); steps 2-3 need elisa-kvm on an
 * Intel host (elisa/manager/README.md, "Host kind vmfunc").
 */
#ifndef ELISA_VMM_VMFUNC_GUEST_H
#define ELISA_VMM_VMFUNC_GUEST_H

#include <stddef.h>
#include <stdint.h>

/* KVM memory slots this file uses (guest_mem.c uses 0..2). */
#define VMM_VMFUNC_SLOT_GATE_TOP    3u
#define VMM_VMFUNC_SLOT_GATE_BOTTOM 4u

struct vmm_vmfunc_guest {
    uint8_t *gate_pages;        /* 2 pages: top, bottom (mmap'ed), NULL: none */
    int gate_pages_stuck;       /* a slot could not be deleted: never unmap them */
};

/* Step 1.  0, or -1 with one line in err (no capability: the same line as
 * the manager's; EEXIST: the id is taken; EBUSY: role already set). */
int vmm_vmfunc_set_role(int vm_fd, uint32_t guest_kvm_id, uint32_t manager_kvm_id, char *err, size_t n);

/* Step 2, with the gate linked into elisa-vmm (vmfunc/testbed/gate.S);
 * expect_hash is the manager's FNV-1a 64 of its gate block (hv_gate_hash),
 * so both sides run the same bytes: a mismatch is refused.  0 or -1. */
int vmm_vmfunc_map_gate(int vm_fd, uint64_t gate_gpa, uint64_t expect_hash, struct vmm_vmfunc_guest *g,
                        char *err, size_t n);

/* Unmap the pages (after the VM is closed, or before any slot names them).
 * Safe on a zeroed struct and twice. */
void vmm_vmfunc_unmap_gate(struct vmm_vmfunc_guest *g);

#endif
