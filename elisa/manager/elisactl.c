/* elisa/manager/elisactl.c - the operator's tool: starts and stops the
 * ELISA manager and talks to it over the negotiation protocol with HELLO
 * role operator (enable, disable, list).  `elisactl help` prints the usage.
 *
 * Exit status: 0 done, 1 the manager refused or is not there, 2 a usage
 * error.  Every failure is one line on stderr that says what to do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "link_msg.h"
#include "options.h"
#include "../guest/negotiate.h"

#define LIST_PAGES_MAX 1000u   /* 32 entries each: far more than MGR_CTX_MAX */
#define STOP_WAIT_MS   5000u

static const char usage[] =
    "usage: elisactl COMMAND [OPTIONS]\n"
    "\n"
    "  start --app NAME=PATH[,ports=N,slots=S,slot-size=B] [--app ...]\n"
    "        [--listen 127.0.0.1:7070] [--link PATH] [--name NAME] [--host exit|vmfunc]\n"
    "        [--foreground] [--log PATH] [--gate-gpa A] [--gate-gva A] [--shared-gpa A]\n"
    "        [--shared-stride B] [--doorbell mmio|PORT] [--max-conns N] [--msg-timeout-ms T]\n"
    "        [--elisa-id N] [--no-manager-vm]   (vmfunc: manager VM's KVM id; testing only)\n"
    "                        start the manager (a daemon unless --foreground)\n"
    "  stop [--link PATH]    stop the manager of that host link (SIGTERM to its pid)\n"
    "  enable GUEST [--vcpu N] [--manager HOST:PORT]\n"
    "                        let GUEST (or one vCPU of it) negotiate and attach\n"
    "  disable GUEST [--vcpu N] [--manager HOST:PORT]\n"
    "                        take that permission back; its contexts become DISABLED\n"
    "  list [--manager HOST:PORT]\n"
    "                        every vCPU context: guest, vCPU, state, app, addresses\n"
    "\n"
    "The manager address defaults to $ELISA_MANAGER or 127.0.0.1:7070; the host link\n"
    "to /run/exitless/elisa.sock (root) or /tmp/exitless-UID/elisa.sock.\n";

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "elisactl: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see 'elisactl help')\n");
    return 2;
}

/* Options of the client commands. */
struct client_opts {
    const char *manager;
    const char *guest;
    uint32_t vcpu;
    char link[MGR_LINK_PATH_MAX + 1];
};

static int parse_client(int argc, char **argv, bool want_guest, bool want_vcpu, bool want_link,
                        struct client_opts *c)
{
    const char *env = getenv("ELISA_MANAGER");

    c->manager = env && env[0] ? env : MGR_DEFAULT_ADDR;
    c->guest = NULL;
    c->vcpu = PROTO_VCPU_ALL;
    elisa_link_default_path(c->link, sizeof(c->link));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = NULL;
        if (strncmp(a, "--", 2) == 0) {
            const char *eq = strchr(a, '=');
            if (eq)
                v = eq + 1;
            else if (i + 1 < argc)
                v = argv[++i];
            else
                return usage_error("%s needs a value", a);
            size_t len = eq ? (size_t)(eq - a) : strlen(a);
            if (len == 9 && strncmp(a, "--manager", len) == 0) {
                c->manager = v;
            } else if (want_vcpu && len == 6 && strncmp(a, "--vcpu", len) == 0) {
                uint64_t n;
                if (mgr_parse_u64(v, &n) != 0 || n >= PROTO_VCPU_ALL)
                    return usage_error("--vcpu %s: give a vCPU number", v);
                c->vcpu = (uint32_t)n;
            } else if (want_link && len == 6 && strncmp(a, "--link", len) == 0) {
                if (v[0] == '\0' || strlen(v) > MGR_LINK_PATH_MAX)
                    return usage_error("--link %s: give a socket path", v);
                snprintf(c->link, sizeof(c->link), "%s", v);
            } else {
                return usage_error("unknown option %s", a);
            }
        } else if (want_guest && !c->guest) {
            c->guest = a;
        } else {
            return usage_error("unexpected argument \"%s\"", a);
        }
    }
    if (want_guest && !c->guest)
        return usage_error("%s", "name the guest, e.g. 'elisactl enable web1'");
    return 0;
}

static struct elisa_neg neg;               /* 8 KiB decoder: not on the stack */
static struct proto_msg req, reply;

static int connect_operator(const struct client_opts *c)
{
    char err[256];

    if (elisa_neg_open(&neg, c->manager, PROTO_ROLE_OPERATOR, "elisactl", 0, err, sizeof(err))) {
        fprintf(stderr, "elisactl: %s\n", err);
        return -1;
    }
    return 0;
}

static int cmd_enable(int argc, char **argv, bool enable)
{
    struct client_opts c;
    char err[256];
    int rc = parse_client(argc, argv, true, true, false, &c);

    if (rc)
        return rc;
    if (strlen(c.guest) > PROTO_NAME_MAX || strspn(c.guest, "abcdefghijklmnopqrstuvwxyz"
               "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != strlen(c.guest))
        return usage_error("guest \"%s\": names use 1..63 of A-Z a-z 0-9 . _ -", c.guest);
    if (connect_operator(&c) != 0)
        return 1;
    memset(&req, 0, sizeof(req));
    req.type = enable ? PROTO_ENABLE : PROTO_DISABLE;
    req.u.enable.vcpu = c.vcpu;
    snprintf(req.u.enable.guest, sizeof(req.u.enable.guest), "%s", c.guest);
    if (elisa_neg_call(&neg, &req, &reply, err, sizeof(err)) != 0) {
        fprintf(stderr, "elisactl: %s\n", err);
        return 1;
    }
    elisa_neg_close(&neg);
    if (reply.type == PROTO_ERROR) {
        fprintf(stderr, "elisactl: %s %s: %s\n", enable ? "enable" : "disable", c.guest,
                reply.u.error.text);
        return 1;
    }
    if (reply.type != PROTO_OK) {
        fprintf(stderr, "elisactl: the manager answered %s with %s\n", proto_type_name(req.type),
                proto_type_name(reply.type));
        return 1;
    }
    if (c.vcpu == PROTO_VCPU_ALL)
        printf("elisactl: %s %s (all vCPUs)\n", enable ? "enabled" : "disabled", c.guest);
    else
        printf("elisactl: %s %s vCPU %u\n", enable ? "enabled" : "disabled", c.guest, c.vcpu);
    return 0;
}

static const char *state_name(uint8_t s)
{
    switch (s) {
    case PROTO_CTX_NEGOTIATED: return "NEGOTIATED";
    case PROTO_CTX_ENABLED:    return "ENABLED";
    case PROTO_CTX_DISABLED:   return "DISABLED";
    default:                   return "?";
    }
}

static int cmd_list(int argc, char **argv)
{
    struct client_opts c;
    char err[256];
    uint32_t start = 0, shown = 0;
    int rc = parse_client(argc, argv, false, false, false, &c);

    if (rc)
        return rc;
    if (connect_operator(&c) != 0)
        return 1;
    printf("%-8s %-20s %-5s %-11s %-8s %-18s %-18s %s\n", "GUEST-ID", "GUEST", "VCPU", "STATE",
           "APP", "GATE-GPA", "SHARED-GPA", "SHARED-SIZE");
    /* Page through LIST.start until the manager's total is reached; the
     * page count is bounded whatever the manager says. */
    for (uint32_t page = 0; page < LIST_PAGES_MAX; page++) {
        memset(&req, 0, sizeof(req));
        req.type = PROTO_LIST;
        req.u.list.start = start;
        if (elisa_neg_call(&neg, &req, &reply, err, sizeof(err)) != 0) {
            fprintf(stderr, "elisactl: %s\n", err);
            return 1;
        }
        if (reply.type == PROTO_ERROR) {
            fprintf(stderr, "elisactl: list: %s\n", reply.u.error.text);
            return 1;
        }
        if (reply.type != PROTO_LIST_OK) {
            fprintf(stderr, "elisactl: the manager answered LIST with %s\n",
                    proto_type_name(reply.type));
            return 1;
        }
        const struct proto_list_ok *l = &reply.u.list_ok;
        for (uint16_t i = 0; i < l->count; i++) {
            const struct proto_list_entry *e = &l->entries[i];
            char gpa[24], sgpa[24];
            snprintf(gpa, sizeof(gpa), "0x%llx", (unsigned long long)e->gate_gpa);
            if (e->shared_size)
                snprintf(sgpa, sizeof(sgpa), "0x%llx", (unsigned long long)e->shared_gpa);
            else
                snprintf(sgpa, sizeof(sgpa), "-");
            printf("%-8u %-20s %-5u %-11s %-8s %-18s %-18s %llu\n", e->guest_id, e->guest, e->vcpu,
                   state_name(e->state), e->app, gpa, sgpa, (unsigned long long)e->shared_size);
            shown++;
        }
        /* The contexts may change between pages; stop at the end or when a
         * page brings nothing new. */
        if (l->count == 0 || l->start + l->count >= l->total)
            break;
        start = l->start + l->count;
    }
    elisa_neg_close(&neg);
    if (shown == 0)
        printf("(no contexts)\n");
    return 0;
}

static int cmd_stop(int argc, char **argv)
{
    struct client_opts c;
    char msg[512];
    int rc = parse_client(argc, argv, false, false, true, &c);

    if (rc)
        return rc;
    if (mgr_stop(c.link, STOP_WAIT_MS, msg, sizeof(msg)) != 0) {
        fprintf(stderr, "elisactl: %s\n", msg);
        return 1;
    }
    printf("elisactl: %s\n", msg);
    return 0;
}

static int cmd_start(int argc, char **argv)
{
    static struct mgr_options o;   /* 40 KiB of paths */
    char err[512];

    if (mgr_options_parse(argc, argv, &o, err, sizeof(err)) != 0) {
        fprintf(stderr, "elisactl: %s\n", err);
        return 2;
    }
    if (mgr_start(&o, err, sizeof(err)) != 0) {
        fprintf(stderr, "elisactl: %s\n", err);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(cmd, "start") == 0)
        return cmd_start(argc - 2, argv + 2);
    if (strcmp(cmd, "stop") == 0)
        return cmd_stop(argc - 2, argv + 2);
    if (strcmp(cmd, "enable") == 0)
        return cmd_enable(argc - 2, argv + 2, true);
    if (strcmp(cmd, "disable") == 0)
        return cmd_enable(argc - 2, argv + 2, false);
    if (strcmp(cmd, "list") == 0)
        return cmd_list(argc - 2, argv + 2);
    return usage_error("unknown command \"%s\"", cmd);
}
