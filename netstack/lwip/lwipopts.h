/*
 * lwipopts.h - exitless's configuration of lwIP's core (lwIP 2.1.3, Debian's
 * source package).  Every option that differs from lwIP's opt.h default is
 * here, with the reason.
 *
 * The shape: one stack instance per process, driven by the socket layer's
 * polling loop (hooklib/netstack) under one lock, with no lwIP threads.
 */
#ifndef EXITLESS_LWIPOPTS_H
#define EXITLESS_LWIPOPTS_H

/* --- the execution model ------------------------------------------------- */
/* No OS layer: no tcpip thread, no mailboxes; we call the raw API and
 * sys_check_timeouts() ourselves from the poll loop. */
#define NO_SYS                      1
#define SYS_LIGHTWEIGHT_PROT        0   /* the socket layer's lock guards lwIP */
#define LWIP_SOCKET                 0   /* our own socket layer, on the raw API */
#define LWIP_NETCONN                0
#define LWIP_CALLBACK_API           1
#define LWIP_TIMERS                 1

/* --- protocols ------------------------------------------------------------ */
#define LWIP_IPV4                   1
#define LWIP_IPV6                   0   /* AF_INET6 sockets fail with EAFNOSUPPORT */
#define LWIP_ARP                    1
#define LWIP_ETHERNET               1
#define LWIP_ICMP                   1
#define LWIP_UDP                    1
#define LWIP_TCP                    1
#define LWIP_RAW                    0
#define LWIP_DHCP                   0   /* addresses come from ZP_NET_ADDR/MASK/GATE */
#define LWIP_AUTOIP                 0
#define LWIP_IGMP                   0
#define LWIP_DNS                    0   /* the application resolves names through the kernel */
#define IP_FORWARD                  0
#define IP_REASSEMBLY               1   /* accept fragmented UDP datagrams ...      */
#define IP_FRAG                     0   /* ... but never send one (UDP is capped at the MTU) */
#define IP_REASS_MAX_PBUFS          64
#define ARP_TABLE_SIZE              64
#define ARP_QUEUEING                1
#define ETHARP_SUPPORT_STATIC_ENTRIES 0
#define LWIP_NETIF_LOOPBACK         0
#define SO_REUSE                    1   /* SO_REUSEADDR: restart a server on the same address */
#define LWIP_TCP_KEEPALIVE          1   /* SO_KEEPALIVE + TCP_KEEPIDLE/INTVL/CNT per socket */
#define LWIP_SO_RCVBUF              0
#define LWIP_NETIF_STATUS_CALLBACK  0
#define LWIP_NETIF_LINK_CALLBACK    0
#define LWIP_SINGLE_NETIF           1   /* one DPDK port per process */

/* --- memory: static pools sized for thousands of connections -------------
 * All pools live in .bss: pages the process never touches cost nothing, so
 * generous limits are free until used.  MEMP_OVERFLOW_CHECK stays off. */
#define MEM_ALIGNMENT               8
#define MEM_LIBC_MALLOC             0
#define MEMP_MEM_MALLOC             0
/* The heap holds PBUF_RAM: data copied in by send()/write() until acked.
 * 256 MiB covers 1,000 connections with 256 KiB each in flight. */
#define MEM_SIZE                    (256u * 1024 * 1024)
#define MEMP_NUM_TCP_PCB            8192  /* 1,000+ live connections plus TIME_WAIT */
#define MEMP_NUM_TCP_PCB_LISTEN     256
#define MEMP_NUM_UDP_PCB            1024
#define MEMP_NUM_TCP_SEG            65535 /* >= TCP_SND_QUEUELEN, shared by all pcbs */
#define MEMP_NUM_PBUF               65535 /* PBUF_REF/ROM headers */
#define MEMP_NUM_REASSDATA          16
#define MEMP_NUM_ARP_QUEUE          256
#define MEMP_NUM_SYS_TIMEOUT        (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 8)
/* Received frames are custom pbufs that reference DPDK mbufs (no copy), so
 * the pbuf pool only backs lwIP's own small allocations. */
#define PBUF_POOL_SIZE              1024
#define PBUF_POOL_BUFSIZE           LWIP_MEM_ALIGN_SIZE(TCP_MSS + 40 + PBUF_LINK_ENCAPSULATION_HLEN + PBUF_LINK_HLEN)
#define LWIP_SUPPORT_CUSTOM_PBUF    1
#define ETH_PAD_SIZE                0

/* --- TCP -------------------------------------------------------------------
 * Window scaling so one connection can have more than 64 KiB in flight: a
 * 1 MiB receive window (scale 5) and a 1 MiB send buffer. */
#define TCP_MSS                     1460
#define LWIP_WND_SCALE              1
#define TCP_RCV_SCALE               5
#define TCP_WND                     (1024u * 1024)
#define TCP_SND_BUF                 (1024u * 1024)
#define TCP_SND_QUEUELEN            4096  /* segments queued per pcb (<= 0xffff) */
#define TCP_SNDLOWAT                32768 /* lwIP keeps it below 64 KiB */
#define TCP_SNDQUEUELOWAT           (TCP_SND_QUEUELEN / 2)
#define TCP_OVERSIZE                TCP_MSS
#define TCP_QUEUE_OOSEQ             1
#define TCP_OOSEQ_MAX_PBUFS         256
#define TCP_LISTEN_BACKLOG          1     /* listen(fd, backlog) is honoured */
#define TCP_DEFAULT_LISTEN_BACKLOG  0xff
#define LWIP_TCP_TIMESTAMPS         0
#define LWIP_TCP_SACK_OUT           0
#define TCP_MAXRTX                  12
#define TCP_SYNMAXRTX               6
#define LWIP_TCP_PCB_NUM_EXT_ARGS   0
#define LWIP_EVENT_API              0
/* Initial sequence numbers from RFC 6528 (netstack/tcp_isn.c), not
 * lwIP's predictable counter. */
#define LWIP_HOOK_FILENAME          "lwip_hooks.h"

/* --- checksums --------------------------------------------------------------
 * Decided per netif at start-up from what the DPDK device reports
 * (NETIF_SET_CHECKSUM_CTRL): software where the device does not offload. */
#define LWIP_CHECKSUM_CTRL_PER_NETIF 1
#define LWIP_CHECKSUM_ON_COPY        0

/* --- statistics: malformed frames are dropped and counted ------------------ */
#define LWIP_STATS                  1
#define LWIP_STATS_DISPLAY          0
#define LWIP_STATS_LARGE            1   /* 32-bit counters: a benchmark overflows 16 bits */
#define LINK_STATS                  1
#define ETHARP_STATS                1
#define IP_STATS                    1
#define IPFRAG_STATS                1
#define ICMP_STATS                  1
#define UDP_STATS                   1
#define TCP_STATS                   1
#define MEM_STATS                   1
#define MEMP_STATS                  1
#define SYS_STATS                   0

#define LWIP_DEBUG                  0
#define LWIP_PERF                   0

#endif
