/* elisa/manager/state.c - guests, vCPU contexts, permissions and ports
 * (state.h).  Every table is a fixed array searched linearly: the limits
 * are small (1024 contexts) and a request touches a few entries, so the
 * simplest structure is also fast enough, and nothing is ever allocated.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"
#include "../../vmfunc/elisa_ids.h"

#define PAGE 4096ull

static bool page_aligned(uint64_t v) { return (v & (PAGE - 1)) == 0; }

static bool canonical(uint64_t va)
{
    uint64_t top = va >> 47;
    return top == 0 || top == 0x1ffff;
}

int mgr_state_init(struct mgr_state *st, const struct mgr_layout *layout,
                   const struct mgr_app_desc *apps, uint32_t napps, char *err, size_t errlen)
{
    const struct mgr_layout *l = layout;
    uint64_t gate_end = l->gate_gpa + MGR_VCPU_MAX * MGR_GATE_STRIDE;
    uint64_t gva_end = l->gate_gva + MGR_VCPU_MAX * MGR_GATE_STRIDE - 1;

    memset(st, 0, sizeof(*st));
    if (l->mode != PROTO_MODE_EXIT && l->mode != PROTO_MODE_VMFUNC) {
        snprintf(err, errlen, "host mode %u is neither VMFUNC nor EXIT", l->mode);
        return -1;
    }
    if (l->mode == PROTO_MODE_VMFUNC && l->doorbell != 0) {
        snprintf(err, errlen, "VMFUNC mode has no doorbell");
        return -1;
    }
    if (!page_aligned(l->gate_gpa) || l->gate_gpa >= PROTO_GPA_LIMIT ||
        gate_end > PROTO_GPA_LIMIT) {
        snprintf(err, errlen, "gate GPA 0x%llx: the %llu-byte gate window must be page aligned "
                 "below 2^52", (unsigned long long)l->gate_gpa,
                 (unsigned long long)(MGR_VCPU_MAX * MGR_GATE_STRIDE));
        return -1;
    }
    /* Both ends of the window canonical and on the same side of the hole. */
    if (!page_aligned(l->gate_gva) || gva_end < l->gate_gva || !canonical(l->gate_gva) ||
        !canonical(gva_end) || (l->gate_gva >> 47) != (gva_end >> 47)) {
        snprintf(err, errlen, "gate GVA 0x%llx: the gate window must be page aligned and "
                 "canonical", (unsigned long long)l->gate_gva);
        return -1;
    }
    if (l->shared_stride == 0 || !page_aligned(l->shared_stride) ||
        l->shared_stride > PROTO_GPA_LIMIT / MGR_VCPU_MAX || !page_aligned(l->shared_gpa) ||
        l->shared_gpa > PROTO_GPA_LIMIT - MGR_VCPU_MAX * l->shared_stride) {
        snprintf(err, errlen, "shared GPA 0x%llx, stride 0x%llx: the window must be page "
                 "aligned below 2^52", (unsigned long long)l->shared_gpa,
                 (unsigned long long)l->shared_stride);
        return -1;
    }
    uint64_t shared_end = l->shared_gpa + MGR_VCPU_MAX * l->shared_stride;
    if (l->shared_gpa < gate_end && l->gate_gpa < shared_end) {
        snprintf(err, errlen, "the shared window 0x%llx-0x%llx overlaps the gate window "
                 "0x%llx-0x%llx", (unsigned long long)l->shared_gpa,
                 (unsigned long long)shared_end, (unsigned long long)l->gate_gpa,
                 (unsigned long long)gate_end);
        return -1;
    }
    if (napps > MGR_APPS_MAX) {
        snprintf(err, errlen, "%u apps, at most %u", napps, MGR_APPS_MAX);
        return -1;
    }
    for (uint32_t i = 0; i < napps; i++) {
        const struct mgr_app_desc *a = &apps[i];
        if (a->nports > MGR_PORTS_MAX || (a->nports != 0) != (a->port_size != 0) ||
            !page_aligned(a->port_size)) {
            snprintf(err, errlen, "app %s: %u ports of %llu bytes is not a valid layout",
                     a->name, a->nports, (unsigned long long)a->port_size);
            return -1;
        }
        if (a->port_size > l->shared_stride) {
            snprintf(err, errlen, "app %s: a port area of %llu bytes does not fit the shared "
                     "stride of %llu bytes; raise --shared-stride or lower slots", a->name,
                     (unsigned long long)a->port_size, (unsigned long long)l->shared_stride);
            return -1;
        }
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(apps[j].name, a->name) == 0) {
                snprintf(err, errlen, "app %s given twice", a->name);
                return -1;
            }
    }
    st->layout = *l;
    memcpy(st->apps, apps, napps * sizeof(*apps));
    st->napps = napps;
    st->next_guest_id = 1;
    return 0;
}

/* One line into a PROTO_TEXT_MAX + 1 array: a reply's text is cut at the
 * wire's limit, which a long guest name can reach. */
__attribute__((format(printf, 2, 3)))
static void set_text(char *text, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(text, PROTO_TEXT_MAX + 1, fmt, ap);
    va_end(ap);
}

/* --- lookups -------------------------------------------------------------------- */

static int find_guest(const struct mgr_state *st, const char *name)
{
    for (uint32_t i = 0; i < MGR_GUESTS_MAX; i++)
        if (st->guests[i].used && strcmp(st->guests[i].name, name) == 0)
            return (int)i;
    return -1;
}

const struct mgr_guest *mgr_guest_by_name(const struct mgr_state *st, const char *name)
{
    int g = find_guest(st, name);
    return g < 0 ? NULL : &st->guests[g];
}

const struct mgr_guest *mgr_guest_by_id(const struct mgr_state *st, uint32_t id)
{
    for (uint32_t i = 0; i < MGR_GUESTS_MAX; i++)
        if (st->guests[i].used && st->guests[i].id == id)
            return &st->guests[i];
    return NULL;
}

static int find_ctx(const struct mgr_state *st, uint32_t guest, uint32_t vcpu)
{
    for (uint32_t i = 0; i < MGR_CTX_MAX; i++)
        if (st->ctx[i].used && st->ctx[i].guest == guest && st->ctx[i].vcpu == vcpu)
            return (int)i;
    return -1;
}

const struct mgr_ctx *mgr_ctx_find(const struct mgr_state *st, uint32_t guest_id, uint32_t vcpu)
{
    const struct mgr_guest *g = mgr_guest_by_id(st, guest_id);
    int c = g ? find_ctx(st, (uint32_t)(g - st->guests), vcpu) : -1;
    return c < 0 ? NULL : &st->ctx[c];
}

static int find_app(const struct mgr_state *st, const char *name)
{
    for (uint32_t i = 0; i < st->napps; i++)
        if (strcmp(st->apps[i].name, name) == 0)
            return (int)i;
    return -1;
}

uint32_t mgr_ports_in_use(const struct mgr_state *st, uint32_t app)
{
    return app < st->napps ? (uint32_t)__builtin_popcountll(st->ports_used[app]) : 0;
}

static bool allowed(const struct mgr_guest *g, uint32_t vcpu)
{
    uint64_t bit = 1ull << vcpu;
    return !(g->deny & bit) && (g->allow_all || (g->allow & bit));
}

/* --- context changes ----------------------------------------------------------------- */

static void detach(struct mgr_state *st, struct mgr_ctx *c, int reason, const char *text)
{
    if (c->link != 0 && st->on_detach)
        st->on_detach(st->opaque, c->link, st->guests[c->guest].id, c->vcpu, reason, text);
    c->link = 0;
}

static void release_ctx(struct mgr_state *st, struct mgr_ctx *c)
{
    detach(st, c, MGR_DETACH_RELEASED, "the guest's negotiation connection closed");
    if (c->port >= 0) {
        st->ports_used[c->app] &= ~(1ull << c->port);
        if (st->on_port_free)
            st->on_port_free(st->opaque, c->app, (uint32_t)c->port);
    }
    memset(c, 0, sizeof(*c));
}

static void disable_ctx(struct mgr_state *st, struct mgr_ctx *c)
{
    if (c->state == PROTO_CTX_DISABLED)
        return;
    detach(st, c, MGR_DETACH_DISABLED, "the operator disabled this vCPU");
    c->state = PROTO_CTX_DISABLED;
}

/* Forget a record that nothing refers to any more. */
static void maybe_free_guest(struct mgr_state *st, uint32_t g)
{
    struct mgr_guest *gu = &st->guests[g];

    if (!gu->used || gu->conns || gu->allow_all || gu->allow || gu->deny)
        return;
    for (uint32_t i = 0; i < MGR_CTX_MAX; i++)
        if (st->ctx[i].used && st->ctx[i].guest == g)
            return;
    memset(gu, 0, sizeof(*gu));
}

static int new_guest(struct mgr_state *st, const char *name)
{
    for (uint32_t i = 0; i < MGR_GUESTS_MAX; i++) {
        struct mgr_guest *g = &st->guests[i];
        if (g->used)
            continue;
        memset(g, 0, sizeof(*g));
        g->used = true;
        g->id = st->next_guest_id++;
        if (st->next_guest_id == 0)   /* 0 means "none" on the wire */
            st->next_guest_id = 1;
        snprintf(g->name, sizeof(g->name), "%s", name);
        return (int)i;
    }
    return -PROTO_E_BUSY;
}

int mgr_guest_join(struct mgr_state *st, const char *name)
{
    int g = find_guest(st, name);

    if (g < 0)
        g = new_guest(st, name);
    if (g >= 0)
        st->guests[g].conns++;
    return g;
}

void mgr_guest_leave(struct mgr_state *st, int guest, uint64_t conn)
{
    if (guest < 0 || (uint32_t)guest >= MGR_GUESTS_MAX || !st->guests[guest].used)
        return;
    for (uint32_t i = 0; i < MGR_CTX_MAX; i++)
        if (st->ctx[i].used && st->ctx[i].guest == (uint32_t)guest && st->ctx[i].owner == conn)
            release_ctx(st, &st->ctx[i]);
    if (st->guests[guest].conns)
        st->guests[guest].conns--;
    maybe_free_guest(st, (uint32_t)guest);
}

static bool vcpu_ok(uint32_t vcpu, char *text)
{
    if (vcpu == PROTO_VCPU_ALL || vcpu < MGR_VCPU_MAX)
        return true;
    set_text(text, "vCPU %u is over this manager's limit (0..%u)", vcpu,
             MGR_VCPU_MAX - 1);
    return false;
}

int mgr_enable(struct mgr_state *st, const char *name, uint32_t vcpu, char *text)
{
    int g;

    text[0] = '\0';
    if (!vcpu_ok(vcpu, text))
        return -PROTO_E_NO_GUEST;
    g = find_guest(st, name);
    if (g < 0)
        g = new_guest(st, name);
    if (g < 0) {
        set_text(text, "too many guests (%u)", MGR_GUESTS_MAX);
        return g;
    }
    struct mgr_guest *gu = &st->guests[g];
    if (vcpu == PROTO_VCPU_ALL) {
        gu->allow_all = true;
        gu->deny = 0;
    } else {
        gu->allow |= 1ull << vcpu;
        gu->deny &= ~(1ull << vcpu);
    }
    /* Contexts disabled earlier may be attached again. */
    for (uint32_t i = 0; i < MGR_CTX_MAX; i++) {
        struct mgr_ctx *c = &st->ctx[i];
        if (c->used && c->guest == (uint32_t)g && c->state == PROTO_CTX_DISABLED &&
            allowed(gu, c->vcpu))
            c->state = PROTO_CTX_NEGOTIATED;
    }
    return 0;
}

int mgr_disable(struct mgr_state *st, const char *name, uint32_t vcpu, char *text)
{
    int g = find_guest(st, name);

    text[0] = '\0';
    if (!vcpu_ok(vcpu, text))
        return -PROTO_E_NO_GUEST;
    if (g < 0) {
        set_text(text, "no guest \"%s\" on this manager", name);
        return -PROTO_E_NO_GUEST;
    }
    struct mgr_guest *gu = &st->guests[g];
    if (vcpu == PROTO_VCPU_ALL) {
        gu->allow_all = false;
        gu->allow = 0;
        gu->deny = 0;
    } else {
        gu->deny |= 1ull << vcpu;
        gu->allow &= ~(1ull << vcpu);
    }
    for (uint32_t i = 0; i < MGR_CTX_MAX; i++) {
        struct mgr_ctx *c = &st->ctx[i];
        if (c->used && c->guest == (uint32_t)g && (vcpu == PROTO_VCPU_ALL || c->vcpu == vcpu))
            disable_ctx(st, c);
    }
    maybe_free_guest(st, (uint32_t)g);
    return 0;
}

static const char *state_name(uint8_t s)
{
    switch (s) {
    case PROTO_CTX_NEGOTIATED: return "negotiated";
    case PROTO_CTX_ENABLED:    return "enabled";
    case PROTO_CTX_DISABLED:   return "disabled";
    default:                   return "?";
    }
}

static int neg_fail(struct proto_negotiate_err *nerr, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int neg_fail(struct proto_negotiate_err *nerr, int code, const char *fmt, ...)
{
    va_list ap;

    nerr->code = (uint16_t)code;
    va_start(ap, fmt);
    vsnprintf(nerr->text, sizeof(nerr->text), fmt, ap);
    va_end(ap);
    return code;
}

int mgr_negotiate(struct mgr_state *st, int guest, uint64_t conn, uint16_t version,
                  const struct proto_negotiate *req, struct proto_negotiate_ok *ok,
                  struct proto_negotiate_err *nerr)
{
    const struct mgr_layout *l = &st->layout;
    struct mgr_guest *gu = &st->guests[guest];
    uint32_t v = req->vcpu;
    int app, c;

    memset(nerr, 0, sizeof(*nerr));
    nerr->vcpu = v;
    if (v >= MGR_VCPU_MAX)
        return neg_fail(nerr, PROTO_NEG_BAD_VCPU, "vCPU %u is over this manager's limit (0..%u)",
                        v, MGR_VCPU_MAX - 1);
    /* Permission before anything else: a guest the operator has not
     * enabled learns nothing about this manager's apps or ports. */
    if (!allowed(gu, v)) {
        if (gu->deny & (1ull << v))
            return neg_fail(nerr, PROTO_NEG_DENIED, "vCPU %u of guest %s is disabled; run "
                            "'elisactl enable %s --vcpu %u'", v, gu->name, gu->name, v);
        return neg_fail(nerr, PROTO_NEG_DENIED, "guest %s is not enabled; run 'elisactl "
                        "enable %s'", gu->name, gu->name);
    }
    app = find_app(st, req->app);
    if (app < 0)
        return neg_fail(nerr, PROTO_NEG_NO_APP, "no app \"%s\" on this manager", req->app);
    c = find_ctx(st, (uint32_t)guest, v);
    if (c >= 0)
        return neg_fail(nerr, PROTO_NEG_BUSY, "vCPU %u of guest %s already has a %s %s context",
                        v, gu->name, state_name(st->ctx[c].state),
                        st->apps[st->ctx[c].app].name);
    /* A version-1 guest cannot be told about the exit-based fallback. */
    if (l->mode == PROTO_MODE_EXIT && version < 2)
        return neg_fail(nerr, PROTO_NEG_NO_VMFUNC, "this host has no VMFUNC; its exit-based "
                        "fallback needs protocol version 2 (the guest speaks %u)", version);

    const struct mgr_app_desc *a = &st->apps[app];
    uint64_t granted = a->nports ? a->port_size : 0;
    if (req->shared_size != 0 && granted > req->shared_size)
        return neg_fail(nerr, PROTO_NEG_NO_MEMORY, "app %s needs %llu bytes of shared memory, "
                        "more than the %llu asked for", a->name, (unsigned long long)granted,
                        (unsigned long long)req->shared_size);
    int32_t port = -1;
    if (a->nports) {
        for (uint32_t p = 0; p < a->nports; p++)
            if (!((st->ports_used[app] | st->ports_quarantined[app]) & (1ull << p))) {
                port = (int32_t)p;
                break;
            }
        if (port < 0)
            return neg_fail(nerr, PROTO_NEG_NO_MEMORY, "all %u ports of %s are in use",
                            a->nports, a->name);
    }
    for (c = 0; c < (int)MGR_CTX_MAX && st->ctx[c].used; c++)
        ;
    if (c == (int)MGR_CTX_MAX)
        return neg_fail(nerr, PROTO_NEG_NO_MEMORY, "this manager holds its limit of %u "
                        "contexts", MGR_CTX_MAX);

    memset(ok, 0, sizeof(*ok));
    ok->vcpu = v;
    ok->mode = l->mode;
    ok->gate_gpa = l->gate_gpa + v * MGR_GATE_STRIDE;
    ok->gate_gva = l->gate_gva + v * MGR_GATE_STRIDE;
    if (l->mode == PROTO_MODE_EXIT) {
        /* No EPTP list: the indexes are 0 (proto.h), the doorbell rings. */
        ok->doorbell = l->doorbell;
    } else {
        ok->idx_default = VMF_CTX_DEFAULT;
        ok->idx_gate = VMF_CTX_GATE;
        ok->idx_sub = VMF_CTX_SUB;
    }
    ok->entry_offset = a->entry_offset;
    if (granted) {
        ok->shared_gpa = l->shared_gpa + v * l->shared_stride;
        ok->shared_size = granted;
    }

    struct mgr_ctx *cx = &st->ctx[c];
    memset(cx, 0, sizeof(*cx));
    cx->used = true;
    cx->guest = (uint32_t)guest;
    cx->vcpu = v;
    cx->state = PROTO_CTX_NEGOTIATED;
    cx->app = (uint32_t)app;
    cx->port = port;
    cx->owner = conn;
    cx->guest_off = port >= 0 ? a->port_off[port] : 0;
    cx->ok = *ok;
    if (port >= 0)
        st->ports_used[app] |= 1ull << port;
    return 0;
}

const struct mgr_ctx *mgr_attach(struct mgr_state *st, uint32_t guest_id, uint32_t vcpu,
                                 uint64_t link, int *code, char *text)
{
    const struct mgr_guest *g = mgr_guest_by_id(st, guest_id);
    int c;

    if (!g) {
        *code = PROTO_E_NO_GUEST;
        set_text(text, "no guest with id %u on this manager", guest_id);
        return NULL;
    }
    c = find_ctx(st, (uint32_t)(g - st->guests), vcpu);
    if (c < 0) {
        *code = PROTO_E_NO_GUEST;
        set_text(text, "vCPU %u of guest %s is not negotiated; NEGOTIATE "
                 "it first", vcpu, g->name);
        return NULL;
    }
    struct mgr_ctx *cx = &st->ctx[c];
    if (cx->state == PROTO_CTX_DISABLED || !allowed(g, vcpu)) {
        *code = PROTO_E_DENIED;
        set_text(text, "vCPU %u of guest %s is disabled; run 'elisactl "
                 "enable %s'", vcpu, g->name, g->name);
        return NULL;
    }
    if (cx->state == PROTO_CTX_ENABLED) {
        *code = PROTO_E_BUSY;
        set_text(text, "vCPU %u of guest %s is already attached by a host",
                 vcpu, g->name);
        return NULL;
    }
    cx->state = PROTO_CTX_ENABLED;
    cx->link = link;
    return cx;
}

void mgr_link_gone(struct mgr_state *st, uint64_t link)
{
    for (uint32_t i = 0; i < MGR_CTX_MAX; i++) {
        struct mgr_ctx *c = &st->ctx[i];
        if (c->used && c->link == link) {
            c->link = 0;
            if (c->state == PROTO_CTX_ENABLED)
                c->state = PROTO_CTX_NEGOTIATED;
        }
    }
}

void mgr_shutdown(struct mgr_state *st)
{
    for (uint32_t i = 0; i < MGR_CTX_MAX; i++)
        if (st->ctx[i].used)
            detach(st, &st->ctx[i], MGR_DETACH_STOPPING, "the manager is stopping");
}

void mgr_port_quarantine(struct mgr_state *st, uint32_t app, uint32_t port)
{
    if (app < st->napps && port < MGR_PORTS_MAX)
        st->ports_quarantined[app] |= 1ull << port;
}

/* --- LIST ------------------------------------------------------------------------------ */

struct list_key {
    uint64_t key;     /* guest id << 32 | vCPU: the LIST order */
    uint32_t idx;
};

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = ((const struct list_key *)a)->key, y = ((const struct list_key *)b)->key;
    return x < y ? -1 : x > y;
}

void mgr_list(const struct mgr_state *st, uint32_t start, struct proto_list_ok *out)
{
    static struct list_key keys[MGR_CTX_MAX];   /* single-threaded manager */
    uint32_t n = 0;

    for (uint32_t i = 0; i < MGR_CTX_MAX; i++)
        if (st->ctx[i].used) {
            keys[n].key = (uint64_t)st->guests[st->ctx[i].guest].id << 32 | st->ctx[i].vcpu;
            keys[n].idx = i;
            n++;
        }
    qsort(keys, n, sizeof(keys[0]), cmp_key);
    memset(out, 0, sizeof(*out));
    out->total = n;
    /* start + count <= total must hold on the wire: a start past the end
     * is answered as an empty page at the end. */
    out->start = start < n ? start : n;
    for (uint32_t i = out->start; i < n && out->count < PROTO_LIST_MAX; i++) {
        const struct mgr_ctx *c = &st->ctx[keys[i].idx];
        struct proto_list_entry *e = &out->entries[out->count++];
        e->guest_id = st->guests[c->guest].id;
        snprintf(e->guest, sizeof(e->guest), "%s", st->guests[c->guest].name);
        e->vcpu = c->vcpu;
        e->state = c->state;
        snprintf(e->app, sizeof(e->app), "%s", st->apps[c->app].name);
        e->gate_gpa = c->ok.gate_gpa;
        e->shared_gpa = c->ok.shared_gpa;
        e->shared_size = c->ok.shared_size;
    }
}
