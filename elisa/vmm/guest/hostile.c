/* elisa/vmm/guest/hostile.c - a guest that misbehaves on purpose
 * (--hostile G:KIND, enum elisa_vmm_hostile).  The kinds that stay within
 * the rules of its own memory record what they observed in
 * report->hostile_result[] and set hostile_ok if each answer was the one
 * the VMM and the app must give; the others break the exit protocol, and
 * the VMM must stop this VM alone, with a clear message, and not return. */
#include "guest.h"
#include "elisa_guest.h"

static void say(const char *what, uint64_t v)
{
    con_str("hostile: ");
    con_str(what);
    con_str(" ");
    con_hex(v);
    con_end();
}

/* The port area's ring indices, as the switch publishes them: this guest
 * may write them at will (vmnet.h: each has one legitimate writer). */
static volatile struct vmnet_port_shm *port_shm(struct guest *g)
{
    return (volatile struct vmnet_port_shm *)g->port.base;
}

/* Garbage TX producer: the switch must refuse the ring (VMNET_ECORRUPT,
 * counted in err_tx_index) and consume nothing; repaired, it works. */
static void txidx(struct guest *g)
{
    volatile struct elisa_vmm_report *rep = g->report;
    volatile struct vmnet_port_shm *shm = port_shm(g);
    uint32_t prod = shm->tx.prod;
    shm->tx.prod = prod + 0x40000000u;
    uint64_t r0 = elisa_call(ELISA_VMNET_TX, 0);
    shm->tx.prod = prod;
    uint64_t r1 = elisa_call(ELISA_VMNET_TX, 0);
    rep->calls += 2;
    rep->hostile_result[0] = r0;
    rep->hostile_result[1] = r1;
    rep->hostile_ok = (int64_t)r0 == VMNET_ECORRUPT && r1 == 0;
    say("TX call with a garbage producer index returned", r0);
    say("TX call after repairing it returned", r1);
}

/* Two queued slots with impossible lengths: both consumed and dropped
 * (drop_tx_len), nothing delivered to anyone. */
static void slotlen(struct guest *g)
{
    volatile struct elisa_vmm_report *rep = g->report;
    volatile struct vmnet_port_shm *shm = port_shm(g);
    uint32_t slots = g->port.ring_slots, size = g->port.slot_size;
    uint32_t prod = shm->tx.prod;
    static const uint32_t bad_len[2] = { 0xfffffff0u, 3u };
    for (uint32_t k = 0; k < 2; k++) {
        volatile struct vmnet_slot *s = (volatile struct vmnet_slot *)
            (g->port.base + VMNET_PORT_SLOTS_OFF + (uint64_t)((prod + k) & (slots - 1)) * size);
        s->len = bad_len[k];
    }
    __atomic_store_n(&((struct vmnet_port_shm *)shm)->tx.prod, prod + 2, __ATOMIC_RELEASE);
    uint64_t r = elisa_call(ELISA_VMNET_TX, 0);
    rep->calls++;
    rep->hostile_result[0] = r;
    rep->hostile_ok = r == 2;
    say("TX call over two slots of impossible length returned", r);
}

/* Functions the app does not have: ELISA_APP_ENOFN each time. */
static void badfn(struct guest *g)
{
    volatile struct elisa_vmm_report *rep = g->report;
    static const uint64_t fns[3] = { 0x7777, ~0ull, ELISA_VMNET_TX + 1 };
    int ok = 1;
    for (int k = 0; k < 3; k++) {
        uint64_t r = elisa_call(fns[k], 0x1234);
        rep->calls++;
        rep->hostile_result[k] = r;
        ok &= r == ELISA_APP_ENOFN;
        say("call of an unknown function returned", r);
    }
    rep->hostile_ok = (uint64_t)ok;
}

void prog_hostile(struct guest *g)
{
    const struct elisa_vmm_boot *b = &g->boot;
    switch (b->hostile) {
    case ELISA_VMM_HOSTILE_TXIDX:
        if (g->have_port)
            txidx(g);
        return;
    case ELISA_VMM_HOSTILE_SLOTLEN:
        if (g->have_port)
            slotlen(g);
        return;
    case ELISA_VMM_HOSTILE_BADFN:
        badfn(g);
        return;
    case ELISA_VMM_HOSTILE_BADSEQ: {
        /* The doorbell without a new sequence in the mailbox: the host has
         * already served this one (or none), so it must not run anything. */
        volatile uint64_t *mb = (volatile uint64_t *)b->gate_gva;
        mb[ELISA_MB_FN / 8] = ELISA_VMNET_TX;
        uint32_t stale = (uint32_t)mb[ELISA_MB_SEQ / 8];
        if (b->doorbell == ELISA_DOORBELL_MMIO)
            *(volatile uint32_t *)(b->gate_gva + ELISA_MB_DOORBELL) = stale;
        else
            io_out32(b->doorbell, stale);
        say("the VMM served a doorbell with a stale sequence; mailbox ack", mb[ELISA_MB_ACK / 8]);
        return;
    }
    case ELISA_VMM_HOSTILE_BADPORT:
        io_out8(0x3f8, 'x');          /* COM1: not served by elisa-vmm */
        say("OUT to port 0x3f8 came back", 0);
        return;
    case ELISA_VMM_HOSTILE_BADDEV:
        dev_store32(0x800, 1);        /* the device page has registers at 0 and 8 only */
        say("store to device offset 0x800 came back", 0);
        return;
    case ELISA_VMM_HOSTILE_MMIO:
        *(volatile uint32_t *)0x80000000ull = 0xdeadbeef;   /* mapped, but no memory slot */
        say("write to GPA 0x80000000 came back", 0);
        return;
    case ELISA_VMM_HOSTILE_FAULT:
        __asm__ volatile("ud2");      /* #UD, no IDT: #DF, then a triple fault */
        say("ud2 came back", 0);
        return;
    case ELISA_VMM_HOSTILE_SPIN:
        for (;;)
            cpu_pause();
    default:
        return;
    }
}
