/*
 * port_devices.h - the devices netstack/port_select.c chooses from at run
 * time (ZP_NET_DEVICE).  Each device implements netstack/port.h's
 * functions as one table; port_select.c forwards ns_port_* to the table of
 * the device that was started.  A device's functions are only ever called
 * after its start succeeded, except free/stats/stop, which must be safe on
 * a stopped device.
 */
#ifndef EXITLESS_NETSTACK_PORT_DEVICES_H
#define EXITLESS_NETSTACK_PORT_DEVICES_H

#include "port.h"

struct ns_port_device {
	const char *name;     /* the value of ZP_NET_DEVICE that selects it */
	int (*start)(const char *(*getenv_fn)(const char *), struct ns_port_info *info,
	             char *err, size_t errlen);
	unsigned (*rx)(struct ns_frame *frames, unsigned max);
	void (*free)(void *handle);
	void *(*tx_alloc)(void **data, unsigned *room);
	int (*tx_queue)(void *handle, uint16_t len, unsigned cksum_offloads,
	                uint8_t l2_len, uint8_t l3_len);
	void (*tx_flush)(void);
	int (*link_up)(void);
	void (*stats)(struct ns_port_stats *stats);
	void (*stop)(void);
};

/* netstack/dpdk_port.c: DPDK 22.11, port 0 of whatever ZP_NET_DEV /
 * ZP_DPDK_ARGS create (memif, tap, af_packet ...). */
extern const struct ns_port_device ns_port_device_dpdk;

/* netstack/vmnet_port.c: one port of an ELISA vmnet switch (elisa/vmnet),
 * transmitting through the sub context (elisa_call). */
extern const struct ns_port_device ns_port_device_vmnet;

#endif
