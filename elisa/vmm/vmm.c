/* elisa/vmm/vmm.c - elisa-vmm: the kit's minimal VMM for the exit-based
 * ELISA fallback (README.md).  N guest VMs in one process, one vCPU and
 * one thread each, every guest a bare-metal 64-bit image
 * (elisa/vmm/guest/) that calls its app with elisa_call() in EXIT mode:
 * the doorbell's KVM_EXIT_IO makes this process run the app
 * (vmm_doorbell) and resume the guest.
 *
 *   elisa-vmm [--guests N] [--frames K] ...           pingpong (default)
 *   elisa-vmm --bench nop [--calls M]                  round-trip benchmark
 *   elisa-vmm --manager HOST:PORT --link PATH --guest-name NAME[,NAME...]
 *
 * This file: the command line, building the VMs, running them under a
 * watchdog, and handing the results to summary.c / bench.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "../guest/elisa_guest.h"
#include "../vmnet/vmnet.h"

#define DEFAULT_FRAMES 2000u
#define DEFAULT_WINDOW 8u
#define DEFAULT_RING 64u
#define DEFAULT_CALLS 100000u
#define DEFAULT_LOCAL_CALLS 10000000u
#define DEFAULT_TIMEOUT 60u
#define DEFAULT_SPINS 2000u
#define DEFAULT_YIELD_LIMIT 200000u

static const char *const hostile_names[] = {
    [ELISA_VMM_HOSTILE_NONE] = "none",       [ELISA_VMM_HOSTILE_TXIDX] = "txidx",
    [ELISA_VMM_HOSTILE_SLOTLEN] = "slotlen", [ELISA_VMM_HOSTILE_BADFN] = "badfn",
    [ELISA_VMM_HOSTILE_BADSEQ] = "badseq",   [ELISA_VMM_HOSTILE_BADPORT] = "badport",
    [ELISA_VMM_HOSTILE_BADDEV] = "baddev",   [ELISA_VMM_HOSTILE_MMIO] = "mmio",
    [ELISA_VMM_HOSTILE_FAULT] = "fault",     [ELISA_VMM_HOSTILE_SPIN] = "spin",
};

const char *vmm_hostile_name(uint32_t kind)
{
    return kind <= ELISA_VMM_HOSTILE_LAST ? hostile_names[kind] : "?";
}

int vmm_hostile_is_stopped(uint32_t kind)
{
    return kind == ELISA_VMM_HOSTILE_BADSEQ || kind == ELISA_VMM_HOSTILE_BADPORT ||
           kind == ELISA_VMM_HOSTILE_BADDEV || kind == ELISA_VMM_HOSTILE_MMIO || kind == ELISA_VMM_HOSTILE_FAULT ||
           kind == ELISA_VMM_HOSTILE_SPIN;
}

static void usage(FILE *f)
{
    fprintf(f,
        "usage: elisa-vmm [options]\n"
        "  Runs N bare-metal guest VMs on /dev/kvm that call an ELISA app through the\n"
        "  exit-based fallback (one port-I/O exit per call; elisa/vmm/README.md).\n"
        "pingpong (default): pairs of guests exchange K frames through vmnet ports, every byte checked\n"
        "  --guests N          guest VMs, 1..%u (default 2)\n"
        "  --frames K          frames per pair (default %u)\n"
        "  --window W          frames in flight per pair after the first (default %u)\n"
        "  --ring SLOTS        vmnet ring slots per direction, a power of two (default %u)\n"
        "  --seed S            frame contents and MAC-hash key (default 1)\n"
        "  --hostile G:KIND    guest G misbehaves instead of joining a pair; KIND: txidx, slotlen, badfn\n"
        "                      (must complete), badseq, badport, baddev, mmio, fault, spin (must be stopped)\n"
        "  --corrupt G:I       negative control: guest G flips one byte of its outgoing frame I\n"
        "  --drop G:I          negative control: guest G never sends its outgoing frame I\n"
        "benchmark:\n"
        "  --bench nop         M nop echoes through the gate, M bare exits, and LOCAL-mode calls\n"
        "  --calls M           (default %u)\n"
        "  --local-calls L     LOCAL-mode calls (default %u)\n"
        "common:\n"
        "  --app PATH          the app (default: vmnet.so, or nop.so with --bench; next to this binary\n"
        "                      in ../apps/)\n"
        "  --image PATH        guest image (default: guest/guest.bin next to this binary)\n"
        "  --doorbell mmio|port  how the gate rings: a store to the gate block's second page (default),\n"
        "                      or an OUT to port 0x%x (needs a KVM that allows port I/O at the guest's CPL)\n"
        "  --cpl 3|0           the guest's privilege level (default: 3 with the MMIO doorbell, where PVM\n"
        "                      runs the guest natively; 0 with a port doorbell, which PVM refuses at CPL 3)\n"
        "  --timeout SEC       stop guests still running after SEC seconds (default %u)\n"
        "  --spins N           empty polls before a guest yields its CPU (default %u)\n"
        "  --yield-limit N     yields without progress before a guest gives up (default %u)\n"
        "manager mode (vmm_attach_from_manager, one negotiation per guest):\n"
        "  --manager HOST:PORT --link PATH --guest-name NAME[,NAME...]  [--shared-size BYTES]\n"
        "exit status: 0 all guests passed, 1 a check failed or a VM was stopped, 2 bad usage or setup\n",
        VMM_MAX_GUESTS, DEFAULT_FRAMES, DEFAULT_WINDOW, DEFAULT_RING, DEFAULT_CALLS, DEFAULT_LOCAL_CALLS,
        ELISA_VMM_PORT_DOORBELL, DEFAULT_TIMEOUT, DEFAULT_SPINS, DEFAULT_YIELD_LIMIT);
}

__attribute__((format(printf, 1, 2), noreturn))
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "elisa-vmm: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n");
    exit(2);
}

static uint64_t parse_u64(const char *opt, const char *s, uint64_t min, uint64_t max)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno != 0 || end == s || *end != 0 || s[0] == '-' || v < min || v > max)
        die("%s %s: expected a number from %llu to %llu", opt, s, (unsigned long long)min,
            (unsigned long long)max);
    return v;
}

/* "G:REST" -> guest index G (< VMM_MAX_GUESTS) and REST. */
static uint32_t parse_guest_prefix(const char *opt, const char *s, const char **rest)
{
    const char *colon = strchr(s, ':');
    if (colon == NULL || colon == s)
        die("%s %s: expected GUEST:VALUE (e.g. 2:txidx)", opt, s);
    char num[16];
    size_t len = (size_t)(colon - s);
    if (len >= sizeof num)
        die("%s %s: guest number too long", opt, s);
    memcpy(num, s, len);
    num[len] = 0;
    *rest = colon + 1;
    return (uint32_t)parse_u64(opt, num, 0, VMM_MAX_GUESTS - 1);
}

static uint32_t parse_hostile(const char *s)
{
    for (uint32_t k = 1; k <= ELISA_VMM_HOSTILE_LAST; k++)
        if (strcmp(s, hostile_names[k]) == 0)
            return k;
    die("--hostile: unknown kind '%s' (txidx, slotlen, badfn, badseq, badport, baddev, mmio, fault, spin)", s);
}

static void parse_options(int argc, char **argv, struct vmm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->guests = 2;
    o->frames = DEFAULT_FRAMES;
    o->window = DEFAULT_WINDOW;
    o->ring_slots = DEFAULT_RING;
    o->seed = 1;
    o->calls = DEFAULT_CALLS;
    o->local_calls = DEFAULT_LOCAL_CALLS;
    o->timeout_s = DEFAULT_TIMEOUT;
    o->spins_per_yield = DEFAULT_SPINS;
    o->yield_limit = DEFAULT_YIELD_LIMIT;
    o->cpl = VMM_CPL_AUTO;
    o->doorbell = ELISA_DOORBELL_MMIO;
    for (uint32_t i = 0; i < VMM_MAX_GUESTS; i++)
        o->corrupt_at[i] = o->drop_at[i] = ELISA_VMM_NO_CORRUPT;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            exit(0);
        }
        if (i + 1 >= argc)
            die("%s: missing value (or unknown option); see --help", a);
        const char *v = argv[++i];
        const char *rest;
        if (strcmp(a, "--guests") == 0) {
            o->guests = (uint32_t)parse_u64(a, v, 1, VMM_MAX_GUESTS);
            o->guests_given = 1;
        } else if (strcmp(a, "--frames") == 0) {
            o->frames = (uint32_t)parse_u64(a, v, 1, 10000000);
        } else if (strcmp(a, "--window") == 0) {
            o->window = (uint32_t)parse_u64(a, v, 1, VMNET_RING_MAX);
        } else if (strcmp(a, "--ring") == 0) {
            o->ring_slots = (uint32_t)parse_u64(a, v, VMNET_RING_MIN, 4096);
        } else if (strcmp(a, "--seed") == 0) {
            o->seed = parse_u64(a, v, 0, UINT64_MAX);
        } else if (strcmp(a, "--bench") == 0) {
            if (strcmp(v, "nop") != 0)
                die("--bench %s: the only benchmark is 'nop'", v);
            o->bench = 1;
        } else if (strcmp(a, "--calls") == 0) {
            o->calls = parse_u64(a, v, 1, 100000000);
        } else if (strcmp(a, "--local-calls") == 0) {
            o->local_calls = parse_u64(a, v, 0, 10000000000ull);
        } else if (strcmp(a, "--hostile") == 0) {
            uint32_t g = parse_guest_prefix(a, v, &rest);
            o->hostile[g] = parse_hostile(rest);
        } else if (strcmp(a, "--corrupt") == 0) {
            uint32_t g = parse_guest_prefix(a, v, &rest);
            o->corrupt_at[g] = (uint32_t)parse_u64(a, rest, 0, ELISA_VMM_NO_CORRUPT - 1);
        } else if (strcmp(a, "--drop") == 0) {
            uint32_t g = parse_guest_prefix(a, v, &rest);
            o->drop_at[g] = (uint32_t)parse_u64(a, rest, 0, ELISA_VMM_NO_CORRUPT - 1);
        } else if (strcmp(a, "--doorbell") == 0) {
            if (strcmp(v, "mmio") == 0)
                o->doorbell = ELISA_DOORBELL_MMIO;
            else if (strcmp(v, "port") == 0)
                o->doorbell = ELISA_VMM_PORT_DOORBELL;
            else
                die("--doorbell %s: expected mmio or port", v);
        } else if (strcmp(a, "--cpl") == 0) {
            o->cpl = (uint32_t)parse_u64(a, v, 0, 3);
            if (o->cpl != 0 && o->cpl != 3)
                die("--cpl %u: expected 0 or 3", o->cpl);
        } else if (strcmp(a, "--timeout") == 0) {
            o->timeout_s = (uint32_t)parse_u64(a, v, 1, 3600);
        } else if (strcmp(a, "--spins") == 0) {
            o->spins_per_yield = (uint32_t)parse_u64(a, v, 1, 100000000);
        } else if (strcmp(a, "--yield-limit") == 0) {
            o->yield_limit = (uint32_t)parse_u64(a, v, 1, 100000000);
        } else if (strcmp(a, "--app") == 0) {
            o->app_path = v;
        } else if (strcmp(a, "--image") == 0) {
            o->image_path = v;
        } else if (strcmp(a, "--manager") == 0) {
            o->manager = v;
        } else if (strcmp(a, "--link") == 0) {
            o->link_path = v;
        } else if (strcmp(a, "--guest-name") == 0) {
            char *list = strdup(v), *save = NULL;
            uint32_t k = 0;
            for (char *t = strtok_r(list, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
                if (k == VMM_MAX_GUESTS)
                    die("--guest-name: more than %u names", VMM_MAX_GUESTS);
                o->guest_names[k++] = t;
            }
            if (k == 0)
                die("--guest-name: no name given");
            o->guests = k;
            o->guests_given = 1;
        } else if (strcmp(a, "--shared-size") == 0) {
            o->shared_size = parse_u64(a, v, 4096, 1ull << 30);
        } else {
            die("unknown option %s; see --help", a);
        }
    }
    if (o->bench && !o->guests_given)
        o->guests = 1;
    if ((o->ring_slots & (o->ring_slots - 1)) != 0)
        die("--ring %u: must be a power of two", o->ring_slots);
    if (o->window > o->ring_slots / 2)
        die("--window %u: at most half the ring (--ring %u), so no RX ring can overflow", o->window,
            o->ring_slots);
    for (uint32_t g = 0; g < VMM_MAX_GUESTS; g++) {
        if ((o->hostile[g] || o->corrupt_at[g] != ELISA_VMM_NO_CORRUPT || o->drop_at[g] != ELISA_VMM_NO_CORRUPT) &&
            g >= o->guests)
            die("--hostile/--corrupt/--drop name guest %u, but there are only %u guests (--guests)", g, o->guests);
        if (o->hostile[g] && o->bench)
            die("--hostile is for the pingpong test, not --bench");
    }
    if (o->manager != NULL && (o->link_path == NULL || o->guest_names[0] == NULL))
        die("--manager needs --link PATH (the manager's host link) and --guest-name NAME[,NAME...]");
    if (o->manager == NULL && (o->link_path != NULL || o->guest_names[0] != NULL))
        die("--link and --guest-name are for manager mode: add --manager HOST:PORT");
}

/* Well-behaved guests pair up in index order; hostile ones stay alone. */
static void assign_roles(const struct vmm_opts *o, struct vmm_roles *r)
{
    uint32_t waiting = UINT32_MAX;
    for (uint32_t g = 0; g < o->guests; g++) {
        r->role[g] = ELISA_VMM_ROLE_IDLE;
        r->peer[g] = g;
        if (o->hostile[g] != ELISA_VMM_HOSTILE_NONE)
            continue;
        if (waiting == UINT32_MAX) {
            waiting = g;
            continue;
        }
        r->role[waiting] = ELISA_VMM_ROLE_SENDER;
        r->peer[waiting] = g;
        r->role[g] = ELISA_VMM_ROLE_ECHOER;
        r->peer[g] = waiting;
        waiting = UINT32_MAX;
    }
    if (!o->bench && waiting != UINT32_MAX)
        die("pingpong pairs the well-behaved guests, and guest %u has no partner: use an even number of "
            "them (--guests, --hostile)", waiting);
}

static void mac_of(uint8_t *mac, uint32_t g)
{
    /* Locally administered unicast (bit 1 of the first byte set, bit 0 clear). */
    mac[0] = 0x02; mac[1] = 0xe1; mac[2] = 0x5a; mac[3] = 0x00; mac[4] = 0x00;
    mac[5] = (uint8_t)(g + 1);
}

static void fill_boot(const struct vmm_opts *o, const struct vmm_roles *r, struct vmm_vm *vm)
{
    struct elisa_vmm_boot *b = &vm->boot;
    uint32_t g = vm->index;
    memset(b, 0, sizeof *b);
    b->magic = ELISA_VMM_BOOT_MAGIC;
    b->version = ELISA_VMM_BOOT_VERSION;
    b->guest_index = g;
    b->nguests = o->guests;
    b->program = o->bench ? ELISA_VMM_PROG_NOP_BENCH : ELISA_VMM_PROG_PINGPONG;
    b->role = r->role[g];
    b->peer = r->peer[g];
    b->hostile = o->hostile[g];
    b->corrupt_at = o->corrupt_at[g];
    b->drop_at = o->drop_at[g];
    b->elisa_mode = vm->at.mode;
    b->doorbell = vm->at.doorbell;
    b->cpl = (uint16_t)vm->cpl;
    b->gate_gva = vm->at.gate_gva;
    b->shared_gva = vm->at.shared_gpa;     /* identity-mapped */
    b->shared_size = vm->at.shared_size;
    b->seed = o->seed;
    b->frames = o->frames;
    b->window = o->window;
    b->calls = o->calls;
    b->spins_per_yield = o->spins_per_yield;
    b->yield_limit = o->yield_limit;
    mac_of(b->mac, g);
    mac_of(b->peer_mac, r->peer[g]);
}

/* The directory of this executable, for the default paths. */
static void exe_dir(char *buf, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", buf, n - 1);
    if (len <= 0) {
        snprintf(buf, n, ".");
        return;
    }
    buf[len] = 0;
    char *slash = strrchr(buf, '/');
    if (slash != NULL)
        *slash = 0;
}

static uint8_t *read_file(const char *path, size_t *size, size_t max)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        die("cannot open the guest image %s: %s; build it with 'make elisa/vmm/guest/guest.bin' or pass --image",
            path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || (uint64_t)st.st_size > max)
        die("guest image %s: %lld bytes, expected 1..%zu", path, (long long)st.st_size, max);
    uint8_t *buf = malloc((size_t)st.st_size);
    if (buf == NULL)
        die("out of memory");
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0)
            die("reading %s: %s", path, r < 0 ? strerror(errno) : "short read");
        got += (size_t)r;
    }
    close(fd);
    *size = got;
    return buf;
}

/* Wait for every vCPU thread, stopping those still running at the deadline. */
static uint64_t run_all(const struct vmm_opts *o, struct vmm_vm *vms, uint32_t n)
{
    uint64_t t0 = vmm_now_ns();
    for (uint32_t i = 0; i < n; i++) {
        int rc = pthread_create(&vms[i].thread, NULL, vmm_vcpu_thread, &vms[i]);
        if (rc != 0)
            die("pthread_create: %s", strerror(rc));
        vms[i].thread_started = 1;
    }
    uint64_t deadline = t0 + (uint64_t)o->timeout_s * 1000000000ull;
    uint32_t joined = 0;
    int joined_mask[VMM_MAX_GUESTS] = { 0 };
    uint64_t t_end = t0;
    while (joined < n) {
        for (uint32_t i = 0; i < n; i++) {
            if (joined_mask[i])
                continue;
            if (pthread_tryjoin_np(vms[i].thread, NULL) == 0) {
                joined_mask[i] = 1;
                joined++;
                t_end = vmm_now_ns();
            }
        }
        if (joined == n)
            break;
        /* Manager mode: a vCPU the manager detached (the operator disabled
         * it, or the manager went away) must stop using the app at once. */
        for (uint32_t i = 0; o->manager != NULL && i < n; i++) {
            char err[VMM_ERR];
            if (joined_mask[i] || __atomic_load_n(&vms[i].stop_requested, __ATOMIC_RELAXED) ||
                vmm_attach_poll(&vms[i].at, err, sizeof err) == 1)
                continue;
            snprintf(vms[i].stop_reason, sizeof vms[i].stop_reason, "%s", err);
            vmm_vcpu_request_stop(&vms[i]);
        }
        if (vmm_now_ns() >= deadline) {
            for (uint32_t i = 0; i < n; i++)
                if (!joined_mask[i])
                    vmm_vcpu_request_stop(&vms[i]);
            for (uint32_t i = 0; i < n; i++)
                if (!joined_mask[i])
                    pthread_join(vms[i].thread, NULL);
            return vmm_now_ns() - t0;
        }
        struct timespec ts = { 0, 1000000 };   /* 1 ms: the run's end is known to 1 ms */
        nanosleep(&ts, NULL);
    }
    return t_end - t0;
}

int main(int argc, char **argv)
{
    struct vmm_opts o;
    char err[VMM_ERR];
    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_options(argc, argv, &o);

    char dir[PATH_MAX], app_default[PATH_MAX + 32], image_default[PATH_MAX + 32];
    exe_dir(dir, sizeof dir);
    snprintf(app_default, sizeof app_default, "%s/../apps/%s", dir, o.bench ? "nop.so" : "vmnet.so");
    snprintf(image_default, sizeof image_default, "%s/guest/guest.bin", dir);
    const char *app_path = o.app_path ? o.app_path : app_default;
    const char *image_path = o.image_path ? o.image_path : image_default;

    struct vmm_roles roles;
    assign_roles(&o, &roles);
    size_t image_size;
    uint8_t *image = read_file(image_path, &image_size, ELISA_VMM_IMAGE_MAX);

    struct vmm_kvm kvm;
    if (vmm_kvm_open(&kvm, err, sizeof err) != 0)
        die("%s", err);
    if (vmm_vcpu_signals_init(err, sizeof err) != 0)
        die("%s", err);

    static struct vmm_vm vms[VMM_MAX_GUESTS];
    static struct vmm_app apps[VMM_MAX_GUESTS];
    struct vmm_region region = { .fd = -1 };
    if (o.manager == NULL) {
        if (vmm_app_load_file(app_path, &apps[0], err, sizeof err) != 0)
            die("%s", err);
        if (vmm_standalone_region(o.guests, o.ring_slots, o.seed, &region, err, sizeof err) != 0)
            die("%s", err);
    }
    for (uint32_t i = 0; i < o.guests; i++) {
        struct vmm_vm *vm = &vms[i];
        vm->index = i;
        vm->vm_fd = vm->vcpu_fd = -1;
        if (o.manager == NULL) {
            vm->app = &apps[0];
            if (vmm_standalone_fill(&region, i, &apps[0], &vm->at, err, sizeof err) != 0)
                die("%s", err);
            vm->at.doorbell = o.doorbell;
        } else {
            /* The app name the manager knows: the file's base name without ".so". */
            char app_name[32];
            const char *base = strrchr(app_path, '/');
            base = base ? base + 1 : app_path;
            size_t len = strcspn(base, ".");
            if (len == 0 || len >= sizeof app_name)
                die("--app %s: cannot tell the app's name (NAME.so, at most %zu characters)", app_path,
                    sizeof app_name - 1);
            memcpy(app_name, base, len);
            app_name[len] = 0;
            /* 0 asks for whatever the app needs: the manager chose the
             * region's geometry, and the guest reads it from its area. */
            uint64_t ask = o.shared_size;
            if (vmm_attach_from_manager(o.manager, o.link_path, o.guest_names[i], 0, app_name, ask, &vm->at,
                                        err, sizeof err) != 0)
                die("guest %s: %s", o.guest_names[i], err);
            if (vm->at.mode != ELISA_MODE_EXIT && vm->at.mode != ELISA_MODE_VMFUNC)
                die("guest %s: the manager chose mode %u; this VMM runs EXIT (%u) or VMFUNC (%u)",
                    o.guest_names[i], vm->at.mode, ELISA_MODE_EXIT, ELISA_MODE_VMFUNC);
            if (vm->at.mode == ELISA_MODE_VMFUNC && o.bench)
                die("guest %s: --bench compares the exit-based fallback's costs; run it with a --host exit "
                    "manager", o.guest_names[i]);
            if (vmm_app_load_fd(vm->at.app_fd, vm->at.app_size, vm->at.entry_offset, vm->at.app, &apps[i], err,
                                sizeof err) != 0)
                die("guest %s: %s", o.guest_names[i], err);
            vm->app = &apps[i];
        }
        if (vm->at.doorbell == ELISA_VMM_PORT_NULL)
            die("guest %u: doorbell port 0x%x is this VMM's null port", i, vm->at.doorbell);
        /* Default CPL: the one the doorbell works at on any KVM here - a
         * store works at CPL 3, where PVM runs the guest natively; port
         * I/O needs CPL 0 on PVM. */
        vm->cpl = o.cpl != VMM_CPL_AUTO ? o.cpl : (vm->at.doorbell == ELISA_DOORBELL_MMIO ? 3 : 0);
        fill_boot(&o, &roles, vm);
        if (vmm_vm_create(&kvm, vm, err, sizeof err) != 0)
            die("guest %u: %s", i, err);
        /* VMFUNC (ELISA proper, elisa/vmm/vmfunc_guest.h): the guest role
         * before the manager may install anything for this VM. */
        if (vm->at.mode == ELISA_MODE_VMFUNC &&
            vmm_vmfunc_set_role(vm->vm_fd, vm->at.guest_kvm_id, vm->at.manager_kvm_id, err, sizeof err) != 0)
            die("guest %s: %s", o.guest_names[i], err);
        if (vmm_guest_setup(vm, image, image_size, err, sizeof err) != 0)
            die("guest %u: %s", i, err);
        if (vm->at.mode == ELISA_MODE_VMFUNC) {
            /* The gate's top and bottom pages, then the manager's install of
             * this VM's vCPU 0 (KVM_CREATE_VCPU's id, kvm_setup.c). */
            if (vmm_vmfunc_map_gate(vm->vm_fd, vm->at.gate_gpa, vm->at.gate_hash, &vm->vmfunc, err, sizeof err) != 0 ||
                vmm_attach_vmfunc_install(&vm->at, 0, vm->cpl == 3, err, sizeof err) != 0)
                die("guest %s: %s", o.guest_names[i], err);
        }
    }
    free(image);

    uint64_t wall = run_all(&o, vms, o.guests);
    int status = o.bench ? vmm_summary_bench(&o, vms, o.guests) : vmm_summary_pingpong(&o, vms, o.guests, wall);

    for (uint32_t i = 0; i < o.guests; i++) {
        vmm_vm_destroy(&vms[i]);
        if (o.manager != NULL) {
            vmm_app_unload(&apps[i]);
            vmm_attach_release(&vms[i].at);     /* closes the region, image, manager and link fds */
        }
    }
    if (o.manager == NULL) {
        vmm_app_unload(&apps[0]);
        if (region.fd >= 0)
            close(region.fd);
    }
    vmm_kvm_close(&kvm);
    return status;
}
