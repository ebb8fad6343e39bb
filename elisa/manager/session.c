/* elisa/manager/session.c - one TCP peer's requests (session.h). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "session.h"

void mgr_session_init(struct mgr_session *s, uint64_t id)
{
    memset(s, 0, sizeof(*s));
    s->id = id;
    s->guest = -1;
}

/* Reply headers: HELLO_OK and ERROR at their frozen version 1 (a peer of
 * any version reads them), everything else at the agreed version. */
static void reply_init(struct proto_msg *r, const struct mgr_session *s, uint16_t type,
                       uint32_t req_id)
{
    memset(r, 0, sizeof(*r));
    r->type = type;
    r->req_id = req_id;
    r->version = (type == PROTO_HELLO_OK || type == PROTO_ERROR || s->version == 0)
                     ? PROTO_VERSION_HELLO : s->version;
}

static int reply_error(struct proto_msg *r, const struct mgr_session *s, uint32_t req_id,
                       int code, int verdict, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

static int reply_error(struct proto_msg *r, const struct mgr_session *s, uint32_t req_id,
                       int code, int verdict, const char *fmt, ...)
{
    va_list ap;

    reply_init(r, s, PROTO_ERROR, req_id);
    r->u.error.code = (uint16_t)code;
    r->u.error.ver_min = PROTO_VERSION_MIN;
    r->u.error.ver_max = PROTO_VERSION_MAX;
    va_start(ap, fmt);
    vsnprintf(r->u.error.text, sizeof(r->u.error.text), fmt, ap);
    va_end(ap);
    return verdict;
}

static int on_hello(struct mgr_state *st, const char *mgr_name, struct mgr_session *s,
                    const struct proto_msg *in, struct proto_msg *r, char *log, size_t loglen)
{
    const struct proto_hello *h = &in->u.hello;
    uint16_t v;

    if (s->role != 0)
        return reply_error(r, s, in->req_id, PROTO_E_UNEXPECTED, MGR_SESSION_KEEP,
                           "HELLO was already said on this connection");
    if (proto_version_pick(PROTO_VERSION_MIN, PROTO_VERSION_MAX, h->ver_min, h->ver_max, &v) != 0) {
        snprintf(log, loglen, "conn %llu: %s speaks versions %u..%u, we %u..%u: closed",
                 (unsigned long long)s->id, h->name, h->ver_min, h->ver_max, PROTO_VERSION_MIN,
                 PROTO_VERSION_MAX);
        return reply_error(r, s, in->req_id, PROTO_E_VERSION, MGR_SESSION_CLOSE,
                           "no common version: the peer speaks %u..%u, this manager %u..%u",
                           h->ver_min, h->ver_max, PROTO_VERSION_MIN, PROTO_VERSION_MAX);
    }
    if (h->role == PROTO_ROLE_GUEST) {
        int g = mgr_guest_join(st, h->name);
        if (g < 0)
            return reply_error(r, s, in->req_id, PROTO_E_BUSY, MGR_SESSION_CLOSE,
                               "this manager holds its limit of %u guests", MGR_GUESTS_MAX);
        s->guest = g;
    }
    s->role = h->role;
    s->version = v;
    snprintf(s->peer, sizeof(s->peer), "%s", h->name);
    reply_init(r, s, PROTO_HELLO_OK, in->req_id);
    r->u.hello_ok.version = v;
    r->u.hello_ok.guest_id = s->guest >= 0 ? st->guests[s->guest].id : 0;
    snprintf(r->u.hello_ok.name, sizeof(r->u.hello_ok.name), "%s", mgr_name);
    if (s->guest >= 0)
        snprintf(log, loglen, "conn %llu: HELLO guest %s, version %u, guest id %u",
                 (unsigned long long)s->id, h->name, v, st->guests[s->guest].id);
    else
        snprintf(log, loglen, "conn %llu: HELLO operator %s, version %u",
                 (unsigned long long)s->id, h->name, v);
    return MGR_SESSION_KEEP;
}

static int on_negotiate(struct mgr_state *st, struct mgr_session *s, const struct proto_msg *in,
                        struct proto_msg *r, char *log, size_t loglen)
{
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err nerr;
    const struct proto_negotiate *q = &in->u.negotiate;

    if (s->role != PROTO_ROLE_GUEST)
        return reply_error(r, s, in->req_id, PROTO_E_DENIED, MGR_SESSION_KEEP,
                           "only a guest negotiates: say HELLO with role guest");
    int code = mgr_negotiate(st, s->guest, s->id, s->version, q, &ok, &nerr);
    if (code != 0) {
        reply_init(r, s, PROTO_NEGOTIATE_ERR, in->req_id);
        r->u.negotiate_err = nerr;
        snprintf(log, loglen, "conn %llu: guest %s vCPU %u %s: refused: %s",
                 (unsigned long long)s->id, s->peer, q->vcpu, q->app, nerr.text);
        return MGR_SESSION_KEEP;
    }
    reply_init(r, s, PROTO_NEGOTIATE_OK, in->req_id);
    r->u.negotiate_ok = ok;
    snprintf(log, loglen, "conn %llu: guest %s vCPU %u %s: negotiated, gate 0x%llx, shared "
             "0x%llx+0x%llx", (unsigned long long)s->id, s->peer, q->vcpu, q->app,
             (unsigned long long)ok.gate_gpa, (unsigned long long)ok.shared_gpa,
             (unsigned long long)ok.shared_size);
    return MGR_SESSION_KEEP;
}

static int on_enable(struct mgr_state *st, struct mgr_session *s, const struct proto_msg *in,
                     struct proto_msg *r, char *log, size_t loglen)
{
    const struct proto_enable *e = &in->u.enable;
    bool enable = in->type == PROTO_ENABLE;
    const char *name = e->guest;
    char text[PROTO_TEXT_MAX + 1];
    char vcpu[24];
    int rc;

    if (s->role == PROTO_ROLE_GUEST) {
        /* A guest may give its own contexts up, never enable anything. */
        if (enable)
            return reply_error(r, s, in->req_id, PROTO_E_DENIED, MGR_SESSION_KEEP,
                               "only the operator enables guests ('elisactl enable %s')", s->peer);
        if (name[0] != '\0' && strcmp(name, s->peer) != 0)
            return reply_error(r, s, in->req_id, PROTO_E_DENIED, MGR_SESSION_KEEP,
                               "a guest may disable only itself");
        name = s->peer;
    } else if (name[0] == '\0') {
        return reply_error(r, s, in->req_id, PROTO_E_NO_GUEST, MGR_SESSION_KEEP,
                           "%s needs a guest name", enable ? "ENABLE" : "DISABLE");
    }
    rc = enable ? mgr_enable(st, name, e->vcpu, text) : mgr_disable(st, name, e->vcpu, text);
    if (rc < 0)
        return reply_error(r, s, in->req_id, -rc, MGR_SESSION_KEEP, "%s", text);
    if (e->vcpu == PROTO_VCPU_ALL)
        snprintf(vcpu, sizeof(vcpu), "all vCPUs");
    else
        snprintf(vcpu, sizeof(vcpu), "vCPU %u", e->vcpu);
    snprintf(log, loglen, "conn %llu: %s %s %s (by %s)", (unsigned long long)s->id,
             enable ? "enabled" : "disabled", name, vcpu, s->peer);
    reply_init(r, s, PROTO_OK, in->req_id);
    r->u.ok.what = in->type;
    return MGR_SESSION_KEEP;
}

int mgr_session_handle(struct mgr_state *st, const char *mgr_name, struct mgr_session *s,
                       const struct proto_msg *in, struct proto_msg *reply, char *log,
                       size_t loglen)
{
    log[0] = '\0';
    reply->type = 0;
    if (s->role == 0 && in->type != PROTO_HELLO) {
        snprintf(log, loglen, "conn %llu: %s before HELLO: closed", (unsigned long long)s->id,
                 proto_type_name(in->type));
        return reply_error(reply, s, in->req_id, PROTO_E_UNEXPECTED, MGR_SESSION_CLOSE,
                           "say HELLO first (got %s)", proto_type_name(in->type));
    }
    switch (in->type) {
    case PROTO_HELLO:
        return on_hello(st, mgr_name, s, in, reply, log, loglen);
    case PROTO_NEGOTIATE:
        return on_negotiate(st, s, in, reply, log, loglen);
    case PROTO_ENABLE:
    case PROTO_DISABLE:
        return on_enable(st, s, in, reply, log, loglen);
    case PROTO_LIST:
        if (s->role != PROTO_ROLE_OPERATOR)
            return reply_error(reply, s, in->req_id, PROTO_E_DENIED, MGR_SESSION_KEEP,
                               "LIST is for the operator (HELLO with role operator)");
        reply_init(reply, s, PROTO_LIST_OK, in->req_id);
        mgr_list(st, in->u.list.start, &reply->u.list_ok);
        return MGR_SESSION_KEEP;
    case PROTO_ERROR:
        snprintf(log, loglen, "conn %llu: %s sent ERROR %u (%s): closed",
                 (unsigned long long)s->id, s->peer, in->u.error.code, in->u.error.text);
        return MGR_SESSION_CLOSE;
    default:   /* HELLO_OK, NEGOTIATE_OK, NEGOTIATE_ERR, OK, LIST_OK */
        return reply_error(reply, s, in->req_id, PROTO_E_UNEXPECTED, MGR_SESSION_KEEP,
                           "%s is a message only the manager sends", proto_type_name(in->type));
    }
}

void mgr_session_end(struct mgr_state *st, struct mgr_session *s)
{
    if (s->guest >= 0)
        mgr_guest_leave(st, s->guest, s->id);
    s->guest = -1;
    s->role = 0;
}
