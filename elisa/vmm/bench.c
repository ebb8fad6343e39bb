/* elisa/vmm/bench.c - the numbers of `elisa-vmm --bench nop`: the guest's
 * timestamp marks (nop_bench.c) turned into nanoseconds per exit-based
 * round trip and per bare exit, and, for scale, the same elisa_call in
 * LOCAL mode inside this process (the user-space build of the guest
 * library calling the same mapped nop app: what a call costs with no
 * exit at all).
 *
 * The marks are taken by the VMM thread at the CONTROL exits that bracket
 * each loop (CLOCK_MONOTONIC), so each interval holds M round trips plus
 * one mark exit: divided by M, the error is one exit in M.
 */
#include <stdio.h>

#include "options.h"
#include "../guest/elisa_guest.h"

static double per_op(uint64_t t0, uint64_t t1, uint64_t ops)
{
    return ops ? (double)(t1 - t0) / (double)ops : 0.0;
}

/* LOCAL mode: no VM, the app called through the same API. */
static int bench_local(const struct vmm_opts *o, const struct vmm_vm *vm, double *ns)
{
    struct elisa_ctx c;
    if (elisa_ctx_local(&c, vm->app->entry, &vm->env) != 0)
        return -1;
    elisa_set_current(&c);
    uint64_t bad = 0;
    uint64_t t0 = vmm_now_ns();
    for (uint64_t i = 0; i < o->local_calls; i++)
        bad += elisa_call(ELISA_NOP_ECHO, i) != i;
    uint64_t t1 = vmm_now_ns();
    elisa_set_current(NULL);
    *ns = per_op(t0, t1, o->local_calls);
    return bad == 0 ? 0 : -1;
}

int vmm_summary_bench(const struct vmm_opts *o, struct vmm_vm *vms, uint32_t n)
{
    int status = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct vmm_vm *vm = &vms[i];
        const struct elisa_vmm_report *r = &vm->report;
        if (vm->state != VMM_VM_DONE) {
            printf("guest %u: FAILED: %s\n", i, vm->error[0] ? vm->error : "did not finish");
            status = 1;
            continue;
        }
        if (vm->marks_seen != 0xf || r->magic != ELISA_VMM_REPORT_MAGIC) {
            printf("guest %u: FAILED: marks or report missing (marks 0x%x)\n", i, vm->marks_seen);
            status = 1;
            continue;
        }
        if (r->mismatches != 0 || r->calls != o->calls || vm->doorbells != o->calls ||
            vm->null_exits != o->calls) {
            printf("guest %u: FAILED: %llu of %llu echoes wrong; VMM served %llu doorbells and %llu bare exits, "
                   "expected %llu each\n", i, (unsigned long long)r->mismatches, (unsigned long long)o->calls,
                   (unsigned long long)vm->doorbells, (unsigned long long)vm->null_exits,
                   (unsigned long long)o->calls);
            status = 1;
            continue;
        }
        double call = per_op(vm->mark_ns[0], vm->mark_ns[1], o->calls);
        double bare = per_op(vm->mark_ns[2], vm->mark_ns[3], o->calls);
        printf("guest %u: exit-based elisa_call round trip (app %s, %s doorbell, CPL %u): %.0f ns per call "
               "over %llu calls, every echo checked\n", i, vm->app->name,
               vm->at.doorbell == ELISA_DOORBELL_MMIO ? "MMIO" : "port", vm->cpl, call,
               (unsigned long long)o->calls);
        printf("guest %u: bare %s exit to the VMM and back (no app): %.0f ns per exit over %llu exits\n",
               i, vm->at.doorbell == ELISA_DOORBELL_MMIO ? "MMIO" : "port-I/O", bare,
               (unsigned long long)o->calls);
        printf("guest %u: the call's share beyond the bare exit (mailbox, sequence check, app): %.0f ns\n", i,
               call - bare);
    }
    if (status == 0 && n > 0 && o->local_calls > 0) {
        double local;
        if (bench_local(o, &vms[0], &local) != 0) {
            printf("LOCAL mode: FAILED: the app's echo came back wrong\n");
            status = 1;
        } else {
            printf("LOCAL-mode elisa_call in the VMM process (same app, no VM): %.1f ns per call over %llu calls\n",
                   local, (unsigned long long)o->local_calls);
        }
    }
    printf("elisa-vmm: %s\n", status == 0 ? "bench passed" : "FAILED (see the lines above)");
    return status;
}
