/* elisa/vmm/vmm_manager.c - the exit-based VMM attaches a guest vCPU
 * through the ELISA manager (vmm_attach_from_manager in attach.h).
 *
 * The VMM is its guest's agent: the guests of this kit's VMM have no
 * network of their own, so the VMM negotiates for them over TCP like any
 * guest library would (elisa/guest/negotiate.h), then fetches the host
 * side - the numbers, the region memfd, the sealed image memfd - over the
 * manager's host link (elisa/manager/link_msg.h), which only host software
 * of the manager's user can open.
 *
 * Nothing the manager sends is taken on trust beyond what it must be: the
 * link message is decoded strictly, it must repeat exactly what
 * NEGOTIATE_OK said, and the fds must be what the numbers say (sizes, the
 * image's write seals).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../vmm/attach.h"
#include "../guest/negotiate.h"
#include "../manager/link_msg.h"

#define LINK_REPLY_MS 5000

static int close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
    return -1;
}

void vmm_attach_release(struct elisa_attach *a)
{
    /* The link first: the manager then takes the vCPU back to NEGOTIATED
     * before the guest's connection goes, instead of sending a DETACH
     * that nobody reads. */
    close_fd(&a->link_fd);
    close_fd(&a->manager_fd);
    close_fd(&a->region_fd);
    close_fd(&a->app_fd);
}

static int link_connect(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    int fd;

    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "host link %s: path too long for a unix socket", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket(AF_UNIX): %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        if (e == ENOENT || e == ECONNREFUSED)
            snprintf(err, errlen, "no host link at %s: is the manager running with --link %s?",
                     path, path);
        else if (e == EACCES || e == EPERM)
            snprintf(err, errlen, "host link %s: permission denied; run the VMM as the manager's "
                     "user", path);
        else
            snprintf(err, errlen, "host link %s: %s", path, strerror(e));
        close(fd);
        return -1;
    }
    return fd;
}

/* The fd holds at least SIZE bytes, and (if SEALS) cannot be changed. */
static int check_fd(int fd, uint64_t size, int seals, const char *what, char *err, size_t errlen)
{
    struct stat st;
    int have;

    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != size) {
        snprintf(err, errlen, "manager's %s fd holds %lld bytes, the message says %llu", what,
                 (long long)st.st_size, (unsigned long long)size);
        return -1;
    }
    have = fcntl(fd, F_GET_SEALS);
    if (seals && (have < 0 || (have & seals) != seals)) {
        snprintf(err, errlen, "manager's %s fd is not sealed (seals 0x%x, need 0x%x)", what,
                 have < 0 ? 0 : have, seals);
        return -1;
    }
    return 0;
}

/* ATTACH_OK must repeat what NEGOTIATE_OK told the guest. */
static int same_as_negotiated(const struct elisa_link_attach_ok *a,
                              const struct proto_negotiate_ok *ok, uint32_t guest_id,
                              const char *app, char *err, size_t errlen)
{
    if (a->guest_id != guest_id || a->vcpu != ok->vcpu || a->mode != ok->mode ||
        a->doorbell != ok->doorbell || a->gate_gpa != ok->gate_gpa || a->gate_gva != ok->gate_gva ||
        a->shared_gpa != ok->shared_gpa || a->shared_size != ok->shared_size ||
        a->entry_offset != ok->entry_offset || strcmp(a->app, app) != 0) {
        snprintf(err, errlen, "the host link's ATTACH_OK for guest id %u vCPU %u does not match "
                 "what NEGOTIATE_OK said", a->guest_id, a->vcpu);
        return -1;
    }
    return 0;
}

/* Send M on LINK and wait for the answer of type WANT (or ERROR). 0 with
 * *M the answer, or -1 with err. */
static int link_ask(int link, const char *link_path, struct elisa_link_msg *m, unsigned want,
                    uint32_t guest_id, uint32_t vcpu, char *err, size_t errlen)
{
    const char *asked = elisa_link_type_name(m->type);
    int fds[ELISA_LINK_FDS_MAX], nfds = 0;

    if (elisa_link_send(link, m, NULL, 0, err, errlen) != 0)
        return -1;
    struct pollfd p = { link, POLLIN, 0 };
    if (poll(&p, 1, LINK_REPLY_MS) != 1) {
        snprintf(err, errlen, "host link %s: no answer to %s within %d ms", link_path, asked, LINK_REPLY_MS);
        return -1;
    }
    int rc = elisa_link_recv(link, m, fds, &nfds, err, errlen);
    for (int i = 0; i < nfds; i++)   /* none is expected: recv refuses fds with these types */
        close(fds[i]);
    if (rc == 0)
        snprintf(err, errlen, "host link %s: the manager closed it", link_path);
    if (rc != 1)
        return -1;
    if (m->type == ELISA_LINK_ERROR) {
        snprintf(err, errlen, "manager refused %s for guest id %u vCPU %u: %s", asked, guest_id, vcpu,
                 m->u.error.text);
        return -1;
    }
    /* All answers here carry guest_id and vcpu first (attach / vmfunc_info). */
    if (m->type != want || m->u.attach.guest_id != guest_id || m->u.attach.vcpu != vcpu) {
        snprintf(err, errlen, "host link %s: %s answered with %s (guest id %u vCPU %u)", link_path, asked,
                 elisa_link_type_name(m->type), m->u.attach.guest_id, m->u.attach.vcpu);
        return -1;
    }
    return 0;
}

/* VMFUNC mode: the KVM ids and the gate's hash (VMFUNC_QUERY). */
static int vmfunc_query(int link, const char *link_path, struct elisa_attach *out, char *err, size_t errlen)
{
    struct elisa_link_msg m;

    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_VMFUNC_QUERY;
    m.u.attach.guest_id = out->guest_id;
    m.u.attach.vcpu = out->vcpu;
    if (link_ask(link, link_path, &m, ELISA_LINK_VMFUNC_INFO, out->guest_id, out->vcpu, err, errlen) != 0)
        return -1;
    out->manager_kvm_id = m.u.vmfunc_info.manager_kvm_id;
    out->guest_kvm_id = m.u.vmfunc_info.guest_kvm_id;
    out->gate_hash = m.u.vmfunc_info.gate_hash;
    return 0;
}

int vmm_attach_vmfunc_install(struct elisa_attach *a, uint32_t kvm_vcpu_id, int user_mode, char *err,
                              size_t errlen)
{
    struct elisa_link_msg m;

    if (a->link_fd < 0 || a->mode != PROTO_MODE_VMFUNC) {
        snprintf(err, errlen, "guest id %u vCPU %u is not attached in VMFUNC mode through a manager",
                 a->guest_id, a->vcpu);
        return -1;
    }
    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_VMFUNC_INSTALL;
    m.u.vmfunc_install.guest_id = a->guest_id;
    m.u.vmfunc_install.vcpu = a->vcpu;
    m.u.vmfunc_install.kvm_vcpu_id = kvm_vcpu_id;
    m.u.vmfunc_install.user_mode = user_mode ? 1 : 0;
    return link_ask(a->link_fd, "(attached)", &m, ELISA_LINK_VMFUNC_INSTALLED, a->guest_id, a->vcpu, err,
                    errlen);
}

int vmm_attach_from_manager(const char *manager, const char *link_path, const char *guest,
                            uint32_t vcpu, const char *app, uint64_t shared_size,
                            struct elisa_attach *out, char *err, size_t errlen)
{
    struct elisa_neg *n = calloc(1, sizeof(*n));
    struct proto_negotiate_ok ok;
    struct elisa_link_msg m;
    char path[128];
    int fds[ELISA_LINK_FDS_MAX], nfds = 0, link = -1, rc;

    memset(out, 0, sizeof(*out));
    out->region_fd = out->app_fd = out->manager_fd = out->link_fd = -1;
    if (!n) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (elisa_neg_open(n, manager, PROTO_ROLE_GUEST, guest, 0, err, errlen) != 0)
        goto fail;
    rc = elisa_neg_vcpu(n, vcpu, app, shared_size, &ok, err, errlen);
    if (rc != 0)
        goto fail;

    if (!link_path)
        link_path = elisa_link_default_path(path, sizeof(path));
    link = link_connect(link_path, err, errlen);
    if (link < 0)
        goto fail;
    memset(&m, 0, sizeof(m));
    m.type = ELISA_LINK_ATTACH;
    m.u.attach.guest_id = n->guest_id;
    m.u.attach.vcpu = vcpu;
    if (elisa_link_send(link, &m, NULL, 0, err, errlen) != 0)
        goto fail;
    struct pollfd p = { link, POLLIN, 0 };
    if (poll(&p, 1, LINK_REPLY_MS) != 1) {
        snprintf(err, errlen, "host link %s: no answer to ATTACH within %d ms", link_path,
                 LINK_REPLY_MS);
        goto fail;
    }
    rc = elisa_link_recv(link, &m, fds, &nfds, err, errlen);
    if (rc == 0)
        snprintf(err, errlen, "host link %s: the manager closed it", link_path);
    if (rc != 1)
        goto fail;
    if (m.type == ELISA_LINK_ERROR) {
        snprintf(err, errlen, "manager refused to attach guest %s vCPU %u: %s", guest, vcpu,
                 m.u.error.text);
        goto fail;
    }
    if (m.type != ELISA_LINK_ATTACH_OK) {
        snprintf(err, errlen, "host link %s: ATTACH answered with %s", link_path,
                 elisa_link_type_name(m.type));
        goto fail;
    }
    const struct elisa_link_attach_ok *a = &m.u.attach_ok;
    out->app_fd = fds[0];
    out->region_fd = nfds > 1 ? fds[1] : -1;
    nfds = 0;   /* owned by out from here */
    if (same_as_negotiated(a, &ok, n->guest_id, app, err, errlen) != 0 ||
        check_fd(out->app_fd, a->app_size, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW, "image",
                 err, errlen) != 0 ||
        (out->region_fd >= 0 &&
         check_fd(out->region_fd, a->region_size, F_SEAL_SHRINK | F_SEAL_GROW, "region", err,
                  errlen) != 0))
        goto fail;

    out->guest_id = a->guest_id;
    out->vcpu = a->vcpu;
    out->mode = a->mode;
    out->doorbell = a->doorbell;
    out->gate_gpa = a->gate_gpa;
    out->gate_gva = a->gate_gva;
    out->shared_gpa = a->shared_gpa;
    out->shared_size = a->shared_size;
    out->entry_offset = a->entry_offset;
    out->region_size = a->region_size;
    out->guest_off = a->guest_off;
    out->env_arg = a->env_arg;
    out->app_size = a->app_size;
    snprintf(out->app, sizeof(out->app), "%s", a->app);
    if (out->mode == PROTO_MODE_VMFUNC && vmfunc_query(link, link_path, out, err, errlen) != 0)
        goto fail;
    out->manager_fd = n->fd;   /* the guest's contexts live as long as this */
    out->link_fd = link;
    free(n);
    return 0;
fail:
    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    if (link >= 0)
        close(link);
    close_fd(&out->app_fd);
    close_fd(&out->region_fd);
    elisa_neg_close(n);
    free(n);
    return -1;
}

int vmm_attach_poll(struct elisa_attach *a, char *err, size_t errlen)
{
    struct pollfd p[2] = { { a->link_fd, POLLIN, 0 }, { a->manager_fd, POLLIN, 0 } };

    if (a->link_fd < 0 || a->manager_fd < 0) {
        snprintf(err, errlen, "not attached through a manager");
        return 0;
    }
    if (poll(p, 2, 0) <= 0)
        return 1;
    if (p[0].revents) {
        struct elisa_link_msg m;
        int fds[ELISA_LINK_FDS_MAX], nfds = 0;
        int rc = elisa_link_recv(a->link_fd, &m, fds, &nfds, err, errlen);
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        if (rc == 0) {
            snprintf(err, errlen, "the manager closed the host link");
            return 0;
        }
        if (rc < 0)
            return -1;
        if (m.type != ELISA_LINK_DETACH || m.u.detach.guest_id != a->guest_id ||
            m.u.detach.vcpu != a->vcpu) {
            snprintf(err, errlen, "host link: unexpected %s", elisa_link_type_name(m.type));
            return -1;
        }
        snprintf(err, errlen, "manager detached guest id %u vCPU %u: %s", a->guest_id, a->vcpu,
                 m.u.detach.text);
        return 0;
    }
    /* The manager sends nothing unasked on the negotiation connection:
     * readable means it closed (or broke the protocol). */
    char c;
    ssize_t k = recv(a->manager_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
    if (k == 0 || (k < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        snprintf(err, errlen, "the manager closed the negotiation connection");
        return 0;
    }
    if (k > 0) {
        snprintf(err, errlen, "the manager sent bytes nobody asked for");
        return -1;
    }
    return 1;
}
