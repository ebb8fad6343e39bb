/*
 * netif_port.h - lwIP's netif over netstack/port.h (netstack/netif_port.c).
 * Internal to netstack: stack.c and the fuzz harness use it.  lwIP types
 * only, no DPDK.
 */
#ifndef EXITLESS_NETSTACK_NETIF_PORT_H
#define EXITLESS_NETSTACK_NETIF_PORT_H

#include "lwip/netif.h"
#include "port.h"

/* Remember what the port reported (MAC, MTU, offloads); call before
 * netif_add(..., ns_netif_init, ethernet_input). */
void ns_netif_set_port(const struct ns_port_info *info);

/* netif_add's init callback: MAC, MTU, flags, output functions and the
 * checksum switches that follow the port's offloads. */
err_t ns_netif_init(struct netif *netif);

/* Hand one received frame to lwIP without copying it.  The frame belongs
 * to lwIP afterwards (freed through ns_port_free when lwIP lets go of it). */
void ns_netif_input(struct netif *netif, const struct ns_frame *frame);

/* Receive one burst from the port and feed it to lwIP; returns frames. */
unsigned ns_netif_poll_rx(struct netif *netif);

#endif
