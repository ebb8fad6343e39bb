/*
 * port_mem.c - netstack/port.h in memory, for the fuzz harness only.
 *
 * Every received frame is a malloc'd copy of exactly its length (plus
 * port.h's NS_FRAME_TAILROOM), so the sanitizers catch any read past that,
 * a frame freed twice or used after ns_port_free.  Transmitted frames are shown to a callback (the
 * harness follows TCP sequence numbers with it) and freed.
 */
#include <stdlib.h>
#include <string.h>

#include "port.h"
#include "port_mem.h"

#define RXQ_MAX 256

static struct ns_frame rxq[RXQ_MAX];
static unsigned rxq_head, rxq_count;
static unsigned mem_offloads;
static port_mem_tx_fn tx_cb;
static void *tx_cb_arg;
static struct ns_port_stats stats;
static int started;

static const uint8_t port_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };

void port_mem_set_offloads(unsigned offloads)
{
	mem_offloads = offloads;
}

void port_mem_set_tx(port_mem_tx_fn fn, void *arg)
{
	tx_cb = fn;
	tx_cb_arg = arg;
}

const uint8_t *port_mem_mac(void)
{
	return port_mac;
}

int port_mem_inject(const void *data, size_t len, uint16_t flags)
{
	if (rxq_count == RXQ_MAX || len > 0xffff)
		return -1;
	/* Exactly the frame plus the tail port.h promises, so the sanitizer
	 * catches any read beyond that. */
	uint8_t *copy = malloc(len + NS_FRAME_TAILROOM);
	if (!copy)
		return -1;
	memcpy(copy, data, len);
	memset(copy + len, 0, NS_FRAME_TAILROOM);
	struct ns_frame *f = &rxq[(rxq_head + rxq_count++) % RXQ_MAX];
	f->handle = copy;
	f->data = copy;
	f->len = (uint16_t)len;
	f->flags = flags;
	return 0;
}

int ns_port_start(const char *(*getenv_fn)(const char *), struct ns_port_info *info,
                  char *err, size_t errlen)
{
	(void)getenv_fn;
	(void)err;
	(void)errlen;
	memset(info, 0, sizeof(*info));
	memcpy(info->mac, port_mac, 6);
	info->mtu = 1500;
	info->offloads = mem_offloads;
	strcpy(info->driver, "port_mem");
	started = 1;
	return 0;
}

unsigned ns_port_rx(struct ns_frame *frames, unsigned max)
{
	unsigned n = 0;

	while (n < max && rxq_count) {
		frames[n++] = rxq[rxq_head];
		rxq_head = (rxq_head + 1) % RXQ_MAX;
		rxq_count--;
	}
	stats.ipackets += n;
	return n;
}

void ns_port_free(void *handle)
{
	free(handle);
}

void *ns_port_tx_alloc(void **data, unsigned *room)
{
	void *b = malloc(2048);

	*data = b;
	*room = b ? 2048 : 0;
	return b;
}

int ns_port_tx_queue(void *handle, uint16_t len, unsigned cksum_offloads,
                     uint8_t l2_len, uint8_t l3_len)
{
	(void)cksum_offloads;
	(void)l2_len;
	(void)l3_len;
	stats.opackets++;
	if (tx_cb)
		tx_cb(tx_cb_arg, handle, len);
	free(handle);
	return 0;
}

void ns_port_tx_flush(void)
{
}

int ns_port_link_up(void)
{
	return started;
}

void ns_port_stats(struct ns_port_stats *s)
{
	*s = stats;
}

void ns_port_stop(void)
{
	/* Frames never handed to the stack. */
	while (rxq_count) {
		free(rxq[rxq_head].handle);
		rxq_head = (rxq_head + 1) % RXQ_MAX;
		rxq_count--;
	}
	started = 0;
}
