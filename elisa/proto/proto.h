/* elisa/proto/proto.h - the negotiation protocol between the ELISA manager
 * and its peers (the guest library, one connection per guest, and the
 * operator tool elisactl), carried over TCP.
 *
 * Every message is a fixed 20-byte header and a body of at most
 * PROTO_BODY_MAX bytes (less for most types, see proto_body_max()).  All
 * integers are little-endian and are read and written byte by byte: no
 * wire byte is ever accessed through a struct cast, so alignment, padding
 * and host byte order do not matter.  Strings are a u16 length and that
 * many bytes, no NUL on the wire; decoded they are NUL-terminated in
 * fixed arrays one byte larger than their limit.  The wire format, the
 * message table and the versioning rules are in README.md.
 *
 * Nothing here carries a host-physical address: the guest learns only
 * guest-physical and guest-virtual addresses and EPTP-list indexes (the
 * published prototype handed guests HPAs; that leaks the host's layout).
 *
 * Decoding is streaming: proto_dec_feed() takes bytes in pieces of any
 * size (one at a time works) and reports "need more", one message, or a
 * precise error.  An error ends the stream: the caller sends an ERROR
 * reply (proto_enc_error_for()) and closes the connection, because after
 * a bad header nothing says where the next message would start.
 *
 * The library is plain C11 (stdint/stddef/stdbool/string.h, snprintf only
 * in proto_err_format), keeps no global state and is thread-compatible:
 * one decoder per connection.
 */
#ifndef ELISA_PROTO_H
#define ELISA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- framing ---------------------------------------------------------------- */

/* "ELSA" in stream order: a peer that is not ours (HTTP, TLS, a port
 * scanner) is refused at its first byte that differs. */
#define PROTO_MAGIC0 0x45u  /* 'E' */
#define PROTO_MAGIC1 0x4cu  /* 'L' */
#define PROTO_MAGIC2 0x53u  /* 'S' */
#define PROTO_MAGIC3 0x41u  /* 'A' */
#define PROTO_MAGIC  0x41534c45u   /* the same four bytes read as a LE u32 */

/* Versions this build speaks.  Version 0 is never valid.  Version 2 added
 * the mode and doorbell of NEGOTIATE_OK (README.md, "Versions"); a
 * version-1 peer is still served, in VMFUNC mode only. */
#define PROTO_VERSION_MIN 1u
#define PROTO_VERSION_MAX 2u
#define PROTO_VERSION     PROTO_VERSION_MAX
/* HELLO is always sent with this header version, whatever the sender
 * speaks: its layout (and that of the header, HELLO_OK and ERROR) is
 * frozen, so any two versions can agree on which one to use. */
#define PROTO_VERSION_HELLO 1u

#define PROTO_HDR_SIZE 20u
#define PROTO_BODY_MAX 8192u    /* hard limit of any body, any type */
#define PROTO_MSG_MAX  (PROTO_HDR_SIZE + PROTO_BODY_MAX)

/* Header field offsets (README.md, "Header"). */
#define PROTO_OFF_MAGIC   0u
#define PROTO_OFF_VERSION 4u
#define PROTO_OFF_TYPE    6u
#define PROTO_OFF_FLAGS   8u
#define PROTO_OFF_LENGTH  12u
#define PROTO_OFF_REQID   16u

/* Version 1 defines no flag: every bit must be 0.  A flag a receiver
 * must understand comes with a new version, never silently. */
#define PROTO_FLAGS_V1 0u

/* --- limits ----------------------------------------------------------------- */

#define PROTO_NAME_MAX  63u   /* guest / manager name: [A-Za-z0-9._-] */
#define PROTO_APP_MAX   31u   /* app name ("nop", "vmnet"): same set */
#define PROTO_TEXT_MAX  127u  /* error text: printable ASCII 0x20..0x7e */
#define PROTO_LIST_MAX  32u   /* entries in one LIST_OK; page with LIST.start */
#define PROTO_EPTP_LIST_SIZE 512u  /* EPTP-list indexes are below this */
#define PROTO_VCPU_ALL  0xffffffffu /* ENABLE/DISABLE: every vCPU */
#define PROTO_PAGE_SIZE 4096u
#define PROTO_GATE_SIZE (3u * PROTO_PAGE_SIZE)  /* the 12 KiB gate block */
/* Guest-physical addresses are below 2^52 (the architectural MAXPHYADDR
 * limit); anything above is not an address a guest can use. */
#define PROTO_GPA_LIMIT (1ull << 52)

/* --- message types ------------------------------------------------------------ */

enum proto_type {
    PROTO_HELLO         = 1,   /* peer -> manager: version range, role, name */
    PROTO_HELLO_OK      = 2,   /* manager -> peer: chosen version, guest id */
    PROTO_NEGOTIATE     = 3,   /* guest -> manager: one vCPU, app, shared size */
    PROTO_NEGOTIATE_OK  = 4,   /* manager -> guest: GPAs/GVA/indexes to use */
    PROTO_NEGOTIATE_ERR = 5,   /* manager -> guest: why not (code + text) */
    PROTO_ENABLE        = 6,   /* guest or operator -> manager */
    PROTO_DISABLE       = 7,   /* guest or operator -> manager */
    PROTO_OK            = 8,   /* manager -> peer: ENABLE/DISABLE done */
    PROTO_LIST          = 9,   /* operator -> manager: from entry `start' */
    PROTO_LIST_OK       = 10,  /* manager -> operator: bounded array */
    PROTO_ERROR         = 11,  /* either way: protocol or request error */
};
#define PROTO_TYPE_FIRST PROTO_HELLO
#define PROTO_TYPE_LAST  PROTO_ERROR

/* HELLO.role */
enum proto_role {
    PROTO_ROLE_GUEST    = 1,   /* the guest library: negotiates its vCPUs */
    PROTO_ROLE_OPERATOR = 2,   /* elisactl: enable/disable/list */
};

/* NEGOTIATE_ERR.code */
enum proto_neg_code {
    PROTO_NEG_NO_APP    = 1,   /* no such app on this manager */
    PROTO_NEG_NO_MEMORY = 2,   /* shared size refused or not available */
    PROTO_NEG_BAD_VCPU  = 3,   /* no such vCPU in this guest */
    PROTO_NEG_BUSY      = 4,   /* this vCPU already has contexts */
    PROTO_NEG_NO_VMFUNC = 5,   /* the host cannot (no VMFUNC / EPTP switching) */
    PROTO_NEG_DENIED    = 6,   /* the operator has not enabled this guest */
    PROTO_NEG_INTERNAL  = 7,
};
#define PROTO_NEG_LAST PROTO_NEG_INTERNAL

/* NEGOTIATE_OK.mode (version 2; a version-1 NEGOTIATE_OK is VMFUNC). */
enum proto_mode {
    PROTO_MODE_VMFUNC = 1,     /* the 12 KiB gate, EPTP switching, no exit */
    PROTO_MODE_EXIT   = 2,     /* hosts without VMFUNC: a mailbox page and an
                                * I/O-port doorbell, one VM exit per call */
};
#define PROTO_MODE_LAST PROTO_MODE_EXIT

/* LIST_OK entry state */
enum proto_ctx_state {
    PROTO_CTX_NEGOTIATED = 1,  /* contexts built, VM functions not on */
    PROTO_CTX_ENABLED    = 2,  /* EPTP list loaded, VMFUNC usable */
    PROTO_CTX_DISABLED   = 3,  /* turned off by the operator or the guest */
};
#define PROTO_CTX_LAST PROTO_CTX_DISABLED

/* Result codes.  1..PROTO_WIRE_LAST are also the codes of an ERROR
 * message; functions return them negated (-PROTO_E_*).  The decoder's
 * errors are the first eleven. */
enum proto_code {
    PROTO_E_MAGIC      = 1,   /* not our magic: not an ELISA peer */
    PROTO_E_VERSION    = 2,   /* header version outside our range */
    PROTO_E_TYPE       = 3,   /* unknown message type */
    PROTO_E_FLAGS      = 4,   /* a flag bit this version does not define */
    PROTO_E_LENGTH     = 5,   /* body length over the limit of its type */
    PROTO_E_TRUNCATED  = 6,   /* a field runs past the end of the body */
    PROTO_E_TRAILING   = 7,   /* bytes left in the body after the last field */
    PROTO_E_ENUM       = 8,   /* an enum field with a value it cannot have */
    PROTO_E_STRING     = 9,   /* string too long, empty, or bad characters */
    PROTO_E_VALUE      = 10,  /* a number out of range (alignment, order) */
    PROTO_E_COUNT      = 11,  /* array count over PROTO_LIST_MAX */
    PROTO_E_UNEXPECTED = 12,  /* a valid message at the wrong time */
    PROTO_E_DENIED     = 13,  /* not allowed for this peer */
    PROTO_E_NO_GUEST   = 14,  /* no such guest / vCPU */
    PROTO_E_BUSY       = 15,
    PROTO_E_INTERNAL   = 16,
    /* local only, never on the wire: */
    PROTO_E_NOSPACE    = 17,  /* encoder: output buffer too small */
    PROTO_E_INVAL      = 18,  /* a bad argument (NULL, unknown type to encode) */
};
#define PROTO_WIRE_LAST PROTO_E_INTERNAL

/* Return values of proto_dec_feed() besides -PROTO_E_*. */
#define PROTO_NEED_MORE 0
#define PROTO_MESSAGE   1

/* --- decoded messages --------------------------------------------------------- */

struct proto_hello {
    uint16_t ver_min, ver_max;          /* 1 <= min <= max */
    uint8_t role;                       /* enum proto_role */
    char name[PROTO_NAME_MAX + 1];      /* non-empty */
};

struct proto_hello_ok {
    uint16_t version;                   /* the version both will use */
    uint32_t guest_id;                  /* manager's id of this peer (0: operator) */
    char name[PROTO_NAME_MAX + 1];      /* the manager's name, non-empty */
};

struct proto_negotiate {
    uint32_t vcpu;                      /* not PROTO_VCPU_ALL */
    uint64_t shared_size;               /* bytes, multiple of 4 KiB, 0: none */
    char app[PROTO_APP_MAX + 1];        /* non-empty */
};

/* What the guest must use for one vCPU.  Guest-physical / guest-virtual
 * only: the manager maps the host pages behind them.
 *
 * mode and doorbell exist on the wire from version 2 on (right after vcpu,
 * README.md); a version-1 message decodes as mode VMFUNC, doorbell 0, and
 * the encoder refuses anything else at version 1.  In EXIT mode the gate
 * block's first page is the mailbox page (elisa/guest/elisa_guest.h), the
 * EPTP-list indexes do not exist and must be 0, and the doorbell is the
 * I/O port the guest writes to, or 0 for the MMIO doorbell (a store to the
 * block's second page, ELISA_DOORBELL_MMIO); in VMFUNC mode it is 0. */
struct proto_negotiate_ok {
    uint32_t vcpu;
    uint64_t gate_gpa;                  /* 12 KiB gate block, page aligned */
    uint64_t gate_gva;                  /* where the guest maps it (canonical) */
    uint16_t idx_default, idx_gate, idx_sub; /* VMFUNC: distinct, < 512; EXIT: 0 */
    uint32_t entry_offset;              /* the app's entry, from the sub code start */
    uint64_t shared_gpa;                /* page aligned; 0 with size 0 */
    uint64_t shared_size;               /* multiple of 4 KiB */
    uint8_t mode;                       /* enum proto_mode */
    uint16_t doorbell;                  /* EXIT: I/O port, 0 = MMIO; VMFUNC: 0 */
};

struct proto_negotiate_err {
    uint32_t vcpu;
    uint16_t code;                      /* enum proto_neg_code */
    char text[PROTO_TEXT_MAX + 1];
};

/* ENABLE and DISABLE. */
struct proto_enable {
    uint32_t vcpu;                      /* or PROTO_VCPU_ALL */
    char guest[PROTO_NAME_MAX + 1];     /* "" = the sender's own guest */
};

struct proto_ok {
    uint16_t what;                      /* PROTO_ENABLE or PROTO_DISABLE */
};

struct proto_list {
    uint32_t start;                     /* first entry wanted (paging) */
};

struct proto_list_entry {
    uint32_t guest_id;
    char guest[PROTO_NAME_MAX + 1];     /* non-empty */
    uint32_t vcpu;
    uint8_t state;                      /* enum proto_ctx_state */
    char app[PROTO_APP_MAX + 1];        /* non-empty */
    uint64_t gate_gpa, shared_gpa, shared_size;
};

struct proto_list_ok {
    uint32_t total;                     /* entries the manager has */
    uint32_t start;                     /* index of entries[0] */
    uint16_t count;                     /* <= PROTO_LIST_MAX, start+count <= total */
    struct proto_list_entry entries[PROTO_LIST_MAX];
};

struct proto_error {
    uint16_t code;                      /* 1..PROTO_WIRE_LAST */
    uint16_t ver_min, ver_max;          /* the sender's supported range */
    char text[PROTO_TEXT_MAX + 1];
};

/* One message: header fields + the body of its type. */
struct proto_msg {
    uint16_t type;                      /* enum proto_type: selects the union */
    uint16_t version;
    uint32_t flags;
    uint32_t req_id;                    /* a reply carries its request's id */
    union {
        struct proto_hello hello;
        struct proto_hello_ok hello_ok;
        struct proto_negotiate negotiate;
        struct proto_negotiate_ok negotiate_ok;
        struct proto_negotiate_err negotiate_err;
        struct proto_enable enable;     /* PROTO_ENABLE and PROTO_DISABLE */
        struct proto_ok ok;
        struct proto_list list;
        struct proto_list_ok list_ok;
        struct proto_error error;
    } u;
};

/* --- errors --------------------------------------------------------------------- */

/* Where and why decoding failed.  Offsets are deterministic: the same
 * bytes give the same error at the same place however they were split. */
struct proto_err {
    int code;                 /* PROTO_E_* (positive) */
    uint64_t msg_offset;      /* stream offset of the failing message's first byte */
    uint32_t field_offset;    /* offset of the bad field inside that message */
    const char *field;        /* its name, e.g. "length", "hello.name" */
    uint16_t type;            /* message type if the header got that far, else 0 */
    uint64_t value;           /* the value found (version, type, length, enum...) */
    uint64_t limit;           /* the limit it broke, where there is one */
    uint16_t ver_min, ver_max;/* the range this decoder accepts */
};

/* "bad magic", "unsupported version", ... for PROTO_E_* (either sign). */
const char *proto_strerror(int code);
/* One line for logs and for the text of an ERROR reply, e.g.
 * "unsupported version 7 at offset 0 (+4) (supported 1..1)".  Always
 * NUL-terminates (if n > 0); returns buf. */
char *proto_err_format(const struct proto_err *e, char *buf, size_t n);
/* The name of a message type, or "?" */
const char *proto_type_name(unsigned type);

/* --- decoding --------------------------------------------------------------------- */

struct proto_dec {
    uint8_t buf[PROTO_MSG_MAX];   /* the message being collected */
    uint32_t have;                /* bytes of it in buf */
    uint32_t need;                /* header + body length, once the header is in */
    uint64_t offset;              /* stream offset of buf[0] */
    uint16_t ver_lo, ver_hi;      /* accepted header versions */
    int failed;                   /* 0, or the PROTO_E_* that ended the stream */
    struct proto_err err;
};

/* A decoder accepting PROTO_VERSION_MIN..PROTO_VERSION_MAX. */
void proto_dec_init(struct proto_dec *d);
/* Narrow the accepted versions after HELLO (lo <= hi, within ours):
 * returns 0 or -PROTO_E_INVAL. */
int proto_dec_set_versions(struct proto_dec *d, uint16_t lo, uint16_t hi);

/* Feed LEN bytes (DATA may be NULL if LEN is 0).  *USED is set to the
 * bytes taken, never more than LEN.  Returns
 *   PROTO_NEED_MORE  all LEN bytes taken, no complete message yet;
 *   PROTO_MESSAGE    one message decoded into *OUT; *USED bytes taken
 *                    (the bytes after them belong to the next call);
 *   -PROTO_E_*       the stream is invalid: d->err says where and why;
 *                    *USED counts the bytes up to the one that showed it.
 *                    Every later call returns the same error, taking
 *                    nothing.
 * *OUT is written only for PROTO_MESSAGE. */
int proto_dec_feed(struct proto_dec *d, const uint8_t *data, size_t len, size_t *used,
                   struct proto_msg *out);

/* Decode one complete message from the start of BUF (a fresh decoder
 * accepting our versions).  Returns PROTO_MESSAGE (*USED = its size),
 * PROTO_NEED_MORE (BUF holds only a prefix of it) or -PROTO_E_* (with
 * *ERR filled if ERR is not NULL). */
int proto_decode(const uint8_t *buf, size_t len, size_t *used, struct proto_msg *out,
                 struct proto_err *err);

/* The largest body a message of TYPE may have at VERSION (0 if TYPE or
 * VERSION is unknown), and the same at PROTO_VERSION. */
uint32_t proto_body_max_v(unsigned version, unsigned type);
uint32_t proto_body_max(unsigned type);

/* --- encoding ----------------------------------------------------------------------- */

/* Encode M (type, version, flags, req_id and the body of its type) into
 * BUF.  Returns the message size, or -PROTO_E_NOSPACE (CAP too small,
 * nothing useful in BUF), -PROTO_E_INVAL (unknown type), or the error the
 * decoder would report for it (-PROTO_E_VERSION, -PROTO_E_STRING,
 * -PROTO_E_VALUE, ...): the encoder refuses to send what a peer must
 * refuse, so what it produces always decodes back to M. */
int proto_encode(uint8_t *buf, size_t cap, const struct proto_msg *m);

/* One encoder per message, at PROTO_VERSION (HELLO, HELLO_OK and ERROR at
 * PROTO_VERSION_HELLO, their frozen version),
 * flags 0.  Same returns as proto_encode(). */
int proto_enc_hello(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_hello *b);
int proto_enc_hello_ok(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_hello_ok *b);
int proto_enc_negotiate(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_negotiate *b);
int proto_enc_negotiate_ok(uint8_t *buf, size_t cap, uint32_t req_id,
                           const struct proto_negotiate_ok *b);
int proto_enc_negotiate_err(uint8_t *buf, size_t cap, uint32_t req_id,
                            const struct proto_negotiate_err *b);
int proto_enc_enable(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_enable *b);
int proto_enc_disable(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_enable *b);
int proto_enc_ok(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_ok *b);
int proto_enc_list(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_list *b);
int proto_enc_list_ok(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_list_ok *b);
int proto_enc_error(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_error *b);

/* The ERROR reply to a decoding failure: its code, our supported range
 * (so a newer or older peer learns what we speak), proto_err_format()'s
 * text cut to PROTO_TEXT_MAX.  REQ_ID: the failing request's id if the
 * header was read, else 0. */
int proto_enc_error_for(uint8_t *buf, size_t cap, uint32_t req_id, const struct proto_err *e);

/* --- versions ------------------------------------------------------------------------ */

/* The version two peers use: the highest in both ranges.  Returns 0 and
 * sets *OUT, or -PROTO_E_VERSION if the ranges do not meet (the manager
 * then replies ERROR with its range) and -PROTO_E_VALUE if a range is
 * empty or starts at 0. */
int proto_version_pick(uint16_t my_min, uint16_t my_max, uint16_t peer_min, uint16_t peer_max,
                       uint16_t *out);

#endif
