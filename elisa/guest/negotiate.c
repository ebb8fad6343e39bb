/* elisa/guest/negotiate.c - the negotiation client (negotiate.h).
 *
 * The socket is non-blocking and every wait goes through poll() with the
 * time left until the request's deadline, so nothing here can hang on a
 * manager that stops answering.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "negotiate.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait for EVENTS on FD until DEADLINE (ms): 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
    for (;;) {
        uint64_t now = now_ms();
        if (now >= deadline)
            return 0;
        struct pollfd p = { fd, events, 0 };
        int rc = poll(&p, 1, (int)(deadline - now));
        if (rc > 0)
            return 1;
        if (rc < 0 && errno != EINTR)
            return -1;
    }
}

int elisa_neg_parse_addr(const char *s, struct sockaddr_in *sa, int allow_port0, char *err,
                         size_t errlen)
{
    char host[32];
    const char *colon = s ? strrchr(s, ':') : NULL;
    char *end;

    if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host)) {
        snprintf(err, errlen, "address \"%s\": expected HOST:PORT with a dotted IPv4 host, "
                 "e.g. 127.0.0.1:7070", s ? s : "");
        return -1;
    }
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) {
        snprintf(err, errlen, "address \"%s\": \"%s\" is not a dotted IPv4 address "
                 "(e.g. 127.0.0.1)", s, host);
        return -1;
    }
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (colon[1] < '0' || colon[1] > '9' || *end != '\0' || errno || port > 65535 ||
        (port == 0 && !allow_port0)) {
        snprintf(err, errlen, "address \"%s\": port \"%s\" is not 1..65535", s, colon + 1);
        return -1;
    }
    sa->sin_port = htons((uint16_t)port);
    return 0;
}

/* Names on the wire: [A-Za-z0-9._-], 1..MAX (proto.h). */
static int name_ok(const char *s, size_t max)
{
    size_t n = 0;

    for (; s[n]; n++) {
        char c = s[n];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n >= 1 && n <= max;
}

static int send_all(struct elisa_neg *n, const uint8_t *buf, size_t len, uint64_t deadline,
                    char *err, size_t errlen)
{
    size_t off = 0;

    while (off < len) {
        ssize_t k = send(n->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (k > 0) {
            off += (size_t)k;
            continue;
        }
        if (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(err, errlen, "manager at %s: send: %s", n->addr, strerror(errno));
            return -1;
        }
        int w = wait_fd(n->fd, POLLOUT, deadline);
        if (w <= 0) {
            snprintf(err, errlen, "manager at %s: %s", n->addr,
                     w == 0 ? "did not take our request in time" : strerror(errno));
            return -1;
        }
    }
    return 0;
}

/* The next message from the manager, by DEADLINE. */
static int read_msg(struct elisa_neg *n, struct proto_msg *m, uint64_t deadline, char *err,
                    size_t errlen)
{
    for (;;) {
        while (n->in_off < n->in_len) {
            size_t used;
            int rc = proto_dec_feed(&n->dec, n->in + n->in_off, n->in_len - n->in_off, &used, m);
            n->in_off += (uint32_t)used;
            if (rc == PROTO_MESSAGE)
                return 0;
            if (rc < 0) {
                char line[160];
                snprintf(err, errlen, "manager at %s sent an invalid message: %s", n->addr,
                         proto_err_format(&n->dec.err, line, sizeof(line)));
                return -1;
            }
        }
        n->in_off = n->in_len = 0;
        ssize_t k = recv(n->fd, n->in, sizeof(n->in), 0);
        if (k > 0) {
            n->in_len = (uint32_t)k;
            continue;
        }
        if (k == 0) {
            snprintf(err, errlen, "manager at %s closed the connection", n->addr);
            return -1;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(err, errlen, "manager at %s: receive: %s", n->addr, strerror(errno));
            return -1;
        }
        int w = wait_fd(n->fd, POLLIN, deadline);
        if (w <= 0) {
            snprintf(err, errlen, "manager at %s: %s", n->addr,
                     w == 0 ? "no answer in time" : strerror(errno));
            return -1;
        }
    }
}

/* Send M (header fields already set) and wait for the reply to its id. */
static int exchange(struct elisa_neg *n, const struct proto_msg *req, struct proto_msg *reply,
                    char *err, size_t errlen)
{
    uint8_t buf[PROTO_MSG_MAX];
    uint64_t deadline = now_ms() + n->timeout_ms;
    int len = proto_encode(buf, sizeof(buf), req);

    if (len < 0) {
        snprintf(err, errlen, "cannot encode %s: %s", proto_type_name(req->type),
                 proto_strerror(len));
        return -1;
    }
    if (send_all(n, buf, (size_t)len, deadline, err, errlen) != 0)
        return -1;
    if (read_msg(n, reply, deadline, err, errlen) != 0)
        return -1;
    /* Replies come in order, one per request; an ERROR with id 0 answers
     * bytes the manager could not decode. */
    if (reply->req_id != req->req_id && !(reply->type == PROTO_ERROR && reply->req_id == 0)) {
        snprintf(err, errlen, "manager at %s answered request %u with %s for request %u",
                 n->addr, req->req_id, proto_type_name(reply->type), reply->req_id);
        return -1;
    }
    return 0;
}

static void close_fd(struct elisa_neg *n)
{
    if (n->fd >= 0)
        close(n->fd);
    n->fd = -1;
}

/* A request and its reply: 4.5 KiB each, so on the heap, not on the
 * caller's (maybe small) stack; one pair per call keeps threads apart. */
struct msg_pair {
    struct proto_msg req, reply;
};

static struct msg_pair *pair_new(char *err, size_t errlen)
{
    struct msg_pair *p = calloc(1, sizeof(*p));
    if (!p)
        snprintf(err, errlen, "out of memory");
    return p;
}

static int hello(struct elisa_neg *n, struct msg_pair *p, uint8_t role, const char *addr,
                 char *err, size_t errlen);

int elisa_neg_open(struct elisa_neg *n, const char *addr, uint8_t role, const char *name,
                   unsigned timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    int one = 1;

    memset(n, 0, sizeof(*n));
    n->fd = -1;
    n->timeout_ms = timeout_ms ? timeout_ms : ELISA_NEG_TIMEOUT_MS;
    if (elisa_neg_parse_addr(addr, &sa, 0, err, errlen) != 0)
        return -1;
    snprintf(n->addr, sizeof(n->addr), "%s", addr);
    if (role != PROTO_ROLE_GUEST && role != PROTO_ROLE_OPERATOR) {
        snprintf(err, errlen, "role %u is neither guest (1) nor operator (2)", role);
        return -1;
    }
    if (!name || !name_ok(name, PROTO_NAME_MAX)) {
        snprintf(err, errlen, "name \"%s\": use 1..%u characters of A-Z a-z 0-9 . _ -",
                 name ? name : "", PROTO_NAME_MAX);
        return -1;
    }
    snprintf(n->name, sizeof(n->name), "%s", name);
    proto_dec_init(&n->dec);

    n->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (n->fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    uint64_t deadline = now_ms() + n->timeout_ms;
    if (connect(n->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        if (e == EINPROGRESS) {
            socklen_t len = sizeof(e);
            int w = wait_fd(n->fd, POLLOUT, deadline);
            if (w == 0)
                e = ETIMEDOUT;
            else if (w < 0 || getsockopt(n->fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
                e = errno;
        }
        if (e != 0) {
            if (e == ECONNREFUSED)
                snprintf(err, errlen, "no manager at %s: start it with 'elisactl start ...'", addr);
            else if (e == ETIMEDOUT)
                snprintf(err, errlen, "manager at %s did not answer within %u ms", addr,
                         n->timeout_ms);
            else
                snprintf(err, errlen, "cannot connect to the manager at %s: %s", addr, strerror(e));
            close_fd(n);
            return -1;
        }
    }
    setsockopt(n->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));

    struct msg_pair *p = pair_new(err, errlen);
    int rc = p ? hello(n, p, role, addr, err, errlen) : -1;
    free(p);
    if (rc != 0)
        close_fd(n);
    return rc;
}

static int hello(struct elisa_neg *n, struct msg_pair *p, uint8_t role, const char *addr,
                 char *err, size_t errlen)
{
    struct proto_msg *req = &p->req, *reply = &p->reply;

    req->type = PROTO_HELLO;
    req->version = PROTO_VERSION_HELLO;
    req->req_id = ++n->next_req;
    req->u.hello.ver_min = PROTO_VERSION_MIN;
    req->u.hello.ver_max = PROTO_VERSION_MAX;
    req->u.hello.role = role;
    snprintf(req->u.hello.name, sizeof(req->u.hello.name), "%s", n->name);
    if (exchange(n, req, reply, err, errlen) != 0)
        return -1;
    if (reply->type == PROTO_ERROR) {
        snprintf(err, errlen, "manager at %s refused HELLO: %s", addr, reply->u.error.text);
        return -1;
    }
    if (reply->type != PROTO_HELLO_OK || reply->u.hello_ok.version < PROTO_VERSION_MIN ||
        reply->u.hello_ok.version > PROTO_VERSION_MAX) {
        snprintf(err, errlen, "manager at %s answered HELLO with %s (version %u), not a HELLO_OK "
                 "we can use", addr, proto_type_name(reply->type),
                 reply->type == PROTO_HELLO_OK ? reply->u.hello_ok.version : 0);
        return -1;
    }
    n->version = reply->u.hello_ok.version;
    n->guest_id = reply->u.hello_ok.guest_id;
    snprintf(n->manager, sizeof(n->manager), "%s", reply->u.hello_ok.name);
    /* From now on only the agreed version (and the frozen ERROR) is valid. */
    proto_dec_set_versions(&n->dec, n->version, n->version);
    return 0;
}

int elisa_neg_call(struct elisa_neg *n, struct proto_msg *req, struct proto_msg *reply,
                   char *err, size_t errlen)
{
    if (n->fd < 0) {
        snprintf(err, errlen, "not connected to a manager");
        return -1;
    }
    req->version = (req->type == PROTO_HELLO || req->type == PROTO_ERROR) ? PROTO_VERSION_HELLO
                                                                           : n->version;
    req->flags = 0;
    req->req_id = ++n->next_req;
    if (req->req_id == 0)   /* 0 is what an ERROR to undecodable bytes carries */
        req->req_id = ++n->next_req;
    if (exchange(n, req, reply, err, errlen) != 0) {
        close_fd(n);
        return -1;
    }
    return 0;
}

int elisa_neg_vcpu(struct elisa_neg *n, uint32_t vcpu, const char *app, uint64_t shared_size,
                   struct proto_negotiate_ok *ok, char *err, size_t errlen)
{
    struct msg_pair *p;
    int rc;

    if (!app || !name_ok(app, PROTO_APP_MAX)) {
        snprintf(err, errlen, "app name \"%s\": use 1..%u characters of A-Z a-z 0-9 . _ -",
                 app ? app : "", PROTO_APP_MAX);
        return -1;
    }
    if (vcpu == PROTO_VCPU_ALL || (shared_size & (PROTO_PAGE_SIZE - 1)) != 0) {
        snprintf(err, errlen, "vCPU %u, shared size %llu: the vCPU must not be 0xffffffff and "
                 "the size a multiple of 4096", vcpu, (unsigned long long)shared_size);
        return -1;
    }
    p = pair_new(err, errlen);
    if (!p)
        return -1;
    p->req.type = PROTO_NEGOTIATE;
    p->req.u.negotiate.vcpu = vcpu;
    p->req.u.negotiate.shared_size = shared_size;
    snprintf(p->req.u.negotiate.app, sizeof(p->req.u.negotiate.app), "%s", app);
    rc = elisa_neg_call(n, &p->req, &p->reply, err, errlen);
    if (rc == 0) {
        const struct proto_msg *r = &p->reply;
        switch (r->type) {
        case PROTO_NEGOTIATE_OK:
            if (r->u.negotiate_ok.vcpu != vcpu) {
                snprintf(err, errlen, "manager at %s answered for vCPU %u, we asked for %u",
                         n->addr, r->u.negotiate_ok.vcpu, vcpu);
                rc = -1;
            } else {
                *ok = r->u.negotiate_ok;
            }
            break;
        case PROTO_NEGOTIATE_ERR:
            snprintf(err, errlen, "manager at %s refused vCPU %u of %s: %s", n->addr, vcpu,
                     n->name, r->u.negotiate_err.text);
            rc = r->u.negotiate_err.code;
            break;
        case PROTO_ERROR:
            snprintf(err, errlen, "manager at %s: %s (error %u)", n->addr, r->u.error.text,
                     r->u.error.code);
            rc = -1;
            break;
        default:
            snprintf(err, errlen, "manager at %s answered NEGOTIATE with %s", n->addr,
                     proto_type_name(r->type));
            rc = -1;
            break;
        }
    }
    free(p);
    return rc;
}

void elisa_neg_close(struct elisa_neg *n)
{
    close_fd(n);
}
