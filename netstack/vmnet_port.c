/*
 * vmnet_port.c - the vmnet device of netstack/port_devices.h
 * (ZP_NET_DEVICE=vmnet): the stack's frames go through one port of an ELISA
 * virtual switch (elisa/vmnet), the switch runs in the sub context.
 *
 *   receive   vmnet_guest_get from this port's RX ring into a buffer of
 *             our own (polling: the switch fills the ring, no call needed);
 *             lwIP holds the buffer until ns_port_free.
 *   transmit  vmnet_guest_put into the TX ring at once, then one
 *             elisa_ctx_call(ELISA_VMNET_TX) per burst: at tx_flush (every
 *             stack poll) or when TX_BURST frames wait, or when the ring is
 *             full.  The call drains the whole ring, so a burst costs one
 *             crossing (in a VM: one VMFUNC round trip, no exit).
 *
 * The data path touches only this port's area (vmnet_guest_*); which
 * memory that is and how the call crosses is netstack/vmnet_attach.c's
 * business.  Calls go through the process's one context with
 * elisa_ctx_call rather than the per-thread elisa_call: any thread of the
 * application may poll the stack (under its lock).
 *
 * Link always up, MTU 1500 (less if the region's slots are smaller), no
 * checksum offloads: lwIP computes and checks every checksum.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "port.h"
#include "port_devices.h"
#include "vmnet_attach.h"

/* A buffer holds one frame and port.h's tailroom: 2 KiB carries a
 * 1514-byte frame with VLAN tags to spare. */
#define BUF_SIZE   2048u
#define BUF_CAP    (BUF_SIZE - NS_FRAME_TAILROOM)
/* lwIP keeps received frames in its TCP receive and out-of-order queues
 * until the application reads them: as many as DPDK's receive pool. */
#define RX_BUFS    32768u
/* Transmit buffers live only between tx_alloc and tx_queue (the frame is
 * copied into the ring at once): a few suffice.  A pool of their own, so a
 * receive side holding every rx buffer can still send ACKs. */
#define TX_BUFS    64u
/* Frames queued in the TX ring before the switch is called without
 * waiting for the flush (as DPDK's burst). */
#define TX_BURST   32u
#define MTU_MAX    1500u
#define MTU_MIN    576u    /* the smallest datagram every IPv4 host must take (RFC 791) */
#define ETH_HLEN   14u

struct pool {
	uint8_t *base;
	uint32_t count;
	uint32_t unused;     /* never handed out yet: taken from the top, pages touched lazily */
	uint32_t nfree;
	uint32_t *free;      /* indices of returned buffers, LIFO (warm ones first) */
};

static struct {
	int started;
	struct ns_vmnet_attach att;
	uint8_t *bufs;               /* both pools, one mapping (kept after stop) */
	size_t bufs_len;
	struct pool rx, tx;
	uint8_t *scratch;            /* slot-sized, to take out an oversize frame */
	uint32_t burst;
	uint32_t queued;             /* frames put in the TX ring since the last call */
	uint64_t rx_frames;          /* taken from the RX ring */
	uint64_t tx_frames;          /* put into the TX ring (the switch counts what it takes) */
	uint64_t tx_calls;
	uint64_t rx_errors;          /* oversize frames taken out, corrupt RX ring */
	uint64_t tx_dropped;         /* TX ring full even after a call, or bad length */
	uint64_t call_errors;        /* calls the switch refused (busy: retried) */
} V;

static uint32_t rx_free_idx[RX_BUFS];
static uint32_t tx_free_idx[TX_BUFS];

/* --- buffers ------------------------------------------------------------------ */

static void pool_init(struct pool *p, uint8_t *base, uint32_t count, uint32_t *free_idx)
{
	p->base = base;
	p->count = count;
	p->unused = count;
	p->nfree = 0;
	p->free = free_idx;
}

static void *pool_get(struct pool *p)
{
	if (p->nfree)
		return p->base + (size_t)p->free[--p->nfree] * BUF_SIZE;
	if (p->unused)
		return p->base + (size_t)(p->count - p->unused--) * BUF_SIZE;
	return NULL;
}

static int pool_owns(const struct pool *p, const void *b)
{
	const uint8_t *u = b;
	return p->base && u >= p->base && u < p->base + (size_t)p->count * BUF_SIZE;
}

static void pool_put(struct pool *p, void *b)
{
	p->free[p->nfree++] = (uint32_t)(((uint8_t *)b - p->base) / BUF_SIZE);
}

static int pools_create(void)
{
	if (V.bufs)
		return 0;   /* a second start reuses them */
	V.bufs_len = (size_t)(RX_BUFS + TX_BUFS) * BUF_SIZE;
	/* Reserved, not committed: pages are touched as buffers are first used. */
	void *m = mmap(NULL, V.bufs_len, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	V.bufs = m;
	return 0;
}

/* --- the switch call ---------------------------------------------------------- */

/* One crossing into the sub context: the switch drains our whole TX ring. */
static void switch_now(void)
{
	int64_t r = (int64_t)elisa_ctx_call(&V.att.ctx, ELISA_VMNET_TX, 0);

	V.tx_calls++;
	if (r >= 0) {
		V.queued = 0;
		return;
	}
	/* VMNET_EBUSY: another port held the switch's lock too long; the
	 * frames stay queued and the next flush calls again.  Anything else
	 * (a corrupt TX index of our own ring, a damaged region) is counted
	 * and retried the same way: the ring is never left unsent silently. */
	V.call_errors++;
}

/* --- the device ---------------------------------------------------------------- */

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &tail) != 6)
		return -1;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -1;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int vmdev_start(const char *(*getenv_fn)(const char *), struct ns_port_info *info,
                       char *err, size_t errlen)
{
	if (V.started) {
		snprintf(err, errlen, "netstack: vmnet: the port is already started in this process");
		return -1;
	}
	memset(info, 0, sizeof(*info));
	if (ns_vmnet_attach(getenv_fn, &V.att, err, errlen) < 0)
		return -1;

	/* A frame must fit a slot (less its length word) and our buffer. */
	uint32_t slot_cap = V.att.gp.slot_size - VMNET_SLOT_HDR;
	uint32_t frame_max = slot_cap < BUF_CAP ? slot_cap : BUF_CAP;
	uint32_t mtu = frame_max - ETH_HLEN < MTU_MAX ? frame_max - ETH_HLEN : MTU_MAX;
	if (mtu < MTU_MIN) {
		snprintf(err, errlen, "netstack: vmnet: the region's %u-byte slots carry an MTU of %u, below %u: "
		         "create the region with --slot-size 2048", V.att.gp.slot_size, mtu, MTU_MIN);
		goto fail;
	}

	/* The MAC: ZP_NET_MAC, else locally administered (bit 1 of the first
	 * octet) and derived from the port, so each port of a switch differs:
	 * 02:76:6d:6e:00:PP ("vmn"). */
	const char *smac = getenv_fn("ZP_NET_MAC");
	if (smac && *smac) {
		if (parse_mac(smac, info->mac) < 0) {
			snprintf(err, errlen, "netstack: vmnet: ZP_NET_MAC='%s' is not a MAC address: "
			         "write it like 02:00:00:00:00:01", smac);
			goto fail;
		}
		/* The switch drops frames whose source has the group bit set. */
		if (info->mac[0] & 1) {
			snprintf(err, errlen, "netstack: vmnet: ZP_NET_MAC=%s is a multicast address: "
			         "the switch drops frames from it; use a unicast one, e.g. 02:00:00:00:00:01", smac);
			goto fail;
		}
	} else {
		static const uint8_t prefix[5] = { 0x02, 0x76, 0x6d, 0x6e, 0x00 };
		memcpy(info->mac, prefix, sizeof(prefix));
		info->mac[5] = (uint8_t)V.att.port;
	}

	if (pools_create() < 0) {
		snprintf(err, errlen, "netstack: vmnet: cannot reserve %zu MB of frame buffers: %s",
		         (size_t)(RX_BUFS + TX_BUFS) * BUF_SIZE >> 20, strerror(errno));
		goto fail;
	}
	pool_init(&V.rx, V.bufs, RX_BUFS, rx_free_idx);
	pool_init(&V.tx, V.bufs + (size_t)RX_BUFS * BUF_SIZE, TX_BUFS, tx_free_idx);
	V.scratch = malloc(V.att.gp.slot_size);
	if (!V.scratch) {
		snprintf(err, errlen, "netstack: vmnet: out of memory");
		goto fail;
	}
	V.burst = V.att.gp.ring_slots < TX_BURST ? V.att.gp.ring_slots : TX_BURST;
	V.queued = 0;
	V.rx_frames = V.tx_frames = V.tx_calls = V.rx_errors = 0;
	V.tx_dropped = V.call_errors = 0;

	info->mtu = (uint16_t)mtu;
	info->offloads = 0;
	snprintf(info->driver, sizeof(info->driver), "%s%u", V.att.describe, V.att.port);
	V.started = 1;
	return 0;

fail:
	ns_vmnet_detach(&V.att);
	return -1;
}

static unsigned vmdev_rx(struct ns_frame *frames, unsigned max)
{
	unsigned got = 0;

	if (!V.started)
		return 0;
	while (got < max) {
		uint8_t *buf = pool_get(&V.rx);
		if (!buf)
			break;   /* frames wait in the ring; if it fills, the switch
			          * drops and counts (imissed below) */
		int n = vmnet_guest_get(&V.att.gp, buf, BUF_CAP);
		if (n >= 0) {
			frames[got].handle = buf;
			frames[got].data = buf;
			frames[got].len = (uint16_t)n;
			frames[got].flags = 0;   /* no verdicts: lwIP checks every checksum */
			got++;
			continue;
		}
		pool_put(&V.rx, buf);
		if (n == VMNET_E2BIG) {
			/* Longer than any frame we take (a peer with a larger
			 * MTU): take it out of the ring, or it blocks it. */
			vmnet_guest_get(&V.att.gp, V.scratch, V.att.gp.slot_size);
			V.rx_errors++;
			continue;
		}
		if (n != VMNET_EAGAIN)
			V.rx_errors++;   /* VMNET_ECORRUPT: our own ring's indices */
		break;
	}
	V.rx_frames += got;
	return got;
}

static void vmdev_free(void *handle)
{
	/* The buffers outlive a stop (they are never unmapped): lwIP may
	 * still free frames it holds after the device is gone. */
	if (pool_owns(&V.rx, handle))
		pool_put(&V.rx, handle);
	else if (pool_owns(&V.tx, handle))
		pool_put(&V.tx, handle);
}

static void *vmdev_tx_alloc(void **data, unsigned *room)
{
	void *b = V.started ? pool_get(&V.tx) : NULL;

	if (!b)
		return NULL;
	uint32_t slot_cap = V.att.gp.slot_size - VMNET_SLOT_HDR;
	*data = b;
	*room = slot_cap < BUF_SIZE ? slot_cap : BUF_SIZE;
	return b;
}

static void vmdev_tx_flush(void)
{
	/* Idle polls make no call: only frames waiting cost a crossing. */
	if (V.started && V.queued)
		switch_now();
}

static int vmdev_tx_queue(void *handle, uint16_t len, unsigned cksum_offloads,
                          uint8_t l2_len, uint8_t l3_len)
{
	(void)cksum_offloads;   /* none offered: lwIP filled them */
	(void)l2_len;
	(void)l3_len;
	int rc = vmnet_guest_put(&V.att.gp, handle, len);
	if (rc == VMNET_EAGAIN) {
		/* Ring full: let the switch drain it, then try once more. */
		switch_now();
		rc = vmnet_guest_put(&V.att.gp, handle, len);
	}
	pool_put(&V.tx, handle);
	if (rc != VMNET_OK) {
		V.tx_dropped++;   /* TCP retransmits it */
		return -1;
	}
	V.tx_frames++;
	if (++V.queued >= V.burst)
		switch_now();
	return 0;
}

static int vmdev_link_up(void)
{
	return V.started;
}

static void vmdev_stats(struct ns_port_stats *s)
{
	struct vmnet_port_stats sw;

	memset(s, 0, sizeof(*s));
	s->ipackets = V.rx_frames;
	s->opackets = V.tx_frames;
	s->ierrors = V.rx_errors;
	s->oerrors = V.tx_dropped + V.call_errors;
	s->tx_calls = V.tx_calls;
	/* Running out of buffers loses nothing here (frames wait in the
	 * ring), so rx_nombuf stays 0; what is lost is what the switch could
	 * not deliver to a full ring: visible in local mode only (in a VM the
	 * switch's memory is not the guest's). */
	if (V.started && ns_vmnet_switch_stats(&V.att, &sw) == 0)
		s->imissed = sw.drop_rx_full + sw.drop_rx_index;
}

static void vmdev_stop(void)
{
	if (!V.started)
		return;
	vmdev_tx_flush();
	V.started = 0;
	ns_vmnet_detach(&V.att);
	free(V.scratch);
	V.scratch = NULL;
}

const struct ns_port_device ns_port_device_vmnet = {
	.name = "vmnet",
	.start = vmdev_start,
	.rx = vmdev_rx,
	.free = vmdev_free,
	.tx_alloc = vmdev_tx_alloc,
	.tx_queue = vmdev_tx_queue,
	.tx_flush = vmdev_tx_flush,
	.link_up = vmdev_link_up,
	.stats = vmdev_stats,
	.stop = vmdev_stop,
};
