/* elisa/manager/link_msg.h - the host link: the manager's unix socket
 * through which a host (the exit-based VMM, elisa/vmm/) fetches what it
 * needs to serve one negotiated guest vCPU: the numbers of struct
 * elisa_attach and, with SCM_RIGHTS, the app's shared region (a memfd)
 * and the flat app image (a sealed memfd).
 *
 * Why a second channel next to TCP: file descriptors cross only unix
 * sockets, and the host side is trusted host software, so the link is
 * guarded by file permissions (the socket is 0600, in a 0700 or root-owned
 * directory) rather than by the protocol.  A guest never sees it.
 *
 * Transport: SOCK_SEQPACKET, one message per packet, so a message is
 * never split or merged and a short or long packet is an error, not a
 * framing problem.  Every message is a 12-byte header and a body of
 * exactly the size of its type: a string is a fixed field of a u16 length
 * and MAX bytes, the bytes past the length all 0 (one encoding per
 * message, nothing left unchecked):
 *
 *   0  u32 magic  "ELNK" (45 4c 4e 4b)
 *   4  u16 version (1)
 *   6  u16 type
 *   8  u32 body length (must equal the type's body size)
 *
 * All integers little-endian, written and read byte by byte.
 *
 *   ATTACH     host -> manager: u32 guest_id, u32 vcpu                      (8)
 *   ATTACH_OK  manager -> host: the fields of struct elisa_link_attach_ok in
 *              order, app as str(31)                                       (112),
 *              with 1 fd (the app image) or 2 (image, then region) attached
 *   ERROR      manager -> host: u16 code (PROTO_E_*), str(127) text        (131)
 *   DETACH     manager -> host: u32 guest_id, u32 vcpu, u16 reason,
 *              str(127) text                                               (139)
 *
 * VMFUNC mode only (an attached vCPU whose ATTACH_OK said mode VMFUNC; the
 * manager runs the hypercalls, elisa/manager/README.md "Host kind vmfunc"):
 *   VMFUNC_QUERY      host -> manager: u32 guest_id, u32 vcpu              (8)
 *   VMFUNC_INFO       manager -> host: u32 guest_id, u32 vcpu,
 *                     u16 manager_kvm_id, u16 guest_kvm_id, u64 gate_hash (20)
 *                     - the host then gives its guest VM the ELISA guest
 *                     role {2, guest_kvm_id, manager_kvm_id} (KVM_ENABLE_CAP
 *                     0x454c) and maps the gate pages whose FNV-1a 64 hash
 *                     is gate_hash;
 *   VMFUNC_INSTALL    host -> manager: u32 guest_id, u32 vcpu,
 *                     u32 kvm_vcpu_id, u8 user_mode                       (13)
 *                     - the manager builds and installs the contexts of
 *                     that KVM vCPU of the guest VM (MAP_CTX x2, ENABLE);
 *   VMFUNC_INSTALLED  manager -> host: u32 guest_id, u32 vcpu              (8)
 *                     or ERROR with the hypercall's error text.
 * ids: 1..65535 and manager != guest; kvm_vcpu_id < 4096 (KVM_MAX_VCPU_IDS
 * on x86); user_mode 0 or 1 (the guest calls the gate at CPL 3).
 *
 * A host may attach several vCPUs over one connection.  The connection
 * stays open while the host serves them: the manager sends DETACH when
 * the operator (or the guest) disables an attached vCPU, when the guest's
 * negotiation connection closes, or when the manager stops, and the host
 * must stop running the app for that vCPU.  When the link connection
 * closes, the manager marks the vCPUs it attached NEGOTIATED again.
 *
 * Plain C11 + POSIX sockets; no global state.
 */
#ifndef ELISA_MANAGER_LINK_MSG_H
#define ELISA_MANAGER_LINK_MSG_H

#include <stddef.h>
#include <stdint.h>

#define ELISA_LINK_MAGIC   0x4b4e4c45u   /* "ELNK" read as a LE u32 */
#define ELISA_LINK_VERSION 1u
#define ELISA_LINK_HDR     12u
#define ELISA_LINK_TEXT_MAX 127u
#define ELISA_LINK_APP_MAX  31u

enum elisa_link_type {
    ELISA_LINK_ATTACH    = 1,
    ELISA_LINK_ATTACH_OK = 2,
    ELISA_LINK_ERROR     = 3,
    ELISA_LINK_DETACH    = 4,
    ELISA_LINK_VMFUNC_QUERY     = 5,
    ELISA_LINK_VMFUNC_INFO      = 6,
    ELISA_LINK_VMFUNC_INSTALL   = 7,
    ELISA_LINK_VMFUNC_INSTALLED = 8,
};

#define ELISA_LINK_KVM_VCPU_LIMIT 4096u   /* kvm_vcpu_id < this (KVM_MAX_VCPU_IDS, x86) */

/* DETACH.reason */
enum elisa_link_reason {
    ELISA_LINK_DISABLED = 1,   /* the operator or the guest disabled the vCPU */
    ELISA_LINK_RELEASED = 2,   /* the guest's negotiation connection closed */
    ELISA_LINK_STOPPING = 3,   /* the manager is shutting down */
};

/* The biggest packet (DETACH); a receive buffer one byte larger detects an
 * oversize packet. */
#define ELISA_LINK_MSG_MAX (ELISA_LINK_HDR + 4u + 4u + 2u + 2u + ELISA_LINK_TEXT_MAX)

/* fds that travel with ATTACH_OK: the image always, the region if any. */
#define ELISA_LINK_FDS_MAX 2

struct elisa_link_attach {
    uint32_t guest_id, vcpu;
};

/* Everything is checked by the decoder: see elisa_link_decode(). */
struct elisa_link_attach_ok {
    uint32_t guest_id, vcpu;
    uint8_t mode;                 /* PROTO_MODE_EXIT or PROTO_MODE_VMFUNC */
    uint16_t doorbell;            /* EXIT: I/O port, 0 = MMIO; VMFUNC: 0 */
    uint64_t gate_gpa, gate_gva;  /* as in NEGOTIATE_OK */
    uint64_t shared_gpa, shared_size;
    uint32_t entry_offset;        /* < app_size */
    uint64_t app_size;            /* bytes of the image memfd, page multiple, not 0 */
    uint64_t region_size;         /* bytes of the region memfd; 0: no region fd */
    uint64_t guest_off;           /* region offset mapped at shared_gpa */
    uint64_t env_arg;             /* elisa_sub_env.arg (vmnet: the port) */
    char app[ELISA_LINK_APP_MAX + 1];
};

struct elisa_link_error {
    uint16_t code;                /* 1..PROTO_WIRE_LAST (elisa/proto/proto.h) */
    char text[ELISA_LINK_TEXT_MAX + 1];
};

struct elisa_link_detach {
    uint32_t guest_id, vcpu;
    uint16_t reason;              /* enum elisa_link_reason */
    char text[ELISA_LINK_TEXT_MAX + 1];
};

/* VMFUNC_QUERY and VMFUNC_INSTALLED carry a struct elisa_link_attach. */
struct elisa_link_vmfunc_info {
    uint32_t guest_id, vcpu;
    uint16_t manager_kvm_id, guest_kvm_id;   /* 1..65535, different */
    uint64_t gate_hash;                      /* hv_gate_hash of the manager's gate block */
};

struct elisa_link_vmfunc_install {
    uint32_t guest_id, vcpu;
    uint32_t kvm_vcpu_id;         /* the vCPU's id in the guest VM (KVM_CREATE_VCPU's) */
    uint8_t user_mode;            /* 1: the guest calls the gate at CPL 3 */
};

struct elisa_link_msg {
    uint16_t type;
    union {
        struct elisa_link_attach attach;   /* ATTACH, VMFUNC_QUERY, VMFUNC_INSTALLED */
        struct elisa_link_vmfunc_info vmfunc_info;
        struct elisa_link_vmfunc_install vmfunc_install;
        struct elisa_link_attach_ok attach_ok;
        struct elisa_link_error error;
        struct elisa_link_detach detach;
    } u;
};

/* The body size of TYPE (0 if unknown). */
uint32_t elisa_link_body_size(unsigned type);

/* Encode M into BUF: returns the packet size, or -1 if M would not decode
 * (the encoder runs the decoder over its output) or CAP is too small. */
int elisa_link_encode(uint8_t *buf, size_t cap, const struct elisa_link_msg *m);

/* Decode one packet of LEN bytes.  Returns 0, or -1 with one line in ERR
 * naming the field ("link message: ATTACH_OK region_size 4096 is smaller
 * than guest_off + shared_size ...").  Checks: magic, version, known type,
 * length equal to the type's size, strings (names [A-Za-z0-9._-] non-empty,
 * text printable ASCII, length within the body), enums, page alignment of
 * every address and size, canonical gate GVA, the mode rules of
 * NEGOTIATE_OK, guest_off + shared_size <= region_size, shared_size 0 with
 * no region, entry_offset < app_size. */
int elisa_link_decode(const uint8_t *buf, size_t len, struct elisa_link_msg *m, char *err,
                      size_t errlen);

/* One packet with up to ELISA_LINK_FDS_MAX fds.  Returns 0 or -1 with err
 * (errno kept). */
int elisa_link_send(int sock, const struct elisa_link_msg *m, const int *fds, int nfds,
                    char *err, size_t errlen);

/* Receive one packet (blocking as the socket is) and decode it.  Received
 * fds (close-on-exec) go to FDS, their count to *NFDS; on any error every
 * received fd is closed and *NFDS is 0.  Returns 1 for a message, 0 if the
 * peer closed, -1 with err (a bad packet, a truncated one, too many fds;
 * errno is EAGAIN if a non-blocking socket had nothing). */
int elisa_link_recv(int sock, struct elisa_link_msg *m, int *fds, int *nfds, char *err,
                    size_t errlen);

/* The default path of the link socket: /run/exitless/elisa.sock for root,
 * /tmp/exitless-UID/elisa.sock for anyone else.  Returns BUF. */
char *elisa_link_default_path(char *buf, size_t n);

const char *elisa_link_type_name(unsigned type);

#endif
