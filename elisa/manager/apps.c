/* elisa/manager/apps.c - load each --app into sealed memfds (apps.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "apps.h"
#include "../apps/app_image.h"
#include "../vmnet/vmnet.h"

_Static_assert(MGR_PORTS_MAX == VMNET_MAX_PORTS, "one port bit per vmnet port");

/* Newer kernels (6.3+) want to be told whether a memfd may be executed;
 * Debian 12's headers predate the flags, so they are spelled out, and an
 * older kernel that refuses them gets the call without. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008u
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010u
#endif

/* Learned MAC entries: 256 sets x 4 ways, far more than 64 ports' guests
 * need; an entry unseen for 2^20 switched frames expires. */
#define MGR_VMNET_MAC_SETS 256u
#define MGR_VMNET_AGE      (1ull << 20)

static int memfd(const char *name, unsigned exec_flag)
{
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING | exec_flag);
    if (fd < 0 && errno == EINVAL)
        fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    return fd;
}

static int write_all(int fd, const uint8_t *p, uint64_t n)
{
    while (n) {
        ssize_t k = write(fd, p, n > (1u << 20) ? (1u << 20) : (size_t)n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (uint64_t)k;
    }
    return 0;
}

static int make_region(const struct mgr_app_spec *spec, struct mgr_app *app,
                       struct mgr_app_desc *desc, char *err, size_t errlen)
{
    struct vmnet_config cfg;
    uint64_t size;

    memset(&cfg, 0, sizeof(cfg));
    cfg.nports = spec->ports;
    cfg.ring_slots = spec->ring_slots;
    cfg.slot_size = spec->slot_size;
    cfg.mac_sets = MGR_VMNET_MAC_SETS;
    cfg.age_limit = MGR_VMNET_AGE;
    /* The MAC hash key: unpredictable, so that guests cannot pick
     * addresses that collide in one set and evict each other's entries. */
    if (getrandom(&cfg.hash_seed, sizeof(cfg.hash_seed), 0) != (ssize_t)sizeof(cfg.hash_seed)) {
        snprintf(err, errlen, "app %s: getrandom: %s", spec->name, strerror(errno));
        return -1;
    }
    size = vmnet_region_size(&cfg);
    if (size == 0) {
        snprintf(err, errlen, "app %s: ports=%u slots=%u slot-size=%u is not a valid vmnet "
                 "layout", spec->name, spec->ports, spec->ring_slots, spec->slot_size);
        return -1;
    }
    size = (size + 4095) & ~4095ull;
    app->region_fd = memfd("elisa-vmnet-region", MFD_NOEXEC_SEAL);
    if (app->region_fd < 0 || ftruncate(app->region_fd, (off_t)size) != 0) {
        snprintf(err, errlen, "app %s: a %llu-byte shared region: %s", spec->name,
                 (unsigned long long)size, strerror(errno));
        return -1;
    }
    app->region = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, app->region_fd, 0);
    if (app->region == MAP_FAILED) {
        app->region = NULL;
        snprintf(err, errlen, "app %s: mapping the shared region: %s", spec->name, strerror(errno));
        return -1;
    }
    app->region_size = size;
    if (vmnet_init(app->region, size, &cfg) != VMNET_OK ||
        vmnet_check(app->region, size) != VMNET_OK) {
        snprintf(err, errlen, "app %s: vmnet_init refused the layout", spec->name);
        return -1;
    }
    /* Hosts map the whole region: it must never shrink under them. */
    if (fcntl(app->region_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        snprintf(err, errlen, "app %s: sealing the shared region: %s", spec->name, strerror(errno));
        return -1;
    }
    desc->nports = spec->ports;
    desc->port_size = vmnet_port_area_size(app->region, size);
    for (uint32_t p = 0; p < spec->ports; p++)
        desc->port_off[p] = vmnet_port_offset(app->region, size, p);
    if (desc->port_size == 0 || (desc->port_size & 4095) != 0) {
        snprintf(err, errlen, "app %s: port area of %llu bytes is not a page multiple",
                 spec->name, (unsigned long long)desc->port_size);
        return -1;
    }
    return 0;
}

int mgr_app_open(const struct mgr_app_spec *spec, struct mgr_app *app, struct mgr_app_desc *desc,
                 char *err, size_t errlen)
{
    struct elisa_app_image img;
    char lerr[256];
    int rc = -1;

    memset(app, 0, sizeof(*app));
    memset(desc, 0, sizeof(*desc));
    app->image_fd = -1;
    app->region_fd = -1;
    memset(&img, 0, sizeof(img));
    if (elisa_app_load(spec->path, &img, lerr, sizeof(lerr)) != 0) {
        snprintf(err, errlen, "--app %s=%s: %s", spec->name, spec->path, lerr);
        return -1;
    }
    if (strcmp(img.name, spec->name) != 0) {
        snprintf(err, errlen, "--app %s=%s: the file is app \"%s\"; the name must match the file "
                 "(NAME=.../NAME.so)", spec->name, spec->path, img.name);
        goto out;
    }
    snprintf(app->name, sizeof(app->name), "%s", spec->name);
    snprintf(desc->name, sizeof(desc->name), "%s", spec->name);
    app->entry_offset = img.entry_offset;
    app->image_size = img.size;
    desc->entry_offset = img.entry_offset;

    app->image_fd = memfd(spec->name, MFD_EXEC);
    if (app->image_fd < 0 || write_all(app->image_fd, img.bytes, img.size) != 0) {
        snprintf(err, errlen, "app %s: writing its image to a memfd: %s", spec->name,
                 strerror(errno));
        goto out;
    }
    if (fcntl(app->image_fd, F_ADD_SEALS,
              F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
        snprintf(err, errlen, "app %s: sealing its image: %s", spec->name, strerror(errno));
        goto out;
    }
    if (strcmp(spec->name, "vmnet") == 0 && make_region(spec, app, desc, err, errlen) != 0)
        goto out;
    rc = 0;
out:
    elisa_app_free(&img);
    if (rc != 0)
        mgr_app_close(app);
    return rc;
}

void mgr_app_close(struct mgr_app *app)
{
    if (app->region)
        munmap(app->region, app->region_size);
    if (app->region_fd >= 0)
        close(app->region_fd);
    if (app->image_fd >= 0)
        close(app->image_fd);
    app->region = NULL;
    app->region_fd = app->image_fd = -1;
}
