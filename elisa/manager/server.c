/* elisa/manager/server.c - the manager's event loop (server.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "apps.h"
#include "link_msg.h"
#include "server.h"
#include "session.h"
#include "state.h"
#include "vmfunc_installs.h"

_Static_assert((int)MGR_DETACH_DISABLED == (int)ELISA_LINK_DISABLED &&
               (int)MGR_DETACH_RELEASED == (int)ELISA_LINK_RELEASED &&
               (int)MGR_DETACH_STOPPING == (int)ELISA_LINK_STOPPING, "detach reasons");

#define IN_BUF   512u
#define OUT_BUF  (2u * PROTO_MSG_MAX)   /* room to finish one reply while queuing the next */
#define ACCEPTS_PER_WAKEUP 32

struct tcp_conn {
    int fd;                        /* -1: slot free */
    struct mgr_session sess;
    uint32_t in_off, in_len;
    uint32_t out_off, out_len;
    uint64_t accepted_ms;          /* HELLO deadline base */
    uint64_t msg_start_ms;         /* first byte of an unfinished message, 0: none */
    uint64_t out_progress_ms;      /* last time output moved (or was queued) */
    bool closing;                  /* close once the output is sent */
    /* The big parts last: a new connection resets everything above
     * (tcp_accept), the decoder with proto_dec_init, the buffers need
     * nothing. */
    struct proto_dec dec;
    uint8_t in[IN_BUF];
    uint8_t out[OUT_BUF];
};

struct link_conn {
    int fd;                        /* -1: slot free */
    uint64_t id;
    bool dead;                     /* a send failed: close after this round */
};

struct mgr_server {
    struct mgr_options opt;
    struct mgr_state st;
    struct mgr_app apps[MGR_APPS_MAX];
    uint32_t napps;
    int tcp_fd, link_fd, sig_fd;
    uint16_t port;
    dev_t link_dev;                /* the socket file we made, to remove only it */
    ino_t link_ino;
    bool link_bound;
    struct tcp_conn *tcp;          /* opt.max_conns of them */
    uint32_t ntcp;
    struct link_conn link[MGR_LINK_MAX];
    uint64_t next_id;
    FILE *log;
    struct proto_msg in_msg, reply;   /* scratch, one message at a time */
    /* --host vmfunc, after mgr_server_start_vmfunc (in the served process:
     * a KVM VM does not cross fork). */
    bool vmfunc_on;
    struct hv_host *hv;            /* NULL with --no-manager-vm */
    struct mgr_vmfunc *vmf;
};

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

__attribute__((format(printf, 2, 3)))
static void logf_(struct mgr_server *s, const char *fmt, ...)
{
    char stamp[32];
    time_t t = time(NULL);
    struct tm tm;
    va_list ap;

    if (!s->log)
        return;
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", gmtime_r(&t, &tm));
    fprintf(s->log, "%s %s: ", stamp, s->opt.name);
    va_start(ap, fmt);
    vfprintf(s->log, fmt, ap);
    va_end(ap);
    fputc('\n', s->log);
    fflush(s->log);
}

/* --- callbacks from the state -------------------------------------------------------- */

static struct link_conn *link_by_id(struct mgr_server *s, uint64_t id)
{
    for (uint32_t i = 0; i < MGR_LINK_MAX; i++)
        if (s->link[i].fd >= 0 && s->link[i].id == id)
            return &s->link[i];
    return NULL;
}

static void on_detach(void *opaque, uint64_t link, uint32_t guest_id, uint32_t vcpu, int reason,
                      const char *text)
{
    struct mgr_server *s = opaque;
    struct link_conn *l = link_by_id(s, link);
    struct elisa_link_msg m;
    char err[200];

    if (s->vmfunc_on) {
        /* The contexts first: the guest must lose the sub context before
         * its host hears of it (and before a released port is reused). */
        err[0] = '\0';
        const char *did = mgr_vmfunc_detach(s->vmf, guest_id, vcpu, reason, err, sizeof(err));
        logf_(s, "vmfunc: guest id %u vCPU %u: %s%s%s", guest_id, vcpu, did, err[0] ? ": " : "", err);
    }
    if (!l || l->dead)
        return;
    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_DETACH;
    m.u.detach.guest_id = guest_id;
    m.u.detach.vcpu = vcpu;
    m.u.detach.reason = (uint16_t)reason;
    snprintf(m.u.detach.text, sizeof(m.u.detach.text), "%s", text);
    if (elisa_link_send(l->fd, &m, NULL, 0, err, sizeof(err)) != 0) {
        /* A host that exits closes its link and its guest's connection
         * together: the DETACH then finds it gone, which is no error. */
        if (errno == EPIPE || errno == ECONNRESET)
            logf_(s, "link %llu: host gone before DETACH", (unsigned long long)l->id);
        else
            logf_(s, "link %llu: %s; closing it", (unsigned long long)l->id, err);
        l->dead = true;
        return;
    }
    logf_(s, "link %llu: DETACH guest id %u vCPU %u: %s", (unsigned long long)l->id, guest_id,
          vcpu, text);
}

static void on_port_free(void *opaque, uint32_t app, uint32_t port)
{
    struct mgr_server *s = opaque;
    struct mgr_app *a = &s->apps[app];
    char err[200];

    if (!a->region)
        return;
    if (mgr_vmnet_port_scrub(a->region, a->region_size, port, err, sizeof(err)) != 0) {
        mgr_port_quarantine(&s->st, app, port);
        logf_(s, "%s port %u not reused: %s", a->name, port, err);
        return;
    }
    logf_(s, "%s port %u freed and scrubbed", a->name, port);
}

/* --- setup ---------------------------------------------------------------------------- */

static int listen_tcp(struct mgr_server *s, char *err, size_t errlen)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);
    int one = 1;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(s->opt.listen_port);
    inet_pton(AF_INET, s->opt.listen_host, &sa.sin_addr);
    s->tcp_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->tcp_fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(s->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s->tcp_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(s->tcp_fd, 128) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s:%u: %s%s", s->opt.listen_host,
                 s->opt.listen_port, strerror(e),
                 e == EADDRINUSE ? "; is another manager running? pick a port with --listen" : "");
        return -1;
    }
    getsockname(s->tcp_fd, (struct sockaddr *)&sa, &len);
    s->port = ntohs(sa.sin_port);
    return 0;
}

/* The link socket: 0600, created with umask 077 so that it is never open
 * to others even for an instant.  A leftover socket file is removed (the
 * caller made sure that no manager runs on it: daemon.c's lock); anything
 * else at that path is left alone. */
static int listen_link(struct mgr_server *s, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    struct stat stt;
    const char *path = s->opt.link_path;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "--link %s: too long for a unix socket", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (lstat(path, &stt) == 0) {
        if (!S_ISSOCK(stt.st_mode)) {
            snprintf(err, errlen, "--link %s exists and is not a socket; remove it or choose "
                     "another path", path);
            return -1;
        }
        unlink(path);
    }
    s->link_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->link_fd < 0) {
        snprintf(err, errlen, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    mode_t old = umask(077);
    int rc = bind(s->link_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || chmod(path, 0600) != 0 || listen(s->link_fd, 16) != 0 || stat(path, &stt) != 0) {
        snprintf(err, errlen, "host link %s: %s", path, strerror(errno));
        return -1;
    }
    s->link_dev = stt.st_dev;
    s->link_ino = stt.st_ino;
    s->link_bound = true;
    return 0;
}

struct mgr_server *mgr_server_open(const struct mgr_options *o, char *err, size_t errlen)
{
    struct mgr_server *s = calloc(1, sizeof(*s));
    struct mgr_app_desc desc[MGR_APPS_MAX];
    struct mgr_layout layout;
    struct rlimit rl;

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->opt = *o;
    s->tcp_fd = s->link_fd = s->sig_fd = -1;
    s->log = stderr;
    s->next_id = 1;
    for (uint32_t i = 0; i < MGR_LINK_MAX; i++)
        s->link[i].fd = -1;
    s->tcp = calloc(o->max_conns, sizeof(*s->tcp));
    if (!s->tcp) {
        snprintf(err, errlen, "out of memory for %u connections", o->max_conns);
        goto fail;
    }
    for (uint32_t i = 0; i < o->max_conns; i++)
        s->tcp[i].fd = -1;
    /* Every connection is an fd: make sure the limit is not what fails. */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    for (uint32_t i = 0; i < o->napps; i++) {
        if (mgr_app_open(&o->apps[i], &s->apps[i], &desc[i], err, errlen) != 0)
            goto fail;
        s->napps++;
    }
    memset(&layout, 0, sizeof(layout));
    layout.mode = o->host == MGR_HOST_VMFUNC ? PROTO_MODE_VMFUNC : PROTO_MODE_EXIT;
    layout.doorbell = o->host == MGR_HOST_VMFUNC ? 0 : o->doorbell;
    layout.gate_gpa = o->gate_gpa;
    layout.gate_gva = o->gate_gva;
    layout.shared_gpa = o->shared_gpa;
    layout.shared_stride = o->shared_stride;
    if (mgr_state_init(&s->st, &layout, desc, s->napps, err, errlen) != 0)
        goto fail;
    s->st.on_detach = on_detach;
    s->st.on_port_free = on_port_free;
    s->st.opaque = s;
    if (listen_tcp(s, err, errlen) != 0 || listen_link(s, err, errlen) != 0)
        goto fail;
    return s;
fail:
    mgr_server_close(s);
    return NULL;
}

uint16_t mgr_server_port(const struct mgr_server *s)
{
    return s->port;
}

void mgr_server_set_log(struct mgr_server *s, FILE *log)
{
    s->log = log;
}

/* --- TCP peers ------------------------------------------------------------------------- */

static void tcp_close(struct mgr_server *s, struct tcp_conn *c, const char *why)
{
    if (c->fd < 0)
        return;
    if (why)
        logf_(s, "conn %llu: closed (%s)", (unsigned long long)c->sess.id, why);
    mgr_session_end(&s->st, &c->sess);   /* releases a guest's contexts and ports */
    close(c->fd);
    c->fd = -1;
    s->ntcp--;
}

/* One last ERROR, sent if the socket takes it now, then close. */
static void tcp_refuse(struct mgr_server *s, int fd, int code, const char *text)
{
    struct proto_error e;
    uint8_t buf[PROTO_HDR_SIZE + 160];
    int n;

    memset(&e, 0, sizeof(e));
    e.code = (uint16_t)code;
    e.ver_min = PROTO_VERSION_MIN;
    e.ver_max = PROTO_VERSION_MAX;
    snprintf(e.text, sizeof(e.text), "%s", text);
    n = proto_enc_error(buf, sizeof(buf), 0, &e);
    if (n > 0 && send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        logf_(s, "could not send the refusal: %s", strerror(errno));
}

static uint32_t out_free(const struct tcp_conn *c)
{
    return OUT_BUF - c->out_len;
}

/* Queue an encoded message; the caller made sure there is room. */
static int tcp_queue(struct mgr_server *s, struct tcp_conn *c, const struct proto_msg *m)
{
    int n;

    if (c->out_off + c->out_len + PROTO_MSG_MAX > OUT_BUF) {
        memmove(c->out, c->out + c->out_off, c->out_len);
        c->out_off = 0;
    }
    n = proto_encode(c->out + c->out_off + c->out_len, OUT_BUF - c->out_off - c->out_len, m);
    if (n < 0) {
        logf_(s, "conn %llu: cannot encode our %s reply: %s", (unsigned long long)c->sess.id,
              proto_type_name(m->type), proto_strerror(n));
        return -1;
    }
    if (c->out_len == 0)
        c->out_progress_ms = now_ms();
    c->out_len += (uint32_t)n;
    return 0;
}

/* Decode and answer what is in the input buffer, as far as the output
 * buffer lets us. */
static void tcp_process(struct mgr_server *s, struct tcp_conn *c)
{
    char line[320];

    while (c->in_off < c->in_len && !c->closing && out_free(c) >= PROTO_MSG_MAX) {
        size_t used;
        int rc = proto_dec_feed(&c->dec, c->in + c->in_off, c->in_len - c->in_off, &used,
                                &s->in_msg);
        c->in_off += (uint32_t)used;
        if (rc < 0) {
            uint8_t *at;
            int n;
            char why[200];
            if (c->out_off + c->out_len + PROTO_MSG_MAX > OUT_BUF) {
                memmove(c->out, c->out + c->out_off, c->out_len);
                c->out_off = 0;
            }
            at = c->out + c->out_off + c->out_len;
            n = proto_enc_error_for(at, OUT_BUF - c->out_off - c->out_len, 0, &c->dec.err);
            if (n > 0) {
                if (c->out_len == 0)
                    c->out_progress_ms = now_ms();
                c->out_len += (uint32_t)n;
            }
            logf_(s, "conn %llu: %s", (unsigned long long)c->sess.id,
                  proto_err_format(&c->dec.err, why, sizeof(why)));
            c->closing = true;
            break;
        }
        if (rc == PROTO_NEED_MORE)
            break;
        /* A whole message. */
        c->msg_start_ms = 0;
        uint16_t before = c->sess.version;
        int verdict = mgr_session_handle(&s->st, s->opt.name, &c->sess, &s->in_msg, &s->reply,
                                         line, sizeof(line));
        if (line[0])
            logf_(s, "%s", line);
        if (c->sess.version != before)   /* HELLO agreed on a version: only it from now on */
            proto_dec_set_versions(&c->dec, c->sess.version, c->sess.version);
        if (s->reply.type != 0 && tcp_queue(s, c, &s->reply) != 0)
            verdict = MGR_SESSION_CLOSE;
        if (verdict == MGR_SESSION_CLOSE)
            c->closing = true;
    }
    /* The clock of an unfinished message starts at its first byte. */
    if (c->dec.have == 0)
        c->msg_start_ms = 0;
    else if (c->msg_start_ms == 0)
        c->msg_start_ms = now_ms();
}

static void tcp_flush(struct mgr_server *s, struct tcp_conn *c)
{
    while (c->out_len) {
        ssize_t k = send(c->fd, c->out + c->out_off, c->out_len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (k > 0) {
            c->out_off += (uint32_t)k;
            c->out_len -= (uint32_t)k;
            c->out_progress_ms = now_ms();
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        tcp_close(s, c, k < 0 ? strerror(errno) : "send returned 0");
        return;
    }
    c->out_off = 0;
    if (c->closing)
        tcp_close(s, c, "after the reply");
}

static void tcp_read(struct mgr_server *s, struct tcp_conn *c)
{
    ssize_t k = recv(c->fd, c->in, sizeof(c->in), MSG_DONTWAIT);

    if (k > 0) {
        c->in_off = 0;
        c->in_len = (uint32_t)k;
        tcp_process(s, c);
        return;
    }
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    tcp_close(s, c, k == 0 ? "peer closed" : strerror(errno));
}

static bool tcp_wants_input(const struct tcp_conn *c)
{
    return !c->closing && c->in_off == c->in_len && out_free(c) >= PROTO_MSG_MAX;
}

/* The earliest time this connection must have made progress by (0: none). */
static uint64_t tcp_deadline(const struct mgr_server *s, const struct tcp_conn *c)
{
    uint64_t t = 0, lim = s->opt.msg_timeout_ms;

    if (c->sess.role == 0)
        t = c->accepted_ms + lim;
    if (c->msg_start_ms && (t == 0 || c->msg_start_ms + lim < t))
        t = c->msg_start_ms + lim;
    if (c->out_len && (t == 0 || c->out_progress_ms + lim < t))
        t = c->out_progress_ms + lim;
    return t;
}

static void tcp_expire(struct mgr_server *s, struct tcp_conn *c, uint64_t now)
{
    char text[PROTO_TEXT_MAX + 1];
    uint64_t t = tcp_deadline(s, c);

    if (t == 0 || now < t)
        return;
    if (c->out_len && c->out_progress_ms + s->opt.msg_timeout_ms <= now) {
        tcp_close(s, c, "it did not read its replies in time");
        return;
    }
    snprintf(text, sizeof(text), "%s within %u ms; closing",
             c->sess.role == 0 ? "no HELLO" : "no complete message", s->opt.msg_timeout_ms);
    tcp_refuse(s, c->fd, PROTO_E_UNEXPECTED, text);
    tcp_close(s, c, text);
}

static void tcp_accept(struct mgr_server *s)
{
    for (int k = 0; k < ACCEPTS_PER_WAKEUP; k++) {
        int fd = accept4(s->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                logf_(s, "accept: %s", strerror(errno));
            return;
        }
        if (s->ntcp >= s->opt.max_conns) {
            char text[PROTO_TEXT_MAX + 1];
            snprintf(text, sizeof(text), "too many connections (%u); try again later",
                     s->opt.max_conns);
            tcp_refuse(s, fd, PROTO_E_BUSY, text);
            close(fd);
            logf_(s, "refused a connection: %s", text);
            continue;
        }
        struct tcp_conn *c = NULL;
        for (uint32_t i = 0; i < s->opt.max_conns && !c; i++)
            if (s->tcp[i].fd < 0)
                c = &s->tcp[i];
        if (!c) {   /* cannot happen: ntcp counts the used slots */
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        memset(c, 0, offsetof(struct tcp_conn, dec));
        c->fd = fd;
        mgr_session_init(&c->sess, s->next_id++);
        proto_dec_init(&c->dec);
        c->accepted_ms = now_ms();
        s->ntcp++;
    }
}

/* --- host link peers ----------------------------------------------------------------------- */

static void link_close(struct mgr_server *s, struct link_conn *l, const char *why)
{
    if (l->fd < 0)
        return;
    logf_(s, "link %llu: closed (%s)", (unsigned long long)l->id, why);
    close(l->fd);
    l->fd = -1;
    if (s->vmfunc_on) {
        char err[200] = "";
        uint32_t n = mgr_vmfunc_link_gone(s->vmf, l->id, err, sizeof(err));
        if (n || err[0])
            logf_(s, "link %llu: vmfunc: %u installs torn down%s%s", (unsigned long long)l->id, n,
                  err[0] ? "; " : "", err);
    }
    mgr_link_gone(&s->st, l->id);
}

static void link_error(struct mgr_server *s, struct link_conn *l, int code, const char *text)
{
    struct elisa_link_msg m;
    char err[200];

    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_ERROR;
    m.u.error.code = (uint16_t)code;
    snprintf(m.u.error.text, sizeof(m.u.error.text), "%s", text);
    if (elisa_link_send(l->fd, &m, NULL, 0, err, sizeof(err)) != 0) {
        logf_(s, "link %llu: %s", (unsigned long long)l->id, err);
        l->dead = true;
    }
}

static void link_attach(struct mgr_server *s, struct link_conn *l, const struct elisa_link_attach *a)
{
    char text[PROTO_TEXT_MAX + 1], err[200];
    int code = 0;
    const struct mgr_ctx *c = mgr_attach(&s->st, a->guest_id, a->vcpu, l->id, &code, text);

    if (!c) {
        logf_(s, "link %llu: ATTACH guest id %u vCPU %u refused: %s", (unsigned long long)l->id,
              a->guest_id, a->vcpu, text);
        link_error(s, l, code, text);
        return;
    }
    const struct mgr_app *app = &s->apps[c->app];
    struct elisa_link_msg m;
    struct elisa_link_attach_ok *ok = &m.u.attach_ok;
    int fds[ELISA_LINK_FDS_MAX] = { app->image_fd, app->region_fd };

    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_ATTACH_OK;
    ok->guest_id = a->guest_id;
    ok->vcpu = a->vcpu;
    ok->mode = c->ok.mode;
    ok->doorbell = c->ok.doorbell;
    ok->gate_gpa = c->ok.gate_gpa;
    ok->gate_gva = c->ok.gate_gva;
    ok->shared_gpa = c->ok.shared_gpa;
    ok->shared_size = c->ok.shared_size;
    ok->entry_offset = c->ok.entry_offset;
    ok->app_size = app->image_size;
    if (app->region) {
        ok->region_size = app->region_size;
        ok->guest_off = c->guest_off;
        ok->env_arg = (uint64_t)c->port;
    }
    snprintf(ok->app, sizeof(ok->app), "%s", app->name);
    if (elisa_link_send(l->fd, &m, fds, app->region ? 2 : 1, err, sizeof(err)) != 0) {
        logf_(s, "link %llu: %s", (unsigned long long)l->id, err);
        l->dead = true;
        return;
    }
    if (app->region)
        logf_(s, "link %llu: attached guest id %u vCPU %u (%s, port %d)", (unsigned long long)l->id,
              a->guest_id, a->vcpu, app->name, c->port);
    else
        logf_(s, "link %llu: attached guest id %u vCPU %u (%s)", (unsigned long long)l->id,
              a->guest_id, a->vcpu, app->name);
}

/* VMFUNC_QUERY / VMFUNC_INSTALL: only for a context this link attached, in
 * a manager with --host vmfunc. */
static void link_vmfunc(struct mgr_server *s, struct link_conn *l, const struct elisa_link_msg *in)
{
    uint32_t guest_id = in->type == ELISA_LINK_VMFUNC_QUERY ? in->u.attach.guest_id
                                                           : in->u.vmfunc_install.guest_id;
    uint32_t vcpu = in->type == ELISA_LINK_VMFUNC_QUERY ? in->u.attach.vcpu : in->u.vmfunc_install.vcpu;
    const char *what = elisa_link_type_name(in->type);
    const struct mgr_ctx *c = mgr_ctx_find(&s->st, guest_id, vcpu);
    char text[PROTO_TEXT_MAX + 1], err[200];
    struct elisa_link_msg m;

    if (!s->vmfunc_on) {
        snprintf(text, sizeof(text), "%s: this manager runs --host exit", what);
        link_error(s, l, PROTO_E_UNEXPECTED, text);
        return;
    }
    if (!c || c->link != l->id) {
        snprintf(text, sizeof(text), "%s: guest id %u vCPU %u is not attached over this link; ATTACH first",
                 what, guest_id, vcpu);
        link_error(s, l, PROTO_E_UNEXPECTED, text);
        return;
    }
    memset(&m, 0, sizeof(m));
    if (in->type == ELISA_LINK_VMFUNC_QUERY) {
        m.type = ELISA_LINK_VMFUNC_INFO;
        m.u.vmfunc_info.guest_id = guest_id;
        m.u.vmfunc_info.vcpu = vcpu;
        m.u.vmfunc_info.manager_kvm_id = s->vmf->manager_id;
        m.u.vmfunc_info.guest_kvm_id = mgr_vmfunc_guest_kvm_id(s->vmf, c->guest);
        m.u.vmfunc_info.gate_hash = s->vmf->gate_hash;
        logf_(s, "link %llu: VMFUNC_QUERY guest id %u vCPU %u: KVM ids manager %u, guest %u",
              (unsigned long long)l->id, guest_id, vcpu, m.u.vmfunc_info.manager_kvm_id,
              m.u.vmfunc_info.guest_kvm_id);
    } else {
        const struct elisa_link_vmfunc_install *r = &in->u.vmfunc_install;
        err[0] = '\0';
        if (mgr_vmfunc_install(s->vmf, c, guest_id, c->app, l->id, r->kvm_vcpu_id, r->user_mode != 0, err,
                               sizeof(err)) != 0) {
            logf_(s, "link %llu: VMFUNC_INSTALL guest id %u vCPU %u (KVM vCPU %u) failed: %s",
                  (unsigned long long)l->id, guest_id, vcpu, r->kvm_vcpu_id, err);
            snprintf(text, sizeof(text), "install failed: %s", err);
            link_error(s, l, PROTO_E_INTERNAL, text);
            return;
        }
        m.type = ELISA_LINK_VMFUNC_INSTALLED;
        m.u.attach.guest_id = guest_id;
        m.u.attach.vcpu = vcpu;
        logf_(s, "link %llu: installed guest id %u vCPU %u (KVM vCPU %u, %s mode)", (unsigned long long)l->id,
              guest_id, vcpu, r->kvm_vcpu_id, r->user_mode ? "user" : "kernel");
    }
    if (elisa_link_send(l->fd, &m, NULL, 0, err, sizeof(err)) != 0) {
        logf_(s, "link %llu: %s", (unsigned long long)l->id, err);
        l->dead = true;
    }
}

static void link_read(struct mgr_server *s, struct link_conn *l)
{
    struct elisa_link_msg m;
    int fds[ELISA_LINK_FDS_MAX], nfds = 0;
    char err[200];
    int rc;

    errno = 0;
    rc = elisa_link_recv(l->fd, &m, fds, &nfds, err, sizeof(err));
    if (rc < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (rc == 0 || (rc < 0 && errno == ECONNRESET)) {
        link_close(s, l, "host closed");
        return;
    }
    if (rc < 0) {
        logf_(s, "link %llu: %s", (unsigned long long)l->id, err);
        link_error(s, l, PROTO_E_VALUE, err);
        link_close(s, l, "bad message");
        return;
    }
    if (m.type == ELISA_LINK_VMFUNC_QUERY || m.type == ELISA_LINK_VMFUNC_INSTALL) {
        link_vmfunc(s, l, &m);
        return;
    }
    if (m.type != ELISA_LINK_ATTACH) {
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        link_error(s, l, PROTO_E_UNEXPECTED, "only ATTACH, VMFUNC_QUERY and VMFUNC_INSTALL go to the manager");
        link_close(s, l, "unexpected message");
        return;
    }
    link_attach(s, l, &m.u.attach);
}

static void link_accept(struct mgr_server *s)
{
    for (int k = 0; k < ACCEPTS_PER_WAKEUP; k++) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        struct link_conn *l = NULL;
        int fd = accept4(s->link_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

        if (fd < 0)
            return;
        /* The socket is 0600 already; a peer of another user would mean
         * the directory or the file mode was changed behind our back. */
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 ||
            (cred.uid != geteuid() && cred.uid != 0)) {
            logf_(s, "link: refused a peer of uid %u", (unsigned)cred.uid);
            close(fd);
            continue;
        }
        for (uint32_t i = 0; i < MGR_LINK_MAX && !l; i++)
            if (s->link[i].fd < 0)
                l = &s->link[i];
        if (!l) {
            logf_(s, "link: refused a host: %u links are open", MGR_LINK_MAX);
            close(fd);
            continue;
        }
        l->fd = fd;
        l->id = s->next_id++;
        l->dead = false;
        logf_(s, "link %llu: host pid %d connected", (unsigned long long)l->id, (int)cred.pid);
    }
}

/* --- the loop ------------------------------------------------------------------------------ */

enum { SLOT_SIG, SLOT_TCP_LISTEN, SLOT_LINK_LISTEN, SLOT_FIXED };

int mgr_server_run(struct mgr_server *s, char *err, size_t errlen)
{
    uint32_t cap = SLOT_FIXED + s->opt.max_conns + MGR_LINK_MAX;
    struct pollfd *pfd = calloc(cap, sizeof(*pfd));
    int32_t *who = calloc(cap, sizeof(*who));   /* >= 0 TCP index, < 0: -1 - link index */
    sigset_t mask;
    bool stop = false;

    if (!pfd || !who) {
        free(pfd);
        free(who);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    sigemptyset(&mask);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGINT);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->sig_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
    if (s->sig_fd < 0) {
        snprintf(err, errlen, "signalfd: %s", strerror(errno));
        free(pfd);
        free(who);
        return -1;
    }
    logf_(s, "serving on %s:%u, host link %s, %s mode", s->opt.listen_host, s->port,
          s->opt.link_path, s->st.layout.mode == PROTO_MODE_EXIT ? "exit" : "vmfunc");

    while (!stop) {
        uint32_t n = SLOT_FIXED;
        uint64_t now = now_ms(), next = 0;

        pfd[SLOT_SIG] = (struct pollfd){ s->sig_fd, POLLIN, 0 };
        pfd[SLOT_TCP_LISTEN] = (struct pollfd){ s->tcp_fd, POLLIN, 0 };
        pfd[SLOT_LINK_LISTEN] = (struct pollfd){ s->link_fd, POLLIN, 0 };
        for (uint32_t i = 0; i < s->opt.max_conns; i++) {
            struct tcp_conn *c = &s->tcp[i];
            if (c->fd < 0)
                continue;
            short ev = (short)((tcp_wants_input(c) ? POLLIN : 0) | (c->out_len ? POLLOUT : 0));
            pfd[n] = (struct pollfd){ c->fd, ev, 0 };
            who[n++] = (int32_t)i;
            uint64_t t = tcp_deadline(s, c);
            if (t && (next == 0 || t < next))
                next = t;
        }
        for (uint32_t i = 0; i < MGR_LINK_MAX; i++)
            if (s->link[i].fd >= 0) {
                pfd[n] = (struct pollfd){ s->link[i].fd, POLLIN, 0 };
                who[n++] = -1 - (int32_t)i;
            }
        /* Sleep until the nearest deadline, at most a second. */
        int timeout = 1000;
        if (next)
            timeout = next <= now ? 0 : (next - now < 1000 ? (int)(next - now) : 1000);
        int rc = poll(pfd, n, timeout);
        if (rc < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            break;
        }
        if (rc > 0) {
            if (pfd[SLOT_SIG].revents & POLLIN) {
                struct signalfd_siginfo si;
                if (read(s->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                    logf_(s, "signal %u: stopping", si.ssi_signo);
                    stop = true;
                }
            }
            if (pfd[SLOT_TCP_LISTEN].revents & POLLIN)
                tcp_accept(s);
            if (pfd[SLOT_LINK_LISTEN].revents & POLLIN)
                link_accept(s);
            for (uint32_t k = SLOT_FIXED; k < n; k++) {
                short re = pfd[k].revents;
                if (!re)
                    continue;
                if (who[k] >= 0) {
                    struct tcp_conn *c = &s->tcp[who[k]];
                    if (c->fd != pfd[k].fd)
                        continue;   /* closed earlier in this round */
                    if (re & POLLOUT)
                        tcp_flush(s, c);
                    if (c->fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
                        tcp_read(s, c);
                    /* Input held back by a full output buffer. */
                    if (c->fd >= 0 && c->in_off < c->in_len)
                        tcp_process(s, c);
                    if (c->fd >= 0 && c->out_len)
                        tcp_flush(s, c);
                } else {
                    struct link_conn *l = &s->link[-1 - who[k]];
                    if (l->fd != pfd[k].fd)
                        continue;
                    if (re & POLLIN)
                        link_read(s, l);
                    else if (re & (POLLHUP | POLLERR))
                        link_close(s, l, "hung up");
                }
            }
        }
        now = now_ms();
        for (uint32_t i = 0; i < s->opt.max_conns; i++)
            if (s->tcp[i].fd >= 0)
                tcp_expire(s, &s->tcp[i], now);
        for (uint32_t i = 0; i < MGR_LINK_MAX; i++)
            if (s->link[i].fd >= 0 && s->link[i].dead)
                link_close(s, &s->link[i], "send failed");
    }
    /* Tell every host first, then let the connections go. */
    mgr_shutdown(&s->st);
    if (s->vmfunc_on) {
        char e2[200] = "";
        uint32_t k = mgr_vmfunc_stop(s->vmf, e2, sizeof(e2));
        if (k || e2[0] || s->vmf->installed)
            logf_(s, "vmfunc: %u installs torn down at stop, %u left%s%s", k, s->vmf->installed,
                  e2[0] ? ": " : "", e2);
    }
    for (uint32_t i = 0; i < s->opt.max_conns; i++)
        tcp_close(s, &s->tcp[i], NULL);
    for (uint32_t i = 0; i < MGR_LINK_MAX; i++)
        if (s->link[i].fd >= 0) {
            close(s->link[i].fd);
            s->link[i].fd = -1;
        }
    free(pfd);
    free(who);
    return stop ? 0 : -1;
}

void mgr_server_close(struct mgr_server *s)
{
    struct stat stt;

    if (!s)
        return;
    if (s->tcp) {
        for (uint32_t i = 0; i < s->opt.max_conns; i++)
            if (s->tcp[i].fd >= 0)
                close(s->tcp[i].fd);
        free(s->tcp);
    }
    for (uint32_t i = 0; i < MGR_LINK_MAX; i++)
        if (s->link[i].fd >= 0)
            close(s->link[i].fd);
    if (s->tcp_fd >= 0)
        close(s->tcp_fd);
    if (s->link_fd >= 0)
        close(s->link_fd);
    if (s->sig_fd >= 0)
        close(s->sig_fd);
    /* Remove the socket only if the file is still the one we bound. */
    if (s->link_bound && lstat(s->opt.link_path, &stt) == 0 && stt.st_dev == s->link_dev &&
        stt.st_ino == s->link_ino)
        unlink(s->opt.link_path);
    if (s->vmf) {
        for (uint32_t i = 0; i < MGR_APPS_MAX; i++)
            if (s->vmf->apps[i].image)
                munmap((void *)s->vmf->apps[i].image, s->vmf->apps[i].image_size);
        free(s->vmf);
    }
    if (s->hv) {
        hv_close(s->hv);
        free(s->hv);
    }
    for (uint32_t i = 0; i < s->napps; i++)
        mgr_app_close(&s->apps[i]);
    free(s);
}

int mgr_server_start_vmfunc(struct mgr_server *s, char *err, size_t errlen)
{
    if (s->opt.host != MGR_HOST_VMFUNC)
        return 0;
    s->vmf = calloc(1, sizeof(*s->vmf));
    if (!s->vmf) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!s->opt.no_manager_vm) {
        s->hv = calloc(1, sizeof(*s->hv));
        if (!s->hv) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        if (hv_open(s->hv, s->opt.elisa_id, true, err, errlen) != 0) {
            free(s->hv);   /* hv_open closed what it opened */
            s->hv = NULL;
            return -1;
        }
    }
    if (mgr_vmfunc_init(s->vmf, s->hv, s->opt.elisa_id, &s->st.layout, err, errlen) != 0)
        return -1;
    for (uint32_t i = 0; i < s->napps; i++) {
        struct mgr_app *a = &s->apps[i];
        struct mgr_vmfunc_app *v = &s->vmf->apps[i];
        void *img = mmap(NULL, a->image_size, PROT_READ, MAP_SHARED, a->image_fd, 0);
        if (img == MAP_FAILED) {
            snprintf(err, errlen, "cannot map the %s image: %s", a->name, strerror(errno));
            return -1;
        }
        v->image = img;
        v->image_size = a->image_size;
        v->entry_offset = a->entry_offset;
        if (a->region && s->hv) {
            if (hv_add_region(s->hv, a->region_fd, a->region_size, &v->region_mgr_gpa, err, errlen) != 0)
                return -1;
            v->region_size = a->region_size;
        }
    }
    s->vmfunc_on = true;
    if (s->hv)
        logf_(s, "vmfunc: manager VM up (ELISA id %u, %llu KVM_RUN returns to its first doorbell)",
              s->opt.elisa_id, (unsigned long long)s->hv->exits);
    else
        logf_(s, "vmfunc: no manager VM (--no-manager-vm): VMFUNC_INSTALL will be refused");
    return 0;
}
