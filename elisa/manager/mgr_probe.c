/* elisa/manager/mgr_probe.c - a test tool for elisa/manager/test_manager.sh:
 * a guest, a host and hostile peers against a running manager, each
 * printing what it saw as plain lines the suite greps.
 *
 *   negotiate ADDR GUEST HOLD_MS VCPU:APP:SIZE...
 *       one guest connection, one NEGOTIATE per item; then keep the
 *       connection (and so the contexts) for HOLD_MS
 *   attach ADDR LINK GUEST VCPU APP SIZE APPFILE HOLD_MS [SEND]
 *       vmm_attach_from_manager, then check what came: the image equals
 *       APPFILE's (elisa_app_load), the region passes vmnet_check and our
 *       port area is where the numbers say; run the app from the manager's
 *       image (nop: echo; vmnet: SEND broadcast frames through the switch);
 *       then hold for HOLD_MS printing "rx-pending=N" when it changes and
 *       "DETACHED ..." if the manager detaches us
 *   raw-attach LINK GUEST_ID VCPU     one ATTACH, print the answer
 *   link-garbage LINK                 bad packets on the host link
 *   hello ADDR ROLE NAME VMIN VMAX    a HELLO with any version range
 *   v1-negotiate ADDR GUEST VCPU APP  a version-1 guest
 *   guest-requests ADDR GUEST         what a guest may not do
 *   garbage ADDR | oversize ADDR      hostile bytes on the TCP port
 *   slowloris ADDR MAX_MS [hello]     one byte every 200 ms until closed
 *   flood ADDR N HOLD_MS              N connections at once, each says HELLO
 *   pipeline ADDR N                   N LISTs, replies read only when sending stalls
 *   noreader ADDR N WAIT_MS           N LISTs from a peer that does not read
 *
 * Exit status 0 if the probe itself ran (what it saw is in its output), 1
 * on a setup failure, 2 on usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "link_msg.h"
#include "../apps/app.h"
#include "../apps/app_image.h"
#include "../guest/negotiate.h"
#include "../proto/proto.h"
#include "../vmm/attach.h"
#include "../vmnet/vmnet.h"

#define IO_MS 5000

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static void die(const char *fmt, const char *arg)
{
    fprintf(stdout, "SETUP-FAIL ");
    fprintf(stdout, fmt, arg);
    fprintf(stdout, "\n");
    exit(1);
}

/* --- raw TCP peers ------------------------------------------------------------------ */

static int tcp_connect(const char *addr)
{
    struct sockaddr_in sa;
    char err[200];
    struct timeval tv = { IO_MS / 1000, 0 };
    int fd;

    if (elisa_neg_parse_addr(addr, &sa, 0, err, sizeof(err)) != 0)
        die("%s", err);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("connect %s", addr);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static void send_bytes(int fd, const void *p, size_t n)
{
    if (send(fd, p, n, MSG_NOSIGNAL) != (ssize_t)n)
        printf("send failed: %s\n", strerror(errno));
}

static void send_msg(int fd, const struct proto_msg *m)
{
    uint8_t buf[PROTO_MSG_MAX];
    int n = proto_encode(buf, sizeof(buf), m);
    if (n < 0)
        die("encode: %s", proto_strerror(n));
    send_bytes(fd, buf, (size_t)n);
}

/* One message: 1, the peer closed: 0, timeout or error: -1, bad bytes: -2. */
static int recv_msg(int fd, struct proto_dec *d, struct proto_msg *m)
{
    uint8_t c;
    size_t used;

    for (;;) {
        ssize_t k = recv(fd, &c, 1, 0);   /* byte by byte: nothing read past a message */
        if (k == 0)
            return 0;
        if (k < 0)
            return -1;
        int rc = proto_dec_feed(d, &c, 1, &used, m);
        if (rc == PROTO_MESSAGE)
            return 1;
        if (rc < 0)
            return -2;
    }
}

static void print_reply(const char *what, int rc, const struct proto_msg *m)
{
    if (rc == 0) {
        printf("%s: closed\n", what);
    } else if (rc < 0) {
        printf("%s: %s\n", what, rc == -1 ? "timeout or error" : "undecodable reply");
    } else if (m->type == PROTO_ERROR) {
        printf("%s: ERROR %u %s\n", what, m->u.error.code, m->u.error.text);
    } else if (m->type == PROTO_NEGOTIATE_ERR) {
        printf("%s: NEGOTIATE_ERR %u %s\n", what, m->u.negotiate_err.code, m->u.negotiate_err.text);
    } else if (m->type == PROTO_HELLO_OK) {
        printf("%s: HELLO_OK version %u guest_id %u\n", what, m->u.hello_ok.version,
               m->u.hello_ok.guest_id);
    } else {
        printf("%s: %s\n", what, proto_type_name(m->type));
    }
}

static struct proto_msg msg, reply;
static struct proto_dec dec;

/* After the interesting reply, does the manager close the connection? */
static void expect_close(int fd, const char *what)
{
    int rc = recv_msg(fd, &dec, &reply);
    printf("%s: then %s\n", what, rc == 0 ? "closed" : rc == 1 ? "another message" : "no close");
}

static void hello_raw(int fd, uint8_t role, const char *name, uint16_t vmin, uint16_t vmax)
{
    memset(&msg, 0, sizeof(msg));
    msg.type = PROTO_HELLO;
    msg.version = PROTO_VERSION_HELLO;
    msg.req_id = 1;
    msg.u.hello.ver_min = vmin;
    msg.u.hello.ver_max = vmax;
    msg.u.hello.role = role;
    snprintf(msg.u.hello.name, sizeof(msg.u.hello.name), "%s", name);
    send_msg(fd, &msg);
}

static int cmd_hello(char **a)
{
    int fd = tcp_connect(a[0]);
    uint8_t role = strcmp(a[1], "operator") == 0 ? PROTO_ROLE_OPERATOR : PROTO_ROLE_GUEST;

    proto_dec_init(&dec);
    hello_raw(fd, role, a[2], (uint16_t)atoi(a[3]), (uint16_t)atoi(a[4]));
    int rc = recv_msg(fd, &dec, &reply);
    print_reply("hello", rc, &reply);
    if (rc == 1 && reply.type == PROTO_ERROR)
        printf("hello: manager range %u..%u\n", reply.u.error.ver_min, reply.u.error.ver_max);
    close(fd);
    return 0;
}

static int cmd_v1_negotiate(char **a)
{
    int fd = tcp_connect(a[0]);

    proto_dec_init(&dec);
    hello_raw(fd, PROTO_ROLE_GUEST, a[1], 1, 1);
    int rc = recv_msg(fd, &dec, &reply);
    print_reply("v1 hello", rc, &reply);
    if (rc != 1 || reply.type != PROTO_HELLO_OK)
        return 0;
    proto_dec_set_versions(&dec, 1, 1);
    memset(&msg, 0, sizeof(msg));
    msg.type = PROTO_NEGOTIATE;
    msg.version = 1;
    msg.req_id = 2;
    msg.u.negotiate.vcpu = (uint32_t)atoi(a[2]);
    snprintf(msg.u.negotiate.app, sizeof(msg.u.negotiate.app), "%s", a[3]);
    send_msg(fd, &msg);
    rc = recv_msg(fd, &dec, &reply);
    print_reply("v1 negotiate", rc, &reply);
    if (rc == 1)
        printf("v1 negotiate: reply version %u\n", reply.version);
    close(fd);
    return 0;
}

static int cmd_guest_requests(char **a)
{
    int fd = tcp_connect(a[0]);
    static const uint16_t types[] = { PROTO_LIST, PROTO_ENABLE, PROTO_DISABLE, PROTO_NEGOTIATE_OK };
    static const char *names[] = { "LIST", "ENABLE self", "DISABLE other", "NEGOTIATE_OK" };

    proto_dec_init(&dec);
    hello_raw(fd, PROTO_ROLE_GUEST, a[1], PROTO_VERSION_MIN, PROTO_VERSION_MAX);
    int rc = recv_msg(fd, &dec, &reply);
    if (rc != 1 || reply.type != PROTO_HELLO_OK) {
        print_reply("hello", rc, &reply);
        return 0;
    }
    for (unsigned i = 0; i < 4; i++) {
        memset(&msg, 0, sizeof(msg));
        msg.type = types[i];
        msg.version = reply.u.hello_ok.version;
        msg.req_id = 10 + i;
        if (types[i] == PROTO_DISABLE)
            snprintf(msg.u.enable.guest, sizeof(msg.u.enable.guest), "someone-else");
        if (types[i] == PROTO_NEGOTIATE_OK) {
            msg.u.negotiate_ok.mode = PROTO_MODE_VMFUNC;
            msg.u.negotiate_ok.idx_gate = 1;
            msg.u.negotiate_ok.idx_sub = 2;
        }
        if (types[i] == PROTO_ENABLE || types[i] == PROTO_DISABLE)
            msg.u.enable.vcpu = PROTO_VCPU_ALL;
        send_msg(fd, &msg);
        uint16_t version = reply.u.hello_ok.version;
        rc = recv_msg(fd, &dec, &reply);
        print_reply(names[i], rc, &reply);
        reply.u.hello_ok.version = version;   /* keep using it */
        if (rc != 1)
            break;
    }
    close(fd);
    return 0;
}

static int cmd_garbage(char **a)
{
    int fd = tcp_connect(a[0]);
    static const char http[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

    proto_dec_init(&dec);
    send_bytes(fd, http, sizeof(http) - 1);
    int rc = recv_msg(fd, &dec, &reply);
    print_reply("garbage", rc, &reply);
    expect_close(fd, "garbage");
    close(fd);
    return 0;
}

static int cmd_oversize(char **a)
{
    int fd = tcp_connect(a[0]);
    uint8_t h[PROTO_HDR_SIZE] = { 'E', 'L', 'S', 'A', 1, 0, PROTO_HELLO, 0, 0, 0, 0, 0,
                                  0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0 };

    proto_dec_init(&dec);
    send_bytes(fd, h, sizeof(h));
    /* The manager must not wait for 4 GiB of body: it answers now. */
    int rc = recv_msg(fd, &dec, &reply);
    print_reply("oversize", rc, &reply);
    expect_close(fd, "oversize");
    close(fd);
    return 0;
}

static int cmd_slowloris(char **a, int nargs)
{
    int fd = tcp_connect(a[0]);
    unsigned max_ms = (unsigned)atoi(a[1]);
    bool after_hello = nargs > 2 && strcmp(a[2], "hello") == 0;
    uint8_t list[PROTO_HDR_SIZE + 4];
    uint64_t t0;
    size_t at = 0;

    proto_dec_init(&dec);
    if (after_hello) {
        hello_raw(fd, PROTO_ROLE_OPERATOR, "slow", PROTO_VERSION_MIN, PROTO_VERSION_MAX);
        int rc = recv_msg(fd, &dec, &reply);
        print_reply("slowloris hello", rc, &reply);
    }
    memset(&msg, 0, sizeof(msg));
    msg.type = PROTO_LIST;
    msg.version = after_hello ? PROTO_VERSION : PROTO_VERSION_HELLO;
    msg.req_id = 7;
    if (proto_encode(list, sizeof(list), &msg) != (int)sizeof(list))
        die("%s", "encode LIST");
    t0 = now_ms();
    /* One byte every 200 ms: each byte is progress, none completes a
     * message before the manager's per-message deadline. */
    while (now_ms() - t0 < max_ms) {
        struct pollfd p = { fd, POLLIN, 0 };
        if (poll(&p, 1, 200) == 1) {
            int rc = recv_msg(fd, &dec, &reply);
            uint64_t t = now_ms() - t0;
            if (rc == 1 && reply.type == PROTO_ERROR) {
                printf("slowloris: ERROR %u %s\n", reply.u.error.code, reply.u.error.text);
                rc = recv_msg(fd, &dec, &reply);
            }
            /* A close with one of our bytes still unread in the manager's
             * socket makes the kernel send RST instead of FIN: that is the
             * same drop, seen as ECONNRESET. */
            int reset = rc == -1 && errno == ECONNRESET;
            printf("slowloris: %s after %llu ms (%zu bytes sent)\n",
                   rc == 0 ? "closed" : reset ? "reset" : "unexpected reply", (unsigned long long)t, at);
            close(fd);
            return 0;
        }
        if (at < sizeof(list) - 1)   /* never the last byte */
            send_bytes(fd, list + at++, 1);
    }
    printf("slowloris: still open after %u ms\n", max_ms);
    close(fd);
    return 0;
}

static int cmd_flood(char **a)
{
    struct sockaddr_in sa;
    char err[200];
    int n = atoi(a[1]);
    unsigned hold = (unsigned)atoi(a[2]);
    int ok = 0, busy = 0, closed = 0, other = 0, nosock = 0;

    if (n < 1 || n > 1000 || elisa_neg_parse_addr(a[0], &sa, 0, err, sizeof(err)) != 0)
        die("%s", "flood ADDR N(1..1000) HOLD_MS");
    int *fd = calloc((size_t)n, sizeof(int));
    struct proto_dec *d = calloc((size_t)n, sizeof(*d));
    char *done = calloc((size_t)n, 1);
    if (!fd || !d || !done)
        die("%s", "out of memory");
    for (int i = 0; i < n; i++) {
        char name[32];
        fd[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
            if (fd[i] >= 0)
                close(fd[i]);
            fd[i] = -1;
            nosock++;
            continue;
        }
        proto_dec_init(&d[i]);
        snprintf(name, sizeof(name), "flood-%d", i);
        hello_raw(fd[i], PROTO_ROLE_GUEST, name, PROTO_VERSION_MIN, PROTO_VERSION_MAX);
    }
    /* Collect one answer (or a close) from each, within the I/O limit. */
    uint64_t deadline = now_ms() + IO_MS;
    int pending = n - nosock;
    while (pending > 0 && now_ms() < deadline) {
        for (int i = 0; i < n; i++) {
            if (fd[i] < 0 || done[i])
                continue;
            struct pollfd p = { fd[i], POLLIN, 0 };
            if (poll(&p, 1, 0) != 1)
                continue;
            int rc = recv_msg(fd[i], &d[i], &reply);
            done[i] = 1;
            pending--;
            if (rc == 1 && reply.type == PROTO_HELLO_OK)
                ok++;
            else if (rc == 1 && reply.type == PROTO_ERROR && reply.u.error.code == PROTO_E_BUSY)
                busy++;
            else if (rc == 0)
                closed++;
            else
                other++;
        }
        sleep_ms(5);
    }
    printf("flood: %d connections: ok=%d busy=%d closed=%d other=%d unanswered=%d refused=%d\n", n,
           ok, busy, closed, other, pending, nosock);
    fflush(stdout);
    sleep_ms(hold);
    for (int i = 0; i < n; i++)
        if (fd[i] >= 0)
            close(fd[i]);
    free(fd);
    free(d);
    free(done);
    return 0;
}

/* A buffered reader (recv_msg's byte-at-a-time reads are too slow for
 * thousands of replies). */
static uint8_t rbuf[65536];
static size_t roff, rlen;

static int recv_msg_buffered(int fd, struct proto_dec *d, struct proto_msg *m)
{
    for (;;) {
        while (roff < rlen) {
            size_t used;
            int rc = proto_dec_feed(d, rbuf + roff, rlen - roff, &used, m);
            roff += used;
            if (rc == PROTO_MESSAGE)
                return 1;
            if (rc < 0)
                return -2;
        }
        ssize_t k = recv(fd, rbuf, sizeof(rbuf), 0);
        if (k <= 0)
            return k == 0 ? 0 : -1;
        roff = 0;
        rlen = (size_t)k;
    }
}

/* N LISTs as fast as the manager takes them, replies read only when it
 * stops taking more (or between bursts): every reply must come, in order,
 * whatever the manager's output buffer went through. */
static int cmd_pipeline(char **a)
{
    int fd = tcp_connect(a[0]);
    int n = atoi(a[1]), sent = 0, got = 0, in_order = 1, stalls = 0, one = 1;
    uint8_t buf[64];

    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    proto_dec_init(&dec);
    hello_raw(fd, PROTO_ROLE_OPERATOR, "pipeline", PROTO_VERSION_MIN, PROTO_VERSION_MAX);
    int rc = recv_msg(fd, &dec, &reply);
    if (rc != 1 || reply.type != PROTO_HELLO_OK) {
        print_reply("pipeline hello", rc, &reply);
        return 0;
    }
    memset(&msg, 0, sizeof(msg));
    msg.type = PROTO_LIST;
    msg.version = reply.u.hello_ok.version;
    uint64_t deadline = now_ms() + 4 * IO_MS;
    while (got < n && now_ms() < deadline) {
        /* Send until the manager stops taking requests for 100 ms. */
        while (sent < n) {
            msg.req_id = 100 + (uint32_t)sent;
            int k = proto_encode(buf, sizeof(buf), &msg);
            struct pollfd p = { fd, POLLOUT, 0 };
            if (poll(&p, 1, 100) != 1) {
                stalls++;
                break;
            }
            if (send(fd, buf, (size_t)k, MSG_NOSIGNAL | MSG_DONTWAIT) != k)
                break;   /* a partial send cannot happen for 24 bytes on a writable socket */
            sent++;
        }
        /* Then read what is owed. */
        while (got < sent) {
            struct pollfd p = { fd, POLLIN, 0 };
            if (roff == rlen && got > 0 && poll(&p, 1, 0) != 1 && sent < n)
                break;
            rc = recv_msg_buffered(fd, &dec, &reply);
            if (rc != 1 || reply.type != PROTO_LIST_OK) {
                print_reply("pipeline reply", rc, &reply);
                deadline = 0;
                break;
            }
            if (reply.req_id != 100 + (uint32_t)got)
                in_order = 0;
            got++;
        }
    }
    printf("pipeline: %d of %d LIST_OK, %s (%d send stalls)\n", got, n,
           in_order ? "in order" : "OUT OF ORDER", stalls);
    close(fd);
    return 0;
}

/* N LISTs from a peer that never reads: the manager's replies back up
 * (our receive buffer is tiny), its output buffer fills, it must stop
 * reading from us and, when the output makes no progress within its
 * timeout, drop us.  Then we read what we can: some replies, then the
 * close. */
static int cmd_noreader(char **a)
{
    struct sockaddr_in sa;
    char err[200];
    int n = atoi(a[1]), got = 0, small = 4096, rc;
    unsigned wait = (unsigned)atoi(a[2]);
    struct timeval tv = { IO_MS / 1000, 0 };
    uint8_t buf[64];

    if (elisa_neg_parse_addr(a[0], &sa, 0, err, sizeof(err)) != 0)
        die("%s", err);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* Before connect, so that the window is negotiated small. */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("connect %s", a[0]);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    proto_dec_init(&dec);
    hello_raw(fd, PROTO_ROLE_OPERATOR, "noreader", PROTO_VERSION_MIN, PROTO_VERSION_MAX);
    rc = recv_msg(fd, &dec, &reply);
    if (rc != 1 || reply.type != PROTO_HELLO_OK) {
        print_reply("noreader hello", rc, &reply);
        return 0;
    }
    memset(&msg, 0, sizeof(msg));
    msg.type = PROTO_LIST;
    msg.version = reply.u.hello_ok.version;
    int sent = 0;
    for (; sent < n; sent++) {
        msg.req_id = 1000 + (uint32_t)sent;
        int k = proto_encode(buf, sizeof(buf), &msg);
        if (send(fd, buf, (size_t)k, MSG_NOSIGNAL) != k)
            break;   /* the manager stopped reading and the buffers are full */
    }
    sleep_ms(wait);
    roff = rlen = 0;
    while ((rc = recv_msg_buffered(fd, &dec, &reply)) == 1)
        got++;
    printf("noreader: sent %d of %d, then %d replies and %s\n", sent, n, got,
           rc == 0 ? "closed" : rc == -1 ? (errno == ECONNRESET ? "reset" : "no close")
                                         : "bad bytes");
    close(fd);
    return 0;
}

/* --- a guest through negotiate.c ---------------------------------------------------------- */

static int cmd_negotiate(char **a, int nargs)
{
    static struct elisa_neg n;
    char err[300];
    unsigned hold = (unsigned)atoi(a[2]);

    if (elisa_neg_open(&n, a[0], PROTO_ROLE_GUEST, a[1], 0, err, sizeof(err)) != 0) {
        printf("FAIL %s\n", err);
        return 0;
    }
    printf("HELLO guest_id=%u version=%u manager=%s\n", n.guest_id, n.version, n.manager);
    for (int i = 3; i < nargs; i++) {
        char app[64];
        unsigned vcpu;
        unsigned long long size;
        struct proto_negotiate_ok ok;
        if (sscanf(a[i], "%u:%63[^:]:%llu", &vcpu, app, &size) != 3)
            die("item %s: expected VCPU:APP:SIZE", a[i]);
        int rc = elisa_neg_vcpu(&n, vcpu, app, size, &ok, err, sizeof(err));
        if (rc == 0)
            printf("OK vcpu=%u mode=%u doorbell=0x%x gate_gpa=0x%llx gate_gva=0x%llx idx=%u,%u,%u "
                   "entry=%u shared_gpa=0x%llx shared_size=%llu\n", ok.vcpu, ok.mode, ok.doorbell,
                   (unsigned long long)ok.gate_gpa, (unsigned long long)ok.gate_gva, ok.idx_default,
                   ok.idx_gate, ok.idx_sub, ok.entry_offset, (unsigned long long)ok.shared_gpa,
                   (unsigned long long)ok.shared_size);
        else if (rc > 0)
            printf("NEG_ERR vcpu=%u code=%d %s\n", vcpu, rc, err);
        else {
            printf("FAIL %s\n", err);
            return 0;
        }
    }
    fflush(stdout);
    /* Hold the contexts: the manager releases them when we close. */
    uint64_t end = now_ms() + hold;
    while (now_ms() < end) {
        struct pollfd p = { n.fd, POLLIN, 0 };
        if (poll(&p, 1, 100) == 1) {
            printf("manager closed the connection\n");
            break;
        }
    }
    elisa_neg_close(&n);
    return 0;
}

/* --- a host through the link -------------------------------------------------------------- */

static int link_connect(const char *path)
{
    struct sockaddr_un sa;
    int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    struct timeval tv = { IO_MS / 1000, 0 };

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        die("host link %s: cannot connect", path);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

static void print_link_reply(const char *what, int fd)
{
    struct elisa_link_msg m;
    int fds[ELISA_LINK_FDS_MAX], nfds = 0;
    char err[200];
    int rc = elisa_link_recv(fd, &m, fds, &nfds, err, sizeof(err));

    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (rc == 0)
        printf("%s: closed\n", what);
    else if (rc < 0)
        printf("%s: %s\n", what, err);
    else if (m.type == ELISA_LINK_ERROR)
        printf("%s: ERROR %u %s\n", what, m.u.error.code, m.u.error.text);
    else
        printf("%s: %s with %d fds\n", what, elisa_link_type_name(m.type), nfds);
}

static int cmd_raw_attach(char **a)
{
    int fd = link_connect(a[0]);
    struct elisa_link_msg m;
    char err[200];

    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_ATTACH;
    m.u.attach.guest_id = (uint32_t)strtoul(a[1], NULL, 0);
    m.u.attach.vcpu = (uint32_t)strtoul(a[2], NULL, 0);
    if (elisa_link_send(fd, &m, NULL, 0, err, sizeof(err)) != 0)
        die("%s", err);
    print_link_reply("raw-attach", fd);
    close(fd);
    return 0;
}

static int cmd_link_garbage(char **a)
{
    static const struct { const char *what; const char *bytes; size_t len; } bad[] = {
        { "short packet", "ELN", 3 },
        { "bad magic", "XXXX\x01\x00\x01\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00", 20 },
        { "bad version", "ELNK\x02\x00\x01\x00\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00", 20 },
        { "wrong length", "ELNK\x01\x00\x01\x00\x09\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00", 21 },
        { "guest id 0", "ELNK\x01\x00\x01\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20 },
    };

    for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int fd = link_connect(a[0]);
        if (send(fd, bad[i].bytes, bad[i].len, MSG_NOSIGNAL) != (ssize_t)bad[i].len)
            printf("%s: send failed\n", bad[i].what);
        print_link_reply(bad[i].what, fd);
        close(fd);
    }
    /* A valid message that only the manager sends. */
    struct elisa_link_msg m;
    char err[200];
    int fd = link_connect(a[0]);
    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_DETACH;
    m.u.detach.guest_id = 1;
    m.u.detach.vcpu = 0;
    m.u.detach.reason = ELISA_LINK_DISABLED;
    if (elisa_link_send(fd, &m, NULL, 0, err, sizeof(err)) != 0)
        die("%s", err);
    print_link_reply("DETACH to the manager", fd);
    close(fd);
    return 0;
}

static uint32_t rx_pending(const uint8_t *area)
{
    const struct vmnet_port_shm *s = (const void *)area;
    return __atomic_load_n(&s->rx.prod, __ATOMIC_ACQUIRE) - __atomic_load_n(&s->rx.cons, __ATOMIC_ACQUIRE);
}

static int cmd_attach(char **a, int nargs)
{
    struct elisa_attach at;
    struct elisa_app_image file_img, fd_img;
    char err[400];
    unsigned hold = (unsigned)atoi(a[7]);
    int send_n = nargs > 8 ? atoi(a[8]) : 0;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (vmm_attach_from_manager(a[0], a[1], a[2], (uint32_t)atoi(a[3]), a[4],
                                strtoull(a[5], NULL, 0), &at, err, sizeof(err)) != 0) {
        printf("ATTACH-FAIL %s\n", err);
        return 0;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    /* Connect, HELLO, NEGOTIATE, link connect, ATTACH with the fds. */
    printf("attach took %ld us\n", (long)((t1.tv_sec - t0.tv_sec) * 1000000L +
                                          (t1.tv_nsec - t0.tv_nsec) / 1000));
    printf("ATTACH OK guest_id=%u vcpu=%u mode=%u doorbell=0x%x gate_gpa=0x%llx shared_gpa=0x%llx "
           "shared_size=%llu region_size=%llu guest_off=0x%llx env_arg=%llu app=%s app_size=%llu "
           "entry=%u\n", at.guest_id, at.vcpu, at.mode, at.doorbell, (unsigned long long)at.gate_gpa,
           (unsigned long long)at.shared_gpa, (unsigned long long)at.shared_size,
           (unsigned long long)at.region_size, (unsigned long long)at.guest_off,
           (unsigned long long)at.env_arg, at.app, (unsigned long long)at.app_size, at.entry_offset);

    /* The image: byte for byte what the loader makes of the file. */
    if (elisa_app_load(a[6], &file_img, err, sizeof(err)) != 0)
        die("%s", err);
    uint8_t *img = mmap(NULL, at.app_size, PROT_READ, MAP_PRIVATE, at.app_fd, 0);
    if (img == MAP_FAILED)
        die("%s", "mmap of the image fd");
    int same = file_img.size == at.app_size && file_img.entry_offset == at.entry_offset &&
               memcmp(file_img.bytes, img, at.app_size) == 0;
    printf("image: %s %s (%llu bytes, entry %u)\n", same ? "equals" : "DIFFERS FROM", a[6],
           (unsigned long long)at.app_size, at.entry_offset);
    /* A write through the sealed fd must fail. */
    char z = 0;
    printf("image write: %s\n", pwrite(at.app_fd, &z, 1, 0) == 1 ? "ALLOWED" : "refused");

    /* Run the manager's bytes. */
    memset(&fd_img, 0, sizeof(fd_img));
    fd_img.bytes = img;
    fd_img.size = at.app_size;
    fd_img.entry_offset = at.entry_offset;
    void *code = elisa_app_map_exec(&fd_img, err, sizeof(err));
    if (!code)
        die("%s", err);
    elisa_app_fn entry = (elisa_app_fn)(void *)((uint8_t *)code + at.entry_offset);
    struct elisa_sub_env env = { 0, 0, at.env_arg, at.vcpu };
    uint8_t *region = NULL, *area = NULL;

    if (at.region_fd >= 0) {
        region = mmap(NULL, at.region_size, PROT_READ | PROT_WRITE, MAP_SHARED, at.region_fd, 0);
        if (region == MAP_FAILED)
            die("%s", "mmap of the region fd");
        area = region + at.guest_off;
        struct vmnet_guest_port gp;
        printf("region: vmnet_check %s, port %llu at 0x%llx %s, guest_open %s\n",
               vmnet_check(region, at.region_size) == VMNET_OK ? "ok" : "FAILS",
               (unsigned long long)at.env_arg, (unsigned long long)at.guest_off,
               vmnet_port_offset(region, at.region_size, (uint32_t)at.env_arg) == at.guest_off &&
               vmnet_port_area_size(region, at.region_size) == at.shared_size ? "matches"
                                                                              : "DOES NOT MATCH",
               vmnet_guest_open(&gp, area, at.shared_size) == VMNET_OK ? "ok" : "FAILS");
        env.shared_va = (uint64_t)(uintptr_t)region;
        env.shared_size = at.region_size;
        printf("rx-pending=%u\n", rx_pending(area));
        if (send_n > 0) {
            uint8_t frame[64];
            memset(frame, 0, sizeof(frame));
            memset(frame, 0xff, 6);                       /* broadcast */
            frame[6] = 0x02;                              /* locally administered source */
            frame[11] = (uint8_t)(at.guest_id + 1);
            frame[12] = 0x88;
            frame[13] = 0xb5;                             /* local experimental ethertype */
            for (int i = 0; i < send_n; i++)
                if (vmnet_guest_put(&gp, frame, sizeof(frame)) != VMNET_OK)
                    printf("put failed\n");
            uint64_t r = entry(ELISA_VMNET_TX, 0, &env);
            printf("vmnet TX through the app: %lld frames\n", (long long)r);
        }
    } else {
        uint64_t r = entry(ELISA_NOP_ECHO, 0xfeedbeefull, &env);
        printf("nop echo: 0x%llx\n", (unsigned long long)r);
    }
    fflush(stdout);

    uint64_t end = now_ms() + hold;
    uint32_t last = area ? rx_pending(area) : 0;
    while (now_ms() < end) {
        int rc = vmm_attach_poll(&at, err, sizeof(err));
        if (rc <= 0) {
            printf("%s %s\n", rc == 0 ? "DETACHED" : "POLL-ERROR", err);
            break;
        }
        if (area && rx_pending(area) != last) {
            last = rx_pending(area);
            printf("rx-pending=%u\n", last);
            fflush(stdout);
        }
        sleep_ms(20);
    }
    fflush(stdout);
    munmap(code, at.app_size);
    munmap(img, at.app_size);
    if (region)
        munmap(region, at.region_size);
    elisa_app_free(&file_img);
    vmm_attach_release(&at);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct { const char *name; int nargs; } cmds[] = {
        { "negotiate", 3 }, { "attach", 8 }, { "raw-attach", 3 }, { "link-garbage", 1 },
        { "hello", 5 }, { "v1-negotiate", 4 }, { "guest-requests", 2 }, { "garbage", 1 },
        { "oversize", 1 }, { "slowloris", 2 }, { "flood", 3 }, { "pipeline", 2 },
        { "noreader", 3 },
    };

    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        fprintf(stderr, "usage: mgr_probe COMMAND ARGS (see the comment in mgr_probe.c)\n");
        return 2;
    }
    for (unsigned i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) != 0)
            continue;
        int nargs = argc - 2;
        char **a = argv + 2;
        if (nargs < cmds[i].nargs) {
            fprintf(stderr, "mgr_probe %s: needs %d arguments\n", cmds[i].name, cmds[i].nargs);
            return 2;
        }
        switch (i) {
        case 0: return cmd_negotiate(a, nargs);
        case 1: return cmd_attach(a, nargs);
        case 2: return cmd_raw_attach(a);
        case 3: return cmd_link_garbage(a);
        case 4: return cmd_hello(a);
        case 5: return cmd_v1_negotiate(a);
        case 6: return cmd_guest_requests(a);
        case 7: return cmd_garbage(a);
        case 8: return cmd_oversize(a);
        case 9: return cmd_slowloris(a, nargs);
        case 10: return cmd_flood(a);
        case 11: return cmd_pipeline(a);
        default: return cmd_noreader(a);
        }
    }
    fprintf(stderr, "mgr_probe: unknown command %s\n", argv[1]);
    return 2;
}
