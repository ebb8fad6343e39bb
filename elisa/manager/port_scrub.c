/* elisa/manager/port_scrub.c - give a freed vmnet port back clean
 * (mgr_vmnet_port_scrub in apps.h).
 *
 * Why: the manager hands ports to guests one per negotiated vCPU, and a
 * port outlives its owner's connection; its next owner must find nothing
 * of the last one (queued frames, slot bytes, a header the old owner
 * overwrote, the old owner's MAC learned on the port).  The work is
 * vmnet_port_reset() in elisa/vmnet, which owns the layout and the switch
 * lock; this file only turns its error code into the one line the
 * server logs before quarantining the port.
 */
#include <stdio.h>

#include "apps.h"
#include "../vmnet/vmnet.h"

int mgr_vmnet_port_scrub(void *mem, uint64_t size, uint32_t port, char *err, size_t errlen)
{
    int rc = vmnet_port_reset(mem, size, port);

    switch (rc) {
    case VMNET_OK:
        return 0;
    case VMNET_EBADREGION:
        snprintf(err, errlen, "vmnet region fails vmnet_check: not scrubbing port %u", port);
        break;
    case VMNET_EPORT:
        /* vmnet_port_reset validated the header before refusing the port,
         * so nports is the checked value. */
        snprintf(err, errlen, "vmnet port %u does not exist (%u ports)", port,
                 ((const struct vmnet_hdr *)mem)->nports);
        break;
    case VMNET_EBUSY:
        snprintf(err, errlen, "vmnet port %u: the switch lock stayed taken", port);
        break;
    default:
        snprintf(err, errlen, "vmnet port %u: reset failed: %s", port, vmnet_strerror(rc));
        break;
    }
    return -1;
}
