/* tests/unit/test_vmnet.c - cmocka unit tests of elisa/vmnet: the region
 * layout and its validation, the rings, the learning switch, and what a
 * hostile guest can write into its own port area.
 *
 * Built with ASan+UBSan (vmnet.mk) together with vmnet.c itself.  Each
 * region is its own heap block of exactly the laid-out size, so a read or
 * write one byte past the region (or past a ring, into the next port's
 * area is caught by the content checks) is reported.
 *
 * Frames: dst MAC, src MAC, type 0x88B5 (local experimental), then a
 * 32-bit sequence number and bytes that depend on it, so every received
 * frame is compared byte for byte with the one sent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <cmocka.h>

#include "vmnet.h"

#define MAXF 2040   /* the largest frame a 2 KiB slot holds */

static const uint8_t BCAST[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
static const uint8_t MCAST[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };

/* The station MAC of "host" n: 02:00:00:00:00:n (locally administered). */
static void mac_of(uint8_t *mac, unsigned n)
{
    mac[0] = 0x02; mac[1] = 0; mac[2] = 0; mac[3] = 0; mac[4] = (uint8_t)(n >> 8);
    mac[5] = (uint8_t)n;
}

static uint32_t make_frame(uint8_t *f, const uint8_t *dst, const uint8_t *src, uint32_t seq,
                           uint32_t len)
{
    memcpy(f, dst, 6);
    memcpy(f + 6, src, 6);
    f[12] = 0x88;
    f[13] = 0xB5;
    for (uint32_t i = 14; i < len; i++)
        f[i] = (uint8_t)(seq * 31 + i * 7 + (i >> 8));
    if (len >= 18) {
        f[14] = (uint8_t)seq; f[15] = (uint8_t)(seq >> 8);
        f[16] = (uint8_t)(seq >> 16); f[17] = (uint8_t)(seq >> 24);
    }
    return len;
}

struct region {
    uint8_t *mem;
    uint64_t size;
};

static struct region mk_region(uint32_t nports, uint32_t slots, uint32_t slot_size,
                               uint32_t mac_sets, uint64_t age)
{
    struct vmnet_config cfg = { nports, slots, slot_size, mac_sets, age, 0x1234567890abcdefull };
    struct region r;
    r.size = vmnet_region_size(&cfg);
    assert_true(r.size > 0);
    assert_int_equal(r.size % 4096, 0);
    r.mem = aligned_alloc(4096, r.size);
    assert_non_null(r.mem);
    memset(r.mem, 0xA5, r.size);          /* init must zero what it lays out */
    assert_int_equal(vmnet_init(r.mem, r.size, &cfg), VMNET_OK);
    assert_int_equal(vmnet_check(r.mem, r.size), VMNET_OK);
    return r;
}

static struct vmnet_port_stats stats(struct region *r, uint32_t port)
{
    struct vmnet_port_stats s;
    assert_int_equal(vmnet_port_stats(r->mem, r->size, port, &s), VMNET_OK);
    return s;
}

static struct vmnet_port_shm *shm(struct region *r, uint32_t port)
{
    uint64_t off = vmnet_port_offset(r->mem, r->size, port);
    assert_true(off > 0);
    return (struct vmnet_port_shm *)(r->mem + off);
}

static void send_ok(struct region *r, uint32_t port, const uint8_t *f, uint32_t len)
{
    assert_int_equal(vmnet_port_send(r->mem, r->size, port, f, len), VMNET_OK);
}

/* Receives one frame on port and checks it equals want[0..len). */
static void expect_frame(struct region *r, uint32_t port, const uint8_t *want, uint32_t len)
{
    uint8_t buf[MAXF];
    memset(buf, 0xEE, sizeof(buf));
    int n = vmnet_port_recv(r->mem, r->size, port, buf, sizeof(buf));
    assert_int_equal(n, (int)len);
    assert_memory_equal(buf, want, len);
}

static void expect_empty(struct region *r, uint32_t port)
{
    uint8_t buf[MAXF];
    assert_int_equal(vmnet_port_recv(r->mem, r->size, port, buf, sizeof(buf)), VMNET_EAGAIN);
}

/* ---- layout ------------------------------------------------------------------ */

static void test_layout(void **state)
{
    (void)state;
    struct region r = mk_region(4, 256, 2048, 64, 0);
    /* 4 ports of 4 KiB + 2 * 256 * 2 KiB = 1 MiB + 4 KiB each. */
    assert_int_equal(vmnet_port_area_size(r.mem, r.size), 4096 + 2 * 256 * 2048);
    uint64_t prev_end = 0;
    for (uint32_t p = 0; p < 4; p++) {
        uint64_t off = vmnet_port_offset(r.mem, r.size, p);
        assert_int_equal(off % 4096, 0);
        assert_true(off >= prev_end);
        prev_end = off + vmnet_port_area_size(r.mem, r.size);
        struct vmnet_port_shm *s = shm(&r, p);
        assert_int_equal(s->magic, VMNET_PORT_MAGIC);
        assert_int_equal(s->port, p);
        assert_int_equal(s->ring_slots, 256);
        assert_int_equal(s->slot_size, 2048);
        assert_int_equal(s->tx.prod | s->tx.cons | s->rx.prod | s->rx.cons, 0);
        /* A guest opens its area knowing only its mapping. */
        struct vmnet_guest_port gp;
        assert_int_equal(vmnet_guest_open(&gp, s, s->area_size), VMNET_OK);
        assert_int_equal(vmnet_guest_open(&gp, s, s->area_size - 1), VMNET_EBADREGION);
    }
    assert_int_equal(prev_end, r.size);
    assert_int_equal(vmnet_port_offset(r.mem, r.size, 4), 0);
    struct vmnet_port_stats s = stats(&r, 3);
    assert_int_equal(s.tx_frames + s.rx_frames + s.drop_rx_full, 0);
    free(r.mem);

    /* Configurations that are refused. */
    struct vmnet_config bad[] = {
        { 0, 16, 2048, 16, 0, 0 },   { 65, 16, 2048, 16, 0, 0 },
        { 2, 3, 2048, 16, 0, 0 },    { 2, 1, 2048, 16, 0, 0 },   { 2, 65536, 2048, 16, 0, 0 },
        { 2, 16, 2000, 16, 0, 0 },   { 2, 16, 128, 16, 0, 0 },   { 2, 16, 131072, 16, 0, 0 },
        { 2, 16, 2048, 0, 0, 0 },    { 2, 16, 2048, 12, 0, 0 },  { 2, 16, 2048, 131072, 0, 0 },
    };
    static uint8_t buf[1 << 20] __attribute__((aligned(4096)));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(vmnet_region_size(&bad[i]), 0);
        assert_int_equal(vmnet_init(buf, sizeof(buf), &bad[i]), VMNET_EINVAL);
    }
    /* Too small a block, a misaligned block. */
    struct vmnet_config ok = { 2, 16, 2048, 16, 0, 0 };
    uint64_t need = vmnet_region_size(&ok);
    assert_int_equal(vmnet_init(buf, need - 1, &ok), VMNET_EINVAL);
    assert_int_equal(vmnet_init(buf + 8, need, &ok), VMNET_EINVAL);
    assert_int_equal(vmnet_init(buf, need, &ok), VMNET_OK);
    assert_int_equal(vmnet_check(buf, need), VMNET_OK);
    assert_int_equal(vmnet_check(buf, need - 1), VMNET_EBADREGION);
    assert_int_equal(vmnet_check(NULL, need), VMNET_EBADREGION);
    assert_string_equal(vmnet_strerror(VMNET_EBADREGION), "bad vmnet region header");
}

/* ---- forwarding ------------------------------------------------------------------ */

/* Two ports: frames both ways, every size from the shortest to the
 * largest, every byte checked. */
static void test_two_ports(void **state)
{
    (void)state;
    struct region r = mk_region(2, 8, 2048, 16, 0);
    uint8_t a[6], b[6], f[MAXF];
    mac_of(a, 1);
    mac_of(b, 2);
    uint32_t seq = 0, bytes1 = 0;
    for (uint32_t len = 14; len <= MAXF; len += (len < 80 ? 1 : 97)) {
        make_frame(f, b, a, seq++, len);
        send_ok(&r, 0, f, len);
        expect_frame(&r, 1, f, len);
        bytes1 += len;
        make_frame(f, a, b, seq++, len);
        send_ok(&r, 1, f, len);
        expect_frame(&r, 0, f, len);
    }
    make_frame(f, b, a, seq++, MAXF);
    send_ok(&r, 0, f, MAXF);
    expect_frame(&r, 1, f, MAXF);
    bytes1 += MAXF;
    expect_empty(&r, 0);
    expect_empty(&r, 1);
    struct vmnet_port_stats s1 = stats(&r, 1);
    assert_int_equal(s1.rx_bytes, bytes1);
    assert_int_equal(s1.rx_frames, stats(&r, 0).tx_frames);
    assert_int_equal(s1.drop_rx_full + s1.drop_rx_index + s1.drop_tx_len, 0);
    free(r.mem);
}

/* Learning: the first frame to an unknown station floods; the reply goes
 * to the learned port only; after that unicast reaches only its port. */
static void test_learning(void **state)
{
    (void)state;
    struct region r = mk_region(3, 8, 2048, 16, 0);
    uint8_t m0[6], m1[6], f[MAXF];
    mac_of(m0, 10);
    mac_of(m1, 11);

    make_frame(f, m1, m0, 1, 100);      /* m1 unknown: flooded to 1 and 2 */
    send_ok(&r, 0, f, 100);
    expect_frame(&r, 1, f, 100);
    expect_frame(&r, 2, f, 100);
    expect_empty(&r, 0);
    assert_int_equal(stats(&r, 0).flooded, 1);

    make_frame(f, m0, m1, 2, 200);      /* m0 learned on 0: only port 0 */
    send_ok(&r, 1, f, 200);
    expect_frame(&r, 0, f, 200);
    expect_empty(&r, 2);
    expect_empty(&r, 1);
    assert_int_equal(stats(&r, 1).unicast, 1);

    for (uint32_t i = 0; i < 20; i++) { /* both learned now: never port 2 */
        make_frame(f, m1, m0, 100 + i, 60 + i);
        send_ok(&r, 0, f, 60 + i);
        expect_frame(&r, 1, f, 60 + i);
        make_frame(f, m0, m1, 200 + i, 60 + i);
        send_ok(&r, 1, f, 60 + i);
        expect_frame(&r, 0, f, 60 + i);
    }
    expect_empty(&r, 2);
    assert_int_equal(stats(&r, 2).rx_frames, 1);
    assert_int_equal(stats(&r, 0).unicast, 20);
    assert_int_equal(stats(&r, 1).unicast, 21);

    /* The station m1 moves to port 2: the switch follows it. */
    uint8_t m2[6];
    mac_of(m2, 12);
    make_frame(f, m2, m1, 300, 64);     /* m2 unknown: flooded to 0 and 1 */
    send_ok(&r, 2, f, 64);
    expect_frame(&r, 0, f, 64);
    expect_frame(&r, 1, f, 64);
    make_frame(f, m1, m0, 301, 64);
    send_ok(&r, 0, f, 64);
    expect_frame(&r, 2, f, 64);
    expect_empty(&r, 1);
    free(r.mem);
}

/* Broadcast and multicast go to every port but the sender's. */
static void test_flood(void **state)
{
    (void)state;
    struct region r = mk_region(4, 8, 2048, 16, 0);
    uint8_t me[6], f[MAXF];
    for (uint32_t src = 0; src < 4; src++) {
        mac_of(me, 20 + src);
        make_frame(f, BCAST, me, src, 342);
        send_ok(&r, src, f, 342);
        make_frame(f + 1000, MCAST, me, src + 100, 90);
        send_ok(&r, src, f + 1000, 90);
        for (uint32_t p = 0; p < 4; p++) {
            if (p == src) {
                expect_empty(&r, p);
                continue;
            }
            expect_frame(&r, p, f, 342);
            expect_frame(&r, p, f + 1000, 90);
            expect_empty(&r, p);
        }
        assert_int_equal(stats(&r, src).flooded, 2);
    }
    for (uint32_t p = 0; p < 4; p++)
        assert_int_equal(stats(&r, p).rx_frames, 6);
    free(r.mem);
}

/* A frame whose destination was learned on the sending port is dropped,
 * not reflected; a multicast source address is refused. */
static void test_no_reflection(void **state)
{
    (void)state;
    struct region r = mk_region(3, 8, 2048, 16, 0);
    uint8_t x[6], y[6], f[MAXF], g[MAXF];
    mac_of(x, 30);
    mac_of(y, 31);
    /* x and y both behind port 0 (a bridge there). */
    make_frame(f, BCAST, x, 1, 60);
    send_ok(&r, 0, f, 60);
    make_frame(g, BCAST, y, 2, 61);
    send_ok(&r, 0, g, 61);
    for (uint32_t p = 1; p < 3; p++) {
        expect_frame(&r, p, f, 60);
        expect_frame(&r, p, g, 61);
    }
    expect_empty(&r, 0);
    make_frame(f, y, x, 3, 60);
    send_ok(&r, 0, f, 60);
    expect_empty(&r, 0);
    struct vmnet_port_stats s0 = stats(&r, 0);
    assert_int_equal(s0.drop_filtered, 1);
    assert_int_equal(s0.tx_frames, s0.unicast + s0.flooded + s0.drop_filtered);

    make_frame(f, y, MCAST, 4, 60);     /* multicast source */
    send_ok(&r, 1, f, 60);
    assert_int_equal(stats(&r, 1).drop_tx_src, 1);
    assert_int_equal(stats(&r, 1).tx_frames, 0);
    free(r.mem);
}

/* A full RX ring drops and counts; order is kept; the ring recovers. */
static void test_ring_full(void **state)
{
    (void)state;
    struct region r = mk_region(2, 4, 2048, 16, 0);
    uint8_t a[6], b[6], f[8][256];
    mac_of(a, 40);
    mac_of(b, 41);
    for (uint32_t i = 0; i < 7; i++) {
        make_frame(f[i], b, a, i, 100 + i);
        send_ok(&r, 0, f[i], 100 + i);
    }
    assert_int_equal(stats(&r, 1).drop_rx_full, 3);
    assert_int_equal(stats(&r, 1).rx_frames, 4);
    for (uint32_t i = 0; i < 4; i++)
        expect_frame(&r, 1, f[i], 100 + i);
    expect_empty(&r, 1);
    make_frame(f[7], b, a, 7, 200);
    send_ok(&r, 0, f[7], 200);
    expect_frame(&r, 1, f[7], 200);
    assert_int_equal(stats(&r, 0).tx_frames, 8);

    /* The TX side: without the switch, the guest's ring takes 4 frames. */
    struct vmnet_guest_port gp;
    struct vmnet_port_shm *s0 = shm(&r, 0);
    assert_int_equal(vmnet_guest_open(&gp, s0, s0->area_size), VMNET_OK);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(vmnet_guest_put(&gp, f[i], 100 + i), VMNET_OK);
    assert_int_equal(vmnet_guest_put(&gp, f[4], 104), VMNET_EAGAIN);
    assert_int_equal(vmnet_switch_tx(r.mem, r.size, 0), 4);
    for (uint32_t i = 0; i < 4; i++)
        expect_frame(&r, 1, f[i], 100 + i);
    free(r.mem);
}

/* Argument errors of the API. */
static void test_bad_args(void **state)
{
    (void)state;
    struct region r = mk_region(2, 4, 2048, 16, 0);
    uint8_t f[4096];
    make_frame(f, BCAST, BCAST + 0, 0, 100);
    mac_of(f + 6, 1);
    assert_int_equal(vmnet_port_send(r.mem, r.size, 0, f, 13), VMNET_EINVAL);
    assert_int_equal(vmnet_port_send(r.mem, r.size, 0, f, MAXF + 1), VMNET_EINVAL);
    assert_int_equal(vmnet_port_send(r.mem, r.size, 0, f, 0xFFFFFFFFu), VMNET_EINVAL);
    assert_int_equal(vmnet_port_send(r.mem, r.size, 0, NULL, 100), VMNET_EINVAL);
    assert_int_equal(vmnet_port_send(r.mem, r.size, 2, f, 100), VMNET_EPORT);
    assert_int_equal(vmnet_port_send(r.mem, r.size, 0xFFFFFFFFu, f, 100), VMNET_EPORT);
    assert_int_equal(vmnet_switch_tx(r.mem, r.size, 2), VMNET_EPORT);
    assert_int_equal(vmnet_port_recv(r.mem, r.size, 7, f, 100), VMNET_EPORT);
    /* A buffer too small: the frame stays until a large enough one comes. */
    send_ok(&r, 0, f, 100);
    assert_int_equal(vmnet_port_recv(r.mem, r.size, 1, f + 2048, 99), VMNET_E2BIG);
    expect_frame(&r, 1, f, 100);
    free(r.mem);
}

/* ---- a hostile guest ------------------------------------------------------------ */

/* Puts a raw (len, bytes) into port's next TX slot and bumps prod, as a
 * guest may, without any check. */
static void raw_tx(struct region *r, uint32_t port, uint32_t len, const uint8_t *bytes, uint32_t n)
{
    struct vmnet_port_shm *s = shm(r, port);
    uint32_t prod = s->tx.prod;
    struct vmnet_slot *slot = (struct vmnet_slot *)((uint8_t *)s + VMNET_PORT_SLOTS_OFF +
                                                    (prod & (s->ring_slots - 1)) * s->slot_size);
    memcpy(slot->data, bytes, n);
    slot->len = len;
    s->tx.prod = prod + 1;
}

static void test_hostile_lengths(void **state)
{
    (void)state;
    struct region r = mk_region(2, 4, 2048, 16, 0);
    uint8_t a[6], f[MAXF];
    mac_of(a, 50);
    make_frame(f, BCAST, a, 0, 64);
    const uint32_t lens[] = { 0, 1, 13, MAXF + 1, 2048, 4096, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu };
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        raw_tx(&r, 0, lens[i], f, 64);
        assert_int_equal(vmnet_switch_tx(r.mem, r.size, 0), 1);
    }
    assert_int_equal(stats(&r, 0).drop_tx_len, sizeof(lens) / sizeof(lens[0]));
    assert_int_equal(stats(&r, 1).rx_frames, 0);
    expect_empty(&r, 1);
    raw_tx(&r, 0, 14, f, 64);           /* the shortest legal frame */
    raw_tx(&r, 0, MAXF, f, 64);         /* the longest: the rest of the slot is whatever is there */
    assert_int_equal(vmnet_switch_tx(r.mem, r.size, 0), 2);
    expect_frame(&r, 1, f, 14);
    uint8_t buf[MAXF];
    assert_int_equal(vmnet_port_recv(r.mem, r.size, 1, buf, sizeof(buf)), MAXF);
    assert_memory_equal(buf, f, 64);
    free(r.mem);
}

static void test_hostile_indices(void **state)
{
    (void)state;
    struct region r = mk_region(3, 8, 2048, 16, 0);
    uint8_t a[6], b[6], f[MAXF];
    mac_of(a, 60);
    mac_of(b, 61);
    struct vmnet_port_shm *s0 = shm(&r, 0), *s1 = shm(&r, 1), *s2 = shm(&r, 2);

    /* TX producer index of port 0 beyond what a ring can hold. */
    const uint32_t bad_prod[] = { 9, 100, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu };
    for (size_t i = 0; i < sizeof(bad_prod) / sizeof(bad_prod[0]); i++) {
        s0->tx.prod = bad_prod[i];
        assert_int_equal(vmnet_switch_tx(r.mem, r.size, 0), VMNET_ECORRUPT);
    }
    assert_int_equal(stats(&r, 0).err_tx_index, 5);
    /* The published consumer index does not move the switch's own: the
     * guest overwrites it, the switch still knows where it is. */
    s0->tx.cons = 0xDEAD;
    s0->tx.prod = 0;
    assert_int_equal(vmnet_switch_tx(r.mem, r.size, 0), 0);
    assert_int_equal(s0->tx.cons, 0);
    make_frame(f, b, a, 1, 80);
    send_ok(&r, 0, f, 80);              /* flooded to 1 and 2 */
    expect_frame(&r, 1, f, 80);
    expect_frame(&r, 2, f, 80);

    /* Port 1's guest corrupts its RX consumer index: frames for it are
     * dropped (counted), port 2 is unaffected. */
    /* (0xFFFFFFFF would look like a ring holding 2 frames: not detectable,
     * and harmless: the guest only misreads its own ring.) */
    const uint32_t bad_cons[] = { 2, 100, 0x80000000u, 0xFFFFFFF0u };
    for (size_t i = 0; i < sizeof(bad_cons) / sizeof(bad_cons[0]); i++) {
        s1->rx.cons = bad_cons[i];
        make_frame(f, BCAST, a, 10 + (uint32_t)i, 90);
        send_ok(&r, 0, f, 90);
        expect_frame(&r, 2, f, 90);
        assert_int_equal(vmnet_port_recv(r.mem, r.size, 1, f + 1024, 1000), VMNET_ECORRUPT);
    }
    assert_int_equal(stats(&r, 1).drop_rx_index, 4);
    assert_int_equal(stats(&r, 1).rx_frames, 1);
    s1->rx.cons = 1;                    /* repaired: it works again */
    make_frame(f, BCAST, a, 20, 90);
    send_ok(&r, 0, f, 90);
    expect_frame(&r, 1, f, 90);
    expect_frame(&r, 2, f, 90);

    /* The published producer index and the geometry copy are the guest's
     * to break: the switch never reads them. */
    s2->rx.prod = 0xFFFF0000u;
    s2->ring_slots = 1u << 30;
    s2->slot_size = 3;
    make_frame(f, BCAST, a, 21, 90);
    send_ok(&r, 0, f, 90);
    expect_frame(&r, 1, f, 90);
    assert_int_equal(stats(&r, 2).rx_frames, 1 + 4 + 1 + 1);
    struct vmnet_guest_port gp;
    assert_int_equal(vmnet_guest_open(&gp, s2, s2->area_size), VMNET_EBADREGION);

    /* A corrupt slot length in an RX ring is refused by the guest side. */
    s2->rx.prod = 0;
    s2->rx.cons = 0;
    s2->ring_slots = 8;
    s2->slot_size = 2048;
    s2->rx.prod = 1;
    ((struct vmnet_slot *)((uint8_t *)s2 + VMNET_PORT_SLOTS_OFF + 8 * 2048))->len = 5000;
    assert_int_equal(vmnet_port_recv(r.mem, r.size, 2, f, sizeof(f)), VMNET_ECORRUPT);
    free(r.mem);
}

/* Every header field broken in turn: every entry point refuses the region
 * and touches nothing. */
static void test_corrupt_header(void **state)
{
    (void)state;
    struct region r = mk_region(2, 8, 2048, 16, 0);
    uint8_t a[6], f[MAXF];
    mac_of(a, 70);
    make_frame(f, BCAST, a, 0, 60);
    uint8_t saved[sizeof(struct vmnet_hdr)];
    memcpy(saved, r.mem, sizeof(saved));
    /* Fields that vmnet_check must reject when changed (all but the
     * free-form ones: age_limit, hash_seed and the mutable state). */
    size_t geometry_end = offsetof(struct vmnet_hdr, age_limit);
    const uint64_t vals[] = { 0, 1, 3, 0x1000, 0x7FFFFFFFull, 0xFFFFFFFFull, 0x8000000000000000ull,
                              ~0ull };
    unsigned refused = 0;
    for (size_t off = 0; off < geometry_end; off += 4) {
        for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
            memcpy(r.mem, saved, sizeof(saved));
            uint32_t word = (uint32_t)(vals[v] >> ((off / 4) % 2 * 32));
            uint32_t old;
            memcpy(&old, r.mem + off, 4);
            if (word == old)
                word ^= 0x10;
            memcpy(r.mem + off, &word, 4);
            assert_int_equal(vmnet_check(r.mem, r.size), VMNET_EBADREGION);
            assert_int_equal(vmnet_port_send(r.mem, r.size, 0, f, 60), VMNET_EBADREGION);
            assert_int_equal(vmnet_switch_tx(r.mem, r.size, 0), VMNET_EBADREGION);
            assert_int_equal(vmnet_port_recv(r.mem, r.size, 1, f, sizeof(f)), VMNET_EBADREGION);
            assert_int_equal(vmnet_port_offset(r.mem, r.size, 0), 0);
            refused++;
        }
    }
    assert_int_equal(refused, geometry_end / 4 * 8);
    memcpy(r.mem, saved, sizeof(saved));
    assert_int_equal(vmnet_check(r.mem, r.size), VMNET_OK);
    /* Nothing moved meanwhile. */
    assert_int_equal(stats(&r, 0).tx_frames, 0);
    expect_empty(&r, 1);
    send_ok(&r, 0, f, 60);
    expect_frame(&r, 1, f, 60);
    /* A caller that vouches for less memory than the header claims. */
    assert_int_equal(vmnet_switch_tx(r.mem, r.size - 4096, 0), VMNET_EBADREGION);
    /* A header valid in itself but for a larger region than the block. */
    struct region big = mk_region(8, 256, 2048, 16, 0);
    memcpy(r.mem, big.mem, sizeof(struct vmnet_hdr));
    assert_int_equal(vmnet_check(big.mem, big.size), VMNET_OK);
    assert_int_equal(vmnet_check(r.mem, r.size), VMNET_EBADREGION);
    assert_int_equal(vmnet_switch_tx(r.mem, r.size, 7), VMNET_EBADREGION);
    free(big.mem);
    free(r.mem);
}

/* A MAC-table entry with an impossible port is ignored (the frame floods);
 * aging forgets a station; a full set evicts its least recently seen. */
static void test_mac_table(void **state)
{
    (void)state;
    struct region r = mk_region(3, 16, 2048, 1, 4);  /* one set of 4, age 4 frames */
    struct vmnet_hdr *h = (struct vmnet_hdr *)r.mem;
    struct vmnet_mac_entry *tab = (struct vmnet_mac_entry *)(r.mem + h->mac_off);
    uint8_t m[8][6], f[MAXF];
    for (unsigned i = 0; i < 8; i++)
        mac_of(m[i], 80 + i);

    make_frame(f, BCAST, m[0], 0, 60);  /* m0 on port 0 */
    send_ok(&r, 0, f, 60);
    expect_frame(&r, 1, f, 60);
    expect_frame(&r, 2, f, 60);
    for (unsigned w = 0; w < VMNET_MAC_WAYS; w++)
        if (tab[w].stamp != 0)
            tab[w].port = 999;          /* corrupted: points nowhere */
    make_frame(f, m[0], m[1], 1, 60);   /* to m0 from port 1: must flood, not crash */
    send_ok(&r, 1, f, 60);
    expect_frame(&r, 0, f, 60);
    expect_frame(&r, 2, f, 60);
    assert_int_equal(stats(&r, 1).flooded, 1);

    /* Aging: m1 (port 1) is learned at clock 2; 4 frames later it is gone. */
    make_frame(f, m[1], m[2], 2, 60);   /* clock 3: m1 known, unicast */
    send_ok(&r, 2, f, 60);
    expect_frame(&r, 1, f, 60);
    expect_empty(&r, 0);
    for (unsigned i = 0; i < 3; i++) {  /* clocks 4..6 from port 0 to m2 (known) */
        make_frame(f, m[2], m[0], 10 + i, 60);
        send_ok(&r, 0, f, 60);
        expect_frame(&r, 2, f, 60);
    }
    make_frame(f, m[1], m[2], 20, 60);  /* clock 7: m1 seen at 2, 7 - 2 >= 4: flood */
    send_ok(&r, 2, f, 60);
    expect_frame(&r, 1, f, 60);
    expect_frame(&r, 0, f, 60);

    /* Replacement: fill the one set with m3..m6 from port 0, each seen
     * later than the one before; m7 evicts the oldest (m3). */
    struct region q = mk_region(3, 16, 2048, 1, 0);
    for (unsigned i = 3; i <= 7; i++) {
        make_frame(f, BCAST, m[i], i, 60);
        send_ok(&q, i == 7 ? 1 : 0, f, 60);
    }
    for (unsigned p = 0; p < 3; p++)
        while (vmnet_port_recv(q.mem, q.size, p, f, sizeof(f)) > 0)
            ;
    make_frame(f, m[4], m[7], 30, 60);  /* m4 still known: only port 0 */
    send_ok(&q, 1, f, 60);
    expect_frame(&q, 0, f, 60);
    expect_empty(&q, 2);
    make_frame(f, m[3], m[7], 31, 60);  /* m3 evicted: flooded */
    send_ok(&q, 1, f, 60);
    expect_frame(&q, 0, f, 60);
    expect_frame(&q, 2, f, 60);
    free(q.mem);
    free(r.mem);
}

/* The lock: a switch that stays busy gives up (counted) and the frame
 * waits in the TX ring for the next call. */
static void test_busy(void **state)
{
    (void)state;
    struct region r = mk_region(2, 4, 2048, 16, 0);
    struct vmnet_hdr *h = (struct vmnet_hdr *)r.mem;
    uint8_t a[6], f[MAXF];
    mac_of(a, 90);
    make_frame(f, BCAST, a, 0, 77);
    h->lock = 1;
    assert_int_equal(vmnet_port_send(r.mem, r.size, 0, f, 77), VMNET_EBUSY);
    assert_int_equal(h->busy, 1);
    expect_empty(&r, 1);
    h->lock = 0;
    assert_int_equal(vmnet_switch_tx(r.mem, r.size, 0), 1);
    expect_frame(&r, 1, f, 77);
    free(r.mem);
}

/* ---- giving a port back: vmnet_port_reset ---------------------------------------- */

/* Port 1's guest leaves frames in both its rings, a learned MAC and a
 * scribbled area header; after the reset its area is what vmnet_init
 * made, its switch state is zero, its MAC is forgotten, and every other
 * byte of the region is as it was. */
static void test_port_reset(void **state)
{
    (void)state;
    struct region r = mk_region(3, 8, 2048, 16, 0);
    struct region fresh = mk_region(3, 8, 2048, 16, 0);
    struct vmnet_hdr *h = (struct vmnet_hdr *)r.mem;
    uint8_t m1[6], m2[6], f[MAXF];
    mac_of(m1, 110);
    mac_of(m2, 112);
    make_frame(f, BCAST, m1, 0, 60);        /* m1 learned on port 1 */
    send_ok(&r, 1, f, 60);
    make_frame(f, BCAST, m2, 1, 61);        /* two broadcasts queued in port 1's RX ring */
    send_ok(&r, 2, f, 61);
    send_ok(&r, 2, f, 61);
    make_frame(f, m1, m2, 2, 62);           /* a unicast to m1: port 1 only */
    send_ok(&r, 2, f, 62);
    assert_int_equal(stats(&r, 2).unicast, 1);
    struct vmnet_guest_port gp;
    uint64_t off1 = vmnet_port_offset(r.mem, r.size, 1), area = vmnet_port_area_size(r.mem, r.size);
    assert_int_equal(vmnet_guest_open(&gp, r.mem + off1, area), VMNET_OK);
    make_frame(f, m2, m1, 3, 63);           /* queued in its TX ring, never switched */
    assert_int_equal(vmnet_guest_put(&gp, f, 63), VMNET_OK);
    memset(r.mem + off1, 0x5A, 64);         /* and its area header scribbled over, */
    for (uint64_t o = 4096 - 8; o < area; o += 4096)
        memset(r.mem + off1 + o, 0x5A, 8);  /* and the end of every page of its rings */
    assert_true(memcmp(r.mem + off1, fresh.mem + off1, area) != 0);

    uint8_t *before = malloc(r.size);
    assert_non_null(before);
    memcpy(before, r.mem, r.size);
    assert_int_equal(vmnet_port_reset(r.mem, r.size, 1), VMNET_OK);
    assert_int_equal(vmnet_check(r.mem, r.size), VMNET_OK);

    /* The area, byte for byte as vmnet_init made it. */
    assert_memory_equal(r.mem + off1, fresh.mem + off1, area);
    /* The switch's state for port 1: zero (indices and every counter). */
    struct vmnet_port_priv zero_priv;
    memset(&zero_priv, 0, sizeof(zero_priv));
    struct vmnet_port_priv *pv = (struct vmnet_port_priv *)(r.mem + h->priv_off);
    assert_memory_equal(&pv[1], &zero_priv, sizeof(zero_priv));
    /* MAC entries: those learned on port 1 are empty, the others unchanged. */
    struct vmnet_mac_entry *tab = (struct vmnet_mac_entry *)(r.mem + h->mac_off);
    const struct vmnet_mac_entry *old_tab = (const struct vmnet_mac_entry *)(before + h->mac_off);
    unsigned forgotten = 0, kept = 0;
    for (uint32_t i = 0; i < 16 * VMNET_MAC_WAYS; i++) {
        if (old_tab[i].stamp != 0 && old_tab[i].port == 1) {
            assert_int_equal(tab[i].stamp, 0);
            assert_true(memcmp(tab[i].mac, "\0\0\0\0\0\0", 6) == 0);
            forgotten++;
        } else {
            assert_memory_equal(&tab[i], &old_tab[i], sizeof(tab[i]));
            kept += old_tab[i].stamp != 0;
        }
    }
    assert_int_equal(forgotten, 1);     /* m1 */
    assert_int_equal(kept, 1);          /* m2 on port 2 */
    /* Everything else: header (clock, busy, lock), the other ports'
     * switch state, the bounce buffer and the other ports' areas. */
    assert_memory_equal(r.mem, before, h->priv_off + sizeof(struct vmnet_port_priv));
    assert_memory_equal(r.mem + h->priv_off + 2 * sizeof(struct vmnet_port_priv),
                        before + h->priv_off + 2 * sizeof(struct vmnet_port_priv),
                        h->mac_off - h->priv_off - 2 * sizeof(struct vmnet_port_priv));
    assert_memory_equal(r.mem + h->bounce_off, before + h->bounce_off, off1 - h->bounce_off);
    assert_memory_equal(r.mem + off1 + area, before + off1 + area, r.size - off1 - area);

    /* The queued frames are gone: the TX frame is not switched, the RX
     * ring is empty, the counters read zero. */
    assert_int_equal(vmnet_switch_tx(r.mem, r.size, 1), 0);
    expect_empty(&r, 1);
    struct vmnet_port_stats s1 = stats(&r, 1), zero_stats;
    memset(&zero_stats, 0, sizeof(zero_stats));
    assert_memory_equal(&s1, &zero_stats, sizeof(s1));
    /* m1 is unknown now: a frame to it floods (to 0 and 1) instead of
     * going to port 1 as a known unicast. */
    struct vmnet_port_stats s2 = stats(&r, 2);
    make_frame(f, m1, m2, 4, 64);
    send_ok(&r, 2, f, 64);
    assert_int_equal(stats(&r, 2).flooded, s2.flooded + 1);
    assert_int_equal(stats(&r, 2).unicast, s2.unicast);
    /* And the port works for its next owner. */
    expect_frame(&r, 1, f, 64);
    make_frame(f, m2, m1, 5, 65);
    send_ok(&r, 1, f, 65);
    assert_int_equal(stats(&r, 1).unicast, 1);
    free(before);
    free(fresh.mem);
    free(r.mem);
}

/* Refusals change nothing: a held lock (bounded wait, EBUSY, not counted
 * in busy), a port out of range, a damaged header. */
static void test_port_reset_refused(void **state)
{
    (void)state;
    struct region r = mk_region(2, 4, 2048, 16, 0);
    struct vmnet_hdr *h = (struct vmnet_hdr *)r.mem;
    uint8_t a[6], f[MAXF];
    mac_of(a, 120);
    make_frame(f, BCAST, a, 0, 70);
    send_ok(&r, 0, f, 70);                  /* port 1 has a frame and a counter */
    uint8_t *before = malloc(r.size);
    assert_non_null(before);

    h->lock = 1;
    memcpy(before, r.mem, r.size);
    assert_int_equal(vmnet_port_reset(r.mem, r.size, 1), VMNET_EBUSY);
    assert_memory_equal(r.mem, before, r.size);
    h->lock = 0;

    memcpy(before, r.mem, r.size);
    assert_int_equal(vmnet_port_reset(r.mem, r.size, 2), VMNET_EPORT);
    assert_int_equal(vmnet_port_reset(r.mem, r.size, 0xFFFFFFFFu), VMNET_EPORT);
    assert_int_equal(vmnet_port_reset(r.mem, r.size - 4096, 1), VMNET_EBADREGION);
    assert_int_equal(vmnet_port_reset(NULL, r.size, 1), VMNET_EBADREGION);
    h->magic = 0;
    before[0] = 0;
    before[1] = 0;
    before[2] = 0;
    before[3] = 0;
    assert_int_equal(vmnet_port_reset(r.mem, r.size, 1), VMNET_EBADREGION);
    assert_memory_equal(r.mem, before, r.size);
    h->magic = VMNET_MAGIC;
    expect_frame(&r, 1, f, 70);
    free(before);
    free(r.mem);
}

/* ---- concurrency: two senders, one receiver ------------------------------------- */

#define THR_FRAMES 20000

struct thr {
    struct region *r;
    uint32_t port;
    uint32_t sent;
};

static void *sender(void *arg)
{
    struct thr *t = arg;
    uint8_t me[6], dst[6], f[MAXF];
    mac_of(me, 100 + t->port);
    mac_of(dst, 102);
    for (uint32_t seq = 0; seq < THR_FRAMES; seq++) {
        uint32_t len = 14 + 4 + (seq * 37 + t->port * 11) % 1500;
        make_frame(f, dst, me, seq, len);
        for (;;) {
            int rc = vmnet_port_send(t->r->mem, t->r->size, t->port, f, len);
            if (rc == VMNET_OK || rc == VMNET_EBUSY)
                break;
            if (rc != VMNET_EAGAIN)
                return NULL;
            /* TX ring full: frames left by busy give-ups; switch them. */
            vmnet_switch_tx(t->r->mem, t->r->size, t->port);
        }
        __atomic_store_n(&t->sent, seq + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct region r = mk_region(3, 64, 2048, 16, 0);
    uint8_t m2[6], f[MAXF], want[MAXF];
    mac_of(m2, 102);
    make_frame(f, BCAST, m2, 0, 60);    /* port 2's station is learned first */
    send_ok(&r, 2, f, 60);
    expect_frame(&r, 0, f, 60);
    expect_frame(&r, 1, f, 60);

    struct thr t[2] = { { &r, 0, 0 }, { &r, 1, 0 } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, sender, &t[i]), 0);
    int64_t next[2] = { 0, 0 };
    uint64_t got = 0;
    unsigned idle = 0;
    while (idle < 1000) {
        int n = vmnet_port_recv(r.mem, r.size, 2, f, sizeof(f));
        if (n == VMNET_EAGAIN) {
            if (__atomic_load_n(&t[0].sent, __ATOMIC_ACQUIRE) == THR_FRAMES &&
                __atomic_load_n(&t[1].sent, __ATOMIC_ACQUIRE) == THR_FRAMES) {
                /* A frame queued during a busy give-up waits for a switch call. */
                vmnet_switch_tx(r.mem, r.size, 0);
                vmnet_switch_tx(r.mem, r.size, 1);
                idle++;
            }
            continue;
        }
        assert_true(n >= 18);
        uint32_t src = f[11] - 100, seq;
        assert_true(src < 2);
        memcpy(&seq, f + 14, 4);
        assert_true((int64_t)seq >= next[src]);   /* in order, gaps only for drops */
        make_frame(want, m2, f + 6, seq, (uint32_t)n);
        assert_memory_equal(f, want, (size_t)n);
        next[src] = (int64_t)seq + 1;
        got++;
        idle = 0;
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(t[i].sent, THR_FRAMES);
    }
    struct vmnet_port_stats s2 = stats(&r, 2);
    assert_int_equal(s2.rx_frames, got);
    assert_int_equal(s2.rx_frames + s2.drop_rx_full, 2 * THR_FRAMES);
    assert_int_equal(stats(&r, 0).tx_frames + stats(&r, 1).tx_frames, 2 * THR_FRAMES);
    expect_empty(&r, 0);
    expect_empty(&r, 1);
    free(r.mem);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_two_ports),
        cmocka_unit_test(test_learning),
        cmocka_unit_test(test_flood),
        cmocka_unit_test(test_no_reflection),
        cmocka_unit_test(test_ring_full),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_hostile_lengths),
        cmocka_unit_test(test_hostile_indices),
        cmocka_unit_test(test_corrupt_header),
        cmocka_unit_test(test_mac_table),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_port_reset),
        cmocka_unit_test(test_port_reset_refused),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
