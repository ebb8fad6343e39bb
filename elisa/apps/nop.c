/* elisa/apps/nop.c - the "nop" sub-context app: the smallest thing the
 * gate can call, so a round trip measures the gate and nothing else, and
 * its result (the argument, echoed) shows that the call really ran.
 *
 * Built as elisa/apps/nop.so (apps.mk): freestanding, position-independent,
 * no data, one exported symbol. */
#include "app.h"

#define APP_EXPORT __attribute__((visibility("default")))

APP_EXPORT uint64_t elisa_app_entry(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env);

uint64_t elisa_app_entry(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env)
{
    (void)env;   /* nop touches no memory at all */
    if (fn == ELISA_NOP_ECHO)
        return arg;
    return ELISA_APP_ENOFN;
}
