/*
 * port.h - one DPDK Ethernet port, seen through types that belong to neither
 * DPDK nor lwIP (their headers clash: IP_DF, ETH_* ...).  Implemented in
 * netstack/dpdk_port.c, the only file that includes DPDK headers.  Used by
 * netstack/netif_port.c, which includes only lwIP headers.
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
	char driver[32];      /* e.g. "net_memif" */
};

/* Per received frame: the device's verdict on checksums. */
enum {
	NS_FRAME_IP_CKSUM_GOOD = 1u << 0,
	NS_FRAME_IP_CKSUM_BAD  = 1u << 1,
	NS_FRAME_L4_CKSUM_GOOD = 1u << 2,
	NS_FRAME_L4_CKSUM_BAD  = 1u << 3,
};

/* A received frame.  handle owns the buffer (an rte_mbuf) until
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
 * Start DPDK's EAL with ARGS (a space-separated argument string as in
 * ZP_DPDK_ARGS), then configure and start port 0 with one rx and one tx
 * queue.  Restores the calling thread's CPU affinity afterwards.  On failure
 * returns -1 with one line in ERR naming the cause and the fix.
 */
int ns_port_start(const char *args, struct ns_port_info *info, char *err, size_t errlen);

/* Receive up to MAX frames without blocking; returns how many. */
unsigned ns_port_rx(struct ns_frame *frames, unsigned max);
void ns_port_free(void *handle);

/*
 * Transmit: ns_port_tx_alloc gives a buffer of at least ROOM bytes for one
 * frame (NULL if the pool is empty); fill it, then ns_port_tx_queue it with
 * its length and, if the device offloads them, the checksums to fill
 * (NS_PORT_TX_* bits, l2/l3 header lengths as in the frame).  Queued frames
 * go out in a burst at ns_port_tx_flush or when the burst is full.
 * Returns 0, or -1 if the frame was dropped (queue full).
 */
void *ns_port_tx_alloc(void **data, unsigned *room);
int ns_port_tx_queue(void *handle, uint16_t len, unsigned cksum_offloads,
                     uint8_t l2_len, uint8_t l3_len);
void ns_port_tx_flush(void);

/* Link state as the device reports it now, without waiting (memif: the
 * peer is connected; tap: the interface is up).  1 up, 0 down.  Cheap but
 * not free (a driver call): the stack polls it every few milliseconds. */
int ns_port_link_up(void);

/* Counters the device keeps (ipackets, opackets, imissed, ierrors, oerrors). */
struct ns_port_stats {
	uint64_t ipackets, opackets, imissed, ierrors, oerrors, rx_nombuf;
};
void ns_port_stats(struct ns_port_stats *stats);

/*
 * Stop the port and release EAL (rte_eal_cleanup): leaves nothing behind in
 * /var/run/dpdk.  Call once, at exit, in the process that started the port
 * (never in a fork child).
 */
void ns_port_stop(void);

#endif
