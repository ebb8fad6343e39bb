/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ELISA for KVM/VMX: host side of exit-less EPT context switching.
 * A manager VM maps EPT contexts (built in its own memory, translated and
 * checked here) into the EPTP list of a target guest's vCPU and turns on
 * VMFUNC EPTP switching for it.  See elisa/kvm/README.md of exitless.
 */
#ifndef __KVM_X86_VMX_ELISA_H
#define __KVM_X86_VMX_ELISA_H

#include <linux/kvm_host.h>
#include <linux/list.h>
#include <linux/mutex.h>

/* Per VM, inside struct kvm_vmx.  Set once by KVM_ENABLE_CAP. */
struct elisa_vm {
	struct mutex lock;		/* serializes manager calls that change this VM */
	struct list_head node;		/* in the registry of VMs with an ELISA role */
	struct kvm *kvm;
	unsigned int role;		/* ELISA_ROLE_* */
	u32 id;
	u32 manager_id;			/* guests: the manager that may change them */
};

struct elisa_vcpu;

void elisa_hardware_setup(void);
void elisa_hardware_unsetup(void);
void elisa_vm_init(struct kvm *kvm);
void elisa_vm_destroy(struct kvm *kvm);
void elisa_vcpu_free(struct kvm_vcpu *vcpu);

/* VMCALL with RAX in ELISA's range from a VM that has an ELISA role. */
bool elisa_is_hypercall(struct kvm_vcpu *vcpu);
int elisa_handle_hypercall(struct kvm_vcpu *vcpu);

/* vmx_vcpu_run, VMCS loaded, interrupts off: apply what the manager asked. */
void elisa_vcpu_sync(struct kvm_vcpu *vcpu);
/* vmx_load_mmu_pgd: KVM loads a new root; true = keep the ELISA context
 * the vCPU is in (list[0] is refreshed either way). */
bool elisa_load_eptp(struct kvm_vcpu *vcpu, u64 eptp);
/* EPT violation or misconfiguration exit: true if it happened inside an
 * ELISA context (the VM is then shut down: KVM cannot fix that EPT). */
bool elisa_fault_in_context(struct kvm_vcpu *vcpu);

#endif
