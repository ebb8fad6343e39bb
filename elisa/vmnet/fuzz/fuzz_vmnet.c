/*
 * fuzz_vmnet.c - the deterministic fuzz driver of elisa/vmnet
 * (`make vmnet-fuzz-run`).  Built with AddressSanitizer and UBSan together
 * with vmnet.c: a memory error, undefined behaviour or a violated
 * invariant aborts the run with a non-zero exit.
 *
 *   fuzz_vmnet [N [SEED [SECONDS]]]   defaults: 1000000 operations, seed 1,
 *                                     stop early after 20 s (bounded run)
 *
 * A run is a sequence of rounds; each round lays out a fresh region with a
 * random geometry (3-4 ports, 2-16 slots of 256 B-2 KiB, 1-16 MAC sets,
 * aging off or short) in a heap block of exactly its size, so any access
 * past it is reported.  The last port is HOSTILE, the others HONEST.
 * Operations, chosen at random:
 *   - an honest port sends a frame (to broadcast, multicast, another
 *     honest station, one of its own stations, the hostile one, or an
 *     unknown address; random length);
 *   - an honest port receives: the frame must be one that was sent,
 *     byte for byte (it is rebuilt from the (source, sequence, length)
 *     that honest frames carry), never its own, and in sending order
 *     (no duplicate, gaps only for drops);
 *   - the hostile port writes anything anywhere in its own area (ring
 *     indices, slot lengths, slot bytes, the geometry copy), sends through
 *     its ring, opens its area with whatever geometry is there and
 *     puts/gets through it, and calls the switch;
 *   - rarely: a geometry field of the header is corrupted (every entry
 *     point must then refuse the region and change nothing; it is put
 *     back), or a MAC-table entry is overwritten with random bytes
 *     (frames may go to the wrong port, never out of range).
 * After every operation the counters must balance:
 *   every port:   tx_frames = unicast + flooded + drop_filtered
 *   honest port:  tx_frames = frames it sent, no length/source/index drops,
 *                 rx_frames = frames it received + frames in its ring
 *   all ports:    sum(rx_frames + drop_rx_full + drop_rx_index)
 *                 = sum(unicast + flooded * (nports - 1))
 *   and no counter ever goes down.
 *
 * Prints `fuzz_vmnet: N operations (...), 0 failures`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmnet.h"

#define FRAME_MAX   VMNET_SLOT_MAX
#define HONEST_HLEN 30             /* eth 14 + magic 4 + src 4 + seq 4 + len 4 */
#define MAGIC_OK    0x5A464E56u    /* "VNFZ": an honest frame */
#define ROUND_OPS   50000

/* ---- the PRNG (xorshift64*) ---------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static uint32_t below(uint32_t n)
{
    return (uint32_t)(rnd() % n);
}

/* ---- state -------------------------------------------------------------------- */

static uint8_t *mem;
static uint64_t size;
static uint32_t nports, slots, slot_size, hostile;
static uint8_t station[VMNET_MAX_PORTS][2][6];   /* two stations per port */
static uint32_t next_seq[VMNET_MAX_PORTS];        /* per honest sender */
static int64_t last_seen[VMNET_MAX_PORTS][VMNET_MAX_PORTS];  /* [rx][src] */
static uint64_t sent[VMNET_MAX_PORTS], received[VMNET_MAX_PORTS];
static struct vmnet_port_stats prev[VMNET_MAX_PORTS];

static uint64_t n_ops, n_sends, n_checked, n_hostile, n_header, n_mac, n_drops;

static void fail(const char *what, uint64_t a, uint64_t b)
{
    fprintf(stderr, "fuzz_vmnet: FAILED at operation %llu: %s (%llu, %llu)\n",
            (unsigned long long)n_ops, what, (unsigned long long)a, (unsigned long long)b);
    abort();
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The bytes of honest frame (src, seq, len) from offset HONEST_HLEN on. */
static void payload(uint8_t *f, uint32_t src, uint32_t seq, uint32_t len)
{
    uint64_t x = ((uint64_t)src << 32 | seq) * 0x9E3779B97F4A7C15ull + len;
    for (uint32_t i = HONEST_HLEN; i < len; i++) {
        x ^= x >> 29;
        x *= 0xBF58476D1CE4E5B9ull;
        f[i] = (uint8_t)(x >> 56);
    }
}

static uint32_t max_frame(void)
{
    return slot_size - VMNET_SLOT_HDR;
}

static struct vmnet_port_shm *area(uint32_t port)
{
    uint64_t off = vmnet_port_offset(mem, size, port);
    if (off == 0)
        fail("port offset refused on a valid region", port, 0);
    return (struct vmnet_port_shm *)(mem + off);
}

/* ---- a round ------------------------------------------------------------------ */

static void new_round(void)
{
    static const uint32_t slot_choice[] = { 256, 512, 1024, 2048 };
    static const uint64_t age_choice[] = { 0, 0, 3, 50 };
    struct vmnet_config cfg;

    free(mem);
    cfg.nports = 3 + below(2);
    cfg.ring_slots = 2u << below(4);
    cfg.slot_size = slot_choice[below(4)];
    cfg.mac_sets = 1u << (below(3) * 2);
    cfg.age_limit = age_choice[below(4)];
    cfg.hash_seed = rnd();
    size = vmnet_region_size(&cfg);
    if (size == 0)
        fail("valid configuration refused", cfg.nports, cfg.ring_slots);
    mem = aligned_alloc(4096, size);
    if (mem == NULL) {
        perror("fuzz_vmnet: aligned_alloc");
        exit(2);
    }
    memset(mem, 0x5A, size);
    if (vmnet_init(mem, size, &cfg) != VMNET_OK)
        fail("vmnet_init refused", size, 0);
    nports = cfg.nports;
    slots = cfg.ring_slots;
    slot_size = cfg.slot_size;
    hostile = nports - 1;
    for (uint32_t p = 0; p < nports; p++) {
        for (int s = 0; s < 2; s++) {
            uint8_t *m = station[p][s];
            m[0] = 0x02; m[1] = 0x11; m[2] = (uint8_t)s; m[3] = 0; m[4] = 0; m[5] = (uint8_t)p;
        }
        next_seq[p] = 0;
        sent[p] = received[p] = 0;
        memset(&prev[p], 0, sizeof(prev[p]));
        for (uint32_t q = 0; q < nports; q++)
            last_seen[p][q] = -1;
    }
}

/* ---- operations ----------------------------------------------------------------- */

static void honest_send(void)
{
    static uint8_t f[FRAME_MAX];
    uint32_t p = below(hostile);
    const uint8_t *dst;
    uint8_t unknown[6];
    uint32_t pick = below(100);

    if (pick < 10) {
        static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
        dst = bcast;
    } else if (pick < 15) {
        static const uint8_t mcast[6] = { 0x33, 0x33, 0, 0, 0, 1 };
        dst = mcast;
    } else if (pick < 25) {
        dst = station[p][below(2)];                     /* behind the sender */
    } else if (pick < 75) {
        dst = station[below(hostile)][below(2)];
    } else if (pick < 85) {
        dst = station[hostile][0];
    } else {
        for (int i = 0; i < 6; i++)
            unknown[i] = (uint8_t)rnd();
        unknown[0] &= 0xfe;
        dst = unknown;
    }
    uint32_t len = below(4) == 0 ? max_frame() - below(8) : HONEST_HLEN + below(max_frame() - HONEST_HLEN + 1);
    uint32_t seq = next_seq[p];
    memcpy(f, dst, 6);
    memcpy(f + 6, station[p][below(2)], 6);
    f[12] = 0x88;
    f[13] = 0xB5;
    put32(f + 14, MAGIC_OK);
    put32(f + 18, p);
    put32(f + 22, seq);
    put32(f + 26, len);
    payload(f, p, seq, len);
    int rc = vmnet_port_send(mem, size, p, f, len);
    if (rc != VMNET_OK)
        fail("honest send refused", p, (uint64_t)(int64_t)rc);
    next_seq[p]++;
    sent[p]++;
    n_sends++;
}

/* Checks a frame that honest port p received. */
static void check_frame(uint32_t p, const uint8_t *f, int n)
{
    static uint8_t want[FRAME_MAX];

    if (n < (int)VMNET_ETH_HLEN || (uint32_t)n > max_frame())
        fail("received length out of range", p, (uint64_t)(int64_t)n);
    if (n < HONEST_HLEN || get32(f + 14) != MAGIC_OK)
        return;                                         /* from the hostile port */
    uint32_t src = get32(f + 18), seq = get32(f + 22), len = get32(f + 26);
    if (src >= hostile)
        fail("honest frame from an impossible source", src, p);
    if (src == p)
        fail("a frame came back to its sender", src, seq);
    if (len != (uint32_t)n)
        fail("length differs from the one sent", len, (uint64_t)n);
    if (seq >= next_seq[src])
        fail("a frame that was never sent", seq, next_seq[src]);
    if ((int64_t)seq <= last_seen[p][src])
        fail("duplicate or out of order", seq, (uint64_t)last_seen[p][src]);
    last_seen[p][src] = seq;
    memcpy(want, f, HONEST_HLEN);
    payload(want, src, seq, len);
    if (memcmp(want, f, len) != 0)
        fail("frame bytes differ from the ones sent", src, seq);
    n_checked++;
}

static void honest_recv(void)
{
    static uint8_t buf[FRAME_MAX];
    uint32_t p = below(hostile);
    uint32_t cap = below(8) == 0 ? below(max_frame() + 1) : (uint32_t)sizeof(buf);
    int n = vmnet_port_recv(mem, size, p, buf, cap);

    if (n == VMNET_EAGAIN || n == VMNET_E2BIG)
        return;
    if (n < 0)
        fail("honest receive failed", p, (uint64_t)(int64_t)n);
    if ((uint32_t)n > cap)
        fail("received more than the buffer holds", (uint64_t)n, cap);
    received[p]++;
    check_frame(p, buf, n);
}

/* The hostile guest: anything in its own area, then the switch. */
static void hostile_op(void)
{
    static uint8_t buf[FRAME_MAX];
    struct vmnet_port_shm *s = area(hostile);
    uint64_t area_size = vmnet_port_area_size(mem, size);
    uint8_t *a = (uint8_t *)s;
    uint32_t what = below(10);

    n_hostile++;
    if (what == 0) {                    /* ring indices: near or far */
        uint32_t *idx[4] = { &s->tx.prod, &s->tx.cons, &s->rx.prod, &s->rx.cons };
        uint32_t *i = idx[below(4)];
        *i = below(2) ? *i + below(2 * slots + 3) - slots - 1 : (uint32_t)rnd();
    } else if (what == 1) {             /* a slot length, anywhere or in the next TX slot */
        static const uint32_t lens[] = { 0, 13, 14, 0x7fffffff, 0x80000000u, 0xffffffffu };
        uint32_t len = below(2) ? lens[below(6)] : max_frame() - 8 + below(80);
        if (below(2)) {
            uint64_t slot = VMNET_PORT_SLOTS_OFF + (uint64_t)below(2 * slots) * slot_size;
            memcpy(a + slot, &len, 4);
        } else {                        /* a whole frame, as a guest may put it */
            uint32_t prod = s->tx.prod;
            uint64_t slot = VMNET_PORT_SLOTS_OFF + (uint64_t)(prod & (slots - 1)) * slot_size;
            for (uint32_t i = 0; i < 32; i++)
                a[slot + VMNET_SLOT_HDR + i] = (uint8_t)rnd();
            a[slot + VMNET_SLOT_HDR + 6] &= 0xfe;   /* a unicast source: not dropped for it */
            a[slot + VMNET_SLOT_HDR + 14] ^= 0x80;  /* never the honest magic */
            memcpy(a + slot, &len, 4);
            s->tx.prod = prod + 1;
        }
    } else if (what == 2) {             /* random bytes anywhere in the area */
        uint64_t off = rnd() % area_size;
        uint32_t n = 1 + below(64);
        for (uint32_t i = 0; i < n && off + i < area_size; i++)
            a[off + i] = (uint8_t)rnd();
    } else if (what == 3) {             /* the geometry copy */
        uint32_t *g[3] = { &s->ring_slots, &s->slot_size, &s->magic };
        *g[below(3)] = below(2) ? (uint32_t)rnd() : 1u << below(32);
    } else if (what <= 6) {             /* a frame through the ring, spoofing any source */
        uint32_t len = below(max_frame() + 2);
        for (uint32_t i = 0; i < len && i < sizeof(buf); i++)
            buf[i] = (uint8_t)rnd();
        if (below(2))
            memcpy(buf + 6, station[below(nports)][below(2)], 6);
        if (len >= HONEST_HLEN && get32(buf + 14) == MAGIC_OK)
            buf[14] ^= 1;               /* never pass for an honest frame */
        vmnet_port_send(mem, size, hostile, buf, len);
    } else if (what == 7) {             /* the guest library over whatever geometry is there */
        struct vmnet_guest_port gp;
        if (vmnet_guest_open(&gp, s, area_size) == VMNET_OK) {
            uint32_t len = VMNET_ETH_HLEN + below(64);
            memset(buf, 0x42, len);
            vmnet_guest_put(&gp, buf, len);
            int n = vmnet_guest_get(&gp, buf, sizeof(buf));
            if (n > (int)sizeof(buf))
                fail("guest get beyond the buffer", (uint64_t)n, 0);
        }
    } else if (what == 8) {
        int n = vmnet_port_recv(mem, size, hostile, buf, sizeof(buf));
        if (n > (int)max_frame())
            fail("hostile receive longer than a slot", (uint64_t)n, 0);
    }
    vmnet_switch_tx(mem, size, hostile);
}

/* A header geometry field broken: everything must refuse, nothing change. */
static void header_op(void)
{
    static uint8_t buf[FRAME_MAX];
    struct vmnet_hdr saved;
    const size_t geometry_end = offsetof(struct vmnet_hdr, age_limit);

    n_header++;
    memcpy(&saved, mem, sizeof(saved));
    uint32_t off = below((uint32_t)geometry_end);
    uint8_t old = mem[off];
    mem[off] = (uint8_t)(old ^ (1u + below(255)));
    if (vmnet_check(mem, size) != VMNET_EBADREGION)
        fail("corrupted header accepted", off, mem[off]);
    uint32_t p = below(nports);
    memset(buf, 0xff, 64);
    if (vmnet_port_send(mem, size, p, buf, 64) != VMNET_EBADREGION ||
        vmnet_switch_tx(mem, size, p) != VMNET_EBADREGION ||
        vmnet_port_recv(mem, size, p, buf, sizeof(buf)) != VMNET_EBADREGION ||
        vmnet_port_offset(mem, size, p) != 0 || vmnet_port_area_size(mem, size) != 0)
        fail("an entry point used a corrupted header", off, 0);
    memcpy(mem, &saved, sizeof(saved));
}

/* A MAC-table entry overwritten (switch-only memory: defence in depth). */
static void mac_op(void)
{
    const struct vmnet_hdr *h = (const struct vmnet_hdr *)mem;
    uint64_t entries = (uint64_t)h->mac_sets * VMNET_MAC_WAYS;
    uint8_t *e = mem + h->mac_off + (rnd() % entries) * sizeof(struct vmnet_mac_entry);

    n_mac++;
    uint32_t how = below(3);
    if (how == 0) {                     /* random bytes */
        for (size_t i = 0; i < sizeof(struct vmnet_mac_entry); i++)
            if (below(3) == 0)
                e[i] = (uint8_t)rnd();
    } else if (how == 1) {              /* a live station pointed at any port */
        struct vmnet_mac_entry *m = (struct vmnet_mac_entry *)e;
        m->port = below(2) ? (uint16_t)rnd() : (uint16_t)below(nports + 2);
    } else {                            /* any age */
        struct vmnet_mac_entry *m = (struct vmnet_mac_entry *)e;
        m->stamp = below(2) ? rnd() : h->clock + below(5) - 2;
    }
}

/* ---- invariants ----------------------------------------------------------------- */

static void check_counters(void)
{
    uint64_t delivered = 0, attempted = 0;
    const uint64_t *a, *b;

    for (uint32_t p = 0; p < nports; p++) {
        struct vmnet_port_stats s;
        if (vmnet_port_stats(mem, size, p, &s) != VMNET_OK)
            fail("stats refused on a valid region", p, 0);
        a = (const uint64_t *)&s;
        b = (const uint64_t *)&prev[p];
        for (size_t i = 0; i < sizeof(s) / 8; i++)
            if (a[i] < b[i])
                fail("a counter went down", p, i);
        if (s.tx_frames != s.unicast + s.flooded + s.drop_filtered)
            fail("tx_frames != unicast + flooded + filtered", p, s.tx_frames);
        if (p != hostile) {
            if (s.tx_frames != sent[p])
                fail("honest tx_frames != frames sent", s.tx_frames, sent[p]);
            if (s.drop_tx_len + s.drop_tx_src + s.err_tx_index + s.drop_rx_index != 0)
                fail("an honest port counted a hostile error", p, 0);
            struct vmnet_port_shm *sh = area(p);
            uint32_t queued = sh->rx.prod - sh->rx.cons;
            if (queued > slots || s.rx_frames != received[p] + queued)
                fail("honest rx_frames != received + queued", s.rx_frames, received[p]);
        }
        delivered += s.rx_frames + s.drop_rx_full + s.drop_rx_index;
        attempted += s.unicast + s.flooded * (nports - 1);
        prev[p] = s;
    }
    if (delivered != attempted)
        fail("deliveries != unicast + flooded * (ports - 1)", delivered, attempted);
}

static void end_round_totals(void)
{
    for (uint32_t p = 0; p < nports; p++)
        n_drops += prev[p].drop_rx_full + prev[p].drop_rx_index + prev[p].drop_filtered +
                   prev[p].drop_tx_len + prev[p].drop_tx_src;
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 0) : 1000000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 0) : 1;
    double seconds = argc > 3 ? strtod(argv[3], NULL) : 20;
    time_t start = time(NULL);

    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    new_round();
    for (n_ops = 0; n_ops < n; n_ops++) {
        if (n_ops % ROUND_OPS == 0 && n_ops != 0) {
            end_round_totals();
            new_round();
            if (difftime(time(NULL), start) > seconds) {
                printf("fuzz_vmnet: time limit of %.0f s reached\n", seconds);
                break;
            }
        }
        uint32_t op = below(1000);
        if (op < 450)
            honest_send();
        else if (op < 870)
            honest_recv();
        else if (op < 995)
            hostile_op();
        else if (op < 997)
            header_op();
        else
            mac_op();
        check_counters();
    }
    end_round_totals();
    printf("fuzz_vmnet: %llu operations (%llu honest sends, %llu frames checked byte for byte, "
           "%llu hostile writes, %llu header corruptions, %llu MAC-table corruptions, "
           "%llu drops counted), 0 failures\n",
           (unsigned long long)n_ops, (unsigned long long)n_sends, (unsigned long long)n_checked,
           (unsigned long long)n_hostile, (unsigned long long)n_header, (unsigned long long)n_mac,
           (unsigned long long)n_drops);
    free(mem);
    return 0;
}
