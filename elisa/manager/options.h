/* elisa/manager/options.h - the manager's command line (`elisactl start
 * ...`), parsed into one struct.  Pure: no file is opened here (apps are
 * loaded by apps.c), so the unit test checks every rule.
 *
 *   --listen HOST:PORT      TCP address for guests and elisactl
 *                           (default 127.0.0.1:7070; port 0 picks a free one)
 *   --link PATH             host link socket (default elisa_link_default_path())
 *   --name NAME             the manager's name in HELLO_OK (default elisa-manager)
 *   --app NAME=PATH[,ports=N][,slots=S][,slot-size=B]
 *                           an app (elisa/apps/NAME.so); ports/slots/slot-size
 *                           only for vmnet (defaults 8, 256, 2048)
 *   --host exit|vmfunc      how guests reach the sub context (default exit)
 *   --foreground            do not daemonize; log to stderr
 *   --log PATH              daemon log (default: the link path + ".log")
 *   --gate-gpa A --gate-gva A --shared-gpa A --shared-stride B
 *                           the guest-side layout (defaults below)
 *   --doorbell mmio|PORT    how an EXIT-mode guest rings (default mmio)
 *   --max-conns N           TCP connections at once (default 128)
 *   --msg-timeout-ms T      HELLO and every message must complete within T
 *                           ms of its start, or the peer is dropped (5000)
 *   --elisa-id N            vmfunc: the manager VM's ELISA KVM id (default
 *                           100); guest VMs get N+1..N+256 (1..65279)
 *   --no-manager-vm         vmfunc, testing only: no manager VM and no
 *                           capability check; guests negotiate VMFUNC and
 *                           get VMFUNC_INFO, every VMFUNC_INSTALL is refused
 * Numbers take 0x and K/M/G suffixes.  Every option accepts "--opt VALUE"
 * and "--opt=VALUE".
 */
#ifndef ELISA_MANAGER_OPTIONS_H
#define ELISA_MANAGER_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define MGR_DEFAULT_ADDR      "127.0.0.1:7070"
#define MGR_DEFAULT_NAME      "elisa-manager"
/* Under 4 GiB and above the RAM of the kit's small guests (they identity-
 * map their first 4 GiB): the gate window at 3 GiB (64 vCPUs x 16 KiB =
 * 1 MiB), the shared window 2 MiB above it (64 x 4 MiB = 256 MiB), ending
 * at 0xD0200000, well below the local APIC / IOAPIC hole at 0xFEC00000.
 * A guest must keep its own RAM and devices out of 0xC0000000-0xD0200000. */
#define MGR_DEFAULT_GATE_GPA      0xC0000000ull
#define MGR_DEFAULT_SHARED_GPA    0xC0200000ull
#define MGR_DEFAULT_SHARED_STRIDE (4ull << 20)
/* The MMIO doorbell (0, ELISA_DOORBELL_MMIO): a store to the gate block's
 * second page.  It works at any guest privilege level; port I/O (--doorbell
 * PORT, e.g. 0x5e1a, the port elisa-vmm traps) is refused at CPL 3 by this
 * machine's KVM. */
#define MGR_DEFAULT_DOORBELL      0
#define MGR_DEFAULT_MAX_CONNS     128u
#define MGR_MAX_CONNS_LIMIT       1000u   /* fds stay under the default 1024 */
#define MGR_DEFAULT_MSG_TIMEOUT   5000u
#define MGR_VMNET_DEFAULT_PORTS   8u
#define MGR_VMNET_DEFAULT_SLOTS   256u
#define MGR_VMNET_DEFAULT_SLOT    2048u
#define MGR_PATH_MAX              4096u
#define MGR_LINK_PATH_MAX         107u    /* sun_path holds 108 bytes with the NUL */
#define MGR_DEFAULT_ELISA_ID      100u
#define MGR_ELISA_ID_MAX          (65535u - MGR_GUESTS_MAX)

enum mgr_host_kind {
    MGR_HOST_EXIT   = 1,   /* this machine: the exit-based fallback */
    MGR_HOST_VMFUNC = 2,   /* Intel hosts with VMFUNC, manager in a manager VM */
};

struct mgr_app_spec {
    char name[PROTO_APP_MAX + 1];
    char path[MGR_PATH_MAX];
    uint32_t ports, ring_slots, slot_size;   /* vmnet only */
};

struct mgr_options {
    char listen_host[16];          /* dotted IPv4 */
    uint16_t listen_port;
    char link_path[MGR_LINK_PATH_MAX + 1];
    char log_path[MGR_PATH_MAX];
    char name[PROTO_NAME_MAX + 1];
    struct mgr_app_spec apps[MGR_APPS_MAX];
    uint32_t napps;
    int host;                      /* enum mgr_host_kind */
    bool foreground;
    uint64_t gate_gpa, gate_gva;
    uint64_t shared_gpa, shared_stride;
    uint16_t doorbell;
    uint32_t max_conns;
    uint32_t msg_timeout_ms;
    uint16_t elisa_id;             /* vmfunc: the manager VM's ELISA id */
    bool no_manager_vm;            /* vmfunc: testing without elisa-kvm */
};

/* ARGV[0..ARGC) are the words after "start".  Returns 0, or -1 with one
 * line in err that says what to do. */
int mgr_options_parse(int argc, char **argv, struct mgr_options *o, char *err, size_t errlen);

/* A number with an optional 0x prefix and K/M/G suffix (binary). */
int mgr_parse_u64(const char *s, uint64_t *out);

#endif
