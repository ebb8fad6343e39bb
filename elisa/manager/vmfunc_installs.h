/* elisa/manager/vmfunc_installs.h - which guest vCPUs have ELISA contexts
 * installed by this manager (--host vmfunc), and the order of hypercalls
 * over their life, driven by the server from the host link and the state:
 *
 *   VMFUNC_INSTALL   hv_install: build, MAP_CTX gate, MAP_CTX sub, ENABLE
 *                    (TEARDOWN and the chunk freed if any step fails); an
 *                    older install of the same vCPU is torn down first
 *   disable          DETACH reason DISABLED: DISABLE (contexts kept, the
 *                    guest's VMFUNC now fails with a VM exit: KVM clears
 *                    EPTP switching)
 *   release / stop   DETACH reason RELEASED or STOPPING: TEARDOWN, free
 *   link gone        every install made over that link: TEARDOWN, free
 *
 * The ELISA KVM id of a guest VM is the manager's id + 1 + the guest's
 * index in the state (stable while the guest record lives), so --elisa-id
 * must leave MGR_GUESTS_MAX ids above it.
 *
 * No manager VM (h == NULL, `elisactl start --host vmfunc --no-manager-vm`):
 * VMFUNC_QUERY is answered, every VMFUNC_INSTALL is refused - for testing
 * a guest's side on a host without elisa-kvm.
 */
#ifndef ELISA_MANAGER_VMFUNC_INSTALLS_H
#define ELISA_MANAGER_VMFUNC_INSTALLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host_vmfunc.h"
#include "state.h"

struct mgr_vmfunc_app {
    const uint8_t *image;              /* the flat image (a read-only mapping) */
    uint64_t image_size;
    uint32_t entry_offset;
    uint64_t region_mgr_gpa, region_size;   /* its slot in the manager VM; size 0: none */
};

struct mgr_vmfunc_entry {
    bool used, enabled;
    uint32_t guest_id, vcpu;           /* the manager's names */
    uint64_t link;                     /* link connection that installed it */
    uint16_t guest_kvm_id;
    uint32_t kvm_vcpu;
    struct hv_ctx *ctx;
};

struct mgr_vmfunc {
    struct hv_host *h;                 /* NULL: no manager VM, INSTALL refused */
    uint16_t manager_id;
    struct mgr_vmfunc_app apps[MGR_APPS_MAX];
    const uint8_t *gate;               /* hv_gate_block */
    uint32_t var_entry, var_stack, var_env;
    uint64_t gate_hash;
    uint64_t win_gpa, win_size;        /* the layout's shared window */
    struct mgr_vmfunc_entry e[HV_CHUNKS];
    uint32_t installed;                /* entries in use, for logs and tests */
};

/* Set up V (H may be NULL).  0, or -1 with err (MANAGER_ID leaves no room
 * for the guests' ids). */
int mgr_vmfunc_init(struct mgr_vmfunc *v, struct hv_host *h, uint16_t manager_id,
                    const struct mgr_layout *layout, char *err, size_t errlen);

/* The KVM id of the guest VM at state index GUEST_INDEX. */
uint16_t mgr_vmfunc_guest_kvm_id(const struct mgr_vmfunc *v, uint32_t guest_index);

/* VMFUNC_INSTALL for context C of guest GUEST_ID (attached over LINK, of
 * app APP): 0, or -1
 * with one line in err (with the hypercall's error name). */
int mgr_vmfunc_install(struct mgr_vmfunc *v, const struct mgr_ctx *c, uint32_t guest_id, uint32_t app,
                       uint64_t link,
                       uint32_t kvm_vcpu, bool user_mode, char *err, size_t errlen);

/* The state took context (GUEST_ID, VCPU) from its host (enum
 * mgr_detach_reason).  Returns what it did for the log (never NULL). */
const char *mgr_vmfunc_detach(struct mgr_vmfunc *v, uint32_t guest_id, uint32_t vcpu, int reason,
                              char *err, size_t errlen);

/* Link LINK closed / the manager stops: TEARDOWN what they installed.
 * Returns how many installs were removed. */
uint32_t mgr_vmfunc_link_gone(struct mgr_vmfunc *v, uint64_t link, char *err, size_t errlen);
uint32_t mgr_vmfunc_stop(struct mgr_vmfunc *v, char *err, size_t errlen);

#endif
