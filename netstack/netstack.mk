# netstack/ - the user-space TCP/IP stack: lwIP's core over one DPDK port.
include netstack/lwip.mk
