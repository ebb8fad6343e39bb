/*
 * dpdk_port.c - the DPDK device of netstack/port_devices.h (ZP_NET_DEVICE=dpdk,
 * the default) on DPDK 22.11: EAL start-up from ZP_NET_DEV / ZP_DPDK_ARGS,
 * port 0 with one rx and one tx queue, burst rx/tx, checksum offloads,
 * clean shutdown.
 *
 * The only file of the kit that includes DPDK headers (they clash with
 * lwIP's).  Everything is single-threaded: the stack's lock serialises calls.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mbuf_pool_ops.h>
#include <rte_mempool.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "port.h"
#include "port_devices.h"
#include "stack.h"

/*
 * Receive pool: lwIP keeps received frames (mbufs) referenced in its TCP
 * receive and out-of-order queues until the application reads them, so the
 * pool must cover many windows in flight: 32k mbufs of 2 KiB (~75 MB).
 * Transmit pool: separate, so a receive side that holds every rx mbuf can
 * still send ACKs and window updates (one shared pool could deadlock).
 */
#define RX_POOL_MBUFS   32767u   /* 2^n - 1 is the mempool's best size */
#define TX_POOL_MBUFS   8191u
#define POOL_CACHE      256u
#define RX_DESC         1024u
#define TX_DESC         1024u
#define TX_BURST        32u
#define TX_RETRIES      64u      /* bounded: a stuck device must not hang the poll loop */
#define MAX_EAL_ARGS    64

static struct {
	int started;
	uint16_t port;
	struct rte_mempool *rx_pool, *tx_pool;
	struct rte_mbuf *txq[TX_BURST];
	unsigned ntx;
	unsigned offloads;
	uint64_t tx_dropped;          /* frames the device would not take */
	/* Our own frame counts: some drivers forget theirs (memif reports 0
	 * once its peer has gone). */
	uint64_t rx_frames, tx_frames;
	uint64_t rx_dropped;          /* chained or buffer-filling frames */
	uint64_t tx_calls;            /* flushes that had frames to send */
	char runtime_dir[PATH_MAX];   /* EAL's runtime dir, if we created it */
	/* rte_eal_init keeps pointers into argv (device arguments): keep it. */
	char argbuf[4096];
	char *argv[MAX_EAL_ARGS + 1];
} P;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* --- DPDK's log: quiet unless failing --------------------------------------
 * While starting, DPDK's messages (errors only) go to a memory stream, so a
 * failure can quote DPDK's own words in our one-line error; afterwards they
 * go to stderr (DPDK's default is stdout plus syslog, which would mix into
 * the application's output).  During rte_eal_init, stdout and stderr of our
 * libc are pointed at the same stream: on bad arguments EAL prints its whole
 * usage text on stdout and getopt complains on stderr.  (Under the hook our
 * libc is private to the hook's namespace, so the application's own stdout
 * is not touched; glibc's stdout/stderr are assignable.) */
static char *log_buf;
static size_t log_len;
static FILE *log_mem;
static FILE *saved_stdout, *saved_stderr;

static void log_capture_begin(void)
{
	log_mem = open_memstream(&log_buf, &log_len);
	rte_openlog_stream(log_mem ? log_mem : stderr);
}

static void stdio_capture(int on)
{
	if (on && log_mem) {
		fflush(stdout);
		fflush(stderr);
		saved_stdout = stdout;
		saved_stderr = stderr;
		stdout = log_mem;
		stderr = log_mem;
	} else if (!on && saved_stdout) {
		stdout = saved_stdout;
		stderr = saved_stderr;
		saved_stdout = saved_stderr = NULL;
	}
}

/* The cause, as DPDK put it: the first line it logged (the root cause
 * comes first; the lines after it are the callers' summaries such as
 * "EAL: Bus (vdev) probe failed."). */
static const char *log_first_line(char *out, size_t outlen)
{
	out[0] = '\0';
	if (!log_mem)
		return out;
	fflush(log_mem);
	if (!log_buf || !log_len)
		return out;
	size_t start = 0;
	while (start < log_len && (log_buf[start] == '\n' || log_buf[start] == ' '))
		start++;
	size_t end = start;
	while (end < log_len && log_buf[end] != '\n')
		end++;
	while (end > start && (log_buf[end - 1] == '.' || log_buf[end - 1] == ' '))
		end--;
	size_t n = end - start;
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, log_buf + start, n);
	out[n] = '\0';
	return out;
}

static void log_capture_end(void)
{
	stdio_capture(0);
	rte_openlog_stream(stderr);
	if (log_mem)
		fclose(log_mem);
	free(log_buf);
	log_mem = NULL;
	log_buf = NULL;
	log_len = 0;
}

/* --- EAL arguments ---------------------------------------------------------- */

/* Split ARGS on spaces into P.argv, argv[0] "exitless".  Returns argc or -1. */
static int split_args(const char *args)
{
	size_t n = strlen(args);
	int argc = 0;

	if (n >= sizeof(P.argbuf))
		return -1;
	memcpy(P.argbuf, args, n + 1);
	P.argv[argc++] = (char *)"exitless";
	for (char *s = P.argbuf; *s;) {
		while (*s == ' ' || *s == '\t' || *s == '\n')
			*s++ = '\0';
		if (!*s)
			break;
		if (argc >= MAX_EAL_ARGS)
			return -1;
		P.argv[argc++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\n')
			s++;
	}
	P.argv[argc] = NULL;
	return argc;
}

/* The --file-prefix value in ARGS ("rte" if absent), for the runtime dir. */
static void file_prefix(const char *args, char *out, size_t outlen)
{
	const char *p = strstr(args, "--file-prefix");
	snprintf(out, outlen, "rte");
	if (!p)
		return;
	p += strlen("--file-prefix");
	if (*p != '=' && *p != ' ')
		return;
	p++;
	size_t n = strcspn(p, " \t\n");
	if (n == 0 || n >= outlen)
		return;
	memcpy(out, p, n);
	out[n] = '\0';
}

/* EAL's runtime directory for PREFIX, as eal_create_runtime_dir computes it. */
static void runtime_dir_for(const char *prefix, char *out, size_t outlen)
{
	const char *base = "/var/run";
	if (getuid() != 0) {
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		base = xdg ? xdg : "/tmp";
	}
	snprintf(out, outlen, "%s/dpdk/%s", base, prefix);
}

/* Remove DIR and the plain files EAL left in it (one level: EAL makes no
 * subdirectories there). */
static void remove_runtime_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char path[PATH_MAX + 256];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
}

/* --- start ------------------------------------------------------------------ */

static unsigned offloads_from_caps(const struct rte_eth_dev_info *di,
                                   uint64_t *rx_off, uint64_t *tx_off)
{
	unsigned o = 0;
	const uint64_t rx_l4 = RTE_ETH_RX_OFFLOAD_TCP_CKSUM | RTE_ETH_RX_OFFLOAD_UDP_CKSUM;
	const uint64_t tx_l4 = RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM;

	*rx_off = 0;
	*tx_off = 0;
	if (di->rx_offload_capa & RTE_ETH_RX_OFFLOAD_IPV4_CKSUM) {
		*rx_off |= RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
		o |= NS_PORT_RX_IPV4_CKSUM;
	}
	/* L4 only if both TCP and UDP: the stack's switch is per layer. */
	if ((di->rx_offload_capa & rx_l4) == rx_l4) {
		*rx_off |= rx_l4;
		o |= NS_PORT_RX_L4_CKSUM;
	}
	if (di->tx_offload_capa & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) {
		*tx_off |= RTE_ETH_TX_OFFLOAD_IPV4_CKSUM;
		o |= NS_PORT_TX_IPV4_CKSUM;
	}
	if ((di->tx_offload_capa & tx_l4) == tx_l4) {
		*tx_off |= tx_l4;
		o |= NS_PORT_TX_L4_CKSUM;
	}
	if (di->tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
		*tx_off |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
		o |= NS_PORT_TX_MULTISEG;
	}
	return o;
}

/*
 * rte_pktmbuf_pool_create, except for one flag.  Without hugepages
 * (--no-huge) the pool's memory is 4 KiB pages and, unless told the objects
 * need no IOVA-contiguous memory, the mempool never lets a 2.4 KiB mbuf
 * cross a page: one mbuf per page, 4 KiB each (measured: 166 MB RSS for the
 * two pools instead of ~97 MB).  Without hugepages nothing can DMA into
 * these buffers anyway (virtual devices copy with the CPU), so the flag is
 * safe there; with hugepages the usual rule is kept for real NICs.
 */
static struct rte_mempool *pool_create(const char *name, unsigned n, int socket)
{
	struct rte_pktmbuf_pool_private priv = {
		.mbuf_data_room_size = RTE_MBUF_DEFAULT_BUF_SIZE,
		.mbuf_priv_size = 0,
	};
	unsigned flags = rte_eal_has_hugepages() ? 0 : RTE_MEMPOOL_F_NO_IOVA_CONTIG;
	struct rte_mempool *mp;

	mp = rte_mempool_create_empty(name, n, sizeof(struct rte_mbuf) + RTE_MBUF_DEFAULT_BUF_SIZE,
	                              POOL_CACHE, sizeof(priv), socket, flags);
	if (!mp)
		return NULL;
	if (rte_mempool_set_ops_byname(mp, rte_mbuf_best_mempool_ops(), NULL) != 0)
		goto fail;
	rte_pktmbuf_pool_init(mp, &priv);
	if (rte_mempool_populate_default(mp) < 0)
		goto fail;
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
fail:
	rte_mempool_free(mp);
	return NULL;
}

static int port_setup(uint16_t port, struct ns_port_info *info, char *err, size_t errlen)
{
	struct rte_eth_dev_info di;
	struct rte_eth_conf conf;
	uint64_t rx_off, tx_off;
	char line[200];
	int rc;

	if ((rc = rte_eth_dev_info_get(port, &di)) != 0) {
		set_err(err, errlen, "DPDK: cannot query port %u: %s", port, rte_strerror(-rc));
		return -1;
	}
	memset(&conf, 0, sizeof(conf));
	P.offloads = offloads_from_caps(&di, &rx_off, &tx_off);
	conf.rxmode.offloads = rx_off;
	conf.txmode.offloads = tx_off;
	if ((rc = rte_eth_dev_configure(port, 1, 1, &conf)) != 0) {
		set_err(err, errlen, "DPDK: configuring port %u (%s) failed (%s): %s",
		        port, di.driver_name, rte_strerror(-rc), log_first_line(line, sizeof(line)));
		return -1;
	}
	uint16_t nrx = RX_DESC, ntx = TX_DESC;
	rte_eth_dev_adjust_nb_rx_tx_desc(port, &nrx, &ntx);

	int socket = rte_eth_dev_socket_id(port);
	if (socket < 0)
		socket = (int)rte_socket_id();
	P.rx_pool = pool_create("ns_rx", RX_POOL_MBUFS, socket);
	P.tx_pool = pool_create("ns_tx", TX_POOL_MBUFS, socket);
	if (!P.rx_pool || !P.tx_pool) {
		set_err(err, errlen, "DPDK: cannot create the mbuf pools (%s): give EAL more memory (-m 512 in ZP_DPDK_ARGS)",
		        rte_strerror(rte_errno));
		return -1;
	}
	struct rte_eth_rxconf rxc = di.default_rxconf;
	rxc.offloads = rx_off;
	struct rte_eth_txconf txc = di.default_txconf;
	txc.offloads = tx_off;
	if ((rc = rte_eth_rx_queue_setup(port, 0, nrx, (unsigned)socket, &rxc, P.rx_pool)) != 0 ||
	    (rc = rte_eth_tx_queue_setup(port, 0, ntx, (unsigned)socket, &txc)) != 0) {
		set_err(err, errlen, "DPDK: queue setup on port %u (%s) failed (%s): %s",
		        port, di.driver_name, rte_strerror(-rc), log_first_line(line, sizeof(line)));
		return -1;
	}
	if ((rc = rte_eth_dev_start(port)) != 0) {
		set_err(err, errlen, "DPDK: starting port %u (%s) failed (%s): %s",
		        port, di.driver_name, rte_strerror(-rc), log_first_line(line, sizeof(line)));
		return -1;
	}

	struct rte_ether_addr mac;
	rte_eth_macaddr_get(port, &mac);
	memcpy(info->mac, mac.addr_bytes, 6);
	uint16_t mtu = 1500;
	if (rte_eth_dev_get_mtu(port, &mtu) != 0 || mtu == 0 || mtu > 1500)
		mtu = 1500;  /* frames are single 2 KiB mbufs: never above 1500 */
	info->mtu = mtu;
	info->offloads = P.offloads;
	snprintf(info->driver, sizeof(info->driver), "%s", di.driver_name);
	return 0;
}

static int eal_port_start(const char *args, struct ns_port_info *info, char *err, size_t errlen)
{
	cpu_set_t cpus;
	char line[200], prefix[128], rdir[PATH_MAX];
	struct stat st;
	int have_cpus, argc, rc;

	if (P.started) {
		set_err(err, errlen, "DPDK: port already started in this process");
		return -1;
	}
	memset(info, 0, sizeof(*info));
	if ((argc = split_args(args ? args : "")) < 0) {
		set_err(err, errlen, "DPDK: EAL arguments too long (max %d words, %zu bytes): shorten ZP_DPDK_ARGS",
		        MAX_EAL_ARGS, sizeof(P.argbuf) - 1);
		return -1;
	}
	file_prefix(args ? args : "", prefix, sizeof(prefix));
	runtime_dir_for(prefix, rdir, sizeof(rdir));
	int dir_existed = stat(rdir, &st) == 0;

	/* rte_eal_init pins the calling thread to its main lcore: undo that,
	 * the application decides where its threads run. */
	have_cpus = pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) == 0;

	/* Errors only, unless the arguments ask for more (--log-level parsed
	 * by EAL overrides this). */
	rte_log_set_global_level(RTE_LOG_ERR);
	log_capture_begin();
	stdio_capture(1);
	rc = rte_eal_init(argc, P.argv);
	stdio_capture(0);
	if (have_cpus)
		pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	if (rc < 0) {
		int e = rte_errno;
		set_err(err, errlen, "EAL init failed (%s): %s; check ZP_DPDK_ARGS ('%s')",
		        rte_strerror(e), log_first_line(line, sizeof(line)), args ? args : "");
		log_capture_end();
		/* EAL may have made its directory before failing. */
		if (!dir_existed)
			remove_runtime_dir(rdir);
		return -1;
	}
	const char *eal_dir = rte_eal_get_runtime_dir();
	if (!dir_existed && eal_dir && strcmp(eal_dir, rdir) == 0)
		snprintf(P.runtime_dir, sizeof(P.runtime_dir), "%s", rdir);
	else
		P.runtime_dir[0] = '\0';

	uint16_t port = RTE_MAX_ETHPORTS;
	uint16_t pid;
	RTE_ETH_FOREACH_DEV(pid) {
		port = pid;
		break;
	}
	if (port == RTE_MAX_ETHPORTS) {
		/* Either no device was asked for, or its driver refused it
		 * (then DPDK logged why: quote it). */
		if (strstr(args ? args : "", "--vdev"))
			set_err(err, errlen, "DPDK: the device in --vdev could not be created: %s; check ZP_NET_DEV/ZP_DPDK_ARGS (memif: is another process using the same socket?)",
			        log_first_line(line, sizeof(line))[0] ? line : "no reason given");
		else
			set_err(err, errlen, "DPDK: no Ethernet device: add --vdev=net_memif0,role=server (or net_tap0,iface=NAME) to ZP_DPDK_ARGS, or set ZP_NET_DEV");
		goto fail;
	}
	P.port = port;
	if (port_setup(port, info, err, errlen) < 0)
		goto fail;
	log_capture_end();
	P.ntx = 0;
	P.tx_dropped = P.rx_frames = P.tx_frames = P.rx_dropped = P.tx_calls = 0;
	P.started = 1;
	return 0;

fail:
	log_capture_end();
	if (port != RTE_MAX_ETHPORTS) {
		rte_eth_dev_stop(port);
		rte_eth_dev_close(port);
	}
	rte_eal_cleanup();
	if (P.runtime_dir[0])
		remove_runtime_dir(P.runtime_dir);
	P.runtime_dir[0] = '\0';
	return -1;
}

/* --- data path -------------------------------------------------------------- */

static uint16_t frame_flags(uint64_t ol)
{
	uint16_t f = 0;

	switch (ol & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
	case RTE_MBUF_F_RX_IP_CKSUM_GOOD: f |= NS_FRAME_IP_CKSUM_GOOD; break;
	case RTE_MBUF_F_RX_IP_CKSUM_BAD:  f |= NS_FRAME_IP_CKSUM_BAD;  break;
	default: break;  /* UNKNOWN / NONE: not verified, software checks */
	}
	switch (ol & RTE_MBUF_F_RX_L4_CKSUM_MASK) {
	case RTE_MBUF_F_RX_L4_CKSUM_GOOD: f |= NS_FRAME_L4_CKSUM_GOOD; break;
	case RTE_MBUF_F_RX_L4_CKSUM_BAD:  f |= NS_FRAME_L4_CKSUM_BAD;  break;
	default: break;
	}
	return f;
}

static unsigned dpdk_port_rx(struct ns_frame *frames, unsigned max)
{
	struct rte_mbuf *m[64];
	unsigned got = 0;

	if (!P.started)
		return 0;
	if (max > 64)
		max = 64;
	uint16_t n = rte_eth_rx_burst(P.port, 0, m, (uint16_t)max);
	P.rx_frames += n;
	for (uint16_t i = 0; i < n; i++) {
		/* The port runs without scattered rx, but a driver may still
		 * hand over a chain (memif with a large peer MTU): such a frame
		 * is bigger than our MTU anyway, drop it; so is one that fills
		 * its buffer to the end (port.h promises NS_FRAME_TAILROOM). */
		if (m[i]->nb_segs != 1 || rte_pktmbuf_tailroom(m[i]) < NS_FRAME_TAILROOM) {
			P.rx_dropped++;
			rte_pktmbuf_free(m[i]);
			continue;
		}
		frames[got].handle = m[i];
		frames[got].data = rte_pktmbuf_mtod(m[i], void *);
		frames[got].len = rte_pktmbuf_data_len(m[i]);
		frames[got].flags = frame_flags(m[i]->ol_flags);
		got++;
	}
	return got;
}

static void dpdk_port_free(void *handle)
{
	/* After dpdk_port_stop the pools are gone with EAL's memory: frames
	 * lwIP still holds at exit are simply forgotten. */
	if (P.started)
		rte_pktmbuf_free((struct rte_mbuf *)handle);
}

static void *dpdk_port_tx_alloc(void **data, unsigned *room)
{
	struct rte_mbuf *m = P.started ? rte_pktmbuf_alloc(P.tx_pool) : NULL;

	if (!m)
		return NULL;
	*data = rte_pktmbuf_mtod(m, void *);
	*room = rte_pktmbuf_tailroom(m);
	return m;
}

static void dpdk_port_tx_flush(void)
{
	unsigned sent = 0;

	if (P.ntx)
		P.tx_calls++;
	for (unsigned tries = 0; sent < P.ntx && tries < TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(P.port, 0, P.txq + sent, (uint16_t)(P.ntx - sent));
	P.tx_frames += sent;
	/* What the device still refuses is dropped; TCP retransmits it. */
	for (unsigned i = sent; i < P.ntx; i++) {
		rte_pktmbuf_free(P.txq[i]);
		P.tx_dropped++;
	}
	P.ntx = 0;
}

/*
 * Offloaded checksums, the DPDK way: flags + l2/l3 lengths in the mbuf, the
 * IPv4 header checksum zeroed and the TCP/UDP checksum field seeded with the
 * pseudo-header sum (rte_ipv4_phdr_cksum), which the device completes.
 */
static void set_tx_offloads(struct rte_mbuf *m, unsigned want, uint8_t l2, uint8_t l3)
{
	want &= P.offloads & (NS_PORT_TX_IPV4_CKSUM | NS_PORT_TX_L4_CKSUM);
	if (!want || l3 < sizeof(struct rte_ipv4_hdr) || m->data_len < (unsigned)l2 + l3)
		return;
	struct rte_ipv4_hdr *ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, l2);
	uint64_t ol = RTE_MBUF_F_TX_IPV4;

	m->l2_len = l2;
	m->l3_len = l3;
	if (want & NS_PORT_TX_IPV4_CKSUM) {
		ol |= RTE_MBUF_F_TX_IP_CKSUM;
		ip->hdr_checksum = 0;
	}
	if (want & NS_PORT_TX_L4_CKSUM) {
		void *l4 = rte_pktmbuf_mtod_offset(m, char *, l2 + l3);
		if (ip->next_proto_id == IPPROTO_TCP && m->data_len >= (unsigned)l2 + l3 + sizeof(struct rte_tcp_hdr)) {
			ol |= RTE_MBUF_F_TX_TCP_CKSUM;
			((struct rte_tcp_hdr *)l4)->cksum = rte_ipv4_phdr_cksum(ip, ol);
		} else if (ip->next_proto_id == IPPROTO_UDP && m->data_len >= (unsigned)l2 + l3 + sizeof(struct rte_udp_hdr)) {
			ol |= RTE_MBUF_F_TX_UDP_CKSUM;
			((struct rte_udp_hdr *)l4)->dgram_cksum = rte_ipv4_phdr_cksum(ip, ol);
		}
	}
	m->ol_flags |= ol;
}

static int dpdk_port_tx_queue(void *handle, uint16_t len, unsigned cksum_offloads,
                              uint8_t l2_len, uint8_t l3_len)
{
	struct rte_mbuf *m = handle;
	uint64_t before = P.tx_dropped;

	m->data_len = len;
	m->pkt_len = len;
	if (cksum_offloads)
		set_tx_offloads(m, cksum_offloads, l2_len, l3_len);
	P.txq[P.ntx++] = m;
	if (P.ntx == TX_BURST)
		dpdk_port_tx_flush();
	return P.tx_dropped == before ? 0 : -1;
}

static int dpdk_port_link_up(void)
{
	struct rte_eth_link link;

	if (!P.started || rte_eth_link_get_nowait(P.port, &link) != 0)
		return 0;
	return link.link_status == RTE_ETH_LINK_UP;
}

static void dpdk_port_stats(struct ns_port_stats *s)
{
	struct rte_eth_stats st;

	memset(s, 0, sizeof(*s));
	s->ipackets = P.rx_frames;
	s->opackets = P.tx_frames;
	s->oerrors = P.tx_dropped;
	s->ierrors = P.rx_dropped;
	s->tx_calls = P.tx_calls;
	if (!P.started || rte_eth_stats_get(P.port, &st) != 0)
		return;
	s->imissed = st.imissed;
	s->ierrors += st.ierrors;
	s->oerrors += st.oerrors;
	s->rx_nombuf = st.rx_nombuf;
}

static void dpdk_port_stop(void)
{
	if (!P.started)
		return;
	dpdk_port_tx_flush();
	P.started = 0;
	rte_eth_dev_stop(P.port);
	rte_eth_dev_close(P.port);
	rte_eal_cleanup();
	if (P.runtime_dir[0])
		remove_runtime_dir(P.runtime_dir);
	P.runtime_dir[0] = '\0';
}

/* --- the device -------------------------------------------------------------- */

/* EAL's arguments from the application's environment: ZP_DPDK_ARGS as
 * given, or this machine's defaults (ns_stack_default_args) plus
 * --vdev=ZP_NET_DEV. */
static int eal_args_from_env(const char *(*getenv_fn)(const char *), char *args, size_t len,
                             char *err, size_t errlen)
{
	const char *dpdk = getenv_fn("ZP_DPDK_ARGS");
	const char *dev = getenv_fn("ZP_NET_DEV");

	if (dpdk && *dpdk) {
		if ((size_t)snprintf(args, len, "%s", dpdk) >= len) {
			set_err(err, errlen, "netstack: ZP_DPDK_ARGS is too long (max %zu bytes)", len - 1);
			return -1;
		}
		return 0;
	}
	if (dev && *dev) {
		char def[512];
		ns_stack_default_args(def, sizeof(def));
		if ((size_t)snprintf(args, len, "%s --vdev=%s", def, dev) >= len) {
			set_err(err, errlen, "netstack: ZP_NET_DEV is too long");
			return -1;
		}
		return 0;
	}
	set_err(err, errlen, "netstack: no network device: set ZP_NET_DEV "
	        "(e.g. net_memif0,role=server,socket=/run/exitless.sock or net_tap0,iface=zp0) "
	        "or ZP_DPDK_ARGS (full EAL arguments), or ZP_NET_DEVICE=vmnet for an ELISA vmnet port");
	return -1;
}

static int dpdk_port_start(const char *(*getenv_fn)(const char *), struct ns_port_info *info,
                           char *err, size_t errlen)
{
	char args[1024];

	if (eal_args_from_env(getenv_fn, args, sizeof(args), err, errlen) < 0)
		return -1;
	return eal_port_start(args, info, err, errlen);
}

const struct ns_port_device ns_port_device_dpdk = {
	.name = "dpdk",
	.start = dpdk_port_start,
	.rx = dpdk_port_rx,
	.free = dpdk_port_free,
	.tx_alloc = dpdk_port_tx_alloc,
	.tx_queue = dpdk_port_tx_queue,
	.tx_flush = dpdk_port_tx_flush,
	.link_up = dpdk_port_link_up,
	.stats = dpdk_port_stats,
	.stop = dpdk_port_stop,
};
