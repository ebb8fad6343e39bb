/*
 * netif_port.c - lwIP's netif over netstack/port.h.  lwIP headers only.
 *
 * Receive: each frame becomes a custom PBUF_REF pbuf that points into the
 * device's buffer (no copy); when lwIP frees the pbuf, the buffer goes back
 * to the port.  Transmit: the pbuf chain is copied into one device buffer
 * (a frame is at most 1514 bytes: the copy is cheaper than chaining mbufs).
 *
 * Checksums: lwIP's per-netif switches (LWIP_CHECKSUM_CTRL_PER_NETIF).
 * Generation is off for what the device offloads on transmit.  Checking is
 * decided per received frame: it is skipped only for a layer the device
 * says it verified as good in that very frame; anything else (no verdict,
 * bad, fragments) is checked by lwIP, which counts the failures.
 */
#include <string.h>

#include "lwip/def.h"
#include "lwip/etharp.h"
#include "lwip/ip.h"
#include "lwip/pbuf.h"
#include "lwip/prot/etharp.h"
#include "lwip/prot/ethernet.h"
#include "lwip/prot/ip4.h"
#include "lwip/prot/tcp.h"
#include "lwip/stats.h"
#include "netif/ethernet.h"

#include "netif_port.h"

#define RX_BURST      32
/* Custom pbuf headers for received frames: one per frame lwIP holds.  More
 * than the port's receive pool, so the pool runs dry first (and the device
 * counts it); 64k x 40 bytes of .bss, untouched until used. */
#define RX_PBUFS      65536
#define MIN_FRAME     60   /* Ethernet minimum without FCS: pad short frames */

struct rx_pbuf {
	struct pbuf_custom pc;   /* first: lwIP hands us the struct pbuf * */
	void *handle;            /* the port's buffer */
	struct rx_pbuf *next_free;
};

static struct rx_pbuf rx_pbufs[RX_PBUFS];
static struct rx_pbuf *rx_free;
static unsigned rx_unused = RX_PBUFS;   /* never handed out yet: lazy init */

static struct ns_port_info port_info;
static u16_t base_chksum_flags;          /* generation bits + all checks */

void ns_netif_set_port(const struct ns_port_info *info)
{
	port_info = *info;
}

static struct rx_pbuf *rx_pbuf_get(void)
{
	struct rx_pbuf *r = rx_free;

	if (r) {
		rx_free = r->next_free;
		return r;
	}
	if (rx_unused)
		return &rx_pbufs[RX_PBUFS - rx_unused--];
	return NULL;
}

static void rx_pbuf_free(struct pbuf *p)
{
	struct rx_pbuf *r = (struct rx_pbuf *)(void *)p;

	ns_port_free(r->handle);
	r->handle = NULL;
	r->next_free = rx_free;
	rx_free = r;
}

/* Is this an IPv4 fragment?  A device cannot verify the TCP/UDP checksum
 * of a fragment, and lwIP checks the reassembled datagram under the flags
 * of the frame that completed it: keep software checks for all of them. */
static int is_ipv4_fragment(const u8_t *d, u16_t len)
{
	if (len < SIZEOF_ETH_HDR + IP_HLEN)
		return 0;
	if (d[12] != 0x08 || d[13] != 0x00)
		return 0;
	u16_t off = (u16_t)((d[SIZEOF_ETH_HDR + 6] << 8) | d[SIZEOF_ETH_HDR + 7]);
	return (off & (IP_MF | IP_OFFMASK)) != 0;
}

static void set_rx_checks(struct netif *netif, const struct ns_frame *f)
{
	u16_t flags = base_chksum_flags;

	if (f->flags & NS_FRAME_IP_CKSUM_GOOD)
		flags &= (u16_t)~NETIF_CHECKSUM_CHECK_IP;
	if ((f->flags & NS_FRAME_L4_CKSUM_GOOD) && !is_ipv4_fragment(f->data, f->len))
		flags &= (u16_t)~(NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP);
	NETIF_SET_CHECKSUM_CTRL(netif, flags);
}

/*
 * lwIP 2.1.3 reads the fixed part of the IPv4 header (total length) and of
 * an ARP packet before checking that the frame holds it (ip4_input reads
 * IPH_LEN first, etharp_input never checks): found by the fuzz harness as
 * an over-read.  Such frames are dropped here and counted where lwIP
 * counts length errors.  (Ethernet pads frames to 60 bytes, but memif and
 * the fuzz harness deliver any length.)
 */
static int frame_too_short(const struct ns_frame *f)
{
	const u8_t *d = f->data;

	if (f->len < SIZEOF_ETH_HDR)
		return 0;   /* ethernet_input drops and counts it */
	if (d[12] == 0x08 && d[13] == 0x00 && f->len < SIZEOF_ETH_HDR + IP_HLEN) {
		IP_STATS_INC(ip.lenerr);
		IP_STATS_INC(ip.drop);
		return 1;
	}
	if (d[12] == 0x08 && d[13] == 0x06 && f->len < SIZEOF_ETH_HDR + SIZEOF_ETHARP_HDR) {
		ETHARP_STATS_INC(etharp.lenerr);
		ETHARP_STATS_INC(etharp.drop);
		return 1;
	}
	return 0;
}

/* One's-complement checksum update for a 16-bit word changed from OLD to
 * NEW (RFC 1624, eqn. 3): a wrong checksum stays wrong. */
static void cksum_adjust(u8_t *sum, u16_t old, u16_t new_word)
{
	u32_t hc = (u32_t)((sum[0] << 8) | sum[1]);
	u32_t acc = (u16_t)~hc + (u32_t)(u16_t)~old + new_word;
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	hc = (u16_t)~acc;
	sum[0] = (u8_t)(hc >> 8);
	sum[1] = (u8_t)hc;
}

/*
 * lwIP 2.1.3 parses the MSS option in every segment, not only in SYNs
 * (tcp_parseopt from tcp_process), so a peer can shrink a connection's MSS
 * while data waits in the unsent queue, and the next tcp_write fails an
 * assertion ("inconsistent oversize vs. space", found by the libFuzzer
 * target): a remote abort of the application.  RFC 9293 allows MSS only in
 * SYNs: in any other segment the option is turned into NOPs here (the TCP
 * checksum is adjusted, so its verdict does not change).
 *
 * The walk follows tcp_parseopt's rules (EOL ends, a length below 2 or an
 * MSS/WS option of the wrong length stops it) so it sees what lwIP would.
 * A TCP segment split into IP fragments could hide its options from this
 * look: TCP fragments are dropped instead (TCP senders set DF; RFC 1858
 * treats such fragments as an attack).  Returns 0 to pass the frame on,
 * -1 to drop it.
 */
static int tcp_scrub(u8_t *d, u16_t len)
{
	if (len < SIZEOF_ETH_HDR + IP_HLEN || d[12] != 0x08 || d[13] != 0x00)
		return 0;
	u8_t *ip = d + SIZEOF_ETH_HDR;
	unsigned ihl = (unsigned)(ip[0] & 0x0f) * 4;
	if ((ip[0] >> 4) != 4 || ihl < IP_HLEN || ip[9] != IP_PROTO_TCP)
		return 0;
	u16_t frag = (u16_t)((ip[6] << 8) | ip[7]);
	if (frag & (IP_MF | IP_OFFMASK)) {
		IPFRAG_STATS_INC(ip_frag.drop);
		return -1;
	}
	if ((unsigned)SIZEOF_ETH_HDR + ihl + TCP_HLEN > len)
		return 0;   /* lwIP drops it as too short */
	u8_t *t = ip + ihl;
	if (t[13] & TCP_SYN)
		return 0;   /* the MSS option belongs here */
	unsigned hl = (unsigned)(t[12] >> 4) * 4;
	if (hl > len - SIZEOF_ETH_HDR - ihl)
		return 0;   /* lwIP drops it (header longer than the segment) */
	for (unsigned i = TCP_HLEN; i < hl;) {
		u8_t kind = t[i];
		if (kind == 0)              /* EOL */
			break;
		if (kind == 1) {            /* NOP */
			i++;
			continue;
		}
		if (i + 1 >= hl)
			break;
		u8_t olen = t[i + 1];
		if (kind == 2) {            /* MSS */
			if (olen != 4 || i + 4 > hl)
				break;
			/* Word-wise relative to the TCP header, which starts at
			 * an even offset of the checksummed data. */
			for (unsigned k = i; k < i + 4; k++) {
				unsigned w = k & ~1u;
				u16_t old = (u16_t)((t[w] << 8) | t[w + 1]);
				t[k] = 1;
				cksum_adjust(t + 16, old, (u16_t)((t[w] << 8) | t[w + 1]));
			}
			i += 4;
			continue;
		}
		if (kind == 3 && (olen != 3 || i + 3 > hl))
			break;              /* lwIP stops at a bad window scale */
		if (olen < 2)
			break;
		i += olen;
	}
	return 0;
}

void ns_netif_input(struct netif *netif, const struct ns_frame *f)
{
	struct rx_pbuf *r;

	LINK_STATS_INC(link.recv);
	if (frame_too_short(f) || tcp_scrub(f->data, f->len) < 0) {
		ns_port_free(f->handle);
		return;
	}
	r = rx_pbuf_get();
	if (!r) {
		ns_port_free(f->handle);
		LINK_STATS_INC(link.memerr);
		LINK_STATS_INC(link.drop);
		return;
	}
	r->handle = f->handle;
	r->pc.custom_free_function = rx_pbuf_free;
	struct pbuf *p = pbuf_alloced_custom(PBUF_RAW, f->len, PBUF_REF, &r->pc, f->data, f->len);
	if (!p) {   /* cannot happen for PBUF_RAW, but never leak the buffer */
		rx_pbuf_free(&r->pc.pbuf);
		LINK_STATS_INC(link.memerr);
		LINK_STATS_INC(link.drop);
		return;
	}
	set_rx_checks(netif, f);
	/* ethernet_input takes the pbuf in every case (frees it on drops). */
	if (netif->input(p, netif) != ERR_OK) {
		pbuf_free(p);
		LINK_STATS_INC(link.drop);
	}
	/* Locally generated traffic (ACKs sent from inside input) may follow
	 * on the same netif: restore the generation flags' baseline. */
	NETIF_SET_CHECKSUM_CTRL(netif, base_chksum_flags);
}

unsigned ns_netif_poll_rx(struct netif *netif)
{
	struct ns_frame frames[RX_BURST];
	unsigned n = ns_port_rx(frames, RX_BURST);

	for (unsigned i = 0; i < n; i++)
		ns_netif_input(netif, &frames[i]);
	return n;
}

/* Which checksums to ask the device for, for this outgoing frame. */
static unsigned tx_offloads(const u8_t *d, u16_t len, u8_t *l3_len)
{
	unsigned want = port_info.offloads & (NS_PORT_TX_IPV4_CKSUM | NS_PORT_TX_L4_CKSUM);

	*l3_len = 0;
	if (!want || len < SIZEOF_ETH_HDR + IP_HLEN || d[12] != 0x08 || d[13] != 0x00)
		return 0;
	u8_t ihl = (u8_t)((d[SIZEOF_ETH_HDR] & 0x0f) * 4);
	u8_t proto = d[SIZEOF_ETH_HDR + 9];
	if (ihl < IP_HLEN || (unsigned)SIZEOF_ETH_HDR + ihl > len)
		return 0;
	*l3_len = ihl;
	if (proto != IP_PROTO_TCP && proto != IP_PROTO_UDP)
		want &= ~(unsigned)NS_PORT_TX_L4_CKSUM;
	return want;
}

static err_t ns_netif_linkoutput(struct netif *netif, struct pbuf *p)
{
	void *data;
	unsigned room;
	void *h;

	(void)netif;
	if (p->tot_len > (u16_t)(port_info.mtu + SIZEOF_ETH_HDR)) {
		LINK_STATS_INC(link.lenerr);
		LINK_STATS_INC(link.drop);
		return ERR_BUF;
	}
	h = ns_port_tx_alloc(&data, &room);
	if (!h || room < p->tot_len || room < MIN_FRAME) {
		if (h)     /* a buffer too small for the frame: never happens with 2 KiB mbufs */
			ns_port_free(h);
		LINK_STATS_INC(link.memerr);
		LINK_STATS_INC(link.drop);
		return ERR_MEM;
	}
	u16_t len = pbuf_copy_partial(p, data, p->tot_len, 0);
	if (len < MIN_FRAME) {
		memset((u8_t *)data + len, 0, MIN_FRAME - len);
		len = MIN_FRAME;
	}
	u8_t l3 = 0;
	unsigned off = tx_offloads(data, len, &l3);
	if (ns_port_tx_queue(h, len, off, SIZEOF_ETH_HDR, l3) != 0) {
		LINK_STATS_INC(link.drop);
		return ERR_OK;   /* lost on the wire, as far as lwIP is concerned */
	}
	LINK_STATS_INC(link.xmit);
	return ERR_OK;
}

err_t ns_netif_init(struct netif *netif)
{
	netif->name[0] = 'd';
	netif->name[1] = 'p';
	netif->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(netif->hwaddr, port_info.mac, ETH_HWADDR_LEN);
	netif->mtu = port_info.mtu ? port_info.mtu : 1500;
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	netif->output = etharp_output;
	netif->linkoutput = ns_netif_linkoutput;

	base_chksum_flags = NETIF_CHECKSUM_ENABLE_ALL;
	if (port_info.offloads & NS_PORT_TX_IPV4_CKSUM)
		base_chksum_flags &= (u16_t)~NETIF_CHECKSUM_GEN_IP;
	if (port_info.offloads & NS_PORT_TX_L4_CKSUM)
		base_chksum_flags &= (u16_t)~(NETIF_CHECKSUM_GEN_TCP | NETIF_CHECKSUM_GEN_UDP);
	NETIF_SET_CHECKSUM_CTRL(netif, base_chksum_flags);
	return ERR_OK;
}
