/* tests/unit/test_elisa_manager_state.c - cmocka tests of the manager's
 * state (elisa/manager/state.h) and of one TCP peer's session
 * (elisa/manager/session.h), driven with plain structs: every rule of
 * permissions, contexts, ports and LIST, and the message-level rules.
 * Built with ASan+UBSan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../elisa/manager/session.h"
#include "../../elisa/manager/state.h"
#include "../../vmfunc/elisa_ids.h"

#define AREA  0x101000ull   /* a vmnet port area: header page + 2 x 256 x 2 KiB */
#define NOP   0
#define VMNET 1

static struct mgr_state st;

/* What the callbacks saw. */
static struct {
    unsigned detach, port_free;
    uint64_t link;
    uint32_t guest_id, vcpu, port;
    int reason;
} seen;

static void on_detach(void *opaque, uint64_t link, uint32_t guest_id, uint32_t vcpu, int reason,
                      const char *text)
{
    (void)opaque;
    assert_non_null(text);
    seen.detach++;
    seen.link = link;
    seen.guest_id = guest_id;
    seen.vcpu = vcpu;
    seen.reason = reason;
}

static void on_port_free(void *opaque, uint32_t app, uint32_t port)
{
    (void)opaque;
    assert_int_equal(app, VMNET);
    seen.port_free++;
    seen.port = port;
}

static struct mgr_layout exit_layout(void)
{
    struct mgr_layout l = { PROTO_MODE_EXIT, 0x0e1a, 0xc0000000ull, 0xc0000000ull,
                            0xc0200000ull, 4ull << 20 };
    return l;
}

static void apps(struct mgr_app_desc *a, uint32_t ports)
{
    memset(a, 0, 2 * sizeof(*a));
    snprintf(a[NOP].name, sizeof(a[NOP].name), "nop");
    a[NOP].entry_offset = 0x160;
    snprintf(a[VMNET].name, sizeof(a[VMNET].name), "vmnet");
    a[VMNET].entry_offset = 0x200;
    a[VMNET].nports = ports;
    a[VMNET].port_size = AREA;
    for (uint32_t p = 0; p < ports; p++)
        a[VMNET].port_off[p] = 0x5000 + p * AREA;
}

static int setup(void **state)
{
    struct mgr_app_desc a[2];
    struct mgr_layout l = exit_layout();
    char err[200];

    (void)state;
    apps(a, 2);
    assert_int_equal(mgr_state_init(&st, &l, a, 2, err, sizeof(err)), 0);
    st.on_detach = on_detach;
    st.on_port_free = on_port_free;
    memset(&seen, 0, sizeof(seen));
    return 0;
}

static int negotiate(int guest, uint64_t conn, uint32_t vcpu, const char *app, uint64_t size,
                     struct proto_negotiate_ok *ok, struct proto_negotiate_err *ne)
{
    struct proto_negotiate q;

    memset(&q, 0, sizeof(q));
    q.vcpu = vcpu;
    q.shared_size = size;
    snprintf(q.app, sizeof(q.app), "%s", app);
    return mgr_negotiate(&st, guest, conn, 2, &q, ok, ne);
}

/* --- layout checks at init ------------------------------------------------------------ */

static void test_init_refuses_bad_layouts(void **state)
{
    struct mgr_app_desc a[2];
    struct mgr_layout l;
    char err[200];

    (void)state;
    apps(a, 2);
#define BAD(field, value, text)                                                \
    do {                                                                       \
        l = exit_layout();                                                     \
        l.field = value;                                                       \
        assert_int_equal(mgr_state_init(&st, &l, a, 2, err, sizeof(err)), -1); \
        assert_non_null(strstr(err, text));                                    \
    } while (0)
    BAD(mode, 3, "neither VMFUNC nor EXIT");
    BAD(mode, PROTO_MODE_VMFUNC, "VMFUNC mode has no doorbell");   /* doorbell 0x0e1a */
    BAD(gate_gpa, 0xc0000800ull, "gate GPA");
    BAD(gate_gpa, (1ull << 52) - 0x1000, "gate GPA");
    BAD(gate_gva, 0x00007ffffff80000ull, "gate GVA");   /* the window crosses the hole */
    BAD(gate_gva, 0x0000800000000000ull, "gate GVA");   /* not canonical */
    BAD(shared_stride, 0, "stride");
    BAD(shared_stride, 0x1800, "stride");
    BAD(shared_gpa, 0xc0000000ull, "overlaps the gate window");
#undef BAD
    /* A port area larger than the stride does not fit. */
    l = exit_layout();
    l.shared_stride = 0x100000;
    assert_int_equal(mgr_state_init(&st, &l, a, 2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "does not fit the shared stride"));
    /* The same app twice. */
    l = exit_layout();
    a[VMNET] = a[NOP];
    assert_int_equal(mgr_state_init(&st, &l, a, 2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "given twice"));
    /* The defaults are fine (positive control). */
    apps(a, 2);
    assert_int_equal(mgr_state_init(&st, &l, a, 2, err, sizeof(err)), 0);
}

/* --- permissions and negotiation -------------------------------------------------------- */

static void test_denied_until_enabled(void **state)
{
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err ne;
    char text[PROTO_TEXT_MAX + 1];
    int g;

    (void)state;
    g = mgr_guest_join(&st, "web1");
    assert_true(g >= 0);
    assert_int_equal(negotiate(g, 1, 0, "vmnet", 0, &ok, &ne), PROTO_NEG_DENIED);
    assert_int_equal(ne.vcpu, 0);
    assert_string_equal(ne.text, "guest web1 is not enabled; run 'elisactl enable web1'");
    /* Nothing was handed out. */
    assert_int_equal(mgr_ports_in_use(&st, VMNET), 0);

    assert_int_equal(mgr_enable(&st, "web1", 3, text), 0);   /* only vCPU 3 */
    assert_int_equal(negotiate(g, 1, 0, "nop", 0, &ok, &ne), PROTO_NEG_DENIED);
    assert_int_equal(negotiate(g, 1, 3, "nop", 0, &ok, &ne), 0);
    assert_int_equal(mgr_enable(&st, "web1", PROTO_VCPU_ALL, text), 0);
    assert_int_equal(negotiate(g, 1, 0, "nop", 0, &ok, &ne), 0);
}

static void test_negotiate_ok_fields_exit_mode(void **state)
{
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err ne;
    char text[PROTO_TEXT_MAX + 1];
    uint8_t buf[PROTO_MSG_MAX];
    int g;

    (void)state;
    assert_int_equal(mgr_enable(&st, "web1", PROTO_VCPU_ALL, text), 0);
    g = mgr_guest_join(&st, "web1");
    assert_int_equal(negotiate(g, 7, 2, "vmnet", 0, &ok, &ne), 0);
    assert_int_equal(ok.vcpu, 2);
    assert_int_equal(ok.mode, PROTO_MODE_EXIT);
    assert_int_equal(ok.doorbell, 0x0e1a);
    assert_true(ok.gate_gpa == 0xc0000000ull + 2 * MGR_GATE_STRIDE);
    assert_true(ok.gate_gva == ok.gate_gpa);
    assert_int_equal(ok.idx_default | ok.idx_gate | ok.idx_sub, 0);
    assert_int_equal(ok.entry_offset, 0x200);
    assert_true(ok.shared_gpa == 0xc0200000ull + 2 * (4ull << 20));
    assert_true(ok.shared_size == AREA);
    /* What the manager says always goes on the wire. */
    assert_true(proto_enc_negotiate_ok(buf, sizeof(buf), 1, &ok) > 0);

    /* nop: no shared memory at all. */
    assert_int_equal(negotiate(g, 7, 1, "nop", 0, &ok, &ne), 0);
    assert_true(ok.shared_gpa == 0 && ok.shared_size == 0);
    assert_int_equal(ok.entry_offset, 0x160);
    assert_true(proto_enc_negotiate_ok(buf, sizeof(buf), 1, &ok) > 0);

    /* The context remembers what the guest was told, and its port. */
    const struct mgr_guest *gu = mgr_guest_by_name(&st, "web1");
    const struct mgr_ctx *c = mgr_ctx_find(&st, gu->id, 2);
    assert_non_null(c);
    assert_int_equal(c->state, PROTO_CTX_NEGOTIATED);
    assert_int_equal(c->port, 0);
    assert_true(c->guest_off == 0x5000);
    assert_true(c->ok.gate_gpa == 0xc0000000ull + 2 * MGR_GATE_STRIDE);
    assert_true(c->ok.shared_size == AREA);
    assert_int_equal(c->owner, 7);
}

static void test_negotiate_vmfunc_mode(void **state)
{
    struct mgr_app_desc a[2];
    struct mgr_layout l = exit_layout();
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err ne;
    char err[200], text[PROTO_TEXT_MAX + 1];
    uint8_t buf[PROTO_MSG_MAX];

    (void)state;
    apps(a, 2);
    l.mode = PROTO_MODE_VMFUNC;
    l.doorbell = 0;
    assert_int_equal(mgr_state_init(&st, &l, a, 2, err, sizeof(err)), 0);
    int g = mgr_guest_join(&st, "v");
    assert_int_equal(mgr_enable(&st, "v", PROTO_VCPU_ALL, text), 0);
    assert_int_equal(negotiate(g, 1, 0, "vmnet", 0, &ok, &ne), 0);
    assert_int_equal(ok.mode, PROTO_MODE_VMFUNC);
    assert_int_equal(ok.doorbell, 0);
    assert_int_equal(ok.idx_default, VMF_CTX_DEFAULT);
    assert_int_equal(ok.idx_gate, VMF_CTX_GATE);
    assert_int_equal(ok.idx_sub, VMF_CTX_SUB);
    assert_true(proto_enc_negotiate_ok(buf, sizeof(buf), 1, &ok) > 0);
    /* A version-1 guest may use VMFUNC mode. */
    struct proto_negotiate q = { 1, 0, "nop" };
    assert_int_equal(mgr_negotiate(&st, g, 1, 1, &q, &ok, &ne), 0);
}

static void test_negotiate_refusals(void **state)
{
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err ne;
    char text[PROTO_TEXT_MAX + 1];
    int g, h;

    (void)state;
    mgr_enable(&st, "a", PROTO_VCPU_ALL, text);
    mgr_enable(&st, "b", PROTO_VCPU_ALL, text);
    mgr_enable(&st, "c", PROTO_VCPU_ALL, text);
    g = mgr_guest_join(&st, "a");
    h = mgr_guest_join(&st, "b");

    assert_int_equal(negotiate(g, 1, MGR_VCPU_MAX, "nop", 0, &ok, &ne), PROTO_NEG_BAD_VCPU);
    assert_int_equal(negotiate(g, 1, 0, "nope", 0, &ok, &ne), PROTO_NEG_NO_APP);
    assert_string_equal(ne.text, "no app \"nope\" on this manager");
    assert_int_equal(negotiate(g, 1, 0, "vmnet", 4096, &ok, &ne), PROTO_NEG_NO_MEMORY);
    assert_non_null(strstr(ne.text, "needs 1052672 bytes"));
    /* Exactly the area, or more, is fine. */
    assert_int_equal(negotiate(g, 1, 0, "vmnet", AREA, &ok, &ne), 0);
    assert_int_equal(negotiate(g, 1, 1, "vmnet", 16ull << 20, &ok, &ne), 0);
    assert_true(ok.shared_size == AREA);
    /* Busy: the same vCPU again, from this or another connection. */
    assert_int_equal(negotiate(g, 1, 0, "nop", 0, &ok, &ne), PROTO_NEG_BUSY);
    assert_int_equal(negotiate(g, 2, 0, "nop", 0, &ok, &ne), PROTO_NEG_BUSY);
    assert_string_equal(ne.text, "vCPU 0 of guest a already has a negotiated vmnet context");
    /* Two ports, both taken by a: b gets none, its nop still works. */
    assert_int_equal(negotiate(h, 3, 0, "vmnet", 0, &ok, &ne), PROTO_NEG_NO_MEMORY);
    assert_string_equal(ne.text, "all 2 ports of vmnet are in use");
    assert_int_equal(negotiate(h, 3, 0, "nop", 0, &ok, &ne), 0);
    /* A version-1 guest on an exit host is told why. */
    struct proto_negotiate q = { 5, 0, "nop" };
    assert_int_equal(mgr_negotiate(&st, g, 1, 1, &q, &ok, &ne), PROTO_NEG_NO_VMFUNC);
    assert_non_null(strstr(ne.text, "needs protocol version 2"));
    assert_int_equal(mgr_ports_in_use(&st, VMNET), 2);
}

static void test_disconnect_releases(void **state)
{
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err ne;
    char text[PROTO_TEXT_MAX + 1];

    (void)state;
    mgr_enable(&st, "a", PROTO_VCPU_ALL, text);
    mgr_enable(&st, "b", PROTO_VCPU_ALL, text);
    int g = mgr_guest_join(&st, "a");
    int g2 = mgr_guest_join(&st, "a");   /* a second connection of the same guest */
    int h = mgr_guest_join(&st, "b");
    assert_int_equal(g, g2);
    assert_int_equal(negotiate(g, 10, 0, "vmnet", 0, &ok, &ne), 0);
    assert_int_equal(negotiate(g, 11, 1, "vmnet", 0, &ok, &ne), 0);
    assert_int_equal(negotiate(h, 12, 0, "vmnet", 0, &ok, &ne), PROTO_NEG_NO_MEMORY);

    /* Connection 10 closes: only its vCPU 0 goes, its port is freed. */
    mgr_guest_leave(&st, g, 10);
    const struct mgr_guest *gu = mgr_guest_by_name(&st, "a");
    assert_non_null(gu);
    assert_null(mgr_ctx_find(&st, gu->id, 0));
    assert_non_null(mgr_ctx_find(&st, gu->id, 1));
    assert_int_equal(seen.port_free, 1);
    assert_int_equal(seen.port, 0);
    assert_int_equal(seen.detach, 0);   /* nobody had attached it */
    assert_int_equal(negotiate(h, 12, 0, "vmnet", 0, &ok, &ne), 0);
    assert_true(mgr_ctx_find(&st, mgr_guest_by_name(&st, "b")->id, 0)->port == 0);

    /* A guest record lives while it is enabled, even with no connection. */
    mgr_guest_leave(&st, g2, 11);
    assert_non_null(mgr_guest_by_name(&st, "a"));
    mgr_disable(&st, "a", PROTO_VCPU_ALL, text);
    assert_null(mgr_guest_by_name(&st, "a"));
    /* A guest that was never enabled goes with its last connection. */
    int x = mgr_guest_join(&st, "x");
    assert_non_null(mgr_guest_by_name(&st, "x"));
    mgr_guest_leave(&st, x, 99);
    assert_null(mgr_guest_by_name(&st, "x"));
}

static void test_ids_are_stable_and_nonzero(void **state)
{
    char text[PROTO_TEXT_MAX + 1];

    (void)state;
    int a = mgr_guest_join(&st, "a");
    int b = mgr_guest_join(&st, "b");
    uint32_t ida = st.guests[a].id, idb = st.guests[b].id;
    assert_true(ida != 0 && idb != 0 && ida != idb);
    assert_int_equal(mgr_guest_join(&st, "a"), a);
    assert_int_equal(st.guests[a].id, ida);
    mgr_guest_leave(&st, b, 1);
    int c = mgr_guest_join(&st, "b");   /* a new record: a new id, never reused */
    assert_true(st.guests[c].id != idb);
    /* The table is bounded: one more than it holds is refused. */
    for (unsigned i = 0; i < MGR_GUESTS_MAX; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%u", i);
        mgr_guest_join(&st, name);
    }
    assert_int_equal(mgr_guest_join(&st, "one-too-many"), -PROTO_E_BUSY);
    assert_int_equal(mgr_enable(&st, "one-too-many", PROTO_VCPU_ALL, text), -PROTO_E_BUSY);
}

/* --- attach, disable, enable -------------------------------------------------------------- */

static void test_attach_rules(void **state)
{
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err ne;
    char text[PROTO_TEXT_MAX + 1];
    int code = 0;

    (void)state;
    mgr_enable(&st, "a", PROTO_VCPU_ALL, text);
    int g = mgr_guest_join(&st, "a");
    uint32_t id = st.guests[g].id;
    assert_int_equal(negotiate(g, 5, 0, "vmnet", 0, &ok, &ne), 0);

    assert_null(mgr_attach(&st, id + 100, 0, 40, &code, text));
    assert_int_equal(code, PROTO_E_NO_GUEST);
    assert_null(mgr_attach(&st, id, 1, 40, &code, text));        /* not negotiated */
    assert_int_equal(code, PROTO_E_NO_GUEST);
    assert_string_equal(text, "vCPU 1 of guest a is not negotiated; NEGOTIATE it first");

    const struct mgr_ctx *c = mgr_attach(&st, id, 0, 40, &code, text);
    assert_non_null(c);
    assert_int_equal(c->state, PROTO_CTX_ENABLED);
    assert_int_equal(c->link, 40);
    assert_null(mgr_attach(&st, id, 0, 41, &code, text));        /* a second host */
    assert_int_equal(code, PROTO_E_BUSY);

    /* The host's link closes: back to NEGOTIATED, attachable again. */
    mgr_link_gone(&st, 40);
    assert_int_equal(c->state, PROTO_CTX_NEGOTIATED);
    assert_int_equal(c->link, 0);
    assert_non_null(mgr_attach(&st, id, 0, 41, &code, text));

    /* Disable: DISABLED, the host is told, attach refused, listed. */
    assert_int_equal(mgr_disable(&st, "a", 0, text), 0);
    assert_int_equal(c->state, PROTO_CTX_DISABLED);
    assert_int_equal(seen.detach, 1);
    assert_int_equal(seen.link, 41);
    assert_int_equal(seen.guest_id, id);
    assert_int_equal(seen.vcpu, 0);
    assert_int_equal(seen.reason, MGR_DETACH_DISABLED);
    assert_null(mgr_attach(&st, id, 0, 42, &code, text));
    assert_int_equal(code, PROTO_E_DENIED);
    /* Disabling again tells nobody twice. */
    assert_int_equal(mgr_disable(&st, "a", 0, text), 0);
    assert_int_equal(seen.detach, 1);
    /* The port is kept while the context exists (it is still listed). */
    assert_int_equal(mgr_ports_in_use(&st, VMNET), 1);
    /* A new NEGOTIATE for it is refused (permission first); its other
     * vCPUs are still allowed. */
    assert_int_equal(negotiate(g, 6, 0, "nop", 0, &ok, &ne), PROTO_NEG_DENIED);
    assert_int_equal(negotiate(g, 6, 4, "nop", 0, &ok, &ne), 0);
    assert_int_equal(negotiate(g, 6, 0 + 8, "nop", 0, &ok, &ne), 0);

    /* Enable brings it back to NEGOTIATED. */
    assert_int_equal(mgr_enable(&st, "a", 0, text), 0);
    assert_int_equal(c->state, PROTO_CTX_NEGOTIATED);
    assert_non_null(mgr_attach(&st, id, 0, 43, &code, text));

    /* Release while attached: the host is told, the port freed. */
    mgr_guest_leave(&st, g, 5);
    assert_int_equal(seen.detach, 2);
    assert_int_equal(seen.link, 43);
    assert_int_equal(seen.reason, MGR_DETACH_RELEASED);
    assert_int_equal(seen.port_free, 1);
    assert_int_equal(mgr_ports_in_use(&st, VMNET), 0);

    /* Shutdown tells every attached host. */
    assert_non_null(mgr_attach(&st, id, 4, 44, &code, text));
    mgr_shutdown(&st);
    assert_int_equal(seen.detach, 3);
    assert_int_equal(seen.reason, MGR_DETACH_STOPPING);
}

static void test_disable_all_and_deny_bits(void **state)
{
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err ne;
    char text[PROTO_TEXT_MAX + 1];

    (void)state;
    assert_int_equal(mgr_disable(&st, "ghost", PROTO_VCPU_ALL, text), -PROTO_E_NO_GUEST);
    assert_string_equal(text, "no guest \"ghost\" on this manager");
    assert_int_equal(mgr_enable(&st, "a", 64, text), -PROTO_E_NO_GUEST);
    assert_int_equal(mgr_enable(&st, "a", PROTO_VCPU_ALL, text), 0);
    int g = mgr_guest_join(&st, "a");
    assert_int_equal(mgr_disable(&st, "a", 2, text), 0);
    assert_int_equal(negotiate(g, 1, 2, "nop", 0, &ok, &ne), PROTO_NEG_DENIED);
    assert_string_equal(ne.text, "vCPU 2 of guest a is disabled; run 'elisactl enable a --vcpu 2'");
    assert_int_equal(negotiate(g, 1, 3, "nop", 0, &ok, &ne), 0);
    assert_int_equal(negotiate(g, 1, 5, "nop", 0, &ok, &ne), 0);
    /* Disable all: every context DISABLED, nothing new. */
    assert_int_equal(mgr_disable(&st, "a", PROTO_VCPU_ALL, text), 0);
    uint32_t id = st.guests[g].id;
    assert_int_equal(mgr_ctx_find(&st, id, 3)->state, PROTO_CTX_DISABLED);
    assert_int_equal(mgr_ctx_find(&st, id, 5)->state, PROTO_CTX_DISABLED);
    assert_int_equal(negotiate(g, 1, 6, "nop", 0, &ok, &ne), PROTO_NEG_DENIED);
    /* Enable one vCPU: only its context comes back. */
    assert_int_equal(mgr_enable(&st, "a", 3, text), 0);
    assert_int_equal(mgr_ctx_find(&st, id, 3)->state, PROTO_CTX_NEGOTIATED);
    assert_int_equal(mgr_ctx_find(&st, id, 5)->state, PROTO_CTX_DISABLED);
}

/* --- LIST ----------------------------------------------------------------------------------- */

static void test_list_order_and_paging(void **state)
{
    static struct proto_list_ok l;
    struct proto_negotiate_ok ok;
    struct proto_negotiate_err ne;
    char text[PROTO_TEXT_MAX + 1];
    uint8_t buf[PROTO_MSG_MAX];

    (void)state;
    mgr_list(&st, 0, &l);
    assert_int_equal(l.total, 0);
    assert_int_equal(l.count, 0);
    /* Two guests, 40 vCPUs in shuffled order: 80 contexts, 3 pages. */
    mgr_enable(&st, "b", PROTO_VCPU_ALL, text);
    mgr_enable(&st, "a", PROTO_VCPU_ALL, text);
    int gb = mgr_guest_join(&st, "b");   /* b first: the lower id */
    int ga = mgr_guest_join(&st, "a");
    for (uint32_t i = 0; i < 40; i++) {
        uint32_t v = (i * 7) % 40;
        assert_int_equal(negotiate(ga, 1, v, "nop", 0, &ok, &ne), 0);
        assert_int_equal(negotiate(gb, 2, v, v == 3 ? "vmnet" : "nop", 0, &ok, &ne), 0);
    }
    uint32_t seen_n = 0;
    uint64_t last = 0;
    for (uint32_t start = 0; start < 80; start += l.count) {
        mgr_list(&st, start, &l);
        assert_int_equal(l.total, 80);
        assert_int_equal(l.start, start);
        assert_true(l.count > 0 && l.count <= PROTO_LIST_MAX);
        assert_true(proto_enc_list_ok(buf, sizeof(buf), 1, &l) > 0);
        for (uint16_t i = 0; i < l.count; i++) {
            uint64_t key = (uint64_t)l.entries[i].guest_id << 32 | l.entries[i].vcpu;
            assert_true(seen_n == 0 || key > last);
            last = key;
            seen_n++;
        }
    }
    assert_int_equal(seen_n, 80);
    /* The first entry is b's vCPU 0, with the numbers it was given. */
    mgr_list(&st, 0, &l);
    assert_string_equal(l.entries[0].guest, "b");
    assert_int_equal(l.entries[0].vcpu, 0);
    assert_string_equal(l.entries[3].app, "vmnet");
    assert_true(l.entries[3].shared_size == AREA);
    assert_true(l.entries[1].gate_gpa == 0xc0000000ull + MGR_GATE_STRIDE);
    /* A start past the end is an empty page at the end (valid on the wire). */
    mgr_list(&st, 1000, &l);
    assert_int_equal(l.start, 80);
    assert_int_equal(l.count, 0);
    assert_true(proto_enc_list_ok(buf, sizeof(buf), 1, &l) > 0);
}

/* --- sessions --------------------------------------------------------------------------------- */

static struct proto_msg in, out;
static char logline[320];

static int handle(struct mgr_session *s)
{
    return mgr_session_handle(&st, "mgr", s, &in, &out, logline, sizeof(logline));
}

static void msg_init(uint16_t type, uint16_t version, uint32_t req)
{
    memset(&in, 0, sizeof(in));
    in.type = type;
    in.version = version;
    in.req_id = req;
}

static void hello(struct mgr_session *s, uint8_t role, const char *name, uint16_t lo, uint16_t hi)
{
    msg_init(PROTO_HELLO, 1, 1);
    in.u.hello.ver_min = lo;
    in.u.hello.ver_max = hi;
    in.u.hello.role = role;
    snprintf(in.u.hello.name, sizeof(in.u.hello.name), "%s", name);
    (void)s;
}

/* Every reply the session makes must be encodable as is. */
static void encodable(void)
{
    uint8_t buf[PROTO_MSG_MAX];
    if (out.type)
        assert_true(proto_encode(buf, sizeof(buf), &out) > 0);
}

static void test_session_hello_first(void **state)
{
    struct mgr_session s;

    (void)state;
    mgr_session_init(&s, 1);
    msg_init(PROTO_LIST, 2, 5);
    assert_int_equal(handle(&s), MGR_SESSION_CLOSE);
    assert_int_equal(out.type, PROTO_ERROR);
    assert_int_equal(out.req_id, 5);
    assert_int_equal(out.u.error.code, PROTO_E_UNEXPECTED);
    assert_string_equal(out.u.error.text, "say HELLO first (got LIST)");
    encodable();

    /* No common version: ERROR with our range, close. */
    mgr_session_init(&s, 2);
    hello(&s, PROTO_ROLE_GUEST, "g", 3, 9);
    assert_int_equal(handle(&s), MGR_SESSION_CLOSE);
    assert_int_equal(out.u.error.code, PROTO_E_VERSION);
    assert_int_equal(out.u.error.ver_min, PROTO_VERSION_MIN);
    assert_int_equal(out.u.error.ver_max, PROTO_VERSION_MAX);
    assert_int_equal(out.version, 1);   /* frozen: any peer reads it */
    encodable();

    /* A version-1 guest gets version 1 in everything after HELLO. */
    mgr_session_init(&s, 3);
    hello(&s, PROTO_ROLE_GUEST, "old", 1, 1);
    assert_int_equal(handle(&s), MGR_SESSION_KEEP);
    assert_int_equal(out.type, PROTO_HELLO_OK);
    assert_int_equal(out.u.hello_ok.version, 1);
    assert_true(out.u.hello_ok.guest_id != 0);
    assert_string_equal(out.u.hello_ok.name, "mgr");
    encodable();
    msg_init(PROTO_NEGOTIATE, 1, 2);
    snprintf(in.u.negotiate.app, sizeof(in.u.negotiate.app), "nop");
    assert_int_equal(handle(&s), MGR_SESSION_KEEP);
    assert_int_equal(out.type, PROTO_NEGOTIATE_ERR);
    assert_int_equal(out.version, 1);
    encodable();
    /* HELLO twice: refused, connection kept. */
    hello(&s, PROTO_ROLE_GUEST, "old", 1, 2);
    assert_int_equal(handle(&s), MGR_SESSION_KEEP);
    assert_int_equal(out.u.error.code, PROTO_E_UNEXPECTED);
    mgr_session_end(&st, &s);
    assert_null(mgr_guest_by_name(&st, "old"));
}

static void test_session_roles(void **state)
{
    struct mgr_session op, gs;

    (void)state;
    mgr_session_init(&op, 1);
    hello(&op, PROTO_ROLE_OPERATOR, "elisactl", 1, 2);
    assert_int_equal(handle(&op), MGR_SESSION_KEEP);
    assert_int_equal(out.u.hello_ok.guest_id, 0);
    assert_int_equal(out.u.hello_ok.version, 2);

    mgr_session_init(&gs, 2);
    hello(&gs, PROTO_ROLE_GUEST, "web", 1, 2);
    assert_int_equal(handle(&gs), MGR_SESSION_KEEP);

    /* Guest: no LIST, no ENABLE, no DISABLE of others; NEGOTIATE denied. */
    msg_init(PROTO_LIST, 2, 3);
    handle(&gs);
    assert_int_equal(out.u.error.code, PROTO_E_DENIED);
    msg_init(PROTO_ENABLE, 2, 4);
    in.u.enable.vcpu = PROTO_VCPU_ALL;
    handle(&gs);
    assert_int_equal(out.u.error.code, PROTO_E_DENIED);
    msg_init(PROTO_DISABLE, 2, 5);
    snprintf(in.u.enable.guest, sizeof(in.u.enable.guest), "other");
    handle(&gs);
    assert_int_equal(out.u.error.code, PROTO_E_DENIED);
    msg_init(PROTO_NEGOTIATE, 2, 6);
    snprintf(in.u.negotiate.app, sizeof(in.u.negotiate.app), "vmnet");
    handle(&gs);
    assert_int_equal(out.type, PROTO_NEGOTIATE_ERR);
    assert_int_equal(out.u.negotiate_err.code, PROTO_NEG_DENIED);
    assert_int_equal(out.req_id, 6);
    encodable();

    /* Operator: ENABLE needs a name, then the guest negotiates. */
    msg_init(PROTO_ENABLE, 2, 7);
    in.u.enable.vcpu = PROTO_VCPU_ALL;
    handle(&op);
    assert_int_equal(out.u.error.code, PROTO_E_NO_GUEST);
    snprintf(in.u.enable.guest, sizeof(in.u.enable.guest), "web");
    handle(&op);
    assert_int_equal(out.type, PROTO_OK);
    assert_int_equal(out.u.ok.what, PROTO_ENABLE);
    encodable();
    msg_init(PROTO_NEGOTIATE, 2, 8);
    snprintf(in.u.negotiate.app, sizeof(in.u.negotiate.app), "vmnet");
    handle(&gs);
    assert_int_equal(out.type, PROTO_NEGOTIATE_OK);
    assert_int_equal(out.version, 2);
    encodable();
    /* Operator may not negotiate; LIST shows the context. */
    handle(&op);
    assert_int_equal(out.u.error.code, PROTO_E_DENIED);
    msg_init(PROTO_LIST, 2, 9);
    handle(&op);
    assert_int_equal(out.type, PROTO_LIST_OK);
    assert_int_equal(out.u.list_ok.total, 1);
    assert_string_equal(out.u.list_ok.entries[0].guest, "web");
    encodable();

    /* The guest disables itself: "" means itself. */
    msg_init(PROTO_DISABLE, 2, 10);
    in.u.enable.vcpu = 0;
    handle(&gs);
    assert_int_equal(out.type, PROTO_OK);
    assert_int_equal(mgr_ctx_find(&st, mgr_guest_by_name(&st, "web")->id, 0)->state,
                     PROTO_CTX_DISABLED);

    /* A message only the manager sends, and an ERROR from the peer. */
    msg_init(PROTO_OK, 2, 11);
    in.u.ok.what = PROTO_ENABLE;
    assert_int_equal(handle(&op), MGR_SESSION_KEEP);
    assert_int_equal(out.u.error.code, PROTO_E_UNEXPECTED);
    msg_init(PROTO_ERROR, 1, 12);
    in.u.error.code = PROTO_E_BUSY;
    assert_int_equal(handle(&op), MGR_SESSION_CLOSE);
    assert_int_equal(out.type, 0);

    /* The guest's connection ends: its context and port go. */
    mgr_session_end(&st, &gs);
    msg_init(PROTO_LIST, 2, 13);
    handle(&op);
    assert_int_equal(out.u.list_ok.total, 0);
    assert_int_equal(mgr_ports_in_use(&st, VMNET), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_init_refuses_bad_layouts, setup),
        cmocka_unit_test_setup(test_denied_until_enabled, setup),
        cmocka_unit_test_setup(test_negotiate_ok_fields_exit_mode, setup),
        cmocka_unit_test_setup(test_negotiate_vmfunc_mode, setup),
        cmocka_unit_test_setup(test_negotiate_refusals, setup),
        cmocka_unit_test_setup(test_disconnect_releases, setup),
        cmocka_unit_test_setup(test_ids_are_stable_and_nonzero, setup),
        cmocka_unit_test_setup(test_attach_rules, setup),
        cmocka_unit_test_setup(test_disable_all_and_deny_bits, setup),
        cmocka_unit_test_setup(test_list_order_and_paging, setup),
        cmocka_unit_test_setup(test_session_hello_first, setup),
        cmocka_unit_test_setup(test_session_roles, setup),
    };
    return cmocka_run_group_tests_name("elisa_manager_state", tests, NULL, NULL);
}
