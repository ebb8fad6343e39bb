/*
 * stack.h - the user-space TCP/IP stack of one process: lwIP's core on one
 * network device (netstack/port.h: a DPDK port or an ELISA vmnet port).
 * No lwIP or DPDK types here, so the socket layer's files that do not touch
 * lwIP can include it.
 *
 * Locking: the stack is one instance per process.  Every function here and
 * every lwIP call must be made with ns_stack_lock held (hooklib/netstack
 * takes it around each socket call and each poll).
 */
#ifndef EXITLESS_NETSTACK_STACK_H
#define EXITLESS_NETSTACK_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Start the stack once per process:
 *   ZP_NET_DEVICE dpdk (the default) or vmnet: the device (netstack/port.h)
 *   ZP_NET_DEV    dpdk: a DPDK virtual device (--vdev), EAL arguments
 *                 from ns_stack_default_args
 *   ZP_DPDK_ARGS  dpdk: full EAL arguments instead
 *   ZP_VMNET_*, ZP_ELISA_*, ZP_NET_MAC   vmnet: netstack/vmnet_attach.h
 *   ZP_NET_ADDR   the interface's IPv4 address (required)
 *   ZP_NET_MASK   netmask (default 255.255.255.0)
 *   ZP_NET_GATE   gateway (default: none)
 * GETENV reads the application's environment.  On failure returns -1 with
 * one line in ERR that names the cause and the fix.
 */
int ns_stack_start(const char *(*getenv_fn)(const char *), char *err, size_t errlen);

/* The default EAL arguments for this machine, for the cpu the caller runs
 * on (the DPDK device uses them with ZP_NET_DEV). */
void ns_stack_default_args(char *buf, size_t len);

/*
 * One round of the data path: receive a burst and feed it to lwIP, run due
 * lwIP timers, flush queued transmissions.  Returns the number of frames
 * received (0 when idle).  Lock held.
 */
unsigned ns_stack_poll(void);

/* The device reports link up (memif: the peer is connected).  connect()
 * waits for it, bounded, so a client started together with its server does
 * not lose its first SYN to a 3 s retransmission timer. */
bool ns_stack_link_up(void);

/* Milliseconds since an arbitrary start (lwIP's sys_now). */
uint32_t ns_stack_now_ms(void);

/* The global lock.  Recursive use is not allowed. */
void ns_stack_lock(void);
void ns_stack_unlock(void);

/* Drops and errors counted so far: bad frames by layer, from lwIP's stats
 * and the device's counters (for tests and `ZP_NET_STATS=1` at exit). */
struct ns_stack_counters {
	uint64_t rx_frames, tx_frames;
	uint64_t tx_calls;    /* transmit bursts handed to the device (port.h) */
	uint64_t link_drop, arp_drop, ip_drop, ip_chkerr, ip_lenerr, ip_proterr,
	         icmp_drop, udp_drop, udp_chkerr, tcp_drop, tcp_chkerr, tcp_lenerr,
	         mem_err;
};
void ns_stack_counters(struct ns_stack_counters *c);
/* The counters as one line of name=value pairs (no newline), lock held. */
void ns_stack_format_counters(char *buf, size_t len);

/* One line describing the interface, for verbose start-up messages:
 * "net_tap mac 02:..:.. mtu 1500 10.0.0.1/24 offloads rx-ip,rx-l4,tx-ip,tx-l4,tx-multiseg". */
void ns_stack_describe(char *buf, size_t len);

/* Stop the port at exit (the process that started it only). */
void ns_stack_stop(void);

#endif
