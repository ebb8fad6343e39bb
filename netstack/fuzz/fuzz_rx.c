/*
 * fuzz_rx.c - drives netstack's receive path (netif_port.c, stack.c, lwIP)
 * with frames built from fuzz input, over the in-memory port (port_mem.c).
 *
 * Input layout: in[0] = mode (bits 0-1) | switches (bits 2-3) | device
 * verdict (bits 6-7); the rest depends on the mode:
 *   0 raw      the rest is the whole Ethernet frame
 *   1 ip       Ethernet header to us + the rest as the IPv4 packet;
 *              switch 4: fix the header checksum, 8: fix the addresses
 *   2 tcp      a segment on established connection p[0] % NCONN:
 *              p[1..2] sequence offset (used if p[1] & 0x80), p[3] flags
 *              (SYN/RST only if p[3] & 0x40), p[4] & 0x3f option bytes
 *              (taken from the input), p[5] window (0: closed), then payload;
 *              switch 4: data offset from p[4] >> 4 instead of the right
 *              one, 8: leave a wrong checksum
 *   3 ip4      a datagram to us: p[0] protocol choice, p[1..2] fragment
 *              field, p[3] id, p[4] & 0x3f bytes of IP options, p[5] TTL,
 *              then the payload (UDP/ICMP/TCP headers built in front);
 *              switch 4: UDP length from the input, 8: wrong checksums
 * The device verdict: 0 none, 1 "all good" (a lying device: lwIP then
 * skips its checks), 2 "all bad", 3 IP good + L4 bad.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

#include "fuzz_rx.h"
#include "port.h"
#include "port_mem.h"
#include "stack.h"

#define NCONN          4
#define PORT_READER    80
#define PORT_HOARDER   81
#define PORT_UDP_ECHO  53

static const uint8_t our_ip[4] = { 10, 0, 0, 1 };
static const uint8_t peer_ip[4] = { 10, 0, 0, 2 };
static const uint8_t peer_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x02 };

/* One connection opened by the harness (the peer side is us). */
struct conn {
	int state;            /* 0 none, 1 SYN sent, 2 established */
	uint16_t pport, lport;
	uint32_t peer_seq;    /* next sequence number we (the peer) send */
	uint32_t stack_seq;   /* next sequence number the stack sends */
};

static struct conn conns[NCONN];
static uint16_t next_pport = 20000;
static uint64_t n_frames, n_established;
static int inited;

/* --- frame building ------------------------------------------------------------- */

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p) { return (uint32_t)get16(p) << 16 | get16(p + 2); }

static uint32_t sum_bytes(uint32_t acc, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		acc += get16(p + i);
	if (n & 1)
		acc += (uint32_t)p[n - 1] << 8;
	return acc;
}

static uint16_t fold(uint32_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* Checksum of an L4 segment with the IPv4 pseudo header. */
static uint16_t l4_cksum(const uint8_t *src, const uint8_t *dst, uint8_t proto,
                         const uint8_t *seg, size_t len)
{
	uint32_t acc = sum_bytes(0, src, 4);
	acc = sum_bytes(acc, dst, 4);
	acc += proto;
	acc += (uint32_t)len;
	return fold(sum_bytes(acc, seg, len));
}

static size_t eth_header(uint8_t *f, uint16_t type)
{
	memcpy(f, port_mem_mac(), 6);
	memcpy(f + 6, peer_mac, 6);
	put16(f + 12, type);
	return 14;
}

/* IPv4 header with OPTLEN option bytes from OPT (padded with EOL). */
static size_t ip_header(uint8_t *ip, uint8_t proto, size_t payload, uint16_t frag,
                        uint16_t id, uint8_t ttl, const uint8_t *opt, size_t optlen)
{
	size_t hl = 20 + ((optlen + 3) & ~(size_t)3);
	memset(ip, 0, hl);
	ip[0] = (uint8_t)(0x40 | (hl / 4));
	put16(ip + 2, (uint16_t)(hl + payload));
	put16(ip + 4, id);
	put16(ip + 6, frag);
	ip[8] = ttl;
	ip[9] = proto;
	memcpy(ip + 12, peer_ip, 4);
	memcpy(ip + 16, our_ip, 4);
	if (optlen)
		memcpy(ip + 20, opt, optlen);
	put16(ip + 10, fold(sum_bytes(0, ip, hl)));
	return hl;
}

static size_t tcp_segment(uint8_t *f, struct conn *c, uint32_t seq, uint32_t ack, uint8_t flags,
                          uint16_t win, const uint8_t *opt, size_t optlen,
                          const uint8_t *data, size_t len, int bad_doff, uint8_t doff_nibble,
                          int bad_sum)
{
	size_t off = eth_header(f, 0x0800);
	size_t thl = 20 + ((optlen + 3) & ~(size_t)3);
	uint8_t *ip = f + off;
	size_t hl = ip_header(ip, 6, thl + len, 0x4000, (uint16_t)seq, 64, NULL, 0);
	uint8_t *t = ip + hl;

	memset(t, 0, thl);
	put16(t, c->pport);
	put16(t + 2, c->lport);
	put32(t + 4, seq);
	put32(t + 8, ack);
	t[12] = (uint8_t)((bad_doff ? doff_nibble : thl / 4) << 4);
	t[13] = flags;
	put16(t + 14, win);
	if (optlen)
		memcpy(t + 20, opt, optlen);
	if (len)
		memcpy(t + thl, data, len);
	uint16_t sum = l4_cksum(peer_ip, our_ip, 6, t, thl + len);
	put16(t + 16, bad_sum ? (uint16_t)(sum ^ 0x5a5a) : sum);
	return off + hl + thl + len;
}

/* --- following the stack's side of the connections ---------------------------- */

static void on_tx(void *arg, const uint8_t *f, size_t len)
{
	(void)arg;
	if (len < 42)
		return;
	/* ARP request for the peer: answer it (the stack must reach us). */
	if (get16(f + 12) == 0x0806 && get16(f + 20) == 1 && !memcmp(f + 38, peer_ip, 4)) {
		uint8_t r[42];
		memcpy(r, f + 6, 6);
		memcpy(r + 6, peer_mac, 6);
		put16(r + 12, 0x0806);
		put16(r + 14, 1);
		put16(r + 16, 0x0800);
		r[18] = 6;
		r[19] = 4;
		put16(r + 20, 2);
		memcpy(r + 22, peer_mac, 6);
		memcpy(r + 28, peer_ip, 4);
		memcpy(r + 32, f + 22, 6);
		memcpy(r + 38, f + 28, 4);
		port_mem_inject(r, sizeof(r), 0);
		return;
	}
	if (get16(f + 12) != 0x0800 || f[14 + 9] != 6 || memcmp(f + 14 + 16, peer_ip, 4))
		return;
	size_t hl = (size_t)(f[14] & 0x0f) * 4;
	if (len < 14 + hl + 20)
		return;
	const uint8_t *t = f + 14 + hl;
	uint16_t lport = get16(t), pport = get16(t + 2);
	uint32_t seq = get32(t + 4), ack = get32(t + 8);
	uint8_t flags = t[13];
	size_t thl = (size_t)(t[12] >> 4) * 4;
	size_t iplen = get16(f + 16);
	size_t dlen = iplen > hl + thl ? iplen - hl - thl : 0;

	for (int i = 0; i < NCONN; i++) {
		struct conn *c = &conns[i];
		if (!c->state || c->pport != pport || c->lport != lport)
			continue;
		if (flags & 0x04) {                    /* RST: gone */
			c->state = 0;
		} else if ((flags & 0x12) == 0x12) {   /* SYN-ACK */
			c->stack_seq = seq + 1;
		} else {
			uint32_t end = seq + (uint32_t)dlen + ((flags & 0x01) ? 1 : 0);
			if ((int32_t)(end - c->stack_seq) > 0)
				c->stack_seq = end;
			if (flags & 0x10)
				c->peer_seq = ack;
		}
	}
}

/* --- the stack's applications ----------------------------------------------------- */

static err_t reader_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	if (!p) {
		tcp_arg(pcb, NULL);
		tcp_recv(pcb, NULL);
		if (tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
		return ERR_OK;
	}
	/* Answer a little, so the send path runs too. */
	if (p->tot_len && tcp_sndbuf(pcb) > 16)
		tcp_write(pcb, "ok\n", 3, TCP_WRITE_FLAG_COPY);
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static err_t hoarder_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	(void)err;
	/* Never reads: lwIP keeps refused data and stops the window. */
	if (!p) {
		tcp_recv(pcb, NULL);
		if (tcp_close(pcb) != ERR_OK)
			tcp_abort(pcb);
		return ERR_OK;
	}
	return ERR_MEM;
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	tcp_recv(pcb, arg ? hoarder_recv : reader_recv);
	return ERR_OK;
}

static void udp_echo(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *a, u16_t port)
{
	(void)arg;
	udp_sendto(pcb, p, a, port);
	pbuf_free(p);
}

static const char *fuzz_env(const char *name)
{
	if (!strcmp(name, "ZP_DPDK_ARGS"))
		return "port_mem";
	if (!strcmp(name, "ZP_NET_ADDR"))
		return "10.0.0.1";
	return NULL;
}

static void poll_once(void)
{
	ns_stack_lock();
	ns_stack_poll();
	ns_stack_unlock();
}

static void inject_and_poll(const uint8_t *f, size_t len, uint16_t flags)
{
	port_mem_inject(f, len, flags);
	poll_once();
}

/* Open connection slot I with a full handshake (bounded: a peer the fuzz
 * input confused may not answer; then the slot stays closed). */
static void conn_open(int i)
{
	struct conn *c = &conns[i];
	uint8_t f[128];
	/* MSS 1460, window scale 7, SACK permitted. */
	static const uint8_t syn_opt[] = { 2, 4, 0x05, 0xb4, 1, 3, 3, 7, 4, 2, 1, 1 };

	memset(c, 0, sizeof(*c));
	c->pport = next_pport++;
	if (next_pport > 60000)
		next_pport = 20000;
	c->lport = (i & 1) ? PORT_HOARDER : PORT_READER;
	c->state = 1;
	c->peer_seq = 1000u * (uint32_t)c->pport;
	inject_and_poll(f, tcp_segment(f, c, c->peer_seq, 0, 0x02, 65535, syn_opt, sizeof(syn_opt),
	                               NULL, 0, 0, 0, 0), 0);
	for (int tries = 0; tries < 3 && c->state == 1 && !c->stack_seq; tries++)
		poll_once();
	if (c->state != 1 || !c->stack_seq) {
		c->state = 0;
		return;
	}
	c->peer_seq++;
	c->state = 2;
	inject_and_poll(f, tcp_segment(f, c, c->peer_seq, c->stack_seq, 0x10, 512, NULL, 0,
	                               NULL, 0, 0, 0, 0), 0);
	n_established++;
}

void fuzz_rx_init(void)
{
	char err[256];

	if (inited)
		return;
	inited = 1;
	/* The device offloads everything, so the per-frame verdicts matter. */
	port_mem_set_offloads(NS_PORT_RX_IPV4_CKSUM | NS_PORT_RX_L4_CKSUM | NS_PORT_TX_IPV4_CKSUM |
	                      NS_PORT_TX_L4_CKSUM);
	port_mem_set_tx(on_tx, NULL);
	ns_stack_lock();
	if (ns_stack_start(fuzz_env, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz: %s\n", err);
		abort();
	}
	struct tcp_pcb *l = tcp_new();
	tcp_bind(l, IP_ANY_TYPE, PORT_READER);
	l = tcp_listen(l);
	tcp_arg(l, NULL);
	tcp_accept(l, on_accept);
	l = tcp_new();
	tcp_bind(l, IP_ANY_TYPE, PORT_HOARDER);
	l = tcp_listen(l);
	tcp_arg(l, (void *)1);
	tcp_accept(l, on_accept);
	struct udp_pcb *u = udp_new();
	udp_bind(u, IP_ANY_TYPE, PORT_UDP_ECHO);
	udp_recv(u, udp_echo, NULL);
	ns_stack_unlock();

	/* The peer announces itself (lwIP learns its MAC from a request). */
	uint8_t a[42];
	eth_header(a, 0x0806);
	memset(a, 0xff, 6);
	put16(a + 14, 1);
	put16(a + 16, 0x0800);
	a[18] = 6;
	a[19] = 4;
	put16(a + 20, 1);
	memcpy(a + 22, peer_mac, 6);
	memcpy(a + 28, peer_ip, 4);
	memset(a + 32, 0, 6);
	memcpy(a + 38, our_ip, 4);
	inject_and_poll(a, sizeof(a), 0);
	for (int i = 0; i < NCONN; i++)
		conn_open(i);
}

/* --- input -> frame ------------------------------------------------------------ */

static uint16_t verdict(uint8_t b)
{
	switch (b >> 6) {
	case 1: return NS_FRAME_IP_CKSUM_GOOD | NS_FRAME_L4_CKSUM_GOOD;
	case 2: return NS_FRAME_IP_CKSUM_BAD | NS_FRAME_L4_CKSUM_BAD;
	case 3: return NS_FRAME_IP_CKSUM_GOOD | NS_FRAME_L4_CKSUM_BAD;
	default: return 0;
	}
}

/* Bytes 6.. of a recipe P of N (>= 6) bytes: up to 40 bytes of options (as
 * many as P[4] asks, bounded by what is there), then at most 1400 bytes of
 * payload. */
static void split_options(const uint8_t *p, size_t n, const uint8_t **opt, size_t *optlen,
                          const uint8_t **rest, size_t *left)
{
	size_t want = p[4] & 0x3f;
	if (want > 40)
		want = 40;
	*opt = p + 6;
	*optlen = want < n - 6 ? want : n - 6;
	*rest = *opt + *optlen;
	*left = n - 6 - *optlen;
	if (*left > 1400)
		*left = 1400;
}

static size_t render_tcp(const uint8_t *p, size_t n, uint8_t *f, uint8_t sw)
{
	if (n < 6)
		return 0;
	int i = p[0] % NCONN;
	if (conns[i].state != 2)
		conn_open(i);
	struct conn *c = &conns[i];
	if (c->state != 2)
		return 0;
	uint32_t seq = c->peer_seq;
	if (p[1] & 0x80)
		seq += (uint32_t)(int32_t)(int16_t)get16(p + 1) * 64u;
	uint8_t flags = p[3] & 0x3f;
	if (!(p[3] & 0x40))
		flags &= (uint8_t)~0x06;   /* keep SYN and RST rare */
	const uint8_t *opt, *rest;
	size_t optlen, left;
	split_options(p, n, &opt, &optlen, &rest, &left);
	uint16_t win = p[5] ? (uint16_t)(p[5] << 8 | 0xff) : 0;
	size_t len = tcp_segment(f, c, seq, c->stack_seq, flags, win, opt, optlen,
	                         rest, left, sw & 4, (uint8_t)(p[4] >> 4), sw & 8);
	/* An in-order segment the stack will take moves our sequence on
	 * (the stack's ACK confirms it later through on_tx). */
	if (!(p[1] & 0x80) && !(sw & 12) && (flags & 0x10))
		c->peer_seq += (uint32_t)left + ((flags & 0x01) ? 1 : 0);
	return len;
}

static size_t render_ip4(const uint8_t *p, size_t n, uint8_t *f, uint8_t sw)
{
	if (n < 6)
		return 0;
	const uint8_t *opt, *rest;
	size_t optlen, left;
	split_options(p, n, &opt, &optlen, &rest, &left);

	uint8_t l4[1500];
	size_t l4len = 0;
	uint8_t proto;
	switch (p[0] & 3) {
	case 0:   /* UDP: to the echo port, a closed port, or as given */
		proto = 17;
		put16(l4, 40000);
		put16(l4 + 2, (p[0] & 4) ? (uint16_t)(9 + (p[0] >> 3)) : PORT_UDP_ECHO);
		put16(l4 + 4, (sw & 4) && left >= 2 ? get16(rest) : (uint16_t)(8 + left));
		put16(l4 + 6, 0);
		memcpy(l4 + 8, rest, left);
		l4len = 8 + left;
		if (!(p[0] & 8))   /* else: checksum 0, "none" */
			put16(l4 + 6, l4_cksum(peer_ip, our_ip, 17, l4, l4len));
		break;
	case 1:   /* ICMP: type and code from the input, checksum right */
		proto = 1;
		memcpy(l4, rest, left);
		l4len = left;
		if (l4len >= 4) {
			put16(l4 + 2, 0);
			put16(l4 + 2, fold(sum_bytes(0, l4, l4len)));
		}
		break;
	case 2:   /* TCP to a listener, header as given, checksum right */
		proto = 6;
		memcpy(l4, rest, left);
		l4len = left;
		if (l4len >= 20) {
			put16(l4 + 2, (p[0] & 4) ? PORT_HOARDER : PORT_READER);
			put16(l4 + 16, 0);
			put16(l4 + 16, l4_cksum(peer_ip, our_ip, 6, l4, l4len));
		}
		break;
	default:  /* any protocol number */
		proto = p[0];
		memcpy(l4, rest, left);
		l4len = left;
		break;
	}
	if ((sw & 8) && l4len >= 4)
		l4[l4len - 1] ^= 0xa5;   /* the checksum no longer matches */
	size_t off = eth_header(f, 0x0800);
	size_t hl = ip_header(f + off, proto, l4len, get16(p + 1), p[3], p[5], opt, optlen);
	if (sw & 8)
		f[off + 10] ^= 0x11;
	memcpy(f + off + hl, l4, l4len);
	return off + hl + l4len;
}

size_t fuzz_rx_render(const uint8_t *in, size_t len, uint8_t *f, uint16_t *flags)
{
	if (!inited)
		fuzz_rx_init();
	if (len < 1)
		return 0;
	uint8_t m = in[0];
	const uint8_t *p = in + 1;
	size_t n = len - 1;

	*flags = verdict(m);
	switch (m & 3) {
	case 0:
		if (n > FUZZ_FRAME_MAX)
			n = FUZZ_FRAME_MAX;
		memcpy(f, p, n);
		return n;
	case 1: {
		size_t off = eth_header(f, 0x0800);
		if (n > FUZZ_FRAME_MAX - off)
			n = FUZZ_FRAME_MAX - off;
		memcpy(f + off, p, n);
		uint8_t *ip = f + off;
		if ((m & 8) && n >= 20) {
			memcpy(ip + 12, peer_ip, 4);
			memcpy(ip + 16, our_ip, 4);
		}
		size_t hl = n ? (size_t)(ip[0] & 0x0f) * 4 : 0;
		if ((m & 4) && hl >= 20 && hl <= n) {
			put16(ip + 10, 0);
			put16(ip + 10, fold(sum_bytes(0, ip, hl)));
		}
		return off + n;
	}
	case 2:
		return render_tcp(p, n, f, m & 12);
	default:
		return render_ip4(p, n, f, m & 12);
	}
}

void fuzz_rx_inject(const uint8_t *f, size_t len, uint16_t flags)
{
	n_frames++;
	inject_and_poll(f, len, flags);
}

void fuzz_rx_one(const uint8_t *in, size_t len)
{
	uint8_t f[FUZZ_FRAME_MAX];
	uint16_t flags = 0;
	size_t n = fuzz_rx_render(in, len, f, &flags);

	if (n || (len >= 1 && (in[0] & 3) == 0))
		fuzz_rx_inject(f, n, flags);
}

void fuzz_rx_stats(uint64_t *frames, uint64_t *dropped, uint64_t *established)
{
	struct ns_stack_counters c;

	ns_stack_lock();
	ns_stack_counters(&c);
	ns_stack_unlock();
	*frames = n_frames;
	*dropped = c.link_drop + c.arp_drop + c.ip_drop + c.icmp_drop + c.udp_drop + c.tcp_drop;
	*established = n_established;
}

void fuzz_rx_fini(void)
{
	ns_stack_lock();
	ns_stack_stop();
	ns_stack_unlock();
}
