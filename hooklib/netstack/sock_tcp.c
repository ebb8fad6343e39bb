/*
 * sock_tcp.c - TCP sockets on lwIP's raw API: the pcb callbacks, the
 * receive queue, queuing sends, closing, readiness.  Every function runs
 * with the stack lock held.  The callbacks run inside ns_stack_poll: they
 * only queue, mark state and bump gen; the system-call side
 * (sock_calls.c, sock_io.c) does the rest.
 *
 * Lifetime rules kept here:
 *  - lwIP's err callback means the pcb is already freed: forget it.
 *  - a pcb whose callbacks are attached is only ever freed by lwIP after an
 *    err callback, except one path: after both FINs it sits in TIME_WAIT
 *    and is freed silently; so the moment that can happen (our FIN was
 *    sent and the peer's FIN arrives) we detach it;
 *  - on the last close the callbacks are detached before tcp_close /
 *    tcp_abort, so lwIP never calls back into a freed nsock.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"

#include "../../netstack/stack.h"
#include "sock.h"

#define NST_SND_BUF(pcb) ((size_t)(pcb)->snd_buf)

/* --- common lwIP helpers ------------------------------------------------------ */

bool nst_addr_is_loopback(uint32_t ip)
{
	return (ntohl(ip) >> 24) == 127;
}

bool nst_addr_is_local(uint32_t ip)
{
	if (ip == 0 || nst_addr_is_loopback(ip))
		return true;
	struct netif *n = netif_default;
	return n && ip4_addr_get_u32(netif_ip4_addr(n)) == ip;
}

uint32_t nst_local_addr(void)
{
	struct netif *n = netif_default;
	return n ? ip4_addr_get_u32(netif_ip4_addr(n)) : 0;
}

int nst_mtu(void)
{
	struct netif *n = netif_default;
	return n && n->mtu ? n->mtu : 1500;
}

void nst_pbuf_free(struct pbuf *p)
{
	pbuf_free(p);
}

/* --- receive queue --------------------------------------------------------------- */

static void rxq_push(struct nsock *s, struct pbuf *p)
{
	size_t n = p->tot_len;
	if (s->rx_tail)
		s->rx_tail->next = p;
	else
		s->rx_head = p;
	while (p->next)
		p = p->next;
	s->rx_tail = p;
	s->rx_bytes += n;
}

/* Drop the head pbuf alone (the queue links pbufs raw). */
static void rxq_pop_head(struct nsock *s)
{
	struct pbuf *q = s->rx_head;
	s->rx_head = q->next;
	if (!s->rx_head)
		s->rx_tail = NULL;
	q->next = NULL;
	pbuf_free(q);
	s->rx_off = 0;
}

static void rxq_drop_all(struct nsock *s)
{
	while (s->rx_head)
		rxq_pop_head(s);
	s->rx_bytes = 0;
}

static void tcp_recved_big(struct tcp_pcb *pcb, size_t n)
{
	while (n) {
		u16_t c = n > 0xffff ? 0xffff : (u16_t)n;
		tcp_recved(pcb, c);
		n -= c;
	}
}

size_t nst_tcp_recv(struct nsock *s, const struct iovec *iov, int iovcnt,
                    size_t off, size_t max, bool peek, size_t skip)
{
	size_t copied = 0;
	int vi = 0;
	size_t vo = off;
	/* position in the iovec */
	while (vi < iovcnt && vo >= iov[vi].iov_len) {
		vo -= iov[vi].iov_len;
		vi++;
	}
	struct pbuf *q = s->rx_head;
	size_t qo = s->rx_off;
	/* With peek, pass over SKIP bytes first. */
	while (q && skip) {
		size_t avail = q->len - qo;
		if (skip < avail) {
			qo += skip;
			skip = 0;
		} else {
			skip -= avail;
			q = q->next;
			qo = 0;
		}
	}
	while (q && copied < max && vi < iovcnt) {
		size_t avail = q->len - qo;
		if (avail == 0) {
			struct pbuf *nx = q->next;
			if (!peek && q == s->rx_head)
				rxq_pop_head(s);
			q = nx;
			qo = 0;
			continue;
		}
		size_t room = iov[vi].iov_len - vo;
		size_t n = avail < room ? avail : room;
		if (n > max - copied)
			n = max - copied;
		memcpy((char *)iov[vi].iov_base + vo, (const char *)q->payload + qo, n);
		copied += n;
		qo += n;
		vo += n;
		if (vo == iov[vi].iov_len) {
			vi++;
			vo = 0;
			while (vi < iovcnt && iov[vi].iov_len == 0)
				vi++;
		}
		if (!peek) {
			s->rx_off = qo;
			if (qo == q->len) {
				struct pbuf *nx = q->next;
				rxq_pop_head(s);
				q = nx;
				qo = 0;
			}
		} else if (qo == q->len) {
			q = q->next;
			qo = 0;
		}
	}
	if (!peek && copied) {
		s->rx_bytes -= copied;
		if (s->pcb.tcp)
			tcp_recved_big(s->pcb.tcp, copied);
	}
	return copied;
}

/* --- callbacks ------------------------------------------------------------------------ */

static void detach(struct tcp_pcb *pcb)
{
	tcp_arg(pcb, NULL);
	if (pcb->state == LISTEN) {
		tcp_accept(pcb, NULL);
		return;
	}
	tcp_recv(pcb, NULL);
	tcp_sent(pcb, NULL);
	tcp_err(pcb, NULL);
	tcp_poll(pcb, NULL, 0);
}

static err_t cb_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
	struct nsock *s = arg;
	(void)err;
	if (!s) {
		if (p) {
			tcp_recved(pcb, p->tot_len);
			pbuf_free(p);
		}
		return ERR_OK;
	}
	if (p == NULL) {
		s->rx_fin = true;
		s->gen++;
		if (s->shut_wr) {
			/* Both FINs: lwIP may now free the pcb silently
			 * (TIME_WAIT); let go of it. */
			detach(pcb);
			s->pcb.tcp = NULL;
			s->state = NS_CLOSED;
		}
		return ERR_OK;
	}
	if (s->shut_rd) {
		/* Read side shut: discard, keep the window open. */
		tcp_recved(pcb, p->tot_len);
		pbuf_free(p);
		return ERR_OK;
	}
	rxq_push(s, p);
	s->gen++;
	return ERR_OK;
}

static err_t cb_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
	struct nsock *s = arg;
	if (!s)
		return ERR_OK;
	(void)len;
	(void)pcb;
	/* Newly writable for a writer that found the buffer full. */
	if (s->wr_blocked && nst_tcp_writable(s)) {
		s->wr_blocked = false;
		s->gen++;
	}
	return ERR_OK;
}

static void cb_err(void *arg, err_t err)
{
	struct nsock *s = arg;
	if (!s)
		return;
	s->pcb.tcp = NULL;   /* already freed by lwIP */
	if (err != ERR_CLSD) {
		int e;
		if (s->state == NS_CONNECTING)
			e = err == ERR_RST ? ECONNREFUSED : ETIMEDOUT;
		else if (err == ERR_RST)
			e = ECONNRESET;
		else if (err == ERR_ABRT)
			e = ETIMEDOUT;
		else
			e = ECONNABORTED;
		s->err = e;
	}
	s->state = NS_CLOSED;
	s->gen++;
}

static err_t cb_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
	struct nsock *s = arg;
	(void)err;
	if (!s)
		return ERR_OK;
	s->state = NS_CONNECTED;
	s->established = true;
	s->local_ip = ip4_addr_get_u32(ip_2_ip4(&pcb->local_ip));
	s->local_port = pcb->local_port;
	s->gen++;
	return ERR_OK;
}

static void attach(struct nsock *s, struct tcp_pcb *pcb)
{
	tcp_arg(pcb, s);
	tcp_recv(pcb, cb_recv);
	tcp_sent(pcb, cb_sent);
	tcp_err(pcb, cb_err);
}

static err_t cb_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
	struct nsock *ls = arg;
	if (!ls || err != ERR_OK || !newpcb || ls->state != NS_LISTEN)
		return ERR_VAL;
	struct nsock *c = nsock_new(SOCK_STREAM);
	if (!c)
		return ERR_MEM;
	/* Linux: an accepted socket inherits the listener's options. */
	c->reuseaddr = ls->reuseaddr;
	c->reuseport = ls->reuseport;
	c->keepalive = ls->keepalive;
	c->keepidle_s = ls->keepidle_s;
	c->keepintvl_s = ls->keepintvl_s;
	c->keepcnt = ls->keepcnt;
	c->nodelay = ls->nodelay;
	c->linger_on = ls->linger_on;
	c->linger_s = ls->linger_s;
	c->sndbuf = ls->sndbuf;
	c->rcvbuf = ls->rcvbuf;
	c->tos = ls->tos;
	c->ttl = ls->ttl;
	c->priority = ls->priority;
	c->rcvtimeo_us = ls->rcvtimeo_us;
	c->sndtimeo_us = ls->sndtimeo_us;
	c->pcb.tcp = newpcb;
	c->state = NS_CONNECTED;
	c->established = true;
	c->bound = true;
	c->has_peer = true;
	c->local_ip = ip4_addr_get_u32(ip_2_ip4(&newpcb->local_ip));
	c->local_port = newpcb->local_port;
	c->peer_ip = ip4_addr_get_u32(ip_2_ip4(&newpcb->remote_ip));
	c->peer_port = newpcb->remote_port;
	attach(c, newpcb);
	nst_tcp_apply_opts(c);
	/* Counts against the backlog until accept() takes it. */
	tcp_backlog_delayed(newpcb);
	if (ls->acc_tail)
		ls->acc_tail->acc_next = c;
	else
		ls->acc_head = c;
	ls->acc_tail = c;
	ls->acc_count++;
	ls->gen++;
	return ERR_OK;
}

/* --- operations ----------------------------------------------------------------------- */

void nsock_free(struct nsock *s)
{
	rxq_drop_all(s);
	struct ns_dgram *d;
	while ((d = s->dg_head) != NULL) {
		s->dg_head = d->next;
		pbuf_free(d->p);
		free(d);
	}
	s->dg_tail = NULL;
	free(s);
}

int nst_tcp_open(struct nsock *s)
{
	if (!s->sndbuf)
		s->sndbuf = TCP_SND_BUF;
	if (!s->rcvbuf)
		s->rcvbuf = TCP_WND;
	struct tcp_pcb *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
	if (!pcb)
		return -ENOBUFS;
	s->pcb.tcp = pcb;
	attach(s, pcb);
	nst_tcp_apply_opts(s);
	return 0;
}

static int map_err(err_t e)
{
	switch (e) {
	case ERR_OK: return 0;
	case ERR_MEM: return -ENOBUFS;
	case ERR_BUF: return -ENOBUFS;
	case ERR_TIMEOUT: return -ETIMEDOUT;
	case ERR_RTE: return -ENETUNREACH;
	case ERR_INPROGRESS: return -EINPROGRESS;
	case ERR_VAL: return -EINVAL;
	case ERR_WOULDBLOCK: return -EAGAIN;
	case ERR_USE: return -EADDRINUSE;
	case ERR_ALREADY: return -EALREADY;
	case ERR_ISCONN: return -EISCONN;
	case ERR_CONN: return -ENOTCONN;
	case ERR_IF: return -EIO;
	case ERR_ABRT: return -ECONNABORTED;
	case ERR_RST: return -ECONNRESET;
	case ERR_CLSD: return -ENOTCONN;
	case ERR_ARG: return -EINVAL;
	default: return -EIO;
	}
}

int nst_tcp_bind(struct nsock *s, uint32_t ip, uint16_t port)
{
	if (!s->pcb.tcp)
		return -EINVAL;
	ip_addr_t a;
	ip_addr_set_ip4_u32_val(a, ip);
	err_t e = tcp_bind(s->pcb.tcp, &a, port);
	if (e == ERR_BUF)
		return -EADDRINUSE;   /* no ephemeral port left */
	if (e != ERR_OK)
		return map_err(e);
	s->bound = true;
	s->local_ip = ip;
	s->local_port = s->pcb.tcp->local_port;
	return 0;
}

int nst_tcp_listen(struct nsock *s, int backlog)
{
	/* lwIP drops a SYN when accepts_pending >= backlog; Linux accepts
	 * backlog + 1 connections; lwIP's counter is 8 bits. */
	int b = backlog + 1;
	if (b < 1)
		b = 1;
	if (b > 255)
		b = 255;
	s->backlog = backlog;
	if (s->state == NS_LISTEN) {
		struct tcp_pcb_listen *l = (struct tcp_pcb_listen *)s->pcb.tcp;
		l->backlog = (u8_t)b;
		return 0;
	}
	if (!s->pcb.tcp)
		return -EINVAL;
	if (!s->bound) {
		int r = nst_tcp_bind(s, 0, 0);
		if (r)
			return r;
	}
	err_t e = ERR_OK;
	struct tcp_pcb *l = tcp_listen_with_backlog_and_err(s->pcb.tcp, (u8_t)b, &e);
	if (!l)
		return map_err(e == ERR_OK ? ERR_MEM : e);
	/* The old pcb is freed; the listen pcb carries callback_arg. */
	s->pcb.tcp = l;
	tcp_arg(l, s);
	tcp_accept(l, cb_accept);
	s->state = NS_LISTEN;
	s->gen++;
	return 0;
}

struct nsock *nst_tcp_accept_pop(struct nsock *ls)
{
	struct nsock *c = ls->acc_head;
	if (!c)
		return NULL;
	ls->acc_head = c->acc_next;
	if (!ls->acc_head)
		ls->acc_tail = NULL;
	c->acc_next = NULL;
	ls->acc_count--;
	if (c->pcb.tcp)
		tcp_backlog_accepted(c->pcb.tcp);
	return c;
}

int nst_tcp_connect(struct nsock *s, uint32_t ip, uint16_t port)
{
	if (!s->pcb.tcp) {
		/* A socket whose earlier connection is over can connect again. */
		int r = nst_tcp_open(s);
		if (r)
			return r;
		s->bound = false;
		s->rx_fin = s->shut_rd = s->shut_wr = false;
		rxq_drop_all(s);
	}
	ip_addr_t a;
	ip_addr_set_ip4_u32_val(a, ip);
	tcp_connected_fn cb = cb_connected;
	err_t e = tcp_connect(s->pcb.tcp, &a, port, cb);
	if (e == ERR_USE)
		return -EADDRNOTAVAIL;
	if (e != ERR_OK)
		return map_err(e);
	s->bound = true;
	s->has_peer = true;
	s->peer_ip = ip;
	s->peer_port = port;
	s->local_ip = ip4_addr_get_u32(ip_2_ip4(&s->pcb.tcp->local_ip));
	s->local_port = s->pcb.tcp->local_port;
	s->state = NS_CONNECTING;
	s->gen++;
	return 0;
}

void nst_tcp_disconnect(struct nsock *s)
{
	if (s->pcb.tcp) {
		struct tcp_pcb *pcb = s->pcb.tcp;
		detach(pcb);
		s->pcb.tcp = NULL;
		tcp_abort(pcb);
	}
	rxq_drop_all(s);
	s->state = NS_CLOSED;
	s->gen++;
}

size_t nst_tcp_send(struct nsock *s, const struct iovec *iov, int iovcnt,
                    size_t off, size_t total, bool more)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	size_t queued = 0;
	size_t pos = 0;
	if (!pcb)
		return 0;
	for (int i = 0; i < iovcnt && off + queued < total; i++) {
		size_t len = iov[i].iov_len;
		if (pos + len <= off + queued) {
			pos += len;
			continue;
		}
		size_t start = off + queued - pos;
		const char *base = (const char *)iov[i].iov_base;
		while (start < len && off + queued < total) {
			size_t n = len - start;
			if (n > total - off - queued)
				n = total - off - queued;
			size_t room = NST_SND_BUF(pcb);
			if (room == 0 || pcb->snd_queuelen >= TCP_SND_QUEUELEN - 1)
				goto out;
			if (n > room)
				n = room;
			if (n > 0xffff)
				n = 0xffff;
			bool last = (off + queued + n == total);
			u8_t fl = TCP_WRITE_FLAG_COPY | ((!last || more) ? TCP_WRITE_FLAG_MORE : 0);
			err_t e = tcp_write(pcb, base + start, (u16_t)n, fl);
			if (e == ERR_MEM && n > TCP_MSS) {
				n = TCP_MSS;
				last = (off + queued + n == total);
				fl = TCP_WRITE_FLAG_COPY | ((!last || more) ? TCP_WRITE_FLAG_MORE : 0);
				e = tcp_write(pcb, base + start, (u16_t)n, fl);
			}
			if (e != ERR_OK)
				goto out;
			queued += n;
			start += n;
		}
		pos += len;
	}
out:
	if (off + queued < total)
		s->wr_blocked = true;
	if (queued)
		tcp_output(pcb);
	return queued;
}

int nst_tcp_shutdown_wr(struct nsock *s)
{
	if (!s->pcb.tcp)
		return 0;
	err_t e = tcp_shutdown(s->pcb.tcp, 0, 1);
	if (e == ERR_OK) {
		tcp_output(s->pcb.tcp);
		if (s->rx_fin) {
			/* LAST_ACK: lwIP reports the end through cb_err(ERR_CLSD). */
		}
	}
	return e == ERR_OK ? 0 : map_err(e);
}

static void abort_child(struct nsock *c)
{
	if (c->pcb.tcp) {
		struct tcp_pcb *pcb = c->pcb.tcp;
		detach(pcb);
		c->pcb.tcp = NULL;
		tcp_abort(pcb);
	}
	c->dead = true;
	nsock_free(c);
}

void nst_tcp_stop_listen(struct nsock *s)
{
	struct nsock *c;
	while ((c = s->acc_head) != NULL) {
		s->acc_head = c->acc_next;
		abort_child(c);
	}
	s->acc_tail = NULL;
	s->acc_count = 0;
	if (s->pcb.tcp) {
		struct tcp_pcb *l = s->pcb.tcp;
		detach(l);
		s->pcb.tcp = NULL;
		tcp_close(l);   /* a listen pcb is freed at once */
	}
	s->state = NS_CLOSED;
	s->gen++;
}

void nst_tcp_release(struct nsock *s)
{
	if (s->state == NS_LISTEN) {
		nst_tcp_stop_listen(s);
		return;
	}
	struct tcp_pcb *pcb = s->pcb.tcp;
	bool unread = s->rx_bytes > 0;
	rxq_drop_all(s);
	if (!pcb)
		return;
	detach(pcb);
	s->pcb.tcp = NULL;
	if ((s->linger_on && s->linger_s == 0) || unread) {
		/* SO_LINGER 0, or data the application never read: RST, as
		 * Linux does. */
		tcp_abort(pcb);
		return;
	}
	if (tcp_close(pcb) != ERR_OK)
		tcp_abort(pcb);  /* no memory for the FIN */
}

void nst_tcp_apply_opts(struct nsock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	if (!pcb)
		return;
	if (s->reuseaddr)
		ip_set_option(pcb, SOF_REUSEADDR);
	else
		ip_reset_option(pcb, SOF_REUSEADDR);
	if (s->state == NS_LISTEN)
		return;  /* a listen pcb has no more than that */
	if (s->keepalive)
		ip_set_option(pcb, SOF_KEEPALIVE);
	else
		ip_reset_option(pcb, SOF_KEEPALIVE);
	pcb->keep_idle = (u32_t)s->keepidle_s * 1000;
	pcb->keep_intvl = (u32_t)s->keepintvl_s * 1000;
	pcb->keep_cnt = (u32_t)s->keepcnt;
	if (s->nodelay)
		tcp_nagle_disable(pcb);
	else
		tcp_nagle_enable(pcb);
	pcb->tos = (u8_t)s->tos;
	pcb->ttl = (u8_t)s->ttl;
}

bool nst_tcp_writable(struct nsock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	return pcb && NST_SND_BUF(pcb) >= TCP_SNDLOWAT &&
	       pcb->snd_queuelen < TCP_SNDQUEUELOWAT;
}

size_t nst_tcp_outq(struct nsock *s, bool unsent_only)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	if (!pcb || s->state == NS_LISTEN)
		return 0;
	size_t n = 0;
	for (struct tcp_seg *g = pcb->unsent; g; g = g->next)
		n += g->len;
	if (!unsent_only)
		for (struct tcp_seg *g = pcb->unacked; g; g = g->next)
			n += g->len;
	return n;
}

int nst_tcp_mss(struct nsock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	if (!pcb || s->state == NS_LISTEN)
		return 536;
	return tcp_mss(pcb);
}

/* Linux's TCP_* state numbers (for TCP_INFO). */
int nst_tcp_linux_state(struct nsock *s)
{
	struct tcp_pcb *pcb = s->pcb.tcp;
	if (s->state == NS_LISTEN)
		return 10;
	if (!pcb)
		return 7;  /* TCP_CLOSE */
	switch (pcb->state) {
	case SYN_SENT: return 2;
	case SYN_RCVD: return 3;
	case ESTABLISHED: return 1;
	case FIN_WAIT_1: return 4;
	case FIN_WAIT_2: return 5;
	case TIME_WAIT: return 6;
	case CLOSE_WAIT: return 8;
	case LAST_ACK: return 9;
	case CLOSING: return 11;
	default: return 7;
	}
}

/* As Linux's tcp_poll. */
uint32_t nst_tcp_events(struct nsock *s)
{
	uint32_t m = 0;
	if (s->err)
		m |= EPOLLERR;
	if (s->state == NS_LISTEN)
		return m | (s->acc_head ? EPOLLIN : 0);
	bool closed = s->state == NS_CLOSED;
	bool rcv_shut = s->shut_rd || s->rx_fin || closed;
	bool snd_shut = s->shut_wr || closed;
	if ((rcv_shut && snd_shut) || s->state == NS_NEW)
		m |= EPOLLHUP;
	if (rcv_shut)
		m |= EPOLLIN | EPOLLRDHUP;
	if (s->state == NS_CONNECTING)
		return m;
	if (s->rx_bytes)
		m |= EPOLLIN;
	if (snd_shut || s->state == NS_NEW || nst_tcp_writable(s))
		m |= EPOLLOUT;
	return m;
}

bool ns_sys_tcp_closing(void)
{
	return tcp_active_pcbs != NULL;
}
