/*
 * sock_udp.c - UDP sockets on lwIP's raw API.  Stack lock held throughout.
 *
 * Received datagrams wait in a per-socket queue with their source address,
 * up to SO_RCVBUF bytes of payload (beyond that they are dropped, as Linux
 * drops on a full receive buffer).  Sending copies the datagram into one
 * PBUF_RAM and hands it to udp_sendto; lwIP never fragments (IP_FRAG 0), so
 * a datagram that does not fit the MTU fails with EMSGSIZE.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "lwip/ip4_addr.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"

#include "sock.h"

static void cb_udp_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p,
                        const ip_addr_t *addr, u16_t port)
{
	struct nsock *s = arg;
	(void)pcb;
	if (!s || s->shut_rd || s->dg_bytes + p->tot_len > (size_t)s->rcvbuf) {
		pbuf_free(p);
		return;
	}
	struct ns_dgram *d = malloc(sizeof *d);
	if (!d) {
		pbuf_free(p);
		return;
	}
	d->next = NULL;
	d->p = p;
	d->ip = ip4_addr_get_u32(ip_2_ip4(addr));
	d->port = port;
	if (s->dg_tail)
		s->dg_tail->next = d;
	else
		s->dg_head = d;
	s->dg_tail = d;
	s->dg_bytes += p->tot_len;
	s->gen++;
}

int nst_udp_open(struct nsock *s)
{
	if (!s->sndbuf)
		s->sndbuf = 212992;   /* Linux's default wmem/rmem */
	if (!s->rcvbuf)
		s->rcvbuf = 212992;
	struct udp_pcb *pcb = udp_new_ip_type(IPADDR_TYPE_V4);
	if (!pcb)
		return -ENOBUFS;
	s->pcb.udp = pcb;
	udp_recv(pcb, cb_udp_recv, s);
	nst_udp_apply_opts(s);
	return 0;
}

int nst_udp_bind(struct nsock *s, uint32_t ip, uint16_t port)
{
	ip_addr_t a;
	ip_addr_set_ip4_u32_val(a, ip);
	err_t e = udp_bind(s->pcb.udp, &a, port);
	if (e == ERR_USE)
		return -EADDRINUSE;
	if (e != ERR_OK)
		return -EINVAL;
	s->bound = true;
	s->local_ip = ip;
	s->local_port = s->pcb.udp->local_port;
	return 0;
}

int nst_udp_connect(struct nsock *s, uint32_t ip, uint16_t port)
{
	ip_addr_t a;
	ip_addr_set_ip4_u32_val(a, ip);
	err_t e = udp_connect(s->pcb.udp, &a, port);  /* binds if needed */
	if (e != ERR_OK)
		return e == ERR_USE ? -EADDRINUSE : -EINVAL;
	s->bound = true;
	s->local_port = s->pcb.udp->local_port;
	if (!s->local_ip)
		s->local_ip = nst_local_addr();
	s->has_peer = true;
	s->peer_ip = ip;
	s->peer_port = port;
	s->gen++;
	return 0;
}

void nst_udp_disconnect(struct nsock *s)
{
	udp_disconnect(s->pcb.udp);
	s->has_peer = false;
	s->peer_ip = 0;
	s->peer_port = 0;
}

long nst_udp_send(struct nsock *s, const struct iovec *iov, int iovcnt, size_t total,
                  uint32_t ip, uint16_t port)
{
	struct udp_pcb *pcb = s->pcb.udp;
	if (total > 65507 || total + 28 > (size_t)nst_mtu())
		return -EMSGSIZE;
	struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)total, PBUF_RAM);
	if (!p)
		return -ENOBUFS;
	size_t done = 0;
	for (int i = 0; i < iovcnt && done < total; i++) {
		size_t n = iov[i].iov_len;
		if (n > total - done)
			n = total - done;
		memcpy((char *)p->payload + done, iov[i].iov_base, n);
		done += n;
	}
	ip_addr_t a;
	ip_addr_set_ip4_u32_val(a, ip);
	err_t e = udp_sendto(pcb, p, &a, port);
	pbuf_free(p);
	if (!s->bound && pcb->local_port) {
		s->bound = true;
		s->local_port = pcb->local_port;
	}
	switch (e) {
	case ERR_OK: return (long)total;
	case ERR_RTE: return -ENETUNREACH;
	case ERR_MEM: case ERR_BUF: return -ENOBUFS;
	case ERR_USE: return -EADDRINUSE;
	case ERR_VAL: return -EINVAL;
	default: return -EIO;
	}
}

long nst_udp_recv(struct nsock *s, const struct iovec *iov, int iovcnt, size_t max,
                  bool peek, size_t *full, uint32_t *ip, uint16_t *port)
{
	struct ns_dgram *d = s->dg_head;
	if (!d)
		return -EAGAIN;
	size_t len = d->p->tot_len;
	size_t copied = 0;
	for (int i = 0; i < iovcnt && copied < len && copied < max; i++) {
		size_t n = iov[i].iov_len;
		if (n > len - copied)
			n = len - copied;
		if (n > max - copied)
			n = max - copied;
		pbuf_copy_partial(d->p, iov[i].iov_base, (u16_t)n, (u16_t)copied);
		copied += n;
	}
	*full = len;
	*ip = d->ip;
	*port = d->port;
	if (!peek) {
		s->dg_head = d->next;
		if (!s->dg_head)
			s->dg_tail = NULL;
		s->dg_bytes -= len;
		pbuf_free(d->p);
		free(d);
	}
	return (long)copied;
}

size_t nst_udp_next_len(struct nsock *s)
{
	return s->dg_head ? s->dg_head->p->tot_len : 0;
}

void nst_udp_release(struct nsock *s)
{
	struct udp_pcb *pcb = s->pcb.udp;
	if (pcb) {
		udp_recv(pcb, NULL, NULL);
		udp_remove(pcb);
		s->pcb.udp = NULL;
	}
}

void nst_udp_apply_opts(struct nsock *s)
{
	struct udp_pcb *pcb = s->pcb.udp;
	if (!pcb)
		return;
	if (s->reuseaddr)
		ip_set_option(pcb, SOF_REUSEADDR);
	else
		ip_reset_option(pcb, SOF_REUSEADDR);
	pcb->tos = (u8_t)s->tos;
	pcb->ttl = (u8_t)s->ttl;
}

/* As Linux's udp_poll / datagram_poll. */
uint32_t nst_udp_events(struct nsock *s)
{
	uint32_t m = EPOLLOUT;
	if (s->err)
		m |= EPOLLERR;
	if (s->shut_rd)
		m |= EPOLLIN | EPOLLRDHUP;
	if (s->shut_rd && s->shut_wr)
		m |= EPOLLHUP;
	if (s->dg_head)
		m |= EPOLLIN;
	return m;
}
