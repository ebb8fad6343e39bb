/* elisa/apps/vmnet_app.c - the "vmnet" sub-context app: the virtual switch
 * of elisa/vmnet reached through the gate.
 *
 * The guest names nothing but the function: the port is env->arg, which
 * the host/manager wrote for this vCPU in memory the guest cannot write
 * (app.h), and the region is env->shared_va/shared_size, the sub context's
 * mapping of the whole switch region.  So a guest can only ever drain its
 * own TX ring, whatever fn/arg it passes.
 *
 * Built as elisa/apps/vmnet.so (apps.mk) together with elisa/vmnet/vmnet.c,
 * whose functions stay hidden: only the entry is exported. */
#include "app.h"
#include "vmnet.h"

#define APP_EXPORT __attribute__((visibility("default")))

APP_EXPORT uint64_t elisa_app_entry(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env);

uint64_t elisa_app_entry(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env)
{
    (void)arg;   /* untrusted and not needed: the port comes from env */
    if (fn != ELISA_VMNET_TX)
        return ELISA_APP_ENOFN;
    /* env->arg is a u64 the host chose; a value above UINT32_MAX must not
     * wrap onto a valid port number, so it is refused here rather than
     * truncated by the cast. */
    if (env->arg > UINT32_MAX)
        return (uint64_t)(int64_t)VMNET_EPORT;
    int rc = vmnet_switch_tx((void *)(uintptr_t)env->shared_va, env->shared_size, (uint32_t)env->arg);
    return (uint64_t)(int64_t)rc;   /* sign-extended: < 0 stays < 0 as int64_t */
}
