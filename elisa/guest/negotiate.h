/* elisa/guest/negotiate.h - the guest library's negotiation side: a small
 * blocking TCP client of the ELISA manager (elisa/proto/).  Hosted C: it
 * runs where there are sockets - a guest's user space, or, on this
 * machine, the VMM acting as its guest's agent (elisa/vmm/vmm_manager.c);
 * elisactl uses it as the operator.
 *
 *     struct elisa_neg n;
 *     struct proto_negotiate_ok ok;
 *     if (elisa_neg_open(&n, "127.0.0.1:7070", PROTO_ROLE_GUEST, "web1", 0, err, sizeof(err)) ||
 *         elisa_neg_vcpu(&n, 0, "vmnet", 0, &ok, err, sizeof(err)))
 *         ... err says what went wrong and what to do ...
 *     ... use ok (ok.mode: PROTO_MODE_VMFUNC or PROTO_MODE_EXIT) ...
 *     elisa_neg_close(&n);   // releases every vCPU negotiated on it
 *
 * THE RULE: the contexts of the vCPUs negotiated on a connection live as
 * long as the connection.  Keep it open while the guest uses them; closing
 * it (or exiting) makes the manager release them and their vmnet ports.
 *
 * Every wait is bounded (timeout_ms, default ELISA_NEG_TIMEOUT_MS per
 * request); every failure is one line in err.  Not thread-safe: one
 * struct elisa_neg per thread.
 */
#ifndef ELISA_GUEST_NEGOTIATE_H
#define ELISA_GUEST_NEGOTIATE_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "../proto/proto.h"

#define ELISA_NEG_TIMEOUT_MS 5000u

struct elisa_neg {
    int fd;                                  /* -1 when closed */
    uint16_t version;                        /* agreed at HELLO */
    uint32_t guest_id;                       /* HELLO_OK.guest_id (0: operator) */
    char manager[PROTO_NAME_MAX + 1];        /* the manager's name */
    char addr[32];                           /* "127.0.0.1:7070", for messages */
    char name[PROTO_NAME_MAX + 1];           /* our HELLO name */
    unsigned timeout_ms;
    uint32_t next_req;
    uint8_t in[512];                         /* bytes read but not yet decoded */
    uint32_t in_off, in_len;
    struct proto_dec dec;                    /* 8 KiB: keep the struct off small stacks */
};

/* Connect to ADDR ("HOST:PORT", dotted IPv4), say HELLO with ROLE
 * (PROTO_ROLE_GUEST or PROTO_ROLE_OPERATOR) and NAME, and agree on a
 * version.  TIMEOUT_MS 0 means ELISA_NEG_TIMEOUT_MS.  Returns 0, or -1
 * with err, e.g. "no manager at 127.0.0.1:7070: start it with 'elisactl
 * start ...'". */
int elisa_neg_open(struct elisa_neg *n, const char *addr, uint8_t role, const char *name,
                   unsigned timeout_ms, char *err, size_t errlen);

/* Negotiate one vCPU for APP, whose shared memory may take up to
 * SHARED_SIZE bytes (0: whatever the app needs).  Returns
 *   0    *ok filled, checked by the decoder (proto.h);
 *   > 0  the manager refused: a PROTO_NEG_* code, err = "manager ADDR
 *        refused vCPU V of NAME: <its reason>" (e.g. "guest web1 is not
 *        enabled; run 'elisactl enable web1'");
 *   -1   the connection or the protocol failed (err); close it. */
int elisa_neg_vcpu(struct elisa_neg *n, uint32_t vcpu, const char *app, uint64_t shared_size,
                   struct proto_negotiate_ok *ok, char *err, size_t errlen);

/* Any request (type and body set by the caller; version and request id
 * are set here) and its reply, which may be ERROR: the caller looks at
 * reply->type.  Returns 0, or -1 (connection/protocol failure, err). */
int elisa_neg_call(struct elisa_neg *n, struct proto_msg *req, struct proto_msg *reply,
                   char *err, size_t errlen);

void elisa_neg_close(struct elisa_neg *n);

/* "HOST:PORT" -> sockaddr (dotted IPv4 only: no name lookup, nothing
 * unbounded).  Port 0 only with ALLOW_PORT0 (a listener's "any free
 * port").  Returns 0 or -1 with err. */
int elisa_neg_parse_addr(const char *s, struct sockaddr_in *sa, int allow_port0, char *err,
                         size_t errlen);

#endif
