/* elisa/manager/apps.h - the manager's app registry: each --app loaded
 * once at start and kept as two memfds that the host link hands out:
 *
 *   image   the flat app image (elisa/apps/app_image.h), sealed against
 *           writes, growth and shrinking (F_SEAL_WRITE | F_SEAL_SHRINK |
 *           F_SEAL_GROW | F_SEAL_SEAL): a host can map and run it but no
 *           one, the manager included, can change the code under it;
 *   region  vmnet only: the app's shared region, laid out by vmnet_init
 *           with the ports asked for, sealed against resizing (a host's
 *           mapping can never be cut short under it), writable.
 *
 * The app's name must match its file (NAME.so): the name decides what kind
 * of shared memory the manager makes (vmnet: a switch region, any other
 * app: none).
 */
#ifndef ELISA_MANAGER_APPS_H
#define ELISA_MANAGER_APPS_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"
#include "state.h"

struct mgr_app {
    char name[PROTO_APP_MAX + 1];
    uint32_t entry_offset;
    uint64_t image_size;
    int image_fd;          /* sealed memfd with the flat image */
    int region_fd;         /* -1: no shared region */
    uint8_t *region;       /* the manager's own mapping of it */
    uint64_t region_size;
};

/* Load SPEC into APP and describe it for the state in DESC.  Returns 0,
 * or -1 with one line in err. */
int mgr_app_open(const struct mgr_app_spec *spec, struct mgr_app *app, struct mgr_app_desc *desc,
                 char *err, size_t errlen);
void mgr_app_close(struct mgr_app *app);

/* Return a freed vmnet port to its state after vmnet_init, so that its
 * next owner finds nothing of the last one: under the switch lock, empty
 * the port's rings and slots, rewrite its area header (its owner could
 * write it), zero its switch-side indices and counters, and forget every
 * MAC address learned on it (frames for the old owner's address would
 * otherwise reach the new one).  Returns 0, or -1 with err if the region
 * is damaged or the switch lock stayed taken. */
int mgr_vmnet_port_scrub(void *mem, uint64_t size, uint32_t port, char *err, size_t errlen);

#endif
