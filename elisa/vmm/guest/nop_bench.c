/* elisa/vmm/guest/nop_bench.c - the round-trip benchmark: M calls of the
 * nop app's echo through the fallback gate, each result checked, between
 * two timestamp marks; then M bare exits of the doorbell's kind (a store
 * to CONTROL NULL for the MMIO doorbell, an OUT to ELISA_VMM_PORT_NULL for
 * a port doorbell: the VMM does nothing and resumes) between two more
 * marks, the floor of any exit-based call.  elisa-vmm divides each
 * interval by M.
 *
 * Marks: 0/1 around the calls, 2/3 around the bare exits. */
#include "guest.h"
#include "elisa_guest.h"

void prog_nop_bench(struct guest *g)
{
    volatile struct elisa_vmm_report *rep = g->report;
    uint64_t m = g->boot.calls;
    uint64_t bad = 0;

    ctl(ELISA_VMM_CTL_MARK, 0);
    for (uint64_t i = 0; i < m; i++) {
        uint64_t want = i ^ g->boot.seed;
        if (elisa_call(ELISA_NOP_ECHO, want) != want)
            bad++;
    }
    ctl(ELISA_VMM_CTL_MARK, 1);
    rep->calls = m;
    rep->mismatches = bad;
    rep->call_errors = bad;

    ctl(ELISA_VMM_CTL_MARK, 2);
    if (g->boot.doorbell != ELISA_DOORBELL_MMIO) {
        for (uint64_t i = 0; i < m; i++)
            io_out32(ELISA_VMM_PORT_NULL, 0);
    } else {
        for (uint64_t i = 0; i < m; i++)
            ctl(ELISA_VMM_CTL_NULL, 0);
    }
    ctl(ELISA_VMM_CTL_MARK, 3);
    if (bad != 0) {
        con_str("nop bench: ");
        con_u64(bad);
        con_str(" echoes came back wrong");
        con_end();
    }
}
