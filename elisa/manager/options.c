/* elisa/manager/options.c - `elisactl start` options (options.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"
#include "../guest/negotiate.h"
#include "link_msg.h"

int mgr_parse_u64(const char *s, uint64_t *out)
{
    char *end;
    unsigned shift = 0;

    if (!s || s[0] < '0' || s[0] > '9')   /* no sign, no space, no empty */
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno)
        return -1;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end != '\0' || (shift && v > (UINT64_MAX >> shift)))
        return -1;
    *out = (uint64_t)v << shift;
    return 0;
}

static bool name_ok(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-'))
            return false;
    }
    return true;
}

static bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

/* NAME=PATH[,ports=N][,slots=S][,slot-size=B] */
static int parse_app(const char *arg, struct mgr_options *o, char *err, size_t errlen)
{
    char buf[MGR_PATH_MAX + 128];
    struct mgr_app_spec *a;
    char *eq, *opts, *save = NULL;

    if (o->napps == MGR_APPS_MAX) {
        snprintf(err, errlen, "--app: at most %u apps", MGR_APPS_MAX);
        return -1;
    }
    if (strlen(arg) >= sizeof(buf)) {
        snprintf(err, errlen, "--app: argument too long");
        return -1;
    }
    snprintf(buf, sizeof(buf), "%s", arg);
    eq = strchr(buf, '=');
    if (!eq || eq == buf || eq[1] == '\0') {
        snprintf(err, errlen, "--app %s: expected NAME=PATH, e.g. --app vmnet=elisa/apps/vmnet.so",
                 arg);
        return -1;
    }
    *eq = '\0';
    a = &o->apps[o->napps];
    memset(a, 0, sizeof(*a));
    if (!name_ok(buf, PROTO_APP_MAX)) {
        snprintf(err, errlen, "--app %s: app name \"%s\": use 1..%u of A-Z a-z 0-9 . _ -", arg, buf,
                 PROTO_APP_MAX);
        return -1;
    }
    for (uint32_t i = 0; i < o->napps; i++)
        if (strcmp(o->apps[i].name, buf) == 0) {
            snprintf(err, errlen, "--app %s: app %s is given twice", arg, buf);
            return -1;
        }
    memcpy(a->name, buf, strlen(buf) + 1);   /* name_ok: at most PROTO_APP_MAX bytes */
    opts = strchr(eq + 1, ',');
    if (opts)
        *opts++ = '\0';
    if (strlen(eq + 1) >= sizeof(a->path)) {
        snprintf(err, errlen, "--app %s: path too long", arg);
        return -1;
    }
    memcpy(a->path, eq + 1, strlen(eq + 1) + 1);
    bool vmnet = strcmp(a->name, "vmnet") == 0;
    if (vmnet) {
        a->ports = MGR_VMNET_DEFAULT_PORTS;
        a->ring_slots = MGR_VMNET_DEFAULT_SLOTS;
        a->slot_size = MGR_VMNET_DEFAULT_SLOT;
    }
    for (char *kv = opts ? strtok_r(opts, ",", &save) : NULL; kv; kv = strtok_r(NULL, ",", &save)) {
        char *v = strchr(kv, '=');
        uint64_t n;
        if (!vmnet) {
            snprintf(err, errlen, "--app %s: \"%s\": only vmnet takes options", arg, kv);
            return -1;
        }
        if (!v || mgr_parse_u64(v + 1, &n) != 0) {
            snprintf(err, errlen, "--app %s: \"%s\": expected ports=N, slots=N or slot-size=N",
                     arg, kv);
            return -1;
        }
        *v = '\0';
        if (strcmp(kv, "ports") == 0) {
            if (n < 1 || n > MGR_PORTS_MAX) {
                snprintf(err, errlen, "--app %s: ports=%llu: use 1..%u", arg,
                         (unsigned long long)n, MGR_PORTS_MAX);
                return -1;
            }
            a->ports = (uint32_t)n;
        } else if (strcmp(kv, "slots") == 0) {
            if (!pow2(n) || n < 2 || n > 32768) {
                snprintf(err, errlen, "--app %s: slots=%llu: use a power of two, 2..32768", arg,
                         (unsigned long long)n);
                return -1;
            }
            a->ring_slots = (uint32_t)n;
        } else if (strcmp(kv, "slot-size") == 0) {
            if (!pow2(n) || n < 256 || n > 65536) {
                snprintf(err, errlen, "--app %s: slot-size=%llu: use a power of two, 256..65536",
                         arg, (unsigned long long)n);
                return -1;
            }
            a->slot_size = (uint32_t)n;
        } else {
            snprintf(err, errlen, "--app %s: unknown option \"%s\" (ports, slots, slot-size)", arg,
                     kv);
            return -1;
        }
    }
    o->napps++;
    return 0;
}

static void defaults(struct mgr_options *o)
{
    memset(o, 0, sizeof(*o));
    snprintf(o->listen_host, sizeof(o->listen_host), "127.0.0.1");
    o->listen_port = 7070;
    elisa_link_default_path(o->link_path, sizeof(o->link_path));
    snprintf(o->name, sizeof(o->name), "%s", MGR_DEFAULT_NAME);
    o->host = MGR_HOST_EXIT;
    o->gate_gpa = MGR_DEFAULT_GATE_GPA;
    o->gate_gva = MGR_DEFAULT_GATE_GPA;   /* identity-mapped guests */
    o->shared_gpa = MGR_DEFAULT_SHARED_GPA;
    o->shared_stride = MGR_DEFAULT_SHARED_STRIDE;
    o->doorbell = MGR_DEFAULT_DOORBELL;
    o->max_conns = MGR_DEFAULT_MAX_CONNS;
    o->msg_timeout_ms = MGR_DEFAULT_MSG_TIMEOUT;
    o->elisa_id = MGR_DEFAULT_ELISA_ID;
}

/* The value of option NAME: "--name=V" or "--name V".  Advances *I. */
static const char *value_of(int argc, char **argv, int *i, const char *name, char *err,
                            size_t errlen)
{
    const char *a = argv[*i];
    size_t n = strlen(name);

    if (a[n] == '=')
        return a + n + 1;
    if (*i + 1 >= argc) {
        snprintf(err, errlen, "%s needs a value (see 'elisactl help')", name);
        return NULL;
    }
    return argv[++*i];
}

static bool is_opt(const char *a, const char *name)
{
    size_t n = strlen(name);
    return strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '=');
}

int mgr_options_parse(int argc, char **argv, struct mgr_options *o, char *err, size_t errlen)
{
    bool log_given = false;

    defaults(o);
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i], *v;
        uint64_t n;

        if (strcmp(a, "--foreground") == 0) {
            o->foreground = true;
            continue;
        }
        if (strcmp(a, "--no-manager-vm") == 0) {
            o->no_manager_vm = true;
            continue;
        }
#define VALUE(name) \
    if (!(v = value_of(argc, argv, &i, name, err, errlen))) return -1
        if (is_opt(a, "--listen")) {
            VALUE("--listen");
            struct sockaddr_in sa;
            if (elisa_neg_parse_addr(v, &sa, 1, err, errlen) != 0)
                return -1;
            inet_ntop(AF_INET, &sa.sin_addr, o->listen_host, sizeof(o->listen_host));
            o->listen_port = ntohs(sa.sin_port);
        } else if (is_opt(a, "--link")) {
            VALUE("--link");
            if (v[0] == '\0' || strlen(v) > MGR_LINK_PATH_MAX) {
                snprintf(err, errlen, "--link %s: use a path of 1..%u bytes (a unix socket's limit)",
                         v, MGR_LINK_PATH_MAX);
                return -1;
            }
            snprintf(o->link_path, sizeof(o->link_path), "%s", v);
        } else if (is_opt(a, "--log")) {
            VALUE("--log");
            if (v[0] == '\0' || strlen(v) >= sizeof(o->log_path)) {
                snprintf(err, errlen, "--log: give a file path");
                return -1;
            }
            snprintf(o->log_path, sizeof(o->log_path), "%s", v);
            log_given = true;
        } else if (is_opt(a, "--name")) {
            VALUE("--name");
            if (!name_ok(v, PROTO_NAME_MAX)) {
                snprintf(err, errlen, "--name %s: use 1..%u of A-Z a-z 0-9 . _ -", v,
                         PROTO_NAME_MAX);
                return -1;
            }
            snprintf(o->name, sizeof(o->name), "%s", v);
        } else if (is_opt(a, "--app")) {
            VALUE("--app");
            if (parse_app(v, o, err, errlen) != 0)
                return -1;
        } else if (is_opt(a, "--host")) {
            VALUE("--host");
            if (strcmp(v, "exit") == 0)
                o->host = MGR_HOST_EXIT;
            else if (strcmp(v, "vmfunc") == 0)
                o->host = MGR_HOST_VMFUNC;
            else {
                snprintf(err, errlen, "--host %s: use exit (this machine) or vmfunc", v);
                return -1;
            }
        } else if (is_opt(a, "--doorbell")) {
            VALUE("--doorbell");
            if (strcmp(v, "mmio") == 0) {
                o->doorbell = 0;   /* the MMIO doorbell */
            } else if (mgr_parse_u64(v, &n) != 0 || n == 0 || n > 0xffff) {
                snprintf(err, errlen, "--doorbell %s: use mmio or an I/O port 1..0xffff", v);
                return -1;
            } else {
                o->doorbell = (uint16_t)n;
            }
        } else if (is_opt(a, "--gate-gpa") || is_opt(a, "--gate-gva") ||
                   is_opt(a, "--shared-gpa") || is_opt(a, "--shared-stride") ||
                   is_opt(a, "--max-conns") || is_opt(a, "--elisa-id") ||
                   is_opt(a, "--msg-timeout-ms")) {
            char name[24];
            size_t len = strcspn(a, "=");
            snprintf(name, sizeof(name), "%.*s", (int)len, a);
            VALUE(name);
            if (mgr_parse_u64(v, &n) != 0) {
                snprintf(err, errlen, "%s %s: not a number", name, v);
                return -1;
            }
            if (strcmp(name, "--gate-gpa") == 0) {
                o->gate_gpa = n;
                o->gate_gva = n;      /* identity unless --gate-gva says otherwise */
            } else if (strcmp(name, "--gate-gva") == 0) {
                o->gate_gva = n;
            } else if (strcmp(name, "--shared-gpa") == 0) {
                o->shared_gpa = n;
            } else if (strcmp(name, "--shared-stride") == 0) {
                o->shared_stride = n;
            } else if (strcmp(name, "--max-conns") == 0) {
                if (n < 1 || n > MGR_MAX_CONNS_LIMIT) {
                    snprintf(err, errlen, "--max-conns %s: use 1..%u", v, MGR_MAX_CONNS_LIMIT);
                    return -1;
                }
                o->max_conns = (uint32_t)n;
            } else if (strcmp(name, "--elisa-id") == 0) {
                if (n < 1 || n > MGR_ELISA_ID_MAX) {
                    snprintf(err, errlen, "--elisa-id %s: use 1..%u (the guests' VMs take the %u ids "
                             "above it)", v, MGR_ELISA_ID_MAX, MGR_GUESTS_MAX);
                    return -1;
                }
                o->elisa_id = (uint16_t)n;
            } else {
                if (n < 10 || n > 600000) {
                    snprintf(err, errlen, "--msg-timeout-ms %s: use 10..600000", v);
                    return -1;
                }
                o->msg_timeout_ms = (uint32_t)n;
            }
        } else {
            snprintf(err, errlen, "start: unknown option \"%s\" (see 'elisactl help')", a);
            return -1;
        }
#undef VALUE
    }
    if (o->no_manager_vm && o->host != MGR_HOST_VMFUNC) {
        snprintf(err, errlen, "--no-manager-vm is for --host vmfunc only");
        return -1;
    }
    if (o->napps == 0) {
        snprintf(err, errlen, "start: no app; give at least one, e.g. --app nop=elisa/apps/nop.so");
        return -1;
    }
    if (!log_given) {
        if (strlen(o->link_path) + 4 >= sizeof(o->log_path)) {
            snprintf(err, errlen, "--link path too long for its log file");
            return -1;
        }
        snprintf(o->log_path, sizeof(o->log_path), "%s.log", o->link_path);
    }
    return 0;
}
