/* A broken app for tests/unit/test_app_image.c: it calls a function it
 * does not define (linked without -Wl,-z,defs), so it would need a dynamic
 * linker to find it (and a relocation to reach it). */
#include "app.h"

uint64_t elisa_helper_somewhere(uint64_t x);

__attribute__((visibility("default"))) uint64_t elisa_app_entry(uint64_t fn, uint64_t arg,
                                                                const struct elisa_sub_env *env);
uint64_t elisa_app_entry(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env)
{
    (void)env;
    return fn == 0 ? elisa_helper_somewhere(arg) : ELISA_APP_ENOFN;
}
