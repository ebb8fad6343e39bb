/*
 * elisa/kvm/bochs/kvmguest.c - a minimal VMM that exercises the patched
 * kvm-intel.ko (elisa/kvm/) from inside Bochs: run as /kvmguest by the
 * initramfs' init, as root, on Debian's 6.1 kernel.
 *
 * Stages (each check prints "EKB <step> ok|fail|info <details>"; when a
 * step that later ones need fails, such as creating the VMs, a role, the
 * first QUERY, the contexts or the first gate call, stages 2-4 stop):
 *   1. a real-mode guest: OUT 0x42 to a port, HLT;
 *   2. ELISA roles (KVM_ENABLE_CAP 0x454c) on four VMs: a manager (id 7),
 *      a guest (id 12, manager 7), a second guest (id 13, manager 7) that
 *      never gets contexts, and a VM without a role; the capability's own
 *      refusals (EBUSY, EEXIST);
 *   3. hypercalls from 64-bit guest code: QUERY from manager and guest,
 *      the same number from the VM without a role (KVM's own hypercall
 *      path must answer), and the refusals of the argument checks
 *      (guest caller, index 0, unknown VM, misaligned root, no such vCPU,
 *      a root outside the manager's RAM, a reserved argument);
 *   4. the gate: vmf_elisa_build() makes the gate and sub contexts in the
 *      manager's RAM, the manager's vCPU installs them in the guest's
 *      EPTP list (MAP_CTX 1 and 2) and ENABLEs it; the guest calls
 *      vmfunc/testbed/gate.S's elisa_gate_call() into sub_entry()
 *      (guest_code.S), once and then in a loop; the shared page (manager
 *      RAM) must show every call.  Controls: guest 13 (no contexts) and
 *      guest 12 after DISABLE must not get through (VMFUNC gives #UD: the
 *      guest, with no IDT, shuts down); re-mapping live contexts,
 *      re-enabling, an emptied index, TEARDOWN (the vCPU must be back on
 *      its own EPT), and a fault inside a context (fatal to the guest).
 * Exit status: the number of failed checks (0 = all passed).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "elisa_ctx.h"
#include "elisa_hc_check.h"
#include "kvmvm.h"
#include "layout.h"

/* guest_code.S */
extern const uint8_t guest_code_start[], guest_code_end[];
extern const uint8_t guest_real[], guest_hcall[], guest_gate_loop[], guest_vmcall_loop[], guest_spin_loop[];
extern const uint8_t sub_code_start[], sub_code_end[];
/* vmfunc/testbed/gate.S: 3 pages, and two 8-byte slots in the middle one. */
extern const uint8_t elisa_gate_top[], elisa_gate_end[];
extern const uint8_t elisa_gate_sub_entry[], elisa_gate_sub_stack[];

#define RUN_TIMEOUT_S 120       /* per KVM_RUN, in this kernel's seconds (Bochs' ticks) */
#define LOOP_CALLS    10000     /* gate calls / VMCALLs in the timing loops */

static int failed;

static void report(bool ok, const char *step, const char *fmt, ...)
{
    va_list ap;
    printf("EKB %s %s ", step, ok ? "ok" : "fail");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
    if (!ok)
        failed++;
}

static void info(const char *step, const char *fmt, ...)
{
    va_list ap;
    printf("EKB %s info ", step);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static uint64_t code_gpa(const uint8_t *routine)
{
    return EKB_CODE_GPA + (uint64_t)(routine - guest_code_start);
}

/* Enter `routine' with `in' (RIP, RSP and RFLAGS are set here) and run to
 * its OUT to EKB_PORT_REPORT; *out = the registers there.  Returns the
 * exit reason; anything but KVM_EXIT_IO on the report port is returned
 * as is (KVM_EXIT_SHUTDOWN for instance), with *out still filled. */
static int run_routine(struct kvmvm *vm, const uint8_t *routine, const struct kvm_regs *in,
                       struct kvm_regs *out)
{
    struct kvm_regs r = *in;
    r.rip = code_gpa(routine);
    r.rsp = EKB_STACK_TOP;
    r.rflags = 2;   /* IF = 0: no interrupt is ever delivered to these guests */
    if (kvmvm_set_regs(vm, &r) < 0)
        return -1;
    int reason = kvmvm_run(vm, RUN_TIMEOUT_S);
    if (reason < 0)
        return -1;
    if (kvmvm_get_regs(vm, out) < 0)
        return -1;
    if (reason == KVM_EXIT_IO && vm->run->io.port != EKB_PORT_REPORT)
        printf("EKB vm-%s info unexpected OUT to port %#x\n", vm->name, vm->run->io.port);
    return reason;
}

struct hc {
    uint64_t rax, rbx, rcx, rdx, rsi;
};

/* One VMCALL from vm's vCPU (CPL 0, 64-bit mode): RAX = nr, RBX, RCX,
 * RDX, RSI = a0..a3.  0 with the registers after it in *res, or -1
 * (printed) if the guest did not come back to its OUT. */
static int hypercall(struct kvmvm *vm, uint64_t nr, uint64_t a0, uint64_t a1, uint64_t a2,
                     uint64_t a3, struct hc *res)
{
    struct kvm_regs in = { .rax = nr, .rbx = a0, .rcx = a1, .rdx = a2, .rsi = a3 };
    struct kvm_regs out;
    int reason = run_routine(vm, guest_hcall, &in, &out);
    if (reason != KVM_EXIT_IO) {
        printf("EKB vm-%s info VMCALL %#" PRIx64 ": exit %s (%d) instead of the report OUT\n",
               vm->name, nr, reason < 0 ? "error" : kvmvm_exit_name(reason), reason);
        return -1;
    }
    res->rax = out.rax;
    res->rbx = out.rbx;
    res->rcx = out.rcx;
    res->rdx = out.rdx;
    res->rsi = out.rsi;
    return 0;
}

/* A hypercall whose only expected result is RAX = want. */
static void expect_hc(const char *step, struct kvmvm *vm, uint64_t nr, uint64_t a0, uint64_t a1,
                      uint64_t a2, uint64_t a3, int64_t want)
{
    struct hc h;
    if (hypercall(vm, nr, a0, a1, a2, a3, &h) < 0) {
        report(false, step, "VMCALL %#" PRIx64 " from %s did not return", nr, vm->name);
        return;
    }
    report((int64_t)h.rax == want, step, "%s: VMCALL %#" PRIx64 "(%#" PRIx64 ", %#" PRIx64
           ", %#" PRIx64 ", %#" PRIx64 ") -> RAX %" PRId64 " (want %" PRId64 ")",
           vm->name, nr, a0, a1, a2, a3, (int64_t)h.rax, want);
}

static int enable_cap(struct kvmvm *vm, uint64_t role, uint64_t id, uint64_t manager_id)
{
    struct kvm_enable_cap cap = { .cap = ELISA_KVM_CAP, .args = { role, id, manager_id, 0 } };
    return ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0 ? -errno : 0;
}

/* ---- stage 1: real mode --------------------------------------------------- */

static int stage_real_mode(int kvm_fd)
{
    struct kvmvm vm;
    int ok = -1;
    double t0 = now_ms();

    if (kvmvm_create(&vm, kvm_fd, "real", EKB_MEM_SIZE) < 0)
        goto out;
    memcpy(vm.mem + EKB_CODE_GPA, guest_code_start, (size_t)(guest_code_end - guest_code_start));
    /* 16-bit IP: CS = the blob's paragraph, IP = the routine's offset. */
    if (kvmvm_set_real_mode(&vm, EKB_CODE_GPA, (uint16_t)(guest_real - guest_code_start)) < 0)
        goto out;
    int r1 = kvmvm_run(&vm, RUN_TIMEOUT_S);
    if (r1 == KVM_EXIT_IO)
        info("real-mode", "exit 1: IO %s port %#x size %u value %#x",
             vm.run->io.direction == KVM_EXIT_IO_OUT ? "out" : "in", vm.run->io.port, vm.run->io.size,
             *((uint8_t *)vm.run + vm.run->io.data_offset));
    else
        info("real-mode", "exit 1: %s (%d)", r1 < 0 ? "error" : kvmvm_exit_name(r1), r1);
    bool io_ok = r1 == KVM_EXIT_IO && vm.run->io.direction == KVM_EXIT_IO_OUT &&
                 vm.run->io.port == EKB_PORT_REPORT && vm.run->io.size == 1 &&
                 *((uint8_t *)vm.run + vm.run->io.data_offset) == 0x42;
    int r2 = io_ok ? kvmvm_run(&vm, RUN_TIMEOUT_S) : -1;
    if (io_ok)
        info("real-mode", "exit 2: %s (%d)", r2 < 0 ? "error" : kvmvm_exit_name(r2), r2);
    bool hlt_ok = r2 == KVM_EXIT_HLT;
    report(io_ok && hlt_ok, "real-mode", "OUT 0x42 to port %#x then HLT, %.1f ms", EKB_PORT_REPORT,
           now_ms() - t0);
    ok = io_ok && hlt_ok ? 0 : -1;
out:
    kvmvm_destroy(&vm);
    return ok;
}

/* ---- the contexts, built in the manager's RAM ----------------------------- */

struct pool {
    uint8_t *mem;        /* the manager's RAM */
    uint64_t next, end;  /* manager GPAs */
};

/* vmf_alloc callbacks: the builder's "physical" addresses are manager
 * GPAs, the only addresses MAP_CTX accepts (the host translates them). */
static void *pool_page(void *ctx, uint64_t *phys)
{
    struct pool *p = ctx;
    if (p->next >= p->end)
        return NULL;
    *phys = p->next;
    void *page = p->mem + p->next;
    memset(page, 0, EKB_PAGE);
    p->next += EKB_PAGE;
    return page;
}

static void *pool_virt(void *ctx, uint64_t phys)
{
    struct pool *p = ctx;
    if (phys < EKB_MGR_POOL_GPA || phys >= p->end)
        return NULL;
    return p->mem + phys;
}

static struct vmf_elisa elisa;   /* holds pointers into itself: not on the stack */
static struct pool pool;
static struct vmf_alloc pool_alloc = { .page = pool_page, .virt = pool_virt, .ctx = &pool };

static uint64_t gate_off(const uint8_t *sym)
{
    return (uint64_t)(sym - elisa_gate_top);
}

static int build_contexts(struct kvmvm *mgr)
{
    size_t gate_size = (size_t)(elisa_gate_end - elisa_gate_top);
    if (gate_size != VMF_GATE_SIZE) {
        report(false, "build-contexts", "gate.S is %zu bytes, want %llu", gate_size,
               (unsigned long long)VMF_GATE_SIZE);
        return -1;
    }
    /* The manager's copies: all three gate pages, with the middle page's
     * slots filled (the guest's copy never has them: it has no middle
     * page at all), the sub function, an empty stack and shared page. */
    memcpy(mgr->mem + EKB_MGR_GATE_GPA, elisa_gate_top, gate_size);
    uint64_t entry = EKB_SUB_CODE_VA, stack_top = EKB_SUB_DATA_VA + EKB_SUB_DATA_SIZE;
    memcpy(mgr->mem + EKB_MGR_GATE_GPA + gate_off(elisa_gate_sub_entry), &entry, 8);
    memcpy(mgr->mem + EKB_MGR_GATE_GPA + gate_off(elisa_gate_sub_stack), &stack_top, 8);
    memset(mgr->mem + EKB_MGR_SUB_CODE_GPA, 0xcc, EKB_PAGE);
    memcpy(mgr->mem + EKB_MGR_SUB_CODE_GPA, sub_code_start, (size_t)(sub_code_end - sub_code_start));
    memset(mgr->mem + EKB_MGR_SUB_DATA_GPA, 0, EKB_SUB_DATA_SIZE);
    memset(mgr->mem + EKB_MGR_SHARED_GPA, 0, EKB_PAGE);

    struct vmf_elisa_layout l = { 0 };
    l.ram_gpa = 0;
    l.ram_hpa = EKB_UNUSED_RAM_HPA;
    l.ram_size = EKB_MEM_SIZE;
    l.gate_gpa = EKB_GATE_GPA;
    l.gate_va = EKB_GATE_VA;
    for (unsigned i = 0; i < VMF_GATE_PAGES; i++)
        l.gate_hpa[i] = EKB_MGR_GATE_GPA + i * EKB_PAGE;
    l.sub_code_gpa = EKB_SUB_CODE_GPA;
    l.sub_code_hpa = EKB_MGR_SUB_CODE_GPA;
    l.sub_code_size = EKB_PAGE;
    l.sub_code_va = EKB_SUB_CODE_VA;
    l.shared_gpa = EKB_SHARED_GPA;
    l.shared_hpa = EKB_MGR_SHARED_GPA;
    l.shared_size = EKB_PAGE;
    l.shared_va = EKB_SHARED_VA;
    l.sub_data_gpa = EKB_SUB_DATA_GPA;
    l.sub_data_hpa = EKB_MGR_SUB_DATA_GPA;
    l.sub_data_size = EKB_SUB_DATA_SIZE;
    l.sub_data_va = EKB_SUB_DATA_VA;
    l.pt_gpa = EKB_WINDOW_GPA;
    l.pt_pages = EKB_WINDOW_PAGES;
    /* The host refuses 1 GiB leaves and makes EPTPs without A/D flags
     * (elisa/kvm/README.md "The manager's EPT"). */
    l.map_flags = VMF_MAP_NO_1G;
    l.eptp_ad = false;
    l.user_mode = false;

    pool.mem = mgr->mem;
    pool.next = EKB_MGR_POOL_GPA;
    pool.end = EKB_MGR_POOL_GPA + EKB_MGR_POOL_PAGES * EKB_PAGE;
    int rc = vmf_elisa_build(&elisa, &pool_alloc, &l);
    report(rc == VMF_OK, "build-contexts", "vmf_elisa_build: %s; gate EPT root %#" PRIx64
           ", sub EPT root %#" PRIx64 " (manager GPAs), %" PRIu64 " pool pages used",
           vmf_strerror(rc), elisa.ctx[VMF_CTX_GATE].pml4, elisa.ctx[VMF_CTX_SUB].pml4,
           (pool.next - EKB_MGR_POOL_GPA) / EKB_PAGE);
    return rc == VMF_OK ? 0 : -1;
}

/* A guest's copy of the gate: the top and bottom pages at the gate's GPA,
 * int3 in between (the default context has no gate code). */
static void install_guest_gate(struct kvmvm *g)
{
    memcpy(g->mem + EKB_GATE_GPA, elisa_gate_top, EKB_PAGE);
    memset(g->mem + EKB_GATE_GPA + EKB_PAGE, 0xcc, EKB_PAGE);
    memcpy(g->mem + EKB_GATE_GPA + 2 * EKB_PAGE, elisa_gate_top + 2 * EKB_PAGE, EKB_PAGE);
}

static uint64_t shared_u64(struct kvmvm *mgr, unsigned off)
{
    uint64_t v;
    memcpy(&v, mgr->mem + EKB_MGR_SHARED_GPA + off, 8);
    return v;
}

/* R12 gate calls from g.  The exit reason; *res = registers at the end. */
static int gate_loop(struct kvmvm *g, uint64_t calls, struct kvm_regs *res)
{
    struct kvm_regs in = { .r12 = calls, .r15 = EKB_GATE_VA };
    return run_routine(g, guest_gate_loop, &in, res);
}

/* One gate call from g, elisa_gate_call(1, 0x1001) (guest_gate_loop with
 * R12 = 1): the result and the shared page (in the manager's RAM) must
 * show that sub_entry ran once more. */
static bool gate_call_ok(const char *step, struct kvmvm *g, struct kvmvm *mgr)
{
    struct kvm_regs r;
    uint64_t calls = shared_u64(mgr, EKB_SHARED_CALLS);
    double t0 = now_ms();
    int reason = gate_loop(g, 1, &r);
    uint64_t want = 1 ^ (uint64_t)EKB_SUB_MAGIC;
    bool ok = reason == KVM_EXIT_IO && r.rbp == want && shared_u64(mgr, EKB_SHARED_CALLS) == calls + 1 &&
              shared_u64(mgr, EKB_SHARED_LAST_A0) == 1 && shared_u64(mgr, EKB_SHARED_LAST_A1) == 0x1001;
    report(ok, step, "%s: exit %s, elisa_gate_call(1, 0x1001) = %#" PRIx64 " (want %#" PRIx64
           "), shared page: calls %" PRIu64 " (was %" PRIu64 ") a0 %#" PRIx64 " a1 %#" PRIx64 ", %.1f ms",
           g->name, reason < 0 ? "error" : kvmvm_exit_name(reason), r.rbp, want,
           shared_u64(mgr, EKB_SHARED_CALLS), calls, shared_u64(mgr, EKB_SHARED_LAST_A0),
           shared_u64(mgr, EKB_SHARED_LAST_A1), now_ms() - t0);
    if (!ok && reason >= 0)
        info(step, "guest RIP %#llx RAX %#llx RCX %#llx", (unsigned long long)r.rip,
             (unsigned long long)r.rax, (unsigned long long)r.rcx);
    return ok;
}

/* KVM's per-VM statistic `name' (summed over vCPUs) from debugfs
 * (/sys/kernel/debug/kvm/<pid>-<vm fd>/<name>, kvm_create_vm_debugfs()),
 * or -1 if debugfs is not mounted. */
static int64_t vm_stat(struct kvmvm *vm, const char *name)
{
    char path[128];
    snprintf(path, sizeof(path), "/sys/kernel/debug/kvm/%d-%d/%s", (int)getpid(), vm->vm_fd, name);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long long v = -1;
    if (fscanf(f, "%lld", &v) != 1)
        v = -1;
    fclose(f);
    return v;
}

/* Add and delete a second memslot on vm: KVM drops every root of the VM. */
static int memslot_churn(struct kvmvm *vm)
{
    const uint64_t size = 0x10000;
    void *backing = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (backing == MAP_FAILED) {
        report(false, "root-reload", "mmap: %s", strerror(errno));
        return -1;
    }
    struct kvm_userspace_memory_region region = {
        .slot = 1, .guest_phys_addr = 0x1000000, .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)backing,
    };
    int add = ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -errno : 0;
    region.memory_size = 0;     /* size 0 deletes the slot */
    int del = ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0 ? -errno : 0;
    munmap(backing, size);
    report(add == 0 && del == 0, "root-reload", "%s: memslot 1 added (%d) and deleted (%d)", vm->name, add, del);
    return add == 0 && del == 0 ? 0 : -1;
}

/* ---- stages 2-4 ------------------------------------------------------------ */

static int stage_elisa(int kvm_fd)
{
    struct kvmvm mgr, g, u, plain;
    int rc = -1;
    memset(&mgr, 0, sizeof(mgr));
    mgr.vm_fd = mgr.vcpu_fd = -1;
    g = u = plain = mgr;

    if (kvmvm_create(&mgr, kvm_fd, "manager", EKB_MEM_SIZE) < 0 ||
        kvmvm_create(&g, kvm_fd, "guest12", EKB_MEM_SIZE) < 0 ||
        kvmvm_create(&u, kvm_fd, "guest13", EKB_MEM_SIZE) < 0 ||
        kvmvm_create(&plain, kvm_fd, "norole", EKB_MEM_SIZE) < 0) {
        report(false, "vms", "could not create the four VMs");
        goto out;
    }
    struct kvmvm *all[] = { &mgr, &g, &u, &plain };
    for (unsigned i = 0; i < 4; i++) {
        memcpy(all[i]->mem + EKB_CODE_GPA, guest_code_start, (size_t)(guest_code_end - guest_code_start));
        if (kvmvm_set_long_mode(all[i], EKB_PT_GPA) < 0)
            goto out;
    }
    install_guest_gate(&g);
    install_guest_gate(&u);

    /* --- stage 2: roles ---------------------------------------------------- */
    int has = ioctl(mgr.vm_fd, KVM_CHECK_EXTENSION, ELISA_KVM_CAP);
    report(has == 1, "elisa-cap", "KVM_CHECK_EXTENSION(%#x) on a VM fd = %d (1: kvm_intel found EPT, "
           "VM functions, EPTP switching, 4-level walks, WB)", ELISA_KVM_CAP, has);
    if (has != 1)
        goto out;
    int e1 = enable_cap(&mgr, ELISA_ROLE_MANAGER, 7, 0);
    int e2 = enable_cap(&g, ELISA_ROLE_GUEST, 12, 7);
    int e3 = enable_cap(&u, ELISA_ROLE_GUEST, 13, 7);
    report(e1 == 0 && e2 == 0 && e3 == 0, "roles", "KVM_ENABLE_CAP: manager id 7 -> %d, guest id 12 "
           "(manager 7) -> %d, guest id 13 (manager 7) -> %d", e1, e2, e3);
    if (e1 || e2 || e3)
        goto out;
    int again = enable_cap(&mgr, ELISA_ROLE_MANAGER, 8, 0);
    int dup = enable_cap(&plain, ELISA_ROLE_MANAGER, 7, 0);
    int badrole = enable_cap(&plain, 3, 20, 0);
    report(again == -EBUSY && dup == -EEXIST && badrole == -EINVAL, "roles-refused",
           "second role %d (want -EBUSY %d), id 7 taken %d (want -EEXIST %d), role 3 %d (want -EINVAL %d)",
           again, -EBUSY, dup, -EEXIST, badrole, -EINVAL);

    /* --- stage 3: hypercalls ------------------------------------------------ */
    struct hc h;
    double t0 = now_ms();
    if (hypercall(&mgr, ELISA_HC_QUERY, 0, 0, 0, 0, &h) < 0) {
        report(false, "query-manager", "the manager's VMCALL did not return");
        goto out;
    }
    report(h.rax == 0 && h.rbx == ELISA_ABI_VERSION && (h.rcx & ELISA_FEAT_EPTP_SWITCHING) &&
           h.rdx == ((uint64_t)ELISA_ROLE_MANAGER << 16 | 7) &&
           h.rsi == ((uint64_t)ELISA_MAX_TABLES_PER_CTX << 32 | ELISA_MAX_PAGES_PER_VCPU),
           "query-manager", "RAX %#" PRIx64 " RBX (ABI) %" PRIu64 " RCX (features) %#" PRIx64
           " RDX (role<<16|id) %#" PRIx64 " RSI %#" PRIx64 ", %.1f ms", h.rax, h.rbx, h.rcx, h.rdx,
           h.rsi, now_ms() - t0);
    if (hypercall(&g, ELISA_HC_QUERY, 0, 0, 0, 0, &h) < 0) {
        report(false, "query-guest", "the guest's VMCALL did not return");
        goto out;
    }
    report(h.rax == 0 && h.rdx == ((uint64_t)ELISA_ROLE_GUEST << 16 | 12), "query-guest",
           "RAX %#" PRIx64 " RDX (role<<16|id) %#" PRIx64, h.rax, h.rdx);
    /* A VM without a role: KVM's kvm_emulate_hypercall() answers an
     * unknown number with -KVM_ENOSYS (1000, include/uapi/linux/kvm_para.h). */
    expect_hc("query-norole", &plain, ELISA_HC_QUERY, 0, 0, 0, 0, -1000);
    expect_hc("map-by-guest", &g, ELISA_HC_MAP_CTX, 12, 0, 1, EKB_MGR_POOL_GPA, -ELISA_E_PERM);
    expect_hc("map-index-0", &mgr, ELISA_HC_MAP_CTX, 12, 0, 0, EKB_MGR_POOL_GPA, -ELISA_E_INDEX);
    expect_hc("map-unknown-vm", &mgr, ELISA_HC_MAP_CTX, 99, 0, 1, EKB_MGR_POOL_GPA, -ELISA_E_NOVM);
    expect_hc("map-vm-id-0", &mgr, ELISA_HC_MAP_CTX, 0, 0, 1, EKB_MGR_POOL_GPA, -ELISA_E_NOVM);
    expect_hc("map-misaligned", &mgr, ELISA_HC_MAP_CTX, 12, 0, 1, EKB_MGR_POOL_GPA + 8, -ELISA_E_ALIGN);
    expect_hc("map-no-vcpu", &mgr, ELISA_HC_MAP_CTX, 12, 5, 1, EKB_MGR_POOL_GPA, -ELISA_E_NOVCPU);
    expect_hc("map-not-owner", &mgr, ELISA_HC_MAP_CTX, 12, 0, 1, EKB_UNUSED_RAM_HPA, -ELISA_E_OWNER);
    expect_hc("map-reserved-arg", &mgr, ELISA_HC_ENABLE, 12, 0, 1, 0, -ELISA_E_INVAL);

    /* --- stage 4: the gate --------------------------------------------------- */
    if (build_contexts(&mgr) < 0)
        goto out;
    t0 = now_ms();
    expect_hc("map-gate", &mgr, ELISA_HC_MAP_CTX, 12, 0, VMF_CTX_GATE, elisa.ctx[VMF_CTX_GATE].pml4, 0);
    expect_hc("map-sub", &mgr, ELISA_HC_MAP_CTX, 12, 0, VMF_CTX_SUB, elisa.ctx[VMF_CTX_SUB].pml4, 0);
    expect_hc("enable", &mgr, ELISA_HC_ENABLE, 12, 0, 0, 0, 0);
    info("map-enable", "MAP_CTX x2 + ENABLE took %.1f ms", now_ms() - t0);
    if (failed)
        goto out;

    struct kvm_regs r;
    int reason;
    uint64_t want = 1 ^ (uint64_t)EKB_SUB_MAGIC;

    /* What a TSC tick is worth: on Bochs (clock sync=none) the TSC counts
     * instructions, so the loop of DEC+JNZ should cost 2 ticks a turn. */
    struct kvm_regs spin_in = { .r12 = 100000 };
    if (run_routine(&g, guest_spin_loop, &spin_in, &r) == KVM_EXIT_IO)
        info("tsc", "%.2f TSC ticks per instruction (a loop of 100000 x DEC+JNZ took %llu ticks)",
             (double)(r.r14 - r.r13) / 200000.0, (unsigned long long)(r.r14 - r.r13));

    if (!gate_call_ok("gate-call", &g, &mgr))
        goto out;

    int64_t exits0 = vm_stat(&g, "exits");
    t0 = now_ms();
    reason = gate_loop(&g, LOOP_CALLS, &r);
    double gate_ms = now_ms() - t0;
    int64_t gate_exits = vm_stat(&g, "exits") - exits0;
    uint64_t gate_ticks = r.r14 - r.r13;
    report(reason == KVM_EXIT_IO && shared_u64(&mgr, EKB_SHARED_CALLS) == 1 + LOOP_CALLS &&
           r.rbp == want, "gate-loop",
           "%d calls: shared count %" PRIu64 " (want %d), last result %#" PRIx64 "; %" PRIu64
           " TSC ticks per call, %.1f ms in all",
           LOOP_CALLS, shared_u64(&mgr, EKB_SHARED_CALLS), 1 + LOOP_CALLS, r.rbp,
           gate_ticks / LOOP_CALLS, gate_ms);
    /* Exit-less: the calls themselves cause no VM exit; the few counted
     * are the run's own (the final OUT, the host's timer interrupts). */
    if (exits0 >= 0)
        report(gate_exits >= 0 && gate_exits < LOOP_CALLS / 100, "gate-exitless",
               "VM exits of guest 12 during the %d gate calls: %" PRId64 " (KVM's \"exits\" counter, debugfs)",
               LOOP_CALLS, gate_exits);

    struct kvm_regs in = { .r12 = LOOP_CALLS };
    exits0 = vm_stat(&g, "exits");
    t0 = now_ms();
    reason = run_routine(&g, guest_vmcall_loop, &in, &r);
    double vmcall_ms = now_ms() - t0;
    int64_t vmcall_exits = vm_stat(&g, "exits") - exits0;
    uint64_t vmcall_ticks = r.r14 - r.r13;
    /* The counter's own check: every VMCALL is an exit. */
    report(reason == KVM_EXIT_IO && r.rbp == 0 && (exits0 < 0 || vmcall_exits >= LOOP_CALLS), "vmcall-loop", "%d QUERY VMCALLs from guest 12: last RAX %"
           PRId64 "; %" PRIu64 " TSC ticks per call, %.1f ms in all, %" PRId64 " VM exits", LOOP_CALLS,
           (int64_t)r.rbp, vmcall_ticks / LOOP_CALLS, vmcall_ms, exits0 >= 0 ? vmcall_exits : -1);
    if (gate_ticks)
        info("ratio", "a VMCALL round trip costs %.1f gate round trips here (emulated: Bochs counts "
             "a VM exit or entry as one instruction, real CPUs take hundreds of cycles)",
             (double)vmcall_ticks / (double)gate_ticks);

    /* EPTP-list entry 0 must follow KVM's root.  Deleting a memslot makes
     * every root of the VM obsolete in 6.1 (kvm_mmu_zap_all_fast); the
     * next entry loads a new one (vmx_load_mmu_pgd, where the patch
     * rewrites list[0]).  With a stale list[0] the gate's last
     * VMFUNC(0, 0) would return to the old, zapped root: an EPT violation
     * under an EPTP that is not KVM's, which the host answers with a
     * shutdown (elisa_fault_in_context), not with the IO exit wanted. */
    if (memslot_churn(&g) == 0)
        gate_call_ok("gate-after-root-reload", &g, &mgr);

    /* Replacing a live context: the old copy is retired and freed once
     * the vCPU has entered again (elisa_reclaim at the next manager call). */
    expect_hc("remap-gate", &mgr, ELISA_HC_MAP_CTX, 12, 0, VMF_CTX_GATE, elisa.ctx[VMF_CTX_GATE].pml4, 0);
    gate_call_ok("gate-after-remap", &g, &mgr);
    expect_hc("remap-sub", &mgr, ELISA_HC_MAP_CTX, 12, 0, VMF_CTX_SUB, elisa.ctx[VMF_CTX_SUB].pml4, 0);
    gate_call_ok("gate-after-remap2", &g, &mgr);

    /* Controls: without contexts, or after DISABLE, the same gate call must
     * not reach sub_entry: VMFUNC exits (26.5.5.3), KVM injects #UD, and
     * with an empty IDT the guest triple-faults. */
    uint64_t vmfunc_top = EKB_GATE_VA + EKB_PAGE - 3;
    uint64_t calls_before = shared_u64(&mgr, EKB_SHARED_CALLS);
    reason = gate_loop(&u, 1, &r);
    report(reason == KVM_EXIT_SHUTDOWN && r.rip == vmfunc_top &&
           shared_u64(&mgr, EKB_SHARED_CALLS) == calls_before,
           "gate-without-contexts", "guest 13 (no MAP_CTX/ENABLE): exit %s (want SHUTDOWN), RIP %#llx "
           "(want the top page's VMFUNC, %#llx), shared count unchanged: %s",
           reason < 0 ? "error" : kvmvm_exit_name(reason), (unsigned long long)r.rip,
           (unsigned long long)vmfunc_top, shared_u64(&mgr, EKB_SHARED_CALLS) == calls_before ? "yes" : "no");

    expect_hc("disable", &mgr, ELISA_HC_DISABLE, 12, 0, 0, 0, 0);
    reason = gate_loop(&g, 1, &r);
    report(reason == KVM_EXIT_SHUTDOWN && r.rip == vmfunc_top &&
           shared_u64(&mgr, EKB_SHARED_CALLS) == calls_before,
           "gate-after-disable", "guest 12 after DISABLE: exit %s (want SHUTDOWN), RIP %#llx (want %#llx)",
           reason < 0 ? "error" : kvmvm_exit_name(reason), (unsigned long long)r.rip,
           (unsigned long long)vmfunc_top);

    /* The contexts stayed: ENABLE again and the gate works again (the
     * vCPU is re-entered after its shutdown with fresh registers). */
    expect_hc("re-enable", &mgr, ELISA_HC_ENABLE, 12, 0, 0, 0, 0);
    gate_call_ok("gate-after-re-enable", &g, &mgr);

    /* An emptied index: VMFUNC(0, SUB) in the middle page (GATE context)
     * exits, so the guest dies inside the gate context... */
    expect_hc("unmap-sub", &mgr, ELISA_HC_UNMAP_CTX, 12, 0, VMF_CTX_SUB, 0, 0);
    calls_before = shared_u64(&mgr, EKB_SHARED_CALLS);
    reason = gate_loop(&g, 1, &r);
    report(reason == KVM_EXIT_SHUTDOWN && r.rip >= EKB_GATE_VA + EKB_PAGE &&
           r.rip < EKB_GATE_VA + 2 * EKB_PAGE && shared_u64(&mgr, EKB_SHARED_CALLS) == calls_before,
           "gate-after-unmap-sub", "exit %s (want SHUTDOWN), RIP %#llx (want in the middle page %#llx..)",
           reason < 0 ? "error" : kvmvm_exit_name(reason), (unsigned long long)r.rip,
           (unsigned long long)(EKB_GATE_VA + EKB_PAGE));
    /* ...and TEARDOWN must bring its vCPU back to its own EPT: code at
     * EKB_CODE_GPA is not mapped in the gate context, so the QUERY below
     * only returns if the host moved the vCPU off the dead context. */
    expect_hc("teardown", &mgr, ELISA_HC_TEARDOWN, 12, ELISA_VCPU_ALL, 0, 0, 0);
    expect_hc("query-after-teardown", &g, ELISA_HC_QUERY, 0, 0, 0, 0, 0);
    reason = gate_loop(&g, 1, &r);
    report(reason == KVM_EXIT_SHUTDOWN && r.rip == vmfunc_top, "gate-after-teardown",
           "exit %s (want SHUTDOWN), RIP %#llx (want %#llx)", reason < 0 ? "error" : kvmvm_exit_name(reason),
           (unsigned long long)r.rip, (unsigned long long)vmfunc_top);

    /* A fault inside a context is fatal to the guest, never a loop or a
     * problem for the host (elisa_fault_in_context): a broken gate whose
     * middle page jumps to the sub code WITHOUT switching to SUB fetches
     * sub_code_va in the GATE context, where that GPA is the anywhere
     * root, readable but not executable: an EPT violation KVM's MMU could
     * not fix.  The manager patches its own middle page in place (MAP_CTX
     * copied the tables, not the pages: the pinned page is the same). */
    static const uint8_t broken_middle[] = {
        0xfa,                                   /* cli */
        0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,     /* movabs $EKB_SUB_CODE_VA, %rax */
        0xff, 0xe0,                             /* jmp *%rax */
    };
    uint8_t *middle = mgr.mem + EKB_MGR_GATE_GPA + EKB_PAGE;
    uint64_t target = EKB_SUB_CODE_VA;
    memcpy(middle, broken_middle, sizeof(broken_middle));
    memcpy(middle + 3, &target, 8);
    expect_hc("map-broken-gate", &mgr, ELISA_HC_MAP_CTX, 12, 0, VMF_CTX_GATE, elisa.ctx[VMF_CTX_GATE].pml4, 0);
    expect_hc("map-sub-again", &mgr, ELISA_HC_MAP_CTX, 12, 0, VMF_CTX_SUB, elisa.ctx[VMF_CTX_SUB].pml4, 0);
    expect_hc("enable-again", &mgr, ELISA_HC_ENABLE, 12, 0, 0, 0, 0);
    calls_before = shared_u64(&mgr, EKB_SHARED_CALLS);
    t0 = now_ms();
    reason = gate_loop(&g, 1, &r);
    report(reason == KVM_EXIT_SHUTDOWN && r.rip == EKB_SUB_CODE_VA &&
           shared_u64(&mgr, EKB_SHARED_CALLS) == calls_before, "fault-in-context",
           "broken gate: exit %s (want SHUTDOWN), RIP %#llx (want the sub code %#llx, fetched in the GATE "
           "context), %.1f ms", reason < 0 ? "error" : kvmvm_exit_name(reason), (unsigned long long)r.rip,
           (unsigned long long)EKB_SUB_CODE_VA, now_ms() - t0);
    expect_hc("teardown-again", &mgr, ELISA_HC_TEARDOWN, 12, ELISA_VCPU_ALL, 0, 0, 0);
    expect_hc("query-after-fault", &g, ELISA_HC_QUERY, 0, 0, 0, 0, 0);
    rc = 0;
out:
    kvmvm_destroy(&plain);
    kvmvm_destroy(&u);
    kvmvm_destroy(&g);
    kvmvm_destroy(&mgr);
    return rc;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    double t0 = now_ms();
    int kvm_fd = kvmvm_open_dev();
    if (kvm_fd < 0)
        return 1;
    report(true, "kvm-open", "/dev/kvm API version %d", KVM_API_VERSION);
    /* Independent: stage 2-4 guests start in 64-bit mode directly. */
    stage_real_mode(kvm_fd);
    stage_elisa(kvm_fd);
    close(kvm_fd);
    info("kvmguest", "%d failed checks, %.1f ms", failed, now_ms() - t0);
    return failed > 255 ? 255 : failed;
}
