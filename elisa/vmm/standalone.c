/* elisa/vmm/standalone.c - what the manager would hand the VMM, made
 * locally: the vmnet region in a memfd (vmnet_init, one port per guest)
 * and, per guest, the struct elisa_attach that says where its mailbox and
 * port area go and which port the app serves it as.  Used when elisa-vmm
 * runs without --manager. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vmm.h"
#include "../guest/elisa_guest.h"
#include "../vmnet/vmnet.h"

static struct vmnet_config config_for(uint32_t nports, uint32_t ring_slots, uint64_t hash_seed)
{
    struct vmnet_config cfg = {
        .nports = nports,
        .ring_slots = ring_slots,
        .slot_size = VMNET_SLOT_DEFAULT,
        .mac_sets = 64,
        .age_limit = 0,
        .hash_seed = hash_seed,
    };
    return cfg;
}

uint64_t vmm_vmnet_area_size(uint32_t ring_slots)
{
    /* The area's header page, then the TX and RX rings (vmnet.h). */
    return VMNET_PORT_SLOTS_OFF + 2ull * ring_slots * VMNET_SLOT_DEFAULT;
}

int vmm_standalone_region(uint32_t nports, uint32_t ring_slots, uint64_t hash_seed,
                          struct vmm_region *r, char *err, size_t n)
{
    struct vmnet_config cfg = config_for(nports, ring_slots, hash_seed);
    r->fd = -1;
    r->nports = nports;
    r->size = vmnet_region_size(&cfg);
    if (r->size == 0) {
        snprintf(err, n, "vmnet refuses %u ports of %u slots (slots: a power of two, %u..%u)", nports,
                 ring_slots, VMNET_RING_MIN, VMNET_RING_MAX);
        return -1;
    }
    r->size = (r->size + ELISA_VMM_PAGE - 1) & ~(ELISA_VMM_PAGE - 1);
    r->fd = memfd_create("elisa-vmnet", MFD_CLOEXEC);
    if (r->fd < 0 || ftruncate(r->fd, (off_t)r->size) != 0) {
        snprintf(err, n, "memfd for the vmnet region (%llu bytes): %s", (unsigned long long)r->size,
                 strerror(errno));
        return -1;
    }
    void *mem = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (mem == MAP_FAILED) {
        snprintf(err, n, "mapping the vmnet region: %s", strerror(errno));
        return -1;
    }
    int rc = vmnet_init(mem, r->size, &cfg);
    uint64_t area = vmnet_port_area_size(mem, r->size);
    munmap(mem, r->size);
    if (rc != 0) {
        snprintf(err, n, "vmnet_init: %s", vmnet_strerror(rc));
        return -1;
    }
    if (area != vmm_vmnet_area_size(ring_slots)) {
        snprintf(err, n, "vmnet port areas are %llu bytes, this VMM expected %llu: rebuild elisa-vmm "
                 "against this vmnet.h", (unsigned long long)area,
                 (unsigned long long)vmm_vmnet_area_size(ring_slots));
        return -1;
    }
    return 0;
}

int vmm_standalone_fill(const struct vmm_region *r, uint32_t guest, const struct vmm_app *app,
                        struct elisa_attach *at, char *err, size_t n)
{
    memset(at, 0, sizeof *at);
    at->guest_id = guest;
    at->vcpu = 0;
    at->mode = ELISA_MODE_EXIT;
    at->doorbell = ELISA_DOORBELL_MMIO;   /* vmm.c applies --doorbell */
    at->gate_gpa = at->gate_gva = ELISA_VMM_GATE_GPA;
    at->shared_gpa = ELISA_VMM_SHARED_GPA;
    at->region_fd = r->fd;
    at->region_size = r->size;
    /* The port area's place, from the region's own header. */
    void *mem = mmap(NULL, r->size, PROT_READ, MAP_SHARED, r->fd, 0);
    if (mem == MAP_FAILED) {
        snprintf(err, n, "mapping the vmnet region: %s", strerror(errno));
        return -1;
    }
    at->guest_off = vmnet_port_offset(mem, r->size, guest);
    at->shared_size = vmnet_port_area_size(mem, r->size);
    munmap(mem, r->size);
    if (at->guest_off == 0 || at->shared_size == 0) {
        snprintf(err, n, "vmnet region has no port %u", guest);
        return -1;
    }
    at->env_arg = guest;          /* vmnet: the port number */
    at->entry_offset = 0;
    at->app_fd = -1;              /* the app is loaded in this process */
    at->manager_fd = -1;          /* no manager */
    at->link_fd = -1;
    at->app_size = app->map_size;
    snprintf(at->app, sizeof at->app, "%s", app->name);
    return 0;
}
