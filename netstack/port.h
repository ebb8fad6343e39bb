/*
 * port.h - the network device under the stack (one Ethernet port), seen
 * through types that belong to neither DPDK nor lwIP (their headers clash:
 * IP_DF, ETH_* ...).  Used by netstack/netif_port.c (lwIP headers only) and
 * netstack/stack.c.
 *
 * Two ways these functions come to exist:
 *   - netstack/port_select.c: the device is chosen at run time from the
 *     application's environment (ZP_NET_DEVICE=dpdk|vmnet, default dpdk)
 *     among the devices of netstack/port_devices.h: DPDK
 *     (netstack/dpdk_port.c, the only file that includes DPDK headers) or
 *     an ELISA vmnet port (netstack/vmnet_port.c).  Only the chosen device
 *     is ever started: with vmnet, DPDK's EAL is never initialised.
 *   - netstack/fuzz/port_mem.c: frames in memory, linked in place of
 *     port_select.c by the fuzz harness.
 *
 * Single-threaded: the caller (the stack's lock) serialises every call.
 */
#ifndef EXITLESS_NETSTACK_PORT_H
#define EXITLESS_NETSTACK_PORT_H

#include <stddef.h>
#include <stdint.h>

/* What the device offloads, reported after start (bits of ns_port_info.offloads). */
enum {
	NS_PORT_RX_IPV4_CKSUM = 1u << 0,  /* rx: IPv4 header checksum checked by the device */
	NS_PORT_RX_L4_CKSUM   = 1u << 1,  /* rx: TCP/UDP checksum checked by the device */
	NS_PORT_TX_IPV4_CKSUM = 1u << 2,  /* tx: device fills the IPv4 header checksum */
	NS_PORT_TX_L4_CKSUM   = 1u << 3,  /* tx: device fills TCP/UDP checksums */
	NS_PORT_TX_MULTISEG   = 1u << 4,  /* tx: chained mbufs accepted */
};

struct ns_port_info {
	uint8_t mac[6];
	uint16_t mtu;         /* IP MTU (1500 unless the device says otherwise) */
	unsigned offloads;    /* NS_PORT_* */
	char driver[32];      /* e.g. "net_memif", "vmnet-local" */
};

/* Per received frame: the device's verdict on checksums. */
enum {
	NS_FRAME_IP_CKSUM_GOOD = 1u << 0,
	NS_FRAME_IP_CKSUM_BAD  = 1u << 1,
	NS_FRAME_L4_CKSUM_GOOD = 1u << 2,
	NS_FRAME_L4_CKSUM_BAD  = 1u << 3,
};

/* A received frame.  handle owns the buffer (DPDK: an rte_mbuf) until
 * ns_port_free(handle); data/len stay valid until then.  Frames are always
 * one contiguous segment (the port is configured without scattered rx).
 * At least NS_FRAME_TAILROOM bytes after data + len are readable too (the
 * port drops frames that do not leave them): lwIP 2.1.3's TCP option
 * parser reads the length byte of an option that ends the header, one
 * byte past a segment without payload (found by netstack/fuzz). */
#define NS_FRAME_TAILROOM 16
struct ns_frame {
	void *handle;
	void *data;
	uint16_t len;
	uint16_t flags;       /* NS_FRAME_* */
};

/*
 * Start the device.  It reads its own settings from the application's
 * environment through GETENV_FN (the hook's namespace has a copy of libc
 * whose environment is not the application's): ZP_NET_DEVICE picks the
 * device; DPDK then reads ZP_NET_DEV or ZP_DPDK_ARGS (it starts EAL and
 * port 0 with one rx and one tx queue, and restores the calling thread's
 * CPU affinity), vmnet reads ZP_VMNET_* / ZP_ELISA_* (netstack/vmnet_attach.h).
 * On failure returns -1 with one line in ERR naming the cause and the fix.
 */
int ns_port_start(const char *(*getenv_fn)(const char *), struct ns_port_info *info,
                  char *err, size_t errlen);

/* Receive up to MAX frames without blocking; returns how many. */
unsigned ns_port_rx(struct ns_frame *frames, unsigned max);
void ns_port_free(void *handle);

/*
 * Transmit: ns_port_tx_alloc gives a buffer of at least ROOM bytes for one
 * frame (NULL if the pool is empty); fill it, then ns_port_tx_queue it with
 * its length and, if the device offloads them, the checksums to fill
 * (NS_PORT_TX_* bits, l2/l3 header lengths as in the frame).  Queued frames
 * go out in a burst at ns_port_tx_flush or when the burst is full.
 * Returns 0, or -1 if the frame was dropped (queue full).  A buffer from
 * ns_port_tx_alloc that is not queued goes back with ns_port_free.
 */
void *ns_port_tx_alloc(void **data, unsigned *room);
int ns_port_tx_queue(void *handle, uint16_t len, unsigned cksum_offloads,
                     uint8_t l2_len, uint8_t l3_len);
void ns_port_tx_flush(void);

/* Link state as the device reports it now, without waiting (memif: the
 * peer is connected; tap: the interface is up).  1 up, 0 down.  Cheap but
 * not free (a driver call): the stack polls it every few milliseconds. */
int ns_port_link_up(void);

/* Counters the device keeps (ipackets, opackets, imissed, ierrors, oerrors).
 * tx_calls: how many times frames were handed to the device (DPDK: bursts
 * given to rte_eth_tx_burst; vmnet: ELISA calls into the switch), so that
 * batching can be seen: tx_calls much smaller than opackets. */
struct ns_port_stats {
	uint64_t ipackets, opackets, imissed, ierrors, oerrors, rx_nombuf;
	uint64_t tx_calls;
};
void ns_port_stats(struct ns_port_stats *stats);

/*
 * Stop the port and release what it holds (DPDK: rte_eal_cleanup, nothing
 * left in /var/run/dpdk; vmnet: queued frames switched, shared memory
 * unmapped).  Call once, at exit, in the process that started the port
 * (never in a fork child).  ns_port_free stays safe afterwards (frames lwIP
 * still holds are forgotten).
 */
void ns_port_stop(void);

#endif
