/* elisa/vmm/vcpu_loop.c - one thread per guest vCPU: KVM_RUN until the
 * guest reports DONE, breaks a rule, or the watchdog stops it, and every
 * exit in between.
 *
 * The guest is untrusted: each exit it can cause either is one of the few
 * this VMM serves (a store to the MMIO doorbell or the device page, OUT to
 * the doorbell or null port; CONTROL DONE ends the VM) or stops this VM - only this VM: the error is kept in
 * vm->error for the summary, the thread returns, the other VMs' threads
 * go on.  Nothing a guest does ends the process.
 *
 * Stopping a vCPU from outside (the watchdog): set stop_requested, set
 * kvm_run.immediate_exit, then signal the thread.  A thread inside KVM_RUN
 * gets -EINTR from the signal; a thread about to enter it gets -EINTR at
 * once from immediate_exit (KVM_CAP_IMMEDIATE_EXIT, api.rst), so the
 * request cannot slip between the check and the ioctl.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vmm.h"
#include "../guest/elisa_guest.h"

#define VMM_KICK_SIGNAL SIGUSR1
#define VMM_CONSOLE_LINES_MAX 64     /* a guest cannot flood the output */

static pthread_mutex_t say_lock = PTHREAD_MUTEX_INITIALIZER;

uint64_t vmm_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void vmm_say(const struct vmm_vm *vm, const char *fmt, ...)
{
    va_list ap;
    pthread_mutex_lock(&say_lock);
    printf("guest %u: ", vm->index);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
    pthread_mutex_unlock(&say_lock);
}

static void kick_handler(int sig)
{
    (void)sig;   /* only there to make KVM_RUN return -EINTR */
}

int vmm_vcpu_signals_init(char *err, size_t n)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kick_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;              /* no SA_RESTART: KVM_RUN must return */
    if (sigaction(VMM_KICK_SIGNAL, &sa, NULL) != 0) {
        snprintf(err, n, "sigaction(SIGUSR1): %s", strerror(errno));
        return -1;
    }
    return 0;
}

void vmm_vcpu_request_stop(struct vmm_vm *vm)
{
    /* Release: the vCPU thread that sees the flag also sees stop_reason. */
    __atomic_store_n(&vm->stop_requested, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&vm->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (vm->thread_started)
        pthread_kill(vm->thread, VMM_KICK_SIGNAL);
}

static uint64_t guest_rip(const struct vmm_vm *vm)
{
    struct kvm_regs r;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0)
        return 0;
    return r.rip;
}

__attribute__((format(printf, 2, 3)))
static void fail(struct vmm_vm *vm, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(vm->error, sizeof vm->error, fmt, ap);
    va_end(ap);
    vm->state = VMM_VM_FAILED;
}

static void console_byte(struct vmm_vm *vm, uint8_t c)
{
    if (c != '\n' && vm->con_len < sizeof vm->con_line - 1) {
        vm->con_line[vm->con_len++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
        return;
    }
    vm->con_line[vm->con_len] = 0;
    vm->con_len = 0;
    if (vm->con_lines < VMM_CONSOLE_LINES_MAX)
        vmm_say(vm, "%s", vm->con_line);
    else if (vm->con_lines == VMM_CONSOLE_LINES_MAX)
        vmm_say(vm, "(more console output suppressed)");
    vm->con_lines++;
    if (c != '\n')
        console_byte(vm, c);      /* the byte that did not fit starts the next line */
}

/* A CONTROL store (vmm_boot.h).  Returns 0 to go on, -1 to stop. */
static int control(struct vmm_vm *vm, uint32_t v)
{
    uint32_t code = v & 0xff, arg = v >> 8;
    switch (code) {
    case ELISA_VMM_CTL_DONE:
        /* The report is final and the guest has nothing left to do: the
         * VM ends here (a CPL-3 guest could not even HLT). */
        memcpy(&vm->report, vm->ram + ELISA_VMM_REPORT_GPA, sizeof vm->report);
        vm->reported = 1;
        vm->state = VMM_VM_DONE;
        return -1;
    case ELISA_VMM_CTL_MARK:
        if (arg < 4) {
            vm->mark_ns[arg] = vmm_now_ns();
            vm->marks_seen |= 1u << arg;
        }
        return 0;
    case ELISA_VMM_CTL_YIELD:
        vm->yields++;
        sched_yield();
        return 0;
    case ELISA_VMM_CTL_NULL:
        vm->null_exits++;
        return 0;
    default:
        fail(vm, "control code %u (0x%x stored at GPA 0x%llx) unknown; VM stopped", code, v,
             (unsigned long long)(ELISA_VMM_DEVICE_GPA + ELISA_VMM_DEV_CONTROL));
        return -1;
    }
}

static int ring_doorbell(struct vmm_vm *vm, uint32_t v)
{
    char err[VMM_ERR];
    if (vmm_doorbell(vm, v, err, sizeof err) != 0) {
        fail(vm, "%s", err);
        return -1;
    }
    return 0;
}

static int port_io(struct vmm_vm *vm)
{
    struct kvm_run *run = vm->run;
    uint16_t port = run->io.port;
    uint32_t size = run->io.size, count = run->io.count;
    uint64_t off = run->io.data_offset;
    vm->io_exits++;
    if (run->io.direction != KVM_EXIT_IO_OUT) {
        fail(vm, "IN (%u bytes) from port 0x%x: this VMM serves only OUT; VM stopped", size, port);
        return -1;
    }
    if (count != 1) {
        fail(vm, "string OUT (rep outs, %u items) to port 0x%x: not served; VM stopped", count, port);
        return -1;
    }
    if ((size != 1 && size != 2 && size != 4) || off + size > (uint64_t)vm->run_size) {
        fail(vm, "OUT of %u bytes at kvm_run offset %llu: impossible; VM stopped", size,
             (unsigned long long)off);
        return -1;
    }
    uint32_t v = 0;
    memcpy(&v, (const uint8_t *)run + off, size);   /* x86: little-endian, low bytes first */

    /* VMFUNC mode has no doorbell: the guest enters the sub context itself. */
    if (vm->at.mode == ELISA_MODE_EXIT && vm->at.doorbell != ELISA_DOORBELL_MMIO && port == vm->at.doorbell &&
        size == 4)
        return ring_doorbell(vm, v);
    if (port == ELISA_VMM_PORT_NULL && size == 4) {
        vm->null_exits++;
        return 0;
    }
    fail(vm, "OUT of %u bytes (0x%x) to port 0x%x, which this VMM does not serve (doorbell port 0x%x, "
         "null port 0x%x, 4 bytes each); VM stopped", size, v, port, vm->at.doorbell, ELISA_VMM_PORT_NULL);
    return -1;
}

static int mmio(struct vmm_vm *vm)
{
    struct kvm_run *run = vm->run;
    uint64_t gpa = run->mmio.phys_addr;
    uint32_t len = run->mmio.len;
    vm->mmio_exits++;
    if (!run->mmio.is_write || len == 0 || len > 8) {
        fail(vm, "%s of %u bytes at GPA 0x%llx (RIP 0x%llx): no memory there, and this VMM serves only "
             "stores to its doorbell and device page; VM stopped", run->mmio.is_write ? "write" : "read", len,
             (unsigned long long)gpa, (unsigned long long)guest_rip(vm));
        return -1;
    }
    uint64_t v = 0;
    memcpy(&v, run->mmio.data, len);                /* little-endian, low bytes first */

    if (vm->at.mode == ELISA_MODE_EXIT && vm->at.doorbell == ELISA_DOORBELL_MMIO &&
        gpa == vm->at.gate_gpa + ELISA_MB_DOORBELL && len == 4)
        return ring_doorbell(vm, (uint32_t)v);
    if (gpa == ELISA_VMM_DEVICE_GPA + ELISA_VMM_DEV_CONTROL && len == 4)
        return control(vm, (uint32_t)v);
    if (gpa == ELISA_VMM_DEVICE_GPA + ELISA_VMM_DEV_CONSOLE && len == 1) {
        console_byte(vm, (uint8_t)v);
        return 0;
    }
    fail(vm, "write of %u bytes (0x%llx) at GPA 0x%llx (RIP 0x%llx), where this VMM serves nothing "
         "(doorbell 0x%llx, control 0x%llx: 4 bytes; console 0x%llx: 1 byte); VM stopped", len,
         (unsigned long long)v, (unsigned long long)gpa, (unsigned long long)guest_rip(vm),
         (unsigned long long)(vm->at.gate_gpa + ELISA_MB_DOORBELL),
         (unsigned long long)(ELISA_VMM_DEVICE_GPA + ELISA_VMM_DEV_CONTROL),
         (unsigned long long)(ELISA_VMM_DEVICE_GPA + ELISA_VMM_DEV_CONSOLE));
    return -1;
}

/* For a triple fault: was the guest at an IN/OUT instruction?  On PVM an
 * I/O instruction at CPL 3 raises #GP whatever IOPL says. */
static int at_port_io(const struct vmm_vm *vm, uint64_t rip)
{
    if (rip < ELISA_VMM_PAGE || rip >= ELISA_VMM_RAM_SIZE)
        return 0;
    uint8_t op = vm->ram[rip];
    return (op >= 0xe4 && op <= 0xe7) || (op >= 0xec && op <= 0xef);
}

static int handle_exit(struct vmm_vm *vm)
{
    struct kvm_run *run = vm->run;
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        return port_io(vm);
    case KVM_EXIT_MMIO:
        return mmio(vm);
    case KVM_EXIT_HLT:
        fail(vm, "halted at RIP 0x%llx without reporting (no CONTROL DONE); see its console lines",
             (unsigned long long)guest_rip(vm));
        return -1;
    case KVM_EXIT_SHUTDOWN: {
        uint64_t rip = guest_rip(vm);
        if (vm->cpl == 3 && at_port_io(vm, rip))
            fail(vm, "triple fault at an IN/OUT instruction (RIP 0x%llx) at CPL 3: this KVM does not allow "
                 "port I/O in user mode (PVM ignores IOPL); use --cpl 0 or the MMIO doorbell; VM stopped",
                 (unsigned long long)rip);
        else
            fail(vm, "triple fault (an exception, and this guest has no IDT) near RIP 0x%llx; VM stopped",
                 (unsigned long long)rip);
        return -1;
    }
    case KVM_EXIT_FAIL_ENTRY:
        fail(vm, "KVM could not enter the guest (hardware entry failure reason 0x%llx); VM stopped",
             (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        return -1;
    case KVM_EXIT_INTERNAL_ERROR:
        fail(vm, "KVM internal error, suberror %u, at RIP 0x%llx; VM stopped", run->internal.suberror,
             (unsigned long long)guest_rip(vm));
        return -1;
    default:
        fail(vm, "unexpected KVM exit reason %u at RIP 0x%llx; VM stopped", run->exit_reason,
             (unsigned long long)guest_rip(vm));
        return -1;
    }
}

void *vmm_vcpu_thread(void *arg)
{
    struct vmm_vm *vm = arg;
    for (;;) {
        if (__atomic_load_n(&vm->stop_requested, __ATOMIC_ACQUIRE)) {
            if (vm->stop_reason[0] != 0)
                fail(vm, "%s, last at RIP 0x%llx; VM stopped", vm->stop_reason,
                     (unsigned long long)guest_rip(vm));
            else
                fail(vm, "still running when the time limit ran out (--timeout), last at RIP 0x%llx; "
                     "VM stopped", (unsigned long long)guest_rip(vm));
            break;
        }
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            fail(vm, "KVM_RUN: %s; VM stopped", strerror(errno));
            break;
        }
        vm->exits++;
        if (handle_exit(vm) != 0)
            break;
    }
    if (vm->con_len != 0)
        console_byte(vm, '\n');
    /* A VM stopped before DONE: its report page as it stands, for the
     * summary's counts (the guest's numbers, as untrusted as ever). */
    if (!vm->reported)
        memcpy(&vm->report, vm->ram + ELISA_VMM_REPORT_GPA, sizeof vm->report);
    return NULL;
}
