/* A broken app for tests/unit/test_app_image.c: it counts its calls in a
 * global, i.e. it keeps data, which the sub context's read + execute code
 * pages cannot hold.  No relocation is needed (-fPIC, hidden: RIP-relative
 * access), so only the loader's writable-section check catches it. */
#include "app.h"

static uint64_t calls;

__attribute__((visibility("default"))) uint64_t elisa_app_entry(uint64_t fn, uint64_t arg,
                                                                const struct elisa_sub_env *env);
uint64_t elisa_app_entry(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env)
{
    (void)fn;
    (void)env;
    calls++;
    return arg + calls;
}
