/* elisa/vmm/kvm_setup.c - /dev/kvm for elisa-vmm: open it, check the API
 * and the capabilities we rely on, create a VM with one vCPU, add memory
 * slots.  Documentation: the kernel's Documentation/virt/kvm/api.rst.
 *
 * What this machine's /dev/kvm (kvm-pvm, nested) was found to do, and so
 * what we rely on (README.md, "What works on PVM"):
 *   KVM_CAP_USER_MEMORY           memory slots from any user mapping,
 *                                 including a MAP_SHARED memfd range;
 *   KVM_CAP_IMMEDIATE_EXIT        kvm_run.immediate_exit, so a watchdog can
 *                                 stop a vCPU without a race;
 *   KVM_CAP_EXT_CPUID             KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2:
 *                                 the guest's CPUID must say "long mode"
 *                                 and "NX" before KVM accepts EFER.LME/NXE;
 *   KVM_CAP_NR_MEMSLOTS >= 3      RAM, mailbox, port area.
 * KVM_SET_TSS_ADDR (VMX needs three pages for real-mode emulation) is
 * called if offered; the guest never leaves 64-bit mode, so a failure
 * there is not fatal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "long_mode.h"
#include "vmm.h"

/* Where KVM's VMX real-mode TSS goes (three pages, never used by our guest):
 * the address kvmtool and QEMU use, below the 4 GiB BIOS area. */
#define VMM_TSS_GPA 0xfffbd000ull

static int check_cap(int fd, long cap, long min, const char *name, char *err, size_t n)
{
    int v = ioctl(fd, KVM_CHECK_EXTENSION, cap);
    if (v < min) {
        snprintf(err, n, "/dev/kvm lacks %s (KVM_CHECK_EXTENSION says %d, need >= %ld): "
                 "this VMM needs a KVM with it", name, v, min);
        return -1;
    }
    return 0;
}

int vmm_kvm_open(struct vmm_kvm *k, char *err, size_t n)
{
    memset(k, 0, sizeof *k);
    k->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (k->fd < 0) {
        int e = errno;
        if (e == ENOENT)
            snprintf(err, n, "no /dev/kvm on this machine: load kvm (modprobe kvm_intel or kvm_amd) "
                     "or run on a host with KVM");
        else if (e == EACCES || e == EPERM)
            snprintf(err, n, "cannot open /dev/kvm: %s; run as root or add this user to the "
                     "group that owns /dev/kvm (usually 'kvm')", strerror(e));
        else
            snprintf(err, n, "cannot open /dev/kvm: %s", strerror(e));
        return -1;
    }
    int api = ioctl(k->fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        snprintf(err, n, "/dev/kvm speaks API version %d, this VMM was built for %d", api,
                 KVM_API_VERSION);
        goto fail;
    }
    if (check_cap(k->fd, KVM_CAP_USER_MEMORY, 1, "KVM_CAP_USER_MEMORY", err, n) ||
        check_cap(k->fd, KVM_CAP_IMMEDIATE_EXIT, 1, "KVM_CAP_IMMEDIATE_EXIT", err, n) ||
        check_cap(k->fd, KVM_CAP_EXT_CPUID, 1, "KVM_CAP_EXT_CPUID", err, n) ||
        check_cap(k->fd, KVM_CAP_NR_MEMSLOTS, 3, "KVM_CAP_NR_MEMSLOTS", err, n))
        goto fail;
    k->run_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (k->run_size < (int)sizeof(struct kvm_run)) {
        snprintf(err, n, "KVM_GET_VCPU_MMAP_SIZE: %d: %s", k->run_size, strerror(errno));
        goto fail;
    }
    k->cpuid = lm_supported_cpuid(k->fd, err, n);
    if (k->cpuid == NULL)
        goto fail;
    return 0;
fail:
    close(k->fd);
    k->fd = -1;
    return -1;
}

void vmm_kvm_close(struct vmm_kvm *k)
{
    free(k->cpuid);
    k->cpuid = NULL;
    if (k->fd >= 0)
        close(k->fd);
    k->fd = -1;
}

int vmm_vm_create(const struct vmm_kvm *k, struct vmm_vm *vm, char *err, size_t n)
{
    vm->vm_fd = ioctl(k->fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        snprintf(err, n, "KVM_CREATE_VM: %s", strerror(errno));
        return -1;
    }
    if (ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_TSS_ADDR) > 0)
        (void)ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)VMM_TSS_GPA);
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        snprintf(err, n, "KVM_CREATE_VCPU: %s", strerror(errno));
        return -1;
    }
    vm->run_size = k->run_size;
    vm->run = mmap(NULL, (size_t)k->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        snprintf(err, n, "mmap of the vCPU's kvm_run: %s", strerror(errno));
        return -1;
    }
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, k->cpuid) < 0) {
        snprintf(err, n, "KVM_SET_CPUID2: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int vmm_vm_set_memory(struct vmm_vm *vm, uint32_t slot, uint64_t gpa, void *host, uint64_t size,
                      char *err, size_t n)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = 0,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
        snprintf(err, n, "KVM_SET_USER_MEMORY_REGION slot %u (GPA 0x%llx, %llu bytes): %s", slot,
                 (unsigned long long)gpa, (unsigned long long)size, strerror(errno));
        return -1;
    }
    return 0;
}

void vmm_vm_destroy(struct vmm_vm *vm)
{
    if (vm->run != NULL)
        munmap(vm->run, (size_t)vm->run_size);
    vm->run = NULL;
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    vm->vcpu_fd = vm->vm_fd = -1;
    vmm_vmfunc_unmap_gate(&vm->vmfunc);   /* after the VM: no slot points at it any more */
    if (vm->ram != NULL)
        munmap(vm->ram, ELISA_VMM_RAM_SIZE);
    if (vm->mailbox != NULL)
        munmap((void *)vm->mailbox, ELISA_VMM_PAGE);
    if (vm->port_area != NULL)
        munmap(vm->port_area, vm->at.shared_size);
    if (vm->region != NULL)
        munmap(vm->region, vm->at.region_size);
    vm->ram = NULL;
    vm->mailbox = NULL;
    vm->port_area = vm->region = NULL;
}
