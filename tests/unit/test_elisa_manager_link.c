/* tests/unit/test_elisa_manager_link.c - cmocka tests of the manager's host
 * link messages (elisa/manager/link_msg.h): the byte layout written by hand,
 * every field the decoder refuses, seeded mutations (one encoding per
 * message, no sanitizer report), and file descriptors over a real
 * SOCK_SEQPACKET socket pair: the right count, none leaked on refusal.
 * Built with ASan+UBSan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <dirent.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../elisa/manager/link_msg.h"
#include "../../elisa/proto/proto.h"

static uint8_t buf[ELISA_LINK_MSG_MAX + 64];
static char err[256];

static struct elisa_link_msg good_ok(void)
{
    struct elisa_link_msg m;

    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_ATTACH_OK;
    m.u.attach_ok = (struct elisa_link_attach_ok){
        .guest_id = 7, .vcpu = 1, .mode = PROTO_MODE_EXIT, .doorbell = 0x0e1a,
        .gate_gpa = 0xc0004000ull, .gate_gva = 0xc0004000ull,
        .shared_gpa = 0xc0600000ull, .shared_size = 0x101000,
        .entry_offset = 0x160, .app_size = 0x1000,
        .region_size = 0x207000, .guest_off = 0x106000, .env_arg = 1, .app = "vmnet",
    };
    return m;
}

static uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void test_layout(void **state)
{
    struct elisa_link_msg m = good_ok(), d;
    int n;

    (void)state;
    n = elisa_link_encode(buf, sizeof(buf), &m);
    assert_int_equal(n, ELISA_LINK_HDR + 112);
    assert_memory_equal(buf, "ELNK", 4);
    assert_int_equal(get(buf + 4, 2), 1);                     /* version */
    assert_int_equal(get(buf + 6, 2), ELISA_LINK_ATTACH_OK);  /* type */
    assert_int_equal(get(buf + 8, 4), 112);                   /* body length */
    const uint8_t *b = buf + ELISA_LINK_HDR;
    assert_int_equal(get(b + 0, 4), 7);                       /* guest_id */
    assert_int_equal(get(b + 4, 4), 1);                       /* vcpu */
    assert_int_equal(b[8], PROTO_MODE_EXIT);                  /* mode */
    assert_int_equal(get(b + 9, 2), 0x0e1a);                  /* doorbell */
    assert_true(get(b + 11, 8) == 0xc0004000ull);             /* gate_gpa */
    assert_true(get(b + 35, 8) == 0x101000);                  /* shared_size */
    assert_int_equal(get(b + 43, 4), 0x160);                  /* entry_offset */
    assert_true(get(b + 55, 8) == 0x207000);                  /* region_size */
    assert_true(get(b + 71, 8) == 1);                         /* env_arg */
    assert_int_equal(get(b + 79, 2), 5);                      /* app length */
    assert_memory_equal(b + 81, "vmnet", 5);
    for (unsigned i = 86; i < 112; i++)                       /* zero padding */
        assert_int_equal(b[i], 0);
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);
    assert_memory_equal(&d.u.attach_ok, &m.u.attach_ok, sizeof(m.u.attach_ok));

    /* The other three, round trip and size. */
    struct elisa_link_msg a = { .type = ELISA_LINK_ATTACH, .u.attach = { 3, 0 } };
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &a), ELISA_LINK_HDR + 8);
    assert_int_equal(elisa_link_decode(buf, ELISA_LINK_HDR + 8, &d, err, sizeof(err)), 0);
    assert_int_equal(d.u.attach.guest_id, 3);
    struct elisa_link_msg e = { .type = ELISA_LINK_ERROR };
    e.u.error.code = PROTO_E_DENIED;
    snprintf(e.u.error.text, sizeof(e.u.error.text), "vCPU 0 of guest g is disabled");
    n = elisa_link_encode(buf, sizeof(buf), &e);
    assert_int_equal(n, ELISA_LINK_HDR + 131);
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);
    assert_string_equal(d.u.error.text, e.u.error.text);
    struct elisa_link_msg t = { .type = ELISA_LINK_DETACH };
    t.u.detach = (struct elisa_link_detach){ 3, 0, ELISA_LINK_RELEASED, "" };
    memset(t.u.detach.text, '~', ELISA_LINK_TEXT_MAX);       /* the longest text */
    n = elisa_link_encode(buf, sizeof(buf), &t);
    assert_int_equal(n, ELISA_LINK_MSG_MAX);
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);
    assert_int_equal(strlen(d.u.detach.text), ELISA_LINK_TEXT_MAX);
    /* nop: no region, no port. */
    m.u.attach_ok.shared_gpa = m.u.attach_ok.shared_size = 0;
    m.u.attach_ok.region_size = m.u.attach_ok.guest_off = m.u.attach_ok.env_arg = 0;
    snprintf(m.u.attach_ok.app, sizeof(m.u.attach_ok.app), "nop");
    assert_true(elisa_link_encode(buf, sizeof(buf), &m) > 0);
    /* A too small buffer. */
    assert_int_equal(elisa_link_encode(buf, ELISA_LINK_HDR + 111, &m), -1);
}

/* Each bad ATTACH_OK field: the encoder refuses it, and the decoder
 * refuses the good encoding with that field patched, naming it. */
static void test_attach_ok_fields(void **state)
{
    struct elisa_link_msg m, d;

    (void)state;
#define BAD(field_, value_, off_, size_, text_)                                      \
    do {                                                                             \
        m = good_ok();                                                               \
        m.u.attach_ok.field_ = value_;                                               \
        assert_int_equal(elisa_link_encode(buf, sizeof(buf), &m), -1);               \
        m = good_ok();                                                               \
        assert_true(elisa_link_encode(buf, sizeof(buf), &m) > 0);                    \
        put(buf + ELISA_LINK_HDR + (off_), (uint64_t)(value_), size_);               \
        assert_int_equal(elisa_link_decode(buf, ELISA_LINK_HDR + 112, &d, err,       \
                                           sizeof(err)), -1);                        \
        if (!strstr(err, text_))                                                     \
            fail_msg("%s: got \"%s\"", text_, err);                                  \
    } while (0)
    BAD(guest_id, 0, 0, 4, "guest_id is 0");
    BAD(vcpu, PROTO_VCPU_ALL, 4, 4, "vcpu is 0xffffffff");
    BAD(mode, 0, 8, 1, "mode 0");
    BAD(mode, 3, 8, 1, "mode 3");
    BAD(gate_gpa, 0xc0004800ull, 11, 8, "gate_gpa");
    BAD(gate_gpa, PROTO_GPA_LIMIT, 11, 8, "gate_gpa");
    BAD(gate_gva, 0x0000800000000000ull, 19, 8, "gate_gva");
    BAD(gate_gva, 0xfffffffffffff000ull, 19, 8, "gate_gva");
    BAD(shared_gpa, 0xc0600800ull, 27, 8, "shared range");
    BAD(shared_size, 0x1001, 35, 8, "shared range");
    BAD(shared_gpa, 0xc0003000ull, 27, 8, "overlaps the gate block");
    BAD(app_size, 0, 47, 8, "app_size 0");
    BAD(app_size, 0x1800, 47, 8, "app_size");
    BAD(entry_offset, 0x1000, 43, 4, "entry_offset 4096 is outside");
    BAD(region_size, 0x100000, 55, 8, "smaller than guest_off + shared_size");
    BAD(guest_off, 0x106800, 63, 8, "not page aligned");
    BAD(guest_off, 0x207000, 63, 8, "smaller than guest_off + shared_size");
#undef BAD
    /* A VMFUNC answer carries no doorbell; EXIT may say 0 (MMIO). */
    m = good_ok();
    m.u.attach_ok.doorbell = 0;
    assert_true(elisa_link_encode(buf, sizeof(buf), &m) > 0);
    m.u.attach_ok.mode = PROTO_MODE_VMFUNC;
    m.u.attach_ok.doorbell = 0x0e1a;
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &m), -1);
    m = good_ok();
    assert_true(elisa_link_encode(buf, sizeof(buf), &m) > 0);
    put(buf + ELISA_LINK_HDR + 8, PROTO_MODE_VMFUNC, 1);   /* mode patched: doorbell stays */
    assert_int_equal(elisa_link_decode(buf, ELISA_LINK_HDR + 112, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "doorbell 0xe1a in VMFUNC mode"));
    m.u.attach_ok.mode = PROTO_MODE_VMFUNC;
    m.u.attach_ok.doorbell = 0;
    assert_true(elisa_link_encode(buf, sizeof(buf), &m) > 0);
    /* No region, but a port or an offset. */
    m = good_ok();
    m.u.attach_ok.shared_gpa = m.u.attach_ok.shared_size = m.u.attach_ok.region_size = 0;
    m.u.attach_ok.guest_off = 0;
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &m), -1);   /* env_arg 1 */
    /* Shared size 0 with an address. */
    m = good_ok();
    m.u.attach_ok.shared_size = 0;
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &m), -1);
}

static void test_header_and_strings(void **state)
{
    struct elisa_link_msg m = good_ok(), d;
    int n = elisa_link_encode(buf, sizeof(buf), &m);

    (void)state;
    assert_true(n > 0);
    assert_int_equal(elisa_link_decode(buf, 11, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "shorter than the 12-byte header"));
    buf[0] = 'X';
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad magic"));
    buf[0] = 'E';
    buf[4] = 2;
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "version 2"));
    buf[4] = 1;
    buf[6] = 9;
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "unknown type 9"));
    buf[6] = ELISA_LINK_ATTACH_OK;
    buf[8] = 111;                                           /* length field */
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "ATTACH_OK length 111"));
    buf[8] = 112;
    assert_int_equal(elisa_link_decode(buf, (size_t)n - 1, &d, err, sizeof(err)), -1);  /* packet */
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);

    uint8_t *app = buf + ELISA_LINK_HDR + 79;
    put(app, 0, 2);                                          /* empty name */
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "app is empty"));
    put(app, 32, 2);                                         /* over 31 */
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "app length 32 is over 31"));
    put(app, 5, 2);
    app[2 + 2] = '/';                                        /* bad character */
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad byte 0x2f at 2"));
    app[2 + 2] = 'n';
    app[2 + 20] = 1;                                         /* padding not zero */
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad byte 0x01 at 20"));
    app[2 + 20] = 0;
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);

    /* ERROR text: printable only; code within the wire's range. */
    struct elisa_link_msg e = { .type = ELISA_LINK_ERROR };
    e.u.error.code = PROTO_E_NOSPACE;                        /* local only */
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &e), -1);
    e.u.error.code = PROTO_E_BUSY;
    snprintf(e.u.error.text, sizeof(e.u.error.text), "tab\there");
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &e), -1);
    /* DETACH reason. */
    struct elisa_link_msg t = { .type = ELISA_LINK_DETACH };
    t.u.detach = (struct elisa_link_detach){ 3, 0, 4, "x" };
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &t), -1);
    assert_int_equal(elisa_link_body_size(0), 0);
    assert_string_equal(elisa_link_type_name(99), "?");
}

/* Seeded mutations of valid packets: no sanitizer report, and whatever is
 * accepted re-encodes to exactly the same bytes. */
/* The VMFUNC exchange (QUERY -> INFO, INSTALL -> INSTALLED): the bytes by
 * hand, round trips, and every bad field refused by the encoder and, in
 * the good encoding patched, by the decoder naming the field. */
static void test_vmfunc_messages(void **state)
{
    struct elisa_link_msg d;
    int n;

    (void)state;
    struct elisa_link_msg q = { .type = ELISA_LINK_VMFUNC_QUERY, .u.attach = { 9, 3 } };
    n = elisa_link_encode(buf, sizeof(buf), &q);
    assert_int_equal(n, ELISA_LINK_HDR + 8);
    assert_int_equal(get(buf + 6, 2), 5);
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);
    assert_int_equal(d.type, ELISA_LINK_VMFUNC_QUERY);
    assert_int_equal(d.u.attach.guest_id, 9);
    assert_int_equal(d.u.attach.vcpu, 3);
    q.type = ELISA_LINK_VMFUNC_INSTALLED;
    n = elisa_link_encode(buf, sizeof(buf), &q);
    assert_int_equal(get(buf + 6, 2), 8);
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);
    assert_int_equal(d.type, ELISA_LINK_VMFUNC_INSTALLED);
    q.u.attach.guest_id = 0;
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &q), -1);

    struct elisa_link_msg i = { .type = ELISA_LINK_VMFUNC_INFO };
    i.u.vmfunc_info = (struct elisa_link_vmfunc_info){ 9, 3, 100, 101, 0x0123456789abcdefull };
    n = elisa_link_encode(buf, sizeof(buf), &i);
    assert_int_equal(n, ELISA_LINK_HDR + 20);
    const uint8_t *b = buf + ELISA_LINK_HDR;
    assert_int_equal(get(buf + 6, 2), 6);
    assert_int_equal(get(b + 0, 4), 9);
    assert_int_equal(get(b + 4, 4), 3);
    assert_int_equal(get(b + 8, 2), 100);
    assert_int_equal(get(b + 10, 2), 101);
    assert_true(get(b + 12, 8) == 0x0123456789abcdefull);
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);
    assert_memory_equal(&d.u.vmfunc_info, &i.u.vmfunc_info, sizeof(i.u.vmfunc_info));
    static const struct { unsigned off, size; uint64_t bad; const char *says; } info_bad[] = {
        { 0, 4, 0, "guest_id is 0" },
        { 4, 4, 0xffffffffu, "vcpu is 0xffffffff" },
        { 8, 2, 0, "KVM ids manager 0" },
        { 10, 2, 0, "guest 0" },
        { 10, 2, 100, "manager 100, guest 100" },
    };
    for (unsigned k = 0; k < sizeof(info_bad) / sizeof(info_bad[0]); k++) {
        uint8_t p[ELISA_LINK_MSG_MAX];
        memcpy(p, buf, (size_t)n);
        put(p + ELISA_LINK_HDR + info_bad[k].off, info_bad[k].bad, info_bad[k].size);
        assert_int_equal(elisa_link_decode(p, (size_t)n, &d, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "VMFUNC_INFO"));
        assert_non_null(strstr(err, info_bad[k].says));
    }
    i.u.vmfunc_info.guest_kvm_id = 100;
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &i), -1);

    struct elisa_link_msg s = { .type = ELISA_LINK_VMFUNC_INSTALL };
    s.u.vmfunc_install = (struct elisa_link_vmfunc_install){ 9, 3, 4095, 1 };
    n = elisa_link_encode(buf, sizeof(buf), &s);
    assert_int_equal(n, ELISA_LINK_HDR + 13);
    b = buf + ELISA_LINK_HDR;
    assert_int_equal(get(buf + 6, 2), 7);
    assert_int_equal(get(b + 8, 4), 4095);
    assert_int_equal(b[12], 1);
    assert_int_equal(elisa_link_decode(buf, (size_t)n, &d, err, sizeof(err)), 0);
    assert_memory_equal(&d.u.vmfunc_install, &s.u.vmfunc_install, sizeof(s.u.vmfunc_install));
    static const struct { unsigned off, size; uint64_t bad; const char *says; } inst_bad[] = {
        { 0, 4, 0, "guest_id is 0" },
        { 4, 4, 0xffffffffu, "vcpu is 0xffffffff" },
        { 8, 4, 4096, "kvm_vcpu_id 4096" },
        { 12, 1, 2, "user_mode 2" },
    };
    for (unsigned k = 0; k < sizeof(inst_bad) / sizeof(inst_bad[0]); k++) {
        uint8_t p[ELISA_LINK_MSG_MAX];
        memcpy(p, buf, (size_t)n);
        put(p + ELISA_LINK_HDR + inst_bad[k].off, inst_bad[k].bad, inst_bad[k].size);
        assert_int_equal(elisa_link_decode(p, (size_t)n, &d, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "VMFUNC_INSTALL"));
        assert_non_null(strstr(err, inst_bad[k].says));
    }
    /* A body of another type's size is refused by length. */
    assert_int_equal(elisa_link_decode(buf, (size_t)n - 1, &d, err, sizeof(err)), -1);
    s.u.vmfunc_install.user_mode = 2;
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &s), -1);
    s.u.vmfunc_install.user_mode = 0;
    s.u.vmfunc_install.kvm_vcpu_id = ELISA_LINK_KVM_VCPU_LIMIT;
    assert_int_equal(elisa_link_encode(buf, sizeof(buf), &s), -1);
    assert_string_equal(elisa_link_type_name(ELISA_LINK_VMFUNC_INSTALLED), "VMFUNC_INSTALLED");
    assert_int_equal(elisa_link_body_size(9), 0);
}

static void test_mutations(void **state)
{
    struct elisa_link_msg seeds[6], d;
    uint8_t in[ELISA_LINK_MSG_MAX + 16], again[ELISA_LINK_MSG_MAX];
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    unsigned accepted = 0, refused = 0;

    (void)state;
    seeds[0] = good_ok();
    seeds[1] = (struct elisa_link_msg){ .type = ELISA_LINK_ATTACH, .u.attach = { 1, 2 } };
    seeds[2] = (struct elisa_link_msg){ .type = ELISA_LINK_ERROR };
    seeds[2].u.error.code = 13;
    snprintf(seeds[2].u.error.text, sizeof(seeds[2].u.error.text), "denied");
    seeds[3] = (struct elisa_link_msg){ .type = ELISA_LINK_DETACH };
    seeds[3].u.detach = (struct elisa_link_detach){ 1, 2, 1, "disabled" };
    seeds[4] = (struct elisa_link_msg){ .type = ELISA_LINK_VMFUNC_INFO };
    seeds[4].u.vmfunc_info = (struct elisa_link_vmfunc_info){ 1, 2, 10, 11, 0xfeedull };
    seeds[5] = (struct elisa_link_msg){ .type = ELISA_LINK_VMFUNC_INSTALL };
    seeds[5].u.vmfunc_install = (struct elisa_link_vmfunc_install){ 1, 2, 0, 1 };
    for (unsigned i = 0; i < 240000; i++) {
        struct elisa_link_msg *s = &seeds[i % 6];
        int n = elisa_link_encode(in, sizeof(in), s);
        size_t len = (size_t)n;
        assert_true(n > 0);
        for (int k = 1 + (int)(rng % 4); k > 0; k--) {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            switch (rng % 5) {
            case 0: in[rng % len] ^= (uint8_t)(1u << ((rng >> 8) % 8)); break;
            case 1: in[rng % len] = (uint8_t)(rng >> 16); break;
            case 2: len = rng % (len + 1); break;
            case 3: if (len < sizeof(in)) in[len++] = (uint8_t)(rng >> 24); break;
            default: in[(rng >> 5) % len] = 0; break;
            }
            if (len == 0)
                break;
        }
        if (elisa_link_decode(in, len, &d, err, sizeof(err)) != 0) {
            refused++;
            assert_true(strlen(err) > 0);
            continue;
        }
        accepted++;
        n = elisa_link_encode(again, sizeof(again), &d);
        assert_int_equal(n, (int)len);
        assert_memory_equal(again, in, len);
    }
    /* Both paths were taken (the test would prove nothing otherwise). */
    assert_true(accepted > 1000);
    assert_true(refused > 120000);
}

/* --- fds over a socket pair --------------------------------------------------------------- */

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int memfd_of(size_t size)
{
    int fd = memfd_create("t", MFD_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    return fd;
}

static void test_fd_passing(void **state)
{
    struct elisa_link_msg m = good_ok(), d;
    int sv[2], fds[ELISA_LINK_FDS_MAX], nfds;
    struct stat a, b;

    (void)state;
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    int img = memfd_of(0x1000), reg = memfd_of(0x207000);
    int before = count_fds();

    /* Image and region: both arrive, the same files. */
    int two[2] = { img, reg };
    assert_int_equal(elisa_link_send(sv[0], &m, two, 2, err, sizeof(err)), 0);
    assert_int_equal(elisa_link_recv(sv[1], &d, fds, &nfds, err, sizeof(err)), 1);
    assert_int_equal(nfds, 2);
    assert_int_equal(fstat(fds[0], &a), 0);
    assert_int_equal(fstat(img, &b), 0);
    assert_true(a.st_ino == b.st_ino);
    assert_int_equal(fstat(fds[1], &a), 0);
    assert_int_equal(fstat(reg, &b), 0);
    assert_true(a.st_ino == b.st_ino);
    close(fds[0]);
    close(fds[1]);
    assert_int_equal(count_fds(), before);

    /* One fd where the message says two: refused, nothing leaked. */
    assert_int_equal(elisa_link_send(sv[0], &m, &img, 1, err, sizeof(err)), 0);
    assert_int_equal(elisa_link_recv(sv[1], &d, fds, &nfds, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "came with 1 file descriptors, expected 2"));
    assert_int_equal(nfds, 0);
    assert_int_equal(count_fds(), before);

    /* fds with a message that carries none. */
    struct elisa_link_msg at = { .type = ELISA_LINK_ATTACH, .u.attach = { 1, 0 } };
    assert_int_equal(elisa_link_send(sv[0], &at, two, 2, err, sizeof(err)), 0);
    assert_int_equal(elisa_link_recv(sv[1], &d, fds, &nfds, err, sizeof(err)), -1);
    assert_int_equal(count_fds(), before);

    /* Three fds (more than any message): refused, all closed. */
    {
        uint8_t pkt[ELISA_LINK_MSG_MAX];
        int n = elisa_link_encode(pkt, sizeof(pkt), &m);
        int three[3] = { img, reg, img };
        union { struct cmsghdr h; char b[CMSG_SPACE(3 * sizeof(int))]; } ctl;
        struct iovec iov = { pkt, (size_t)n };
        struct msghdr mh = { 0 };
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = ctl.b;
        mh.msg_controllen = sizeof(ctl.b);
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(3 * sizeof(int));
        memcpy(CMSG_DATA(c), three, sizeof(three));
        assert_int_equal(sendmsg(sv[0], &mh, 0), n);
        assert_int_equal(elisa_link_recv(sv[1], &d, fds, &nfds, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "too many file descriptors"));
        assert_int_equal(count_fds(), before);
    }

    /* An oversize packet: more bytes than any message. */
    uint8_t big[ELISA_LINK_MSG_MAX + 8];
    memset(big, 0, sizeof(big));
    assert_int_equal(send(sv[0], big, sizeof(big), 0), (ssize_t)sizeof(big));
    assert_int_equal(elisa_link_recv(sv[1], &d, fds, &nfds, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "more bytes than any message"));
    /* Garbage of a plausible size: refused by the decoder. */
    assert_int_equal(send(sv[0], big, 20, 0), 20);
    assert_int_equal(elisa_link_recv(sv[1], &d, fds, &nfds, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bad magic"));

    /* The sender refuses invalid messages and too many fds. */
    m.u.attach_ok.mode = 9;
    assert_int_equal(elisa_link_send(sv[0], &m, two, 2, err, sizeof(err)), -1);
    m = good_ok();
    int many[3] = { img, reg, img };
    assert_int_equal(elisa_link_send(sv[0], &m, many, 3, err, sizeof(err)), -1);

    /* The peer closes: 0. */
    close(sv[0]);
    assert_int_equal(elisa_link_recv(sv[1], &d, fds, &nfds, err, sizeof(err)), 0);
    close(sv[1]);
    close(img);
    close(reg);
}

static void test_default_path(void **state)
{
    char p[128];

    (void)state;
    elisa_link_default_path(p, sizeof(p));
    if (getuid() == 0)
        assert_string_equal(p, "/run/exitless/elisa.sock");
    else
        assert_non_null(strstr(p, "/tmp/exitless-"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_attach_ok_fields),
        cmocka_unit_test(test_header_and_strings),
        cmocka_unit_test(test_vmfunc_messages),
        cmocka_unit_test(test_mutations),
        cmocka_unit_test(test_fd_passing),
        cmocka_unit_test(test_default_path),
    };
    return cmocka_run_group_tests_name("elisa_manager_link", tests, NULL, NULL);
}
