/*
 * sock.h - internal to the socket layer's own files (fdtable.c, sock_*.c):
 * struct nsock and the functions they share.  No lwIP or DPDK header here
 * (lwIP types are only forward-declared), so a file that parses struct
 * sockaddr_in can include it without lwIP.  lwIP's headers and the libc
 * socket headers were checked not to clash (gcc 12, lwIP 2.1.3), so the glue
 * files include both.
 *
 * Locking: every field of struct nsock except `nonblock` (atomic) is read
 * and written with the stack lock held (ns_stack_lock), by the system-call
 * side and by lwIP's callbacks (which run inside ns_stack_poll, lock held).
 * The fd table's entries are written with the lock held and read lock-free.
 *
 * Lifetime of a struct nsock:
 *   fdrefs  number of fd-table entries naming it (socket/accept/dup);
 *   holds   system calls of other threads parked in ns_wait on it;
 *   dead    the last fd was closed: the pcb's callbacks were detached and
 *           the pcb closed/aborted (lwIP no longer knows the nsock);
 * it is freed when dead and holds == 0 (nsock_unhold / ns_sock_release).
 * A connection waiting in a listener's accept queue has fdrefs == 0, not
 * dead: the listener owns it.
 */
#ifndef EXITLESS_NS_SOCK_H
#define EXITLESS_NS_SOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "nsock.h"

struct tcp_pcb;
struct udp_pcb;
struct pbuf;

/* The raw system call (hook's `next`); set by ns_sock_init. */
typedef long (*ns_next_fn)(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
extern ns_next_fn ns_next;
#define NS_SYS(nr, a1, a2, a3) ns_next((nr), (long)(a1), (long)(a2), (long)(a3), 0, 0, 0)

enum ns_state {
	NS_NEW = 0,      /* TCP: created (maybe bound), never connected; UDP: always */
	NS_LISTEN,       /* TCP: listening (pcb is a tcp_pcb_listen) */
	NS_CONNECTING,   /* TCP: SYN sent */
	NS_CONNECTED,    /* TCP: established (FIN/shutdown tracked apart) */
	NS_CLOSED,       /* TCP: the connection is over (reset, timeout, both FINs,
	                  * refused): the pcb is gone */
};

/* One received UDP datagram. */
struct ns_dgram {
	struct ns_dgram *next;
	struct pbuf *p;
	uint32_t ip;         /* source, network order */
	uint16_t port;       /* source, host order */
};

struct nsock {
	uint64_t id;
	uint64_t gen;
	int type;            /* SOCK_STREAM or SOCK_DGRAM */
	int state;           /* enum ns_state */
	int fdrefs;
	int holds;
	bool dead;
	atomic_bool nonblock;    /* O_NONBLOCK of the open socket */

	union {
		struct tcp_pcb *tcp;
		struct udp_pcb *udp;
		void *any;
	} pcb;               /* NULL once lwIP freed or we released it */

	/* Addresses (network-order IP, host-order port), cached so they
	 * survive the pcb. */
	uint32_t local_ip, peer_ip;
	uint16_t local_port, peer_port;
	bool bound;          /* bind() done (or implied by listen/connect/send) */
	bool has_peer;       /* TCP: connect() started or accepted; UDP: connect()ed */
	bool established;    /* TCP: the connection was established once */

	/* TCP receive queue: pbufs linked raw through ->next (tot_len is not
	 * maintained across entries); rx_off bytes of the head are consumed. */
	struct pbuf *rx_head, *rx_tail;
	size_t rx_off, rx_bytes;
	/* UDP receive queue. */
	struct ns_dgram *dg_head, *dg_tail;
	size_t dg_bytes;

	bool rx_fin;         /* TCP: the peer's FIN arrived */
	bool shut_rd, shut_wr;   /* our shutdown() (or close of the pcb) */
	int err;             /* pending SO_ERROR (positive errno), read-and-clear */
	bool wr_blocked;     /* a send found no room: the next ack that makes
	                      * room bumps gen (Linux's SOCK_NOSPACE) */

	/* Listener: connections established, not yet accept()ed. */
	struct nsock *acc_head, *acc_tail, *acc_next;
	int acc_count;
	int backlog;

	/* Options (kept here: the pcb may change or vanish). */
	bool reuseaddr, reuseport, keepalive, nodelay, broadcast, cork, oobinline;
	bool linger_on;
	int linger_s;
	int keepidle_s, keepintvl_s, keepcnt;
	int sndbuf, rcvbuf;      /* as reported by getsockopt (Linux doubles) */
	int tos, ttl, priority, rcvlowat, maxseg, user_timeout;
	int64_t rcvtimeo_us, sndtimeo_us;  /* -1: forever; 0: do not wait */
};

/* --- fdtable.c -------------------------------------------------------------- */
/* Map FD to S (lock held); -EMFILE if FD is beyond the table. */
int ns_fd_install(int fd, struct nsock *s);
/* Drop FD's entry and return what it named (lock held, or the fork child). */
struct nsock *ns_fd_remove(int fd);
/* One past the largest fd the table can hold (0 before first use). */
size_t ns_fd_limit(void);
/* A new placeholder eventfd (through ns_next); fd or -errno. */
int ns_placeholder_new(bool cloexec);

/* --- sock_calls.c ------------------------------------------------------------ */
struct nsock *nsock_new(int type);         /* zeroed, id assigned, defaults set */
/* Lock and find FD's nsock; NULL (lock not held) if FD is not ours. */
struct nsock *ns_enter(int fd);
/* ns_wait predicates (arg: the nsock): readable / writable / closed. */
bool ns_ready_rx(void *arg);
bool ns_ready_tx(void *arg);
/* The last fd of S is gone: detach from lwIP, mark dead, free if nobody
 * holds it.  Lock held. */
void ns_sock_release(struct nsock *s);
/* Park in ns_wait for READY(s) with the lock dropped; returns with it held.
 * 0 ready, -ETIMEDOUT, -EINTR, or -EBADF when S was closed meanwhile (then
 * S may be freed: do not touch it). */
int nsock_wait(struct nsock *s, bool (*ready)(void *), int timeout_ms);
/* Milliseconds left until DEADLINE (monotonic ns; 0 = none -> -1). */
int ns_ms_left(uint64_t deadline_ns);
uint64_t ns_deadline(int64_t timeo_us);   /* 0 when TIMEO_US < 0 (forever) */
void ns_raise_sigpipe(void);
int ns_sockaddr_in(const void *addr, long len, uint32_t *ip, uint16_t *port);
long ns_put_sockaddr(void *addr, int *addrlen, uint32_t ip, uint16_t port);

/* --- sock_tcp.c (lock held) ----------------------------------------------------- */
void nsock_free(struct nsock *s);           /* queues dropped, memory freed */
int nst_tcp_open(struct nsock *s);
int nst_tcp_bind(struct nsock *s, uint32_t ip, uint16_t port);
int nst_tcp_listen(struct nsock *s, int backlog);
struct nsock *nst_tcp_accept_pop(struct nsock *ls);
int nst_tcp_connect(struct nsock *s, uint32_t ip, uint16_t port);
void nst_tcp_disconnect(struct nsock *s);  /* abort (RST), state NS_CLOSED */
/* Queue bytes [OFF, TOTAL) of IOV into the send buffer, as much as fits;
 * tcp_output.  Returns the bytes queued (0 when there is no room). */
size_t nst_tcp_send(struct nsock *s, const struct iovec *iov, int iovcnt,
                    size_t off, size_t total, bool more);
/* Copy up to MAX received bytes into IOV from byte OFF of IOV; consume them
 * (tcp_recved) unless PEEK.  With PEEK, SKIP bytes of the queue are passed
 * over first.  Returns bytes copied. */
size_t nst_tcp_recv(struct nsock *s, const struct iovec *iov, int iovcnt,
                    size_t off, size_t max, bool peek, size_t skip);
int nst_tcp_shutdown_wr(struct nsock *s);
void nst_tcp_stop_listen(struct nsock *s);
void nst_tcp_release(struct nsock *s);
void nst_tcp_apply_opts(struct nsock *s);
bool nst_tcp_writable(struct nsock *s);
size_t nst_tcp_outq(struct nsock *s, bool unsent_only);
int nst_tcp_mss(struct nsock *s);
int nst_tcp_linux_state(struct nsock *s);
uint32_t nst_tcp_events(struct nsock *s);

/* Common lwIP helpers (sock_tcp.c). */
bool nst_addr_is_local(uint32_t ip);
bool nst_addr_is_loopback(uint32_t ip);
int nst_mtu(void);
uint32_t nst_local_addr(void);   /* the interface's address (network order) */

/* --- sock_udp.c (lock held) ------------------------------------------------------ */
int nst_udp_open(struct nsock *s);
int nst_udp_bind(struct nsock *s, uint32_t ip, uint16_t port);
int nst_udp_connect(struct nsock *s, uint32_t ip, uint16_t port);
void nst_udp_disconnect(struct nsock *s);
long nst_udp_send(struct nsock *s, const struct iovec *iov, int iovcnt, size_t total,
                  uint32_t ip, uint16_t port);
/* Pop (or peek) one datagram into IOV; *FULL its real length, *IP and *PORT
 * its source.  -EAGAIN when the queue is empty. */
long nst_udp_recv(struct nsock *s, const struct iovec *iov, int iovcnt, size_t max,
                  bool peek, size_t *full, uint32_t *ip, uint16_t *port);
size_t nst_udp_next_len(struct nsock *s);
void nst_udp_release(struct nsock *s);
void nst_udp_apply_opts(struct nsock *s);
uint32_t nst_udp_events(struct nsock *s);
void nst_pbuf_free(struct pbuf *p);

#endif
