/*
 * port_select.c - netstack/port.h's functions for the device chosen at run
 * time: ZP_NET_DEVICE=dpdk (the default) or vmnet (netstack/port_devices.h).
 *
 * The choice is made once, in ns_port_start, from the application's
 * environment; every later call goes through the chosen device's table
 * (one indirect call: nothing next to a frame copy).  Before a device is
 * started the data-path functions do nothing, as each device's do when it
 * is stopped.
 */
#include <stdio.h>
#include <string.h>

#include "port.h"
#include "port_devices.h"

static const struct ns_port_device *const devices[] = {
	&ns_port_device_dpdk,
	&ns_port_device_vmnet,
};

/* The device started (kept after ns_port_stop: lwIP may still free its
 * buffers, which the device then forgets). */
static const struct ns_port_device *dev;

int ns_port_start(const char *(*getenv_fn)(const char *), struct ns_port_info *info,
                  char *err, size_t errlen)
{
	const char *name = getenv_fn("ZP_NET_DEVICE");
	const struct ns_port_device *chosen = NULL;

	if (!name || !*name)
		name = "dpdk";
	for (size_t i = 0; i < sizeof(devices) / sizeof(devices[0]); i++)
		if (strcmp(devices[i]->name, name) == 0)
			chosen = devices[i];
	if (!chosen) {
		snprintf(err, errlen, "netstack: ZP_NET_DEVICE='%s' is not a device: "
		         "use ZP_NET_DEVICE=dpdk (the default) or ZP_NET_DEVICE=vmnet", name);
		return -1;
	}
	if (dev && dev != chosen) {
		snprintf(err, errlen, "netstack: device %s was already used in this process: "
		         "one device per process", dev->name);
		return -1;
	}
	if (chosen->start(getenv_fn, info, err, errlen) < 0)
		return -1;
	dev = chosen;
	return 0;
}

unsigned ns_port_rx(struct ns_frame *frames, unsigned max)
{
	return dev ? dev->rx(frames, max) : 0;
}

void ns_port_free(void *handle)
{
	if (dev)
		dev->free(handle);
}

void *ns_port_tx_alloc(void **data, unsigned *room)
{
	return dev ? dev->tx_alloc(data, room) : NULL;
}

int ns_port_tx_queue(void *handle, uint16_t len, unsigned cksum_offloads,
                     uint8_t l2_len, uint8_t l3_len)
{
	return dev ? dev->tx_queue(handle, len, cksum_offloads, l2_len, l3_len) : -1;
}

void ns_port_tx_flush(void)
{
	if (dev)
		dev->tx_flush();
}

int ns_port_link_up(void)
{
	return dev ? dev->link_up() : 0;
}

void ns_port_stats(struct ns_port_stats *stats)
{
	if (dev)
		dev->stats(stats);
	else
		memset(stats, 0, sizeof(*stats));
}

void ns_port_stop(void)
{
	if (dev)
		dev->stop();
}
