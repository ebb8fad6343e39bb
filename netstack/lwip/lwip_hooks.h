/*
 * lwip_hooks.h - the lwIP hooks exitless defines (LWIP_HOOK_FILENAME).
 * lwIP includes this file after its own headers, so its types are known.
 */
#ifndef EXITLESS_LWIP_HOOKS_H
#define EXITLESS_LWIP_HOOKS_H

#include "lwip/ip_addr.h"

/*
 * Initial sequence numbers as RFC 6528 asks: a clock plus a keyed hash of
 * the connection's addresses and ports.  lwIP 2.1.3's own ISN is a global
 * counter advanced by the timer tick, which a peer can predict and use to
 * inject data into another connection.  netstack/tcp_isn.c.
 */
u32_t ns_tcp_isn(const ip_addr_t *local_ip, u16_t local_port,
                 const ip_addr_t *remote_ip, u16_t remote_port);
#define LWIP_HOOK_TCP_ISN(lip, lport, rip, rport) ns_tcp_isn((lip), (lport), (rip), (rport))

#endif
