/* elisa/proto/proto_fuzz.c - one fuzz input through the decoder, with the
 * invariants of proto_fuzz.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto_fuzz.h"

struct proto_fuzz_stats proto_fuzz_stats;

#define MAX_EVENTS 4096

/* What a pass saw: messages (start, end) and how the stream ended. */
struct event {
    uint64_t start, end;
    uint16_t type;
};

struct pass {
    struct event ev[MAX_EVENTS];
    unsigned nev;
    int end_code;                 /* 0: need more (or empty), else PROTO_E_* */
    struct proto_err err;
    uint64_t consumed;            /* bytes the decoder took in total */
    uint32_t pending;             /* bytes held of an unfinished message */
};

static const uint8_t *cur_data;
static size_t cur_len;

static void fail(const char *what)
{
    fprintf(stderr, "proto_fuzz: INVARIANT BROKEN: %s\nproto_fuzz: input (%zu bytes):", what,
            cur_len);
    for (size_t i = 0; i < cur_len; i++)
        fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", cur_data[i]);
    fprintf(stderr, "\n");
    abort();
}

static uint64_t rng;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Big structs live here, not on the stack (ASan's stack frames grow). */
static struct proto_dec dec;
static struct proto_msg msg, msg2;
static uint8_t reenc[PROTO_MSG_MAX];
static struct pass pass_whole, pass_chunked;

/* An oracle for the header, written from README.md's rules rather than
 * from the decoder: the header at DATA[START] is one the decoder must
 * accept (our magic, version, a known type, no flags, length within the
 * type's limit at that version: NEGOTIATE_OK is 46 bytes at version 1 and
 * 49 at version 2, every other type the same in both). */
static int header_ok(uint64_t start)
{
    const uint8_t *h = cur_data + start;
    uint32_t version, type, flags, length;

    if (start + PROTO_HDR_SIZE > cur_len)
        return 0;
    if (h[0] != 'E' || h[1] != 'L' || h[2] != 'S' || h[3] != 'A')
        return 0;
    version = (uint32_t)h[4] | (uint32_t)h[5] << 8;
    type = (uint32_t)h[6] | (uint32_t)h[7] << 8;
    flags = (uint32_t)h[8] | (uint32_t)h[9] << 8 | (uint32_t)h[10] << 16 | (uint32_t)h[11] << 24;
    length = (uint32_t)h[12] | (uint32_t)h[13] << 8 | (uint32_t)h[14] << 16 | (uint32_t)h[15] << 24;
    return version >= PROTO_VERSION_MIN && version <= PROTO_VERSION_MAX &&
           type >= PROTO_TYPE_FIRST && type <= PROTO_TYPE_LAST && flags == 0 &&
           length <= (type == PROTO_NEGOTIATE_OK ? (version == 1 ? 46u : 49u)
                                                 : proto_body_max(type)) &&
           length <= PROTO_BODY_MAX;
}

static void on_message(struct pass *p, uint64_t start, uint64_t end, int chunking)
{
    struct proto_err e;
    size_t used;
    int n;

    if (end <= start || end - start < PROTO_HDR_SIZE || end > cur_len)
        fail("message bounds");
    if (!header_ok(start))
        fail("a message accepted with a header the rules refuse");
    /* Round trip: the decoded struct gives back the very same bytes. */
    n = proto_encode(reenc, sizeof(reenc), &msg);
    if (n < 0) {
        fprintf(stderr, "proto_fuzz: re-encoding %s failed: %s\n", proto_type_name(msg.type),
                proto_strerror(n));
        fail("accepted message does not re-encode");
    }
    if ((uint64_t)n != end - start || memcmp(reenc, cur_data + start, (size_t)n) != 0)
        fail("re-encoding differs from the input bytes");
    /* The one-shot decoder agrees on the slice alone (checked once). */
    if (chunking == 0 &&
        (proto_decode(cur_data + start, (size_t)(end - start), &used, &msg2, &e) != PROTO_MESSAGE ||
         used != end - start || msg2.type != msg.type || msg2.req_id != msg.req_id))
        fail("one-shot decode of the message differs");
    if (p->nev == MAX_EVENTS)
        fail("too many messages for the harness");
    p->ev[p->nev].start = start;
    p->ev[p->nev].end = end;
    p->ev[p->nev].type = msg.type;
    p->nev++;
}

/* CHUNKING: 0 = all at once, 1 = one byte at a time, 2 = random sizes. */
static void run_pass(struct pass *p, int chunking)
{
    size_t pos = 0;
    uint64_t msg_start = 0;

    proto_dec_init(&dec);
    p->nev = 0;
    p->end_code = 0;
    memset(&p->err, 0, sizeof(p->err));
    while (pos < cur_len) {
        size_t give = cur_len - pos, used = (size_t)-1;
        if (chunking == 1)
            give = 1;
        else if (chunking == 2) {
            size_t lim = rnd() % 4 == 0 ? cur_len - pos : (rnd() % 2 ? 8 : 40);
            give = 1 + (size_t)(rnd() % lim);
            if (give > cur_len - pos)
                give = cur_len - pos;
        }
        int rc = proto_dec_feed(&dec, cur_data + pos, give, &used, &msg);
        if (used > give)
            fail("decoder used more bytes than it was given");
        pos += used;
        if (rc == PROTO_MESSAGE) {
            if (used == 0)
                fail("a message from zero bytes");
            on_message(p, msg_start, pos, chunking);
            msg_start = pos;
        } else if (rc == PROTO_NEED_MORE) {
            if (used != give)
                fail("need-more did not take all bytes");
        } else if (rc < 0) {
            size_t used2 = 1;
            struct proto_err e = dec.err;
            if (-rc != e.code || e.code < 1 || e.code > PROTO_E_COUNT)
                fail("error code not one of the decoder's");
            if (e.msg_offset != msg_start)
                fail("error not at the current message");
            if (e.msg_offset + e.field_offset > pos)
                fail("error points past the bytes consumed");
            if (used == 0)
                fail("error from zero bytes");
            /* Header errors are reported at the header, body errors only
             * behind a header the rules accept. */
            if ((e.field_offset >= PROTO_HDR_SIZE) != (e.code >= PROTO_E_TRUNCATED))
                fail("error code and place disagree");
            if (e.field_offset >= PROTO_HDR_SIZE && !header_ok(e.msg_offset))
                fail("a body error behind a header the rules refuse");
            if (e.code < PROTO_E_TRUNCATED && header_ok(e.msg_offset))
                fail("a header error for a header the rules accept");
            if (proto_dec_feed(&dec, cur_data, cur_len, &used2, &msg) != rc || used2 != 0)
                fail("a failed decoder did not repeat its error");
            p->end_code = e.code;
            p->err = e;
            break;
        } else {
            fail("unknown return value");
        }
    }
    p->consumed = pos;
    p->pending = p->end_code ? 0 : dec.have;
    if (!p->end_code && pos != cur_len)
        fail("stream not consumed");
}

void proto_fuzz_one(const uint8_t *data, size_t len, uint64_t chunk_seed)
{
    cur_data = data;
    cur_len = len;
    rng = chunk_seed | 1;

    run_pass(&pass_whole, 0);
    run_pass(&pass_chunked, (int)(rnd() % 8 == 0 ? 1 : 2));

    struct pass *a = &pass_whole, *b = &pass_chunked;
    if (a->nev != b->nev || a->end_code != b->end_code || a->consumed != b->consumed ||
        a->pending != b->pending)
        fail("chunked decoding gave different results");
    for (unsigned i = 0; i < a->nev; i++)
        if (a->ev[i].start != b->ev[i].start || a->ev[i].end != b->ev[i].end ||
            a->ev[i].type != b->ev[i].type)
            fail("chunked decoding gave different messages");
    if (a->end_code &&
        (a->err.msg_offset != b->err.msg_offset || a->err.field_offset != b->err.field_offset ||
         a->err.value != b->err.value || a->err.limit != b->err.limit ||
         a->err.type != b->err.type))
        fail("chunked decoding gave a different error");
    /* The error is always formattable into an ERROR reply (which runs
     * proto_err_format and the encoder's own validation). */
    if (a->end_code) {
        static uint8_t out[PROTO_MSG_MAX];
        if (proto_enc_error_for(out, sizeof(out), 0, &a->err) < 0)
            fail("cannot encode the ERROR reply to a decoding error");
    }

    proto_fuzz_stats.inputs++;
    proto_fuzz_stats.messages += a->nev;
    for (unsigned i = 0; i < a->nev; i++)
        proto_fuzz_stats.by_type[a->ev[i].type]++;
    if (a->end_code)
        proto_fuzz_stats.errors[a->end_code]++;
    else if (a->pending)
        proto_fuzz_stats.need_more++;
}
