/* tests/unit/test_elisa_proto.c - cmocka unit tests of the ELISA
 * manager/guest negotiation protocol (elisa/proto/proto.h).
 *
 * Wire bytes are written by hand here (put16/put32 below, little-endian)
 * wherever a test is about the format itself, so the encoder is not
 * checked only against itself.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "proto.h"
#include "elisa_ids.h"

static uint8_t buf[PROTO_MSG_MAX + 64];
static uint8_t buf2[PROTO_MSG_MAX + 64];
static struct proto_msg msg, msg2;
static struct proto_dec dec;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* A message from raw parts: header fields as given, BODY copied. */
static size_t raw(uint8_t *out, uint16_t version, uint16_t type, uint32_t flags, uint32_t length,
                  uint32_t req, const uint8_t *body, size_t body_len)
{
    out[0] = 'E'; out[1] = 'L'; out[2] = 'S'; out[3] = 'A';
    put16(out + 4, version);
    put16(out + 6, type);
    put32(out + 8, flags);
    put32(out + 12, length);
    put32(out + 16, req);
    if (body_len)
        memcpy(out + PROTO_HDR_SIZE, body, body_len);
    return PROTO_HDR_SIZE + body_len;
}

/* Decode LEN bytes in one piece; expect an error CODE at FIELD_OFFSET. */
static struct proto_err expect_error(const uint8_t *p, size_t len, int code, uint32_t field_offset)
{
    struct proto_err e;
    size_t used;
    int rc = proto_decode(p, len, &used, &msg, &e);

    if (rc != -code) {
        char line[200];
        fprintf(stderr, "expected %s, got %d (%s)\n", proto_strerror(code), rc,
                rc < 0 ? proto_err_format(&e, line, sizeof(line)) : "no error");
    }
    assert_int_equal(rc, -code);
    assert_int_equal(e.code, code);
    assert_int_equal(e.field_offset, field_offset);
    assert_true(used <= len);
    assert_true(e.msg_offset + e.field_offset <= used);
    return e;
}

/* Encode with ENC's result N, decode it, check it re-encodes identically. */
static void roundtrip(int n, uint16_t type)
{
    size_t used;
    struct proto_err e;

    assert_true(n >= (int)PROTO_HDR_SIZE);
    assert_int_equal(proto_decode(buf, (size_t)n, &used, &msg, &e), PROTO_MESSAGE);
    assert_int_equal(used, (size_t)n);
    assert_int_equal(msg.type, type);
    assert_int_equal(proto_encode(buf2, sizeof(buf2), &msg), n);
    assert_memory_equal(buf, buf2, (size_t)n);
    /* Every shorter buffer is a prefix: "need more", never an error. */
    for (int k = 0; k < n; k++) {
        assert_int_equal(proto_decode(buf, (size_t)k, &used, &msg2, NULL), PROTO_NEED_MORE);
        assert_int_equal(used, (size_t)k);
    }
    /* Every smaller output buffer is refused cleanly. */
    for (int k = 0; k < n; k++)
        assert_int_equal(proto_encode(buf2, (size_t)k, &msg), -PROTO_E_NOSPACE);
}

/* ---- the wire format itself ------------------------------------------------------ */

static void test_header_bytes(void **state)
{
    (void)state;
    struct proto_hello h = { 1, 3, PROTO_ROLE_GUEST, "vm1" };
    static const uint8_t want[] = {
        'E', 'L', 'S', 'A',          /* magic */
        0x01, 0x00,                  /* version 1 */
        0x01, 0x00,                  /* type HELLO */
        0x00, 0x00, 0x00, 0x00,      /* flags */
        0x0a, 0x00, 0x00, 0x00,      /* body length 10 */
        0x78, 0x56, 0x34, 0x12,      /* request id */
        0x01, 0x00, 0x03, 0x00,      /* ver_min 1, ver_max 3 */
        0x01,                        /* role guest */
        0x03, 0x00, 'v', 'm', '1',   /* name */
    };
    int n = proto_enc_hello(buf, sizeof(buf), 0x12345678, &h);

    assert_int_equal(n, (int)sizeof(want));
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(PROTO_MAGIC, (uint32_t)'E' | (uint32_t)'L' << 8 | (uint32_t)'S' << 16 |
                                  (uint32_t)'A' << 24);

    /* NEGOTIATE_OK version 2: fixed 49-byte body, fields at the README's
     * offsets (mode and doorbell right after vcpu). */
    struct proto_negotiate_ok no = { 5, 0x11000, 0x7f0000001000ull, 0, 0, 0, 0x1234,
                                     0x200000, 0x400000, PROTO_MODE_EXIT, 0x0e1a };
    n = proto_enc_negotiate_ok(buf, sizeof(buf), 9, &no);
    assert_int_equal(n, (int)PROTO_HDR_SIZE + 49);
    assert_int_equal(buf[PROTO_OFF_VERSION], 2);
    const uint8_t *b = buf + PROTO_HDR_SIZE;
    assert_int_equal(b[0], 5);                      /* vcpu @0 */
    assert_int_equal(b[4], PROTO_MODE_EXIT);        /* mode @4 */
    assert_int_equal(b[5], 0x1a);                   /* doorbell @5 */
    assert_int_equal(b[6], 0x0e);
    assert_int_equal(b[7 + 1], 0x10);               /* gate_gpa @7: 0x11000 */
    assert_int_equal(b[7 + 2], 0x01);
    assert_int_equal(b[15 + 5], 0x7f);              /* gate_gva @15 */
    assert_int_equal(b[23] | b[25] | b[27], 0);     /* idx_* @23, 25, 27: 0 in EXIT mode */
    assert_int_equal(b[29], 0x34);                  /* entry_offset @29 */
    assert_int_equal(b[30], 0x12);
    assert_int_equal(b[33 + 2], 0x20);              /* shared_gpa @33 */
    assert_int_equal(b[41 + 2], 0x40);              /* shared_size @41 */

    /* Version 1: the 46-byte body without mode and doorbell. */
    struct proto_negotiate_ok v1 = { 5, 0x11000, 0x7f0000001000ull, 0, 1, 2, 0x1234,
                                     0x200000, 0x400000, PROTO_MODE_VMFUNC, 0 };
    memset(&msg, 0, sizeof(msg));
    msg.type = PROTO_NEGOTIATE_OK;
    msg.version = 1;
    msg.u.negotiate_ok = v1;
    n = proto_encode(buf, sizeof(buf), &msg);
    assert_int_equal(n, (int)PROTO_HDR_SIZE + 46);
    assert_int_equal(buf[PROTO_OFF_VERSION], 1);
    assert_int_equal(b[0], 5);                      /* vcpu @0 */
    assert_int_equal(b[4 + 1], 0x10);               /* gate_gpa @4: 0x11000 */
    assert_int_equal(b[4 + 2], 0x01);
    assert_int_equal(b[12 + 5], 0x7f);              /* gate_gva @12 */
    assert_int_equal(b[20], 0);                     /* idx_default @20 */
    assert_int_equal(b[22], 1);                     /* idx_gate @22 */
    assert_int_equal(b[24], 2);                     /* idx_sub @24 */
    assert_int_equal(b[26], 0x34);                  /* entry_offset @26 */
    assert_int_equal(b[27], 0x12);
    assert_int_equal(b[30 + 2], 0x20);              /* shared_gpa @30 */
    assert_int_equal(b[38 + 2], 0x40);              /* shared_size @38 */
}

static void test_body_limits(void **state)
{
    (void)state;
    /* The largest encoding of each type is exactly its limit. */
    struct proto_hello h = { 1, 1, PROTO_ROLE_GUEST, "" };
    memset(h.name, 'n', PROTO_NAME_MAX);
    assert_int_equal(proto_enc_hello(buf, sizeof(buf), 0, &h),
                     (int)(PROTO_HDR_SIZE + proto_body_max(PROTO_HELLO)));
    struct proto_error er = { PROTO_E_BUSY, 1, 1, "" };
    memset(er.text, 't', PROTO_TEXT_MAX);
    assert_int_equal(proto_enc_error(buf, sizeof(buf), 0, &er),
                     (int)(PROTO_HDR_SIZE + proto_body_max(PROTO_ERROR)));
    static struct proto_list_ok lo;
    memset(&lo, 0, sizeof(lo));
    lo.total = lo.count = PROTO_LIST_MAX;
    for (unsigned i = 0; i < PROTO_LIST_MAX; i++) {
        memset(lo.entries[i].guest, 'g', PROTO_NAME_MAX);
        memset(lo.entries[i].app, 'a', PROTO_APP_MAX);
        lo.entries[i].state = PROTO_CTX_ENABLED;
    }
    int n = proto_enc_list_ok(buf, sizeof(buf), 0, &lo);
    assert_int_equal(n, (int)(PROTO_HDR_SIZE + proto_body_max(PROTO_LIST_OK)));
    roundtrip(n, PROTO_LIST_OK);
    assert_true(proto_body_max(PROTO_LIST_OK) <= PROTO_BODY_MAX);
    assert_int_equal(proto_body_max(0), 0);
    assert_int_equal(proto_body_max(PROTO_TYPE_LAST + 1), 0);
    /* Only NEGOTIATE_OK differs between the versions. */
    assert_int_equal(proto_body_max_v(1, PROTO_NEGOTIATE_OK), 46);
    assert_int_equal(proto_body_max_v(2, PROTO_NEGOTIATE_OK), 49);
    assert_int_equal(proto_body_max(PROTO_NEGOTIATE_OK), 49);
    for (unsigned t = PROTO_TYPE_FIRST; t <= PROTO_TYPE_LAST; t++) {
        if (t != PROTO_NEGOTIATE_OK)
            assert_int_equal(proto_body_max_v(1, t), proto_body_max_v(2, t));
        assert_int_equal(proto_body_max_v(0, t), 0);
        assert_int_equal(proto_body_max_v(PROTO_VERSION_MAX + 1, t), 0);
    }
}

/* ---- each message round trip ------------------------------------------------------ */

static void test_roundtrip_hello(void **state)
{
    (void)state;
    struct proto_hello h = { 1, 4, PROTO_ROLE_OPERATOR, "elisactl" };
    struct proto_hello_ok ho = { 1, 42, "mgr.host-1_a" };

    roundtrip(proto_enc_hello(buf, sizeof(buf), 7, &h), PROTO_HELLO);
    assert_int_equal(msg.version, PROTO_VERSION_HELLO);
    assert_int_equal(msg.req_id, 7);
    assert_int_equal(msg.flags, 0);
    assert_int_equal(msg.u.hello.ver_min, 1);
    assert_int_equal(msg.u.hello.ver_max, 4);
    assert_int_equal(msg.u.hello.role, PROTO_ROLE_OPERATOR);
    assert_string_equal(msg.u.hello.name, "elisactl");

    roundtrip(proto_enc_hello_ok(buf, sizeof(buf), 7, &ho), PROTO_HELLO_OK);
    assert_int_equal(msg.u.hello_ok.version, 1);
    assert_int_equal(msg.u.hello_ok.guest_id, 42);
    assert_string_equal(msg.u.hello_ok.name, "mgr.host-1_a");
}

static void test_roundtrip_negotiate(void **state)
{
    (void)state;
    struct proto_negotiate ng = { 3, 16u << 20, "vmnet" };
    struct proto_negotiate_ok no = { 3, 0xfee00000ull - 0x100000, 0xffffffffc0000000ull,
                                     VMF_CTX_DEFAULT, VMF_CTX_GATE, VMF_CTX_SUB, 0x80,
                                     0x100000000ull, 16u << 20, PROTO_MODE_VMFUNC, 0 };
    struct proto_negotiate_err ne = { 3, PROTO_NEG_NO_MEMORY, "shared size 16777216 over 4 MiB" };

    roundtrip(proto_enc_negotiate(buf, sizeof(buf), 2, &ng), PROTO_NEGOTIATE);
    assert_int_equal(msg.version, PROTO_VERSION);
    assert_int_equal(msg.u.negotiate.vcpu, 3);
    assert_int_equal(msg.u.negotiate.shared_size, 16u << 20);
    assert_string_equal(msg.u.negotiate.app, "vmnet");

    roundtrip(proto_enc_negotiate_ok(buf, sizeof(buf), 2, &no), PROTO_NEGOTIATE_OK);
    assert_int_equal(msg.req_id, 2);
    assert_memory_equal(&msg.u.negotiate_ok.gate_gpa, &no.gate_gpa, 8);
    assert_true(msg.u.negotiate_ok.gate_gva == no.gate_gva);
    assert_int_equal(msg.u.negotiate_ok.idx_default, VMF_CTX_DEFAULT);
    assert_int_equal(msg.u.negotiate_ok.idx_gate, VMF_CTX_GATE);
    assert_int_equal(msg.u.negotiate_ok.idx_sub, VMF_CTX_SUB);
    assert_int_equal(msg.u.negotiate_ok.entry_offset, 0x80);
    assert_true(msg.u.negotiate_ok.shared_gpa == 0x100000000ull);
    assert_true(msg.u.negotiate_ok.shared_size == 16u << 20);

    assert_int_equal(msg.u.negotiate_ok.mode, PROTO_MODE_VMFUNC);
    assert_int_equal(msg.u.negotiate_ok.doorbell, 0);

    /* No shared memory: size 0 and address 0. */
    no.shared_gpa = 0;
    no.shared_size = 0;
    roundtrip(proto_enc_negotiate_ok(buf, sizeof(buf), 2, &no), PROTO_NEGOTIATE_OK);

    /* EXIT mode: a mailbox page, a doorbell, no EPTP-list indexes. */
    struct proto_negotiate_ok ex = { 1, 0xc0004000ull, 0xc0004000ull, 0, 0, 0, 0x40,
                                     0xc0600000ull, 0x101000, PROTO_MODE_EXIT, 0x0e1a };
    roundtrip(proto_enc_negotiate_ok(buf, sizeof(buf), 2, &ex), PROTO_NEGOTIATE_OK);
    assert_int_equal(msg.version, 2);
    assert_int_equal(msg.u.negotiate_ok.mode, PROTO_MODE_EXIT);
    assert_int_equal(msg.u.negotiate_ok.doorbell, 0x0e1a);
    assert_true(msg.u.negotiate_ok.gate_gpa == 0xc0004000ull);
    assert_true(msg.u.negotiate_ok.shared_size == 0x101000);

    /* Version 1 (an older guest): decodes as VMFUNC, re-encodes at 1. */
    memset(&msg2, 0, sizeof(msg2));
    msg2.type = PROTO_NEGOTIATE_OK;
    msg2.version = 1;
    msg2.req_id = 2;
    msg2.u.negotiate_ok = no;
    roundtrip(proto_encode(buf, sizeof(buf), &msg2), PROTO_NEGOTIATE_OK);
    assert_int_equal(msg.version, 1);
    assert_int_equal(msg.u.negotiate_ok.mode, PROTO_MODE_VMFUNC);
    assert_int_equal(msg.u.negotiate_ok.doorbell, 0);

    roundtrip(proto_enc_negotiate_err(buf, sizeof(buf), 2, &ne), PROTO_NEGOTIATE_ERR);
    assert_int_equal(msg.u.negotiate_err.code, PROTO_NEG_NO_MEMORY);
    assert_string_equal(msg.u.negotiate_err.text, ne.text);
}

static void test_roundtrip_control(void **state)
{
    (void)state;
    struct proto_enable en = { PROTO_VCPU_ALL, "guest-7" };
    struct proto_enable self = { 1, "" };
    struct proto_ok ok = { PROTO_DISABLE };
    struct proto_list li = { 32 };
    struct proto_error er = { PROTO_E_DENIED, 1, 1, "operator role required" };

    roundtrip(proto_enc_enable(buf, sizeof(buf), 1, &en), PROTO_ENABLE);
    assert_int_equal(msg.u.enable.vcpu, PROTO_VCPU_ALL);
    assert_string_equal(msg.u.enable.guest, "guest-7");
    roundtrip(proto_enc_disable(buf, sizeof(buf), 1, &self), PROTO_DISABLE);
    assert_int_equal(msg.u.enable.vcpu, 1);
    assert_string_equal(msg.u.enable.guest, "");
    roundtrip(proto_enc_ok(buf, sizeof(buf), 1, &ok), PROTO_OK);
    assert_int_equal(msg.u.ok.what, PROTO_DISABLE);
    roundtrip(proto_enc_list(buf, sizeof(buf), 1, &li), PROTO_LIST);
    assert_int_equal(msg.u.list.start, 32);
    roundtrip(proto_enc_error(buf, sizeof(buf), 1, &er), PROTO_ERROR);
    assert_int_equal(msg.u.error.code, PROTO_E_DENIED);
    assert_int_equal(msg.u.error.ver_min, 1);
    assert_string_equal(msg.u.error.text, er.text);
}

static void test_roundtrip_list_ok(void **state)
{
    (void)state;
    static struct proto_list_ok lo;

    memset(&lo, 0, sizeof(lo));
    roundtrip(proto_enc_list_ok(buf, sizeof(buf), 3, &lo), PROTO_LIST_OK);   /* empty */
    assert_int_equal(msg.u.list_ok.count, 0);

    lo.total = 10;
    lo.start = 8;
    lo.count = 2;
    lo.entries[0] = (struct proto_list_entry){ 1, "web", 0, PROTO_CTX_ENABLED, "vmnet",
                                               0x7ffd000, 0x80000000ull, 0x200000 };
    lo.entries[1] = (struct proto_list_entry){ 1, "web", 1, PROTO_CTX_NEGOTIATED, "nop",
                                               0x7ffa000, 0, 0 };
    roundtrip(proto_enc_list_ok(buf, sizeof(buf), 3, &lo), PROTO_LIST_OK);
    assert_int_equal(msg.u.list_ok.total, 10);
    assert_int_equal(msg.u.list_ok.start, 8);
    assert_int_equal(msg.u.list_ok.count, 2);
    assert_string_equal(msg.u.list_ok.entries[1].guest, "web");
    assert_string_equal(msg.u.list_ok.entries[1].app, "nop");
    assert_int_equal(msg.u.list_ok.entries[1].vcpu, 1);
    assert_int_equal(msg.u.list_ok.entries[0].state, PROTO_CTX_ENABLED);
    assert_true(msg.u.list_ok.entries[0].shared_size == 0x200000);

    /* More than the array holds is refused by the encoder. */
    lo.count = PROTO_LIST_MAX + 1;
    lo.total = 100;
    assert_int_equal(proto_enc_list_ok(buf, sizeof(buf), 3, &lo), -PROTO_E_COUNT);
}

/* ---- each error, precisely ------------------------------------------------------------ */

static void test_err_magic(void **state)
{
    (void)state;
    struct proto_err e = expect_error((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, PROTO_E_MAGIC, 0);
    assert_int_equal(e.value, 'G');
    assert_int_equal(e.limit, 'E');
    /* Refused at the first wrong byte, even before a header is complete. */
    size_t used;
    proto_dec_init(&dec);
    assert_int_equal(proto_dec_feed(&dec, (const uint8_t *)"ELX", 3, &used, &msg), -PROTO_E_MAGIC);
    assert_int_equal(used, 3);
    assert_int_equal(dec.err.field_offset, 2);
}

static void test_err_header(void **state)
{
    (void)state;
    uint8_t body[4] = { 0, 0, 0, 0 };
    struct proto_err e;

    raw(buf, 1, 0, 0, 4, 0, body, 4);
    e = expect_error(buf, 24, PROTO_E_TYPE, PROTO_OFF_TYPE);
    assert_int_equal(e.value, 0);
    raw(buf, 1, PROTO_TYPE_LAST + 1, 0, 4, 0, body, 4);
    e = expect_error(buf, 24, PROTO_E_TYPE, PROTO_OFF_TYPE);
    assert_int_equal(e.value, PROTO_TYPE_LAST + 1);

    raw(buf, 1, PROTO_LIST, 0x80000000u, 4, 0, body, 4);
    e = expect_error(buf, 24, PROTO_E_FLAGS, PROTO_OFF_FLAGS);
    assert_int_equal(e.value, 0x80000000u);
    assert_int_equal(e.type, PROTO_LIST);

    /* Over the type's own limit: refused with the header, no body read. */
    raw(buf, 1, PROTO_LIST, 0, 5, 0, body, 4);
    e = expect_error(buf, PROTO_HDR_SIZE, PROTO_E_LENGTH, PROTO_OFF_LENGTH);
    assert_int_equal(e.value, 5);
    assert_int_equal(e.limit, 4);
    raw(buf, 1, PROTO_HELLO, 0, 0xffffffffu, 0, NULL, 0);
    e = expect_error(buf, PROTO_HDR_SIZE, PROTO_E_LENGTH, PROTO_OFF_LENGTH);
    assert_int_equal(e.limit, proto_body_max(PROTO_HELLO));
    size_t used;
    proto_dec_init(&dec);
    assert_int_equal(proto_dec_feed(&dec, buf, PROTO_HDR_SIZE, &used, &msg), -PROTO_E_LENGTH);
    assert_int_equal(used, PROTO_HDR_SIZE);

    /* A failed decoder repeats its error and takes nothing more. */
    assert_int_equal(proto_dec_feed(&dec, buf, PROTO_HDR_SIZE, &used, &msg), -PROTO_E_LENGTH);
    assert_int_equal(used, 0);
}

static void test_err_body(void **state)
{
    (void)state;
    uint8_t b[64];
    struct proto_err e;

    /* Truncated: HELLO whose body stops before role. */
    put16(b, 1); put16(b + 2, 1);
    raw(buf, 1, PROTO_HELLO, 0, 4, 0, b, 4);
    e = expect_error(buf, 24, PROTO_E_TRUNCATED, PROTO_HDR_SIZE + 4);
    assert_string_equal(e.field, "hello.role");
    /* Truncated: the name's length runs past the body. */
    b[4] = PROTO_ROLE_GUEST; put16(b + 5, 10); memcpy(b + 7, "abc", 3);
    raw(buf, 1, PROTO_HELLO, 0, 10, 0, b, 10);
    e = expect_error(buf, 30, PROTO_E_TRUNCATED, PROTO_HDR_SIZE + 7);
    assert_string_equal(e.field, "hello.name");
    /* Trailing: LIST is 4 bytes; a 0-byte body is truncated; a HELLO with
     * a spare byte after the name is trailing. */
    raw(buf, 1, PROTO_LIST, 0, 0, 0, NULL, 0);
    expect_error(buf, 20, PROTO_E_TRUNCATED, PROTO_HDR_SIZE);
    put16(b + 5, 3); b[10] = 'x';
    raw(buf, 1, PROTO_HELLO, 0, 11, 0, b, 11);
    e = expect_error(buf, 31, PROTO_E_TRAILING, PROTO_HDR_SIZE + 10);
    assert_int_equal(e.value, 1);

    /* Bad enums. */
    b[4] = 3;                                           /* role */
    raw(buf, 1, PROTO_HELLO, 0, 10, 0, b, 10);
    e = expect_error(buf, 30, PROTO_E_ENUM, PROTO_HDR_SIZE + 4);
    assert_int_equal(e.value, 3);
    b[4] = PROTO_ROLE_GUEST;
    put16(b, PROTO_HELLO);                              /* OK.what */
    raw(buf, 1, PROTO_OK, 0, 2, 0, b, 2);
    expect_error(buf, 22, PROTO_E_ENUM, PROTO_HDR_SIZE);
    put32(b, 0); put16(b + 4, 0); put16(b + 6, 0);      /* NEGOTIATE_ERR.code 0 */
    raw(buf, 1, PROTO_NEGOTIATE_ERR, 0, 8, 0, b, 8);
    expect_error(buf, 28, PROTO_E_ENUM, PROTO_HDR_SIZE + 4);
    put16(b, PROTO_WIRE_LAST + 1); put16(b + 2, 1); put16(b + 4, 1); put16(b + 6, 0);
    raw(buf, 1, PROTO_ERROR, 0, 8, 0, b, 8);            /* ERROR.code: local only */
    e = expect_error(buf, 28, PROTO_E_ENUM, PROTO_HDR_SIZE);
    assert_int_equal(e.value, PROTO_E_NOSPACE);
}

static void test_err_strings(void **state)
{
    (void)state;
    uint8_t b[128];
    struct proto_err e;

    put16(b, 1); put16(b + 2, 1); b[4] = PROTO_ROLE_GUEST;
    /* Too long: refused on the length alone. */
    put16(b + 5, PROTO_NAME_MAX + 1);
    memset(b + 7, 'a', PROTO_NAME_MAX + 1);
    raw(buf, 1, PROTO_HELLO, 0, 7 + PROTO_NAME_MAX, 0, b, 7 + PROTO_NAME_MAX);
    e = expect_error(buf, PROTO_HDR_SIZE + 7 + PROTO_NAME_MAX, PROTO_E_STRING, PROTO_HDR_SIZE + 5);
    assert_int_equal(e.value, PROTO_NAME_MAX + 1);
    assert_int_equal(e.limit, PROTO_NAME_MAX);
    /* Empty where a name is required. */
    put16(b + 5, 0);
    raw(buf, 1, PROTO_HELLO, 0, 7, 0, b, 7);
    expect_error(buf, 27, PROTO_E_STRING, PROTO_HDR_SIZE + 5);

    /* Every byte value: a name takes [A-Za-z0-9._-], text printable ASCII. */
    for (unsigned c = 0; c < 256; c++) {
        bool name_ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
        bool text_ok = c >= 0x20 && c <= 0x7e;
        size_t used;

        put16(b + 5, 2); b[7] = 'g'; b[8] = (uint8_t)c;
        raw(buf, 1, PROTO_HELLO, 0, 9, 0, b, 9);
        if (name_ok) {
            assert_int_equal(proto_decode(buf, 29, &used, &msg, NULL), PROTO_MESSAGE);
            assert_int_equal(msg.u.hello.name[1], (char)c);
            assert_int_equal(msg.u.hello.name[2], '\0');
        } else {
            e = expect_error(buf, 29, PROTO_E_STRING, PROTO_HDR_SIZE + 8);
            assert_int_equal(e.value, c);
        }
        uint8_t t[16];
        put16(t, PROTO_E_BUSY); put16(t + 2, 1); put16(t + 4, 1); put16(t + 6, 1); t[8] = (uint8_t)c;
        raw(buf, 1, PROTO_ERROR, 0, 9, 0, t, 9);
        if (text_ok)
            assert_int_equal(proto_decode(buf, 29, &used, &msg, NULL), PROTO_MESSAGE);
        else
            expect_error(buf, 29, PROTO_E_STRING, PROTO_HDR_SIZE + 8);
    }

    /* The encoder refuses what the decoder would, and an unterminated array. */
    struct proto_hello h = { 1, 1, PROTO_ROLE_GUEST, "bad/name" };
    assert_int_equal(proto_enc_hello(buf, sizeof(buf), 0, &h), -PROTO_E_STRING);
    memset(h.name, 'x', sizeof(h.name));   /* no NUL at all */
    assert_int_equal(proto_enc_hello(buf, sizeof(buf), 0, &h), -PROTO_E_STRING);
    h.name[0] = '\0';
    assert_int_equal(proto_enc_hello(buf, sizeof(buf), 0, &h), -PROTO_E_STRING);
    struct proto_negotiate_err ne = { 0, PROTO_NEG_BUSY, "line\nbreak" };
    assert_int_equal(proto_enc_negotiate_err(buf, sizeof(buf), 0, &ne), -PROTO_E_STRING);
}

static void test_err_values(void **state)
{
    (void)state;
    struct proto_negotiate_ok good = { 0, 0x10000, 0x400000, 0, 1, 2, 0, 0x100000, 0x2000,
                                       PROTO_MODE_VMFUNC, 0 };
    struct proto_negotiate_ok no;
    struct proto_err e;
    size_t used;
    int n;

#define NO_BAD(field_, value_, off_)                                                    \
    do {                                                                                \
        no = good;                                                                      \
        no.field_ = value_;                                                             \
        assert_int_equal(proto_enc_negotiate_ok(buf, sizeof(buf), 0, &no), -PROTO_E_VALUE); \
        /* and the decoder: the good encoding with the field patched */                 \
        n = proto_enc_negotiate_ok(buf, sizeof(buf), 0, &good);                         \
        assert_int_equal(n, (int)PROTO_HDR_SIZE + 49);                                  \
        if ((off_) == 23 || (off_) == 25 || (off_) == 27 || (off_) == 5)                \
            put16(buf + PROTO_HDR_SIZE + (off_), (uint16_t)(value_));                   \
        else if ((off_) == 0)                                                           \
            put32(buf + PROTO_HDR_SIZE, (uint32_t)(value_));                            \
        else                                                                            \
            put64(buf + PROTO_HDR_SIZE + (off_), (uint64_t)(value_));                   \
        e = expect_error(buf, (size_t)n, PROTO_E_VALUE, PROTO_HDR_SIZE + (off_));       \
    } while (0)

    NO_BAD(vcpu, PROTO_VCPU_ALL, 0);
    NO_BAD(doorbell, 0x0e1a, 5);                        /* VMFUNC mode has none */
    NO_BAD(gate_gpa, 0x10001, 7);                       /* unaligned */
    NO_BAD(gate_gpa, PROTO_GPA_LIMIT, 7);               /* beyond 2^52 */
    NO_BAD(gate_gva, 0x400800, 15);                     /* unaligned */
    NO_BAD(gate_gva, 0x0000800000000000ull, 15);        /* non-canonical */
    NO_BAD(gate_gva, 0x00007ffffffff000ull, 15);        /* block crosses the hole */
    NO_BAD(gate_gva, 0xfffffffffffff000ull, 15);        /* wraps past 2^64 */
    NO_BAD(idx_default, PROTO_EPTP_LIST_SIZE, 23);
    NO_BAD(idx_gate, 0, 25);                            /* = idx_default */
    NO_BAD(idx_sub, 1, 27);                             /* = idx_gate */
    NO_BAD(idx_sub, 512, 27);
    NO_BAD(shared_gpa, 0x100800, 33);
    NO_BAD(shared_size, 0x2001, 41);
    NO_BAD(shared_size, PROTO_GPA_LIMIT, 41);           /* ends beyond 2^52 */

    /* EXIT mode: the indexes must be 0; any doorbell (0: MMIO). */
    good.mode = PROTO_MODE_EXIT;
    good.doorbell = 0x0e1a;
    good.idx_gate = 0;
    good.idx_sub = 0;
    NO_BAD(idx_default, 1, 23);
    NO_BAD(idx_gate, 1, 25);
    NO_BAD(idx_sub, 2, 27);
    e = (struct proto_err){ 0 };
    /* A mode that does not exist: a bad enum at body offset 4. */
    for (unsigned bad_mode = 0; bad_mode < 256; bad_mode += 3) {
        if (bad_mode == PROTO_MODE_VMFUNC || bad_mode == PROTO_MODE_EXIT)
            continue;
        n = proto_enc_negotiate_ok(buf, sizeof(buf), 0, &good);
        buf[PROTO_HDR_SIZE + 4] = (uint8_t)bad_mode;
        e = expect_error(buf, (size_t)n, PROTO_E_ENUM, PROTO_HDR_SIZE + 4);
        assert_int_equal(e.value, bad_mode);
        no = good;
        no.mode = (uint8_t)bad_mode;
        assert_true(proto_enc_negotiate_ok(buf, sizeof(buf), 0, &no) < 0);
    }
    /* An EXIT-mode answer cannot be said at version 1, and a version-1
     * NEGOTIATE_OK is exactly 46 bytes (refused at the header). */
    memset(&msg, 0, sizeof(msg));
    msg.type = PROTO_NEGOTIATE_OK;
    msg.version = 1;
    msg.u.negotiate_ok = good;
    assert_int_equal(proto_encode(buf, sizeof(buf), &msg), -PROTO_E_VALUE);
    n = proto_enc_negotiate_ok(buf, sizeof(buf), 0, &good);
    put16(buf + PROTO_OFF_VERSION, 1);
    e = expect_error(buf, (size_t)n, PROTO_E_LENGTH, PROTO_OFF_LENGTH);
    assert_int_equal(e.limit, 46);
    no = good;
    no.doorbell = 0;   /* the MMIO doorbell */
    n = proto_enc_negotiate_ok(buf, sizeof(buf), 0, &no);
    assert_int_equal(n, (int)PROTO_HDR_SIZE + 49);
    assert_int_equal(proto_decode(buf, (size_t)n, &used, &msg, NULL), PROTO_MESSAGE);
    assert_int_equal(msg.u.negotiate_ok.mode, PROTO_MODE_EXIT);
    assert_int_equal(msg.u.negotiate_ok.doorbell, 0);
    good.mode = PROTO_MODE_VMFUNC;
    good.doorbell = 0;
    good.idx_gate = 1;
    good.idx_sub = 2;
#undef NO_BAD
    /* Overlap with the gate block: found once both ranges are read, so
     * reported on shared_size. */
    no = good;
    no.shared_gpa = 0x11000;
    assert_int_equal(proto_enc_negotiate_ok(buf, sizeof(buf), 0, &no), -PROTO_E_VALUE);
    n = proto_enc_negotiate_ok(buf, sizeof(buf), 0, &good);
    put64(buf + PROTO_HDR_SIZE + 33, 0x11000);
    e = expect_error(buf, (size_t)n, PROTO_E_VALUE, PROTO_HDR_SIZE + 41);
    assert_string_equal(e.field, "negotiate_ok.shared_size");
    /* An address without a size: "none" has no address. */
    no = good;
    no.shared_size = 0;
    assert_int_equal(proto_enc_negotiate_ok(buf, sizeof(buf), 0, &no), -PROTO_E_VALUE);
    /* GPA 0 with a size is an ordinary region. */
    no = good;
    no.shared_gpa = 0;
    assert_true(proto_enc_negotiate_ok(buf, sizeof(buf), 0, &no) > 0);

    /* HELLO ranges. */
    struct proto_hello h = { 0, 1, PROTO_ROLE_GUEST, "g" };
    assert_int_equal(proto_enc_hello(buf, sizeof(buf), 0, &h), -PROTO_E_VALUE);
    h.ver_min = 2;
    assert_int_equal(proto_enc_hello(buf, sizeof(buf), 0, &h), -PROTO_E_VALUE);
    h.ver_min = 1;
    n = proto_enc_hello(buf, sizeof(buf), 0, &h);
    put16(buf + PROTO_HDR_SIZE, 0);
    expect_error(buf, (size_t)n, PROTO_E_VALUE, PROTO_HDR_SIZE);
    put16(buf + PROTO_HDR_SIZE, 2);                     /* min 2 > max 1 */
    expect_error(buf, (size_t)n, PROTO_E_VALUE, PROTO_HDR_SIZE + 2);

    /* NEGOTIATE: vCPU "all" and an unaligned size. */
    struct proto_negotiate ng = { PROTO_VCPU_ALL, 0, "nop" };
    assert_int_equal(proto_enc_negotiate(buf, sizeof(buf), 0, &ng), -PROTO_E_VALUE);
    ng.vcpu = 0;
    ng.shared_size = 100;
    assert_int_equal(proto_enc_negotiate(buf, sizeof(buf), 0, &ng), -PROTO_E_VALUE);

    /* LIST_OK: count over the array, start + count over total. */
    uint8_t b[16];
    put32(b, 100); put32(b + 4, 0); put16(b + 8, PROTO_LIST_MAX + 1);
    raw(buf, 1, PROTO_LIST_OK, 0, 10, 0, b, 10);
    e = expect_error(buf, 30, PROTO_E_COUNT, PROTO_HDR_SIZE + 8);
    assert_int_equal(e.value, PROTO_LIST_MAX + 1);
    assert_int_equal(e.limit, PROTO_LIST_MAX);
    put32(b, 1); put32(b + 4, 1); put16(b + 8, 1);
    raw(buf, 1, PROTO_LIST_OK, 0, 10, 0, b, 10);
    expect_error(buf, 30, PROTO_E_VALUE, PROTO_HDR_SIZE + 8);
    put32(b, 1); put32(b + 4, 0); put16(b + 8, 1);     /* count 1, no entry bytes */
    raw(buf, 1, PROTO_LIST_OK, 0, 10, 0, b, 10);
    expect_error(buf, 30, PROTO_E_TRUNCATED, PROTO_HDR_SIZE + 10);

    /* LIST_OK entry state out of the enum. */
    static struct proto_list_ok lo;
    memset(&lo, 0, sizeof(lo));
    lo.total = lo.count = 1;
    lo.entries[0] = (struct proto_list_entry){ 1, "g", 0, PROTO_CTX_DISABLED, "nop", 0, 0, 0 };
    n = proto_enc_list_ok(buf, sizeof(buf), 0, &lo);
    assert_true(n > 0);
    /* entry: guest_id 4, guest 2+1, vcpu 4 -> state at body 10 + 11 */
    assert_int_equal(buf[PROTO_HDR_SIZE + 21], PROTO_CTX_DISABLED);
    buf[PROTO_HDR_SIZE + 21] = PROTO_CTX_LAST + 1;
    expect_error(buf, (size_t)n, PROTO_E_ENUM, PROTO_HDR_SIZE + 21);

    /* Bad arguments to the encoder. */
    memset(&msg, 0, sizeof(msg));
    msg.type = 0;
    msg.version = 1;
    assert_int_equal(proto_encode(buf, sizeof(buf), &msg), -PROTO_E_INVAL);
    msg.type = PROTO_LIST;
    msg.version = PROTO_VERSION_MAX + 1;
    assert_int_equal(proto_encode(buf, sizeof(buf), &msg), -PROTO_E_VERSION);
    msg.version = 1;
    msg.flags = 1;
    assert_int_equal(proto_encode(buf, sizeof(buf), &msg), -PROTO_E_FLAGS);
    msg.flags = 0;
    assert_int_equal(proto_encode(buf, sizeof(buf), &msg), (int)PROTO_HDR_SIZE + 4);
    assert_int_equal(proto_encode(NULL, 100, &msg), -PROTO_E_INVAL);
    assert_int_equal(proto_enc_list(buf, sizeof(buf), 0, NULL), -PROTO_E_INVAL);
}

/* ---- chunked input --------------------------------------------------------------------- */

/* A guest's side of a conversation, as one stream. */
static size_t conversation(uint8_t *out, size_t *ends, size_t *nends)
{
    struct proto_hello h = { 1, 1, PROTO_ROLE_GUEST, "vm-a" };
    struct proto_negotiate n0 = { 0, 0x200000, "vmnet" }, n1 = { 1, 0, "nop" };
    struct proto_enable en = { PROTO_VCPU_ALL, "" };
    struct proto_list li = { 0 };
    size_t at = 0;
    int n;

    *nends = 0;
#define ADD(call) do { n = (call); assert_true(n > 0); at += (size_t)n; ends[(*nends)++] = at; } while (0)
    ADD(proto_enc_hello(out + at, PROTO_MSG_MAX, 1, &h));
    ADD(proto_enc_negotiate(out + at, PROTO_MSG_MAX, 2, &n0));
    ADD(proto_enc_negotiate(out + at, PROTO_MSG_MAX, 3, &n1));
    ADD(proto_enc_enable(out + at, PROTO_MSG_MAX, 4, &en));
    ADD(proto_enc_list(out + at, PROTO_MSG_MAX, 5, &li));   /* zero-free 4-byte body */
#undef ADD
    return at;
}

/* Feed STREAM[0..len) in pieces of SIZES (cycled); return the number of
 * messages and check that each ends where ENDS says. */
static size_t feed_pieces(const uint8_t *stream, size_t len, const size_t *sizes, size_t nsizes,
                          const size_t *ends)
{
    size_t pos = 0, nmsg = 0, k = 0;

    proto_dec_init(&dec);
    while (pos < len) {
        size_t give = sizes[k++ % nsizes], used;
        if (give > len - pos)
            give = len - pos;
        int rc = proto_dec_feed(&dec, stream + pos, give, &used, &msg);
        assert_true(used <= give);
        pos += used;
        if (rc == PROTO_MESSAGE) {
            assert_int_equal(pos, ends[nmsg]);
            nmsg++;
        } else {
            assert_int_equal(rc, PROTO_NEED_MORE);
            assert_int_equal(used, give);
        }
    }
    return nmsg;
}

static void test_chunked(void **state)
{
    (void)state;
    size_t ends[8], nends, used;
    size_t len = conversation(buf, ends, &nends);
    static const size_t one[] = { 1 }, odd[] = { 3, 7, 1, 19, 2, 64 }, all[] = { 100000 };

    assert_int_equal(feed_pieces(buf, len, one, 1, ends), nends);
    assert_int_equal(feed_pieces(buf, len, odd, 6, ends), nends);
    assert_int_equal(feed_pieces(buf, len, all, 1, ends), nends);
    /* Every split point of the stream into two pieces. */
    for (size_t k = 1; k < len; k++) {
        size_t two[2] = { k, len };
        assert_int_equal(feed_pieces(buf, len, two, 2, ends), nends);
    }
    /* An empty feed takes nothing and needs more. */
    proto_dec_init(&dec);
    assert_int_equal(proto_dec_feed(&dec, NULL, 0, &used, &msg), PROTO_NEED_MORE);
    assert_int_equal(used, 0);

    /* Good messages, then garbage: the messages come out, then the error
     * at the garbage's offset, the same one byte at a time. */
    memcpy(buf + len, "junk", 4);
    for (int bytewise = 0; bytewise < 2; bytewise++) {
        size_t pos = 0, nmsg = 0;
        int rc = 0;
        proto_dec_init(&dec);
        while (pos < len + 4) {
            size_t give = bytewise ? 1 : len + 4 - pos;
            rc = proto_dec_feed(&dec, buf + pos, give, &used, &msg);
            pos += used;
            if (rc == PROTO_MESSAGE)
                nmsg++;
            else if (rc < 0)
                break;
        }
        assert_int_equal(nmsg, nends);
        assert_int_equal(rc, -PROTO_E_MAGIC);
        assert_int_equal(dec.err.msg_offset, len);
        assert_int_equal(dec.err.field_offset, 0);
        assert_int_equal(pos, len + 1);
    }

    /* A body error found one byte at a time is the same as in one piece. */
    uint8_t b[8] = { 1, 0, 1, 0, 9, 1, 0, 'x' };        /* role 9 */
    size_t n = raw(buf, 1, PROTO_HELLO, 0, 8, 0, b, 8);
    proto_dec_init(&dec);
    for (size_t i = 0; i < n; i++) {
        int rc = proto_dec_feed(&dec, buf + i, 1, &used, &msg);
        assert_int_equal(used, 1);
        assert_int_equal(rc, i + 1 < n ? PROTO_NEED_MORE : -PROTO_E_ENUM);
    }
    assert_int_equal(dec.err.field_offset, PROTO_HDR_SIZE + 4);
}

/* ---- versions: a newer peer, an older peer ------------------------------------------------ */

static void test_versions(void **state)
{
    (void)state;
    uint16_t v = 0;
    struct proto_err e;
    size_t used;
    char line[200];

    /* The pick: highest common version. */
    assert_int_equal(proto_version_pick(1, 1, 1, 3, &v), 0);       /* newer peer, overlap */
    assert_int_equal(v, 1);
    assert_int_equal(proto_version_pick(1, 3, 1, 1, &v), 0);       /* older peer */
    assert_int_equal(v, 1);
    assert_int_equal(proto_version_pick(1, 4, 2, 6, &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(proto_version_pick(1, 1, 2, 3, &v), -PROTO_E_VERSION);  /* too new */
    assert_int_equal(proto_version_pick(3, 4, 1, 2, &v), -PROTO_E_VERSION);  /* too old */
    assert_int_equal(proto_version_pick(1, 1, 0, 1, &v), -PROTO_E_VALUE);
    assert_int_equal(proto_version_pick(2, 1, 1, 1, &v), -PROTO_E_VALUE);

    /* A newer peer's HELLO (speaks 1..5) is readable: HELLO is frozen at
     * header version 1, so we learn its range and pick our highest, 2. */
    struct proto_hello h = { 1, 5, PROTO_ROLE_GUEST, "future" };
    int n = proto_enc_hello(buf, sizeof(buf), 1, &h);
    assert_int_equal(proto_decode(buf, (size_t)n, &used, &msg, NULL), PROTO_MESSAGE);
    assert_int_equal(proto_version_pick(PROTO_VERSION_MIN, PROTO_VERSION_MAX, msg.u.hello.ver_min,
                                        msg.u.hello.ver_max, &v), 0);
    assert_int_equal(v, 2);
    /* A version-1 peer gets version 1. */
    assert_int_equal(proto_version_pick(PROTO_VERSION_MIN, PROTO_VERSION_MAX, 1, 1, &v), 0);
    assert_int_equal(v, 1);

    /* A newer peer that speaks only 3..4: no common version; the reply is
     * ERROR(VERSION) with our range, which that peer can read (v1). */
    h.ver_min = 3;
    h.ver_max = 4;
    n = proto_enc_hello(buf, sizeof(buf), 1, &h);
    assert_int_equal(proto_decode(buf, (size_t)n, &used, &msg, NULL), PROTO_MESSAGE);
    assert_int_equal(proto_version_pick(PROTO_VERSION_MIN, PROTO_VERSION_MAX, 3, 4, &v),
                     -PROTO_E_VERSION);
    struct proto_error er = { PROTO_E_VERSION, PROTO_VERSION_MIN, PROTO_VERSION_MAX,
                              "no common version" };
    n = proto_enc_error(buf, sizeof(buf), 1, &er);
    assert_int_equal(buf[PROTO_OFF_VERSION], PROTO_VERSION_HELLO);   /* frozen ERROR */
    assert_int_equal(proto_decode(buf, (size_t)n, &used, &msg, NULL), PROTO_MESSAGE);
    assert_int_equal(msg.u.error.ver_min, 1);
    assert_int_equal(msg.u.error.ver_max, 2);

    /* A newer peer sending a version-3 message: refused at the header
     * with our supported range, and the ERROR reply carries it. */
    uint8_t b[4] = { 0, 0, 0, 0 };
    raw(buf, 3, PROTO_LIST, 0, 4, 9, b, 4);
    e = expect_error(buf, 24, PROTO_E_VERSION, PROTO_OFF_VERSION);
    assert_int_equal(e.value, 3);
    assert_int_equal(e.ver_min, PROTO_VERSION_MIN);
    assert_int_equal(e.ver_max, PROTO_VERSION_MAX);
    proto_err_format(&e, line, sizeof(line));
    assert_non_null(strstr(line, "unsupported version"));
    assert_non_null(strstr(line, "3 (supported 1..2)"));
    n = proto_enc_error_for(buf2, sizeof(buf2), 9, &e);
    assert_true(n > 0);
    assert_int_equal(proto_decode(buf2, (size_t)n, &used, &msg, NULL), PROTO_MESSAGE);
    assert_int_equal(msg.type, PROTO_ERROR);
    assert_int_equal(msg.req_id, 9);
    assert_int_equal(msg.u.error.code, PROTO_E_VERSION);
    assert_int_equal(msg.u.error.ver_min, PROTO_VERSION_MIN);
    assert_int_equal(msg.u.error.ver_max, PROTO_VERSION_MAX);
    assert_non_null(strstr(msg.u.error.text, "supported 1..2"));

    /* A decoder narrowed to version 1 (after a version-1 HELLO) refuses a
     * version-2 message, but still reads the frozen ERROR. */
    proto_dec_init(&dec);
    assert_int_equal(proto_dec_set_versions(&dec, 1, 1), 0);
    raw(buf, 2, PROTO_LIST, 0, 4, 9, b, 4);
    assert_int_equal(proto_dec_feed(&dec, buf, 24, &used, &msg), -PROTO_E_VERSION);
    proto_dec_init(&dec);
    assert_int_equal(proto_dec_set_versions(&dec, 2, 2), 0);
    n = proto_enc_error(buf, sizeof(buf), 1, &er);
    assert_int_equal(proto_dec_feed(&dec, buf, (size_t)n, &used, &msg), PROTO_MESSAGE);

    /* An older peer: version 0 never existed (and a HELLO range starting
     * at 0 is refused too). */
    raw(buf, 0, PROTO_LIST, 0, 4, 0, b, 4);
    e = expect_error(buf, 24, PROTO_E_VERSION, PROTO_OFF_VERSION);
    assert_int_equal(e.value, 0);
    /* The version is checked before the type: an older or newer peer's
     * unknown type is reported as a version problem. */
    raw(buf, 7, 0x99, 0, 4, 0, b, 4);
    expect_error(buf, 24, PROTO_E_VERSION, PROTO_OFF_VERSION);

    /* Narrowing the decoder is checked. */
    proto_dec_init(&dec);
    assert_int_equal(proto_dec_set_versions(&dec, 1, 1), 0);
    assert_int_equal(proto_dec_set_versions(&dec, 0, 1), -PROTO_E_INVAL);
    assert_int_equal(proto_dec_set_versions(&dec, 1, PROTO_VERSION_MAX + 1), -PROTO_E_INVAL);
}

static void test_strerror_format(void **state)
{
    (void)state;
    char line[200];
    struct proto_err e;

    for (int c = 1; c <= PROTO_E_INVAL; c++) {
        assert_string_not_equal(proto_strerror(c), "unknown error");
        assert_string_equal(proto_strerror(c), proto_strerror(-c));
    }
    assert_string_equal(proto_strerror(999), "unknown error");
    assert_string_equal(proto_type_name(PROTO_NEGOTIATE_OK), "NEGOTIATE_OK");
    assert_string_equal(proto_type_name(99), "?");

    raw(buf, 1, PROTO_HELLO, 0, 5000, 0, NULL, 0);
    e = expect_error(buf, PROTO_HDR_SIZE, PROTO_E_LENGTH, PROTO_OFF_LENGTH);
    proto_err_format(&e, line, sizeof(line));
    assert_string_equal(line, "length over the limit: HELLO length 5000 (limit 70) at offset 0+12");
    /* Tiny buffers are still terminated. */
    proto_err_format(&e, line, 5);
    assert_string_equal(line, "leng");
    /* Only wire codes make an ERROR reply. */
    e.code = PROTO_E_NOSPACE;
    assert_int_equal(proto_enc_error_for(buf, sizeof(buf), 0, &e), -PROTO_E_INVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_bytes),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_roundtrip_hello),
        cmocka_unit_test(test_roundtrip_negotiate),
        cmocka_unit_test(test_roundtrip_control),
        cmocka_unit_test(test_roundtrip_list_ok),
        cmocka_unit_test(test_err_magic),
        cmocka_unit_test(test_err_header),
        cmocka_unit_test(test_err_body),
        cmocka_unit_test(test_err_strings),
        cmocka_unit_test(test_err_values),
        cmocka_unit_test(test_chunked),
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_strerror_format),
    };
    return cmocka_run_group_tests_name("elisa_proto", tests, NULL, NULL);
}
