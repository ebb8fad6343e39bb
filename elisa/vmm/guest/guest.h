/* elisa/vmm/guest/guest.h - what the guest's programs share: the boot
 * parameters (a private copy), the report page, the vmnet port. */
#ifndef ELISA_VMM_GUEST_GUEST_H
#define ELISA_VMM_GUEST_GUEST_H

#include <stdint.h>
#include "../vmm_boot.h"
#include "vmnet.h"
#include "io.h"

struct guest {
    struct elisa_vmm_boot boot;        /* copied once at start */
    volatile struct elisa_vmm_report *report;
    struct vmnet_guest_port port;
    int have_port;
    struct poller poll;
};

/* Send one frame: vmnet_guest_put, then the TX call through the gate
 * (elisa_call(ELISA_VMNET_TX)).  Returns 0, or -1 (counted in the report
 * and said on the console). */
int guest_send(struct guest *g, const uint8_t *frame, uint32_t len);

void prog_pingpong(struct guest *g);
void prog_nop_bench(struct guest *g);
void prog_hostile(struct guest *g);

#endif
