/*
 * port_mem.h - the in-memory port.h of the fuzz harness (port_mem.c).
 */
#ifndef EXITLESS_NETSTACK_FUZZ_PORT_MEM_H
#define EXITLESS_NETSTACK_FUZZ_PORT_MEM_H

#include <stddef.h>
#include <stdint.h>

/* What ns_port_start reports as offloads (NS_PORT_*); set before start. */
void port_mem_set_offloads(unsigned offloads);

/* Called for every frame the stack transmits, before it is freed. */
typedef void (*port_mem_tx_fn)(void *arg, const uint8_t *frame, size_t len);
void port_mem_set_tx(port_mem_tx_fn fn, void *arg);

/* The port's MAC address. */
const uint8_t *port_mem_mac(void);

/* Queue a copy of DATA as a received frame with device verdict FLAGS
 * (NS_FRAME_*).  Returns -1 if the queue is full. */
int port_mem_inject(const void *data, size_t len, uint16_t flags);

#endif
