/*
 * stack.c - netstack/stack.h: one lwIP instance (NO_SYS, raw API) on one
 * port (netstack/port.h), driven by ns_stack_poll under one mutex.  Also
 * the platform functions lwIP needs: sys_now, ns_lwip_rand, ns_lwip_assert.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/stats.h"
#include "lwip/sys.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "netif_port.h"
#include "port.h"
#include "stack.h"

/* The link is re-read this often: memif comes up when its peer connects,
 * and a driver query per poll would cost more than the poll itself. */
#define LINK_CHECK_MS 5

static pthread_mutex_t stack_lock = PTHREAD_MUTEX_INITIALIZER;
static struct netif nif;
static int started;
static int link_up;
static uint32_t link_checked_ms;
static struct timespec t0;
static struct ns_port_info port_info;

/* --- time and platform hooks for lwIP --------------------------------------- */

uint32_t ns_stack_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	if (t0.tv_sec == 0 && t0.tv_nsec == 0)
		t0 = t;
	return (uint32_t)((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
}

u32_t sys_now(void)
{
	return ns_stack_now_ms();
}

/* splitmix64 seeded once from getrandom: fast, and its start is not
 * guessable from outside (lwIP uses it for ports and IP ids). */
static uint64_t rand_state;
static int rand_seeded;

uint32_t ns_lwip_rand(void)
{
	if (!rand_seeded) {
		if (getrandom(&rand_state, sizeof(rand_state), 0) != (ssize_t)sizeof(rand_state)) {
			struct timespec t;
			clock_gettime(CLOCK_MONOTONIC, &t);
			rand_state = (uint64_t)t.tv_nsec ^ ((uint64_t)getpid() << 32);
		}
		rand_seeded = 1;
	}
	uint64_t z = (rand_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}

void ns_lwip_assert(const char *msg, int line, const char *file)
{
	fprintf(stderr, "exitless netstack: lwIP assertion \"%s\" failed at %s:%d\n", msg, file, line);
	fflush(stderr);
	abort();
}

/* --- start --------------------------------------------------------------------- */

void ns_stack_default_args(char *buf, size_t len)
{
	int cpu = sched_getcpu();

	/* --no-huge: plain anonymous memory, no hugetlbfs set-up needed;
	 * --no-shconf: no shared config files (no secondary processes, and no
	 * IPC thread); a per-process --file-prefix keeps concurrent processes
	 * apart; --no-pci: only virtual devices (--vdev) are used. */
	snprintf(buf, len,
	         "--no-huge --no-pci -m 512 --no-telemetry -l %d --file-prefix exitless-%d --no-shconf --log-level=error",
	         cpu < 0 ? 0 : cpu, (int)getpid());
}

static int parse_addr(const char *name, const char *s, ip4_addr_t *a, char *err, size_t errlen)
{
	if (!ip4addr_aton(s, a)) {
		snprintf(err, errlen, "netstack: %s='%s' is not an IPv4 address: set it like %s=10.0.0.1",
		         name, s, name);
		return -1;
	}
	return 0;
}

static void counters_init(void);
static void counters_update(void);

static void check_link(void)
{
	int up = ns_port_link_up();

	link_checked_ms = ns_stack_now_ms();
	counters_update();   /* same cadence: see counters_init */
	if (up == link_up)
		return;
	link_up = up;
	/* Link up announces us with a gratuitous ARP (lwIP does it). */
	if (up)
		netif_set_link_up(&nif);
	else
		netif_set_link_down(&nif);
}

int ns_stack_start(const char *(*getenv_fn)(const char *), char *err, size_t errlen)
{
	ip4_addr_t addr, mask, gate;
	struct ns_port_info info;

	if (started) {
		snprintf(err, errlen, "netstack: already started in this process");
		return -1;
	}
	const char *s_addr = getenv_fn("ZP_NET_ADDR");
	const char *s_mask = getenv_fn("ZP_NET_MASK");
	const char *s_gate = getenv_fn("ZP_NET_GATE");

	/* The addresses first: they are cheap to check, the device is not. */
	if (!s_addr || !*s_addr) {
		snprintf(err, errlen, "netstack: ZP_NET_ADDR is not set: set it to this stack's IPv4 address, e.g. ZP_NET_ADDR=10.0.0.1");
		return -1;
	}
	if (parse_addr("ZP_NET_ADDR", s_addr, &addr, err, errlen) < 0)
		return -1;
	if (parse_addr("ZP_NET_MASK", s_mask && *s_mask ? s_mask : "255.255.255.0", &mask, err, errlen) < 0)
		return -1;
	if (!ip4_addr_netmask_valid(ip4_addr_get_u32(&mask))) {
		snprintf(err, errlen, "netstack: ZP_NET_MASK='%s' is not a netmask: use contiguous bits, e.g. 255.255.255.0", s_mask);
		return -1;
	}
	ip4_addr_set_zero(&gate);
	if (s_gate && *s_gate && parse_addr("ZP_NET_GATE", s_gate, &gate, err, errlen) < 0)
		return -1;

	/* The device reads its own settings (ZP_NET_DEVICE picks it). */
	if (ns_port_start(getenv_fn, &info, err, errlen) < 0)
		return -1;
	port_info = info;

	(void)ns_stack_now_ms();   /* time starts here */
	lwip_init();
	counters_init();
	ns_netif_set_port(&info);
	if (!netif_add(&nif, &addr, &mask, &gate, NULL, ns_netif_init, ethernet_input)) {
		ns_port_stop();
		snprintf(err, errlen, "netstack: lwIP refused the interface (netif_add)");
		return -1;
	}
	netif_set_default(&nif);
	netif_set_up(&nif);
	link_up = 0;
	check_link();
	started = 1;
	return 0;
}

/* --- running ------------------------------------------------------------------- */

unsigned ns_stack_poll(void)
{
	if (!started)
		return 0;
	unsigned n = ns_netif_poll_rx(&nif);
	if ((uint32_t)(ns_stack_now_ms() - link_checked_ms) >= LINK_CHECK_MS)
		check_link();
	sys_check_timeouts();
	ns_port_tx_flush();
	return n;
}

bool ns_stack_link_up(void)
{
	if (!started)
		return false;
	if ((uint32_t)(ns_stack_now_ms() - link_checked_ms) >= LINK_CHECK_MS)
		check_link();
	return link_up != 0;
}

void ns_stack_lock(void)
{
	pthread_mutex_lock(&stack_lock);
}

void ns_stack_unlock(void)
{
	pthread_mutex_unlock(&stack_lock);
}

/*
 * lwIP's counters are STAT_COUNTER (16 bits unless LWIP_STATS_LARGE): they
 * wrap after 65535 drops.  Sixty-four-bit totals are kept here, advanced by
 * the (wrapping) difference since the last look; looking every few
 * milliseconds (with the link check) is far more often than 65535 frames
 * can arrive.
 */
enum { A_LINK, A_ARP, A_IP, A_IPFRAG, A_IP_CHK, A_IP_LEN, A_IPFRAG_LEN, A_IP_PROTO, A_ICMP,
       A_UDP, A_UDP_CHK, A_TCP, A_TCP_CHK, A_TCP_LEN, A_MEM, A_LINK_MEM, A_N };
static STAT_COUNTER *acc_src[A_N];
static STAT_COUNTER acc_last[A_N];
static uint64_t acc_total[A_N];
static uint64_t acc_memp_total;
static STAT_COUNTER acc_memp_last[MEMP_MAX];

static void counters_init(void)
{
	acc_src[A_LINK] = &lwip_stats.link.drop;
	acc_src[A_ARP] = &lwip_stats.etharp.drop;
	acc_src[A_IP] = &lwip_stats.ip.drop;
	acc_src[A_IPFRAG] = &lwip_stats.ip_frag.drop;
	acc_src[A_IP_CHK] = &lwip_stats.ip.chkerr;
	acc_src[A_IP_LEN] = &lwip_stats.ip.lenerr;
	acc_src[A_IPFRAG_LEN] = &lwip_stats.ip_frag.lenerr;
	acc_src[A_IP_PROTO] = &lwip_stats.ip.proterr;
	acc_src[A_ICMP] = &lwip_stats.icmp.drop;
	acc_src[A_UDP] = &lwip_stats.udp.drop;
	acc_src[A_UDP_CHK] = &lwip_stats.udp.chkerr;
	acc_src[A_TCP] = &lwip_stats.tcp.drop;
	acc_src[A_TCP_CHK] = &lwip_stats.tcp.chkerr;
	acc_src[A_TCP_LEN] = &lwip_stats.tcp.lenerr;
	acc_src[A_MEM] = &lwip_stats.mem.err;
	acc_src[A_LINK_MEM] = &lwip_stats.link.memerr;
	for (int i = 0; i < A_N; i++)
		acc_last[i] = *acc_src[i];
	for (int i = 0; i < MEMP_MAX; i++)
		acc_memp_last[i] = lwip_stats.memp[i] ? lwip_stats.memp[i]->err : 0;
}

static void counters_update(void)
{
	for (int i = 0; i < A_N; i++) {
		STAT_COUNTER now = *acc_src[i];
		acc_total[i] += (STAT_COUNTER)(now - acc_last[i]);
		acc_last[i] = now;
	}
	for (int i = 0; i < MEMP_MAX; i++) {
		if (!lwip_stats.memp[i])
			continue;
		STAT_COUNTER now = lwip_stats.memp[i]->err;
		acc_memp_total += (STAT_COUNTER)(now - acc_memp_last[i]);
		acc_memp_last[i] = now;
	}
}

void ns_stack_counters(struct ns_stack_counters *c)
{
	struct ns_port_stats ps;

	memset(c, 0, sizeof(*c));
	if (!acc_src[0])
		return;
	counters_update();
	ns_port_stats(&ps);
	c->rx_frames = ps.ipackets;
	c->tx_frames = ps.opackets;
	c->tx_calls = ps.tx_calls;
	c->link_drop = acc_total[A_LINK] + ps.imissed + ps.ierrors + ps.rx_nombuf;
	c->arp_drop = acc_total[A_ARP];
	c->ip_drop = acc_total[A_IP] + acc_total[A_IPFRAG];
	c->ip_chkerr = acc_total[A_IP_CHK];
	c->ip_lenerr = acc_total[A_IP_LEN] + acc_total[A_IPFRAG_LEN];
	c->ip_proterr = acc_total[A_IP_PROTO];
	c->icmp_drop = acc_total[A_ICMP];
	c->udp_drop = acc_total[A_UDP];
	c->udp_chkerr = acc_total[A_UDP_CHK];
	c->tcp_drop = acc_total[A_TCP];
	c->tcp_chkerr = acc_total[A_TCP_CHK];
	c->tcp_lenerr = acc_total[A_TCP_LEN];
	c->mem_err = acc_total[A_MEM] + acc_total[A_LINK_MEM] + acc_memp_total;
}

void ns_stack_describe(char *buf, size_t len)
{
	static const struct { unsigned bit; const char *name; } names[] = {
		{ NS_PORT_RX_IPV4_CKSUM, "rx-ip" }, { NS_PORT_RX_L4_CKSUM, "rx-l4" },
		{ NS_PORT_TX_IPV4_CKSUM, "tx-ip" }, { NS_PORT_TX_L4_CKSUM, "tx-l4" },
		{ NS_PORT_TX_MULTISEG, "tx-multiseg" },
	};
	char off[80] = "";
	char a[16], m[16];
	const uint8_t *mac = port_info.mac;

	if (!started) {
		snprintf(buf, len, "not started");
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (port_info.offloads & names[i].bit)
			snprintf(off + strlen(off), sizeof(off) - strlen(off), "%s%s", off[0] ? "," : "", names[i].name);
	ip4addr_ntoa_r(netif_ip4_addr(&nif), a, sizeof(a));
	ip4addr_ntoa_r(netif_ip4_netmask(&nif), m, sizeof(m));
	snprintf(buf, len, "%s mac %02x:%02x:%02x:%02x:%02x:%02x mtu %u %s/%s link %s offloads %s",
	         port_info.driver, mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], nif.mtu, a, m,
	         link_up ? "up" : "down", off[0] ? off : "none");
}

void ns_stack_stop(void)
{
	if (!started)
		return;
	started = 0;
	netif_set_link_down(&nif);
	ns_port_stop();
}

void ns_stack_format_counters(char *buf, size_t len)
{
	struct ns_stack_counters c;

	ns_stack_counters(&c);
	snprintf(buf, len,
	         "rx_frames=%llu tx_frames=%llu link_drop=%llu arp_drop=%llu ip_drop=%llu "
	         "ip_chkerr=%llu ip_lenerr=%llu ip_proterr=%llu icmp_drop=%llu udp_drop=%llu "
	         "udp_chkerr=%llu tcp_drop=%llu tcp_chkerr=%llu tcp_lenerr=%llu mem_err=%llu tx_calls=%llu",
	         (unsigned long long)c.rx_frames, (unsigned long long)c.tx_frames,
	         (unsigned long long)c.link_drop, (unsigned long long)c.arp_drop,
	         (unsigned long long)c.ip_drop, (unsigned long long)c.ip_chkerr,
	         (unsigned long long)c.ip_lenerr, (unsigned long long)c.ip_proterr,
	         (unsigned long long)c.icmp_drop, (unsigned long long)c.udp_drop,
	         (unsigned long long)c.udp_chkerr, (unsigned long long)c.tcp_drop,
	         (unsigned long long)c.tcp_chkerr, (unsigned long long)c.tcp_lenerr,
	         (unsigned long long)c.mem_err, (unsigned long long)c.tx_calls);
}
