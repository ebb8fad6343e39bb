/* elisa/manager/state.h - what the manager knows: guests, their vCPU
 * contexts, who may negotiate, which vmnet port belongs to whom.  Pure
 * logic (no I/O, no allocation): the server calls it and the unit test
 * tests/unit/test_elisa_manager_state.c drives it directly.
 *
 * Guests are known by name.  A guest record appears when a guest says
 * HELLO or the operator enables a name that has not said HELLO yet, and
 * goes when nothing refers to it any more (no connection, no context, no
 * permission).  Its id (HELLO_OK.guest_id, the host link's guest_id) stays
 * the same while the record lives.
 *
 * Permission per vCPU: allowed(v) = !deny[v] && (allow_all || allow[v]).
 *   enable G          allow_all = 1, deny cleared, DISABLED contexts of G
 *                     become NEGOTIATED again (the host may attach again)
 *   enable G --vcpu v allow[v] = 1, deny[v] = 0, v's context likewise
 *   disable G         allow_all = 0, allow cleared; every context of G
 *                     becomes DISABLED (an attached host gets DETACH)
 *   disable G --vcpu v deny[v] = 1, allow[v] = 0; v's context DISABLED
 *
 * Context life (LIST states):
 *   NEGOTIATE (allowed)  -> NEGOTIATED, owned by that TCP connection
 *   host link ATTACH     -> ENABLED (the host installed it), bound to that
 *                           link connection
 *   link closes          -> NEGOTIATED again
 *   disable              -> DISABLED (stays listed, keeps its port)
 *   owning connection closes -> released: gone from LIST, port freed
 *                           (and scrubbed by the server before reuse)
 * A vCPU has at most one context; negotiating it again while one exists
 * (from any connection) is BUSY.
 */
#ifndef ELISA_MANAGER_STATE_H
#define ELISA_MANAGER_STATE_H

#include <stdbool.h>
#include <stdint.h>

#include "../proto/proto.h"

#define MGR_APPS_MAX    8u
#define MGR_VCPU_MAX    64u      /* vCPU numbers 0..63 per guest */
#define MGR_GUESTS_MAX  256u
#define MGR_CTX_MAX     1024u
#define MGR_PORTS_MAX   64u      /* = VMNET_MAX_PORTS */
/* Per vCPU the gate window holds the 12 KiB block and a 4 KiB guard page,
 * so that neighbouring vCPUs' blocks never touch. */
#define MGR_GATE_STRIDE 0x4000ull

/* What the state needs to know of one app (the registry fills it). */
struct mgr_app_desc {
    char name[PROTO_APP_MAX + 1];
    uint32_t entry_offset;
    uint32_t nports;                      /* 0: no shared memory */
    uint64_t port_size;                   /* bytes of one port area (page multiple) */
    uint64_t port_off[MGR_PORTS_MAX];     /* offset of each port area in the region */
};

/* Where things go in each guest's physical and virtual address space. */
struct mgr_layout {
    uint8_t mode;                 /* PROTO_MODE_EXIT or PROTO_MODE_VMFUNC */
    uint16_t doorbell;            /* EXIT mode: I/O port, 0 = MMIO doorbell */
    uint64_t gate_gpa, gate_gva;  /* vCPU v's block at + v * MGR_GATE_STRIDE */
    uint64_t shared_gpa;          /* vCPU v's shared memory at + v * shared_stride */
    uint64_t shared_stride;
};

struct mgr_ctx {
    bool used;
    uint32_t guest;               /* index in guests[] */
    uint32_t vcpu;
    uint8_t state;                /* PROTO_CTX_* */
    uint32_t app;                 /* index in apps[] */
    int32_t port;                 /* -1: none */
    uint64_t owner;               /* TCP connection id that negotiated it */
    uint64_t link;                /* link connection id that attached it, 0: none */
    uint64_t guest_off;           /* region offset of the port area */
    struct proto_negotiate_ok ok; /* what the guest was told */
};

struct mgr_guest {
    bool used;
    uint32_t id;
    char name[PROTO_NAME_MAX + 1];
    bool allow_all;
    uint64_t allow, deny;         /* bit v: vCPU v (MGR_VCPU_MAX = 64) */
    uint32_t conns;               /* guest connections that said HELLO as it */
};

/* Why an attached host loses a context (the same numbers as the host
 * link's DETACH reasons, elisa/manager/link_msg.h). */
enum mgr_detach_reason {
    MGR_DETACH_DISABLED = 1,
    MGR_DETACH_RELEASED = 2,
    MGR_DETACH_STOPPING = 3,
};

/* Called when a context that a host attached loses it (DISABLE, release,
 * shutdown): the server sends DETACH on that link connection. */
typedef void (*mgr_detach_fn)(void *opaque, uint64_t link, uint32_t guest_id, uint32_t vcpu,
                              int reason, const char *text);
/* Called when a port is freed: the server scrubs it before reuse. */
typedef void (*mgr_port_free_fn)(void *opaque, uint32_t app, uint32_t port);

struct mgr_state {
    struct mgr_layout layout;
    struct mgr_app_desc apps[MGR_APPS_MAX];
    uint32_t napps;
    uint64_t ports_used[MGR_APPS_MAX];        /* bit p: port p handed out */
    uint64_t ports_quarantined[MGR_APPS_MAX]; /* bit p: could not be scrubbed */
    struct mgr_guest guests[MGR_GUESTS_MAX];
    struct mgr_ctx ctx[MGR_CTX_MAX];
    uint32_t next_guest_id;
    mgr_detach_fn on_detach;
    mgr_port_free_fn on_port_free;
    void *opaque;
};

/* 0, or -1 with err: the layout or an app does not fit (a port area larger
 * than the shared stride, windows that overlap or pass 2^52, ...). */
int mgr_state_init(struct mgr_state *st, const struct mgr_layout *layout,
                   const struct mgr_app_desc *apps, uint32_t napps, char *err, size_t errlen);

/* A guest connection said HELLO with NAME: find or make its record.
 * Returns the index, or -PROTO_E_BUSY (too many guests). */
int mgr_guest_join(struct mgr_state *st, const char *name);
/* That connection (id CONN) closed: release its contexts and forget the
 * record if nothing refers to it any more. */
void mgr_guest_leave(struct mgr_state *st, int guest, uint64_t conn);

/* Operator (or, for DISABLE, the guest itself).  Return 0 or -PROTO_E_*
 * with one line in text (PROTO_TEXT_MAX + 1 bytes). */
int mgr_enable(struct mgr_state *st, const char *name, uint32_t vcpu, char *text);
int mgr_disable(struct mgr_state *st, const char *name, uint32_t vcpu, char *text);

/* NEGOTIATE from connection CONN of guest index GUEST speaking VERSION.
 * Returns 0 with *ok filled, or a PROTO_NEG_* code with *nerr filled. */
int mgr_negotiate(struct mgr_state *st, int guest, uint64_t conn, uint16_t version,
                  const struct proto_negotiate *req, struct proto_negotiate_ok *ok,
                  struct proto_negotiate_err *nerr);

/* Host link ATTACH over link connection LINK.  Returns the context (now
 * ENABLED), or NULL with *code (PROTO_E_*) and one line in text. */
const struct mgr_ctx *mgr_attach(struct mgr_state *st, uint32_t guest_id, uint32_t vcpu,
                                 uint64_t link, int *code, char *text);
/* Link connection LINK closed: its contexts go back to NEGOTIATED. */
void mgr_link_gone(struct mgr_state *st, uint64_t link);

/* Manager shutting down: DETACH every attached context. */
void mgr_shutdown(struct mgr_state *st);

/* Entries START.. of the contexts sorted by (guest id, vCPU). */
void mgr_list(const struct mgr_state *st, uint32_t start, struct proto_list_ok *out);

/* Record lookups; NULL if none. */
const struct mgr_guest *mgr_guest_by_id(const struct mgr_state *st, uint32_t id);
const struct mgr_guest *mgr_guest_by_name(const struct mgr_state *st, const char *name);
const struct mgr_ctx *mgr_ctx_find(const struct mgr_state *st, uint32_t guest_id, uint32_t vcpu);

/* Ports of APP in use (for logs and tests). */
uint32_t mgr_ports_in_use(const struct mgr_state *st, uint32_t app);

/* Mark a freed port unusable (the server could not scrub it). */
void mgr_port_quarantine(struct mgr_state *st, uint32_t app, uint32_t port);

#endif
