/* A broken app for tests/unit/test_app_image.c: a table of function
 * pointers in data needs R_X86_64_RELATIVE relocations, which the sub
 * context cannot apply.  The loader must refuse it. */
#include "app.h"

static uint64_t op_zero(uint64_t a) { return a & 0; }
static uint64_t op_same(uint64_t a) { return a; }
static uint64_t (*const ops[])(uint64_t) = { op_zero, op_same };

__attribute__((visibility("default"))) uint64_t elisa_app_entry(uint64_t fn, uint64_t arg,
                                                                const struct elisa_sub_env *env);
uint64_t elisa_app_entry(uint64_t fn, uint64_t arg, const struct elisa_sub_env *env)
{
    (void)env;
    return fn < 2 ? ops[fn](arg) : ELISA_APP_ENOFN;
}
