/* elisa/vmm/guest/main.c - the bare-metal guest's main: take the boot
 * parameters, set up the ELISA context (VMFUNC: the gate; EXIT: mailbox +
 * doorbell),
 * open the vmnet port, run the program the VMM chose, and report DONE,
 * where the VMM ends the VM. */
#include "guest.h"
#include "elisa_guest.h"

static struct guest the_guest;
static struct elisa_ctx the_ctx;

void guest_main(const struct elisa_vmm_boot *boot);

void guest_main(const struct elisa_vmm_boot *boot)
{
    struct guest *g = &the_guest;
    if (boot->magic != ELISA_VMM_BOOT_MAGIC || boot->version != ELISA_VMM_BOOT_VERSION) {
        con_str("boot info has the wrong magic or version: is this image from the same build as elisa-vmm?");
        con_end();
        ctl(ELISA_VMM_CTL_DONE, 0);    /* no report magic written: the VMM says so */
        return;
    }
    g->boot = *boot;
    g->report = (volatile struct elisa_vmm_report *)ELISA_VMM_REPORT_GPA;
    g->report->magic = ELISA_VMM_REPORT_MAGIC;
    poll_init(&g->poll, &g->boot, (uint64_t *)&g->report->yields);

    /* VMFUNC: the manager installed the gate and sub contexts of this vCPU
     * (elisa/manager/README.md, "Host kind vmfunc"); a call to the gate
     * switches EPT views with no exit.  EXIT: the mailbox and doorbell. */
    int ctx_rc = -1;
    if (g->boot.elisa_mode == ELISA_MODE_VMFUNC)
        ctx_rc = elisa_ctx_vmfunc(&the_ctx, g->boot.gate_gva);
    else if (g->boot.elisa_mode == ELISA_MODE_EXIT)
        ctx_rc = elisa_ctx_exit(&the_ctx, g->boot.gate_gva, g->boot.doorbell);
    if (ctx_rc != 0) {
        con_str("cannot set up the ELISA context: mode ");
        con_u64(g->boot.elisa_mode);
        con_str(", mailbox ");
        con_hex(g->boot.gate_gva);
        con_end();
        ctl(ELISA_VMM_CTL_DONE, 0);
        return;
    }
    elisa_set_current(&the_ctx);

    if (g->boot.shared_size != 0) {
        int rc = vmnet_guest_open(&g->port, (void *)g->boot.shared_gva, g->boot.shared_size);
        if (rc == 0) {
            g->have_port = 1;
        } else {
            con_str("vmnet_guest_open failed: ");
            con_u64((uint64_t)-rc);
            con_end();
        }
    }

    if (g->boot.hostile != ELISA_VMM_HOSTILE_NONE)
        prog_hostile(g);
    if (g->boot.program == ELISA_VMM_PROG_PINGPONG)
        prog_pingpong(g);
    else if (g->boot.program == ELISA_VMM_PROG_NOP_BENCH)
        prog_nop_bench(g);
    ctl(ELISA_VMM_CTL_DONE, 0);
}
