/* elisa/vmnet/vmnet.c - the vmnet region, its rings and the learning
 * switch (vmnet.h; layout, ordering and trust model in README.md).
 *
 * Rules this file keeps, because it runs in ELISA's sub context with
 * interrupts off and only the region mapped:
 *   - no global or static data and no string constants (vmnet_err.c has
 *     vmnet_strerror); vmnet.mk checks that the object has no .data,
 *     .bss or .rodata and references no undefined symbol;
 *   - no unbounded loop: a call switches at most one ring's worth of
 *     frames and gives up on a taken lock after VMNET_LOCK_SPINS;
 *   - every value that a guest can write (its ring indices, slot lengths,
 *     slot bytes) is read exactly once into a local and checked before it
 *     is used; the region's geometry is read once per call into a local
 *     copy (struct geom) and checked against the size the caller gives;
 *   - indices are only ever used masked by (slots - 1), so even a value
 *     that slipped past a check cannot address outside its ring.
 *
 * Memory ordering: GCC/Clang __atomic builtins on the 32-bit indices (no
 * <stdatomic.h>, which C11 does not promise a freestanding
 * implementation, and no libatomic: aligned 4-byte atomics are inline
 * instructions).  A producer fills a slot, then publishes the index with
 * a release store; the consumer loads the index with acquire before
 * reading the slot and publishes its own index with release after
 * reading it; the producer loads that index with acquire before reusing a
 * slot.  On x86-64 these compile to plain MOVs that the compiler may not
 * reorder (TSO does the rest), so the cost is nil.
 */
#include "vmnet.h"

/* A 64-bit word that may alias the bytes of a slot. */
typedef uint64_t __attribute__((may_alias)) vmnet_u64a;

/* The region's geometry, read once per call from the header and checked.
 * Everything below uses this copy, never the header again. */
struct geom {
    uint32_t nports;
    uint32_t slots;
    uint32_t slot_size;
    uint32_t mac_sets;
    uint64_t priv_off;
    uint64_t mac_off;
    uint64_t bounce_off;
    uint64_t ports_off;
    uint64_t port_stride;
    uint64_t region_size;
    uint64_t age_limit;
    uint64_t hash_seed;
};

/* ---- small helpers ---------------------------------------------------------- */

static bool is_pow2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
    return (v + a - 1) & ~(a - 1);
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __asm__ volatile("pause" ::: "memory");
#else
    __asm__ volatile("" ::: "memory");
#endif
}

/* The switch lock in the header (0 free, 1 taken): an acquiring exchange
 * to take it, a releasing store to free it, and at most VMNET_LOCK_SPINS
 * tries, so that no caller spins for ever with interrupts off. */
static bool lock_take(uint32_t *lock)
{
    for (uint32_t i = 0; i < VMNET_LOCK_SPINS; i++) {
        if (__atomic_load_n(lock, __ATOMIC_RELAXED) == 0 &&
            __atomic_exchange_n(lock, 1, __ATOMIC_ACQUIRE) == 0)
            return true;
        cpu_relax();
    }
    return false;
}

static void lock_release(uint32_t *lock)
{
    __atomic_store_n(lock, 0, __ATOMIC_RELEASE);
}

/* Copies len bytes between two slot data areas (8-aligned, capacity a
 * multiple of 8 that is >= len rounded up to 8).  The source is read
 * through a volatile pointer: when it is a guest's TX slot the guest may
 * be rewriting it, and each byte must be fetched exactly once. */
static void copy_slot(void *dst, const void *src, uint32_t len)
{
    vmnet_u64a *d = dst;
    const volatile vmnet_u64a *s = src;
    uint32_t words = (len + 7) / 8;

    for (uint32_t i = 0; i < words; i++)
        d[i] = s[i];
}

/* Byte copy for buffers of any alignment (the guest's own frame and
 * receive buffer).  vmnet.mk builds with -fno-tree-loop-distribute-patterns
 * so this does not become a call to memcpy. */
static void copy_bytes(void *dst, const void *src, uint32_t len)
{
    uint8_t *d = dst;
    const uint8_t *s = src;

    for (uint32_t i = 0; i < len; i++)
        d[i] = s[i];
}

static bool ring_ok(uint32_t slots)
{
    return is_pow2(slots) && slots >= VMNET_RING_MIN && slots <= VMNET_RING_MAX;
}

static bool slot_ok(uint32_t slot_size)
{
    return is_pow2(slot_size) && slot_size >= VMNET_SLOT_MIN && slot_size <= VMNET_SLOT_MAX;
}

/* ---- layout ------------------------------------------------------------------- */

/* The one place the layout is computed, from the four numbers that define
 * it; vmnet_init writes what it returns and vmnet_check demands exactly
 * the same offsets back.  All values stay far below 2^63 (at most 64 ports
 * of 2 * 32768 * 65536 bytes), so nothing here can overflow. */
static bool layout(uint32_t nports, uint32_t slots, uint32_t slot_size, uint32_t mac_sets,
                   struct geom *g)
{
    if (nports < 1 || nports > VMNET_MAX_PORTS || !ring_ok(slots) || !slot_ok(slot_size) ||
        !is_pow2(mac_sets) || mac_sets > VMNET_MAC_SETS_MAX)
        return false;
    g->nports = nports;
    g->slots = slots;
    g->slot_size = slot_size;
    g->mac_sets = mac_sets;
    g->priv_off = align_up(sizeof(struct vmnet_hdr), 64);
    g->mac_off = align_up(g->priv_off + (uint64_t)nports * sizeof(struct vmnet_port_priv), 64);
    g->bounce_off = align_up(g->mac_off + (uint64_t)mac_sets * VMNET_MAC_WAYS *
                             sizeof(struct vmnet_mac_entry), 64);
    g->ports_off = align_up(g->bounce_off + slot_size, VMNET_PAGE);
    g->port_stride = align_up(VMNET_PORT_SLOTS_OFF + 2ull * slots * slot_size, VMNET_PAGE);
    g->region_size = g->ports_off + (uint64_t)nports * g->port_stride;
    return true;
}

/* Reads the header once (volatile: each field exactly one load, even if
 * the memory changes under us) and validates it: magic, version, sizes
 * in range, every offset equal to what the layout gives, and the whole
 * layout inside the size the caller vouches for. */
static int load_geom(const void *mem, uint64_t size, struct geom *g)
{
    const volatile struct vmnet_hdr *h = mem;
    struct geom want;

    if (mem == NULL || ((uintptr_t)mem & 63) != 0 || size < sizeof(struct vmnet_hdr))
        return VMNET_EBADREGION;
    if (h->magic != VMNET_MAGIC || h->version != VMNET_VERSION ||
        h->hdr_size != sizeof(struct vmnet_hdr) || h->mac_ways != VMNET_MAC_WAYS)
        return VMNET_EBADREGION;
    uint32_t nports = h->nports, slots = h->ring_slots, slot_size = h->slot_size;
    uint32_t mac_sets = h->mac_sets;
    if (!layout(nports, slots, slot_size, mac_sets, &want))
        return VMNET_EBADREGION;
    g->nports = nports;
    g->slots = slots;
    g->slot_size = slot_size;
    g->mac_sets = mac_sets;
    g->priv_off = h->priv_off;
    g->mac_off = h->mac_off;
    g->bounce_off = h->bounce_off;
    g->ports_off = h->ports_off;
    g->port_stride = h->port_stride;
    g->region_size = h->region_size;
    g->age_limit = h->age_limit;
    g->hash_seed = h->hash_seed;
    if (g->priv_off != want.priv_off || g->mac_off != want.mac_off ||
        g->bounce_off != want.bounce_off || g->ports_off != want.ports_off ||
        g->port_stride != want.port_stride || g->region_size != want.region_size ||
        g->region_size > size)
        return VMNET_EBADREGION;
    return VMNET_OK;
}

/* load_geom, then the port number against it: every per-port entry point
 * starts here. */
static int load_port_geom(const void *mem, uint64_t size, uint32_t port, struct geom *g)
{
    int err = load_geom(mem, size, g);

    if (err != VMNET_OK)
        return err;
    return port < g->nports ? VMNET_OK : VMNET_EPORT;
}

static struct vmnet_port_priv *port_priv(void *mem, const struct geom *g, uint32_t port)
{
    return (struct vmnet_port_priv *)((uint8_t *)mem + g->priv_off) + port;
}

static struct vmnet_port_shm *port_shm(void *mem, const struct geom *g, uint32_t port)
{
    return (struct vmnet_port_shm *)((uint8_t *)mem + g->ports_off + (uint64_t)port * g->port_stride);
}

/* Slot idx (any value: masked here) of the TX (rx = false) or RX ring of
 * the port area at base. */
static uint8_t *ring_slot(uint8_t *base, uint32_t slots, uint32_t slot_size, bool rx, uint32_t idx)
{
    uint64_t ring = VMNET_PORT_SLOTS_OFF + (rx ? (uint64_t)slots * slot_size : 0);
    return base + ring + (uint64_t)(idx & (slots - 1)) * slot_size;
}

/* Zeroes bytes (a multiple of 8) at p (8-aligned), word by word: a call
 * to memset is not available in the sub context. */
static void zero_words(void *p, uint64_t bytes)
{
    vmnet_u64a *w = p;

    for (uint64_t i = 0; i < bytes / 8; i++)
        w[i] = 0;
}

/* Port p's area as a new port: indices 0, both rings' slots zero, and the
 * geometry copy the guest validates in vmnet_guest_open.  vmnet_init does
 * this for every port, vmnet_port_reset for one. */
static void lay_out_port(void *mem, const struct geom *g, uint32_t p)
{
    struct vmnet_port_shm *s = port_shm(mem, g, p);

    zero_words(s, g->port_stride);
    s->magic = VMNET_PORT_MAGIC;
    s->port = p;
    s->ring_slots = g->slots;
    s->slot_size = g->slot_size;
    s->area_size = g->port_stride;
}

uint64_t vmnet_region_size(const struct vmnet_config *cfg)
{
    struct geom g;

    if (cfg == NULL || !layout(cfg->nports, cfg->ring_slots, cfg->slot_size, cfg->mac_sets, &g))
        return 0;
    return g.region_size;
}

int vmnet_init(void *mem, uint64_t size, const struct vmnet_config *cfg)
{
    struct geom g;

    if (mem == NULL || cfg == NULL || ((uintptr_t)mem & 63) != 0 ||
        !layout(cfg->nports, cfg->ring_slots, cfg->slot_size, cfg->mac_sets, &g) ||
        g.region_size > size)
        return VMNET_EINVAL;

    /* Zero the switch-only part: empty MAC table (stamp 0), indices 0,
     * counters 0, lock free.  lay_out_port zeroes each port area. */
    zero_words(mem, g.ports_off);

    struct vmnet_hdr *h = mem;
    h->hdr_size = sizeof(struct vmnet_hdr);
    h->nports = g.nports;
    h->ring_slots = g.slots;
    h->slot_size = g.slot_size;
    h->mac_sets = g.mac_sets;
    h->mac_ways = VMNET_MAC_WAYS;
    h->region_size = g.region_size;
    h->priv_off = g.priv_off;
    h->mac_off = g.mac_off;
    h->bounce_off = g.bounce_off;
    h->ports_off = g.ports_off;
    h->port_stride = g.port_stride;
    h->age_limit = cfg->age_limit;
    h->hash_seed = cfg->hash_seed;
    for (uint32_t p = 0; p < g.nports; p++)
        lay_out_port(mem, &g, p);
    /* Magic and version last: a region is valid only once complete. */
    h->version = VMNET_VERSION;
    __atomic_store_n(&h->magic, VMNET_MAGIC, __ATOMIC_RELEASE);
    return VMNET_OK;
}

int vmnet_check(const void *mem, uint64_t size)
{
    struct geom g;
    return load_geom(mem, size, &g);
}

uint64_t vmnet_port_offset(const void *mem, uint64_t size, uint32_t port)
{
    struct geom g;

    if (load_geom(mem, size, &g) != VMNET_OK || port >= g.nports)
        return 0;
    return g.ports_off + (uint64_t)port * g.port_stride;
}

uint64_t vmnet_port_area_size(const void *mem, uint64_t size)
{
    struct geom g;

    if (load_geom(mem, size, &g) != VMNET_OK)
        return 0;
    return g.port_stride;
}

int vmnet_port_stats(const void *mem, uint64_t size, uint32_t port, struct vmnet_port_stats *out)
{
    struct geom g;
    int err = load_port_geom(mem, size, port, &g);

    if (err != VMNET_OK)
        return err;
    if (out == NULL)
        return VMNET_EPORT;
    /* Word by word: a struct assignment may become a call to memcpy. */
    const volatile uint64_t *s = (const volatile uint64_t *)&port_priv((void *)mem, &g, port)->stats;
    uint64_t *d = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*out) / 8; i++)
        d[i] = s[i];
    return VMNET_OK;
}

/* Why: a port outlives the guest that used it.  Left as it was, its next
 * owner would read the frames still queued in its RX ring and the old
 * owner's bytes in the slots, inherit an area header the old owner may
 * have overwritten (the area is mapped read/write in its default
 * context), and receive frames addressed to the old owner's MAC, which
 * the MAC table still points at this port.  Done under the switch lock so
 * that no switch call delivers into the port or learns on it meanwhile;
 * no other port, the clock or the busy count is touched. */
int vmnet_port_reset(void *mem, uint64_t size, uint32_t port)
{
    struct geom g;
    int err = load_port_geom(mem, size, port, &g);

    if (err != VMNET_OK)
        return err;
    struct vmnet_hdr *h = mem;
    if (!lock_take(&h->lock))
        return VMNET_EBUSY;
    /* The switch's own indices and the port's counters. */
    zero_words(port_priv(mem, &g, port), sizeof(struct vmnet_port_priv));
    lay_out_port(mem, &g, port);
    /* Stamp 0 marks an entry empty (entry_live); the whole entry is
     * zeroed, address included, so no trace of the old owner's station
     * stays.  (Word stores: byte stores of the address made GCC load a
     * zero constant from .rodata.) */
    struct vmnet_mac_entry *tab = (struct vmnet_mac_entry *)((uint8_t *)mem + g.mac_off);
    uint64_t entries = (uint64_t)g.mac_sets * VMNET_MAC_WAYS;
    for (uint64_t i = 0; i < entries; i++)
        if (tab[i].port == port)
            zero_words(&tab[i], sizeof(tab[i]));
    lock_release(&h->lock);
    return VMNET_OK;
}

/* ---- the guest side ---------------------------------------------------------- */

int vmnet_guest_open(struct vmnet_guest_port *gp, void *area, uint64_t area_size)
{
    const volatile struct vmnet_port_shm *s = area;

    if (gp == NULL || area == NULL || ((uintptr_t)area & 63) != 0 ||
        area_size < sizeof(struct vmnet_port_shm))
        return VMNET_EINVAL;
    uint32_t magic = s->magic, slots = s->ring_slots, slot_size = s->slot_size;
    if (magic != VMNET_PORT_MAGIC || !ring_ok(slots) || !slot_ok(slot_size) ||
        VMNET_PORT_SLOTS_OFF + 2ull * slots * slot_size > area_size)
        return VMNET_EBADREGION;
    gp->base = area;
    gp->ring_slots = slots;
    gp->slot_size = slot_size;
    return VMNET_OK;
}

int vmnet_guest_put(const struct vmnet_guest_port *gp, const void *frame, uint32_t len)
{
    struct vmnet_port_shm *s = (struct vmnet_port_shm *)gp->base;

    if (frame == NULL || len < VMNET_ETH_HLEN || len > gp->slot_size - VMNET_SLOT_HDR)
        return VMNET_EINVAL;
    /* prod is ours (we are its only writer); cons is the switch's: acquire,
     * so that its reads of the slot we are about to reuse are done. */
    uint32_t prod = __atomic_load_n(&s->tx.prod, __ATOMIC_RELAXED);
    uint32_t cons = __atomic_load_n(&s->tx.cons, __ATOMIC_ACQUIRE);
    uint32_t used = prod - cons;
    if (used > gp->ring_slots)
        return VMNET_ECORRUPT;
    if (used == gp->ring_slots)
        return VMNET_EAGAIN;
    struct vmnet_slot *slot = (struct vmnet_slot *)ring_slot(gp->base, gp->ring_slots,
                                                             gp->slot_size, false, prod);
    copy_bytes(slot->data, frame, len);
    slot->len = len;
    /* Release: the slot's bytes and length are visible before the index. */
    __atomic_store_n(&s->tx.prod, prod + 1, __ATOMIC_RELEASE);
    return VMNET_OK;
}

int vmnet_guest_get(const struct vmnet_guest_port *gp, void *buf, uint32_t cap)
{
    struct vmnet_port_shm *s = (struct vmnet_port_shm *)gp->base;

    if (buf == NULL && cap != 0)
        return VMNET_EINVAL;
    uint32_t cons = __atomic_load_n(&s->rx.cons, __ATOMIC_RELAXED);
    /* Acquire pairs with the switch's release of prod: the slot is filled. */
    uint32_t prod = __atomic_load_n(&s->rx.prod, __ATOMIC_ACQUIRE);
    uint32_t used = prod - cons;
    if (used == 0)
        return VMNET_EAGAIN;
    if (used > gp->ring_slots)
        return VMNET_ECORRUPT;
    struct vmnet_slot *slot = (struct vmnet_slot *)ring_slot(gp->base, gp->ring_slots,
                                                             gp->slot_size, true, cons);
    uint32_t len = __atomic_load_n(&slot->len, __ATOMIC_RELAXED);
    if (len > gp->slot_size - VMNET_SLOT_HDR)
        return VMNET_ECORRUPT;
    if (len > cap)
        return VMNET_E2BIG;
    copy_bytes(buf, slot->data, len);
    /* Release: our reads of the slot are done before the switch may reuse it. */
    __atomic_store_n(&s->rx.cons, cons + 1, __ATOMIC_RELEASE);
    return (int)len;
}

/* ---- the switch ------------------------------------------------------------------ */

/* The MAC table's set for mac: a keyed 64-bit mix (splitmix64's
 * finaliser over the address xor the manager's seed).  Not a
 * cryptographic PRF: a guest that finds colliding addresses can at worst
 * evict entries of one set, which costs flooding, never a misdelivery. */
static struct vmnet_mac_entry *mac_set(void *mem, const struct geom *g, const uint8_t *mac)
{
    uint64_t k = (uint64_t)mac[0] | (uint64_t)mac[1] << 8 | (uint64_t)mac[2] << 16 |
                 (uint64_t)mac[3] << 24 | (uint64_t)mac[4] << 32 | (uint64_t)mac[5] << 40;
    k ^= g->hash_seed;
    k ^= k >> 30;
    k *= 0xBF58476D1CE4E5B9ull;
    k ^= k >> 27;
    k *= 0x94D049BB133111EBull;
    k ^= k >> 31;
    uint64_t set = k & (g->mac_sets - 1);
    return (struct vmnet_mac_entry *)((uint8_t *)mem + g->mac_off) + set * VMNET_MAC_WAYS;
}

static bool mac_eq(const uint8_t *a, const uint8_t *b)
{
    return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] &&
           a[5] == b[5];
}

/* Usable: filled, pointing at a port that exists, and not aged out. */
static bool entry_live(const struct vmnet_mac_entry *e, const struct geom *g, uint64_t now)
{
    if (e->stamp == 0 || e->port >= g->nports)
        return false;
    return g->age_limit == 0 || now - e->stamp < g->age_limit;
}

/* The port dst was learned on, or -1. */
static int mac_lookup(void *mem, const struct geom *g, const uint8_t *dst, uint64_t now)
{
    struct vmnet_mac_entry *set = mac_set(mem, g, dst);

    for (uint32_t w = 0; w < VMNET_MAC_WAYS; w++)
        if (entry_live(&set[w], g, now) && mac_eq(set[w].mac, dst))
            return set[w].port;
    return -1;
}

/* Records that src was seen on port.  Replacement within the set: the
 * entry for src if there is one (a station that moved is re-pointed),
 * else an empty, invalid or expired entry, else the least recently seen
 * (smallest stamp). */
static void mac_learn(void *mem, const struct geom *g, const uint8_t *src, uint32_t port,
                      uint64_t now)
{
    struct vmnet_mac_entry *set = mac_set(mem, g, src);
    struct vmnet_mac_entry *victim = NULL;

    for (uint32_t w = 0; w < VMNET_MAC_WAYS; w++) {
        if (set[w].stamp != 0 && mac_eq(set[w].mac, src)) {
            victim = &set[w];
            break;
        }
    }
    for (uint32_t w = 0; victim == NULL && w < VMNET_MAC_WAYS; w++)
        if (!entry_live(&set[w], g, now))
            victim = &set[w];
    if (victim == NULL) {
        victim = &set[0];
        for (uint32_t w = 1; w < VMNET_MAC_WAYS; w++)
            if (set[w].stamp < victim->stamp)
                victim = &set[w];
    }
    for (int i = 0; i < 6; i++)
        victim->mac[i] = src[i];
    victim->port = (uint16_t)port;
    victim->stamp = now;
}

/* Puts the frame in the bounce buffer into port's RX ring, or counts why
 * not.  The bounce buffer is switch-only memory, so every receiver of a
 * flooded frame gets the same bytes whatever the sender does meanwhile. */
static void deliver(void *mem, const struct geom *g, uint32_t port, const uint8_t *frame,
                    uint32_t len)
{
    struct vmnet_port_priv *pv = port_priv(mem, g, port);
    struct vmnet_port_shm *s = port_shm(mem, g, port);
    uint32_t prod = pv->rx_prod;
    /* Once, acquire: the guest has finished reading the slots it released. */
    uint32_t cons = __atomic_load_n(&s->rx.cons, __ATOMIC_ACQUIRE);
    uint32_t used = prod - cons;

    if (used > g->slots) {
        pv->stats.drop_rx_index++;
        return;
    }
    if (used == g->slots) {
        pv->stats.drop_rx_full++;
        return;
    }
    struct vmnet_slot *slot = (struct vmnet_slot *)ring_slot((uint8_t *)s, g->slots, g->slot_size,
                                                             true, prod);
    copy_slot(slot->data, frame, len);
    __atomic_store_n(&slot->len, len, __ATOMIC_RELAXED);
    pv->rx_prod = prod + 1;
    /* Release: slot bytes and length before the index the guest polls. */
    __atomic_store_n(&s->rx.prod, prod + 1, __ATOMIC_RELEASE);
    pv->stats.rx_frames++;
    pv->stats.rx_bytes += len;
}

/* One frame, already in the bounce buffer, from port src. */
static void forward(void *mem, const struct geom *g, struct vmnet_hdr *h, uint32_t src,
                    const uint8_t *frame, uint32_t len)
{
    struct vmnet_port_priv *pv = port_priv(mem, g, src);
    const uint8_t *dmac = frame;
    const uint8_t *smac = frame + 6;
    uint64_t now = ++h->clock;

    if (smac[0] & 1) {          /* group bit: no station sends from such an address */
        pv->stats.drop_tx_src++;
        return;
    }
    pv->stats.tx_frames++;
    pv->stats.tx_bytes += len;
    mac_learn(mem, g, smac, src, now);

    int dst = (dmac[0] & 1) ? -1 : mac_lookup(mem, g, dmac, now);
    if (dst == (int)src) {      /* the destination is behind the sender: filter */
        pv->stats.drop_filtered++;
        return;
    }
    if (dst >= 0) {
        pv->stats.unicast++;
        deliver(mem, g, (uint32_t)dst, frame, len);
        return;
    }
    pv->stats.flooded++;
    for (uint32_t p = 0; p < g->nports; p++)
        if (p != src)
            deliver(mem, g, p, frame, len);
}

/* Drains port's TX ring; called with the lock held. */
static int switch_port(void *mem, const struct geom *g, struct vmnet_hdr *h, uint32_t port)
{
    struct vmnet_port_priv *pv = port_priv(mem, g, port);
    struct vmnet_port_shm *s = port_shm(mem, g, port);
    uint8_t *bounce = (uint8_t *)mem + g->bounce_off;
    uint32_t max_len = g->slot_size - VMNET_SLOT_HDR;
    uint32_t cons = pv->tx_cons;
    /* Once, acquire: pairs with the guest's release; the slots up to prod
     * are filled.  Whatever the guest stores later is not looked at. */
    uint32_t prod = __atomic_load_n(&s->tx.prod, __ATOMIC_ACQUIRE);
    uint32_t avail = prod - cons;

    if (avail > g->slots) {
        pv->stats.err_tx_index++;
        return VMNET_ECORRUPT;
    }
    for (uint32_t i = 0; i < avail; i++, cons++) {
        struct vmnet_slot *slot = (struct vmnet_slot *)ring_slot((uint8_t *)s, g->slots,
                                                                 g->slot_size, false, cons);
        uint32_t len = __atomic_load_n(&slot->len, __ATOMIC_RELAXED);   /* once */
        if (len < VMNET_ETH_HLEN || len > max_len) {
            pv->stats.drop_tx_len++;
            continue;
        }
        copy_slot(bounce, slot->data, len);
        forward(mem, g, h, port, bounce, len);
    }
    pv->tx_cons = cons;
    /* Release: our reads of those slots are done before the guest reuses them. */
    __atomic_store_n(&s->tx.cons, cons, __ATOMIC_RELEASE);
    return (int)avail;
}

int vmnet_switch_tx(void *mem, uint64_t size, uint32_t port)
{
    struct geom g;
    int err = load_port_geom(mem, size, port, &g);

    if (err != VMNET_OK)
        return err;
    struct vmnet_hdr *h = mem;
    if (!lock_take(&h->lock)) {
        __atomic_fetch_add(&h->busy, 1, __ATOMIC_RELAXED);
        return VMNET_EBUSY;
    }
    int n = switch_port(mem, &g, h, port);
    lock_release(&h->lock);
    return n;
}

/* ---- both halves ----------------------------------------------------------------- */

/* The guest view of port's area built from the validated header (not
 * from the area's own geometry copy, which the guest may have changed). */
static void region_port(void *mem, const struct geom *g, uint32_t port, struct vmnet_guest_port *gp)
{
    gp->base = (uint8_t *)port_shm(mem, g, port);
    gp->ring_slots = g->slots;
    gp->slot_size = g->slot_size;
}

/* A port's guest view, from the region as it is now (both halves below). */
static int open_port(void *mem, uint64_t size, uint32_t port, struct vmnet_guest_port *gp)
{
    struct geom g;
    int err = load_port_geom(mem, size, port, &g);

    if (err != VMNET_OK)
        return err;
    region_port(mem, &g, port, gp);
    return VMNET_OK;
}

int vmnet_port_send(void *mem, uint64_t size, uint32_t port, const void *frame, uint32_t len)
{
    struct vmnet_guest_port gp;
    int err = open_port(mem, size, port, &gp);

    if (err == VMNET_OK)
        err = vmnet_guest_put(&gp, frame, len);
    if (err != VMNET_OK)
        return err;
    err = vmnet_switch_tx(mem, size, port);
    return err < 0 ? err : VMNET_OK;
}

int vmnet_port_recv(void *mem, uint64_t size, uint32_t port, void *buf, uint32_t cap)
{
    struct vmnet_guest_port gp;
    int err = open_port(mem, size, port, &gp);

    return err != VMNET_OK ? err : vmnet_guest_get(&gp, buf, cap);
}
