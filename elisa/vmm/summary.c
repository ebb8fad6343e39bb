/* elisa/vmm/summary.c - after a pingpong run: one line per guest with its
 * own report, the switch's counters for its port, and every check that
 * failed; then the totals.  The guest's report is untrusted data: it is
 * only compared with what the VMM knows independently (the parameters it
 * gave, the vmnet counters the switch kept in memory no guest can write,
 * its own counts of exits).
 *
 * Checks for a well-behaved guest of a pair: it finished (CONTROL DONE); it checked K frames (echoer) or K replies (sender) with
 * no mismatch, nothing lost, no call error; the switch counted
 * tx_frames = what it says it sent and rx_frames = what it says it took
 * from its RX ring, and no drop or index error on its port.  A hostile
 * guest must show exactly the effect its act should have (and nothing on
 * the other ports), or be stopped with an error if its act breaks the
 * exit protocol.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "options.h"
#include "../vmnet/vmnet.h"
#include "../guest/elisa_guest.h"

struct problems {
    char text[512];
    size_t len;
    int count;
};

__attribute__((format(printf, 2, 3)))
static void problem(struct problems *p, const char *fmt, ...)
{
    va_list ap;
    if (p->len < sizeof p->text) {
        int w = snprintf(p->text + p->len, sizeof p->text - p->len, "%s", p->count ? "; " : "");
        if (w > 0)
            p->len += (size_t)w;
    }
    if (p->len < sizeof p->text) {
        va_start(ap, fmt);
        int w = vsnprintf(p->text + p->len, sizeof p->text - p->len, fmt, ap);
        va_end(ap);
        if (w > 0)
            p->len += (size_t)w;
    }
    if (p->len >= sizeof p->text)
        p->len = sizeof p->text - 1;
    p->count++;
}

static uint64_t drops(const struct vmnet_port_stats *s)
{
    return s->drop_tx_len + s->drop_tx_src + s->drop_filtered + s->drop_rx_full + s->drop_rx_index +
           s->err_tx_index;
}

static void check_pair_member(const struct vmm_opts *o, const struct vmm_vm *vm,
                              const struct vmnet_port_stats *st, int have_stats, struct problems *p)
{
    const struct elisa_vmm_report *r = &vm->report;
    if (r->mismatches)
        problem(p, "%llu mismatching frames", (unsigned long long)r->mismatches);
    if (r->lost)
        problem(p, "%llu frames lost", (unsigned long long)r->lost);
    if (r->call_errors)
        problem(p, "%llu call errors", (unsigned long long)r->call_errors);
    if (r->frames_checked != o->frames)
        problem(p, "checked %llu frames, expected %u", (unsigned long long)r->frames_checked, o->frames);
    if (r->frames_sent != o->frames)
        problem(p, "sent %llu frames, expected %u", (unsigned long long)r->frames_sent, o->frames);
    if (!have_stats)
        return;
    if (st->tx_frames != r->frames_sent)
        problem(p, "switch counted tx %llu, guest says it sent %llu", (unsigned long long)st->tx_frames,
                (unsigned long long)r->frames_sent);
    if (st->rx_frames != r->frames_received)
        problem(p, "switch counted rx %llu, guest says it received %llu", (unsigned long long)st->rx_frames,
                (unsigned long long)r->frames_received);
    if (drops(st))
        problem(p, "%llu drops/errors on its port", (unsigned long long)drops(st));
    /* Every switched frame of ours is one doorbell that consumed it. */
    if (vm->doorbells != r->calls)
        problem(p, "VMM served %llu doorbells, guest says it called %llu", (unsigned long long)vm->doorbells,
                (unsigned long long)r->calls);
}

static void check_hostile(const struct vmm_vm *vm, uint32_t kind, const struct vmnet_port_stats *st,
                          int have_stats, struct problems *p)
{
    if (vmm_hostile_is_stopped(kind)) {
        if (vm->state != VMM_VM_FAILED)
            problem(p, "should have been stopped but was not");
        return;
    }
    if (!vm->report.hostile_ok)
        problem(p, "the app's answers were not the expected ones (results 0x%llx 0x%llx 0x%llx)",
                (unsigned long long)vm->report.hostile_result[0],
                (unsigned long long)vm->report.hostile_result[1],
                (unsigned long long)vm->report.hostile_result[2]);
    if (kind == ELISA_VMM_HOSTILE_BADFN && vm->app_enofn != 3)
        problem(p, "the app refused %llu calls as unknown, expected 3", (unsigned long long)vm->app_enofn);
    if (!have_stats)
        return;
    if (st->tx_frames != 0)
        problem(p, "the switch sent %llu of its frames", (unsigned long long)st->tx_frames);
    if (kind == ELISA_VMM_HOSTILE_TXIDX && st->err_tx_index != 1)
        problem(p, "err_tx_index %llu, expected 1", (unsigned long long)st->err_tx_index);
    if (kind == ELISA_VMM_HOSTILE_SLOTLEN && st->drop_tx_len != 2)
        problem(p, "drop_tx_len %llu, expected 2", (unsigned long long)st->drop_tx_len);
}

int vmm_summary_pingpong(const struct vmm_opts *o, struct vmm_vm *vms, uint32_t n, uint64_t wall_ns)
{
    int status = 0;
    uint64_t t_frames = 0, t_bytes = 0, t_mism = 0, t_lost = 0, t_bells = 0, t_exits = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct vmm_vm *vm = &vms[i];
        const struct elisa_vmm_report *r = &vm->report;
        uint32_t kind = o->hostile[i];
        struct problems p = { .len = 0, .count = 0 };
        char who[64];
        if (kind != ELISA_VMM_HOSTILE_NONE)
            snprintf(who, sizeof who, "hostile %s", vmm_hostile_name(kind));
        else if (vm->boot.role == ELISA_VMM_ROLE_SENDER)
            snprintf(who, sizeof who, "sender to guest %u", vm->boot.peer);
        else if (vm->boot.role == ELISA_VMM_ROLE_ECHOER)
            snprintf(who, sizeof who, "echoer for guest %u", vm->boot.peer);
        else
            snprintf(who, sizeof who, "idle");

        struct vmnet_port_stats st;
        memset(&st, 0, sizeof st);
        int have_stats = vm->region != NULL && vm->at.env_arg <= UINT32_MAX &&
                         vmnet_port_stats(vm->region, vm->at.region_size, (uint32_t)vm->at.env_arg, &st) == 0;

        int stopped_as_meant = vm->state == VMM_VM_FAILED && vmm_hostile_is_stopped(kind);
        if (vm->state == VMM_VM_FAILED && !stopped_as_meant)
            problem(&p, "%s", vm->error);
        else if (vm->state == VMM_VM_DONE && r->magic != ELISA_VMM_REPORT_MAGIC)
            problem(&p, "its report page has the wrong magic");
        else if (vm->state == VMM_VM_DONE && kind == ELISA_VMM_HOSTILE_NONE &&
                 vm->boot.role != ELISA_VMM_ROLE_IDLE)
            check_pair_member(o, vm, &st, have_stats, &p);
        if (kind != ELISA_VMM_HOSTILE_NONE)
            check_hostile(vm, kind, &st, have_stats, &p);
        /* Anything but a clean finish makes the run fail, even when the
         * stop was the point of the test: the exit status says "not all
         * guests completed", the lines say why. */
        if (p.count != 0 || vm->state != VMM_VM_DONE)
            status = 1;

        printf("guest %u (%s): ", i, who);
        if (stopped_as_meant && p.count == 0)
            printf("stopped as it should be: %s\n", vm->error);
        else if (p.count == 0)
            printf("ok: ");
        else
            printf("FAILED: %s: ", p.text);
        if (!stopped_as_meant || p.count != 0) {
            printf("sent %llu, received %llu (foreign %llu), checked %llu frames / %llu bytes, "
                   "mismatches %llu, lost %llu, calls %llu (errors %llu); exits %llu (doorbell %llu, "
                   "yield %llu)",
                   (unsigned long long)r->frames_sent, (unsigned long long)r->frames_received,
                   (unsigned long long)r->frames_foreign, (unsigned long long)r->frames_checked,
                   (unsigned long long)r->bytes_checked, (unsigned long long)r->mismatches,
                   (unsigned long long)r->lost, (unsigned long long)r->calls,
                   (unsigned long long)r->call_errors, (unsigned long long)vm->exits,
                   (unsigned long long)vm->doorbells, (unsigned long long)vm->yields);
            if (have_stats)
                printf("; port %llu: tx %llu rx %llu drop_tx_len %llu drop_rx_full %llu drop_rx_index %llu "
                       "err_tx_index %llu",
                       (unsigned long long)vm->at.env_arg, (unsigned long long)st.tx_frames,
                       (unsigned long long)st.rx_frames, (unsigned long long)st.drop_tx_len,
                       (unsigned long long)st.drop_rx_full, (unsigned long long)st.drop_rx_index,
                       (unsigned long long)st.err_tx_index);
            printf("\n");
        }
        t_frames += r->frames_checked;
        t_bytes += r->bytes_checked;
        t_mism += r->mismatches;
        t_lost += r->lost;
        t_bells += vm->doorbells;
        t_exits += vm->exits;
    }
    double secs = (double)wall_ns / 1e9;
    printf("total: %u guests, %llu frames and %llu bytes checked, %llu mismatches, %llu lost; "
           "%llu doorbell exits of %llu exits in %.3f s (%.1f us per doorbell, wall / doorbells)\n",
           n, (unsigned long long)t_frames, (unsigned long long)t_bytes, (unsigned long long)t_mism,
           (unsigned long long)t_lost, (unsigned long long)t_bells, (unsigned long long)t_exits, secs,
           t_bells ? secs * 1e6 / (double)t_bells : 0.0);
    printf("elisa-vmm: %s\n", status == 0 ? "all guests passed" : "FAILED (see the lines above)");
    return status;
}
