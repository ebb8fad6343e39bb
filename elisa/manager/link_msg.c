/* elisa/manager/link_msg.c - the host link's message format and its
 * packet transport (link_msg.h).
 *
 * Like elisa/proto, one definition of "valid": the decoder.  The encoder
 * writes the bytes and decodes them again, so what we send is always what
 * a peer accepts.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

#include "link_msg.h"
#include "../proto/proto.h"

#define STR_FIELD(max) (2u + (max))

#define ATTACH_SIZE    (4u + 4u)
#define ATTACH_OK_SIZE (4u + 4u + 1u + 2u + 4u * 8u + 4u + 4u * 8u + STR_FIELD(ELISA_LINK_APP_MAX))
#define ERROR_SIZE     (2u + STR_FIELD(ELISA_LINK_TEXT_MAX))
#define DETACH_SIZE    (4u + 4u + 2u + STR_FIELD(ELISA_LINK_TEXT_MAX))
#define VMFUNC_INFO_SIZE    (4u + 4u + 2u + 2u + 8u)
#define VMFUNC_INSTALL_SIZE (4u + 4u + 4u + 1u)

_Static_assert(ATTACH_OK_SIZE == 112, "ATTACH_OK layout: update link_msg.h");
_Static_assert(ELISA_LINK_HDR + DETACH_SIZE == ELISA_LINK_MSG_MAX, "largest link message");
_Static_assert(ATTACH_OK_SIZE <= DETACH_SIZE && ERROR_SIZE <= DETACH_SIZE, "largest link message");
_Static_assert(VMFUNC_INFO_SIZE == 20 && VMFUNC_INSTALL_SIZE == 13, "VMFUNC layouts: update link_msg.h");

uint32_t elisa_link_body_size(unsigned type)
{
    switch (type) {
    case ELISA_LINK_ATTACH:    return ATTACH_SIZE;
    case ELISA_LINK_ATTACH_OK: return ATTACH_OK_SIZE;
    case ELISA_LINK_ERROR:     return ERROR_SIZE;
    case ELISA_LINK_DETACH:    return DETACH_SIZE;
    case ELISA_LINK_VMFUNC_QUERY:     return ATTACH_SIZE;
    case ELISA_LINK_VMFUNC_INFO:      return VMFUNC_INFO_SIZE;
    case ELISA_LINK_VMFUNC_INSTALL:   return VMFUNC_INSTALL_SIZE;
    case ELISA_LINK_VMFUNC_INSTALLED: return ATTACH_SIZE;
    default:                   return 0;
    }
}

const char *elisa_link_type_name(unsigned type)
{
    switch (type) {
    case ELISA_LINK_ATTACH:    return "ATTACH";
    case ELISA_LINK_ATTACH_OK: return "ATTACH_OK";
    case ELISA_LINK_ERROR:     return "ERROR";
    case ELISA_LINK_DETACH:    return "DETACH";
    case ELISA_LINK_VMFUNC_QUERY:     return "VMFUNC_QUERY";
    case ELISA_LINK_VMFUNC_INFO:      return "VMFUNC_INFO";
    case ELISA_LINK_VMFUNC_INSTALL:   return "VMFUNC_INSTALL";
    case ELISA_LINK_VMFUNC_INSTALLED: return "VMFUNC_INSTALLED";
    default:                   return "?";
    }
}

char *elisa_link_default_path(char *buf, size_t n)
{
    uid_t uid = getuid();

    if (uid == 0)
        snprintf(buf, n, "/run/exitless/elisa.sock");
    else
        snprintf(buf, n, "/tmp/exitless-%u/elisa.sock", (unsigned)uid);
    return buf;
}

/* --- reading: every field bounded by the body ------------------------------------ */

struct lrd {
    const uint8_t *p;
    uint32_t n, at;
    bool bad;
    char *err;
    size_t errlen;
    const char *type;
};

static bool lfail(struct lrd *r, const char *fmt, ...)
{
    if (!r->bad) {
        char what[160];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof(what), fmt, ap);
        va_end(ap);
        snprintf(r->err, r->errlen, "link message: %s %s", r->type, what);
        r->bad = true;
    }
    return false;
}

static uint64_t lget(struct lrd *r, unsigned size)
{
    uint64_t v = 0;

    if (r->bad)
        return 0;
    /* The body size was checked against the type before any field is
     * read, so this cannot run past it; kept as a guard. */
    if (r->n - r->at < size) {
        lfail(r, "is truncated at byte %u", (unsigned)r->at);
        return 0;
    }
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)r->p[r->at + i] << (8 * i);
    r->at += size;
    return v;
}

static bool name_char(uint8_t c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-';
}

/* A fixed string field: u16 length <= MAX, the bytes, zeros to MAX. */
static void lstr(struct lrd *r, const char *field, char *dst, uint32_t max, bool name)
{
    uint32_t len = (uint32_t)lget(r, 2);

    if (r->bad)
        return;
    if (len > max) {
        lfail(r, "%s length %u is over %u", field, len, max);
        return;
    }
    if (name && len == 0) {
        lfail(r, "%s is empty", field);
        return;
    }
    for (uint32_t i = 0; i < max; i++) {
        uint8_t c = r->p[r->at + i];
        if (i >= len ? c != 0 : !(name ? name_char(c) : (c >= 0x20 && c <= 0x7e))) {
            lfail(r, "%s has a bad byte 0x%02x at %u", field, c, i);
            return;
        }
    }
    memcpy(dst, r->p + r->at, len);
    dst[len] = '\0';
    r->at += max;
}

static bool page_aligned(uint64_t v) { return (v & (PROTO_PAGE_SIZE - 1)) == 0; }

static bool canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

static void check_attach_ok(struct lrd *r, const struct elisa_link_attach_ok *a)
{
    bool exit_mode = a->mode == PROTO_MODE_EXIT;

    if (a->guest_id == 0)
        lfail(r, "guest_id is 0");
    else if (a->vcpu == PROTO_VCPU_ALL)
        lfail(r, "vcpu is 0xffffffff");
    else if (a->mode != PROTO_MODE_EXIT && a->mode != PROTO_MODE_VMFUNC)
        lfail(r, "mode %u is neither 1 (VMFUNC) nor 2 (EXIT)", a->mode);
    else if (!exit_mode && a->doorbell != 0)   /* EXIT: a port, or 0 for MMIO */
        lfail(r, "doorbell 0x%x in VMFUNC mode", a->doorbell);
    else if (!page_aligned(a->gate_gpa) || a->gate_gpa > PROTO_GPA_LIMIT - PROTO_GATE_SIZE)
        lfail(r, "gate_gpa 0x%llx is not a page below 2^52", (unsigned long long)a->gate_gpa);
    else if (!page_aligned(a->gate_gva) || a->gate_gva > UINT64_MAX - PROTO_GATE_SIZE + 1 ||
             !canonical(a->gate_gva) || !canonical(a->gate_gva + PROTO_GATE_SIZE - 1))
        lfail(r, "gate_gva 0x%llx is not a canonical page", (unsigned long long)a->gate_gva);
    else if (!page_aligned(a->shared_gpa) || !page_aligned(a->shared_size) ||
             a->shared_gpa >= PROTO_GPA_LIMIT || a->shared_size > PROTO_GPA_LIMIT - a->shared_gpa ||
             (a->shared_size == 0 && a->shared_gpa != 0))
        lfail(r, "shared range 0x%llx+0x%llx is not page aligned below 2^52",
              (unsigned long long)a->shared_gpa, (unsigned long long)a->shared_size);
    else if (a->shared_size != 0 && a->shared_gpa < a->gate_gpa + PROTO_GATE_SIZE &&
             a->gate_gpa < a->shared_gpa + a->shared_size)
        lfail(r, "shared range overlaps the gate block");
    else if (a->app_size == 0 || !page_aligned(a->app_size) || a->app_size > UINT32_MAX)
        lfail(r, "app_size %llu is not a non-zero page multiple below 4 GiB",
              (unsigned long long)a->app_size);
    else if (a->entry_offset >= a->app_size)
        lfail(r, "entry_offset %u is outside the %llu-byte image", a->entry_offset,
              (unsigned long long)a->app_size);
    else if (!page_aligned(a->region_size) || !page_aligned(a->guest_off))
        lfail(r, "region_size 0x%llx or guest_off 0x%llx is not page aligned",
              (unsigned long long)a->region_size, (unsigned long long)a->guest_off);
    else if (a->guest_off > a->region_size || a->shared_size > a->region_size - a->guest_off)
        lfail(r, "region_size %llu is smaller than guest_off + shared_size (%llu + %llu)",
              (unsigned long long)a->region_size, (unsigned long long)a->guest_off,
              (unsigned long long)a->shared_size);
    else if (a->region_size == 0 && (a->guest_off != 0 || a->env_arg != 0))
        lfail(r, "no region but guest_off or env_arg set");
}

int elisa_link_decode(const uint8_t *buf, size_t len, struct elisa_link_msg *m, char *err,
                      size_t errlen)
{
    struct lrd r = { buf, 0, 0, false, err, errlen, "?" };
    uint32_t magic, length, want;
    uint16_t version, type;

    if (len < ELISA_LINK_HDR) {
        snprintf(err, errlen, "link message: %zu bytes, shorter than the %u-byte header", len,
                 ELISA_LINK_HDR);
        return -1;
    }
    r.n = ELISA_LINK_HDR;
    magic = (uint32_t)lget(&r, 4);
    version = (uint16_t)lget(&r, 2);
    type = (uint16_t)lget(&r, 2);
    length = (uint32_t)lget(&r, 4);
    if (magic != ELISA_LINK_MAGIC) {
        snprintf(err, errlen, "link message: bad magic 0x%08x (not an ELISA host link peer)", magic);
        return -1;
    }
    if (version != ELISA_LINK_VERSION) {
        snprintf(err, errlen, "link message: version %u, this side speaks %u", version,
                 ELISA_LINK_VERSION);
        return -1;
    }
    want = elisa_link_body_size(type);
    if (want == 0) {
        snprintf(err, errlen, "link message: unknown type %u", type);
        return -1;
    }
    r.type = elisa_link_type_name(type);
    if (length != want || len != ELISA_LINK_HDR + (size_t)want) {
        snprintf(err, errlen, "link message: %s length %u in a %zu-byte packet, expected %u",
                 r.type, length, len, want);
        return -1;
    }
    r.p = buf + ELISA_LINK_HDR;
    r.n = want;
    r.at = 0;
    memset(m, 0, sizeof(*m));
    m->type = type;
    switch (type) {
    case ELISA_LINK_ATTACH:
    case ELISA_LINK_VMFUNC_QUERY:
    case ELISA_LINK_VMFUNC_INSTALLED:
        m->u.attach.guest_id = (uint32_t)lget(&r, 4);
        m->u.attach.vcpu = (uint32_t)lget(&r, 4);
        if (m->u.attach.guest_id == 0)
            lfail(&r, "guest_id is 0");
        else if (m->u.attach.vcpu == PROTO_VCPU_ALL)
            lfail(&r, "vcpu is 0xffffffff");
        break;
    case ELISA_LINK_ATTACH_OK: {
        struct elisa_link_attach_ok *a = &m->u.attach_ok;
        a->guest_id = (uint32_t)lget(&r, 4);
        a->vcpu = (uint32_t)lget(&r, 4);
        a->mode = (uint8_t)lget(&r, 1);
        a->doorbell = (uint16_t)lget(&r, 2);
        a->gate_gpa = lget(&r, 8);
        a->gate_gva = lget(&r, 8);
        a->shared_gpa = lget(&r, 8);
        a->shared_size = lget(&r, 8);
        a->entry_offset = (uint32_t)lget(&r, 4);
        a->app_size = lget(&r, 8);
        a->region_size = lget(&r, 8);
        a->guest_off = lget(&r, 8);
        a->env_arg = lget(&r, 8);
        lstr(&r, "app", a->app, ELISA_LINK_APP_MAX, true);
        if (!r.bad)
            check_attach_ok(&r, a);
        break;
    }
    case ELISA_LINK_ERROR:
        m->u.error.code = (uint16_t)lget(&r, 2);
        if (m->u.error.code < 1 || m->u.error.code > PROTO_WIRE_LAST)
            lfail(&r, "code %u is not 1..%u", m->u.error.code, PROTO_WIRE_LAST);
        lstr(&r, "text", m->u.error.text, ELISA_LINK_TEXT_MAX, false);
        break;
    case ELISA_LINK_DETACH:
        m->u.detach.guest_id = (uint32_t)lget(&r, 4);
        m->u.detach.vcpu = (uint32_t)lget(&r, 4);
        m->u.detach.reason = (uint16_t)lget(&r, 2);
        if (m->u.detach.guest_id == 0)
            lfail(&r, "guest_id is 0");
        else if (m->u.detach.vcpu == PROTO_VCPU_ALL)
            lfail(&r, "vcpu is 0xffffffff");
        else if (m->u.detach.reason < ELISA_LINK_DISABLED || m->u.detach.reason > ELISA_LINK_STOPPING)
            lfail(&r, "reason %u is not 1..3", m->u.detach.reason);
        lstr(&r, "text", m->u.detach.text, ELISA_LINK_TEXT_MAX, false);
        break;
    case ELISA_LINK_VMFUNC_INFO: {
        struct elisa_link_vmfunc_info *v = &m->u.vmfunc_info;
        v->guest_id = (uint32_t)lget(&r, 4);
        v->vcpu = (uint32_t)lget(&r, 4);
        v->manager_kvm_id = (uint16_t)lget(&r, 2);
        v->guest_kvm_id = (uint16_t)lget(&r, 2);
        v->gate_hash = lget(&r, 8);
        if (v->guest_id == 0)
            lfail(&r, "guest_id is 0");
        else if (v->vcpu == PROTO_VCPU_ALL)
            lfail(&r, "vcpu is 0xffffffff");
        else if (v->manager_kvm_id == 0 || v->guest_kvm_id == 0 || v->manager_kvm_id == v->guest_kvm_id)
            lfail(&r, "KVM ids manager %u, guest %u are not two different ids 1..65535", v->manager_kvm_id,
                  v->guest_kvm_id);
        break;
    }
    case ELISA_LINK_VMFUNC_INSTALL: {
        struct elisa_link_vmfunc_install *v = &m->u.vmfunc_install;
        v->guest_id = (uint32_t)lget(&r, 4);
        v->vcpu = (uint32_t)lget(&r, 4);
        v->kvm_vcpu_id = (uint32_t)lget(&r, 4);
        v->user_mode = (uint8_t)lget(&r, 1);
        if (v->guest_id == 0)
            lfail(&r, "guest_id is 0");
        else if (v->vcpu == PROTO_VCPU_ALL)
            lfail(&r, "vcpu is 0xffffffff");
        else if (v->kvm_vcpu_id >= ELISA_LINK_KVM_VCPU_LIMIT)
            lfail(&r, "kvm_vcpu_id %u is not below %u", v->kvm_vcpu_id, ELISA_LINK_KVM_VCPU_LIMIT);
        else if (v->user_mode > 1)
            lfail(&r, "user_mode %u is neither 0 nor 1", v->user_mode);
        break;
    }
    }
    if (!r.bad && r.at != r.n)   /* every layout above reads exactly its size */
        lfail(&r, "layout read %u of %u bytes", r.at, r.n);
    return r.bad ? -1 : 0;
}

/* --- writing --------------------------------------------------------------------------- */

struct lwr {
    uint8_t *p;
    size_t at;
};

static void lput(struct lwr *w, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        w->p[w->at++] = (uint8_t)(v >> (8 * i));
}

/* Returns false if S is longer than MAX (no NUL within MAX + 1 bytes). */
static bool lput_str(struct lwr *w, const char *s, uint32_t max)
{
    uint32_t len = 0;

    while (len <= max && s[len] != '\0')
        len++;
    if (len > max)
        return false;
    lput(w, len, 2);
    memset(w->p + w->at, 0, max);
    memcpy(w->p + w->at, s, len);
    w->at += max;
    return true;
}

int elisa_link_encode(uint8_t *buf, size_t cap, const struct elisa_link_msg *m)
{
    uint8_t tmp[ELISA_LINK_MSG_MAX];
    struct lwr w = { tmp, 0 };
    uint32_t size = m ? elisa_link_body_size(m->type) : 0;
    struct elisa_link_msg check;
    char err[200];
    bool ok = true;

    if (size == 0 || buf == NULL || cap < ELISA_LINK_HDR + size)
        return -1;
    lput(&w, ELISA_LINK_MAGIC, 4);
    lput(&w, ELISA_LINK_VERSION, 2);
    lput(&w, m->type, 2);
    lput(&w, size, 4);
    switch (m->type) {
    case ELISA_LINK_ATTACH:
    case ELISA_LINK_VMFUNC_QUERY:
    case ELISA_LINK_VMFUNC_INSTALLED:
        lput(&w, m->u.attach.guest_id, 4);
        lput(&w, m->u.attach.vcpu, 4);
        break;
    case ELISA_LINK_ATTACH_OK: {
        const struct elisa_link_attach_ok *a = &m->u.attach_ok;
        lput(&w, a->guest_id, 4);
        lput(&w, a->vcpu, 4);
        lput(&w, a->mode, 1);
        lput(&w, a->doorbell, 2);
        lput(&w, a->gate_gpa, 8);
        lput(&w, a->gate_gva, 8);
        lput(&w, a->shared_gpa, 8);
        lput(&w, a->shared_size, 8);
        lput(&w, a->entry_offset, 4);
        lput(&w, a->app_size, 8);
        lput(&w, a->region_size, 8);
        lput(&w, a->guest_off, 8);
        lput(&w, a->env_arg, 8);
        ok = lput_str(&w, a->app, ELISA_LINK_APP_MAX);
        break;
    }
    case ELISA_LINK_ERROR:
        lput(&w, m->u.error.code, 2);
        ok = lput_str(&w, m->u.error.text, ELISA_LINK_TEXT_MAX);
        break;
    case ELISA_LINK_DETACH:
        lput(&w, m->u.detach.guest_id, 4);
        lput(&w, m->u.detach.vcpu, 4);
        lput(&w, m->u.detach.reason, 2);
        ok = lput_str(&w, m->u.detach.text, ELISA_LINK_TEXT_MAX);
        break;
    case ELISA_LINK_VMFUNC_INFO:
        lput(&w, m->u.vmfunc_info.guest_id, 4);
        lput(&w, m->u.vmfunc_info.vcpu, 4);
        lput(&w, m->u.vmfunc_info.manager_kvm_id, 2);
        lput(&w, m->u.vmfunc_info.guest_kvm_id, 2);
        lput(&w, m->u.vmfunc_info.gate_hash, 8);
        break;
    case ELISA_LINK_VMFUNC_INSTALL:
        lput(&w, m->u.vmfunc_install.guest_id, 4);
        lput(&w, m->u.vmfunc_install.vcpu, 4);
        lput(&w, m->u.vmfunc_install.kvm_vcpu_id, 4);
        lput(&w, m->u.vmfunc_install.user_mode, 1);
        break;
    }
    if (!ok || w.at != ELISA_LINK_HDR + size || elisa_link_decode(tmp, w.at, &check, err, sizeof(err)) != 0)
        return -1;
    memcpy(buf, tmp, w.at);
    return (int)w.at;
}

/* --- packets ---------------------------------------------------------------------------- */

int elisa_link_send(int sock, const struct elisa_link_msg *m, const int *fds, int nfds, char *err,
                    size_t errlen)
{
    uint8_t pkt[ELISA_LINK_MSG_MAX];
    union {   /* aligned control buffer, as cmsg(3) requires */
        struct cmsghdr align;
        char buf[CMSG_SPACE(sizeof(int) * ELISA_LINK_FDS_MAX)];
    } ctl;
    struct iovec iov;
    struct msghdr mh;
    int n = elisa_link_encode(pkt, sizeof(pkt), m);

    if (n < 0) {
        snprintf(err, errlen, "link: refusing to send an invalid %s message",
                 elisa_link_type_name(m->type));
        return -1;
    }
    if (nfds < 0 || nfds > ELISA_LINK_FDS_MAX) {
        snprintf(err, errlen, "link: %d fds is more than a message carries", nfds);
        return -1;
    }
    memset(&mh, 0, sizeof(mh));
    iov.iov_base = pkt;
    iov.iov_len = (size_t)n;
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    if (nfds > 0) {
        memset(&ctl, 0, sizeof(ctl));
        mh.msg_control = ctl.buf;
        mh.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
        memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
    }
    ssize_t s;
    do
        s = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (s < 0 && errno == EINTR);
    if (s != n) {
        int e = s < 0 ? errno : EMSGSIZE;   /* kept for the caller (EPIPE: peer gone) */
        snprintf(err, errlen, "link: send %s: %s", elisa_link_type_name(m->type), strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

static void close_all(int *fds, int *nfds)
{
    for (int i = 0; i < *nfds; i++)
        close(fds[i]);
    *nfds = 0;
}

int elisa_link_recv(int sock, struct elisa_link_msg *m, int *fds, int *nfds, char *err,
                    size_t errlen)
{
    uint8_t pkt[ELISA_LINK_MSG_MAX + 1];   /* one more: an oversize packet shows */
    union {
        struct cmsghdr align;
        /* Room for more fds than we accept, so that a peer sending too many
         * is seen (MSG_CTRUNC also catches what does not fit). */
        char buf[CMSG_SPACE(sizeof(int) * (ELISA_LINK_FDS_MAX + 2))];
    } ctl;
    struct iovec iov = { pkt, sizeof(pkt) };
    struct msghdr mh;
    ssize_t n;
    bool bad_cmsg = false;

    *nfds = 0;
    memset(&mh, 0, sizeof(mh));
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    do
        n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        int e = errno;   /* kept for the caller: EAGAIN on a non-blocking socket */
        snprintf(err, errlen, "link: receive: %s", strerror(e));
        errno = e;
        return -1;
    }
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (size_t i = 0; i < k; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                if (*nfds < ELISA_LINK_FDS_MAX)
                    fds[(*nfds)++] = fd;
                else {
                    close(fd);
                    bad_cmsg = true;
                }
            }
        } else {
            bad_cmsg = true;
        }
    }
    if (n == 0 && *nfds == 0)
        return 0;
    if (bad_cmsg || (mh.msg_flags & (MSG_CTRUNC | MSG_TRUNC))) {
        close_all(fds, nfds);
        snprintf(err, errlen, "link: a packet with %s", (mh.msg_flags & MSG_TRUNC)
                 ? "more bytes than any message" : "unexpected or too many file descriptors");
        errno = EPROTO;   /* the packet's fault, never "try again" */
        return -1;
    }
    if (elisa_link_decode(pkt, (size_t)n, m, err, errlen) != 0) {
        close_all(fds, nfds);
        errno = EPROTO;   /* the packet's fault, never "try again" */
        return -1;
    }
    int want = m->type == ELISA_LINK_ATTACH_OK ? 1 + (m->u.attach_ok.region_size != 0) : 0;
    if (*nfds != want) {
        snprintf(err, errlen, "link: %s came with %d file descriptors, expected %d",
                 elisa_link_type_name(m->type), *nfds, want);
        close_all(fds, nfds);
        errno = EPROTO;   /* the packet's fault, never "try again" */
        return -1;
    }
    return 1;
}
