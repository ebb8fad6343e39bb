/* elisa/vmnet/vmnet.h - virtual-switch ports in shared memory (ELISA's
 * `vmnet` app): a versioned region holding N ports, each with a TX ring
 * (guest -> switch) and an RX ring (switch -> guest) of fixed-size packet
 * slots, and a learning Ethernet switch between the ports.
 *
 * Freestanding C11: only <stdint.h>/<stddef.h>/<stdbool.h>, no libc, no
 * global or static data, no floating point, small stack frames.  All state
 * lives in the region; every function takes a pointer to it.  The same
 * source builds for the sub context (-ffreestanding -mno-red-zone
 * -mgeneral-regs-only -fno-pic) and for user space.
 *
 * Who runs what (README.md has the full trust model):
 *   - the manager lays the region out once (vmnet_init) and maps port P's
 *     area (vmnet_port_offset/vmnet_port_area_size) into guest P's
 *     default context; the rest of the region (header, switch state, MAC
 *     table, bounce buffer) is mapped only in the sub context;
 *   - the guest, in its default context, puts frames into its TX ring and
 *     takes frames from its RX ring (vmnet_guest_*), touching no other
 *     memory of the region;
 *   - the sub context (reached through the gate, IF = 0) runs
 *     vmnet_switch_tx(region, size, port): it drains that port's TX ring
 *     and forwards every frame.  No guest pointer ever crosses the gate:
 *     the guest passes only a port number.
 * vmnet_port_send/vmnet_port_recv do both halves in one call, for user
 * space, the exit-based fallback and the tests.
 */
#ifndef ELISA_VMNET_H
#define ELISA_VMNET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- constants ------------------------------------------------------------ */

#define VMNET_MAGIC        0x544E4D56u   /* "VMNT" little-endian */
#define VMNET_PORT_MAGIC   0x50544E56u   /* "VNTP": a port area */
#define VMNET_VERSION      1u

#define VMNET_MAX_PORTS    64u
#define VMNET_RING_MIN     2u            /* slots per ring, power of two */
#define VMNET_RING_MAX     32768u
#define VMNET_SLOT_MIN     256u          /* bytes per slot, power of two */
#define VMNET_SLOT_MAX     65536u
#define VMNET_SLOT_HDR     8u            /* struct vmnet_slot before the data */
#define VMNET_MAC_WAYS     4u            /* entries per MAC-table set */
#define VMNET_MAC_SETS_MAX 65536u
#define VMNET_ETH_HLEN     14u           /* shortest frame: dst, src, type */
#define VMNET_PAGE         4096u

/* The default geometry: 2 KiB slots carry a 1514-byte frame (and a VLAN
 * tag, up to 2040 bytes). */
#define VMNET_SLOT_DEFAULT 2048u

/* How long vmnet_switch_tx waits for the switch lock before giving up
 * (-VMNET_EBUSY) instead of spinning with interrupts off for ever. */
#define VMNET_LOCK_SPINS   (1u << 20)

/* Errors: negative return values. */
enum {
    VMNET_OK          = 0,
    VMNET_EINVAL      = -1,  /* bad argument (length, configuration) */
    VMNET_EBADREGION  = -2,  /* the region's header fails validation */
    VMNET_EPORT       = -3,  /* port number out of range */
    VMNET_EAGAIN      = -4,  /* TX ring full / RX ring empty */
    VMNET_E2BIG       = -5,  /* the next frame does not fit the buffer */
    VMNET_EBUSY       = -6,  /* the switch lock stayed taken */
    VMNET_ECORRUPT    = -7,  /* a ring's indices are inconsistent */
};

/* ---- the shared layout (all little-endian, fixed-width) ------------------- */

/* One ring's indices.  Free-running 32-bit counters (slot = index &
 * (slots - 1)); prod and cons sit on separate cache lines because they are
 * written by different sides.  Each field has exactly one writer:
 *   TX ring: prod written by the guest, cons by the switch;
 *   RX ring: prod written by the switch, cons by the guest. */
struct vmnet_ring_idx {
    uint32_t prod;
    uint32_t pad0[15];
    uint32_t cons;
    uint32_t pad1[15];
};

/* The start of each port's area: the only part of the region a guest sees
 * (mapped read/write in its default context).  The geometry fields are a
 * copy for the guest; the switch never reads them back. */
struct vmnet_port_shm {
    uint32_t magic;          /* VMNET_PORT_MAGIC */
    uint32_t port;           /* this port's number */
    uint32_t ring_slots;     /* slots per ring */
    uint32_t slot_size;      /* bytes per slot */
    uint64_t area_size;      /* bytes of this area (multiple of 4096) */
    uint8_t  pad[104];
    struct vmnet_ring_idx tx;    /* at 128 */
    struct vmnet_ring_idx rx;    /* at 256 */
};
/* Slots start at the area's second page: TX ring, then RX ring. */
#define VMNET_PORT_SLOTS_OFF VMNET_PAGE

/* One slot: the frame's length, then its bytes. */
struct vmnet_slot {
    uint32_t len;
    uint32_t reserved;
    uint8_t  data[];
};

/* Per-port counters, kept by the switch in switch-only memory. */
struct vmnet_port_stats {
    uint64_t tx_frames;      /* taken from this port's TX ring and switched */
    uint64_t tx_bytes;
    uint64_t rx_frames;      /* put into this port's RX ring */
    uint64_t rx_bytes;
    uint64_t drop_tx_len;    /* from this port: length < 14 or > slot */
    uint64_t drop_tx_src;    /* from this port: multicast source MAC */
    uint64_t drop_filtered;  /* from this port: destination learned on this port */
    uint64_t drop_rx_full;   /* to this port: its RX ring was full */
    uint64_t drop_rx_index;  /* to this port: its RX consumer index was bad */
    uint64_t err_tx_index;   /* this port's TX producer index was bad (calls) */
    uint64_t flooded;        /* from this port: sent to every other port */
    uint64_t unicast;        /* from this port: sent to one learned port */
};

/* The switch's own state for one port (switch-only memory): the
 * authoritative copies of the indices the switch writes, so that a guest
 * overwriting the published copies in its area cannot move them. */
struct vmnet_port_priv {
    uint32_t tx_cons;
    uint32_t rx_prod;
    uint32_t pad[14];
    struct vmnet_port_stats stats;
};

/* A learned address.  stamp 0 = empty; port >= nports is treated as empty
 * (a corrupted entry never sends a frame out of range). */
struct vmnet_mac_entry {
    uint8_t  mac[6];
    uint16_t port;
    uint64_t stamp;          /* switch clock when last seen as a source */
};

/* The region header, at offset 0 (switch-only memory).  The geometry is
 * written once by vmnet_init; every call reads it once into a local copy
 * and validates it against the size the caller passes (vmnet_check). */
struct vmnet_hdr {
    uint32_t magic;          /* VMNET_MAGIC */
    uint32_t version;        /* VMNET_VERSION */
    uint32_t hdr_size;       /* sizeof(struct vmnet_hdr) */
    uint32_t nports;
    uint32_t ring_slots;
    uint32_t slot_size;
    uint32_t mac_sets;       /* power of two; VMNET_MAC_WAYS entries each */
    uint32_t mac_ways;       /* VMNET_MAC_WAYS */
    uint64_t region_size;    /* bytes laid out (<= the mapping) */
    uint64_t priv_off;       /* struct vmnet_port_priv[nports] */
    uint64_t mac_off;        /* struct vmnet_mac_entry[mac_sets * ways] */
    uint64_t bounce_off;     /* slot_size bytes: one frame in flight */
    uint64_t ports_off;      /* first port area, page-aligned */
    uint64_t port_stride;    /* bytes per port area, page multiple */
    uint64_t age_limit;      /* entries older than this many frames expire */
    uint64_t hash_seed;      /* MAC hash key, chosen by the manager */
    /* Mutable switch state (switch-only, protected by lock). */
    uint32_t lock;           /* 0 free, 1 taken */
    uint32_t pad;
    uint64_t clock;          /* frames switched so far (aging clock) */
    uint64_t busy;           /* calls that gave up on the lock */
    uint64_t reserved;       /* 0; pads the header to 128 bytes */
};

/* What vmnet_init lays out. */
struct vmnet_config {
    uint32_t nports;         /* 1..VMNET_MAX_PORTS */
    uint32_t ring_slots;     /* power of two, VMNET_RING_MIN..MAX */
    uint32_t slot_size;      /* power of two, VMNET_SLOT_MIN..MAX */
    uint32_t mac_sets;       /* power of two, 1..VMNET_MAC_SETS_MAX */
    uint64_t age_limit;      /* 0: entries never expire */
    uint64_t hash_seed;
};

/* A guest's validated view of its own port area (guest-private memory:
 * built once by vmnet_guest_open, so later calls do not re-read the
 * geometry from shared memory). */
struct vmnet_guest_port {
    uint8_t *base;           /* the port area */
    uint32_t ring_slots;
    uint32_t slot_size;
};

/* The layout is shared with code built by other compilers and modes (a
 * guest kernel, the testbed): pin the offsets. */
_Static_assert(sizeof(struct vmnet_ring_idx) == 128, "ring index layout");
_Static_assert(offsetof(struct vmnet_port_shm, tx) == 128, "port area layout");
_Static_assert(offsetof(struct vmnet_port_shm, rx) == 256, "port area layout");
_Static_assert(sizeof(struct vmnet_port_shm) <= VMNET_PORT_SLOTS_OFF, "port area header");
_Static_assert(sizeof(struct vmnet_slot) == VMNET_SLOT_HDR, "slot header");
_Static_assert(sizeof(struct vmnet_mac_entry) == 16, "MAC entry");
_Static_assert(sizeof(struct vmnet_port_stats) == 96, "port counters");
_Static_assert(sizeof(struct vmnet_port_priv) == 160, "port state");
_Static_assert(sizeof(struct vmnet_hdr) == 128, "region header");

/* ---- the manager: layout ----------------------------------------------------- */

/* Bytes a region with this configuration needs; 0 if cfg is invalid. */
uint64_t vmnet_region_size(const struct vmnet_config *cfg);
/* Lays the region out in mem[0..size) and zeroes it: header, switch
 * state, MAC table, port areas with their geometry. */
int vmnet_init(void *mem, uint64_t size, const struct vmnet_config *cfg);
/* 0 if the header describes a consistent layout within size bytes. */
int vmnet_check(const void *mem, uint64_t size);
/* Offset and size of port's area (what the manager maps into the
 * guest); 0 if the region or the port is invalid. */
uint64_t vmnet_port_offset(const void *mem, uint64_t size, uint32_t port);
uint64_t vmnet_port_area_size(const void *mem, uint64_t size);
/* A copy of a port's counters. */
int vmnet_port_stats(const void *mem, uint64_t size, uint32_t port,
                     struct vmnet_port_stats *out);
/* Gives a freed port back as vmnet_init laid it out, for its next owner:
 * under the switch lock (bounded wait, as vmnet_switch_tx), zeroes the
 * port's rings, slots and indices, rewrites its area header, zeroes the
 * switch's own indices and counters for it and forgets every MAC address
 * learned on it.  Other ports, the clock and the busy count are left
 * alone.  0, -VMNET_EBADREGION, -VMNET_EPORT, or -VMNET_EBUSY (the lock
 * stayed taken: nothing changed; try again).  It cannot take the area away
 * from a guest that still has it mapped: unmap it first. */
int vmnet_port_reset(void *mem, uint64_t size, uint32_t port);

/* ---- the guest: its own port area only --------------------------------------- */

/* Validates the area's geometry against the bytes the guest mapped. */
int vmnet_guest_open(struct vmnet_guest_port *gp, void *area, uint64_t area_size);
/* Queues a frame in the TX ring: 0, -VMNET_EINVAL (len < 14 or larger
 * than a slot holds), -VMNET_EAGAIN (ring full). */
int vmnet_guest_put(const struct vmnet_guest_port *gp, const void *frame, uint32_t len);
/* Takes the next frame from the RX ring into buf: its length,
 * -VMNET_EAGAIN (empty), -VMNET_E2BIG (longer than cap: left in place),
 * -VMNET_ECORRUPT (the ring's indices or length are inconsistent). */
int vmnet_guest_get(const struct vmnet_guest_port *gp, void *buf, uint32_t cap);

/* ---- the switch: the sub-context call ---------------------------------------- */

/* Drains port's TX ring and forwards each frame: learns the source MAC,
 * sends a known unicast destination to its port, floods broadcast,
 * multicast and unknown destinations to every other port, never back to
 * the sender; a full RX ring drops (counted).  Returns the number of
 * slots consumed (>= 0) or -VMNET_EBADREGION, -VMNET_EPORT,
 * -VMNET_EBUSY, -VMNET_ECORRUPT (the port's TX producer index is
 * impossible; nothing consumed, counted in err_tx_index). */
int vmnet_switch_tx(void *mem, uint64_t size, uint32_t port);

/* ---- both halves in one call (user space, exit-based fallback, tests) -------- */

/* vmnet_guest_put on port's area, then vmnet_switch_tx(port): 0 once the
 * frame is switched (delivered or dropped by rule, counted), or an error.
 * -VMNET_EBUSY: queued, switched by the next call. */
int vmnet_port_send(void *mem, uint64_t size, uint32_t port, const void *frame, uint32_t len);
/* vmnet_guest_get on port's area. */
int vmnet_port_recv(void *mem, uint64_t size, uint32_t port, void *buf, uint32_t cap);

const char *vmnet_strerror(int err);

#endif
