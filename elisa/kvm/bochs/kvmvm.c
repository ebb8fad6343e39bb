/* elisa/kvm/bochs/kvmvm.c - see kvmvm.h. */
#include "kvmvm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <unistd.h>

static struct kvm_cpuid2 *supported_cpuid;

int kvmvm_open_dev(void)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        printf("EKB kvm-open fail /dev/kvm: %s (is kvm-intel.ko loaded?)\n", strerror(errno));
        return -1;
    }
    int v = ioctl(fd, KVM_GET_API_VERSION, 0);
    if (v != KVM_API_VERSION) {
        printf("EKB kvm-open fail KVM_GET_API_VERSION = %d, want %d\n", v, KVM_API_VERSION);
        close(fd);
        return -1;
    }
    /* One table for every VM: what this host's KVM can give a guest. */
    int n = 256;
    supported_cpuid = calloc(1, sizeof(*supported_cpuid) + n * sizeof(struct kvm_cpuid_entry2));
    if (!supported_cpuid) {
        printf("EKB kvm-open fail out of memory\n");
        close(fd);
        return -1;
    }
    supported_cpuid->nent = n;
    if (ioctl(fd, KVM_GET_SUPPORTED_CPUID, supported_cpuid) < 0) {
        printf("EKB kvm-open fail KVM_GET_SUPPORTED_CPUID: %s\n", strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int kvmvm_create(struct kvmvm *vm, int kvm_fd, const char *name, uint64_t mem_size)
{
    memset(vm, 0, sizeof(*vm));
    vm->name = name;
    vm->vm_fd = vm->vcpu_fd = -1;
    vm->vm_fd = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        printf("EKB vm-%s fail KVM_CREATE_VM: %s\n", name, strerror(errno));
        return -1;
    }
    /* Intel without unrestricted guest emulates real mode with vm86 and a
     * TSS in guest-physical space (KVM's api.rst, KVM_SET_TSS_ADDR); QEMU's
     * address, far above our RAM. */
    if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL) < 0) {
        printf("EKB vm-%s fail KVM_SET_TSS_ADDR: %s\n", name, strerror(errno));
        return -1;
    }
    vm->mem = mmap(NULL, mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (vm->mem == MAP_FAILED) {
        vm->mem = NULL;
        printf("EKB vm-%s fail mmap %llu bytes: %s\n", name, (unsigned long long)mem_size, strerror(errno));
        return -1;
    }
    vm->mem_size = mem_size;
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = mem_size,
        .userspace_addr = (uint64_t)(uintptr_t)vm->mem,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        printf("EKB vm-%s fail KVM_SET_USER_MEMORY_REGION: %s\n", name, strerror(errno));
        return -1;
    }
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        printf("EKB vm-%s fail KVM_CREATE_VCPU: %s\n", name, strerror(errno));
        return -1;
    }
    if (ioctl(vm->vcpu_fd, KVM_SET_CPUID2, supported_cpuid) < 0) {
        printf("EKB vm-%s fail KVM_SET_CPUID2: %s\n", name, strerror(errno));
        return -1;
    }
    int size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (size <= 0) {
        printf("EKB vm-%s fail KVM_GET_VCPU_MMAP_SIZE: %s\n", name, strerror(errno));
        return -1;
    }
    vm->run = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        vm->run = NULL;
        printf("EKB vm-%s fail mmap of kvm_run: %s\n", name, strerror(errno));
        return -1;
    }
    vm->run_size = (size_t)size;
    return 0;
}

void kvmvm_destroy(struct kvmvm *vm)
{
    if (vm->run)
        munmap(vm->run, vm->run_size);
    if (vm->vcpu_fd >= 0)
        close(vm->vcpu_fd);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    if (vm->mem)
        munmap(vm->mem, vm->mem_size);
    vm->run = NULL;
    vm->mem = NULL;
    vm->vcpu_fd = vm->vm_fd = -1;
}

int kvmvm_get_regs(struct kvmvm *vm, struct kvm_regs *r)
{
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, r) < 0) {
        printf("EKB vm-%s fail KVM_GET_REGS: %s\n", vm->name, strerror(errno));
        return -1;
    }
    return 0;
}

int kvmvm_set_regs(struct kvmvm *vm, const struct kvm_regs *r)
{
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, r) < 0) {
        printf("EKB vm-%s fail KVM_SET_REGS: %s\n", vm->name, strerror(errno));
        return -1;
    }
    return 0;
}

int kvmvm_set_real_mode(struct kvmvm *vm, uint32_t cs_base, uint16_t ip)
{
    struct kvm_sregs s;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
        printf("EKB vm-%s fail KVM_GET_SREGS: %s\n", vm->name, strerror(errno));
        return -1;
    }
    /* After reset CS is f000 with base ffff0000 (the BIOS entry); we have
     * no BIOS.  Real mode: base = selector * 16. */
    s.cs.selector = (uint16_t)(cs_base >> 4);
    s.cs.base = cs_base & ~0xfu;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
        printf("EKB vm-%s fail KVM_SET_SREGS: %s\n", vm->name, strerror(errno));
        return -1;
    }
    struct kvm_regs r = { .rip = ip, .rflags = 2, .rsp = 0x8000 };
    return kvmvm_set_regs(vm, &r);
}

/* Paging-structure bits (SDM Vol. 3A 4.5 "4-Level Paging"). */
#define PTE_P  (1ULL << 0)
#define PTE_W  (1ULL << 1)
#define PTE_PS (1ULL << 7)

int kvmvm_set_long_mode(struct kvmvm *vm, uint64_t pt_gpa)
{
    if (pt_gpa + 3 * 4096 > vm->mem_size) {
        printf("EKB vm-%s fail page table at %#llx outside RAM\n", vm->name, (unsigned long long)pt_gpa);
        return -1;
    }
    uint64_t *pml4 = (uint64_t *)(vm->mem + pt_gpa);
    uint64_t *pdpt = pml4 + 512;
    uint64_t *pd = pdpt + 512;
    memset(pml4, 0, 3 * 4096);
    pml4[0] = (pt_gpa + 0x1000) | PTE_P | PTE_W;
    pdpt[0] = (pt_gpa + 0x2000) | PTE_P | PTE_W;
    for (uint64_t i = 0; i < 512; i++)
        pd[i] = (i << 21) | PTE_P | PTE_W | PTE_PS;

    struct kvm_sregs s;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
        printf("EKB vm-%s fail KVM_GET_SREGS: %s\n", vm->name, strerror(errno));
        return -1;
    }
    /* 64-bit code segment (L = 1, D = 0), flat data segments; the GDT
     * itself is never read because nothing reloads a segment register. */
    struct kvm_segment code = {
        .base = 0, .limit = 0xffffffff, .selector = 0x8, .type = 0xb,
        .present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
    };
    struct kvm_segment data = code;
    data.selector = 0x10;
    data.type = 0x3;
    data.db = 1;
    data.l = 0;
    s.cs = code;
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    s.cr3 = pt_gpa;
    s.cr4 = (1ULL << 5) | (1ULL << 9) | (1ULL << 10);   /* PAE, OSFXSR, OSXMMEXCPT */
    s.cr0 = (1ULL << 0) | (1ULL << 1) | (1ULL << 4) | (1ULL << 5) | (1ULL << 16) | (1ULL << 31);
                                                        /* PE, MP, ET, NE, WP, PG */
    /* LME, LMA, NXE: NXE because the sub context's page table marks data
     * pages execute-disable, a reserved bit without it (elisa_ctx.h). */
    s.efer = (1ULL << 8) | (1ULL << 10) | (1ULL << 11);
    s.idt.base = 0;
    s.idt.limit = 0;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
        printf("EKB vm-%s fail KVM_SET_SREGS (64-bit mode): %s\n", vm->name, strerror(errno));
        return -1;
    }
    return 0;
}

static volatile sig_atomic_t alarm_fired;

static void on_alarm(int sig)
{
    (void)sig;
    alarm_fired = 1;
}

int kvmvm_run(struct kvmvm *vm, unsigned timeout_s)
{
    /* No SA_RESTART: the signal makes KVM_RUN return EINTR. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm_fired = 0;
    struct itimerval it = { .it_value = { .tv_sec = timeout_s } };
    setitimer(ITIMER_REAL, &it, NULL);
    int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    int err = errno;
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    if (rc < 0) {
        if (err == EINTR && alarm_fired)
            printf("EKB vm-%s fail KVM_RUN: no exit within %u s\n", vm->name, timeout_s);
        else
            printf("EKB vm-%s fail KVM_RUN: %s\n", vm->name, strerror(err));
        return -1;
    }
    return (int)vm->run->exit_reason;
}

const char *kvmvm_exit_name(int reason)
{
    switch (reason) {
    case KVM_EXIT_UNKNOWN: return "UNKNOWN";
    case KVM_EXIT_EXCEPTION: return "EXCEPTION";
    case KVM_EXIT_IO: return "IO";
    case KVM_EXIT_HYPERCALL: return "HYPERCALL";
    case KVM_EXIT_DEBUG: return "DEBUG";
    case KVM_EXIT_HLT: return "HLT";
    case KVM_EXIT_MMIO: return "MMIO";
    case KVM_EXIT_SHUTDOWN: return "SHUTDOWN";
    case KVM_EXIT_FAIL_ENTRY: return "FAIL_ENTRY";
    case KVM_EXIT_INTERNAL_ERROR: return "INTERNAL_ERROR";
    default: return "other";
    }
}
