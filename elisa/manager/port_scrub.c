/* elisa/manager/port_scrub.c - give a freed vmnet port back clean
 * (mgr_vmnet_port_scrub in apps.h).
 *
 * Why: the manager hands ports to guests one per negotiated vCPU, and a
 * port outlives its owner's connection.  Left as it was, the next owner
 * would read the frames still queued in its RX ring, find the old owner's
 * bytes in the slots, inherit a header the old owner may have overwritten
 * (its area is mapped read/write in its default context), and receive
 * frames sent to the old owner's MAC address, which the switch learned on
 * this port.  vmnet.h has no call for this, so it is done here on the
 * layout that vmnet.h publishes (struct vmnet_hdr, vmnet_port_shm,
 * vmnet_port_priv, vmnet_mac_entry) under the switch's own lock, the way
 * vmnet_init() lays a port out.  (It belongs in elisa/vmnet as
 * vmnet_port_reset(); asked for in the manager's README.)
 */
#include <stdio.h>
#include <string.h>

#include "apps.h"
#include "../vmnet/vmnet.h"

/* The switch lock protocol of vmnet.c: 0 free, 1 taken, taken with an
 * acquiring exchange, released with a releasing store, bounded spins. */
static int lock_take(uint32_t *lock)
{
    for (uint32_t i = 0; i < VMNET_LOCK_SPINS; i++) {
        if (__atomic_load_n(lock, __ATOMIC_RELAXED) == 0 &&
            __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) == 0)
            return 0;
        __builtin_ia32_pause();
    }
    return -1;
}

int mgr_vmnet_port_scrub(void *mem, uint64_t size, uint32_t port, char *err, size_t errlen)
{
    struct vmnet_hdr *h = mem;

    if (vmnet_check(mem, size) != VMNET_OK) {
        snprintf(err, errlen, "vmnet region fails vmnet_check: not scrubbing port %u", port);
        return -1;
    }
    /* vmnet_check validated the geometry against size; read it once. */
    uint32_t nports = h->nports, slots = h->ring_slots, slot_size = h->slot_size;
    uint64_t entries = (uint64_t)h->mac_sets * h->mac_ways;
    uint64_t priv_off = h->priv_off, mac_off = h->mac_off;
    uint64_t ports_off = h->ports_off, stride = h->port_stride;
    if (port >= nports) {
        snprintf(err, errlen, "vmnet port %u does not exist (%u ports)", port, nports);
        return -1;
    }
    if (lock_take(&h->lock) != 0) {
        snprintf(err, errlen, "vmnet port %u: the switch lock stayed taken", port);
        return -1;
    }
    uint8_t *base = mem;
    memset(base + priv_off + (uint64_t)port * sizeof(struct vmnet_port_priv), 0,
           sizeof(struct vmnet_port_priv));
    struct vmnet_port_shm *s = (struct vmnet_port_shm *)(base + ports_off + port * stride);
    memset(s, 0, stride);
    s->magic = VMNET_PORT_MAGIC;
    s->port = port;
    s->ring_slots = slots;
    s->slot_size = slot_size;
    s->area_size = stride;
    struct vmnet_mac_entry *mac = (struct vmnet_mac_entry *)(base + mac_off);
    for (uint64_t i = 0; i < entries; i++)
        if (mac[i].port == port)
            memset(&mac[i], 0, sizeof(mac[i]));   /* stamp 0: empty */
    __atomic_store_n(&h->lock, 0, __ATOMIC_RELEASE);
    return 0;
}
