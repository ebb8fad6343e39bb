/*
 * nsecho - the netstack data path without the socket layer: lwIP's raw API
 * over the netstack's device (DPDK, or a port of an ELISA vmnet switch), in
 * a plain process (not under the hook).
 *
 *   nsecho [SECONDS]
 *       echo server: TCP and UDP port 7, until SIGTERM/SIGINT or SECONDS.
 *   nsecho --client ADDR PORT BYTES [SECONDS]
 *       connect, send BYTES pseudo-random bytes, check the echo byte for
 *       byte, then time 1000 round trips of 64 bytes.  Exit 0 if all
 *       matched, 1 otherwise (SECONDS bounds it, default 60).
 *
 * The stack is configured from the environment (netstack/stack.h,
 * netstack/README.md): ZP_NET_ADDR, ZP_NET_MASK, ZP_NET_GATE, and the
 * device: ZP_NET_DEVICE=dpdk (the default) with ZP_NET_DEV or ZP_DPDK_ARGS,
 * or ZP_NET_DEVICE=vmnet with ZP_ELISA_MODE (local: ZP_VMNET_REGION,
 * ZP_VMNET_PORT, ZP_VMNET_APP; vmfunc: ZP_ELISA_GATE, ZP_VMNET_AREA;
 * netstack/vmnet_attach.h).
 * Everything runs in one thread: ns_stack_poll in a loop; lwIP calls back.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/ip4_addr.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/udp.h"

#include "stack.h"

#define ECHO_PORT   7
#define RTT_ROUNDS  1000
#define RTT_BYTES   64

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static const char *env(const char *name)
{
	return getenv(name);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ----------------------------------------------------------------------- */
/* server: TCP echo with flow control (we acknowledge received data to lwIP
 * with tcp_recved only once it is in the send buffer), UDP echo. */

struct echo_conn {
	struct tcp_pcb *pcb;
	struct pbuf *pending;     /* received, not yet written back */
	u16_t offset;             /* into pending's first pbuf */
	int closing;              /* peer sent FIN: close once pending is out */
};

static unsigned long conns_accepted;

static void conn_free(struct echo_conn *c)
{
	if (c->pending)
		pbuf_free(c->pending);
	free(c);
}

static void conn_close(struct echo_conn *c)
{
	struct tcp_pcb *pcb = c->pcb;

	tcp_arg(pcb, NULL);
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
	tcp_poll(pcb, NULL, 0);
	conn_free(c);
	if (tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);
}

/* Move as much of pending as fits into the send buffer. */
static void conn_push(struct echo_conn *c)
{
	while (c->pending) {
		struct pbuf *q = c->pending;
		u16_t left = (u16_t)(q->len - c->offset);
		u16_t room = tcp_sndbuf(c->pcb);
		u16_t n = left < room ? left : room;

		if (n == 0 && left != 0)
			break;
		if (n) {
			u8_t flags = TCP_WRITE_FLAG_COPY;
			if (n < left || q->next)
				flags |= TCP_WRITE_FLAG_MORE;
			if (tcp_write(c->pcb, (const u8_t *)q->payload + c->offset, n, flags) != ERR_OK)
				break;   /* segment queue full: the sent callback resumes */
			tcp_recved(c->pcb, n);
			c->offset = (u16_t)(c->offset + n);
		}
		if (c->offset == q->len) {
			/* Drop the head pbuf, keep the rest of the chain. */
			struct pbuf *next = q->next;
			if (next)
				pbuf_ref(next);
			pbuf_free(q);
			c->pending = next;
			c->offset = 0;
		}
	}
	tcp_output(c->pcb);
	if (c->closing && !c->pending)
		conn_close(c);
}

static err_t echo_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct echo_conn *c = arg;

	(void)pcb;
	if (!c) {
		if (p)
			pbuf_free(p);
		return ERR_OK;
	}
	if (!p) {                 /* FIN */
		c->closing = 1;
		conn_push(c);
		return ERR_OK;
	}
	if (err != ERR_OK) {
		pbuf_free(p);
		return err;
	}
	if (c->pending)
		pbuf_cat(c->pending, p);
	else
		c->pending = p;
	conn_push(c);
	return ERR_OK;
}

static err_t echo_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	(void)pcb;
	(void)len;
	if (arg)
		conn_push(arg);
	return ERR_OK;
}

static err_t echo_poll(void *arg, struct tcp_pcb *pcb)
{
	(void)pcb;
	if (arg)
		conn_push(arg);
	return ERR_OK;
}

static void echo_err(void *arg, err_t err)
{
	(void)err;
	if (arg)   /* the pcb is already gone */
		conn_free(arg);
}

static err_t echo_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	if (err != ERR_OK || !pcb)
		return ERR_VAL;
	struct echo_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return ERR_MEM;
	c->pcb = pcb;
	conns_accepted++;
	tcp_nagle_disable(pcb);
	tcp_arg(pcb, c);
	tcp_recv(pcb, echo_recv);
	tcp_sent(pcb, echo_sent);
	tcp_err(pcb, echo_err);
	tcp_poll(pcb, echo_poll, 2);
	return ERR_OK;
}

static void udp_echo(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                     const ip_addr_t *addr, u16_t port)
{
	(void)arg;
	udp_sendto(pcb, p, addr, port);
	pbuf_free(p);
}

static int server_setup(void)
{
	struct tcp_pcb *l = tcp_new();

	if (!l || tcp_bind(l, IP_ANY_TYPE, ECHO_PORT) != ERR_OK)
		return -1;
	l = tcp_listen(l);
	if (!l)
		return -1;
	tcp_accept(l, echo_accept);

	struct udp_pcb *u = udp_new();
	if (!u || udp_bind(u, IP_ANY_TYPE, ECHO_PORT) != ERR_OK)
		return -1;
	udp_recv(u, udp_echo, NULL);
	return 0;
}

/* ----------------------------------------------------------------------- */
/* client: a byte stream both sides can regenerate, so the echo is checked
 * without keeping what was sent. */

struct stream {
	uint32_t s;
};

static uint8_t stream_next(struct stream *st)
{
	st->s = st->s * 1103515245u + 12345u;
	return (uint8_t)(st->s >> 16);
}

static struct {
	struct tcp_pcb *pcb;
	struct stream tx, rx;
	uint64_t total;        /* bytes to send in the bulk phase */
	uint64_t sent, received;
	uint64_t target;       /* bytes to have sent at the end of the current phase */
	int connected, failed, done;
	const char *why;
} C;

static void client_fail(const char *why)
{
	if (!C.failed) {
		C.failed = 1;
		C.why = why;
	}
}

static void client_push(void)
{
	uint8_t buf[16384];

	while (C.pcb && C.sent < C.target) {
		uint64_t want = C.target - C.sent;
		u16_t room = tcp_sndbuf(C.pcb);
		size_t n = want < sizeof(buf) ? (size_t)want : sizeof(buf);
		if (n > room)
			n = room;
		if (n == 0 || tcp_sndqueuelen(C.pcb) >= TCP_SND_QUEUELEN - 4)
			break;
		struct stream save = C.tx;
		for (size_t i = 0; i < n; i++)
			buf[i] = stream_next(&C.tx);
		if (tcp_write(C.pcb, buf, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK) {
			C.tx = save;  /* retried from the sent callback */
			break;
		}
		C.sent += n;
	}
	if (C.pcb)
		tcp_output(C.pcb);
}

static err_t client_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	(void)arg;
	if (!p) {
		if (C.received < C.target)
			client_fail("server closed the connection early");
		return ERR_OK;
	}
	if (err != ERR_OK) {
		pbuf_free(p);
		return err;
	}
	for (struct pbuf *q = p; q; q = q->next) {
		const uint8_t *d = q->payload;
		for (u16_t i = 0; i < q->len; i++)
			if (d[i] != stream_next(&C.rx)) {
				client_fail("echoed data differs from what was sent");
				break;
			}
	}
	C.received += p->tot_len;
	tcp_recved(pcb, p->tot_len);
	pbuf_free(p);
	return ERR_OK;
}

static err_t client_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	(void)arg;
	(void)pcb;
	(void)len;
	client_push();
	return ERR_OK;
}

static void client_err(void *arg, err_t err)
{
	(void)arg;
	C.pcb = NULL;
	client_fail(err == ERR_RST ? "connection reset" :
	            err == ERR_ABRT ? "connection aborted (timeout?)" : "connection error");
}

static err_t client_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	(void)arg;
	(void)pcb;
	if (err != ERR_OK) {
		client_fail("connect failed");
		return err;
	}
	C.connected = 1;
	return ERR_OK;
}

/* Poll until COND holds, the deadline passes or a signal arrives. */
#define POLL_UNTIL(cond, deadline)                                   \
	do {                                                         \
		while (!(cond) && !C.failed && !stop_requested &&    \
		       now_s() < (deadline)) {                       \
			ns_stack_lock();                             \
			ns_stack_poll();                             \
			ns_stack_unlock();                           \
		}                                                    \
	} while (0)

static int run_client(const char *addr_s, int port, uint64_t bytes, double limit_s)
{
	ip4_addr_t a4;
	ip_addr_t addr;
	double deadline = now_s() + limit_s;

	if (!ip4addr_aton(addr_s, &a4)) {
		fprintf(stderr, "nsecho: '%s' is not an IPv4 address\n", addr_s);
		return 1;
	}
	ip_addr_copy_from_ip4(addr, a4);
	memset(&C, 0, sizeof(C));
	C.tx.s = C.rx.s = 0x1234567u;
	C.total = bytes;

	/* A memif link comes up when the peer connects: before that a SYN
	 * would be lost and retried only after a 3 s timer. */
	double t_link = now_s();
	int up = 0;
	while (!stop_requested && now_s() < deadline) {
		ns_stack_lock();
		ns_stack_poll();
		up = ns_stack_link_up();
		ns_stack_unlock();
		if (up)
			break;
	}
	if (!up) {
		fprintf(stderr, "nsecho: client: link did not come up\n");
		return 1;
	}
	fprintf(stderr, "nsecho: client: link up after %.1f ms\n", (now_s() - t_link) * 1e3);

	ns_stack_lock();
	C.pcb = tcp_new();
	if (C.pcb) {
		tcp_nagle_disable(C.pcb);
		tcp_recv(C.pcb, client_recv);
		tcp_sent(C.pcb, client_sent);
		tcp_err(C.pcb, client_err);
		if (tcp_connect(C.pcb, &addr, (u16_t)port, client_connected) != ERR_OK)
			client_fail("tcp_connect refused");
	} else {
		client_fail("no pcb");
	}
	ns_stack_unlock();
	double t_conn = now_s();
	POLL_UNTIL(C.connected, deadline);
	if (!C.connected) {
		fprintf(stderr, "nsecho: client: not connected to %s:%d: %s\n", addr_s, port,
		        C.why ? C.why : "timeout");
		return 1;
	}
	fprintf(stderr, "nsecho: client: connected in %.1f ms\n", (now_s() - t_conn) * 1e3);

	/* Bulk phase. */
	double t_bulk = now_s();
	ns_stack_lock();
	C.target = bytes;
	client_push();
	ns_stack_unlock();
	POLL_UNTIL(C.received >= bytes, deadline);
	double bulk_s = now_s() - t_bulk;
	if (C.failed || C.received < bytes) {
		fprintf(stderr, "nsecho: client: bulk echo failed after %llu of %llu bytes: %s\n",
		        (unsigned long long)C.received, (unsigned long long)bytes,
		        C.why ? C.why : "timeout");
		return 1;
	}
	printf("nsecho: client: %llu bytes echoed intact in %.1f ms (%.1f MB/s each way)\n",
	       (unsigned long long)bytes, bulk_s * 1e3, bulk_s > 0 ? (double)bytes / bulk_s / 1e6 : 0.0);

	/* Round trips: one small message at a time. */
	double t_rtt = now_s();
	int rounds = 0;
	for (; rounds < RTT_ROUNDS && !C.failed; rounds++) {
		ns_stack_lock();
		C.target += RTT_BYTES;
		client_push();
		ns_stack_unlock();
		POLL_UNTIL(C.received >= C.target, deadline);
		if (C.received < C.target)
			break;
	}
	double rtt_s = now_s() - t_rtt;
	if (rounds < RTT_ROUNDS || C.failed) {
		fprintf(stderr, "nsecho: client: round trips failed after %d: %s\n", rounds,
		        C.why ? C.why : "timeout");
		return 1;
	}
	printf("nsecho: client: %d round trips of %d bytes, mean %.1f us\n",
	       rounds, RTT_BYTES, rtt_s / rounds * 1e6);

	ns_stack_lock();
	if (C.pcb) {
		tcp_arg(C.pcb, NULL);
		tcp_recv(C.pcb, NULL);
		tcp_sent(C.pcb, NULL);
		tcp_err(C.pcb, NULL);
		if (tcp_close(C.pcb) != ERR_OK)
			tcp_abort(C.pcb);
		C.pcb = NULL;
	}
	ns_stack_unlock();
	/* Let the FIN go out (bounded). */
	double t_end = now_s() + 0.2;
	while (now_s() < t_end) {
		ns_stack_lock();
		ns_stack_poll();
		ns_stack_unlock();
	}
	return 0;
}

/* ----------------------------------------------------------------------- */

static void print_counters(void)
{
	char line[512];

	ns_stack_lock();
	ns_stack_format_counters(line, sizeof line);
	ns_stack_unlock();
	fprintf(stderr, "nsecho: %s\n", line);
}

static void usage(void)
{
	fprintf(stderr, "usage: nsecho [SECONDS]\n"
	                "       nsecho --client ADDR PORT BYTES [SECONDS]\n"
	                "environment: ZP_NET_ADDR (required), ZP_NET_MASK, ZP_NET_GATE, and the device:\n"
	                "  DPDK (default):  ZP_NET_DEV=VDEV (e.g. net_memif0,role=server) or ZP_DPDK_ARGS=EAL-ARGS\n"
	                "  ELISA vmnet:     ZP_NET_DEVICE=vmnet ZP_ELISA_MODE=local|vmfunc|exit (default local)\n"
	                "    local:   ZP_VMNET_REGION=FILE (netstack/tools/vmnet-region create FILE --ports N)\n"
	                "             ZP_VMNET_PORT=N ZP_VMNET_APP=elisa/apps/vmnet.so\n"
	                "    vmfunc:  ZP_ELISA_GATE=VA ZP_VMNET_AREA=FILE [ZP_VMNET_AREA_OFFSET=N]\n"
	                "    exit:    ZP_ELISA_MAILBOX=FILE ZP_ELISA_DOORBELL=PORT ZP_VMNET_AREA=FILE\n"
	                "    (all settings: netstack/vmnet_attach.h; ZP_NET_MAC overrides the MAC)\n");
}

int main(int argc, char **argv)
{
	char err[512];
	int client = argc >= 2 && strcmp(argv[1], "--client") == 0;
	double limit = 0;

	if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		usage();
		return 0;
	}
	if (client ? (argc < 5 || argc > 6) : argc > 2) {
		usage();
		return 2;
	}
	const char *limit_arg = client ? (argc == 6 ? argv[5] : NULL) : (argc == 2 ? argv[1] : NULL);
	if (limit_arg) {
		char *end;
		limit = strtod(limit_arg, &end);
		if (*end || limit <= 0) {
			usage();
			return 2;
		}
	} else if (client) {
		limit = 60;
	}

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	ns_stack_lock();
	int rc = ns_stack_start(env, err, sizeof(err));
	ns_stack_unlock();
	if (rc < 0) {
		fprintf(stderr, "nsecho: %s\n", err);
		return 1;
	}

	char desc[256];
	ns_stack_lock();
	ns_stack_describe(desc, sizeof(desc));
	ns_stack_unlock();
	fprintf(stderr, "nsecho: %s\n", desc);

	int status = 0;
	if (client) {
		char *end;
		unsigned long long bytes = strtoull(argv[4], &end, 10);
		int port = atoi(argv[3]);
		if (*end || port <= 0 || port > 65535) {
			usage();
			status = 2;
		} else {
			status = run_client(argv[2], port, bytes, limit);
		}
	} else {
		ns_stack_lock();
		rc = server_setup();
		ns_stack_unlock();
		if (rc < 0) {
			fprintf(stderr, "nsecho: cannot listen on port %d\n", ECHO_PORT);
			status = 1;
		} else {
			fprintf(stderr, "nsecho: echo on TCP and UDP port %d%s\n", ECHO_PORT,
			        limit > 0 ? " (time-limited)" : "");
			double deadline = limit > 0 ? now_s() + limit : 0;
			unsigned long idle = 0;
			while (!stop_requested) {
				ns_stack_lock();
				unsigned n = ns_stack_poll();
				ns_stack_unlock();
				/* Read the clock only now and then: it is the
				 * loop's main cost when idle. */
				if (deadline > 0 && (n || ++idle % 1024 == 0) && now_s() >= deadline)
					break;
			}
			fprintf(stderr, "nsecho: stopping (%lu connections served)\n", conns_accepted);
		}
	}
	print_counters();
	ns_stack_lock();
	ns_stack_stop();
	ns_stack_unlock();
	return status;
}
