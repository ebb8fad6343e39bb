/* elisa/kvm/bochs/kvmvm.h - the few KVM ioctls kvmguest needs: one VM with
 * RAM at GPA 0 and one vCPU, started in real mode or in 64-bit mode on an
 * identity page table, run with a time limit. */
#ifndef EKB_KVMVM_H
#define EKB_KVMVM_H

#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>

struct kvmvm {
    const char *name;
    int vm_fd;
    int vcpu_fd;
    struct kvm_run *run;
    size_t run_size;
    uint8_t *mem;        /* the VM's RAM, mapped here */
    uint64_t mem_size;
};

/* /dev/kvm, with the stable API (version 12); -1 after printing why not. */
int kvmvm_open_dev(void);

/* A VM with mem_size bytes of RAM at GPA 0 (one user memslot) and vCPU 0,
 * given the CPUID KVM supports (64-bit mode needs LM and NX in the guest's
 * CPUID, kvm_valid_efer()).  0, or -1 after printing why. */
int kvmvm_create(struct kvmvm *vm, int kvm_fd, const char *name, uint64_t mem_size);
void kvmvm_destroy(struct kvmvm *vm);

/* Start the vCPU in real mode at CS base cs_base (a multiple of 16 below
 * 1 MiB), offset ip. */
int kvmvm_set_real_mode(struct kvmvm *vm, uint32_t cs_base, uint16_t ip);

/* Build an identity map of the first GiB (2 MiB pages) at pt_gpa (3 pages)
 * and start the vCPU in 64-bit mode, CPL 0, IF = 0, EFER.NXE = 1, with an
 * empty IDT (any exception ends in a triple fault: KVM_EXIT_SHUTDOWN). */
int kvmvm_set_long_mode(struct kvmvm *vm, uint64_t pt_gpa);

int kvmvm_get_regs(struct kvmvm *vm, struct kvm_regs *r);
int kvmvm_set_regs(struct kvmvm *vm, const struct kvm_regs *r);

/* KVM_RUN once, ended by SIGALRM after timeout_s seconds (of this
 * kernel's clock).  The exit reason (KVM_EXIT_*), or -1 on an ioctl error
 * or the time limit (printed). */
int kvmvm_run(struct kvmvm *vm, unsigned timeout_s);

/* KVM_EXIT_* as text. */
const char *kvmvm_exit_name(int reason);

#endif
