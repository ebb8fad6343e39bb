/* elisa/apps/app.h - the ABI between the gate and a sub-context app.
 *
 * A sub-context app is a position-independent, freestanding ELF shared
 * object (elisa/apps/NAME.so) with one exported function, ELISA_APP_ENTRY_SYM.
 * The manager (or, in standalone mode, the VMM) loads it with
 * elisa/apps/app_image.h into the sub context's code pages at whatever
 * address it likes: the image has no relocations, no data, no imports.
 *
 * The gate (vmfunc/testbed/gate.S in the sub context; the exit-based host
 * in elisa/vmm/) calls it as
 *
 *     uint64_t entry(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env);
 *
 * fn and arg are what the guest passed to elisa_call(fn, arg): untrusted.
 * env is filled in by the host/manager, one per vCPU, in memory the guest
 * cannot write (the sub context's private data; in the exit-based fallback,
 * the VMM's memory): it is the only way the app learns where the shared
 * memory is and which port belongs to the caller, so a guest can never
 * name another guest's port.
 */
#ifndef ELISA_APPS_APP_H
#define ELISA_APPS_APP_H

#include <stdint.h>

#define ELISA_APP_ENTRY_SYM "elisa_app_entry"

struct elisa_sub_env {
    uint64_t shared_va;     /* the app's whole shared region, as the sub context maps it */
    uint64_t shared_size;   /* its size in bytes */
    uint64_t arg;           /* per-vCPU constant chosen by the manager (vmnet: the port) */
    uint64_t vcpu;          /* the calling vCPU's number (informational) */
};
_Static_assert(sizeof(struct elisa_sub_env) == 32, "sub env layout");

typedef uint64_t (*elisa_app_fn)(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env);

/* Return value of any app for an fn it does not know. */
#define ELISA_APP_ENOFN ((uint64_t)-38)   /* -ENOSYS as u64 */

/* nop: fn ELISA_NOP_ECHO returns arg (the minimal round trip, checkable). */
#define ELISA_NOP_ECHO 0u

/* vmnet: fn ELISA_VMNET_TX drains the caller's TX ring (port = env->arg)
 * and switches every frame: returns vmnet_switch_tx()'s int, sign-extended
 * to u64 (>= 0 frames consumed, < 0 a VMNET_E* error).  arg is ignored. */
#define ELISA_VMNET_TX 1u

#endif
