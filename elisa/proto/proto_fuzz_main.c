/*
 * proto_fuzz_main.c - the deterministic fuzz driver of the ELISA
 * negotiation protocol's decoder (`make elisa-proto-fuzz-run`), in the
 * style of netstack/fuzz/fuzz_main.c.  Built with AddressSanitizer and
 * UBSan: a memory error, undefined behaviour or a broken invariant
 * (proto_fuzz.h: round trip, bytes used, chunking) aborts the run.
 *
 *   proto_fuzz [N [SEED [SECONDS]]]   defaults: 1000000 mutations, seed 1,
 *                                     stop early after 20 s (bounded run)
 *
 * Seeds are made at start from valid encodings (proto_enc_*): every
 * message type with short and longest strings, LIST_OK with 0, 1 and 32
 * entries, NEGOTIATE_OK in both modes and at version 1, streams of
 * several messages, plus a few invalid ones (HTTP, version 3, unknown
 * type, flags, a huge length).  Each seed runs first
 * as it is and with every single byte of its header changed to a few
 * boundary values; then N seeded random mutations.  Every input goes
 * through the decoder whole and in random pieces (proto_fuzz.c).
 *
 * Prints `proto_fuzz: N inputs (M messages accepted), 0 failures` and a
 * histogram of how the inputs ended (which error), to show every error
 * path was reached.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto.h"
#include "proto_fuzz.h"
#include "../../vmfunc/elisa_ids.h"
#include "../../tests/fuzz_driver.h"

/* --- the corpus -------------------------------------------------------------------------- */

#define CORPUS_MAX 128
#define INPUT_MAX  (3 * PROTO_MSG_MAX)

static uint8_t *corpus[CORPUS_MAX];
static size_t corpus_len[CORPUS_MAX];
static int ncorpus;

static void die(const char *what)
{
    fprintf(stderr, "proto_fuzz: %s\n", what);
    exit(2);
}

static uint8_t *c_new(void)
{
    if (ncorpus == CORPUS_MAX)
        die("corpus full");
    corpus[ncorpus] = calloc(1, INPUT_MAX);
    if (!corpus[ncorpus])
        die("out of memory");
    corpus_len[ncorpus] = 0;
    return corpus[ncorpus];
}

/* Append an encoder's result to the current seed; N < 0 is a bug here. */
static void c_add(int n, const uint8_t *msg)
{
    if (n < 0) {
        fprintf(stderr, "proto_fuzz: a seed failed to encode: %s\n", proto_strerror(n));
        exit(2);
    }
    if (corpus_len[ncorpus] + (size_t)n > INPUT_MAX)
        die("seed too long");
    memcpy(corpus[ncorpus] + corpus_len[ncorpus], msg, (size_t)n);
    corpus_len[ncorpus] += (size_t)n;
}

static void c_raw(const void *p, size_t n)
{
    c_add((int)n, p);
}

static void c_end(void)
{
    ncorpus++;
}

static uint8_t m[PROTO_MSG_MAX];
static struct proto_list_ok lok;

static void fill(char *s, size_t n, char c)
{
    memset(s, c, n);
    s[n] = '\0';
}

static void build_corpus(void)
{
    struct proto_hello h = { 1, 1, PROTO_ROLE_GUEST, "guest-1" };
    struct proto_hello hop = { 1, 9, PROTO_ROLE_OPERATOR, "elisactl" };
    struct proto_hello_ok ho = { 1, 7, "manager" };
    struct proto_negotiate ng = { 0, 2u << 20, "vmnet" };
    struct proto_negotiate ng0 = { 3, 0, "nop" };
    struct proto_negotiate_ok no = { 0, 0x7ffd000, 0xffff800000200000ull, VMF_CTX_DEFAULT,
                                     VMF_CTX_GATE, VMF_CTX_SUB, 0x40, 0x80000000ull, 2u << 20,
                                     PROTO_MODE_VMFUNC, 0 };
    struct proto_negotiate_ok no0 = { 1, 0x1000, 0x7ffffffe0000ull, 0, 1, 2, 0, 0, 0,
                                      PROTO_MODE_VMFUNC, 0 };
    /* The exit-based fallback: mailbox page, doorbell, indexes 0. */
    struct proto_negotiate_ok nox = { 2, 0xc0008000ull, 0xc0008000ull, 0, 0, 0, 0x40,
                                      0xc0a00000ull, 0x101000, PROTO_MODE_EXIT, 0x0e1a };
    struct proto_msg v1;
    struct proto_negotiate_err ne = { 2, PROTO_NEG_NO_APP, "no app \"foo\" on this manager" };
    struct proto_enable en = { PROTO_VCPU_ALL, "guest-1" };
    struct proto_enable en0 = { 0, "" };
    struct proto_ok ok = { PROTO_ENABLE };
    struct proto_list li = { 0 };
    struct proto_error er = { PROTO_E_VERSION, 1, 2, "unsupported version 3 (supported 1..2)" };
    struct proto_hello hl;
    struct proto_negotiate_err nel;
    struct proto_error erl;

    /* Each message alone. */
    c_new(); c_add(proto_enc_hello(m, sizeof(m), 1, &h), m); c_end();
    c_new(); c_add(proto_enc_hello(m, sizeof(m), 1, &hop), m); c_end();
    c_new(); c_add(proto_enc_hello_ok(m, sizeof(m), 1, &ho), m); c_end();
    c_new(); c_add(proto_enc_negotiate(m, sizeof(m), 2, &ng), m); c_end();
    c_new(); c_add(proto_enc_negotiate(m, sizeof(m), 3, &ng0), m); c_end();
    c_new(); c_add(proto_enc_negotiate_ok(m, sizeof(m), 2, &no), m); c_end();
    c_new(); c_add(proto_enc_negotiate_ok(m, sizeof(m), 3, &no0), m); c_end();
    c_new(); c_add(proto_enc_negotiate_ok(m, sizeof(m), 4, &nox), m); c_end();
    memset(&v1, 0, sizeof(v1));   /* what a version-1 guest is sent */
    v1.type = PROTO_NEGOTIATE_OK;
    v1.version = 1;
    v1.req_id = 5;
    v1.u.negotiate_ok = no;
    c_new(); c_add(proto_encode(m, sizeof(m), &v1), m); c_end();
    c_new(); c_add(proto_enc_negotiate_err(m, sizeof(m), 4, &ne), m); c_end();
    c_new(); c_add(proto_enc_enable(m, sizeof(m), 5, &en), m); c_end();
    c_new(); c_add(proto_enc_disable(m, sizeof(m), 6, &en0), m); c_end();
    c_new(); c_add(proto_enc_ok(m, sizeof(m), 5, &ok), m); c_end();
    c_new(); c_add(proto_enc_list(m, sizeof(m), 7, &li), m); c_end();
    c_new(); c_add(proto_enc_error(m, sizeof(m), 0, &er), m); c_end();

    /* Longest strings. */
    hl = h;
    fill(hl.name, PROTO_NAME_MAX, 'n');
    c_new(); c_add(proto_enc_hello(m, sizeof(m), 0xffffffffu, &hl), m); c_end();
    nel = ne;
    fill(nel.text, PROTO_TEXT_MAX, '~');
    c_new(); c_add(proto_enc_negotiate_err(m, sizeof(m), 9, &nel), m); c_end();
    erl = er;
    fill(erl.text, PROTO_TEXT_MAX, ' ');
    c_new(); c_add(proto_enc_error(m, sizeof(m), 9, &erl), m); c_end();

    /* LIST_OK: empty, one entry, full. */
    memset(&lok, 0, sizeof(lok));
    c_new(); c_add(proto_enc_list_ok(m, sizeof(m), 7, &lok), m); c_end();
    lok.total = 40;
    lok.start = 8;
    lok.count = 1;
    lok.entries[0] = (struct proto_list_entry){ 7, "guest-1", 0, PROTO_CTX_ENABLED, "vmnet",
                                                0x7ffd000, 0x80000000ull, 2u << 20 };
    c_new(); c_add(proto_enc_list_ok(m, sizeof(m), 7, &lok), m); c_end();
    lok.count = PROTO_LIST_MAX;
    for (unsigned i = 0; i < PROTO_LIST_MAX; i++) {
        struct proto_list_entry *x = &lok.entries[i];
        x->guest_id = i;
        fill(x->guest, PROTO_NAME_MAX, (char)('a' + i % 26));
        x->vcpu = i;
        x->state = (uint8_t)(1 + i % PROTO_CTX_LAST);
        fill(x->app, i % 2 ? PROTO_APP_MAX : 3, 'x');
        x->gate_gpa = 0x1000ull * (i + 1);
        x->shared_gpa = i % 3 ? 0x100000000ull : 0;
        x->shared_size = i % 3 ? 0x200000ull : 0;
    }
    c_new(); c_add(proto_enc_list_ok(m, sizeof(m), 7, &lok), m); c_end();

    /* Conversations: what a guest and an operator send and receive. */
    c_new();
    c_add(proto_enc_hello(m, sizeof(m), 1, &h), m);
    c_add(proto_enc_negotiate(m, sizeof(m), 2, &ng), m);
    ng0.vcpu = 1;
    c_add(proto_enc_negotiate(m, sizeof(m), 3, &ng0), m);
    c_add(proto_enc_enable(m, sizeof(m), 4, &en0), m);
    c_add(proto_enc_disable(m, sizeof(m), 5, &en0), m);
    c_end();
    c_new();
    c_add(proto_enc_hello_ok(m, sizeof(m), 1, &ho), m);
    c_add(proto_enc_negotiate_ok(m, sizeof(m), 2, &no), m);
    c_add(proto_enc_negotiate_ok(m, sizeof(m), 6, &nox), m);
    c_add(proto_enc_negotiate_err(m, sizeof(m), 3, &ne), m);
    c_add(proto_enc_ok(m, sizeof(m), 4, &ok), m);
    c_add(proto_enc_error(m, sizeof(m), 5, &er), m);
    c_end();
    c_new();
    c_add(proto_enc_hello(m, sizeof(m), 1, &hop), m);
    c_add(proto_enc_list(m, sizeof(m), 2, &li), m);
    c_add(proto_enc_enable(m, sizeof(m), 3, &en), m);
    lok.count = 3;
    c_add(proto_enc_list_ok(m, sizeof(m), 2, &lok), m);
    c_end();

    /* Invalid from the start. */
    c_new(); c_raw("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27); c_end();
    c_new(); c_raw("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11); c_end(); /* TLS */
    {
        int n = proto_enc_hello(m, sizeof(m), 1, &h);
        m[PROTO_OFF_VERSION] = 3;                 /* a newer peer's header */
        c_new(); c_add(n, m); c_end();
        m[PROTO_OFF_VERSION] = 1;
        m[PROTO_OFF_TYPE] = 0x63;                 /* unknown type */
        c_new(); c_add(n, m); c_end();
        m[PROTO_OFF_TYPE] = PROTO_HELLO;
        m[PROTO_OFF_FLAGS] = 1;                   /* undefined flag */
        c_new(); c_add(n, m); c_end();
        m[PROTO_OFF_FLAGS] = 0;
        m[PROTO_OFF_LENGTH + 3] = 0x7f;           /* huge length */
        c_new(); c_add(n, m); c_end();
    }
}

/* --- mutations ------------------------------------------------------------------------------ */

static const uint8_t interesting[] = { 0x00, 0x01, 0x02, 0x03, 0x0a, 0x14, 0x1f, 0x20, 0x2d,
                                       0x3f, 0x7e, 0x7f, 0x80, 0xfe, 0xff };
static const uint64_t boundary[] = { 0, 1, 2, 3, 12, 19, 20, 31, 32, 33, 63, 64, 127, 128,
                                     511, 512, 4095, 4096, 4202, 8192, 8193, 0x7fff, 0xffff,
                                     0x10000, 0xffffffffull, 1ull << 47, 1ull << 52,
                                     0xffff800000000000ull, UINT64_MAX };

static void put_le(uint8_t *p, uint64_t v, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Offsets where messages start in B (following the length fields as
 * long as they are plausible), so header mutations can hit any message
 * of a stream, not just the first. */
static size_t starts(const uint8_t *b, size_t len, size_t *out, size_t max)
{
    size_t n = 0, at = 0;

    while (n < max && at + PROTO_HDR_SIZE <= len) {
        uint32_t l = (uint32_t)b[at + 12] | (uint32_t)b[at + 13] << 8 |
                     (uint32_t)b[at + 14] << 16 | (uint32_t)b[at + 15] << 24;
        out[n++] = at;
        if (l > PROTO_BODY_MAX)
            break;
        at += PROTO_HDR_SIZE + l;
    }
    return n;
}

static void mutate(uint8_t *b, size_t *len)
{
    int rounds = 1 + (int)(rnd() % 4);

    for (int r = 0; r < rounds; r++) {
        size_t n = *len;
        size_t st[64];
        size_t ns = starts(b, n, st, 64);
        size_t at;

        switch (rnd() % 11) {
        case 0:   /* bit flip */
            if (n)
                b[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1:   /* interesting byte */
            if (n)
                b[rnd() % n] = interesting[rnd() % sizeof(interesting)];
            break;
        case 2:   /* random byte */
            if (n)
                b[rnd() % n] = (uint8_t)rnd();
            break;
        case 3: { /* a 2-, 4- or 8-byte field set to a boundary value */
            unsigned size = 2u << (rnd() % 3);
            if (n >= size) {
                at = rnd() % (n - size + 1);
                put_le(b + at, boundary[rnd() % (sizeof(boundary) / sizeof(boundary[0]))], size);
            }
            break;
        }
        case 4:   /* a header field of one of the messages */
            if (ns) {
                static const unsigned off[] = { PROTO_OFF_VERSION, PROTO_OFF_TYPE,
                                                PROTO_OFF_FLAGS, PROTO_OFF_LENGTH };
                at = st[rnd() % ns] + off[rnd() % 4];
                b[at] = (uint8_t)(rnd() % 4 ? rnd() % 13 : rnd());
            }
            break;
        case 5:   /* make a message's length match what follows it, so
                     the body parser sees the mutated body */
            if (ns) {
                size_t s = st[rnd() % ns];
                size_t body = n - s - PROTO_HDR_SIZE;
                if (rnd() % 2 && ns > 1 && s != st[ns - 1])
                    body = (size_t)(rnd() % (body + 1));
                put_le(b + s + PROTO_OFF_LENGTH, body, 4);
            }
            break;
        case 6:   /* truncate */
            if (n)
                *len = (size_t)(rnd() % (n + 1));
            break;
        case 7:   /* append junk; now and then kilobytes of it, so that
                     lengths beyond the decoder's buffer meet real bytes */
            for (size_t k = rnd() % 64 ? rnd() % 32 : rnd() % (2 * PROTO_MSG_MAX);
                 k && *len < INPUT_MAX; k--)
                b[(*len)++] = (uint8_t)(rnd() % 4 ? 'a' : rnd());
            break;
        case 8: { /* append another seed (a stream of two) */
            int i = (int)(rnd() % (uint64_t)ncorpus);
            size_t k = corpus_len[i];
            if (*len + k <= INPUT_MAX) {
                memcpy(b + *len, corpus[i], k);
                *len += k;
            }
            break;
        }
        case 9:   /* delete a range */
            if (n) {
                at = rnd() % n;
                size_t k = 1 + rnd() % (n - at < 16 ? n - at : 16);
                memmove(b + at, b + at + k, n - at - k);
                *len = n - k;
            }
            break;
        default:  /* insert bytes */
            if (n && n < INPUT_MAX - 16) {
                at = rnd() % (n + 1);
                size_t k = 1 + rnd() % 16;
                memmove(b + at + k, b + at, n - at);
                for (size_t i = 0; i < k; i++)
                    b[at + i] = (uint8_t)(rnd() % 2 ? rnd() : 'a');
                *len = n + k;
            }
            break;
        }
    }
}

static uint8_t in[INPUT_MAX];

int main(int argc, char **argv)
{
    struct fuzz_args args = fuzz_args_parse(argc, argv, 20.0);
    unsigned long n = args.n, seed = args.seed;
    double limit = args.limit;
    double t0 = now_s();
    unsigned long done = 0, deterministic = 0;

    if (argc > 4 || (argc > 1 && n == 0 && argv[1][0] != '0')) {
        fprintf(stderr, "usage: proto_fuzz [MUTATIONS [SEED [SECONDS]]]\n");
        return 2;
    }
    build_corpus();

    /* 1. Each seed as it is, every truncation of its first header, and
     * every header byte set to a few boundary values. */
    for (int i = 0; i < ncorpus; i++) {
        size_t len = corpus_len[i];
        proto_fuzz_one(corpus[i], len, rnd());
        for (size_t k = 0; k < len && k <= PROTO_HDR_SIZE + 8; k++, deterministic++)
            proto_fuzz_one(corpus[i], k, rnd());
        for (size_t at = 0; at < PROTO_HDR_SIZE && at < len; at++) {
            static const uint8_t v[] = { 0x00, 0x01, 0x02, 0x0b, 0x0c, 0x7f, 0x80, 0xff };
            memcpy(in, corpus[i], len);
            for (size_t j = 0; j < sizeof(v); j++, deterministic++) {
                in[at] = v[j];
                proto_fuzz_one(in, len, rnd());
            }
        }
        deterministic++;
    }

    /* 2. Seeded mutations, bounded in count and time. */
    for (; done < n; done++) {
        if ((done & 1023) == 0 && now_s() - t0 > limit)
            break;
        int i = (int)(rnd() % (uint64_t)ncorpus);
        size_t len = corpus_len[i];
        memcpy(in, corpus[i], len);
        mutate(in, &len);
        proto_fuzz_one(in, len, rnd());
    }

    const struct proto_fuzz_stats *s = &proto_fuzz_stats;
    printf("proto_fuzz: %llu inputs (%llu messages accepted), 0 failures\n",
           (unsigned long long)s->inputs, (unsigned long long)s->messages);
    fprintf(stderr, "proto_fuzz: corpus %d, %lu deterministic inputs, mutations %lu of %lu "
            "(seed %lu), %.1f s\n", ncorpus, deterministic, done, n, seed, now_s() - t0);
    fprintf(stderr, "proto_fuzz: accepted by type:");
    for (unsigned t = PROTO_TYPE_FIRST; t <= PROTO_TYPE_LAST; t++)
        fprintf(stderr, " %s %llu", proto_type_name(t), (unsigned long long)s->by_type[t]);
    fprintf(stderr, "\nproto_fuzz: inputs ended by: need-more %llu",
            (unsigned long long)s->need_more);
    for (int c = PROTO_E_MAGIC; c <= PROTO_E_COUNT; c++)
        fprintf(stderr, ", %s %llu", proto_strerror(c), (unsigned long long)s->errors[c]);
    fprintf(stderr, "\n");
    for (int i = 0; i < ncorpus; i++)
        free(corpus[i]);
    return 0;
}
