/* A broken app for tests/unit/test_app_image.c: it exports its function
 * under another name than elisa_app_entry. */
#include "app.h"

__attribute__((visibility("default"))) uint64_t app_main(uint64_t fn, uint64_t arg,
                                                         const struct elisa_sub_env *env);
uint64_t app_main(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env)
{
    (void)env;
    return fn == 0 ? arg : ELISA_APP_ENOFN;
}
